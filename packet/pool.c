/* SPDX-License-Identifier: MIT */
/* Block pool: size classes carved from slabs, a cache per thread per pool, and a shared free list
 * per class that caches refill from and flush to in batches.
 *
 * Why a mutex on the shared list rather than a lock-free stack: a lock-free stack of blocks needs
 * ABA protection (a double-width CAS, which C11 does not offer portably, or hazard pointers), and
 * the shared list is only touched once per batch (cache_max / 2 blocks, 32 by default), so an
 * uncontended lock costs well under 1 ns per block. bench/packet_bench measures the result
 * against malloc/free on the cross-thread pattern that matters (encode on one thread, last
 * unref after the send on an IO thread). */
#include <stdlib.h>
#include <string.h>

#include "gs/packet.h"

#define FALLBACK_CLASS     GS_POOL_CLASSES
#define CACHE_MAX_DEFAULT  64u
#define SLAB_BYTES_DEFAULT (64u * 1024u)

static const uint32_t class_sizes[GS_POOL_CLASSES] = GS_POOL_CLASS_SIZES;

/* Sits in the 16 bytes before every block, so that gs_pool_free needs nothing but the pointer. */
typedef struct block_hdr {
    gs_pool_t *pool;
    uint32_t cls;  /* class index, or FALLBACK_CLASS */
    uint32_t size; /* usable bytes (fallbacks only) */
} block_hdr_t;
_Static_assert(sizeof(block_hdr_t) == 16, "block header must keep blocks 16-byte aligned");

/* A free block's own bytes link it into a batch, and batches into the shared stack. */
typedef struct free_node {
    struct free_node *next;       /* next block of the same batch */
    struct free_node *next_batch; /* next batch (valid on a batch head only) */
    uint32_t count;               /* blocks in this batch (valid on a batch head only) */
} free_node_t;

typedef struct slab {
    struct slab *next;
    size_t bytes;
    _Alignas(16) unsigned char blocks[];
} slab_t;

/* Counters written by one thread (the cache's owner) and read by gs_pool_stats: relaxed atomics
 * without read-modify-write, so the owner's increments cost a plain add. */
typedef _Atomic uint64_t ctr_t;
static inline void bump(ctr_t *c) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}
static inline uint64_t rd(const ctr_t *c) { return atomic_load_explicit(c, memory_order_relaxed); }

typedef struct class_ctrs {
    ctr_t allocs, frees, hits, refills, flushes;
} class_ctrs_t;

typedef struct ctrs {
    class_ctrs_t cls[GS_POOL_CLASSES];
    ctr_t fb_allocs, fb_frees;
} ctrs_t;

typedef struct tcache {
    gs_list_t link; /* in pool->caches, under pool->lock */
    gs_pool_t *pool;
    ctrs_t ctrs;
    uint32_t count[GS_POOL_CLASSES];
    free_node_t **slots; /* GS_POOL_CLASSES rows of cache_max */
} tcache_t;

typedef struct pool_class {
    gs_mutex_t lock;
    free_node_t *batches; /* shared stack of batches */
    uint64_t free_blocks; /* blocks in batches */
    uint64_t blocks_total;
    uint64_t high_water;
    uint32_t size;   /* usable bytes */
    uint32_t stride; /* header + usable */
    uint32_t per_slab;
} pool_class_t;

struct gs_pool {
    pool_class_t cls[GS_POOL_CLASSES];
    gs_tls_key_t key;
    uint32_t cache_max;
    uint32_t batch;
    size_t max_bytes;
    _Atomic uint64_t bytes_total;
    _Atomic uint64_t failures;
    gs_mutex_t lock; /* caches, retired, slabs */
    gs_list_t caches;
    ctrs_t retired; /* counters of caches whose thread exited */
    _Atomic uint64_t
        orphan_frees[GS_POOL_CLASSES + 1]; /* frees without a cache (its malloc failed) */
    slab_t *slabs;
};

static inline block_hdr_t *hdr_of(const void *block) {
    return (block_hdr_t *)((char *)(uintptr_t)block - sizeof(block_hdr_t));
}

/* Reserve n bytes against max_bytes. */
static int reserve(gs_pool_t *p, size_t n) {
    uint64_t cur = atomic_load_explicit(&p->bytes_total, memory_order_relaxed);
    do {
        if (p->max_bytes != 0 && (cur > p->max_bytes || n > p->max_bytes - cur))
            return 0;
    } while (!atomic_compare_exchange_weak_explicit(&p->bytes_total, &cur, cur + n,
                                                    memory_order_relaxed, memory_order_relaxed));
    return 1;
}

static void unreserve(gs_pool_t *p, size_t n) {
    atomic_fetch_sub_explicit(&p->bytes_total, n, memory_order_relaxed);
}

static void add_ctrs(ctrs_t *to, const ctrs_t *from) {
    for (int c = 0; c < GS_POOL_CLASSES; c++) {
        const class_ctrs_t *f = &from->cls[c];
        class_ctrs_t *t = &to->cls[c];
        atomic_fetch_add_explicit(&t->allocs, rd(&f->allocs), memory_order_relaxed);
        atomic_fetch_add_explicit(&t->frees, rd(&f->frees), memory_order_relaxed);
        atomic_fetch_add_explicit(&t->hits, rd(&f->hits), memory_order_relaxed);
        atomic_fetch_add_explicit(&t->refills, rd(&f->refills), memory_order_relaxed);
        atomic_fetch_add_explicit(&t->flushes, rd(&f->flushes), memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&to->fb_allocs, rd(&from->fb_allocs), memory_order_relaxed);
    atomic_fetch_add_explicit(&to->fb_frees, rd(&from->fb_frees), memory_order_relaxed);
}

/* ---- shared lists ------------------------------------------------------------------------- */

static void note_high_water(pool_class_t *pc) {
    uint64_t outside = pc->blocks_total - pc->free_blocks;
    if (outside > pc->high_water)
        pc->high_water = outside;
}

/* Push a chain of n blocks (linked through next) as one batch. */
static void shared_push(pool_class_t *pc, free_node_t *head, uint32_t n) {
    head->count = n;
    gs_mutex_lock(&pc->lock);
    head->next_batch = pc->batches;
    pc->batches = head;
    pc->free_blocks += n;
    gs_mutex_unlock(&pc->lock);
}

/* Carve a new slab for class c; the first `take` blocks go to out[], the rest to the shared
 * list. Called with pc->lock held. Returns the number of blocks put in out[]. */
static uint32_t grow(gs_pool_t *p, int c, free_node_t **out, uint32_t take) {
    pool_class_t *pc = &p->cls[c];
    size_t bytes = sizeof(slab_t) + (size_t)pc->per_slab * pc->stride;

    if (!reserve(p, bytes))
        return 0;
    slab_t *s = malloc(bytes);
    if (!s) {
        unreserve(p, bytes);
        return 0;
    }
    s->bytes = bytes;
    gs_mutex_lock(&p->lock);
    s->next = p->slabs;
    p->slabs = s;
    gs_mutex_unlock(&p->lock);

    /* The blocks beyond `take` go to the shared list in batches of at most p->batch, so that a
     * refill never gets more than a cache holds. */
    uint32_t got = 0;
    free_node_t *head = NULL;
    uint32_t in_batch = 0;
    for (uint32_t i = 0; i < pc->per_slab; i++) {
        block_hdr_t *h = (block_hdr_t *)(void *)(s->blocks + (size_t)i * pc->stride);
        h->pool = p;
        h->cls = (uint32_t)c;
        h->size = pc->size;
        free_node_t *n = (free_node_t *)(void *)(h + 1);
        if (got < take) {
            out[got++] = n;
            continue;
        }
        n->next = head;
        head = n;
        if (++in_batch == p->batch || i + 1 == pc->per_slab) {
            head->count = in_batch;
            head->next_batch = pc->batches;
            pc->batches = head;
            pc->free_blocks += in_batch;
            head = NULL;
            in_batch = 0;
        }
    }
    pc->blocks_total += pc->per_slab;
    note_high_water(pc);
    return got;
}

/* Fill the cache of class c with one batch. Returns the number of blocks now cached. */
static uint32_t refill(gs_pool_t *p, tcache_t *tc, int c) {
    pool_class_t *pc = &p->cls[c];
    free_node_t **slots = tc->slots + (size_t)c * p->cache_max;
    uint32_t n = 0;

    gs_mutex_lock(&pc->lock);
    free_node_t *head = pc->batches;
    if (head) {
        pc->batches = head->next_batch;
        pc->free_blocks -= head->count;
        note_high_water(pc);
        gs_mutex_unlock(&pc->lock);
        /* A batch never holds more than cache_max blocks (flushes move at most cache_max, a new
         * slab is split into batches of p->batch), so it always fits the empty cache. */
        for (free_node_t *b = head; b; b = b->next)
            slots[n++] = b;
    } else {
        n = grow(p, c, slots, p->batch);
        gs_mutex_unlock(&pc->lock);
    }
    tc->count[c] = n;
    if (n)
        bump(&tc->ctrs.cls[c].refills);
    return n;
}

/* Give the oldest `n` cached blocks of class c back as one batch. */
static void flush(gs_pool_t *p, tcache_t *tc, int c, uint32_t n) {
    free_node_t **slots = tc->slots + (size_t)c * p->cache_max;
    if (n == 0)
        return;
    for (uint32_t i = 0; i + 1 < n; i++)
        slots[i]->next = slots[i + 1];
    slots[n - 1]->next = NULL;
    shared_push(&p->cls[c], slots[0], n);
    /* Keep the most recently freed (cache-warm) blocks. */
    memmove(slots, slots + n, (tc->count[c] - n) * sizeof(*slots));
    tc->count[c] -= n;
    bump(&tc->ctrs.cls[c].flushes);
}

/* ---- thread caches ------------------------------------------------------------------------ */

/* Thread exit (TLS destructor): everything cached goes back, counters are kept. */
static void cache_retire(void *value) {
    tcache_t *tc = value;
    gs_pool_t *p = tc->pool;

    for (int c = 0; c < GS_POOL_CLASSES; c++)
        flush(p, tc, c, tc->count[c]);
    gs_mutex_lock(&p->lock);
    add_ctrs(&p->retired, &tc->ctrs);
    gs_list_remove(&tc->link);
    gs_mutex_unlock(&p->lock);
    free(tc);
}

static tcache_t *cache_get(gs_pool_t *p) {
    tcache_t *tc = gs_tls_get(&p->key);
    if (tc)
        return tc;
    tc = calloc(1, sizeof(*tc) + sizeof(free_node_t *) * GS_POOL_CLASSES * p->cache_max);
    if (!tc)
        return NULL;
    tc->pool = p;
    tc->slots = (free_node_t **)(void *)(tc + 1);
    if (gs_tls_set(&p->key, tc) != 0) {
        free(tc);
        return NULL;
    }
    gs_mutex_lock(&p->lock);
    gs_list_insert_tail(&p->caches, &tc->link);
    gs_mutex_unlock(&p->lock);
    return tc;
}

/* ---- public ------------------------------------------------------------------------------- */

gs_pool_t *gs_pool_create(const gs_pool_config_t *cfg) {
    gs_pool_config_t c = cfg ? *cfg : (gs_pool_config_t){0};
    gs_pool_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->cache_max = c.cache_max ? c.cache_max : CACHE_MAX_DEFAULT;
    if (p->cache_max < 2)
        p->cache_max = 2;
    p->batch = p->cache_max / 2;
    p->max_bytes = c.max_bytes;
    uint32_t slab_bytes = c.slab_bytes ? c.slab_bytes : SLAB_BYTES_DEFAULT;
    for (int i = 0; i < GS_POOL_CLASSES; i++) {
        pool_class_t *pc = &p->cls[i];
        gs_mutex_init(&pc->lock);
        pc->size = class_sizes[i];
        pc->stride = (uint32_t)sizeof(block_hdr_t) + pc->size;
        pc->per_slab = slab_bytes / pc->stride;
        if (pc->per_slab == 0)
            pc->per_slab = 1;
    }
    gs_mutex_init(&p->lock);
    gs_list_init(&p->caches);
    if (gs_tls_key_create(&p->key, cache_retire) != 0) {
        for (int i = 0; i < GS_POOL_CLASSES; i++)
            gs_mutex_fini(&p->cls[i].lock);
        gs_mutex_fini(&p->lock);
        free(p);
        return NULL;
    }
    return p;
}

void gs_pool_destroy(gs_pool_t *p) {
    if (!p)
        return;
    /* First, so that no exiting thread runs cache_retire on this pool any more. */
    gs_tls_key_delete(&p->key);
    gs_pool_stats_t st;
    gs_pool_stats(p, &st);
    if (st.in_use != 0)
        gs_log(GS_LOG_ERROR, "packet", "pool destroyed with %llu block(s) still in use",
               (unsigned long long)st.in_use);
    while (!gs_list_empty(&p->caches)) {
        tcache_t *tc = gs_container_of(p->caches.next, tcache_t, link);
        gs_list_remove(&tc->link);
        free(tc);
    }
    for (slab_t *s = p->slabs, *next; s; s = next) {
        next = s->next;
        free(s);
    }
    for (int i = 0; i < GS_POOL_CLASSES; i++)
        gs_mutex_fini(&p->cls[i].lock);
    gs_mutex_fini(&p->lock);
    free(p);
}

static void *fallback_alloc(gs_pool_t *p, size_t size) {
    if (size > UINT32_MAX || !reserve(p, sizeof(block_hdr_t) + size)) {
        atomic_fetch_add_explicit(&p->failures, 1, memory_order_relaxed);
        return NULL;
    }
    tcache_t *tc = cache_get(p);
    block_hdr_t *h = tc ? malloc(sizeof(block_hdr_t) + size) : NULL;
    if (!h) {
        unreserve(p, sizeof(block_hdr_t) + size);
        atomic_fetch_add_explicit(&p->failures, 1, memory_order_relaxed);
        return NULL;
    }
    h->pool = p;
    h->cls = FALLBACK_CLASS;
    h->size = (uint32_t)size;
    bump(&tc->ctrs.fb_allocs);
    return h + 1;
}

void *gs_pool_alloc(gs_pool_t *p, size_t size) {
    int c = 0;
    while (c < GS_POOL_CLASSES && size > class_sizes[c])
        c++;
    if (c == GS_POOL_CLASSES)
        return fallback_alloc(p, size);

    tcache_t *tc = cache_get(p);
    if (!tc) {
        atomic_fetch_add_explicit(&p->failures, 1, memory_order_relaxed);
        return NULL;
    }
    class_ctrs_t *cc = &tc->ctrs.cls[c];
    if (tc->count[c] != 0) {
        bump(&cc->hits);
    } else if (refill(p, tc, c) == 0) {
        atomic_fetch_add_explicit(&p->failures, 1, memory_order_relaxed);
        return NULL;
    }
    bump(&cc->allocs);
    return tc->slots[(size_t)c * p->cache_max + --tc->count[c]];
}

void gs_pool_free(void *block) {
    if (!block)
        return;
    block_hdr_t *h = hdr_of(block);
    gs_pool_t *p = h->pool;
    uint32_t c = h->cls;

    tcache_t *tc = cache_get(p);
    if (c == FALLBACK_CLASS) {
        size_t bytes = sizeof(block_hdr_t) + h->size;
        free(h);
        unreserve(p, bytes);
        if (tc)
            bump(&tc->ctrs.fb_frees);
        else
            atomic_fetch_add_explicit(&p->orphan_frees[FALLBACK_CLASS], 1, memory_order_relaxed);
        return;
    }
    free_node_t *n = block;
    if (!tc) {
        /* No cache for this thread (its allocation failed): straight to the shared list. */
        n->next = NULL;
        shared_push(&p->cls[c], n, 1);
        atomic_fetch_add_explicit(&p->orphan_frees[c], 1, memory_order_relaxed);
        return;
    }
    if (tc->count[c] == p->cache_max)
        flush(p, tc, (int)c, p->batch);
    tc->slots[(size_t)c * p->cache_max + tc->count[c]++] = n;
    bump(&tc->ctrs.cls[c].frees);
}

size_t gs_pool_block_size(const void *block) { return hdr_of(block)->size; }

void gs_pool_thread_flush(gs_pool_t *p) {
    tcache_t *tc = gs_tls_get(&p->key);
    if (!tc)
        return;
    for (int c = 0; c < GS_POOL_CLASSES; c++)
        flush(p, tc, c, tc->count[c]);
}

static uint64_t diff(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

void gs_pool_stats(gs_pool_t *p, gs_pool_stats_t *out) {
    ctrs_t sum;
    memset(&sum, 0, sizeof(sum));
    gs_mutex_lock(&p->lock);
    add_ctrs(&sum, &p->retired);
    uint32_t threads = 0;
    for (gs_list_t *l = p->caches.next; l != &p->caches; l = l->next) {
        add_ctrs(&sum, &gs_container_of(l, tcache_t, link)->ctrs);
        threads++;
    }
    gs_mutex_unlock(&p->lock);

    memset(out, 0, sizeof(*out));
    out->threads = threads;
    for (int c = 0; c < GS_POOL_CLASSES; c++) {
        pool_class_t *pc = &p->cls[c];
        gs_pool_class_stats_t *cs = &out->classes[c];
        const class_ctrs_t *s = &sum.cls[c];
        gs_mutex_lock(&pc->lock);
        cs->blocks_total = pc->blocks_total;
        cs->high_water = pc->high_water;
        gs_mutex_unlock(&pc->lock);
        cs->block_size = pc->size;
        cs->allocs = rd(&s->allocs);
        uint64_t frees = rd(&s->frees) + atomic_load(&p->orphan_frees[c]);
        cs->in_use = diff(cs->allocs, frees);
        cs->cache_hits = rd(&s->hits);
        cs->refills = rd(&s->refills);
        cs->flushes = rd(&s->flushes);
        out->blocks_total += cs->blocks_total;
        out->in_use += cs->in_use;
        out->high_water += cs->high_water;
        out->allocs += cs->allocs;
        out->cache_hits += cs->cache_hits;
    }
    out->fallbacks = rd(&sum.fb_allocs);
    out->fallback_in_use =
        diff(out->fallbacks, rd(&sum.fb_frees) + atomic_load(&p->orphan_frees[FALLBACK_CLASS]));
    out->in_use += out->fallback_in_use;
    out->allocs += out->fallbacks;
    out->bytes_total = atomic_load_explicit(&p->bytes_total, memory_order_relaxed);
    out->failures = atomic_load_explicit(&p->failures, memory_order_relaxed);
}

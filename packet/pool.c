/* SPDX-License-Identifier: MIT */
/* Block pool: size classes carved from slabs, a cache per thread per pool, and a shared stack of
 * batches per class that caches refill from and flush to.
 *
 * A batch is one block (its head) holding the addresses of the others, so moving a batch between
 * a cache and the shared stack touches one block, not a linked list whose every node was last
 * written by another core.
 *
 * Why a spinlock on the shared stack rather than a lock-free stack: a lock-free stack needs ABA
 * protection (a double-width CAS, which C11 does not offer portably, or hazard pointers), and the
 * stack is touched once per batch (up to 31 blocks) for a handful of instructions, so a short
 * spinlock that yields when it is held for long costs little; a mutex would sleep in the kernel
 * when two cores meet there. bench/packet_bench measures the result against malloc/free on the
 * cross-thread pattern that matters (encode on one thread, last unref after the send on an IO
 * thread). */
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

/* A free block that heads a batch lists the other blocks of the batch in its own bytes. The
 * smallest class (256 B) fits 30 addresses after the header, so a batch is at most 31 blocks. */
#define BATCH_OTHERS_MAX 30u
#define BATCH_MAX        (BATCH_OTHERS_MAX + 1u)
typedef struct batch {
    struct batch *next; /* next batch on the shared stack */
    uint32_t count;     /* blocks in the batch, this head included */
    void *others[BATCH_OTHERS_MAX];
} batch_t;
_Static_assert(sizeof(batch_t) <= 256, "a batch head must fit in the smallest class");

/* Test-and-test-and-set lock for the few instructions of a push or pop; yields the CPU when the
 * holder seems preempted rather than burning the rest of the time slice. */
typedef struct spin {
    _Atomic int held;
} spin_t;

static void spin_lock(spin_t *l) {
    for (unsigned spins = 0;; spins++) {
        if (!atomic_load_explicit(&l->held, memory_order_relaxed) &&
            !atomic_exchange_explicit(&l->held, 1, memory_order_acquire))
            return;
        if (spins >= 64)
            gs_thread_yield();
    }
}

static void spin_unlock(spin_t *l) { atomic_store_explicit(&l->held, 0, memory_order_release); }

/* Slabs come from gs_pages_alloc, not malloc, so that gs_pool_trim really gives them back to
 * the system (free() of a block in the middle of malloc's heap keeps the pages). */
typedef struct slab {
    struct slab *next;
    size_t bytes;
    uint32_t cls;
    size_t trim_lo, trim_hi; /* gs_pool_trim: its blocks' indices in the sorted free list */
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

/* Cache hits are not counted: every allocation that is not a hit follows a successful refill,
 * so hits = allocs - refills. */
typedef struct class_ctrs {
    ctr_t allocs, frees, refills, flushes;
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
    void **slots; /* GS_POOL_CLASSES rows of cache_max */
} tcache_t;

typedef struct pool_class {
    _Alignas(GS_CACHELINE) spin_t lock; /* batches, free_blocks, blocks_total, high_water */
    batch_t *batches;                   /* shared stack */
    uint64_t free_blocks;               /* blocks in batches */
    uint64_t blocks_total;
    uint64_t high_water;
    uint32_t size;   /* usable bytes */
    uint32_t stride; /* header + usable */
    uint32_t per_slab;
} pool_class_t;

struct gs_pool {
    pool_class_t cls[GS_POOL_CLASSES];
    uint64_t serial; /* tells this pool from an earlier one at the same address */
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
    _Atomic uint64_t trimmed_bytes; /* given back by gs_pool_trim, ever */
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

/* Make blocks[0..n) one batch (n <= BATCH_MAX) headed by blocks[0]. */
static batch_t *make_batch(void *const *blocks, uint32_t n) {
    batch_t *head = blocks[0];
    head->count = n;
    memcpy(head->others, blocks + 1, (n - 1) * sizeof(void *));
    return head;
}

static void shared_push(pool_class_t *pc, batch_t *head) {
    spin_lock(&pc->lock);
    head->next = pc->batches;
    pc->batches = head;
    pc->free_blocks += head->count;
    spin_unlock(&pc->lock);
}

/* Carve a new slab for class c: the first `take` blocks go to out[], the rest to the shared
 * stack in batches of p->batch. Returns the number of blocks put in out[]. */
static uint32_t grow(gs_pool_t *p, int c, void **out, uint32_t take) {
    pool_class_t *pc = &p->cls[c];
    size_t bytes = sizeof(slab_t) + (size_t)pc->per_slab * pc->stride;

    if (!reserve(p, bytes))
        return 0;
    slab_t *s = gs_pages_alloc(bytes);
    if (!s) {
        unreserve(p, bytes);
        return 0;
    }
    s->bytes = bytes;
    s->cls = (uint32_t)c;
    gs_mutex_lock(&p->lock);
    s->next = p->slabs;
    p->slabs = s;
    gs_mutex_unlock(&p->lock);

    void *group[BATCH_MAX];
    uint32_t got = 0, in_group = 0;
    batch_t *first = NULL, *last = NULL;
    uint64_t shared = 0;
    for (uint32_t i = 0; i < pc->per_slab; i++) {
        block_hdr_t *h = (block_hdr_t *)(void *)(s->blocks + (size_t)i * pc->stride);
        h->pool = p;
        h->cls = (uint32_t)c;
        h->size = pc->size;
        if (got < take) {
            out[got++] = h + 1;
            continue;
        }
        group[in_group++] = h + 1;
        if (in_group == p->batch || i + 1 == pc->per_slab) {
            batch_t *b = make_batch(group, in_group);
            b->next = NULL;
            if (last)
                last->next = b;
            else
                first = b;
            last = b;
            shared += in_group;
            in_group = 0;
        }
    }
    /* One lock for the whole slab: splice the chain of new batches onto the stack. */
    spin_lock(&pc->lock);
    if (first) {
        last->next = pc->batches;
        pc->batches = first;
        pc->free_blocks += shared;
    }
    pc->blocks_total += pc->per_slab;
    note_high_water(pc);
    spin_unlock(&pc->lock);
    return got;
}

/* Fill the empty cache of class c with one batch, or a new slab's first blocks. Returns the
 * number of blocks now cached. */
static uint32_t refill(gs_pool_t *p, tcache_t *tc, int c) {
    pool_class_t *pc = &p->cls[c];
    void **slots = tc->slots + (size_t)c * p->cache_max;
    uint32_t n;

    spin_lock(&pc->lock);
    batch_t *head = pc->batches;
    if (head) {
        pc->batches = head->next;
        pc->free_blocks -= head->count;
        note_high_water(pc);
    }
    spin_unlock(&pc->lock);
    if (head) {
        /* Only the head's bytes (the list) are read here; the other blocks are not touched until
         * they are allocated. The head, warm from that read, is handed out first. */
        n = head->count;
        memcpy(slots, head->others, (n - 1) * sizeof(void *));
        slots[n - 1] = head;
    } else {
        n = grow(p, c, slots, p->batch);
    }
    tc->count[c] = n;
    if (n)
        bump(&tc->ctrs.cls[c].refills);
    return n;
}

/* Give the oldest `n` (<= BATCH_MAX) cached blocks of class c back as one batch. */
static void flush_some(gs_pool_t *p, tcache_t *tc, int c, uint32_t n) {
    void **slots = tc->slots + (size_t)c * p->cache_max;
    shared_push(&p->cls[c], make_batch(slots, n));
    /* Keep the most recently freed (cache-warm) blocks. */
    memmove(slots, slots + n, (tc->count[c] - n) * sizeof(*slots));
    tc->count[c] -= n;
    bump(&tc->ctrs.cls[c].flushes);
}

/* Everything cached in class c goes back. */
static void flush_all(gs_pool_t *p, tcache_t *tc, int c) {
    while (tc->count[c] != 0)
        flush_some(p, tc, c, tc->count[c] < BATCH_MAX ? tc->count[c] : BATCH_MAX);
}

/* ---- thread caches ------------------------------------------------------------------------ */

/* The last (pool, cache) pair this thread used: one compare instead of a thread-specific-data
 * lookup on every allocation and free. The serial tells a pool from an earlier one destroyed at
 * the same address; the cache it names is only dereferenced after that check. */
static _Thread_local struct {
    const gs_pool_t *pool;
    uint64_t serial;
    tcache_t *tc;
} last_cache;

static _Atomic uint64_t next_serial = 1;

/* Thread exit (TLS destructor): everything cached goes back, counters are kept. */
static void cache_retire(void *value) {
    tcache_t *tc = value;
    gs_pool_t *p = tc->pool;

    for (int c = 0; c < GS_POOL_CLASSES; c++)
        flush_all(p, tc, c);
    gs_mutex_lock(&p->lock);
    add_ctrs(&p->retired, &tc->ctrs);
    gs_list_remove(&tc->link);
    gs_mutex_unlock(&p->lock);
    /* Another key's destructor may still use a pool on this thread: it must not find this one. */
    if (last_cache.tc == tc)
        last_cache.pool = NULL;
    free(tc);
}

static tcache_t *cache_slow(gs_pool_t *p) {
    tcache_t *tc = gs_tls_get(&p->key);
    if (!tc) {
        tc = calloc(1, sizeof(*tc) + sizeof(void *) * GS_POOL_CLASSES * p->cache_max);
        if (!tc)
            return NULL;
        tc->pool = p;
        tc->slots = (void **)(void *)(tc + 1);
        if (gs_tls_set(&p->key, tc) != 0) {
            free(tc);
            return NULL;
        }
        gs_mutex_lock(&p->lock);
        gs_list_insert_tail(&p->caches, &tc->link);
        gs_mutex_unlock(&p->lock);
    }
    last_cache.pool = p;
    last_cache.serial = p->serial;
    last_cache.tc = tc;
    return tc;
}

static inline tcache_t *cache_get(gs_pool_t *p) {
    if (last_cache.pool == p && last_cache.serial == p->serial)
        return last_cache.tc;
    return cache_slow(p);
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
    if (p->batch > BATCH_MAX)
        p->batch = BATCH_MAX;
    p->serial = atomic_fetch_add(&next_serial, 1);
    p->max_bytes = c.max_bytes;
    uint32_t slab_bytes = c.slab_bytes ? c.slab_bytes : SLAB_BYTES_DEFAULT;
    for (int i = 0; i < GS_POOL_CLASSES; i++) {
        pool_class_t *pc = &p->cls[i];
        atomic_init(&pc->lock.held, 0);
        pc->size = class_sizes[i];
        pc->stride = (uint32_t)sizeof(block_hdr_t) + pc->size;
        pc->per_slab = slab_bytes / pc->stride;
        if (pc->per_slab == 0)
            pc->per_slab = 1;
    }
    gs_mutex_init(&p->lock);
    gs_list_init(&p->caches);
    if (gs_tls_key_create(&p->key, cache_retire) != 0) {
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
        gs_pages_free(s, s->bytes);
    }
    gs_mutex_fini(&p->lock);
    /* This thread's shortcut would otherwise match a new pool at the same address until the
     * serial check; clear it anyway so that nothing reads freed memory by mistake. */
    if (last_cache.pool == p)
        last_cache.pool = NULL;
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
    if (tc->count[c] == 0 && refill(p, tc, c) == 0) {
        atomic_fetch_add_explicit(&p->failures, 1, memory_order_relaxed);
        return NULL;
    }
    bump(&tc->ctrs.cls[c].allocs);
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
    if (!tc) {
        /* No cache for this thread (its allocation failed): straight to the shared stack. */
        shared_push(&p->cls[c], make_batch(&block, 1));
        atomic_fetch_add_explicit(&p->orphan_frees[c], 1, memory_order_relaxed);
        return;
    }
    if (tc->count[c] == p->cache_max)
        flush_some(p, tc, (int)c, p->batch);
    tc->slots[(size_t)c * p->cache_max + tc->count[c]++] = block;
    bump(&tc->ctrs.cls[c].frees);
}

size_t gs_pool_block_size(const void *block) { return hdr_of(block)->size; }

/* ---- trim --------------------------------------------------------------------------------- */

static int cmp_ptr(const void *a, const void *b) {
    uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
    return (x > y) - (x < y);
}

/* Index of the first of the n sorted pointers that is >= key. */
static size_t lower_bound(void *const *v, size_t n, uintptr_t key) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)v[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A detached chain of batches holding n blocks goes back on the shared stack as it is. */
static void put_back(pool_class_t *pc, batch_t *list, uint64_t n) {
    if (!list)
        return;
    batch_t *last = list;
    while (last->next)
        last = last->next;
    spin_lock(&pc->lock);
    last->next = pc->batches;
    pc->batches = list;
    pc->free_blocks += n;
    spin_unlock(&pc->lock);
}

/* Trim class c: take every batch off the shared stack, free the slabs all of whose blocks were
 * there, and put the other blocks back in batches. Returns the bytes given back. */
static size_t trim_class(gs_pool_t *p, int c) {
    pool_class_t *pc = &p->cls[c];
    spin_lock(&pc->lock);
    batch_t *list = pc->batches;
    uint64_t n = pc->free_blocks;
    pc->batches = NULL;
    pc->free_blocks = 0;
    spin_unlock(&pc->lock);
    /* Not even one slab's worth free (nothing to give back), or no memory to sort: put the list
     * back whole. */
    void **v = n >= pc->per_slab ? malloc((size_t)n * sizeof(*v)) : NULL;
    if (!v) {
        put_back(pc, list, n);
        return 0;
    }
    uint64_t k = 0;
    for (batch_t *b = list, *next; b; b = next) {
        next = b->next;
        for (uint32_t i = 1; i < b->count; i++)
            v[k++] = b->others[i - 1];
        v[k++] = b;
    }
    qsort(v, (size_t)k, sizeof(*v), cmp_ptr);

    /* Unlink the slabs of this class whose every block is in v; mark their blocks NULL. */
    slab_t *freed = NULL;
    uint64_t freed_slabs = 0;
    gs_mutex_lock(&p->lock);
    for (slab_t **link = &p->slabs; *link;) {
        slab_t *sl = *link;
        if (sl->cls != (uint32_t)c) {
            link = &sl->next;
            continue;
        }
        uintptr_t first = (uintptr_t)sl->blocks + sizeof(block_hdr_t);
        uintptr_t end = (uintptr_t)sl->blocks + (uintptr_t)pc->per_slab * pc->stride;
        size_t lo = lower_bound(v, (size_t)k, first), hi = lower_bound(v, (size_t)k, end);
        if (hi - lo != pc->per_slab) {
            link = &sl->next;
            continue;
        }
        /* Its blocks are struck from v only once every slab has been looked up: v must stay
         * sorted for the searches (slabs come in any address order: mmap hands out descending
         * addresses on Linux, VirtualAlloc ascending ones on Windows). */
        sl->trim_lo = lo;
        sl->trim_hi = hi;
        *link = sl->next;
        sl->next = freed;
        freed = sl;
        freed_slabs++;
    }
    gs_mutex_unlock(&p->lock);
    for (slab_t *sl = freed; sl; sl = sl->next)
        memset(&v[sl->trim_lo], 0, (sl->trim_hi - sl->trim_lo) * sizeof(*v));

    /* The rest goes back in batches, lowest addresses first out (they are pushed last), so
     * allocations favour the slabs that were kept dense. */
    void *group[BATCH_MAX];
    uint32_t in_group = 0;
    uint64_t back = 0;
    for (uint64_t i = k; i-- > 0;) {
        if (!v[i])
            continue;
        group[in_group++] = v[i];
        if (in_group == p->batch) {
            shared_push(pc, make_batch(group, in_group));
            back += in_group;
            in_group = 0;
        }
    }
    if (in_group) {
        shared_push(pc, make_batch(group, in_group));
        back += in_group;
    }
    free(v);

    size_t bytes = 0;
    spin_lock(&pc->lock);
    pc->blocks_total -= freed_slabs * pc->per_slab;
    spin_unlock(&pc->lock);
    while (freed) {
        slab_t *sl = freed;
        freed = sl->next;
        bytes += sl->bytes;
        unreserve(p, sl->bytes);
        gs_pages_free(sl, sl->bytes);
    }
    (void)back;
    return bytes;
}

size_t gs_pool_trim(gs_pool_t *p) {
    size_t bytes = 0;
    for (int c = 0; c < GS_POOL_CLASSES; c++)
        bytes += trim_class(p, c);
    if (bytes)
        atomic_fetch_add_explicit(&p->trimmed_bytes, bytes, memory_order_relaxed);
    return bytes;
}

size_t gs_pool_block_footprint(const void *block) {
    return sizeof(block_hdr_t) + hdr_of(block)->size;
}

void gs_pool_thread_flush(gs_pool_t *p) {
    tcache_t *tc = gs_tls_get(&p->key);
    if (!tc)
        return;
    for (int c = 0; c < GS_POOL_CLASSES; c++)
        flush_all(p, tc, c);
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
        spin_lock(&pc->lock);
        cs->blocks_total = pc->blocks_total;
        cs->high_water = pc->high_water;
        spin_unlock(&pc->lock);
        cs->block_size = pc->size;
        cs->allocs = rd(&s->allocs);
        uint64_t frees = rd(&s->frees) + atomic_load(&p->orphan_frees[c]);
        cs->in_use = diff(cs->allocs, frees);
        cs->refills = rd(&s->refills);
        cs->cache_hits = diff(cs->allocs, cs->refills);
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
    out->blocks_cached = diff(out->blocks_total, out->in_use);
    out->in_use += out->fallback_in_use;
    out->allocs += out->fallbacks;
    out->bytes_total = atomic_load_explicit(&p->bytes_total, memory_order_relaxed);
    out->trimmed_bytes = atomic_load_explicit(&p->trimmed_bytes, memory_order_relaxed);
    out->failures = atomic_load_explicit(&p->failures, memory_order_relaxed);
}

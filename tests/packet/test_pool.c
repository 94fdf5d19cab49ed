/* SPDX-License-Identifier: MIT */
/* Pool: classes, fallbacks, the memory cap, thread caches, cross-thread frees, thread exit, and
 * the stats returning to their baseline when traffic stops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gs_test.h"

#include "gs/packet.h"

static const uint32_t sizes[GS_POOL_CLASSES] = GS_POOL_CLASS_SIZES;

static gs_pool_stats_t stats_of(gs_pool_t *p) {
    gs_pool_stats_t st;
    gs_pool_stats(p, &st);
    return st;
}

static void test_classes_and_alignment(void **state) {
    (void)state;
    gs_pool_t *p = gs_pool_create(NULL);
    assert_non_null(p);
    const size_t asks[] = {1, 255, 256, 257, 1024, 1025, 4096, 16384, 16385, sizes[4]};
    const size_t want_class[] = {0, 0, 0, 1, 1, 2, 2, 3, 4, 4};
    void *blocks[10];
    for (int i = 0; i < 10; i++) {
        blocks[i] = gs_pool_alloc(p, asks[i]);
        assert_non_null(blocks[i]);
        assert_int_equal((uintptr_t)blocks[i] % 16, 0);
        assert_int_equal(gs_pool_block_size(blocks[i]), sizes[want_class[i]]);
        memset(blocks[i], 0xA5, asks[i]); /* ASan: the whole asked size is ours */
    }
    gs_pool_stats_t st = stats_of(p);
    assert_int_equal(st.in_use, 10);
    assert_int_equal(st.allocs, 10);
    assert_int_equal(st.classes[0].in_use, 3);
    assert_int_equal(st.classes[4].in_use, 2);
    assert_int_equal(st.fallbacks, 0);
    assert_int_equal(st.threads, 1);
    for (int i = 0; i < 10; i++)
        gs_pool_free(blocks[i]);
    gs_pool_free(NULL);
    st = stats_of(p);
    assert_int_equal(st.in_use, 0);
    assert_true(st.blocks_total >= 10);
    gs_pool_destroy(p);
}

static void test_cache_hits_and_reuse(void **state) {
    (void)state;
    gs_pool_t *p = gs_pool_create(NULL);
    void *a = gs_pool_alloc(p, 100);
    gs_pool_free(a);
    /* LIFO cache: the block just freed comes back, and from the cache. */
    gs_pool_stats_t before = stats_of(p);
    void *b = gs_pool_alloc(p, 100);
    assert_ptr_equal(a, b);
    gs_pool_stats_t after = stats_of(p);
    assert_int_equal(after.cache_hits, before.cache_hits + 1);
    assert_int_equal(after.classes[0].refills, before.classes[0].refills);
    gs_pool_free(b);
    gs_pool_destroy(p);
}

static void test_fallback_above_largest_class(void **state) {
    (void)state;
    gs_pool_t *p = gs_pool_create(NULL);
    size_t big = sizes[GS_POOL_CLASSES - 1] + 1;
    void *b = gs_pool_alloc(p, big);
    assert_non_null(b);
    memset(b, 1, big);
    assert_true(gs_pool_block_size(b) >= big);
    gs_pool_stats_t st = stats_of(p);
    assert_int_equal(st.fallbacks, 1);
    assert_int_equal(st.fallback_in_use, 1);
    assert_int_equal(st.in_use, 1);
    assert_true(st.bytes_total >= big);
    gs_pool_free(b);
    st = stats_of(p);
    assert_int_equal(st.fallback_in_use, 0);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.bytes_total, 0);
    gs_pool_destroy(p);
}

static void test_cap_refuses_then_recovers(void **state) {
    (void)state;
    const size_t cap = 256 * 1024;
    gs_pool_t *p = gs_pool_create(&(gs_pool_config_t){.max_bytes = cap, .slab_bytes = 32768});
    enum { MAX = 1000 };
    void *blocks[MAX];
    int n = 0;
    while (n < MAX && (blocks[n] = gs_pool_alloc(p, 4000)) != NULL)
        n++;
    assert_true(n > 0 && n < MAX);
    gs_pool_stats_t st = stats_of(p);
    assert_true(st.bytes_total <= cap);
    assert_int_equal(st.failures, 1);
    /* Fallbacks count against the cap too. */
    assert_null(gs_pool_alloc(p, cap));
    assert_int_equal(stats_of(p).failures, 2);
    /* A freed block is allocatable again without growing. */
    gs_pool_free(blocks[--n]);
    blocks[n] = gs_pool_alloc(p, 4000);
    assert_non_null(blocks[n]);
    n++;
    for (int i = 0; i < n; i++)
        gs_pool_free(blocks[i]);
    st = stats_of(p);
    assert_int_equal(st.in_use, 0);
    assert_true(st.high_water >= (uint64_t)n);
    gs_pool_destroy(p);
}

/* ---- cross-thread ------------------------------------------------------------------------- */

enum { XT_PRODUCERS = 3, XT_PER_PRODUCER = 60000 };
/* Blocks a producer may have allocated and not yet seen freed. The window makes the number of
 * live blocks a property of the test rather than of how far the scheduler lets the consumer fall
 * behind, so the pool's growth has a bound that holds on any machine (docs/testing.md). */
enum { XT_WINDOW = 64, XT_CACHE_MAX = 64, XT_SLAB_BYTES = 64 * 1024 };

typedef struct xt_node {
    gs_mpsc_node_t link;
    uint32_t producer, seq, size;
} xt_node_t;

typedef struct xt {
    gs_pool_t *pool;
    gs_mpsc_t q;
    _Atomic int producers_done;
    _Atomic uint32_t live[XT_PRODUCERS]; /* allocated by producer i, not yet freed */
    uint64_t freed;
    uint64_t bad;
} xt_t;

typedef struct xt_arg {
    xt_t *xt;
    uint32_t id;
} xt_arg_t;

static void producer(void *arg) {
    xt_arg_t *a = arg;
    for (uint32_t i = 0; i < XT_PER_PRODUCER; i++) {
        uint32_t size = 32 + (i * 7919u) % 6000; /* three classes */
        xt_node_t *n;
        while (atomic_load(&a->xt->live[a->id]) >= XT_WINDOW)
            gs_thread_yield(); /* the consumer is behind: wait for it rather than grow the pool */
        while ((n = gs_pool_alloc(a->xt->pool, size)) == NULL)
            ; /* cannot happen without a cap; the test asserts failures == 0 */
        atomic_fetch_add(&a->xt->live[a->id], 1);
        n->producer = a->id;
        n->seq = i;
        n->size = size;
        memset(n + 1, (int)(a->id + 1), size - sizeof(*n));
        gs_mpsc_push(&a->xt->q, &n->link);
    }
    atomic_fetch_add(&a->xt->producers_done, 1);
}

static void consumer(void *arg) {
    xt_t *xt = arg;
    uint32_t next_seq[XT_PRODUCERS] = {0};
    for (;;) {
        gs_mpsc_node_t *l = gs_mpsc_pop(&xt->q);
        if (!l) {
            if (atomic_load(&xt->producers_done) == XT_PRODUCERS &&
                xt->freed == (uint64_t)XT_PRODUCERS * XT_PER_PRODUCER)
                break;
            continue;
        }
        xt_node_t *n = gs_container_of(l, xt_node_t, link);
        /* A block handed out twice would show another producer's fill or a seq jump. */
        const uint8_t *body = (const uint8_t *)(n + 1);
        if (n->seq != next_seq[n->producer]++ || body[0] != n->producer + 1 ||
            body[n->size - sizeof(*n) - 1] != n->producer + 1)
            xt->bad++;
        uint32_t producer = n->producer;
        gs_pool_free(n);
        atomic_fetch_sub(&xt->live[producer], 1);
        xt->freed++;
    }
}

static void test_cross_thread_alloc_free(void **state) {
    (void)state;
    xt_t xt = {.pool = gs_pool_create(
                   &(gs_pool_config_t){.cache_max = XT_CACHE_MAX, .slab_bytes = XT_SLAB_BYTES})};
    gs_mpsc_init(&xt.q);
    gs_thread_t *threads[XT_PRODUCERS + 1];
    xt_arg_t args[XT_PRODUCERS];
    assert_int_equal(gs_thread_start(&threads[XT_PRODUCERS], consumer, &xt, "consumer"), 0);
    for (uint32_t i = 0; i < XT_PRODUCERS; i++) {
        args[i] = (xt_arg_t){&xt, i};
        assert_int_equal(gs_thread_start(&threads[i], producer, &args[i], "producer"), 0);
    }
    for (int i = 0; i <= XT_PRODUCERS; i++)
        gs_thread_join(threads[i]);
    assert_int_equal(xt.bad, 0);
    assert_int_equal(xt.freed, (uint64_t)XT_PRODUCERS * XT_PER_PRODUCER);
    gs_pool_stats_t st = stats_of(xt.pool);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.failures, 0);
    assert_int_equal(st.allocs, (uint64_t)XT_PRODUCERS * XT_PER_PRODUCER);
    /* The threads have exited: their caches were retired and their counters kept. */
    assert_int_equal(st.threads, 0);
    /* Blocks are recycled, whatever the scheduling: a class grows only when a thread finds its
     * cache and the shared stack empty, so every block of the class is then live (at most the
     * producers' windows, plus the one the consumer holds), in a thread's cache (at most
     * cache_max), or in a batch on its way to the stack (at most one per thread); and each of the
     * threads may be carving a slab at that moment. How many blocks recycling saves on a real
     * hand-off is a figure of bench/packet_bench.sh, not a test. */
    const uint64_t threads_n = XT_PRODUCERS + 1;
    for (int c = 0; c < GS_POOL_CLASSES; c++) {
        uint64_t per_slab = XT_SLAB_BYTES / (16u + sizes[c]);
        uint64_t bound = (uint64_t)XT_PRODUCERS * XT_WINDOW + 1 +
                         threads_n * (XT_CACHE_MAX + XT_CACHE_MAX / 2) + threads_n * per_slab;
        if (st.classes[c].blocks_total > bound)
            fail_msg("class %d: %llu blocks carved, bound %llu", c,
                     (unsigned long long)st.classes[c].blocks_total, (unsigned long long)bound);
    }
    gs_pool_destroy(xt.pool);
}

/* A thread that exits with blocks in its cache gives them back: another thread reuses them
 * without the pool growing. */
static void alloc_free_some(void *arg) {
    gs_pool_t *p = arg;
    void *b[40];
    for (int i = 0; i < 40; i++)
        b[i] = gs_pool_alloc(p, 200);
    for (int i = 0; i < 40; i++)
        gs_pool_free(b[i]);
}

static void test_thread_exit_returns_cache(void **state) {
    (void)state;
    gs_pool_t *p = gs_pool_create(&(gs_pool_config_t){.slab_bytes = 40 * (256 + 16)});
    gs_thread_t *t;
    assert_int_equal(gs_thread_start(&t, alloc_free_some, p, "exiting"), 0);
    gs_thread_join(t);
    gs_pool_stats_t st = stats_of(p);
    assert_int_equal(st.threads, 0);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.allocs, 40);
    uint64_t total = st.blocks_total;
    assert_int_equal(total, 40);
    void *b[40];
    for (int i = 0; i < 40; i++)
        assert_non_null(b[i] = gs_pool_alloc(p, 200));
    assert_int_equal(stats_of(p).blocks_total, total);
    for (int i = 0; i < 40; i++)
        gs_pool_free(b[i]);
    /* Flushing this thread's cache by hand empties it too. */
    gs_pool_thread_flush(p);
    st = stats_of(p);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.classes[0].flushes > 0, 1);
    gs_pool_destroy(p);
}

/* Two pools used by the same thread keep separate caches and separate accounting. */
static void test_two_pools_one_thread(void **state) {
    (void)state;
    gs_pool_t *a = gs_pool_create(NULL), *b = gs_pool_create(NULL);
    void *x = gs_pool_alloc(a, 64), *y = gs_pool_alloc(b, 64);
    gs_pool_free(x);
    gs_pool_free(y);
    void *y2 = gs_pool_alloc(b, 64);
    assert_ptr_equal(y, y2); /* not x: caches are per pool */
    assert_int_equal(stats_of(a).in_use, 0);
    assert_int_equal(stats_of(b).in_use, 1);
    gs_pool_free(y2);
    gs_pool_destroy(a);
    gs_pool_destroy(b);
}

/* Blocks larger than a cache batch move correctly between caches: a thread that only frees
 * overflows its cache into the shared list; one that only allocates refills from it. */
static void free_many(void *arg) {
    void **blocks = arg;
    for (int i = 0; i < 1000; i++)
        gs_pool_free(blocks[i]);
}

static void test_free_only_thread_flushes(void **state) {
    (void)state;
    gs_pool_t *p = gs_pool_create(&(gs_pool_config_t){.cache_max = 8});
    void *blocks[1000];
    for (int i = 0; i < 1000; i++)
        assert_non_null(blocks[i] = gs_pool_alloc(p, 1000));
    uint64_t total = stats_of(p).blocks_total;
    gs_thread_t *t;
    assert_int_equal(gs_thread_start(&t, free_many, blocks, "freer"), 0);
    gs_thread_join(t);
    gs_pool_stats_t st = stats_of(p);
    assert_int_equal(st.in_use, 0);
    /* Cache of 8, batches of 4: every 4 frees past the first 8 move a batch. */
    assert_true(st.classes[1].flushes >= (1000 - 8) / 4);
    for (int i = 0; i < 1000; i++)
        assert_non_null(blocks[i] = gs_pool_alloc(p, 1000));
    assert_int_equal(stats_of(p).blocks_total, total);
    for (int i = 0; i < 1000; i++)
        gs_pool_free(blocks[i]);
    gs_pool_destroy(p);
}

/* A pool created where a destroyed one lived must not inherit the thread's shortcut to the old
 * pool's cache (freed memory: ASan would see it; the counters would too). */
static void test_recreate_at_same_address(void **state) {
    (void)state;
    for (int i = 0; i < 100; i++) {
        gs_pool_t *p = gs_pool_create(NULL);
        void *b = gs_pool_alloc(p, 10);
        assert_non_null(b);
        gs_pool_free(b);
        gs_pool_stats_t st = stats_of(p);
        assert_int_equal(st.threads, 1);
        assert_int_equal(st.allocs, 1);
        assert_int_equal(st.in_use, 0);
        assert_int_equal(st.cache_hits, 0); /* the first allocation refilled */
        gs_pool_destroy(p);
    }
}

/* gs_pool_trim gives back exactly the slabs whose every block is free on the shared lists: a
 * live block keeps its slab (and stays usable), a block in a thread's cache keeps its slab, and
 * the pool grows again afterwards. */
enum { TRIM_PER_SLAB = 40, TRIM_SLABS = 5, TRIM_N = TRIM_PER_SLAB * TRIM_SLABS };

static void test_trim_gives_back_free_slabs(void **state) {
    (void)state;
    gs_pool_t *p = gs_pool_create(
        &(gs_pool_config_t){.slab_bytes = TRIM_PER_SLAB * (256 + 16), .cache_max = 8});
    static void *b[TRIM_N];
    for (int i = 0; i < TRIM_N; i++) {
        assert_non_null(b[i] = gs_pool_alloc(p, 200));
        memset(b[i], 0x5A, 200);
    }
    gs_pool_stats_t st = stats_of(p);
    assert_int_equal(st.blocks_total, TRIM_N);
    uint64_t slab_bytes = st.bytes_total / TRIM_SLABS;
    assert_int_equal(st.bytes_total, slab_bytes * TRIM_SLABS);

    /* Nothing is free yet: nothing to give back. */
    assert_int_equal(gs_pool_trim(p), 0);
    /* All but b[7] free, and this thread's cache flushed: every slab but b[7]'s goes. */
    for (int i = 0; i < TRIM_N; i++)
        if (i != 7)
            gs_pool_free(b[i]);
    gs_pool_thread_flush(p);
    assert_int_equal(gs_pool_trim(p), slab_bytes * (TRIM_SLABS - 1));
    st = stats_of(p);
    assert_int_equal(st.blocks_total, TRIM_PER_SLAB);
    assert_int_equal(st.bytes_total, slab_bytes);
    assert_int_equal(st.trimmed_bytes, slab_bytes * (TRIM_SLABS - 1));
    assert_int_equal(st.in_use, 1);
    for (int k = 0; k < 200; k++)
        assert_int_equal(((uint8_t *)b[7])[k], 0x5A);
    /* The kept slab's other blocks are still handed out, without growing. */
    void *again[TRIM_PER_SLAB - 1];
    for (int i = 0; i < TRIM_PER_SLAB - 1; i++)
        assert_non_null(again[i] = gs_pool_alloc(p, 200));
    assert_int_equal(stats_of(p).blocks_total, TRIM_PER_SLAB);
    for (int i = 0; i < TRIM_PER_SLAB - 1; i++)
        gs_pool_free(again[i]);
    gs_pool_free(b[7]);
    /* Blocks in this thread's cache (8 at most here) keep their slab. */
    assert_int_equal(gs_pool_trim(p), 0);
    gs_pool_thread_flush(p);
    assert_int_equal(gs_pool_trim(p), slab_bytes);
    st = stats_of(p);
    assert_int_equal(st.blocks_total, 0);
    assert_int_equal(st.bytes_total, 0);
    assert_int_equal(st.in_use, 0);
    /* And the pool grows again. */
    void *x = gs_pool_alloc(p, 200);
    assert_non_null(x);
    assert_int_equal(stats_of(p).blocks_total, TRIM_PER_SLAB);
    gs_pool_free(x);
    gs_pool_destroy(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classes_and_alignment),
        cmocka_unit_test(test_cache_hits_and_reuse),
        cmocka_unit_test(test_fallback_above_largest_class),
        cmocka_unit_test(test_cap_refuses_then_recovers),
        cmocka_unit_test(test_cross_thread_alloc_free),
        cmocka_unit_test(test_thread_exit_returns_cache),
        cmocka_unit_test(test_two_pools_one_thread),
        cmocka_unit_test(test_free_only_thread_flushes),
        cmocka_unit_test(test_recreate_at_same_address),
        cmocka_unit_test(test_trim_gives_back_free_slabs),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

/* SPDX-License-Identifier: MIT */
/* Arena: alignment, growth past the first block, the limit, reset keeping the first block, and
 * the protobuf-c allocator over it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gs_test.h"

#include "gs/packet.h"

static gs_arena_stats_t st(const gs_arena_t *a) {
    gs_arena_stats_t s;
    gs_arena_stats(a, &s);
    return s;
}

static void test_alignment_and_growth(void **state) {
    (void)state;
    gs_arena_t *a = gs_arena_create(256);
    assert_non_null(a);
    assert_int_equal(st(a).block_mallocs, 1);
    uint8_t *prev = NULL;
    for (int i = 0; i < 100; i++) {
        uint8_t *p = gs_arena_alloc(a, (size_t)(i % 37) + 1);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        memset(p, i, (size_t)(i % 37) + 1); /* ASan: the memory is really there */
        assert_true(p != prev);
        prev = p;
    }
    gs_arena_stats_t s = st(a);
    assert_int_equal(s.allocs, 100);
    assert_true(s.block_mallocs > 1); /* 100 allocations of >= 16 B do not fit in 256 B */
    /* A request larger than any block so far gets a block of its own size. */
    uint8_t *big = gs_arena_alloc(a, 100000);
    assert_non_null(big);
    memset(big, 1, 100000);
    gs_arena_destroy(a);
}

static void test_reset_keeps_first_block(void **state) {
    (void)state;
    gs_arena_t *a = gs_arena_create(4096);
    void *first = gs_arena_alloc(a, 100);
    for (int i = 0; i < 10; i++)
        assert_non_null(gs_arena_alloc(a, 3000)); /* forces extra blocks */
    uint64_t mallocs = st(a).block_mallocs;
    assert_true(mallocs > 1);
    gs_arena_reset(a);
    assert_int_equal(st(a).bytes, 0);
    /* Same memory again, and a steady state without malloc. */
    for (int round = 0; round < 1000; round++) {
        void *p = gs_arena_alloc(a, 100);
        assert_ptr_equal(p, first);
        assert_non_null(gs_arena_alloc(a, 2000));
        gs_arena_reset(a);
    }
    assert_int_equal(st(a).block_mallocs, mallocs);
    gs_arena_destroy(a);
}

static void test_limit(void **state) {
    (void)state;
    gs_arena_t *a = gs_arena_create(0);
    gs_arena_set_limit(a, 1024);
    assert_non_null(gs_arena_alloc(a, 1000)); /* rounds to 1008 */
    assert_non_null(gs_arena_alloc(a, 16));   /* 1024: exactly at the limit */
    assert_null(gs_arena_alloc(a, 1));        /* one past */
    assert_int_equal(st(a).refusals, 1);
    assert_null(gs_arena_alloc(a, SIZE_MAX)); /* no wrap-around in the rounding */
    assert_int_equal(st(a).refusals, 2);
    /* Reset clears the limit. */
    gs_arena_reset(a);
    assert_non_null(gs_arena_alloc(a, 100000));
    gs_arena_destroy(a);
}

/* Sizes near SIZE_MAX must be refused, not wrap around in the rounding or in the size of a new
 * block (a wrapped block request once returned a 0-byte block as a huge one). */
static void test_huge_sizes_refused(void **state) {
    (void)state;
    gs_arena_t *a = gs_arena_create(0);
    assert_null(gs_arena_alloc(a, SIZE_MAX));
    assert_null(gs_arena_alloc(a, SIZE_MAX - 15));
    assert_null(gs_arena_alloc(a, SIZE_MAX - 20));
    assert_null(gs_arena_alloc(a, SIZE_MAX / 2 + 1));
    assert_non_null(gs_arena_alloc(a, 16)); /* still usable */
    gs_arena_destroy(a);
}

static void test_protobuf_allocator(void **state) {
    (void)state;
    gs_arena_t *a = gs_arena_create(0);
    ProtobufCAllocator *al = gs_arena_allocator(a);
    void *p = al->alloc(al->allocator_data, 64);
    assert_non_null(p);
    al->free(al->allocator_data, p); /* a no-op: memory stays until reset */
    assert_int_equal(st(a).allocs, 1);
    assert_int_equal(st(a).bytes, 64);
    gs_arena_destroy(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment_and_growth),
        cmocka_unit_test(test_reset_keeps_first_block),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_huge_sizes_refused),
        cmocka_unit_test(test_protobuf_allocator),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

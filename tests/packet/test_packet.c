/* SPDX-License-Identifier: MIT */
/* Packets: layout and header, references across threads with exactly one release.
 * test_packet_broadcast.c sends one packet to K sessions over real sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gs_test.h"

#include "gs/packet.h"

static gs_pool_stats_t stats_of(gs_pool_t *p) {
    gs_pool_stats_t st;
    gs_pool_stats(p, &st);
    return st;
}

/* Counts releases, then hands the block back like the packet's own hook would. */
static _Atomic int releases;
static gs_buf_release_cb real_release;
static void counting_release(gs_buf_t *b) {
    atomic_fetch_add(&releases, 1);
    real_release(b);
}
static void watch(gs_packet_t *p) {
    atomic_store(&releases, 0);
    real_release = p->buf.release;
    p->buf.release = counting_release;
}

static void test_layout_and_header(void **state) {
    (void)state;
    gs_pool_t *pool = gs_pool_create(NULL);
    gs_packet_t *p = gs_packet_alloc(pool, 100);
    assert_non_null(p);
    assert_true(p->cap >= 100);
    assert_ptr_equal(p->buf.data, p->frame);
    assert_int_equal(atomic_load(&p->buf.refs), 1);
    memset(gs_packet_body(p), 'x', 100);
    gs_packet_finish(p, 0x01020304u, 100);
    const uint8_t want[8] = {100, 0, 0, 0, 4, 3, 2, 1};
    assert_memory_equal(p->buf.data, want, 8);
    assert_int_equal(p->buf.len, 108);
    assert_int_equal(p->msg_id, 0x01020304u);
    assert_ptr_equal(gs_packet_of_buf(&p->buf), p);
    gs_packet_unref(p);

    /* The body may use the whole class: cap is what the block really holds. */
    p = gs_packet_frame(pool, 7, "hello", 5);
    assert_int_equal(p->buf.len, GS_FRAME_HEADER_SIZE + 5);
    assert_memory_equal(gs_packet_body(p), "hello", 5);
    assert_int_equal(p->cap, 256 - sizeof(gs_packet_t) - GS_FRAME_HEADER_SIZE);
    gs_packet_unref(p);

    /* Empty body: a frame of just the header. */
    p = gs_packet_frame(pool, 9, NULL, 0);
    assert_int_equal(p->buf.len, GS_FRAME_HEADER_SIZE);
    gs_packet_unref(p);
    assert_int_equal(stats_of(pool).in_use, 0);
    gs_pool_destroy(pool);
}

enum { REF_THREADS = 4, REF_ROUNDS = 100000 };

static void ref_unref_loop(void *arg) {
    gs_packet_t *p = arg;
    for (int i = 0; i < REF_ROUNDS; i++) {
        gs_packet_ref(p);
        gs_packet_unref(p);
    }
    /* Each thread was given one reference by the test; dropping it may be the last. */
    gs_packet_unref(p);
}

static void test_refs_across_threads_release_once(void **state) {
    (void)state;
    gs_pool_t *pool = gs_pool_create(NULL);
    for (int round = 0; round < 20; round++) {
        gs_packet_t *p = gs_packet_frame(pool, 1, "abc", 3);
        watch(p);
        gs_thread_t *t[REF_THREADS];
        for (int i = 0; i < REF_THREADS; i++)
            gs_packet_ref(p);
        for (int i = 0; i < REF_THREADS; i++)
            assert_int_equal(gs_thread_start(&t[i], ref_unref_loop, p, "ref"), 0);
        /* Race the threads for the last reference. */
        gs_packet_unref(p);
        for (int i = 0; i < REF_THREADS; i++)
            gs_thread_join(t[i]);
        assert_int_equal(atomic_load(&releases), 1);
    }
    assert_int_equal(stats_of(pool).in_use, 0);
    gs_pool_destroy(pool);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_and_header),
        cmocka_unit_test(test_refs_across_threads_release_once),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

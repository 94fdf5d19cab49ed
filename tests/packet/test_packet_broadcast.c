/* SPDX-License-Identifier: MIT */
/* Broadcast over real sockets: one packet sent to K sessions costs one pool allocation, every
 * client receives the same bytes, and the block returns to the pool after the last send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gs_test.h"

#include "gs/packet.h"
#include "net_harness.h"

static gs_pool_stats_t stats_of(gs_pool_t *p) {
    gs_pool_stats_t st;
    gs_pool_stats(p, &st);
    return st;
}

enum { K = 16 };

typedef struct wait_pool {
    gs_pool_t *pool;
    uint64_t in_use;
} wait_pool_t;

static int pool_back_to(void *arg) {
    wait_pool_t *w = arg;
    return stats_of(w->pool).in_use == w->in_use;
}

static void test_broadcast_one_alloc_no_copy(void **state) {
    (void)state;
    gs_pool_t *pool = gs_pool_create(NULL);
    th_server_t srv = {0};
    th_server_start(&srv, NULL, TH_SINK, 0);
    int fds[K];
    gs_session_id_t ids[K];
    for (int i = 0; i < K; i++) {
        fds[i] = th_connect(srv.port);
        ids[i] = th_server_session(&srv, (unsigned)i);
    }

    uint8_t body[3000];
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (uint8_t)(i * 31 + 7);
    gs_pool_stats_t before = stats_of(pool);
    gs_packet_t *p = gs_packet_frame(pool, 0xBEEF, body, sizeof(body));
    for (int i = 0; i < K; i++) {
        /* Every send gets the same descriptor; net sends from buf->data, never a copy. */
        assert_int_equal(gs_session_send(srv.net, ids[i], &p->buf), 0);
    }
    /* Each queued send holds its own reference until its bytes have left. */
    assert_true(atomic_load(&p->buf.refs) >= 1);
    assert_true(atomic_load(&p->buf.refs) <= K + 1);
    gs_packet_unref(p);

    uint8_t got[sizeof(body)];
    for (int i = 0; i < K; i++) {
        uint32_t msg_id = 0;
        assert_int_equal(th_read_frame(fds[i], &msg_id, got, sizeof(got), 5000), sizeof(body));
        assert_int_equal(msg_id, 0xBEEF);
        assert_memory_equal(got, body, sizeof(body));
    }
    /* The clients can read the bytes before the server has handled the last send's completion,
     * which is what drops the last reference: wait for the block to come back. */
    wait_pool_t w = {pool, before.in_use};
    assert_true(th_wait_until(pool_back_to, &w, 5000));
    /* One block for K sessions: no copy was made anywhere. */
    gs_pool_stats_t after = stats_of(pool);
    assert_int_equal(after.allocs - before.allocs, 1);
    assert_int_equal(after.fallbacks, before.fallbacks);

    for (int i = 0; i < K; i++)
        th_close(fds[i]);
    th_server_stop(&srv, 0);
    gs_pool_destroy(pool);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broadcast_one_alloc_no_copy),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

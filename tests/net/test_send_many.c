/* SPDX-License-Identifier: MIT */
/* gs_session_send_many over real sockets: every live target gets the bytes exactly once, stale
 * targets are skipped and counted out, the buffer is released once after the last send, the
 * node block is freed (LSan in the asan build) and the queue gauges return to 0; several threads
 * broadcasting to the same sessions keep each thread's order. Also the queue's memory charges
 * (gs_buf_t: a buffer counts with its charge, plus a link when its own is busy) against the hard
 * limit, and one buffer's embedded queue link handed between threads sending it at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gs_test.h"

#include "gs/base.h"
#include "net_harness.h"
#include "th_os.h"

#define CLIENTS 8

typedef struct {
    gs_buf_t buf;
    _Atomic int released;
    uint8_t bytes[GS_FRAME_HEADER_SIZE + 8];
} counted_buf_t;

static void counted_release(gs_buf_t *b) {
    counted_buf_t *c = gs_container_of(b, counted_buf_t, buf);
    atomic_fetch_add(&c->released, 1);
}

/* A frame with msg_id and an 8-byte body (thread, sequence); one reference held here. */
static void counted_init(counted_buf_t *c, uint32_t msg_id, uint32_t thread, uint32_t seq) {
    gs_frame_header_write(c->bytes, 8, msg_id);
    memcpy(c->bytes + GS_FRAME_HEADER_SIZE, &thread, 4);
    memcpy(c->bytes + GS_FRAME_HEADER_SIZE + 4, &seq, 4);
    atomic_init(&c->released, 0);
    gs_buf_init(&c->buf, c->bytes, sizeof(c->bytes), counted_release);
}

typedef struct {
    th_server_t srv;
    int fds[CLIENTS];
    gs_session_id_t ids[CLIENTS];
} fixture_t;

static void fixture_start_cfg(fixture_t *f, const gs_net_config_t *cfg) {
    memset(f, 0, sizeof(*f));
    th_server_start(&f->srv, cfg, TH_SINK, 0);
    for (unsigned i = 0; i < CLIENTS; i++) {
        f->fds[i] = th_connect(f->srv.port);
        f->ids[i] = th_server_session(&f->srv, i);
    }
}

static void fixture_start(fixture_t *f) { fixture_start_cfg(f, NULL); }

static void fixture_stop(fixture_t *f) {
    for (unsigned i = 0; i < CLIENTS; i++)
        if (f->fds[i] >= 0)
            th_os_close(f->fds[i]);
    assert_int_equal(th_server_stop(&f->srv, 1000), 0);
}

static int queues_empty(void *arg) {
    gs_net_stats_t st = th_stats(arg);
    return st.bufs_queued == 0 && st.bytes_queued == 0;
}

static void expect_frame(int fd, uint32_t msg_id, uint32_t thread, uint32_t seq) {
    uint32_t id = 0, body[2] = {UINT32_MAX, UINT32_MAX};
    assert_int_equal(th_read_frame(fd, &id, body, sizeof(body), 10000), 8);
    assert_int_equal(id, msg_id);
    assert_int_equal(body[0], thread);
    assert_int_equal(body[1], seq);
}

static void test_live_and_stale_targets(void **state) {
    (void)state;
    fixture_t f;
    fixture_start(&f);
    /* Client 3 leaves: its id is stale once its session is gone. */
    gs_session_id_t gone = f.ids[3];
    th_os_close(f.fds[3]);
    f.fds[3] = -1;
    assert_true(th_wait_count(&f.srv.closed, 1, 5000)); /* on_close runs once the id is stale */
    uint64_t queued;
    assert_int_equal(gs_session_queued_bytes(f.srv.net, gone, &queued), GS_ESTALE);

    static counted_buf_t c;
    counted_init(&c, 77, 0, 1);
    size_t sent = 99;
    assert_int_equal(gs_session_send_many(f.srv.net, f.ids, CLIENTS, &c.buf, &sent), 0);
    assert_int_equal(sent, CLIENTS - 1);
    for (unsigned i = 0; i < CLIENTS; i++)
        if (f.fds[i] >= 0)
            expect_frame(f.fds[i], 77, 0, 1);
    assert_true(th_wait_until(queues_empty, &f.srv, 5000));
    /* Every send's reference is back: ours is the last. */
    assert_int_equal(atomic_load(&c.released), 0);
    assert_int_equal(atomic_load(&c.buf.refs), 1);
    gs_buf_unref(&c.buf);
    assert_int_equal(atomic_load(&c.released), 1);
    fixture_stop(&f);
}

static void test_all_stale_and_empty(void **state) {
    (void)state;
    fixture_t f;
    fixture_start(&f);
    static counted_buf_t c;
    counted_init(&c, 5, 0, 0);
    gs_session_id_t stale[3] = {GS_SESSION_NONE, f.ids[0] ^ ((uint64_t)1 << 40), 12345};
    size_t sent = 99;
    assert_int_equal(gs_session_send_many(f.srv.net, stale, 3, &c.buf, &sent), 0);
    assert_int_equal(sent, 0);
    assert_int_equal(atomic_load(&c.buf.refs), 1);
    assert_true(queues_empty(&f.srv));
    assert_int_equal(gs_session_send_many(f.srv.net, f.ids, 0, &c.buf, &sent), 0);
    assert_int_equal(sent, 0);
    gs_buf_unref(&c.buf);
    assert_int_equal(atomic_load(&c.released), 1);
    fixture_stop(&f);
}

#define THREADS 4
#define ROUNDS  500

typedef struct {
    fixture_t *f;
    uint32_t thread;
    counted_buf_t bufs[ROUNDS];
} sender_t;

static void sender_main(void *arg) {
    sender_t *s = arg;
    for (uint32_t r = 0; r < ROUNDS; r++) {
        counted_init(&s->bufs[r], 9, s->thread, r);
        size_t sent = 0;
        int rc = gs_session_send_many(s->f->srv.net, s->f->ids, CLIENTS, &s->bufs[r].buf, &sent);
        if (rc != 0 || sent != CLIENTS)
            atomic_fetch_add(&s->f->srv.send_errors, 1);
        gs_buf_unref(&s->bufs[r].buf);
    }
}

/* THREADS threads broadcast ROUNDS frames each to every client at once: each client reads
 * THREADS × ROUNDS frames, each thread's in its order, and every buffer is released once. */
static void test_threads_keep_order(void **state) {
    (void)state;
    fixture_t f;
    fixture_start(&f);
    static sender_t senders[THREADS];
    gs_thread_t *threads[THREADS];
    for (uint32_t t = 0; t < THREADS; t++) {
        senders[t].f = &f;
        senders[t].thread = t;
        assert_int_equal(gs_thread_start(&threads[t], sender_main, &senders[t], "sender"), 0);
    }
    for (unsigned i = 0; i < CLIENTS; i++) {
        uint32_t next[THREADS] = {0};
        for (unsigned k = 0; k < THREADS * ROUNDS; k++) {
            uint32_t id = 0, body[2] = {UINT32_MAX, UINT32_MAX};
            assert_int_equal(th_read_frame(f.fds[i], &id, body, sizeof(body), 10000), 8);
            assert_int_equal(id, 9);
            assert_true(body[0] < THREADS);
            assert_int_equal(body[1], next[body[0]]);
            next[body[0]]++;
        }
    }
    for (uint32_t t = 0; t < THREADS; t++)
        gs_thread_join(threads[t]);
    assert_int_equal(atomic_load(&f.srv.send_errors), 0);
    assert_true(th_wait_until(queues_empty, &f.srv, 5000));
    for (uint32_t t = 0; t < THREADS; t++)
        for (uint32_t r = 0; r < ROUNDS; r++)
            assert_int_equal(atomic_load(&senders[t].bufs[r].released), 1);
    fixture_stop(&f);
}

static uint64_t queued(fixture_t *f, unsigned i) {
    uint64_t q = UINT64_MAX;
    assert_int_equal(gs_session_queued_bytes(f->srv.net, f->ids[i], &q), 0);
    return q;
}

/* Sends wait out a 60 s send delay, so nothing leaves before the stop and every queue holds
 * exactly what was charged to it: the buffer's charge (4096 here for 16 wire bytes, as a pooled
 * block would) for the first queue, which uses the buffer's own link; the charge plus an
 * allocated link for a queue that found the link busy, and for a broadcast's. The hard limit
 * counts the same charges. */
static void test_queue_charges(void **state) {
    (void)state;
    const uint64_t C = 4096, L = sizeof(gs__buf_qlink_t);
    gs_net_config_t cfg = {0};
    cfg.send_delay_ms = 60000;
    cfg.send_hard_limit = (uint32_t)(3 * C + L + 100);
    cfg.send_soft_limit = UINT32_MAX;
    fixture_t f;
    fixture_start_cfg(&f, &cfg);
    static counted_buf_t c;
    counted_init(&c, 11, 0, 0);
    c.buf.charge = (uint32_t)C;

    assert_int_equal(gs_session_send(f.srv.net, f.ids[0], &c.buf), 0);
    assert_int_equal(queued(&f, 0), C);
    assert_int_equal(gs_session_send(f.srv.net, f.ids[0], &c.buf), 0); /* own link is busy */
    assert_int_equal(queued(&f, 0), 2 * C + L);
    assert_int_equal(gs_session_send(f.srv.net, f.ids[1], &c.buf), 0);
    assert_int_equal(queued(&f, 1), C + L);
    size_t sent = 0;
    assert_int_equal(gs_session_send_many(f.srv.net, &f.ids[2], 1, &c.buf, &sent), 0);
    assert_int_equal(sent, 1);
    assert_int_equal(queued(&f, 2), C + L);
    gs_net_stats_t st = th_stats(&f.srv);
    assert_int_equal(st.bufs_queued, 4);
    assert_int_equal(st.bytes_queued, 4 * C + 3 * L);

    /* Session 0: the third copy fits (3C + L + its link), the fourth passes the limit. */
    assert_int_equal(gs_session_send(f.srv.net, f.ids[0], &c.buf), 0);
    assert_int_equal(queued(&f, 0), 3 * C + 2 * L);
    assert_int_equal(gs_session_send(f.srv.net, f.ids[0], &c.buf), GS_ESENDQ);
    assert_int_equal(atomic_load(&c.buf.refs), 1 + 3 + 1 + 1); /* ours + queued copies */
    /* The stop flushes what waited for the delay; the cut session, released only now (the
     * flush list held it), drops its three copies, and they count as unsent. */
    for (unsigned i = 0; i < CLIENTS; i++)
        th_os_close(f.fds[i]);
    assert_int_equal(th_server_stop(&f.srv, 1000), 3);
    assert_int_equal(atomic_load(&c.released), 0);
    assert_int_equal(atomic_load(&c.buf.refs), 1);
    assert_int_equal(atomic_load(&c.buf.qlink_busy), 0);
    gs_buf_unref(&c.buf);
    assert_int_equal(atomic_load(&c.released), 1);
}

#define LINK_ROUNDS 2000

typedef struct {
    fixture_t *f;
    counted_buf_t *bufs;
    uint32_t thread;
} link_sender_t;

static void link_sender_main(void *arg) {
    link_sender_t *s = arg;
    for (uint32_t r = 0; r < LINK_ROUNDS; r++)
        if (gs_session_send(s->f->srv.net, s->f->ids[s->thread], &s->bufs[r].buf) != 0)
            atomic_fetch_add(&s->f->srv.send_errors, 1);
}

/* THREADS threads send the same LINK_ROUNDS buffers, in order, each to its own client, so the
 * threads race for each buffer's embedded link (and whoever loses allocates one): every client
 * reads every frame once, in order, and every buffer is released once, after our reference. */
static void test_shared_link_threads(void **state) {
    (void)state;
    fixture_t f;
    fixture_start(&f);
    static counted_buf_t bufs[LINK_ROUNDS];
    for (uint32_t r = 0; r < LINK_ROUNDS; r++)
        counted_init(&bufs[r], 13, 0, r);
    static link_sender_t senders[THREADS];
    gs_thread_t *threads[THREADS];
    for (uint32_t t = 0; t < THREADS; t++) {
        senders[t] = (link_sender_t){&f, bufs, t};
        assert_int_equal(gs_thread_start(&threads[t], link_sender_main, &senders[t], "sender"), 0);
    }
    for (unsigned i = 0; i < THREADS; i++)
        for (uint32_t r = 0; r < LINK_ROUNDS; r++)
            expect_frame(f.fds[i], 13, 0, r);
    for (uint32_t t = 0; t < THREADS; t++)
        gs_thread_join(threads[t]);
    assert_int_equal(atomic_load(&f.srv.send_errors), 0);
    assert_true(th_wait_until(queues_empty, &f.srv, 5000));
    for (uint32_t r = 0; r < LINK_ROUNDS; r++) {
        assert_int_equal(atomic_load(&bufs[r].buf.qlink_busy), 0);
        assert_int_equal(atomic_load(&bufs[r].released), 0);
        gs_buf_unref(&bufs[r].buf);
        assert_int_equal(atomic_load(&bufs[r].released), 1);
    }
    fixture_stop(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_and_stale_targets), cmocka_unit_test(test_all_stale_and_empty),
        cmocka_unit_test(test_threads_keep_order),     cmocka_unit_test(test_queue_charges),
        cmocka_unit_test(test_shared_link_threads),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

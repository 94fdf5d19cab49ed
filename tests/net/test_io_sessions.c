/* SPDX-License-Identifier: MIT */
/* Session-level sending and ids over real sockets:
 * - gathered sends: a handler queues 3 x gather_max buffers at once; they leave in order in
 *   few sends, each carrying up to gather_max buffers;
 * - cross-thread sends: 4 user threads send 2000 frames each to one session; every frame
 *   arrives once, per-thread order kept;
 * - C03 stale id after slot reuse: with one slot, each new client gets the previous client's
 *   slot under a new id; sending to the old id fails with GS_ESTALE and zero bytes reach the
 *   new occupant (2000 churn cycles);
 * - session table full: with max_sessions 1 a second connection is refused (accept_refused,
 *   the client sees EOF) and the first keeps working. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_test.h"

#include "test_io_common.h"

#define WAIT_MS 10000

/* ---- gathered sends ----------------------------------------------------------------------- */

#define GATHER_MAX  8
#define GATHER_BUFS (3 * GATHER_MAX)
#define MSG_BURST   1u

static void burst_handler(th_server_t *srv, gs_session_id_t id, uint32_t msg_id,
                          const uint8_t *body, uint32_t len) {
    (void)body;
    (void)len;
    if (msg_id != MSG_BURST) {
        atomic_fetch_add(&srv->send_errors, 1);
        return;
    }
    for (uint32_t i = 0; i < GATHER_BUFS; i++) {
        uint8_t b[16];
        tio_put32(b, i);
        memset(b + 4, (int)('a' + i), sizeof(b) - 4);
        gs_buf_t *buf = gs_buf_frame(300 + i, b, 4 + i % 12);
        if (!buf || gs_session_send(srv->net, id, buf) != 0)
            atomic_fetch_add(&srv->send_errors, 1);
        if (buf)
            gs_buf_unref(buf);
    }
}

static void gather_in_order(void **state) {
    (void)state;
    th_server_t srv = {0};
    srv.on_frame = burst_handler;
    gs_net_config_t cfg = {.gather_max = GATHER_MAX};
    th_server_start(&srv, &cfg, TH_CUSTOM, 0);
    int fd = th_connect(srv.port);
    th_write_frame(fd, MSG_BURST, "go", 2);
    for (uint32_t i = 0; i < GATHER_BUFS; i++) {
        uint8_t b[16];
        uint32_t mid = 0;
        long got = th_read_frame(fd, &mid, b, sizeof(b), WAIT_MS);
        assert_int_equal(got, 4 + i % 12);
        assert_int_equal(mid, 300 + i);
        assert_int_equal(tio_get32(b), i);
        for (long k = 4; k < got; k++)
            assert_int_equal(b[k], 'a' + i);
    }
    assert_true(th_wait_frames_out(&srv, GATHER_BUFS, WAIT_MS));
    gs_net_stats_t st = th_stats(&srv);
    printf("gather: %d buffers in %llu sends (%llu gathered)\n", GATHER_BUFS,
           (unsigned long long)st.sends, (unsigned long long)st.gathers);
    assert_int_equal(atomic_load(&srv.send_errors), 0);
    assert_int_equal(st.frames_out, GATHER_BUFS);
    assert_true(st.gathers > 0);
    assert_true(st.sends < GATHER_BUFS);
    /* No send carries more than gather_max buffers, so at least 3 were needed. */
    assert_true(st.sends >= GATHER_BUFS / GATHER_MAX);
    th_close(fd);
    th_server_stop(&srv, 1000);
}

/* ---- cross-thread sends ------------------------------------------------------------------- */

#define XT_THREADS 4
#define XT_FRAMES  2000
#define MSG_END    999u

typedef struct {
    gs_net_t *net;
    gs_session_id_t id;
    uint32_t tid;
    uint32_t errors;
} xt_sender_t;

static void xt_main(void *arg) {
    xt_sender_t *s = arg;
    for (uint32_t seq = 0; seq < XT_FRAMES; seq++) {
        uint8_t body[8];
        tio_put32(body, s->tid);
        tio_put32(body + 4, seq);
        gs_buf_t *b = gs_buf_frame(200 + s->tid, body, sizeof(body));
        if (!b) {
            s->errors++;
            continue;
        }
        if (gs_session_send(s->net, s->id, b) != 0)
            s->errors++;
        gs_buf_unref(b); /* ours; the session holds its own while queued */
    }
}

static void cross_thread_sends(void **state) {
    (void)state;
    th_server_t srv = {0};
    th_server_start(&srv, NULL, TH_SINK, 0);
    int fd = th_connect(srv.port);
    gs_session_id_t id = tio_session_id(&srv, 0, WAIT_MS);
    assert_true(id != 0);
    xt_sender_t snd[XT_THREADS];
    gs_thread_t *th[XT_THREADS];
    for (uint32_t t = 0; t < XT_THREADS; t++) {
        snd[t] = (xt_sender_t){.net = srv.net, .id = id, .tid = t};
        assert_int_equal(gs_thread_start(&th[t], xt_main, &snd[t], "xt-sender"), 0);
    }
    /* Read while they send. */
    uint32_t next[XT_THREADS] = {0};
    for (uint32_t n = 0; n < XT_THREADS * XT_FRAMES; n++) {
        uint8_t b[8];
        uint32_t mid = 0;
        long got = th_read_frame(fd, &mid, b, sizeof(b), WAIT_MS);
        assert_int_equal(got, 8);
        uint32_t tid = tio_get32(b), seq = tio_get32(b + 4);
        assert_true(tid < XT_THREADS);
        assert_int_equal(mid, 200 + tid);
        assert_int_equal(seq, next[tid]); /* per-thread order, no loss, no duplicate */
        next[tid]++;
    }
    for (uint32_t t = 0; t < XT_THREADS; t++) {
        gs_thread_join(th[t]);
        assert_int_equal(snd[t].errors, 0);
        assert_int_equal(next[t], XT_FRAMES);
    }
    /* Nothing extra: the next frame after all of them is the end marker. */
    gs_buf_t *end = gs_buf_frame(MSG_END, "end", 3);
    assert_int_equal(gs_session_send(srv.net, id, end), 0);
    gs_buf_unref(end);
    uint8_t b[8];
    uint32_t mid = 0;
    assert_int_equal(th_read_frame(fd, &mid, b, sizeof(b), WAIT_MS), 3);
    assert_int_equal(mid, MSG_END);
    assert_true(th_wait_frames_out(&srv, XT_THREADS * XT_FRAMES + 1, WAIT_MS));
    gs_net_stats_t st = th_stats(&srv);
    assert_int_equal(st.frames_out, XT_THREADS * XT_FRAMES + 1);
    assert_int_equal(st.bufs_queued, 0);
    assert_int_equal(st.bytes_queued, 0);
    uint64_t q = 1;
    assert_int_equal(gs_session_queued_bytes(srv.net, id, &q), 0);
    assert_int_equal(q, 0);
    th_close(fd);
    th_server_stop(&srv, 1000);
}

static void echo_on(int fd, uint32_t tag) {
    uint8_t body[4], back[8];
    tio_put32(body, tag);
    th_write_frame(fd, 5, body, 4);
    uint32_t mid = 0;
    assert_int_equal(th_read_frame(fd, &mid, back, sizeof(back), WAIT_MS), 4);
    assert_int_equal(mid, 5);
    assert_int_equal(tio_get32(back), tag);
}

/* ---- C03 stale id after slot reuse -------------------------------------------------------- */

/* 5000 in CI (about 0.5 s); docs/testing.md C03's 100 000 with GS_IO_CHURN_CYCLES=100000
 * (about 10 s). */
#define C03_CYCLES_DEFAULT 5000
#define MSG_STALE          66u
#define MSG_MARKER         77u

static void c03_stale_id_after_slot_reuse(void **state) {
    (void)state;
    const char *env = getenv("GS_IO_CHURN_CYCLES");
    const uint64_t cycles = env && atoll(env) > 0 ? (uint64_t)atoll(env) : C03_CYCLES_DEFAULT;
    th_server_t srv = {0};
    gs_net_config_t cfg = {.max_sessions = 1};
    th_server_start(&srv, &cfg, TH_ECHO, 0);
    int fd_old = th_connect(srv.port);
    assert_true(tio_wait_count(&srv.opened, 1, WAIT_MS));
    gs_session_id_t id_old = tio_wait_new_last_id(&srv, 0, WAIT_MS);
    assert_true(id_old != 0);
    echo_on(fd_old, 0);
    uint64_t t0 = gs_now_ms();
    uint64_t stale_rc_bad = 0;
    for (uint64_t c = 1; c <= cycles; c++) {
        th_close(fd_old);
        assert_true(tio_wait_count(&srv.closed, c, WAIT_MS));
        int fd_new = th_connect(srv.port);
        assert_true(tio_wait_count(&srv.opened, c + 1, WAIT_MS));
        /* A new session under the old id would time out here. */
        gs_session_id_t id_new = tio_wait_new_last_id(&srv, id_old, WAIT_MS);
        assert_true(id_new != 0);
        assert_true(id_new != id_old);
        assert_int_equal(gs_session_slot(id_new), gs_session_slot(id_old));

        /* The old id names the slot's previous occupant: every call must refuse it. */
        gs_buf_t *stale = gs_buf_frame(MSG_STALE, "stale!", 6);
        int rc = gs_session_send(srv.net, id_old, stale);
        if (rc != GS_ESTALE)
            stale_rc_bad++;
        assert_int_equal(rc, GS_ESTALE);
        assert_int_equal(atomic_load(&stale->refs), 1); /* the reference taken was released */
        gs_buf_unref(stale);
        assert_int_equal(gs_session_disconnect(srv.net, id_old), GS_ESTALE);
        assert_int_equal(gs_session_set_user(srv.net, id_old, NULL), GS_ESTALE);
        uint64_t q;
        assert_int_equal(gs_session_queued_bytes(srv.net, id_old, &q), GS_ESTALE);

        /* The marker sent with the new id must be the very first bytes the new client sees. */
        uint8_t body[8], back[16];
        tio_put32(body, (uint32_t)id_new);
        tio_put32(body + 4, (uint32_t)(id_new >> 32));
        gs_buf_t *marker = gs_buf_frame(MSG_MARKER, body, sizeof(body));
        assert_int_equal(gs_session_send(srv.net, id_new, marker), 0);
        gs_buf_unref(marker);
        uint32_t mid = 0;
        assert_int_equal(th_read_frame(fd_new, &mid, back, sizeof(back), WAIT_MS), 8);
        assert_int_equal(mid, MSG_MARKER);
        assert_memory_equal(back, body, 8);

        fd_old = fd_new;
        id_old = id_new;
    }
    uint64_t elapsed = gs_now_ms() - t0;
    th_close(fd_old);
    assert_true(tio_wait_count(&srv.closed, cycles + 1, WAIT_MS));
    gs_net_stats_t st = th_stats(&srv);
    printf("c03: %llu churn cycles in %llu ms, stale sends refused %llu/%llu\n",
           (unsigned long long)cycles, (unsigned long long)elapsed,
           (unsigned long long)(cycles - stale_rc_bad), (unsigned long long)cycles);
    assert_int_equal(st.sessions_total, cycles + 1);
    assert_int_equal(st.accepts, cycles + 1);
    assert_int_equal(st.accept_refused, 0);
    assert_int_equal(st.frames_out, cycles + 1); /* the first echo and the markers */
    assert_int_equal(atomic_load(&srv.close_reasons[GS_CLOSE_PEER_CLOSE]), cycles + 1);
    th_server_stop(&srv, 1000);
}

/* ---- session table full ------------------------------------------------------------------- */

static int refused_at_least(void *arg) {
    th_server_t *srv = arg;
    return th_stats(srv).accept_refused >= 1;
}

static void max_sessions_refuses_second(void **state) {
    (void)state;
    th_server_t srv = {0};
    gs_net_config_t cfg = {.max_sessions = 1};
    th_server_start(&srv, &cfg, TH_ECHO, 0);
    int a = th_connect(srv.port);
    echo_on(a, 1);
    int b = th_connect(srv.port); /* the kernel completes the handshake; the server refuses */
    assert_int_equal(th_wait_eof(b, WAIT_MS), 0);
    assert_true(th_wait_until(refused_at_least, &srv, WAIT_MS));
    th_close(b);
    echo_on(a, 2); /* the first session is untouched */
    gs_net_stats_t st = th_stats(&srv);
    assert_int_equal(st.accept_refused, 1);
    assert_int_equal(st.accepts, 1);
    assert_int_equal(st.sessions_open, 1);
    assert_int_equal(atomic_load(&srv.opened), 1);
    assert_int_equal(atomic_load(&srv.closed), 0);
    /* Once the slot is free, a new client gets it. */
    th_close(a);
    assert_true(th_wait_count(&srv.closed, 1, WAIT_MS));
    int c = th_connect(srv.port);
    echo_on(c, 3);
    assert_int_equal(th_stats(&srv).accept_refused, 1);
    th_close(c);
    th_server_stop(&srv, 1000);
}

/* Issue 11, item 2: a second server on a port that a running one holds (both with two IO
 * threads, where each used to bind a socket of its own with SO_REUSEPORT) is refused with
 * GS_EADDRINUSE after its bounded retry, and the first one keeps serving every client. Two
 * instances in one process behave as two processes here: the kernel's reuse check is per user. */
static void second_server_refused(void **state) {
    (void)state;
    th_server_t srv = {0};
    gs_net_config_t cfg = {.io_threads = 2};
    th_server_start(&srv, &cfg, TH_ECHO, 0);
    gs_net_t *other;
    assert_int_equal(gs_net_create(&other, &cfg), 0);
    gs_listen_config_t lc = {.host = "127.0.0.1", .port = srv.port};
    uint64_t t0 = gs_now_ms();
    assert_int_equal(gs_net_listen(other, &lc), GS_EADDRINUSE);
    assert_true(gs_now_ms() - t0 >= 400); /* it retried before giving up */
    gs_net_destroy(other);
    /* Every connection still reaches the first server, whichever of its IO threads takes it. */
    for (uint32_t i = 0; i < 20; i++) {
        int fd = th_connect(srv.port);
        echo_on(fd, 10 + i);
        th_close(fd);
    }
    assert_int_equal(th_stats(&srv).accepts, 20);
    th_server_stop(&srv, 1000);
}

int main(void) {
    gs_log_set_level(GS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gather_in_order),
        cmocka_unit_test(cross_thread_sends),
        cmocka_unit_test(c03_stale_id_after_slot_reuse),
        cmocka_unit_test(max_sessions_refuses_second),
        cmocka_unit_test(second_server_refused),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

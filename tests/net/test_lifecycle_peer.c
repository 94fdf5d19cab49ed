/* SPDX-License-Identifier: MIT */
/* What the peer does to a session (docs/testing.md B10, B11, C09).
 *
 * B10: the client resets (SO_LINGER {1,0}) while the server has MBs queued to it: the session
 * closes once with reason reset (or peer_close), no SIGPIPE kills the process, every queued
 * buffer is released once, bufs_queued and io_in_flight return to their baseline.
 * B11: the client sends 100 frames and shuts down its write side: all 100 replies arrive, in
 * order and intact, then the end of the stream; reason peer_close. Once with small frames and
 * once with replies large enough to still be queued in the server when the end arrives.
 * C09: gs_session_disconnect on an idle session whose receive is pending in the ring (from the
 * test thread and from a handler): on_close within 1 s, the client sees an orderly end, and the
 * receive's operation completes (io_in_flight back to baseline). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_test.h"

#include "test_lifecycle_common.h"
#include "th_os.h"

#define KIB 1024u
#define MIB (1024u * 1024u)

/* An idle instance with one IO thread and one listener (th_os.h says what the backend posts). */
#define BASE_IN_FLIGHT th_os_idle_in_flight(1, 1)

/* ---- B10 ------------------------------------------------------------------------------------ */

typedef struct {
    uint32_t frames, body;
    _Atomic uint64_t queued_sessions;
    _Atomic int send_failed;
} flood_t;

/* On the client's first frame, queue frames * body bytes to it. */
static void flood_on_frame(lc_server_t *srv, gs_session_id_t id, void *su, uint32_t msg_id,
                           const uint8_t *body, uint32_t len) {
    (void)su;
    (void)msg_id;
    (void)body;
    (void)len;
    flood_t *f = srv->user;
    for (uint32_t i = 0; i < f->frames; i++) {
        gs_buf_t *b = lc_buf(3, f->body, i);
        if (!b || gs_session_send(srv->net, id, b) != 0)
            atomic_store(&f->send_failed, 1);
        if (b)
            gs_buf_unref(b);
    }
    atomic_fetch_add(&f->queued_sessions, 1);
}

typedef struct {
    lc_server_t *srv;
    gs_session_id_t id;
    uint64_t min;
} qmin_t;

static int queue_at_least(void *arg) {
    qmin_t *a = arg;
    uint64_t q = 0;
    return gs_session_queued_bytes(a->srv->net, a->id, &q) == 0 && q >= a->min;
}

static int bufs_queued_zero(void *arg) { return lc_stats(arg).bufs_queued == 0; }

static void b10_rst_during_send(void **state) {
    (void)state;
    flood_t f = {.frames = 128, .body = 64 * KIB - GS_FRAME_HEADER_SIZE}; /* 8 MiB per client */
    gs_net_config_t cfg = {0};
    cfg.send_hard_limit = 64 * MIB;
    cfg.send_soft_limit = UINT32_MAX;
    lc_server_t *srv = lc_server_create(&cfg, TH_CUSTOM);
    srv->user = &f;
    srv->on_frame = flood_on_frame;
    lc_server_begin(srv);
    const int rounds = 6;
    for (int i = 0; i < rounds; i++) {
        int fd = lc_connect(srv->port, 4096);
        gs_session_id_t id = lc_session(srv, (uint64_t)i);
        th_write_frame(fd, 1, "go", 2);
        /* MBs still queued in the server (the kernel takes a few MB at most). */
        qmin_t qa = {srv, id, 2 * MIB};
        assert_true(th_wait_until(queue_at_least, &qa, LC_WAIT_MS));
        if (i % 2 == 1) {
            /* Also with part of the stream read: a send is mid-way when the reset comes. */
            uint8_t buf[32 * KIB];
            assert_int_equal(th_read_exact(fd, buf, sizeof(buf), 1000), 0);
        }
        uint64_t t0 = gs_now_ns();
        lc_close_rst(fd);
        assert_true(lc_wait_closed(srv, (uint64_t)i + 1, 2000));
        lc_rec_t *r = lc_find(srv, id);
        assert_non_null(r);
        uint32_t reason = atomic_load(&r->reason);
        if (reason != GS_CLOSE_RESET && reason != GS_CLOSE_PEER_CLOSE)
            fail_msg("round %d: closed with %s", i, gs_close_reason_name(reason));
        if (i == 0)
            print_message("B10: reset seen as %s, on_close %.2f ms after the reset\n",
                          gs_close_reason_name(reason), lc_ms(t0, atomic_load(&r->close_ns)));
        assert_true(th_wait_until(bufs_queued_zero, srv, LC_WAIT_MS));
        assert_true(lc_wait_bufs_released(LC_WAIT_MS));
        assert_true(lc_wait_in_flight(srv, BASE_IN_FLIGHT, LC_WAIT_MS));
        assert_int_equal(lc_stats(srv).sessions_open, 0);
    }
    assert_int_equal(atomic_load(&f.send_failed), 0);
    assert_int_equal(atomic_load(&f.queued_sessions), rounds);
    assert_int_equal(atomic_load(&srv->opened), rounds);
    assert_int_equal(atomic_load(&srv->closed), rounds);
    assert_int_equal(lc_bufs_double_released(), 0);
    lc_assert_no_violation(srv);
    assert_int_equal(lc_server_stop(srv, 0), 0);
    lc_server_free(srv);
}

/* ---- B11 ------------------------------------------------------------------------------------ */

static void half_close_case(uint32_t body_len, int rcvbuf, uint32_t hard_limit) {
    gs_net_config_t cfg = {0};
    cfg.send_hard_limit = hard_limit;
    cfg.send_soft_limit = UINT32_MAX;
    lc_server_t *srv = lc_server_start(&cfg, TH_ECHO);
    int fd = lc_connect(srv->port, rcvbuf);
    gs_session_id_t id = lc_session(srv, 0);

    const uint32_t n = 100;
    uint8_t *body = malloc(body_len);
    assert_non_null(body);
    for (uint32_t i = 0; i < n; i++) {
        lc_fill(body, body_len, i);
        th_write_frame(fd, 21, body, body_len);
    }
    free(body);
    assert_int_equal(th_shutdown_wr(fd), 0);
    /* The server has read every frame; with large replies some are still queued to us. */
    assert_true(th_wait_count(&srv->frames, n, LC_WAIT_MS));
    uint64_t q = 0;
    int qrc = gs_session_queued_bytes(srv->net, id, &q);

    lc_stream_t st;
    lc_stream_init(&st, 0);
    int end = lc_read_stream(fd, &st, 0, 0, 0, LC_WAIT_MS);
    print_message("B11: %u frames of %u bytes; %llu bytes still queued in the server after the "
                  "client's shutdown; client read %llu frames then %s\n",
                  n, body_len, qrc == 0 ? (unsigned long long)q : 0ull,
                  (unsigned long long)st.frames, end == 0 ? "EOF" : "no EOF");
    assert_int_equal(end, 0); /* an orderly end, after all the data */
    assert_false(st.bad);
    assert_int_equal(st.frames, n);
    assert_true(lc_stream_aligned(&st));
    assert_int_equal(st.bytes, (uint64_t)n * (GS_FRAME_HEADER_SIZE + body_len));
    lc_stream_fini(&st);
    th_close(fd);

    assert_true(lc_wait_closed(srv, 1, LC_WAIT_MS));
    lc_rec_t *r = lc_find(srv, id);
    assert_non_null(r);
    assert_int_equal(atomic_load(&r->reason), GS_CLOSE_PEER_CLOSE);
    assert_int_equal(atomic_load(&r->frames), n);
    assert_int_equal(atomic_load(&srv->send_errors), 0);
    gs_net_stats_t s = lc_stats(srv);
    assert_int_equal(s.frames_out, n);
    assert_int_equal(s.disconnects[GS_CLOSE_PEER_CLOSE], 1);
    assert_int_equal(lc_server_stop(srv, 0), 0);
    lc_server_free(srv);
}

static void b11_half_close_small(void **state) {
    (void)state;
    half_close_case(64, 0, 0);
}

/* 100 replies of 60 KiB (6 MB) to a client that reads nothing until it has shut down: most of
 * them are still in the server's queue when the end of its stream arrives. */
static void b11_half_close_queued(void **state) {
    (void)state;
    half_close_case(60 * KIB, 4096, 32 * MIB);
}

/* ---- C09 ------------------------------------------------------------------------------------ */

#define MSG_CLOSE_ME 99u

static void close_me_on_frame(lc_server_t *srv, gs_session_id_t id, void *su, uint32_t msg_id,
                              const uint8_t *body, uint32_t len) {
    (void)su;
    (void)body;
    (void)len;
    if (msg_id == MSG_CLOSE_ME && gs_session_disconnect(srv->net, id) != 0)
        atomic_fetch_add(&srv->send_errors, 1);
}

static void c09_close_with_pending_recv(void **state) {
    (void)state;
    lc_server_t *srv = lc_server_create(NULL, TH_ECHO);
    srv->on_frame = close_me_on_frame;
    lc_server_begin(srv);
    const int rounds = 40;
    double worst = 0;
    for (int i = 0; i < rounds; i++) {
        int fd = lc_connect(srv->port, 0);
        gs_session_id_t id = lc_session(srv, (uint64_t)i);
        /* One round trip, then idle: the session's receive is armed and pending, its send
         * done: exactly one operation of the session in flight. */
        uint8_t got[16];
        uint32_t msg;
        th_write_frame(fd, 1, "ping", 4);
        assert_int_equal(th_read_frame(fd, &msg, got, sizeof(got), 1000), 4);
        assert_true(lc_wait_in_flight(srv, BASE_IN_FLIGHT + 1, LC_WAIT_MS));

        uint64_t t0 = gs_now_ns();
        if (i % 2 == 0)
            assert_int_equal(gs_session_disconnect(srv->net, id), 0); /* test thread */
        else
            th_write_frame(fd, MSG_CLOSE_ME, NULL, 0); /* the handler disconnects */
        assert_true(lc_wait_closed(srv, (uint64_t)i + 1, 1000));
        lc_rec_t *r = lc_find(srv, id);
        assert_non_null(r);
        assert_int_equal(atomic_load(&r->reason), GS_CLOSE_LOCAL);
        double ms = lc_ms(t0, atomic_load(&r->close_ns));
        if (ms > worst)
            worst = ms;
        assert_true(ms < 1000.0);
        /* The client sees an orderly end (the server read everything it was sent). */
        assert_int_equal(lc_drain_to_eof(fd, 1000, NULL), 0);
        th_close(fd);
        /* The pending receive completed: nothing of the session is left in the ring. */
        assert_true(lc_wait_in_flight(srv, BASE_IN_FLIGHT, 1000));
        assert_int_equal(gs_session_disconnect(srv->net, id), GS_ESTALE);
    }
    print_message("C09: %d disconnects of idle sessions, slowest on_close %.2f ms after the "
                  "call\n",
                  rounds, worst);
    assert_int_equal(atomic_load(&srv->send_errors), 0);
    assert_int_equal(lc_stats(srv).disconnects[GS_CLOSE_LOCAL], rounds);
    assert_int_equal(lc_server_stop(srv, 0), 0);
    lc_server_free(srv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(b10_rst_during_send),
        cmocka_unit_test(b11_half_close_small),
        cmocka_unit_test(b11_half_close_queued),
        cmocka_unit_test(c09_close_with_pending_recv),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

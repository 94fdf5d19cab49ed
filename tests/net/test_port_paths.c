/* SPDX-License-Identifier: MIT */
/* Backend-neutral integration tests over real sockets on 127.0.0.1, written only against the
 * harness (no platform header), so the same file runs on io_uring (Linux) and on IOCP (mingw
 * build under wine). They are the lifecycle paths every completion port must get right:
 * - echo with 200 connections over two IO threads (IOCP: accepted sockets handed between ports);
 * - C03 stale id after slot reuse: the old id fails, zero bytes reach the new occupant;
 * - B03 a client that never reads is cut at the hard limit, memory bounded;
 * - C01 disconnect with sends in flight: every buffer released once, nothing in flight after;
 * - C06 graceful stop flushes what is queued to a reading client;
 * - C08 cancel racing completion: disconnects at random points of a busy echo stream;
 * - an accept burst of 500 connects from 4 threads, every session served.
 * After each, th_server_stop asserts io_in_flight == 0, no session open, no buffer queued. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_test.h"

#include "net_harness.h"

#define WAIT_MS 10000u

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Every IO operation of the backend got exactly one completion (IOCP counts them; io_uring
 * leaves these counters at 0, and io_in_flight == 0 in th_server_stop covers it there). */
static void assert_one_completion_per_op(const gs_net_stats_t *st) {
    assert_int_equal(st->io_posted, st->io_completed + st->io_eof + st->io_failed);
    assert_int_equal(st->port_errors, 0);
}

static gs_net_stats_t stop_and_check(th_server_t *srv, uint32_t flush_ms, uint64_t *unsent) {
    uint64_t u = gs_net_stop(srv->net, flush_ms);
    gs_net_stats_t st = th_stats(srv);
    assert_one_completion_per_op(&st);
    uint64_t u2 = th_server_stop(srv, flush_ms); /* already stopped: asserts and destroys */
    assert_int_equal(u, u2);
    if (unsent)
        *unsent = u;
    return st;
}

/* ---- echo with 200 connections ------------------------------------------------------------ */

#define ECHO_CLIENTS 200
#define ECHO_ROUNDS  10

static void echo_200_connections(void **state) {
    (void)state;
    th_server_t srv = {0};
    gs_net_config_t cfg = {.io_threads = 2};
    th_server_start(&srv, &cfg, TH_ECHO, 0);
    static int fds[ECHO_CLIENTS];
    for (int i = 0; i < ECHO_CLIENTS; i++)
        fds[i] = th_connect(srv.port);
    assert_true(th_wait_count(&srv.opened, ECHO_CLIENTS, WAIT_MS));
    uint8_t body[64], back[64];
    for (uint32_t r = 0; r < ECHO_ROUNDS; r++) {
        for (int i = 0; i < ECHO_CLIENTS; i++) {
            uint32_t len = 8 + (uint32_t)((i * 7 + r * 13) % 56);
            put32(body, (uint32_t)i);
            put32(body + 4, r);
            memset(body + 8, (int)(i + r), len - 8);
            th_write_frame(fds[i], 100 + r, body, len);
        }
        for (int i = 0; i < ECHO_CLIENTS; i++) {
            uint32_t len = 8 + (uint32_t)((i * 7 + r * 13) % 56), mid = 0;
            assert_int_equal(th_read_frame(fds[i], &mid, back, sizeof(back), WAIT_MS), len);
            assert_int_equal(mid, 100 + r);
            assert_int_equal(get32(back), (uint32_t)i);
            assert_int_equal(get32(back + 4), r);
            for (uint32_t k = 8; k < len; k++)
                assert_int_equal(back[k], (uint8_t)(i + r));
        }
    }
    for (int i = 0; i < ECHO_CLIENTS; i++)
        th_close(fds[i]);
    assert_true(th_wait_count(&srv.closed, ECHO_CLIENTS, WAIT_MS));
    gs_net_stats_t st = stop_and_check(&srv, 0, NULL);
    assert_int_equal(st.accepts, ECHO_CLIENTS);
    assert_int_equal(st.frames_in, ECHO_CLIENTS * ECHO_ROUNDS);
    assert_int_equal(st.frames_out, ECHO_CLIENTS * ECHO_ROUNDS);
    assert_int_equal(atomic_load(&srv.close_reasons[GS_CLOSE_PEER_CLOSE]), ECHO_CLIENTS);
    assert_int_equal(atomic_load(&srv.send_errors), 0);
}

/* ---- C03 stale id after slot reuse -------------------------------------------------------- */

#define C03_CYCLES 300

static void c03_stale_id_after_slot_reuse(void **state) {
    (void)state;
    th_server_t srv = {0};
    gs_net_config_t cfg = {.max_sessions = 1};
    th_server_start(&srv, &cfg, TH_ECHO, 0);
    int fd = th_connect(srv.port);
    gs_session_id_t old_id = th_server_session(&srv, 0);
    for (uint64_t c = 1; c <= C03_CYCLES; c++) {
        th_close(fd);
        assert_true(th_wait_count(&srv.closed, c, WAIT_MS));
        fd = th_connect(srv.port);
        assert_true(th_wait_count(&srv.opened, c + 1, WAIT_MS));
        gs_session_id_t id = (gs_session_id_t)atomic_load(&srv.last_open_id);
        assert_true(id != old_id);
        assert_int_equal(gs_session_slot(id), gs_session_slot(old_id));
        gs_buf_t *stale = gs_buf_frame(66, "stale!", 6);
        assert_int_equal(gs_session_send(srv.net, old_id, stale), GS_ESTALE);
        assert_int_equal(atomic_load(&stale->refs), 1);
        gs_buf_unref(stale);
        assert_int_equal(gs_session_disconnect(srv.net, old_id), GS_ESTALE);
        /* The first bytes the new client sees are the marker sent to the new id. */
        uint8_t body[8], back[8];
        put32(body, (uint32_t)id);
        put32(body + 4, (uint32_t)(id >> 32));
        gs_buf_t *marker = gs_buf_frame(77, body, sizeof(body));
        assert_int_equal(gs_session_send(srv.net, id, marker), 0);
        gs_buf_unref(marker);
        uint32_t mid = 0;
        assert_int_equal(th_read_frame(fd, &mid, back, sizeof(back), WAIT_MS), 8);
        assert_int_equal(mid, 77);
        assert_memory_equal(back, body, 8);
        old_id = id;
    }
    th_close(fd);
    assert_true(th_wait_count(&srv.closed, C03_CYCLES + 1, WAIT_MS));
    gs_net_stats_t st = stop_and_check(&srv, 0, NULL);
    assert_int_equal(st.accepts, C03_CYCLES + 1);
    assert_int_equal(st.frames_out, C03_CYCLES);
}

/* ---- B03 never-reading client cut at the hard limit --------------------------------------- */

static void never_reader_cut_at_hard_limit(void **state) {
    (void)state;
    th_server_t srv = {0};
    gs_net_config_t cfg = {.send_hard_limit = 512u * 1024u, .send_soft_limit = UINT32_MAX};
    th_server_start(&srv, &cfg, TH_SINK, 0);
    int fd = th_try_connect(srv.port, 4096);
    assert_true(fd >= 0);
    gs_session_id_t id = th_server_session(&srv, 0);
    static uint8_t chunk[60000];
    memset(chunk, 0xAB, sizeof(chunk));
    gs_buf_t *b = gs_buf_frame(9, chunk, sizeof(chunk));
    assert_non_null(b);
    /* The client never reads: the kernel buffers fill, then the queue, then the hard limit
     * cuts the session. Bounded: far more than socket buffers plus the limit. */
    int rc = 0;
    uint64_t sent = 0;
    for (int i = 0; i < 20000 && rc == 0; i++) {
        rc = gs_session_send(srv.net, id, b);
        if (rc == 0)
            sent++;
        else
            assert_true(rc == GS_ESENDQ || rc == GS_ECLOSING || rc == GS_ESTALE);
        if (i % 64 == 63)
            gs_thread_yield();
    }
    assert_true(rc != 0);
    gs_buf_unref(b);
    assert_true(th_wait_count(&srv.closed, 1, WAIT_MS));
    assert_int_equal(atomic_load(&srv.close_reasons[GS_CLOSE_SEND_QUEUE_HARD]), 1);
    th_close(fd);
    gs_net_stats_t st = stop_and_check(&srv, 0, NULL);
    assert_int_equal(st.disconnects[GS_CLOSE_SEND_QUEUE_HARD], 1);
    assert_true(sent > 0);
}

/* ---- C01 disconnect with sends in flight -------------------------------------------------- */

#define C01_ITER 100
#define C01_BUFS 16

static void c01_disconnect_with_send_in_flight(void **state) {
    (void)state;
    atomic_store(&th_bufs_released, 0);
    th_server_t srv = {0};
    th_server_start(&srv, NULL, TH_SINK, 0);
    uint64_t made = 0;
    for (unsigned it = 0; it < C01_ITER; it++) {
        int fd = th_try_connect(srv.port, 4096);
        assert_true(fd >= 0);
        assert_true(th_wait_count(&srv.opened, it + 1, WAIT_MS));
        gs_session_id_t id = (gs_session_id_t)atomic_load(&srv.last_open_id);
        for (int k = 0; k < C01_BUFS; k++) {
            gs_buf_t *b = th_counted_frame(32000);
            made++;
            int rc = gs_session_send(srv.net, id, b);
            assert_true(rc == 0 || rc == GS_ECLOSING);
            gs_buf_unref(b);
        }
        assert_int_equal(gs_session_disconnect(srv.net, id), 0);
        assert_true(th_wait_count(&srv.closed, it + 1, WAIT_MS));
        th_close(fd);
    }
    assert_true(th_wait_count(&th_bufs_released, made, WAIT_MS));
    gs_net_stats_t st = stop_and_check(&srv, 0, NULL);
    assert_int_equal(atomic_load(&th_bufs_released), made);
    assert_int_equal(st.disconnects[GS_CLOSE_LOCAL], C01_ITER);
}

/* ---- C06 graceful stop flushes queued sends ----------------------------------------------- */

#define C06_FRAMES 200

typedef struct reader {
    int fd;
    _Atomic uint64_t frames;
    _Atomic int eof, bad;
} reader_t;

static void reader_main(void *arg) {
    reader_t *r = arg;
    static uint8_t body[40000];
    for (;;) {
        uint32_t mid = 0;
        long n = th_read_frame(r->fd, &mid, body, sizeof(body), WAIT_MS);
        if (n < 0)
            break;
        if (mid != 4 || n != 30000 || get32(body) != (uint32_t)atomic_load(&r->frames))
            atomic_store(&r->bad, 1);
        atomic_fetch_add(&r->frames, 1);
    }
    atomic_store(&r->eof, 1);
}

static void c06_stop_flushes_pending_sends(void **state) {
    (void)state;
    th_server_t srv = {0};
    gs_net_config_t cfg = {.send_hard_limit = UINT32_MAX, .send_soft_limit = UINT32_MAX};
    th_server_start(&srv, &cfg, TH_SINK, 0);
    reader_t r = {.fd = th_try_connect(srv.port, 4096)};
    assert_true(r.fd >= 0);
    gs_session_id_t id = th_server_session(&srv, 0);
    static uint8_t body[30000];
    for (uint32_t i = 0; i < C06_FRAMES; i++) {
        put32(body, i);
        gs_buf_t *b = gs_buf_frame(4, body, sizeof(body));
        assert_int_equal(gs_session_send(srv.net, id, b), 0);
        gs_buf_unref(b);
    }
    /* The reader starts only now: most of the 6 MB is still queued when the stop begins. */
    gs_thread_t *t = NULL;
    assert_int_equal(gs_thread_start(&t, reader_main, &r, "c06-reader"), 0);
    uint64_t unsent = 1;
    gs_net_stats_t st = stop_and_check(&srv, 20000, &unsent);
    gs_thread_join(t);
    th_close(r.fd);
    assert_int_equal(unsent, 0);
    assert_int_equal(atomic_load(&r.frames), C06_FRAMES);
    assert_int_equal(atomic_load(&r.bad), 0);
    assert_int_equal(atomic_load(&r.eof), 1);
    assert_int_equal(st.disconnects[GS_CLOSE_SHUTDOWN], 1);
    assert_int_equal(st.frames_out, C06_FRAMES);
}

/* ---- C08 cancel racing completion --------------------------------------------------------- */

#define C08_ITER 200

typedef struct pump {
    int fd;
    _Atomic int stop;
} pump_t;

/* Writes frames and reads echoes until the server cuts the connection. */
static void pump_main(void *arg) {
    pump_t *p = arg;
    uint8_t body[512], back[600];
    memset(body, 0x33, sizeof(body));
    uint8_t hdr[GS_FRAME_HEADER_SIZE];
    gs_frame_header_write(hdr, sizeof(body), 8);
    uint8_t frame[sizeof(hdr) + sizeof(body)];
    memcpy(frame, hdr, sizeof(hdr));
    memcpy(frame + sizeof(hdr), body, sizeof(body));
    while (!atomic_load(&p->stop)) {
        if (th_try_write_all(p->fd, frame, sizeof(frame)) != 0)
            break;
        uint32_t mid;
        if (th_read_frame(p->fd, &mid, back, sizeof(back), WAIT_MS) < 0)
            break;
    }
}

static void c08_cancel_vs_complete(void **state) {
    (void)state;
    th_server_t srv = {0};
    th_server_start(&srv, NULL, TH_ECHO, 0);
    uint64_t rng = 88172645463325252ull;
    for (unsigned it = 0; it < C08_ITER; it++) {
        pump_t p = {.fd = th_connect(srv.port)};
        assert_true(th_wait_count(&srv.opened, it + 1, WAIT_MS));
        gs_session_id_t id = (gs_session_id_t)atomic_load(&srv.last_open_id);
        gs_thread_t *t = NULL;
        assert_int_equal(gs_thread_start(&t, pump_main, &p, "c08-pump"), 0);
        /* Let a random number of round trips happen, then cut: the receive and the echo's send
         * are in flight or completing at any point of their life. */
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        uint64_t target = atomic_load(&srv.frames) + rng % 20;
        uint64_t deadline = gs_now_ms() + WAIT_MS;
        while (atomic_load(&srv.frames) < target && gs_now_ms() < deadline)
            gs_thread_yield();
        assert_int_equal(gs_session_disconnect(srv.net, id), 0);
        assert_true(th_wait_count(&srv.closed, it + 1, WAIT_MS));
        atomic_store(&p.stop, 1);
        gs_thread_join(t);
        th_close(p.fd);
    }
    gs_net_stats_t st = stop_and_check(&srv, 0, NULL);
    assert_int_equal(st.disconnects[GS_CLOSE_LOCAL], C08_ITER);
    printf("c08: %u cuts; failed completions %llu (cancelled %llu)\n", C08_ITER,
           (unsigned long long)st.io_failed,
           (unsigned long long)st.io_failed_by[GS_IOERR_CANCELLED]);
}

/* ---- accept burst -------------------------------------------------------------------------- */

#define BURST_THREADS 4
#define BURST_EACH    125

typedef struct burst {
    uint16_t port;
    int fds[BURST_EACH];
    _Atomic int failed;
} burst_t;

static void burst_main(void *arg) {
    burst_t *b = arg;
    for (int i = 0; i < BURST_EACH; i++) {
        b->fds[i] = th_try_connect(b->port, 0);
        if (b->fds[i] < 0)
            atomic_fetch_add(&b->failed, 1);
    }
}

static void accept_burst_500(void **state) {
    (void)state;
    th_server_t srv = {0};
    gs_net_config_t cfg = {.io_threads = 2};
    th_server_start(&srv, &cfg, TH_ECHO, 0);
    static burst_t b[BURST_THREADS];
    gs_thread_t *t[BURST_THREADS];
    for (int k = 0; k < BURST_THREADS; k++) {
        memset(&b[k], 0, sizeof(b[k]));
        b[k].port = srv.port;
        assert_int_equal(gs_thread_start(&t[k], burst_main, &b[k], "burst"), 0);
    }
    for (int k = 0; k < BURST_THREADS; k++) {
        gs_thread_join(t[k]);
        assert_int_equal(atomic_load(&b[k].failed), 0);
    }
    const uint64_t total = BURST_THREADS * BURST_EACH;
    assert_true(th_wait_count(&srv.opened, total, WAIT_MS));
    /* Every accepted session is live: one echo each. */
    for (int k = 0; k < BURST_THREADS; k++) {
        for (int i = 0; i < BURST_EACH; i++) {
            uint8_t body[4], back[4];
            put32(body, (uint32_t)(k * BURST_EACH + i));
            th_write_frame(b[k].fds[i], 1, body, 4);
            uint32_t mid = 0;
            assert_int_equal(th_read_frame(b[k].fds[i], &mid, back, 4, WAIT_MS), 4);
            assert_memory_equal(back, body, 4);
        }
    }
    for (int k = 0; k < BURST_THREADS; k++)
        for (int i = 0; i < BURST_EACH; i++)
            th_close(b[k].fds[i]);
    assert_true(th_wait_count(&srv.closed, total, WAIT_MS));
    gs_net_stats_t st = stop_and_check(&srv, 0, NULL);
    assert_int_equal(st.accepts, total);
    assert_int_equal(st.accept_refused, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(echo_200_connections),
        cmocka_unit_test(c03_stale_id_after_slot_reuse),
        cmocka_unit_test(never_reader_cut_at_hard_limit),
        cmocka_unit_test(c01_disconnect_with_send_in_flight),
        cmocka_unit_test(c06_stop_flushes_pending_sends),
        cmocka_unit_test(c08_cancel_vs_complete),
        cmocka_unit_test(accept_burst_500),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

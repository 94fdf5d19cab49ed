/* SPDX-License-Identifier: MIT */
/* Lifecycle races (docs/testing.md C01, C02, C05). Pass rule throughout: on_close exactly once per
 * session (the server's recorder checks every callback), every buffer reference released
 * exactly once (counted release hooks: releases == buffers created, none twice), bufs_queued
 * back to 0, and no sanitizer report.
 *
 * C01: a handler queues many buffers and the session is disconnected while they are queued or
 *      in flight: in the same handler call, in a later handler call (after the client read
 *      part of the stream, so a send is mid-way), or from the test thread as soon as the
 *      handler has queued. 500 sessions.
 * C02: a thread loops gs_session_send(id) while the test thread disconnects the session, or
 *      while the client resets: sends after the close return GS_ECLOSING then GS_ESTALE (never
 *      0 again, never 0 once gs_session_disconnect has returned, never ECLOSING after ESTALE),
 *      nothing crashes, a buffer shared by all the sends is released exactly when its last
 *      reference goes. 200 sessions of each kind.
 * C05: app disconnect, peer close (FIN or reset) and idle timeout (10 ms, tick 1 ms) fire
 *      together: 500 sessions, each closed once with one of those reasons. */
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

#define KIB 1024u

static int bufs_queued_zero(void *arg) { return lc_stats(arg).bufs_queued == 0; }

/* ---- C01 ------------------------------------------------------------------------------------ */

enum { C01_QUEUE = 1, C01_QUEUE_AND_CLOSE = 2, C01_CLOSE = 3 };
#define C01_BUFS 24u

typedef struct {
    _Atomic uint64_t queued_id; /* last session the handler queued to */
    _Atomic uint64_t send_errors, disconnect_errors;
} c01_t;

static void c01_on_frame(lc_server_t *srv, gs_session_id_t id, void *su, uint32_t msg_id,
                         const uint8_t *body, uint32_t len) {
    (void)su;
    (void)body;
    (void)len;
    c01_t *c = srv->user;
    if (msg_id == C01_QUEUE || msg_id == C01_QUEUE_AND_CLOSE) {
        static const uint32_t sizes[] = {100, 4 * KIB, 64 * KIB - GS_FRAME_HEADER_SIZE, 1};
        for (uint32_t i = 0; i < C01_BUFS; i++) {
            gs_buf_t *b = lc_buf(4, sizes[i % 4], i);
            if (!b || gs_session_send(srv->net, id, b) != 0)
                atomic_fetch_add(&c->send_errors, 1);
            if (b)
                gs_buf_unref(b);
        }
        atomic_store(&c->queued_id, id);
    }
    if (msg_id == C01_QUEUE_AND_CLOSE || msg_id == C01_CLOSE) {
        if (gs_session_disconnect(srv->net, id) != 0)
            atomic_fetch_add(&c->disconnect_errors, 1);
    }
}

typedef struct {
    c01_t *c;
    gs_session_id_t id;
} c01_wait_t;

static int c01_queued(void *arg) {
    c01_wait_t *w = arg;
    return atomic_load(&w->c->queued_id) == w->id;
}

static void c01_disconnect_with_send_in_flight(void **state) {
    (void)state;
    c01_t c = {0};
    gs_net_config_t cfg = {0};
    cfg.send_hard_limit = 64u * 1024u * 1024u;
    cfg.send_soft_limit = UINT32_MAX;
    lc_server_t *srv = lc_server_create(&cfg, TH_CUSTOM);
    srv->user = &c;
    srv->on_frame = c01_on_frame;
    lc_server_begin(srv);
    uint64_t created0 = lc_bufs_created(), drained_total = 0;
    const int rounds = 500;
    int partial_reads = 0;
    for (int i = 0; i < rounds; i++) {
        int fd = lc_connect(srv->port, i % 2 ? 8192 : 0);
        gs_session_id_t id = lc_session(srv, (uint64_t)i);
        switch (i % 3) {
        case 0: /* queue and disconnect in one handler call */
            th_write_frame(fd, C01_QUEUE_AND_CLOSE, NULL, 0);
            break;
        case 1: { /* queue; read a little (sends are under way); disconnect from a handler */
            th_write_frame(fd, C01_QUEUE, NULL, 0);
            uint8_t buf[2048];
            if (th_read_exact(fd, buf, sizeof(buf), 1000) == 0)
                partial_reads++;
            th_write_frame(fd, C01_CLOSE, NULL, 0);
            break;
        }
        default: { /* queue in a handler; disconnect from the test thread at once */
            th_write_frame(fd, C01_QUEUE, NULL, 0);
            c01_wait_t w = {&c, id};
            assert_true(th_wait_until(c01_queued, &w, LC_WAIT_MS));
            assert_int_equal(gs_session_disconnect(srv->net, id), 0);
            break;
        }
        }
        uint64_t drained = 0;
        int end = lc_drain_to_eof(fd, LC_WAIT_MS, &drained);
        assert_true(end == 0 || end == 1);
        drained_total += drained;
        th_close(fd);
        assert_true(lc_wait_closed(srv, (uint64_t)i + 1, LC_WAIT_MS));
        lc_rec_t *r = lc_find(srv, id);
        assert_non_null(r);
        assert_int_equal(atomic_load(&r->reason), GS_CLOSE_LOCAL);
        /* Every buffer queued to the session was released by the time it closed. */
        assert_true(lc_wait_bufs_released(LC_WAIT_MS));
    }
    assert_true(th_wait_until(bufs_queued_zero, srv, LC_WAIT_MS));
    uint64_t created = lc_bufs_created() - created0;
    print_message("C01: %d sessions, %llu buffers created and released, %llu bytes reached "
                  "clients before the close, %d mid-stream disconnects\n",
                  rounds, (unsigned long long)created, (unsigned long long)drained_total,
                  partial_reads);
    assert_int_equal(created, (uint64_t)rounds * C01_BUFS);
    assert_int_equal(lc_bufs_released(), lc_bufs_created());
    assert_int_equal(lc_bufs_double_released(), 0);
    assert_int_equal(atomic_load(&c.send_errors), 0);
    assert_int_equal(atomic_load(&c.disconnect_errors), 0);
    assert_int_equal(lc_stats(srv).disconnects[GS_CLOSE_LOCAL], rounds);
    assert_int_equal(lc_server_stop(srv, 0), 0);
    lc_server_free(srv);
}

/* ---- C02 ------------------------------------------------------------------------------------ */

/* A buffer shared by many sends: its release must come exactly when the last reference goes,
 * which is after the sender dropped its own (an extra unref anywhere would release it early,
 * a missing one never). */
typedef struct {
    gs_buf_t buf;
    _Atomic int owner_done, released, early;
    uint8_t bytes[GS_FRAME_HEADER_SIZE + 56];
} shared_buf_t;

static void shared_release(gs_buf_t *b) {
    shared_buf_t *s = gs_container_of(b, shared_buf_t, buf);
    if (!atomic_load(&s->owner_done))
        atomic_store(&s->early, 1);
    atomic_fetch_add(&s->released, 1);
}

typedef struct {
    gs_net_t *net;
    gs_session_id_t id;
    shared_buf_t *shared;
    _Atomic int disconnected; /* set by the test thread once gs_session_disconnect returned */
    _Atomic uint64_t ok;      /* successful sends */
    int first_err;            /* first failing result */
    int bad;                  /* a result that breaks the rules (see below) */
    int bad_rc;
    uint64_t after_err; /* sends made after the first failure */
} sender_t;

static void sender_main(void *arg) {
    sender_t *s = arg;
    int stale = 0, failed = 0;
    uint64_t deadline = gs_now_ms() + 10000;
    for (uint64_t i = 0; gs_now_ms() < deadline; i++) {
        gs_buf_t *b = (i & 1) ? &s->shared->buf : lc_buf(6, 48, (uint32_t)i);
        if (!b) {
            s->bad = 1;
            break;
        }
        int after_disconnect = atomic_load(&s->disconnected);
        int rc = gs_session_send(s->net, s->id, b);
        if (b != &s->shared->buf)
            gs_buf_unref(b);
        if (rc == 0) {
            /* Never accepted again once refused, nor once gs_session_disconnect returned. */
            if (failed || after_disconnect) {
                s->bad = 1;
                s->bad_rc = rc;
            }
            atomic_fetch_add(&s->ok, 1);
            continue;
        }
        if (!failed) {
            failed = 1;
            s->first_err = rc;
        }
        if (rc == GS_ESTALE)
            stale = 1;
        else if (rc != GS_ECLOSING || stale) { /* only ECLOSING, then ESTALE for good */
            s->bad = 1;
            s->bad_rc = rc;
        }
        if (++s->after_err >= 200)
            break;
    }
    atomic_store(&s->shared->owner_done, 1);
    gs_buf_unref(&s->shared->buf); /* the sender's own reference */
}

static int sender_progress(void *arg) { return atomic_load(&((sender_t *)arg)->ok) >= 64; }
static int shared_released(void *arg) { return atomic_load(&((shared_buf_t *)arg)->released); }

static void c02_case(lc_server_t *srv, int round, int reset) {
    int fd = lc_connect(srv->port, 0);
    gs_session_id_t id = lc_session(srv, (uint64_t)round);
    shared_buf_t *shared = calloc(1, sizeof(*shared));
    assert_non_null(shared);
    gs_frame_header_write(shared->bytes, 56, 6);
    gs_buf_init(&shared->buf, shared->bytes, sizeof(shared->bytes), shared_release);
    sender_t s = {.net = srv->net, .id = id, .shared = shared};
    gs_thread_t *t;
    assert_int_equal(gs_thread_start(&t, sender_main, &s, "c02-sender"), 0);
    /* Let it get going (bounded), then pull the session from under it. */
    int progressed = th_wait_until(sender_progress, &s, LC_WAIT_MS);
    if (reset)
        lc_close_rst(fd);
    else {
        assert_int_equal(gs_session_disconnect(srv->net, id), 0);
        atomic_store(&s.disconnected, 1);
    }
    gs_thread_join(t);
    assert_true(progressed);
    if (s.bad)
        fail_msg("round %d: send returned %s after the session was refused or disconnected", round,
                 s.bad_rc == 0 ? "0" : gs_err_name(s.bad_rc));
    assert_true(s.first_err == GS_ECLOSING || s.first_err == GS_ESTALE);
    assert_int_equal(s.after_err, 200);
    assert_true(lc_wait_closed(srv, (uint64_t)round + 1, LC_WAIT_MS));
    lc_rec_t *r = lc_find(srv, id);
    assert_non_null(r);
    uint32_t reason = atomic_load(&r->reason);
    if (reset)
        assert_true(reason == GS_CLOSE_RESET || reason == GS_CLOSE_PEER_CLOSE);
    else
        assert_int_equal(reason, GS_CLOSE_LOCAL);
    /* The shared buffer: released once, after its owner's last unref, not before. */
    assert_true(th_wait_until(shared_released, shared, LC_WAIT_MS));
    assert_int_equal(atomic_load(&shared->released), 1);
    assert_int_equal(atomic_load(&shared->early), 0);
    free(shared);
    assert_int_equal(gs_session_send(srv->net, id, &(gs_buf_t){0}), GS_ESTALE);
    if (!reset) {
        int end = lc_drain_to_eof(fd, LC_WAIT_MS, NULL);
        assert_true(end == 0 || end == 1);
        th_close(fd);
    }
    assert_true(lc_wait_bufs_released(LC_WAIT_MS));
}

static void c02_cross_thread_send_to_closing_session(void **state) {
    (void)state;
    gs_net_config_t cfg = {0};
    cfg.send_hard_limit = UINT32_MAX; /* only the close may refuse a send */
    cfg.send_soft_limit = UINT32_MAX;
    lc_server_t *srv = lc_server_start(&cfg, TH_SINK);
    const int rounds = 400; /* 200 app disconnects, 200 resets, interleaved */
    for (int i = 0; i < rounds; i++)
        c02_case(srv, i, i % 2);
    gs_net_stats_t st = lc_stats(srv);
    print_message("C02: %d sessions; closes: local %llu, reset %llu, peer_close %llu\n", rounds,
                  (unsigned long long)st.disconnects[GS_CLOSE_LOCAL],
                  (unsigned long long)st.disconnects[GS_CLOSE_RESET],
                  (unsigned long long)st.disconnects[GS_CLOSE_PEER_CLOSE]);
    assert_int_equal(st.disconnects[GS_CLOSE_LOCAL], rounds / 2);
    assert_true(th_wait_until(bufs_queued_zero, srv, LC_WAIT_MS));
    assert_int_equal(lc_bufs_released(), lc_bufs_created());
    assert_int_equal(lc_bufs_double_released(), 0);
    assert_int_equal(lc_server_stop(srv, 0), 0);
    lc_server_free(srv);
}

/* ---- C05 ------------------------------------------------------------------------------------ */

/* Every session gets a few buffers on open, so sends are in flight when the closes race. */
static void c05_on_open(lc_server_t *srv, gs_session_id_t id, void *su) {
    (void)su;
    for (uint32_t i = 0; i < 4; i++) {
        gs_buf_t *b = lc_buf(8, 32 * KIB, i);
        int rc = b ? gs_session_send(srv->net, id, b) : GS_ENOMEM;
        /* The test thread acts on the session from open_ns + 16 ms, and open_ns is recorded
         * before this hook runs: on a loaded machine its disconnect can come first, and then
         * the sends are refused as closing, as they must be. Anything else is an error. */
        if (rc != 0 && rc != GS_ECLOSING)
            atomic_fetch_add(&srv->send_errors, 1);
        if (b)
            gs_buf_unref(b);
    }
}

#define C05_BATCH 5

static void c05_simultaneous_close_paths(void **state) {
    (void)state;
    const uint32_t idle = 20;
    gs_net_config_t cfg = {0};
    cfg.idle_timeout_ms = idle;
    cfg.tick_ms = 1;
    lc_server_t *srv = lc_server_create(&cfg, TH_SINK);
    srv->on_open = c05_on_open;
    lc_server_begin(srv);
    uint64_t rng = 0x5eed;
    const int rounds = 500;
    int stale_disconnects = 0, late = 0;
    for (int base = 0; base < rounds; base += C05_BATCH) {
        int fd[C05_BATCH];
        gs_session_id_t id[C05_BATCH];
        uint64_t at[C05_BATCH];
        int how[C05_BATCH], done[C05_BATCH];
        for (int j = 0; j < C05_BATCH; j++) {
            fd[j] = lc_connect(srv->port, 4096);
            id[j] = lc_session(srv, (uint64_t)(base + j));
            lc_rec_t *r = lc_find(srv, id[j]);
            assert_non_null(r);
            /* The idle deadline runs from the open: act from 4 ms before it to 3 ms after. */
            at[j] = atomic_load(&r->open_ns) + (uint64_t)(idle - 4 + lc_rand(&rng) % 8) * 1000000u;
            how[j] = (int)(lc_rand(&rng) % 4);
            done[j] = 0;
        }
        for (int left = C05_BATCH; left > 0;) {
            uint64_t now = gs_now_ns();
            for (int j = 0; j < C05_BATCH; j++) {
                if (done[j] || now < at[j])
                    continue;
                late += now > at[j] + 1000000u;
                int rc = 0;
                /* App close and peer close back to back, in either order; the peer sends a
                 * FIN (shutdown) or a reset. */
                if (how[j] & 1)
                    rc = gs_session_disconnect(srv->net, id[j]);
                if (how[j] & 2) {
                    lc_close_rst(fd[j]);
                    fd[j] = -1;
                } else {
                    th_shutdown_wr(fd[j]);
                }
                if (!(how[j] & 1))
                    rc = gs_session_disconnect(srv->net, id[j]);
                assert_true(rc == 0 || rc == GS_ESTALE);
                stale_disconnects += rc == GS_ESTALE;
                done[j] = 1;
                left--;
            }
        }
        assert_true(lc_wait_closed(srv, (uint64_t)base + C05_BATCH, LC_WAIT_MS));
        for (int j = 0; j < C05_BATCH; j++)
            if (fd[j] >= 0)
                th_close(fd[j]);
    }
    gs_net_stats_t st = lc_stats(srv);
    uint64_t local = st.disconnects[GS_CLOSE_LOCAL], peer = st.disconnects[GS_CLOSE_PEER_CLOSE];
    uint64_t reset = st.disconnects[GS_CLOSE_RESET], idle_c = st.disconnects[GS_CLOSE_IDLE_TIMEOUT];
    print_message("C05: %d sessions closed once each: local %llu, peer_close %llu, reset %llu, "
                  "idle_timeout %llu; %d disconnect calls found the id already stale; %d "
                  "actions over 1 ms late\n",
                  rounds, (unsigned long long)local, (unsigned long long)peer,
                  (unsigned long long)reset, (unsigned long long)idle_c, stale_disconnects, late);
    assert_int_equal(local + peer + reset + idle_c, rounds);
    assert_int_equal(atomic_load(&srv->closed), rounds);
    assert_int_equal(atomic_load(&srv->send_errors), 0);
    lc_assert_no_violation(srv);
    assert_true(th_wait_until(bufs_queued_zero, srv, LC_WAIT_MS));
    assert_true(lc_wait_bufs_released(LC_WAIT_MS));
    assert_int_equal(lc_bufs_double_released(), 0);
    assert_int_equal(lc_server_stop(srv, 0), 0);
    lc_server_free(srv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(c01_disconnect_with_send_in_flight),
        cmocka_unit_test(c02_cross_thread_send_to_closing_session),
        cmocka_unit_test(c05_simultaneous_close_paths),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

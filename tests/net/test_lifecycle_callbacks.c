/* SPDX-License-Identifier: MIT */
/* The callback contract (net.h "Callbacks"), checked by the recorder of test_lifecycle_common.c
 * on every callback: on_open before any on_frame, on_close exactly once after, nothing after
 * it, the id already stale inside on_close, counters equal to what the callbacks saw.
 *
 * - Accepted sessions ended every way (client close, client reset, half-close, app disconnect
 *   from the test thread, app disconnect inside on_open, send inside on_open): session_user is
 *   NULL at open, the value set with gs_session_set_user in on_open reaches every later
 *   callback, frames arrive only between open and close.
 * - gs_net_connect to a closed port: on_close(connect_failed) without on_open, with the id that
 *   gs_net_connect returned and its session_user; a send queued meanwhile is released.
 * - gs_net_connect to the instance's own listener (the net layer talking to itself): on_open
 *   with the session_user given, a send queued before on_open is delivered after it, frames flow
 *   both ways in order, and a disconnect closes both ends (local / peer_close). */
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

/* An idle instance with one IO thread and one listener (th_os.h says what the backend posts). */
#define BASE_IN_FLIGHT th_os_idle_in_flight(1, 1)

static void *marker_for(gs_session_id_t id) { return (void *)(uintptr_t)(id ^ 0x5a5a0000u); }

typedef struct {
    _Atomic uint64_t bad_user;   /* a callback got the wrong session_user */
    _Atomic uint64_t opens_seen; /* ordinal of the next on_open */
    _Atomic uint64_t greeting_errors;
} accept_state_t;

#define MSG_GREETING 77u

/* Accepted sessions: session_user starts NULL and is then replaced. Every 3rd session is
 * disconnected inside on_open; every 3rd + 1 gets a greeting sent from on_open. */
static void acc_open(lc_server_t *srv, gs_session_id_t id, void *su) {
    accept_state_t *a = srv->user;
    if (su != NULL)
        atomic_fetch_add(&a->bad_user, 1);
    if (gs_session_set_user(srv->net, id, marker_for(id)) != 0)
        atomic_fetch_add(&a->bad_user, 1);
    uint64_t n = atomic_fetch_add(&a->opens_seen, 1);
    if (n % 3 == 0) {
        if (gs_session_disconnect(srv->net, id) != 0)
            atomic_fetch_add(&a->greeting_errors, 1);
    } else if (n % 3 == 1) {
        gs_buf_t *b = lc_buf(MSG_GREETING, 16, 0);
        if (!b || gs_session_send(srv->net, id, b) != 0)
            atomic_fetch_add(&a->greeting_errors, 1);
        if (b)
            gs_buf_unref(b);
    }
}

static void acc_frame(lc_server_t *srv, gs_session_id_t id, void *su, uint32_t msg_id,
                      const uint8_t *body, uint32_t len) {
    (void)msg_id;
    (void)body;
    (void)len;
    if (su != marker_for(id))
        atomic_fetch_add(&((accept_state_t *)srv->user)->bad_user, 1);
}

static void acc_close(lc_server_t *srv, gs_session_id_t id, void *su, gs_close_reason_t reason) {
    (void)reason;
    if (su != marker_for(id))
        atomic_fetch_add(&((accept_state_t *)srv->user)->bad_user, 1);
}

static void accepted_sessions(void **state) {
    (void)state;
    accept_state_t a = {0};
    lc_server_t *srv = lc_server_create(NULL, TH_ECHO);
    srv->user = &a;
    srv->on_open = acc_open;
    srv->on_frame = acc_frame;
    srv->on_close = acc_close;
    lc_server_begin(srv);
    const int n = 24;
    uint64_t expect_frames = 0;
    for (int i = 0; i < n; i++) {
        int fd = lc_connect(srv->port, 0);
        gs_session_id_t id = lc_session(srv, (uint64_t)i);
        int closed_in_open = i % 3 == 0, greeted = i % 3 == 1;
        /* Frames sent right away, even to a session closed in on_open (never delivered). */
        for (uint32_t k = 0; k < 5; k++) {
            uint8_t body[20];
            lc_fill(body, sizeof(body), k);
            uint8_t frame[GS_FRAME_HEADER_SIZE + sizeof(body)];
            gs_frame_header_write(frame, sizeof(body), 3);
            memcpy(frame + GS_FRAME_HEADER_SIZE, body, sizeof(body));
            if (lc_write_all(fd, frame, sizeof(frame)) != 0)
                break;
        }
        if (closed_in_open) {
            int end = lc_drain_to_eof(fd, LC_WAIT_MS, NULL);
            assert_true(end == 0 || end == 1);
            th_close(fd);
            assert_true(lc_wait_closed(srv, (uint64_t)i + 1, LC_WAIT_MS));
            lc_rec_t *r = lc_find(srv, id);
            assert_int_equal(atomic_load(&r->reason), GS_CLOSE_LOCAL);
            assert_int_equal(atomic_load(&r->frames), 0);
            continue;
        }
        uint8_t got[64];
        uint32_t msg = 0;
        if (greeted) { /* sent from on_open: it comes before any echo */
            assert_int_equal(th_read_frame(fd, &msg, got, sizeof(got), 1000), 16);
            assert_int_equal(msg, MSG_GREETING);
        }
        for (uint32_t k = 0; k < 5; k++) {
            assert_int_equal(th_read_frame(fd, &msg, got, sizeof(got), 1000), 20);
            assert_int_equal(msg, 3);
            assert_true(lc_body_ok(got, 20, k));
        }
        expect_frames += 5;
        gs_close_reason_t want;
        int rc;
        switch ((i / 3) % 4) {
        case 0:
            th_close(fd);
            want = GS_CLOSE_PEER_CLOSE;
            break;
        case 1:
            lc_close_rst(fd);
            want = GS_CLOSE_RESET;
            break;
        case 2:
            th_shutdown_wr(fd);
            assert_int_equal(lc_drain_to_eof(fd, LC_WAIT_MS, NULL), 0);
            th_close(fd);
            want = GS_CLOSE_PEER_CLOSE;
            break;
        default:
            assert_int_equal(gs_session_disconnect(srv->net, id), 0);
            rc = gs_session_disconnect(srv->net, id); /* twice is harmless */
            assert_true(rc == 0 || rc == GS_ESTALE);
            assert_int_equal(lc_drain_to_eof(fd, LC_WAIT_MS, NULL), 0);
            th_close(fd);
            want = GS_CLOSE_LOCAL;
            break;
        }
        assert_true(lc_wait_closed(srv, (uint64_t)i + 1, LC_WAIT_MS));
        lc_rec_t *r = lc_find(srv, id);
        assert_non_null(r);
        uint32_t reason = atomic_load(&r->reason);
        if (!(reason == want || (want == GS_CLOSE_RESET && reason == GS_CLOSE_PEER_CLOSE)))
            fail_msg("session %d closed with %s, expected %s", i, gs_close_reason_name(reason),
                     gs_close_reason_name(want));
        assert_int_equal(atomic_load(&r->frames), 5);
        assert_true(atomic_load(&r->open_ns) <= atomic_load(&r->close_ns));
        assert_int_equal(gs_session_send(srv->net, id, &(gs_buf_t){0}), GS_ESTALE);
    }
    assert_int_equal(atomic_load(&a.bad_user), 0);
    assert_int_equal(atomic_load(&a.greeting_errors), 0);
    assert_int_equal(atomic_load(&srv->frames), expect_frames);
    assert_true(lc_wait_in_flight(srv, BASE_IN_FLIGHT, LC_WAIT_MS));
    assert_int_equal(lc_server_stop(srv, 0), 0);
    assert_true(lc_wait_bufs_released(LC_WAIT_MS));
    lc_server_free(srv);
}

/* ---- outgoing connects ------------------------------------------------------------------- */

static int marker_a, marker_b;

static void connect_to_closed_port(void **state) {
    (void)state;
    /* A port that is bound but not listening refuses the connection. */
    uint16_t port = 0;
    int hold = th_bound_unlistened(&port);

    lc_server_t *srv = lc_server_start(NULL, TH_ECHO);
    uint64_t created0 = lc_bufs_created();
    const int n = 5;
    for (int i = 0; i < n; i++) {
        gs_connect_config_t cc = {.host = "127.0.0.1", .port = port, .session_user = &marker_a};
        gs_session_id_t id = GS_SESSION_NONE;
        assert_int_equal(gs_net_connect(srv->net, &cc, &id), 0);
        assert_true(id != GS_SESSION_NONE);
        /* A send while connecting is accepted or refused, and released either way. */
        gs_buf_t *b = lc_buf(1, 8, 0);
        int rc = gs_session_send(srv->net, id, b);
        gs_buf_unref(b);
        assert_true(rc == 0 || rc == GS_ECLOSING || rc == GS_ESTALE);
        assert_true(lc_wait_closed(srv, (uint64_t)i + 1, LC_WAIT_MS));
        lc_rec_t *r = lc_find(srv, id);
        assert_non_null(r);
        assert_int_equal(atomic_load(&r->opens), 0);
        assert_int_equal(atomic_load(&r->closes), 1);
        assert_int_equal(atomic_load(&r->reason), GS_CLOSE_CONNECT_FAILED);
        assert_ptr_equal(atomic_load(&r->session_user), &marker_a);
        assert_int_equal(gs_session_disconnect(srv->net, id), GS_ESTALE);
    }
    assert_int_equal(atomic_load(&srv->opened), 0);
    gs_net_stats_t st = lc_stats(srv);
    assert_int_equal(st.connects, 0);
    assert_int_equal(st.sessions_total, 0);
    assert_int_equal(st.sessions_open, 0);
    assert_int_equal(st.disconnects[GS_CLOSE_CONNECT_FAILED], n);
    assert_true(lc_wait_in_flight(srv, BASE_IN_FLIGHT, LC_WAIT_MS));
    assert_true(lc_wait_bufs_released(LC_WAIT_MS));
    assert_int_equal(lc_bufs_created() - created0, n);
    assert_int_equal(lc_server_stop(srv, 0), 0);
    lc_server_free(srv);
    th_close(hold);
}

/* The instance connects to its own listener: the outgoing session (session_user &marker_b)
 * records what it receives; the accepted one greets on open and echoes. */
typedef struct {
    _Atomic uint64_t out_open, out_frames, out_bad, greetings, acc_id, bad_user;
} self_t;

static void self_open(lc_server_t *srv, gs_session_id_t id, void *su) {
    self_t *s = srv->user;
    if (su == &marker_b) {
        atomic_fetch_add(&s->out_open, 1);
        return;
    }
    if (su != NULL)
        atomic_fetch_add(&s->bad_user, 1);
    atomic_store(&s->acc_id, id);
    gs_buf_t *b = lc_buf(MSG_GREETING, 8, 0);
    if (gs_session_send(srv->net, id, b) != 0)
        atomic_fetch_add(&s->out_bad, 1);
    gs_buf_unref(b);
}

static void self_frame(lc_server_t *srv, gs_session_id_t id, void *su, uint32_t msg_id,
                       const uint8_t *body, uint32_t len) {
    self_t *s = srv->user;
    if (su == &marker_b) { /* the outgoing side: greeting first, then echoes in order */
        if (msg_id == MSG_GREETING) {
            if (atomic_fetch_add(&s->greetings, 1) != 0 || atomic_load(&s->out_frames) != 0)
                atomic_fetch_add(&s->out_bad, 1);
            return;
        }
        uint64_t k = atomic_fetch_add(&s->out_frames, 1);
        if (msg_id != 9 || !lc_body_ok(body, len, (uint32_t)k) || len != 100 + (uint32_t)k)
            atomic_fetch_add(&s->out_bad, 1);
        return;
    }
    gs_buf_t *b = gs_buf_frame(msg_id, body, len); /* the accepted side echoes */
    if (!b || gs_session_send(srv->net, id, b) != 0)
        atomic_fetch_add(&s->out_bad, 1);
    if (b)
        gs_buf_unref(b);
}

static int out_opened(void *arg) { return atomic_load(&((self_t *)arg)->out_open) == 1; }
static int out_all(void *arg) { return atomic_load(&((self_t *)arg)->out_frames) == 100; }

static void connect_to_self(void **state) {
    (void)state;
    self_t s = {0};
    lc_server_t *srv = lc_server_create(NULL, TH_CUSTOM);
    srv->user = &s;
    srv->on_open = self_open;
    srv->on_frame = self_frame;
    lc_server_begin(srv);
    gs_connect_config_t cc = {.host = "127.0.0.1", .port = srv->port, .session_user = &marker_b};
    gs_session_id_t out = GS_SESSION_NONE;
    assert_int_equal(gs_net_connect(srv->net, &cc, &out), 0);
    /* Queued at once, most likely before on_open: delivered once the connect completes. */
    gs_buf_t *b = lc_buf(9, 100, 0);
    assert_int_equal(gs_session_send(srv->net, out, b), 0);
    gs_buf_unref(b);
    assert_true(th_wait_until(out_opened, &s, LC_WAIT_MS));
    for (uint32_t k = 1; k < 100; k++) {
        b = lc_buf(9, 100 + k, k);
        assert_int_equal(gs_session_send(srv->net, out, b), 0);
        gs_buf_unref(b);
    }
    assert_true(th_wait_until(out_all, &s, LC_WAIT_MS));
    assert_int_equal(atomic_load(&s.greetings), 1);
    assert_int_equal(atomic_load(&s.out_bad), 0);
    assert_int_equal(atomic_load(&s.bad_user), 0);
    gs_session_id_t acc = atomic_load(&s.acc_id);
    assert_true(acc != 0 && acc != out);
    lc_rec_t *ro = lc_find(srv, out), *ra = lc_find(srv, acc);
    assert_true(ro && ra);
    assert_int_equal(atomic_load(&ro->frames), 101);
    assert_int_equal(atomic_load(&ra->frames), 100);

    assert_int_equal(gs_session_disconnect(srv->net, out), 0);
    assert_true(lc_wait_closed(srv, 2, LC_WAIT_MS));
    assert_int_equal(atomic_load(&ro->reason), GS_CLOSE_LOCAL);
    assert_ptr_equal(atomic_load(&ro->session_user), &marker_b);
    assert_int_equal(atomic_load(&ra->reason), GS_CLOSE_PEER_CLOSE);
    gs_net_stats_t st = lc_stats(srv);
    assert_int_equal(st.connects, 1);
    assert_int_equal(st.accepts, 1);
    assert_int_equal(st.sessions_total, 2);
    assert_true(lc_wait_in_flight(srv, BASE_IN_FLIGHT, LC_WAIT_MS));
    assert_int_equal(lc_server_stop(srv, 0), 0);
    assert_true(lc_wait_bufs_released(LC_WAIT_MS));
    lc_server_free(srv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepted_sessions),
        cmocka_unit_test(connect_to_closed_port),
        cmocka_unit_test(connect_to_self),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

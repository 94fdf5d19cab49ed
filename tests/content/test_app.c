/* SPDX-License-Identifier: MIT */
/* The app over real sockets: open/frames/close as ordered jobs on the session's actor, replies,
 * bad frames per policy, overload, a slow handler that does not stall other sessions (E09), a
 * disconnect while a handler runs (C04), sends from a user thread, one encode per broadcast, and
 * a timer posting to a session's actor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gs_test.h"

#include "chat_proto.h"
#include "gs/content.h"
#include "net_harness.h"

/* ---- client side: plain sockets speaking frames of chat messages ------------------------- */

static void send_msg(int fd, const ProtobufCMessage *m) {
    uint8_t body[4096];
    size_t n = protobuf_c_message_get_packed_size(m);
    assert_true(n <= sizeof(body));
    protobuf_c_message_pack(m, body);
    th_write_frame(fd, gs_msg_id_of_name(m->descriptor->name), body, (uint32_t)n);
}

/* Read one frame and unpack it as d (asserting the id). The caller frees it. */
static ProtobufCMessage *recv_msg(int fd, const ProtobufCMessageDescriptor *d) {
    uint8_t body[4096];
    uint32_t id = 0;
    long n = th_read_frame(fd, &id, body, sizeof(body), 5000);
    assert_true(n >= 0);
    assert_int_equal(id, gs_msg_id_of_name(d->name));
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, (size_t)n, body);
    assert_non_null(m);
    return m;
}

static void ping(int fd, uint32_t req, uint64_t t) {
    Chat__Ping p = CHAT__PING__INIT;
    p.request_id = req;
    p.client_time_us = t;
    send_msg(fd, &p.base);
}

static void expect_pong(int fd, uint32_t req, uint64_t t) {
    Chat__Pong *p = (Chat__Pong *)recv_msg(fd, &chat__pong__descriptor);
    assert_int_equal(p->request_id, req);
    assert_int_equal(p->client_time_us, t);
    protobuf_c_message_free_unpacked(&p->base, NULL);
}

/* rounds Pings on each of n connections, interleaved, then every Pong back on each connection
 * in request order: each session's jobs ran serially, in order. */
static void pings_in_order(const int *fds, int n, uint32_t rounds) {
    for (uint32_t k = 1; k <= rounds; k++)
        for (int i = 0; i < n; i++)
            ping(fds[i], k, (uint64_t)i << 32 | k);
    for (uint32_t k = 1; k <= rounds; k++)
        for (int i = 0; i < n; i++)
            expect_pong(fds[i], k, (uint64_t)i << 32 | k);
}

/* ---- server side -------------------------------------------------------------------------- */

typedef struct fixture {
    gs_app_t *app;
    uint16_t port;
    _Atomic int opens, closes, order_errors;
    _Atomic int slow_started, slow_release, slow_reply_rc;
    _Atomic uint64_t slow_session;
    _Atomic int timer_runs;
    _Atomic uint64_t ids[16]; /* session ids in open order */
    _Atomic int nids;
    _Atomic uintptr_t handler_thread; /* run_on_io_thread: the one thread running jobs */
    _Atomic int thread_errors;
    _Atomic int off_io_thread; /* jobs that ran on a thread other than the net's IO thread */
} fixture_t;

/* Each thread's own address of this variable names the thread. */
static _Thread_local char thread_mark;

/* Record the thread running this job; count any job that runs on another one, and any job
 * that does not run on the net's IO thread. */
static void note_thread(fixture_t *f, gs_app_t *app) {
    uintptr_t me = (uintptr_t)&thread_mark, prev = 0;
    if (!atomic_compare_exchange_strong(&f->handler_thread, &prev, me) && prev != me)
        atomic_fetch_add(&f->thread_errors, 1);
    if (gs_net_io_thread(gs_app_net(app)) != 0)
        atomic_fetch_add(&f->off_io_thread, 1);
}

/* Per-session state: proves open ran before frames and close after them, on one actor. */
typedef struct sess {
    int frames;
    int closed;
} sess_t;

static void on_open(gs_ctx_t *ctx, void *user) {
    fixture_t *f = user;
    if (ctx->session_user != NULL)
        atomic_fetch_add(&f->order_errors, 1);
    gs_ctx_set_session_user(ctx, calloc(1, sizeof(sess_t)));
    note_thread(f, ctx->app);
    int n = atomic_fetch_add(&f->nids, 1);
    if (n < 16)
        atomic_store(&f->ids[n], ctx->session);
    atomic_fetch_add(&f->opens, 1);
}

static void on_close(gs_ctx_t *ctx, gs_close_reason_t reason, void *user) {
    (void)reason;
    fixture_t *f = user;
    sess_t *s = ctx->session_user;
    if (!s || s->closed)
        atomic_fetch_add(&f->order_errors, 1);
    free(s);
    gs_ctx_set_session_user(ctx, NULL);
    atomic_fetch_add(&f->closes, 1);
}

static void on_ping(gs_ctx_t *ctx, const ProtobufCMessage *msg, void *user) {
    fixture_t *f = user;
    const Chat__Ping *p = (const Chat__Ping *)msg;
    sess_t *s = ctx->session_user;
    if (!s)
        atomic_fetch_add(&f->order_errors, 1);
    else
        s->frames++;
    note_thread(f, ctx->app);
    /* request_id 999: the slow handler (E09, C04). */
    if (p->request_id == 999) {
        atomic_store(&f->slow_session, ctx->session);
        atomic_store(&f->slow_started, 1);
        uint64_t deadline = gs_now_ms() + 5000;
        while (!atomic_load(&f->slow_release) && gs_now_ms() < deadline)
            gs_sleep_ms(1);
    }
    Chat__Pong r = CHAT__PONG__INIT;
    r.request_id = p->request_id;
    r.client_time_us = p->client_time_us;
    r.server_time_us = gs_now_ns() / 1000;
    int rc = gs_app_send(ctx->app, ctx->session, &r.base);
    if (p->request_id == 999)
        atomic_store(&f->slow_reply_rc, rc == 0 ? 1 : rc);
}

static void on_join(gs_ctx_t *ctx, const ProtobufCMessage *msg, void *user) {
    (void)user;
    const Chat__JoinRequest *j = (const Chat__JoinRequest *)msg;
    Chat__JoinReply r = CHAT__JOIN_REPLY__INIT;
    r.request_id = j->request_id;
    r.room = j->room;
    gs_app_send(ctx->app, ctx->session, &r.base);
}

static void start(fixture_t *f, gs_app_config_t *cfg) {
    memset(f, 0, sizeof(*f));
    gs_app_config_t c = cfg ? *cfg : (gs_app_config_t){0};
    assert_int_equal(gs_app_create(&f->app, &c), 0);
    assert_int_equal(chat_proto_register(gs_app_registry(f->app)), 0);
    assert_int_equal(gs_app_on_message(f->app, &chat__ping__descriptor, on_ping, f), 0);
    assert_int_equal(gs_app_on_message(f->app, &chat__join_request__descriptor, on_join, f), 0);
    /* Twice, or for a type not in the registry: refused. */
    assert_int_equal(gs_app_on_message(f->app, &chat__ping__descriptor, on_ping, f), GS_EEXIST);
    assert_int_equal(gs_app_on_session(f->app, on_open, on_close, f), 0);
    assert_int_equal(gs_app_listen(f->app, &(gs_listen_config_t){.port = 0}), 0);
    assert_int_equal(gs_app_start(f->app), 0);
    f->port = gs_app_listen_port(f->app);
}

static void stop(fixture_t *f) {
    gs_app_stop(f->app, 1000);
    gs_app_stats_t st;
    gs_app_stats(f->app, &st);
    assert_int_equal(atomic_load(&f->opens), atomic_load(&f->closes));
    assert_int_equal(atomic_load(&f->order_errors), 0);
    assert_int_equal(st.jobs_pending, 0);
    assert_int_equal(st.jobs_posted, st.jobs_run);
    assert_int_equal(st.timers, 0);
    gs_app_destroy(f->app);
}

static gs_app_stats_t stats(fixture_t *f) {
    gs_app_stats_t st;
    gs_app_stats(f->app, &st);
    return st;
}

/* ---- tests -------------------------------------------------------------------------------- */

static uint64_t handled(void *arg) {
    gs_app_stats_t st;
    gs_app_stats(((fixture_t *)arg)->app, &st);
    return st.messages;
}
typedef struct {
    fixture_t *f;
    uint64_t n;
} handled_goal_t;
static int handled_n(void *arg) {
    handled_goal_t *g = arg;
    return handled(g->f) >= g->n;
}

/* Connect n clients (n <= 16) and learn their session ids. A round trip each: the session is
 * open and its id recorded by the open handler. The client can read a Pong before the worker
 * that sent it has counted the send: the handler (and its counting) is over only once
 * `messages` says so, so that is waited for too. */
static void connect_known(fixture_t *f, int *fds, gs_session_id_t *ids, int n) {
    for (int i = 0; i < n; i++) {
        fds[i] = th_connect(f->port);
        ping(fds[i], 1, 1);
        expect_pong(fds[i], 1, 1);
        ids[i] = atomic_load(&f->ids[i]);
    }
    handled_goal_t g = {f, (uint64_t)n};
    assert_true(th_wait_until(handled_n, &g, 5000));
}

static void test_ping_pong_in_order(void **state) {
    (void)state;
    fixture_t f;
    start(&f, NULL);
    int fds[8];
    for (int i = 0; i < 8; i++)
        fds[i] = th_connect(f.port);
    pings_in_order(fds, 8, 200);
    /* The last Pongs can arrive before their handlers have returned and been counted. */
    handled_goal_t g = {&f, 1600};
    assert_true(th_wait_until(handled_n, &g, 5000));
    gs_app_stats_t st = stats(&f);
    assert_int_equal(st.messages, 1600);
    assert_int_equal(st.encodes, 1600);
    for (int i = 0; i < 8; i++)
        th_close(fds[i]);
    stop(&f);
    assert_int_equal(atomic_load(&f.opens), 8);
}

static void test_bad_frames_disconnect(void **state) {
    (void)state;
    fixture_t f;
    start(&f, NULL);
    /* Unknown id. */
    int a = th_connect(f.port);
    th_write_frame(a, 0x12345678, "x", 1);
    assert_int_equal(th_wait_eof(a, 5000), 0);
    /* Registered type without a handler. */
    int b = th_connect(f.port);
    Chat__RoomListRequest rl = CHAT__ROOM_LIST_REQUEST__INIT;
    send_msg(b, &rl.base);
    assert_int_equal(th_wait_eof(b, 5000), 0);
    /* A Ping whose body is not protobuf (a truncated varint). */
    int c = th_connect(f.port);
    const uint8_t garbage[] = {0x08, 0x80, 0x80, 0x80};
    th_write_frame(c, gs_msg_id_of_name("chat.Ping"), garbage, sizeof(garbage));
    assert_int_equal(th_wait_eof(c, 5000), 0);
    /* A JoinRequest whose room is not UTF-8 (an overlong '/'). */
    int e = th_connect(f.port);
    Chat__JoinRequest j = CHAT__JOIN_REQUEST__INIT;
    j.request_id = 5;
    j.room = "lobby";
    send_msg(e, &j.base);
    Chat__JoinReply *jr = (Chat__JoinReply *)recv_msg(e, &chat__join_reply__descriptor);
    assert_string_equal(jr->room, "lobby");
    protobuf_c_message_free_unpacked(&jr->base, NULL);
    const uint8_t bad_room[] = {0x08, 0x06, 0x12, 0x02, 0xC0, 0xAF};
    th_write_frame(e, gs_msg_id_of_name("chat.JoinRequest"), bad_room, sizeof(bad_room));
    assert_int_equal(th_wait_eof(e, 5000), 0);
    /* Another session is unaffected. */
    int d = th_connect(f.port);
    ping(d, 7, 70);
    expect_pong(d, 7, 70);
    gs_app_stats_t st = stats(&f);
    assert_int_equal(st.bad_id, 1);
    assert_int_equal(st.unhandled, 1);
    assert_int_equal(st.decode_failed, 2);
    assert_int_equal(st.bad_text, 1);
    th_close(a);
    th_close(b);
    th_close(c);
    th_close(d);
    th_close(e);
    stop(&f);
}

static void test_bad_frames_dropped(void **state) {
    (void)state;
    fixture_t f;
    start(&f, &(gs_app_config_t){.bad_frame = GS_BAD_FRAME_DROP});
    int a = th_connect(f.port);
    th_write_frame(a, 0x12345678, "x", 1);
    ping(a, 1, 10); /* the session lives on and the next valid frame works */
    expect_pong(a, 1, 10);
    assert_int_equal(stats(&f).bad_id, 1);
    th_close(a);
    stop(&f);
}

static int slow_started(void *arg) { return atomic_load(&((fixture_t *)arg)->slow_started); }

/* E09: one session's handler blocks; other sessions are served meanwhile. */
static void test_slow_handler_does_not_stall_others(void **state) {
    (void)state;
    fixture_t f;
    start(&f, &(gs_app_config_t){.workers = 2});
    int slow = th_connect(f.port);
    ping(slow, 999, 1);
    assert_true(th_wait_until(slow_started, &f, 5000));
    int fast = th_connect(f.port);
    for (uint32_t k = 1; k <= 100; k++) {
        ping(fast, k, k);
        expect_pong(fast, k, k);
    }
    /* The slow session's later frames wait behind its handler, in order. */
    ping(slow, 1000, 2);
    assert_int_equal(atomic_load(&f.slow_reply_rc), 0);
    atomic_store(&f.slow_release, 1);
    expect_pong(slow, 999, 1);
    expect_pong(slow, 1000, 2);
    th_close(slow);
    th_close(fast);
    stop(&f);
}

static int slow_replied(void *arg) { return atomic_load(&((fixture_t *)arg)->slow_reply_rc) != 0; }

/* C04: the session disconnects while its handler runs: the reply fails cleanly, the close
 * handler runs after the handler returns, and the session state is still valid in between. */
static void test_disconnect_during_handler(void **state) {
    (void)state;
    fixture_t f;
    start(&f, NULL);
    int fd = th_connect(f.port);
    ping(fd, 999, 1);
    assert_true(th_wait_until(slow_started, &f, 5000));
    th_close(fd);
    /* Wait for the net to see it: the session id goes stale. */
    gs_session_id_t id = atomic_load(&f.slow_session);
    uint64_t deadline = gs_now_ms() + 5000;
    for (gs_actor_t *a; (a = gs_app_session_actor(f.app, id)) != NULL;) {
        gs_actor_unref(a);
        assert_true(gs_now_ms() < deadline);
        gs_sleep_ms(1);
    }
    assert_int_equal(atomic_load(&f.closes), 0); /* close waits for the handler */
    atomic_store(&f.slow_release, 1);
    assert_true(th_wait_until(slow_replied, &f, 5000));
    int rc = atomic_load(&f.slow_reply_rc);
    assert_true(rc == GS_ESTALE || rc == GS_ECLOSING);
    stop(&f);
    assert_int_equal(atomic_load(&f.closes), 1);
}

/* Sends and broadcasts from a thread that is not a worker; one encode per broadcast. */
typedef struct bc_arg {
    gs_app_t *app;
    gs_session_id_t ids[4];
} bc_arg_t;

static void broadcaster(void *arg) {
    bc_arg_t *b = arg;
    for (uint32_t k = 1; k <= 50; k++) {
        Chat__Pong p = CHAT__PONG__INIT;
        p.request_id = k;
        size_t sent = 0;
        assert_int_equal(gs_app_broadcast(b->app, b->ids, 4, &p.base, &sent), 0);
        assert_int_equal(sent, 4);
    }
}

static void test_broadcast_from_user_thread(void **state) {
    (void)state;
    fixture_t f;
    start(&f, NULL);
    int fds[4];
    bc_arg_t b = {.app = f.app};
    connect_known(&f, fds, b.ids, 4);
    gs_app_stats_t before = stats(&f);
    gs_thread_t *t;
    assert_int_equal(gs_thread_start(&t, broadcaster, &b, "bcast"), 0);
    gs_thread_join(t);
    for (int i = 0; i < 4; i++)
        for (uint32_t k = 1; k <= 50; k++)
            expect_pong(fds[i], k, 0);
    gs_app_stats_t after = stats(&f);
    assert_int_equal(after.encodes - before.encodes, 50);
    assert_int_equal(after.broadcasts - before.broadcasts, 50);
    assert_int_equal(after.sends - before.sends, 200);
    for (int i = 0; i < 4; i++)
        th_close(fds[i]);
    stop(&f);
}

/* Encode once, send later: gs_app_encode gives the caller a packet it may send to any session
 * (from any thread) with gs_app_send_packet, which takes its own reference. */
static void test_encode_then_send_packet(void **state) {
    (void)state;
    fixture_t f;
    start(&f, NULL);
    int fds[2];
    gs_session_id_t ids[2];
    connect_known(&f, fds, ids, 2);
    gs_app_stats_t before = stats(&f);
    Chat__Pong p = CHAT__PONG__INIT;
    p.request_id = 77;
    p.client_time_us = 5;
    gs_packet_t *pkt = NULL;
    assert_int_equal(gs_app_encode(f.app, &p.base, &pkt), 0);
    assert_non_null(pkt);
    assert_int_equal(gs_app_send_packet(f.app, ids[0], pkt), 0);
    assert_int_equal(gs_app_send_packet(f.app, ids[1], pkt), 0);
    /* A stale id (same slot, another generation) is refused and takes no reference. */
    assert_int_equal(gs_app_send_packet(f.app, ids[0] + ((gs_session_id_t)1 << 32), pkt),
                     GS_ESTALE);
    gs_packet_unref(pkt); /* the caller's; the queued ones keep the packet alive */
    for (int i = 0; i < 2; i++)
        expect_pong(fds[i], 77, 5);
    gs_app_stats_t after = stats(&f);
    assert_int_equal(after.encodes - before.encodes, 1);
    assert_int_equal(after.sends - before.sends, 2);
    assert_int_equal(after.send_failed - before.send_failed, 1);
    /* No message: an encode error, and no packet. */
    pkt = NULL;
    assert_int_not_equal(gs_app_encode(f.app, NULL, &pkt), 0);
    assert_null(pkt);
    for (int i = 0; i < 2; i++)
        th_close(fds[i]);
    stop(&f);
}

/* Overload: with max_jobs 1 and the only worker blocked, further frames are shed and the
 * session is cut (the default policy). */
static void test_overload_disconnects(void **state) {
    (void)state;
    fixture_t f;
    start(&f, &(gs_app_config_t){.workers = 1, .max_jobs = 1});
    int fd = th_connect(f.port);
    ping(fd, 999, 1);
    assert_true(th_wait_until(slow_started, &f, 5000));
    ping(fd, 2, 2); /* pending: 1 */
    ping(fd, 3, 3); /* over max_jobs: shed, disconnect */
    uint64_t deadline = gs_now_ms() + 5000;
    while (stats(&f).frames_shed == 0) {
        assert_true(gs_now_ms() < deadline);
        gs_sleep_ms(1);
    }
    atomic_store(&f.slow_release, 1);
    assert_int_equal(th_wait_eof(fd, 5000), 0);
    th_close(fd);
    stop(&f);
}

static int flood_queued(void *arg) {
    gs_app_stats_t st = stats(arg);
    return st.frames_shed > 0 || st.jobs_pending >= 64;
}

/* Item 7 of issue 11: a session whose handler is stuck floods. It fills its own budget
 * (max_session_jobs) and is the one cut; another session's frames still get in and are served.
 * (With one global budget only, the flood fills max_jobs without passing it, and the other
 * session's next frame is the one refused.) */
static void test_slow_session_fills_only_its_budget(void **state) {
    (void)state;
    fixture_t f;
    start(&f, &(gs_app_config_t){.workers = 2, .max_jobs = 64, .max_session_jobs = 16});
    int other = th_connect(f.port);
    ping(other, 1, 1);
    expect_pong(other, 1, 1);
    int slow = th_connect(f.port);
    ping(slow, 999, 1);
    assert_true(th_wait_until(slow_started, &f, 5000));
    for (uint32_t k = 2; k <= 65; k++) {
        Chat__Ping p = CHAT__PING__INIT;
        p.request_id = k;
        uint8_t body[32], hdr[GS_FRAME_HEADER_SIZE];
        size_t n = protobuf_c_message_pack(&p.base, body);
        gs_frame_header_write(hdr, (uint32_t)n, gs_msg_id_of_name("chat.Ping"));
        if (th_try_write_all(slow, hdr, sizeof(hdr)) != 0 || th_try_write_all(slow, body, n) != 0)
            break; /* already cut */
    }
    assert_true(th_wait_until(flood_queued, &f, 5000));
    ping(other, 2, 2);
    expect_pong(other, 2, 2);
    assert_int_equal(th_wait_eof(slow, 5000), 0);
    gs_app_stats_t st = stats(&f);
    assert_true(st.session_shed >= 1);
    assert_true(st.jobs_pending <= 16);
    atomic_store(&f.slow_release, 1);
    ping(other, 3, 3);
    expect_pong(other, 3, 3);
    th_close(slow);
    th_close(other);
    stop(&f);
}

/* The on_bad_frame hook: replies with an Error naming what it saw (code = kind, request_id =
 * -err, request_msg_id = the frame's id), keeps the session for bad text, closes it otherwise. */
static gs_bad_frame_policy_t hook(gs_ctx_t *ctx, const gs_bad_frame_t *bf, void *user) {
    fixture_t *f = user;
    if (!ctx->session_user)
        atomic_fetch_add(&f->order_errors, 1); /* runs on the session actor, after open */
    if ((bf->kind == GS_BAD_FRAME_UNKNOWN_ID) != (bf->type == NULL) || (bf->len && !bf->body))
        atomic_fetch_add(&f->order_errors, 1);
    Chat__Error e = CHAT__ERROR__INIT;
    e.code = (Chat__ErrorCode)bf->kind;
    e.request_id = (uint32_t)-bf->err;
    e.request_msg_id = bf->msg_id;
    gs_app_send(ctx->app, ctx->session, &e.base);
    return bf->err == GS_EBADTEXT ? GS_BAD_FRAME_DROP : GS_BAD_FRAME_DISCONNECT;
}

static void expect_hook_error(int fd, gs_bad_frame_kind_t kind, int err, uint32_t msg_id) {
    Chat__Error *e = (Chat__Error *)recv_msg(fd, &chat__error__descriptor);
    assert_int_equal(e->code, kind);
    assert_int_equal(e->request_id, (uint32_t)-err);
    assert_int_equal(e->request_msg_id, msg_id);
    protobuf_c_message_free_unpacked(&e->base, NULL);
}

/* Item 11 of issue 11: with a hook, the app answers a bad frame in its own protocol before the
 * policy applies; a frame queued behind a closing one is not handled. */
static void test_bad_frame_hook_replies(void **state) {
    (void)state;
    fixture_t f;
    memset(&f, 0, sizeof(f));
    gs_app_config_t c = {0};
    assert_int_equal(gs_app_create(&f.app, &c), 0);
    assert_int_equal(chat_proto_register(gs_app_registry(f.app)), 0);
    assert_int_equal(gs_app_on_message(f.app, &chat__ping__descriptor, on_ping, &f), 0);
    assert_int_equal(gs_app_on_message(f.app, &chat__join_request__descriptor, on_join, &f), 0);
    assert_int_equal(gs_app_on_session(f.app, on_open, on_close, &f), 0);
    assert_int_equal(gs_app_on_bad_frame(f.app, hook, &f), 0);
    assert_int_equal(gs_app_listen(f.app, &(gs_listen_config_t){.port = 0}), 0);
    assert_int_equal(gs_app_start(f.app), 0);
    assert_int_equal(gs_app_on_bad_frame(f.app, hook, &f), GS_ESTATE);
    f.port = gs_app_listen_port(f.app);
    /* Unknown id, then a Ping in the same write: the error, then the close, and no Pong. */
    int a = th_connect(f.port);
    th_write_frame(a, 0x12345678, "x", 1);
    ping(a, 1, 1);
    expect_hook_error(a, GS_BAD_FRAME_UNKNOWN_ID, GS_EBADID, 0x12345678);
    assert_int_equal(th_wait_eof(a, 5000), 0);
    /* A registered type nobody handles (a server-to-client message). */
    int b = th_connect(f.port);
    Chat__ChatDelivery d = CHAT__CHAT_DELIVERY__INIT;
    send_msg(b, &d.base);
    expect_hook_error(b, GS_BAD_FRAME_UNHANDLED, GS_EBADID, gs_msg_id_of_name("chat.ChatDelivery"));
    assert_int_equal(th_wait_eof(b, 5000), 0);
    /* Invalid UTF-8: the hook keeps the session, which goes on. */
    int e = th_connect(f.port);
    const uint8_t bad_room[] = {0x08, 0x06, 0x12, 0x02, 0xC0, 0xAF};
    th_write_frame(e, gs_msg_id_of_name("chat.JoinRequest"), bad_room, sizeof(bad_room));
    expect_hook_error(e, GS_BAD_FRAME_UNDECODABLE, GS_EBADTEXT,
                      gs_msg_id_of_name("chat.JoinRequest"));
    ping(e, 2, 2);
    expect_pong(e, 2, 2);
    /* Not protobuf at all. */
    const uint8_t garbage[] = {0x08, 0x80, 0x80, 0x80};
    th_write_frame(e, gs_msg_id_of_name("chat.Ping"), garbage, sizeof(garbage));
    expect_hook_error(e, GS_BAD_FRAME_UNDECODABLE, GS_EBADMSG, gs_msg_id_of_name("chat.Ping"));
    assert_int_equal(th_wait_eof(e, 5000), 0);
    gs_app_stats_t st = stats(&f);
    assert_int_equal(st.bad_id, 1);
    assert_int_equal(st.unhandled, 1);
    assert_int_equal(st.decode_failed, 2);
    th_close(a);
    th_close(b);
    th_close(e);
    stop(&f);
}

/* A repeating timer posts to a session's actor (serial with its frames: it sees the session
 * state), and is cancelled. */
static void tick(gs_ctx_t *ctx, void *data, size_t len) {
    (void)len;
    fixture_t *f = *(fixture_t **)data;
    if (ctx->session_user == NULL)
        atomic_fetch_add(&f->order_errors, 1);
    note_thread(f, ctx->app);
    atomic_fetch_add(&f->timer_runs, 1);
}

static int ticked(void *arg) { return atomic_load(&((fixture_t *)arg)->timer_runs) >= 3; }

/* A repeating timer posting to the first session's actor runs (until cancelled). */
static void timer_ticks_on_first_session(fixture_t *f) {
    gs_actor_t *a = gs_app_session_actor(f->app, atomic_load(&f->ids[0]));
    assert_non_null(a);
    gs_timer_id_t t = gs_app_timer(f->app, a, 5, 5, tick, &f, sizeof(f));
    assert_true(t != 0);
    gs_actor_unref(a);
    assert_true(th_wait_until(ticked, f, 5000));
    assert_int_equal(gs_app_timer_cancel(f->app, t), 0);
}

static void test_timer_on_session_actor(void **state) {
    (void)state;
    fixture_t f;
    start(&f, NULL);
    int fd = th_connect(f.port);
    ping(fd, 1, 1);
    expect_pong(fd, 1, 1);
    timer_ticks_on_first_session(&f);
    th_close(fd);
    stop(&f);
}

/* run_on_io_thread: every job (opens, messages, a timer's runs posted from the timer thread)
 * runs on the net's IO thread, in each session's order; the close jobs still run. */
static void test_jobs_on_io_thread(void **state) {
    (void)state;
    fixture_t f;
    start(&f, &(gs_app_config_t){.run_on_io_thread = 1});
    int fds[4];
    for (int i = 0; i < 4; i++)
        fds[i] = th_connect(f.port);
    pings_in_order(fds, 4, 100);
    /* A timer thread's post must wake the IO thread (nothing else would). */
    timer_ticks_on_first_session(&f);
    assert_int_equal(atomic_load(&f.thread_errors), 0);
    assert_int_equal(atomic_load(&f.off_io_thread), 0);
    assert_true(atomic_load(&f.handler_thread) != 0);
    assert_true(atomic_load(&f.handler_thread) != (uintptr_t)&thread_mark);
    for (int i = 0; i < 4; i++)
        th_close(fds[i]);
    stop(&f); /* every open has its close, every posted job ran */
    assert_int_equal(atomic_load(&f.opens), 4);
}

static void test_io_thread_needs_one_io_thread(void **state) {
    (void)state;
    gs_app_t *app = NULL;
    gs_app_config_t c = {.run_on_io_thread = 1, .net = {.io_threads = 2}};
    assert_int_equal(gs_app_create(&app, &c), GS_EINVAL);
    assert_null(app);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jobs_on_io_thread),
        cmocka_unit_test(test_io_thread_needs_one_io_thread),
        cmocka_unit_test(test_ping_pong_in_order),
        cmocka_unit_test(test_bad_frames_disconnect),
        cmocka_unit_test(test_bad_frames_dropped),
        cmocka_unit_test(test_slow_handler_does_not_stall_others),
        cmocka_unit_test(test_disconnect_during_handler),
        cmocka_unit_test(test_broadcast_from_user_thread),
        cmocka_unit_test(test_encode_then_send_packet),
        cmocka_unit_test(test_overload_disconnects),
        cmocka_unit_test(test_slow_session_fills_only_its_budget),
        cmocka_unit_test(test_bad_frame_hook_replies),
        cmocka_unit_test(test_timer_on_session_actor),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

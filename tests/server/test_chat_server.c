/* SPDX-License-Identifier: MIT */
/* gs-chat-server in-process over real sockets: login rules, pre-login cut (A18), rooms, chat
 * fan-out, whispers, limits, a flooding client cut while others are served (B12), and clean-up
 * when sessions go. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_test.h"

#include "chat.h"
#include "net_harness.h"
#include "pb_client.h"

typedef struct fx {
    chat_server_t s;
    uint16_t port;
    gs_msg_registry_t *reg;
} fx_t;

/* The second run of the suite runs every handler on the IO thread (gs_app_config_t's
 * run_on_io_thread) instead of on two workers. */
static int g_on_io_thread;

static void start_cfg(fx_t *f, const chat_limits_t *lim, uint32_t max_body,
                      uint32_t max_session_jobs) {
    chat_server_config_t cfg = {.host = "127.0.0.1",
                                .port = 0,
                                .io_threads = 1,
                                .workers = 2,
                                .on_io_thread = g_on_io_thread,
                                .max_body = max_body,
                                .max_session_jobs = max_session_jobs};
    chat_limits_default(&cfg.lim);
    if (lim)
        cfg.lim = *lim;
    assert_int_equal(chat_server_start(&f->s, &cfg), 0);
    f->port = gs_app_listen_port(f->s.app);
    f->reg = gs_msg_registry_create(0);
    assert_int_equal(chat_proto_register(f->reg), 0);
}

static void start_with(fx_t *f, const chat_limits_t *lim, uint32_t max_body) {
    start_cfg(f, lim, max_body, 0);
}

static void start(fx_t *f, const chat_limits_t *lim) { start_with(f, lim, 0); }

static void stop(fx_t *f) {
    gs_app_stats_t st;
    gs_app_stop(f->s.app, 1000);
    gs_app_stats(f->s.app, &st);
    /* Every room emptied and was forgotten; every job ran; nothing left in the pool. */
    assert_int_equal(atomic_load(&f->s.ctr.rooms), 0);
    assert_int_equal(st.jobs_posted, st.jobs_run);
    chat_server_stop(&f->s, 0);
    gs_msg_registry_destroy(f->reg);
}

static void free_msg(ProtobufCMessage *m) { protobuf_c_message_free_unpacked(m, NULL); }

/* Expect an Error with this code for this request. */
static void expect_error(fx_t *f, int fd, uint32_t req, Chat__ErrorCode code) {
    Chat__Error *e = (Chat__Error *)tc_expect(fd, f->reg, &chat__error__descriptor);
    assert_int_equal(e->request_id, req);
    if (e->code != code)
        fail_msg("error code %d (%s), expected %d", e->code, e->detail, code);
    free_msg(&e->base);
}

static void send_login(int fd, uint32_t req, const char *nick) {
    Chat__LoginRequest r = CHAT__LOGIN_REQUEST__INIT;
    r.request_id = req;
    r.nickname = (char *)(uintptr_t)nick;
    tc_send(fd, &r.base);
}

static int login(fx_t *f, const char *nick) {
    int fd = th_connect(f->port);
    send_login(fd, 1, nick);
    Chat__LoginReply *r = (Chat__LoginReply *)tc_expect(fd, f->reg, &chat__login_reply__descriptor);
    assert_int_equal(r->request_id, 1);
    assert_string_equal(r->nickname, nick);
    free_msg(&r->base);
    return fd;
}

static void send_join(int fd, uint32_t req, const char *room) {
    Chat__JoinRequest r = CHAT__JOIN_REQUEST__INIT;
    r.request_id = req;
    r.room = (char *)(uintptr_t)room;
    tc_send(fd, &r.base);
}

/* Join and check the member count in the reply. */
static void join(fx_t *f, int fd, uint32_t req, const char *room, size_t members) {
    send_join(fd, req, room);
    Chat__JoinReply *r = (Chat__JoinReply *)tc_expect(fd, f->reg, &chat__join_reply__descriptor);
    assert_int_equal(r->request_id, req);
    assert_string_equal(r->room, room);
    assert_int_equal(r->n_members, members);
    free_msg(&r->base);
}

static void expect_event(fx_t *f, int fd, const char *room, const char *nick,
                         Chat__RoomEvent__Kind kind) {
    Chat__RoomEvent *e = (Chat__RoomEvent *)tc_expect(fd, f->reg, &chat__room_event__descriptor);
    assert_string_equal(e->room, room);
    assert_string_equal(e->nickname, nick);
    assert_int_equal(e->kind, kind);
    free_msg(&e->base);
}

static void send_chat(int fd, uint32_t req, const char *room, const char *text, uint64_t seq) {
    Chat__ChatSend c = CHAT__CHAT_SEND__INIT;
    c.request_id = req;
    c.room = (char *)(uintptr_t)room;
    c.text = (char *)(uintptr_t)text;
    c.seq = seq;
    c.sent_at_us = 42;
    tc_send(fd, &c.base);
}

static void expect_chat(fx_t *f, int fd, const char *room, const char *sender, const char *text,
                        uint64_t seq) {
    Chat__ChatDelivery *d =
        (Chat__ChatDelivery *)tc_expect(fd, f->reg, &chat__chat_delivery__descriptor);
    assert_string_equal(d->room, room);
    assert_string_equal(d->sender, sender);
    assert_string_equal(d->text, text);
    assert_int_equal(d->seq, seq);
    assert_int_equal(d->sent_at_us, 42);
    assert_true(d->server_time_us > 0);
    free_msg(&d->base);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_login_rules(void **state) {
    (void)state;
    fx_t f;
    start(&f, NULL);
    int a = login(&f, "alice");
    /* Taken, then invalid in every way, then a valid one on the same connection. */
    int b = th_connect(f.port);
    send_login(b, 2, "alice");
    expect_error(&f, b, 2, CHAT__ERROR_CODE__ERROR_NICK_TAKEN);
    const char *bad[] = {"ab",
                         "abcdefghijklmnopq",
                         "bad\x1bnick",
                         ("\xE2\x80\xAE"
                          "evil"), /* U+202E RLO, then "evil" */
                         "zero\xE2\x80\x8Bwidth",
                         "new\nline"};
    for (uint32_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        send_login(b, 10 + i, bad[i]);
        expect_error(&f, b, 10 + i, CHAT__ERROR_CODE__ERROR_NICK_INVALID);
    }
    /* 16 characters of 2-byte UTF-8 are fine: the limit counts characters, not bytes. */
    const char *greek = "\xCE\xB1\xCE\xB2\xCE\xB3\xCE\xB4\xCE\xB5\xCE\xB6\xCE\xB7\xCE\xB8"
                        "\xCE\xB9\xCE\xBA\xCE\xBB\xCE\xBC\xCE\xBD\xCE\xBE\xCE\xBF\xCF\x80";
    send_login(b, 20, greek);
    Chat__LoginReply *r = (Chat__LoginReply *)tc_expect(b, f.reg, &chat__login_reply__descriptor);
    assert_string_equal(r->nickname, greek);
    assert_int_equal(r->max_text_bytes, 1024);
    free_msg(&r->base);
    send_login(b, 21, "again");
    expect_error(&f, b, 21, CHAT__ERROR_CODE__ERROR_ALREADY_LOGGED_IN);
    /* A nickname comes free when its session goes. */
    th_close(a);
    for (uint64_t deadline = gs_now_ms() + 5000;;) {
        int c = th_connect(f.port);
        send_login(c, 1, "alice");
        ProtobufCMessage *m = tc_recv(c, f.reg);
        int ok = m->descriptor == &chat__login_reply__descriptor;
        free_msg(m);
        th_close(c);
        if (ok)
            break;
        assert_true(gs_now_ms() < deadline); /* the close reaches the lobby asynchronously */
        gs_sleep_ms(2);
    }
    th_close(b);
    stop(&f);
}

/* A18: anything but login before login is answered and cut. */
static void test_pre_login_cut(void **state) {
    (void)state;
    fx_t f;
    start(&f, NULL);
    int fd = th_connect(f.port);
    send_chat(fd, 5, "lobby", "hi", 1);
    expect_error(&f, fd, 5, CHAT__ERROR_CODE__ERROR_NOT_LOGGED_IN);
    assert_int_equal(th_wait_eof(fd, 5000), 0);
    th_close(fd);
    assert_int_equal(atomic_load(&f.s.ctr.pre_login_cut), 1);
    stop(&f);
}

static void test_rooms_and_chat(void **state) {
    (void)state;
    fx_t f;
    start(&f, NULL);
    int a = login(&f, "alice"), b = login(&f, "bob");
    join(&f, a, 2, "lobby", 1);
    join(&f, b, 2, "lobby", 2);
    expect_event(&f, a, "lobby", "bob", CHAT__ROOM_EVENT__KIND__KIND_JOINED);
    /* Everyone in the room gets every chat, the sender included, in the sender's order. */
    for (uint64_t k = 1; k <= 20; k++)
        send_chat(a, 100, "lobby", k % 2 ? "hello" : "h\xC3\xA9llo\tw\xE2\x80\xAEorld", k);
    for (uint64_t k = 1; k <= 20; k++) {
        const char *t = k % 2 ? "hello" : "h\xC3\xA9llo\tw\xE2\x80\xAEorld";
        expect_chat(&f, a, "lobby", "alice", t, k);
        expect_chat(&f, b, "lobby", "alice", t, k);
    }
    /* Not a member, already a member. */
    send_chat(a, 7, "elsewhere", "x", 21);
    expect_error(&f, a, 7, CHAT__ERROR_CODE__ERROR_NOT_IN_ROOM);
    send_join(a, 8, "lobby");
    expect_error(&f, a, 8, CHAT__ERROR_CODE__ERROR_BAD_REQUEST);
    /* Room list. */
    join(&f, a, 9, "games", 1);
    Chat__RoomListRequest lr = CHAT__ROOM_LIST_REQUEST__INIT;
    lr.request_id = 10;
    tc_send(b, &lr.base);
    Chat__RoomList *rl = (Chat__RoomList *)tc_expect(b, f.reg, &chat__room_list__descriptor);
    assert_int_equal(rl->request_id, 10);
    assert_int_equal(rl->n_rooms, 2);
    for (size_t i = 0; i < rl->n_rooms; i++)
        assert_int_equal(rl->rooms[i]->members, strcmp(rl->rooms[i]->name, "lobby") ? 1 : 2);
    free_msg(&rl->base);
    /* Leave: a reply to the leaver, an event to the others. */
    Chat__LeaveRequest lv = CHAT__LEAVE_REQUEST__INIT;
    lv.request_id = 11;
    lv.room = "lobby";
    tc_send(b, &lv.base);
    Chat__LeaveReply *lrp = (Chat__LeaveReply *)tc_expect(b, f.reg, &chat__leave_reply__descriptor);
    assert_int_equal(lrp->request_id, 11);
    free_msg(&lrp->base);
    expect_event(&f, a, "lobby", "bob", CHAT__ROOM_EVENT__KIND__KIND_LEFT);
    tc_send(b, &lv.base);
    expect_error(&f, b, 11, CHAT__ERROR_CODE__ERROR_NOT_IN_ROOM);
    /* A session that goes leaves its rooms. */
    join(&f, b, 12, "games", 2);
    expect_event(&f, a, "games", "bob", CHAT__ROOM_EVENT__KIND__KIND_JOINED);
    th_close(b);
    expect_event(&f, a, "games", "bob", CHAT__ROOM_EVENT__KIND__KIND_LEFT);
    th_close(a);
    stop(&f);
}

/* ---- a join's reply comes after the session has recorded the join ----------------------- */

/* A job that holds its actor (and the worker running it) until the test opens its gate. */
static int gate_is_open(void *arg) { return atomic_load((_Atomic int *)arg); }
static void gate_job(gs_ctx_t *ctx, void *data, size_t len) {
    (void)ctx, (void)len;
    th_wait_until(gate_is_open, *(_Atomic int **)data, 10000);
}
static void close_gate_on(gs_actor_t *a, _Atomic int *gate) {
    atomic_store(gate, 0);
    assert_int_equal(gs_actor_post(a, gate_job, &gate, sizeof(gate)), 0);
}

/* The session actor of the only open session. Ids are (generation << 32) | slot, and every slot
 * of a fresh server is at generation 1. */
static gs_actor_t *only_session_actor(fx_t *f) {
    gs_actor_t *found = NULL;
    for (uint32_t slot = 0; slot < 16384; slot++) {
        gs_actor_t *a = gs_app_session_actor(f->s.app, ((gs_session_id_t)1 << 32) | slot);
        if (!a)
            continue;
        assert_null(found);
        found = a;
    }
    assert_non_null(found);
    return found;
}

static void ping(fx_t *f, int fd, uint32_t req) {
    Chat__Ping p = CHAT__PING__INIT;
    p.request_id = req;
    tc_send(fd, &p.base);
    Chat__Pong *r = (Chat__Pong *)tc_expect(fd, f->reg, &chat__pong__descriptor);
    assert_int_equal(r->request_id, req);
    free_msg(&r->base);
}

/* A client that chats as soon as it reads its JoinReply must be in the room (CI once saw
 * ERROR_NOT_IN_ROOM there: the room answered before the session knew). Hold the session actor
 * while the room accepts the join: the reply must wait for it. */
static void test_join_reply_after_session_knows(void **state) {
    (void)state;
    /* Not in the IO-thread run (main): a held job would hold the IO thread, and the pings with
     * it. */
    assert_false(g_on_io_thread);
    static _Atomic int lobby_gate, session_gate;
    fx_t f;
    chat_limits_t lim;
    chat_limits_default(&lim);
    lim.rate_per_s = lim.burst = 1000000; /* bob polls the room list */
    start(&f, &lim);
    int a = login(&f, "alice");
    gs_actor_t *session = only_session_actor(&f);
    /* Hold the lobby (one worker), so the session handles the join and posts it on, then
     * answers a ping. */
    close_gate_on(f.s.lobby, &lobby_gate);
    send_join(a, 2, "lobby");
    /* A chat before the reply is refused, and says why. */
    send_chat(a, 9, "lobby", "too early", 1);
    Chat__Error *e = (Chat__Error *)tc_expect(a, f.reg, &chat__error__descriptor);
    assert_int_equal(e->request_id, 9);
    assert_int_equal(e->code, CHAT__ERROR_CODE__ERROR_NOT_IN_ROOM);
    assert_string_equal(e->detail, "join still in progress");
    free_msg(&e->base);
    ping(&f, a, 3);
    /* Hold the session (the other worker), then let the lobby and the room go on. */
    close_gate_on(session, &session_gate);
    atomic_store(&lobby_gate, 1);
    /* Bob (on the free worker) sees the room with its member once the room took the join. */
    int b = login(&f, "bob");
    int seen = 0;
    for (uint32_t req = 10; !seen && req < 5010; req++) {
        Chat__RoomListRequest lr = CHAT__ROOM_LIST_REQUEST__INIT;
        lr.request_id = req;
        tc_send(b, &lr.base);
        Chat__RoomList *rl = (Chat__RoomList *)tc_expect(b, f.reg, &chat__room_list__descriptor);
        seen = rl->n_rooms == 1 && rl->rooms[0]->members == 1;
        free_msg(&rl->base);
    }
    assert_true(seen);
    /* The reply must not come while the session cannot record the join. */
    unsigned char byte;
    assert_int_equal(th_read_exact(a, &byte, 1, 300), -1);
    atomic_store(&session_gate, 1);
    Chat__JoinReply *r = (Chat__JoinReply *)tc_expect(a, f.reg, &chat__join_reply__descriptor);
    assert_int_equal(r->request_id, 2);
    free_msg(&r->base);
    send_chat(a, 4, "lobby", "first", 1);
    expect_chat(&f, a, "lobby", "alice", "first", 1);
    gs_actor_unref(session);
    th_close(b);
    th_close(a);
    stop(&f);
}

/* A nickname of 16 four-byte characters (the longest there is), the last one varying with i. */
static void long_nick(char *out, uint32_t i) {
    for (int k = 0; k < 16; k++)
        memcpy(out + 4 * k, "\xF0\x9F\x98\x80", 4);
    out[63] = (char)(0x80 + i); /* U+1F600 + i, i < 64 */
    out[64] = '\0';
}

/* Item 9 of issue 11: members per room times the longest nickname must fit a JoinReply. Limits
 * that do not fit refuse to start; at the largest that fits, the last member's JoinReply (every
 * nickname 64 bytes, the room name 128) still arrives, and one more member is ROOM_FULL. */
static void test_join_reply_fits_at_member_limit(void **state) {
    (void)state;
    enum { BODY = 2048, MEMBERS = 28 }; /* (2048 - 11 - 131) / 66 */
    chat_limits_t lim;
    chat_limits_default(&lim);
    lim.max_members_per_room = MEMBERS + 1;
    chat_server_config_t cfg = {.host = "127.0.0.1", .max_body = BODY, .lim = lim};
    chat_server_t bad;
    assert_int_equal(chat_server_start(&bad, &cfg), GS_EINVAL);
    chat_limits_default(&lim);
    lim.max_members_per_room = 900; /* the default fits the default 64 KiB */
    assert_int_equal(chat_limits_check(&lim, 0), GS_EINVAL);
    assert_int_equal(chat_limits_check(&lim, 65536), 0);
    lim.max_members_per_room = MEMBERS;
    fx_t f;
    start_with(&f, &lim, BODY);
    char room[129];
    for (int k = 0; k < 32; k++)
        memcpy(room + 4 * k, "\xF0\x9F\x8E\xB2", 4);
    room[128] = '\0';
    int fds[MEMBERS + 1];
    for (uint32_t i = 0; i <= MEMBERS; i++) {
        char nick[65];
        long_nick(nick, i);
        fds[i] = login(&f, nick);
        if (i < MEMBERS) {
            join(&f, fds[i], 2, room, i + 1);
        } else {
            send_join(fds[i], 2, room);
            expect_error(&f, fds[i], 2, CHAT__ERROR_CODE__ERROR_ROOM_FULL);
        }
    }
    for (uint32_t i = 0; i <= MEMBERS; i++)
        th_close(fds[i]);
    stop(&f);
}

/* Item 9 of issue 11: a room list larger than one frame comes in pages (it used to get no
 * reply at all); the walk lists every room once, in name order. */
static void test_room_list_pages(void **state) {
    (void)state;
    enum { ROOMS = 60 };
    chat_limits_t lim;
    chat_limits_default(&lim);
    lim.max_members_per_room = 10;
    lim.max_rooms_per_user = ROOMS;
    lim.rate_per_s = lim.burst = 1000;
    fx_t f;
    start_with(&f, &lim, 1500); /* 60 rooms take about 2300 bytes */
    int a = login(&f, "alice");
    for (uint32_t i = 0; i < ROOMS; i++) {
        char name[33];
        snprintf(name, sizeof(name), "room-%02u-abcdefghijklmnopqrstuvwx",
                 (unsigned)(ROOMS - 1 - i));
        join(&f, a, 10 + i, name, 1);
    }
    char after[129] = "", prev[129] = "";
    uint32_t seen = 0, pages = 0;
    do {
        Chat__RoomListRequest lr = CHAT__ROOM_LIST_REQUEST__INIT;
        lr.request_id = 100 + pages;
        lr.after = after;
        tc_send(a, &lr.base);
        Chat__RoomList *rl = (Chat__RoomList *)tc_expect(a, f.reg, &chat__room_list__descriptor);
        assert_int_equal(rl->request_id, 100 + pages);
        assert_true(rl->n_rooms > 0);
        for (size_t i = 0; i < rl->n_rooms; i++) {
            assert_true(strcmp(rl->rooms[i]->name, prev) > 0);
            snprintf(prev, sizeof(prev), "%s", rl->rooms[i]->name);
            assert_int_equal(rl->rooms[i]->members, 1);
            seen++;
        }
        snprintf(after, sizeof(after), "%s", rl->next);
        free_msg(&rl->base);
        pages++;
    } while (after[0] && pages < 100);
    assert_int_equal(seen, ROOMS);
    assert_true(pages >= 2);
    th_close(a);
    stop(&f);
}

/* Items 10 and 11 of issue 11: Ping is answered before login (chat.proto: "any time"), and a
 * connection that does not log in within the login deadline is told and cut; a logged-in one
 * is not. */
static void test_ping_before_login_and_deadline(void **state) {
    (void)state;
    chat_limits_t lim;
    chat_limits_default(&lim);
    lim.login_timeout_ms = 300;
    fx_t f;
    start(&f, &lim);
    int b = login(&f, "bob");
    uint64_t t0 = gs_now_ms();
    int a = th_connect(f.port);
    ping(&f, a, 1);
    expect_error(&f, a, 0, CHAT__ERROR_CODE__ERROR_NOT_LOGGED_IN);
    assert_int_equal(th_wait_eof(a, 5000), 0);
    assert_true(gs_now_ms() - t0 >= 250);
    assert_int_equal(atomic_load(&f.s.ctr.pre_login_cut), 1);
    gs_sleep_ms(100);
    ping(&f, b, 2); /* logged in before its deadline: it stays */
    th_close(a);
    th_close(b);
    stop(&f);
}

/* Item 11 of issue 11: the errors chat.proto promises, instead of a silent cut. */
static void test_bad_requests_answered(void **state) {
    (void)state;
    fx_t f;
    start(&f, NULL);
    /* A nickname that is not UTF-8: NICK_INVALID, and the session may try again. */
    int a = th_connect(f.port);
    const uint8_t bad_nick[] = {0x08, 0x04, 0x12, 0x04, 'a', 'b', 0xC0, 0xAF};
    th_write_frame(a, gs_msg_id_of_name("chat.LoginRequest"), bad_nick, sizeof(bad_nick));
    expect_error(&f, a, 4, CHAT__ERROR_CODE__ERROR_NICK_INVALID);
    send_login(a, 1, "alice");
    Chat__LoginReply *lr = (Chat__LoginReply *)tc_expect(a, f.reg, &chat__login_reply__descriptor);
    free_msg(&lr->base);
    join(&f, a, 2, "r", 1);
    /* Chat text that is not UTF-8, or holds NUL: TEXT_INVALID, the session goes on. */
    const uint8_t bad_text[] = {0x08, 0x07, 0x12, 0x01, 'r', 0x1a, 0x02, 0xC0, 0xAF};
    th_write_frame(a, gs_msg_id_of_name("chat.ChatSend"), bad_text, sizeof(bad_text));
    expect_error(&f, a, 7, CHAT__ERROR_CODE__ERROR_TEXT_INVALID);
    const uint8_t nul_text[] = {0x08, 0x08, 0x12, 0x01, 'r', 0x1a, 0x02, 'h', 0x00};
    th_write_frame(a, gs_msg_id_of_name("chat.ChatSend"), nul_text, sizeof(nul_text));
    expect_error(&f, a, 8, CHAT__ERROR_CODE__ERROR_TEXT_INVALID);
    ping(&f, a, 9);
    /* A message only the server sends: BAD_REQUEST, then the close. */
    Chat__ChatDelivery d = CHAT__CHAT_DELIVERY__INIT;
    tc_send(a, &d.base);
    expect_error(&f, a, 0, CHAT__ERROR_CODE__ERROR_BAD_REQUEST);
    assert_int_equal(th_wait_eof(a, 5000), 0);
    /* A body that is not protobuf, and an unknown message id: the same. */
    int b = login(&f, "bob");
    const uint8_t garbage[] = {0x08, 0x80, 0x80, 0x80};
    th_write_frame(b, gs_msg_id_of_name("chat.Ping"), garbage, sizeof(garbage));
    expect_error(&f, b, 0, CHAT__ERROR_CODE__ERROR_BAD_REQUEST);
    assert_int_equal(th_wait_eof(b, 5000), 0);
    int c = th_connect(f.port);
    th_write_frame(c, 0x12345678, "x", 1);
    expect_error(&f, c, 0, CHAT__ERROR_CODE__ERROR_BAD_REQUEST);
    assert_int_equal(th_wait_eof(c, 5000), 0);
    th_close(a);
    th_close(b);
    th_close(c);
    stop(&f);
}

/* Write one frame of m unless the peer is gone; 0 or -1. */
static int try_send(int fd, const ProtobufCMessage *m) {
    uint8_t body[2048], hdr[GS_FRAME_HEADER_SIZE];
    size_t n = protobuf_c_message_pack(m, body);
    gs_frame_header_write(hdr, (uint32_t)n, gs_msg_id_of_name(m->descriptor->name));
    return th_try_write_all(fd, hdr, sizeof(hdr)) == 0 && th_try_write_all(fd, body, n) == 0 ? 0
                                                                                             : -1;
}

/* Item 8 of issue 11: every kind of request is charged to the session's budget, so a client that
 * floods room lists, join/leave loops, invalid logins or too-long chats is cut like a chat
 * flooder, while another client's requests are still answered. */
static void test_every_request_charged(void **state) {
    (void)state;
    static char long_text[1100];
    memset(long_text, 'x', sizeof(long_text) - 1);
    for (int kind = 0; kind < 4; kind++) {
        fx_t f;
        /* A per-session job budget above the whole flood (2 x 2000 requests), so that the only
         * thing that can cut the flooder is the chat's charge for its requests: with the default
         * 256 a loaded machine lets the queue pass it first and the overload cut comes instead
         * (issue 17's -j3 runs beside a busy loop). */
        start_cfg(&f, NULL, 0, 8192);
        int other = login(&f, "other");
        int fl = kind == 2 ? th_connect(f.port) : login(&f, "flooder");
        if (kind == 3)
            join(&f, fl, 2, "r", 1);
        for (uint32_t k = 0; k < 2000; k++) {
            int rc;
            if (kind == 0) {
                Chat__RoomListRequest r = CHAT__ROOM_LIST_REQUEST__INIT;
                r.request_id = k;
                rc = try_send(fl, &r.base);
            } else if (kind == 1) {
                Chat__JoinRequest j = CHAT__JOIN_REQUEST__INIT;
                j.request_id = k;
                j.room = "loop";
                Chat__LeaveRequest l = CHAT__LEAVE_REQUEST__INIT;
                l.request_id = k;
                l.room = "loop";
                rc = try_send(fl, &j.base) || try_send(fl, &l.base);
            } else if (kind == 2) {
                Chat__LoginRequest l = CHAT__LOGIN_REQUEST__INIT;
                l.request_id = k;
                l.nickname = "x"; /* too short */
                rc = try_send(fl, &l.base);
            } else {
                Chat__ChatSend c = CHAT__CHAT_SEND__INIT;
                c.request_id = k;
                c.room = "r";
                c.text = long_text;
                rc = try_send(fl, &c.base);
            }
            if (rc != 0)
                break; /* cut already */
        }
        ping(&f, other, 3);
        if (th_wait_eof(fl, 5000) != 0)
            fail_msg("flood kind %d: not cut", kind);
        assert_int_equal(atomic_load(&f.s.ctr.abusers_cut), 1);
        ping(&f, other, 4);
        th_close(fl);
        th_close(other);
        stop(&f);
    }
}

/* Item 8 of issue 11: a client sending at 1.8 times the rate is refused 44% of the time, for
 * ever; refusals used to be forgiven at the full rate, so it was never cut. */
static void test_refused_below_twice_the_rate_is_cut(void **state) {
    (void)state;
    chat_limits_t lim;
    chat_limits_default(&lim);
    lim.rate_per_s = 50;
    lim.burst = 5;
    lim.abuse_strikes = 10;
    fx_t f;
    start(&f, &lim);
    int a = login(&f, "alice");
    join(&f, a, 2, "r", 1);
    int cut_seen = 0;
    for (uint64_t k = 1; k <= 90 * 4 && !cut_seen; k++) {
        Chat__ChatSend c = CHAT__CHAT_SEND__INIT;
        c.room = "r";
        c.text = "hi";
        c.seq = k;
        cut_seen = try_send(a, &c.base) != 0 || atomic_load(&f.s.ctr.abusers_cut) > 0;
        gs_sleep_ms(11);
    }
    assert_int_equal(th_wait_eof(a, 2000), 0);
    assert_int_equal(atomic_load(&f.s.ctr.abusers_cut), 1);
    th_close(a);
    stop(&f);
}

static void test_whisper(void **state) {
    (void)state;
    fx_t f;
    start(&f, NULL);
    int a = login(&f, "alice"), b = login(&f, "bob");
    Chat__WhisperSend w = CHAT__WHISPER_SEND__INIT;
    w.request_id = 3;
    w.to = "bob";
    w.text = "psst";
    w.seq = 1;
    tc_send(a, &w.base);
    Chat__WhisperDelivery *d =
        (Chat__WhisperDelivery *)tc_expect(b, f.reg, &chat__whisper_delivery__descriptor);
    assert_string_equal(d->sender, "alice");
    assert_string_equal(d->text, "psst");
    assert_int_equal(d->seq, 1);
    free_msg(&d->base);
    Chat__WhisperReply *r =
        (Chat__WhisperReply *)tc_expect(a, f.reg, &chat__whisper_reply__descriptor);
    assert_int_equal(r->request_id, 3);
    free_msg(&r->base);
    w.request_id = 4;
    w.to = "nobody";
    tc_send(a, &w.base);
    expect_error(&f, a, 4, CHAT__ERROR_CODE__ERROR_NO_SUCH_USER);
    th_close(a);
    th_close(b);
    stop(&f);
}

static void test_limits(void **state) {
    (void)state;
    fx_t f;
    chat_limits_t lim;
    chat_limits_default(&lim);
    lim.max_rooms_per_user = 2;
    lim.max_members_per_room = 2;
    lim.max_text_bytes = 10;
    start(&f, &lim);
    int a = login(&f, "alice"), b = login(&f, "bob"), c = login(&f, "carol");
    join(&f, a, 2, "r1", 1);
    join(&f, a, 3, "r2", 1);
    send_join(a, 4, "r3");
    expect_error(&f, a, 4, CHAT__ERROR_CODE__ERROR_TOO_MANY_ROOMS);
    join(&f, b, 2, "r1", 2);
    expect_event(&f, a, "r1", "bob", CHAT__ROOM_EVENT__KIND__KIND_JOINED);
    send_join(c, 2, "r1");
    expect_error(&f, c, 2, CHAT__ERROR_CODE__ERROR_ROOM_FULL);
    send_join(c, 3, "bad\x07room");
    expect_error(&f, c, 3, CHAT__ERROR_CODE__ERROR_ROOM_INVALID);
    send_chat(a, 5, "r1", "0123456789", 1); /* exactly the limit */
    expect_chat(&f, a, "r1", "alice", "0123456789", 1);
    expect_chat(&f, b, "r1", "alice", "0123456789", 1);
    send_chat(a, 6, "r1", "0123456789!", 2);
    expect_error(&f, a, 6, CHAT__ERROR_CODE__ERROR_TEXT_TOO_LONG);
    /* The failed join left no trace: carol can join another room. */
    join(&f, c, 4, "r2", 2);
    expect_event(&f, a, "r2", "carol", CHAT__ROOM_EVENT__KIND__KIND_JOINED);
    th_close(a);
    th_close(b);
    th_close(c);
    stop(&f);
}

/* B12: a flooder is refused beyond its bucket and cut, while a polite member's chats all reach
 * the listener in order. */
static void test_flood_cut_others_served(void **state) {
    (void)state;
    fx_t f;
    chat_limits_t lim;
    chat_limits_default(&lim);
    lim.rate_per_s = 20;
    lim.burst = 20;
    lim.abuse_strikes = 30;
    /* A job budget above the 1000 chats, so that the chat's limiter is what cuts the flooder: a
     * loaded machine otherwise lets its queue pass the default 256 first (issue 17's runs). */
    start_cfg(&f, &lim, 0, 8192);
    int flood = login(&f, "flooder"), polite = login(&f, "polite"), ear = login(&f, "ear");
    join(&f, ear, 2, "r", 1);
    join(&f, flood, 2, "r", 2);
    expect_event(&f, ear, "r", "flooder", CHAT__ROOM_EVENT__KIND__KIND_JOINED);
    join(&f, polite, 2, "r", 3);
    expect_event(&f, ear, "r", "polite", CHAT__ROOM_EVENT__KIND__KIND_JOINED);
    expect_event(&f, flood, "r", "polite", CHAT__ROOM_EVENT__KIND__KIND_JOINED);
    /* 1000 chats as fast as the socket takes them; the flooder never reads. */
    for (uint64_t k = 1; k <= 1000; k++) {
        Chat__ChatSend c = CHAT__CHAT_SEND__INIT;
        c.room = "r";
        c.text = "spam";
        c.seq = k;
        uint8_t body[64];
        size_t n = protobuf_c_message_pack(&c.base, body);
        uint8_t hdr[GS_FRAME_HEADER_SIZE];
        gs_frame_header_write(hdr, (uint32_t)n, gs_msg_id_of_name("chat.ChatSend"));
        if (th_try_write_all(flood, hdr, sizeof(hdr)) != 0 || th_try_write_all(flood, body, n) != 0)
            break; /* already cut */
    }
    for (uint64_t k = 1; k <= 10; k++)
        send_chat(polite, 100 + (uint32_t)k, "r", "hi", k);
    /* The listener sees at most the flooder's bucket (burst, less its login and join, plus what
     * refilled), then the polite member's ten chats complete and in order, interleaved. */
    uint64_t spam = 0, next_polite = 1;
    while (next_polite <= 10) {
        ProtobufCMessage *m = tc_recv(ear, f.reg);
        if (m->descriptor == &chat__chat_delivery__descriptor) {
            Chat__ChatDelivery *d = (Chat__ChatDelivery *)m;
            if (strcmp(d->sender, "flooder") == 0)
                spam++;
            else
                assert_int_equal(d->seq, next_polite++);
        } else {
            assert_ptr_equal(m->descriptor, &chat__room_event__descriptor); /* flooder left */
        }
        free_msg(m);
    }
    assert_true(spam >= 16);
    assert_true(spam < 200);
    assert_int_equal(th_wait_eof(flood, 5000), 0);
    assert_int_equal(atomic_load(&f.s.ctr.abusers_cut), 1);
    assert_true(atomic_load(&f.s.ctr.rate_limited) >= 30);
    th_close(flood);
    th_close(polite);
    th_close(ear);
    stop(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_rules),
        cmocka_unit_test(test_pre_login_cut),
        cmocka_unit_test(test_rooms_and_chat),
        cmocka_unit_test(test_whisper),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_flood_cut_others_served),
        cmocka_unit_test(test_join_reply_after_session_knows),
        cmocka_unit_test(test_join_reply_fits_at_member_limit),
        cmocka_unit_test(test_room_list_pages),
        cmocka_unit_test(test_ping_before_login_and_deadline),
        cmocka_unit_test(test_bad_requests_answered),
        cmocka_unit_test(test_every_request_charged),
        cmocka_unit_test(test_refused_below_twice_the_rate_is_cut),
    };
    int failed = cmocka_run_group_tests_name("handlers on workers", tests, NULL, NULL);
    /* The same cases with handlers on the IO thread, but one: it holds a handler's job, which
     * there would hold the IO thread. Left out rather than skipped, since it can never run in
     * that mode: a skip would mark the whole binary "skipped" on every platform. */
    struct CMUnitTest io_tests[sizeof tests / sizeof tests[0]];
    size_t n = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (tests[i].test_func != test_join_reply_after_session_knows)
            io_tests[n++] = tests[i];
    g_on_io_thread = 1;
    failed += _cmocka_run_group_tests("handlers on the IO thread", io_tests, n, NULL, NULL);
    return gs_test_status(failed);
}

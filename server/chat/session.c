/* SPDX-License-Identifier: MIT */
/* The session actor of gs-chat-server: everything a client sends arrives here first, in order.
 * It owns the session's login state, its joined rooms and its rate limit, checks every request
 * against the limits, and forwards what needs shared state to the lobby or a room. */
#include <stdlib.h>
#include <string.h>

#include "chat.h"

typedef enum { S_NEW = 0, S_LOGIN_PENDING, S_IN } login_state_t;

typedef struct joined {
    char name[CHAT_ROOM_MAX_BYTES + 1];
    gs_actor_t *room; /* NULL while the join is in flight */
} joined_t;

typedef struct chat_session {
    chat_server_t *s;
    login_state_t state;
    char nick[CHAT_NICK_MAX_BYTES + 1];
    uint32_t nrooms; /* joined or joining */
    int cut;         /* being closed by us: its requests still queued are ignored */
    double tokens;   /* rate limit: token bucket, in cost units */
    double strikes;  /* refusals, leaking at strike_leak_per_s: too many cut the session */
    uint64_t last_ns;
    gs_timer_id_t login_timer; /* the login deadline, until logged in */
    joined_t rooms[];          /* max_rooms_per_user */
} chat_session_t;

/* What each request costs from the session's budget (lim.rate_per_s units per second). Every
 * request is charged, refused or not, before any other check: what a client can make the
 * server do per second is bounded whatever it sends. The weights follow the work a request
 * causes beyond its own reply: a join or leave tells every member of the room, a room list
 * walks and sorts every room in the one lobby actor that logins also need. */
#define COST_CHAT      1.0 /* chat or whisper: one fan-out or one delivery */
#define COST_PING      1.0
#define COST_LOGIN     2.0 /* a lobby look-up; invalid ones included */
#define COST_JOIN      2.0 /* join or leave: a RoomEvent to every member */
#define COST_ROOM_LIST 4.0 /* the lobby sorts its rooms */
#define COST_BAD_TEXT  2.0 /* a request refused for invalid UTF-8 (TEXT/NICK/ROOM_INVALID) */

static chat_server_t *server_of(gs_ctx_t *ctx) { return gs_app_user(ctx->app); }

void chat_send_error(chat_server_t *s, gs_session_id_t to, uint32_t request_id,
                     Chat__ErrorCode code, uint32_t request_msg_id, const char *detail) {
    Chat__Error e = CHAT__ERROR__INIT;
    e.request_id = request_id;
    e.code = code;
    e.request_msg_id = request_msg_id;
    e.detail = (char *)(uintptr_t)(detail ? detail : "");
    atomic_fetch_add_explicit(&s->ctr.errors_sent, 1, memory_order_relaxed);
    gs_app_send(s->app, to, &e.base);
}

static uint32_t id_of(const ProtobufCMessage *m) { return gs_msg_id_of_name(m->descriptor->name); }

/* Text rules for names: no control, invisible or bidi characters, counted in code points. */
static gs_text_verdict_t check_name(const char *s, uint32_t min_chars, uint32_t max_chars,
                                    uint32_t max_bytes) {
    gs_text_rules_t r = {.min_chars = min_chars, .max_chars = max_chars, .max_bytes = max_bytes};
    return gs_text_check(s, strlen(s), &r, NULL);
}

/* Cut the session after the reply just queued has gone out; its requests still queued are
 * ignored from now on. Counted as abuse by the net (reason abuse; with per-address limits on,
 * its address may not connect again for a burst's worth of the accept rate). */
static void cut(gs_ctx_t *ctx, chat_session_t *cs) {
    if (cs)
        cs->cut = 1;
    gs_app_cut(ctx->app, ctx->session, 1);
}

/* Anything but login before login: an error reply, then the session is cut
 * (docs/testing.md A18). */
static chat_session_t *logged_in(gs_ctx_t *ctx, const ProtobufCMessage *m, uint32_t request_id) {
    chat_session_t *cs = ctx->session_user;
    if (cs && cs->state == S_IN && !cs->cut)
        return cs;
    if (!cs || cs->cut)
        return NULL; /* already going */
    chat_server_t *s = server_of(ctx);
    atomic_fetch_add_explicit(&s->ctr.pre_login_cut, 1, memory_order_relaxed);
    chat_send_error(s, ctx->session, request_id, CHAT__ERROR_CODE__ERROR_NOT_LOGGED_IN, id_of(m),
                    "log in first");
    cut(ctx, cs);
    return NULL;
}

/* Charge a request to the session's token bucket: 1 if it may go on; otherwise it is refused
 * with RATE_LIMITED (and 0 returned). Refusals fill a second bucket that leaks at
 * strike_leak_per_s, a quarter of the rate by default: a client that keeps sending more than
 * the rate, even well below twice it, keeps being refused faster than that leak and is cut
 * eventually; one that only bursts is forgiven. */
static int charge(gs_ctx_t *ctx, chat_session_t *cs, const ProtobufCMessage *m, uint32_t msg_id,
                  uint32_t request_id, double cost) {
    const chat_limits_t *lim = &cs->s->lim;
    uint64_t now = gs_now_ns();
    double dt = (double)(now - cs->last_ns) / 1e9;
    cs->last_ns = now;
    cs->tokens += dt * lim->rate_per_s;
    if (cs->tokens > lim->burst)
        cs->tokens = lim->burst;
    cs->strikes -= dt * lim->strike_leak_per_s;
    if (cs->strikes < 0)
        cs->strikes = 0;
    if (cs->tokens >= cost) {
        cs->tokens -= cost;
        return 1;
    }
    atomic_fetch_add_explicit(&cs->s->ctr.rate_limited, 1, memory_order_relaxed);
    chat_send_error(cs->s, ctx->session, request_id, CHAT__ERROR_CODE__ERROR_RATE_LIMITED,
                    m ? id_of(m) : msg_id, "slow down");
    cs->strikes += 1.0;
    if (cs->strikes >= lim->abuse_strikes) {
        atomic_fetch_add_explicit(&cs->s->ctr.abusers_cut, 1, memory_order_relaxed);
        gs_log_limited(&cs->s->log_abuse, GS_LOG_WARN, "chat",
                       "session %llx (%s): flooding past the rate limit: cut",
                       (unsigned long long)ctx->session, cs->nick);
        cut(ctx, cs);
    }
    return 0;
}

/* The session's state if it is live and the request fits its budget; NULL otherwise (the
 * refusal, if any, has been sent). */
static chat_session_t *charged(gs_ctx_t *ctx, const ProtobufCMessage *m, uint32_t request_id,
                               double cost) {
    chat_session_t *cs = ctx->session_user;
    if (!cs || cs->cut)
        return NULL;
    return charge(ctx, cs, m, 0, request_id, cost) ? cs : NULL;
}

/* Logged in, then charged. */
static chat_session_t *logged_in_charged(gs_ctx_t *ctx, const ProtobufCMessage *m,
                                         uint32_t request_id, double cost) {
    return logged_in(ctx, m, request_id) ? charged(ctx, m, request_id, cost) : NULL;
}

static joined_t *find_room(chat_session_t *cs, const char *name) {
    for (uint32_t i = 0; i < cs->nrooms; i++)
        if (strcmp(cs->rooms[i].name, name) == 0)
            return &cs->rooms[i];
    return NULL;
}

static void remove_room(chat_session_t *cs, joined_t *j) { *j = cs->rooms[--cs->nrooms]; }

/* ---- open / close ------------------------------------------------------------------------- */

/* The login deadline's timer job, on the session's actor. */
static void login_deadline(gs_ctx_t *ctx, void *data, size_t len) {
    (void)data, (void)len;
    chat_session_t *cs = ctx->session_user;
    if (!cs || cs->cut || cs->state == S_IN)
        return;
    cs->login_timer = 0; /* this run ends it */
    atomic_fetch_add_explicit(&cs->s->ctr.pre_login_cut, 1, memory_order_relaxed);
    chat_send_error(cs->s, ctx->session, 0, CHAT__ERROR_CODE__ERROR_NOT_LOGGED_IN, 0,
                    "login deadline passed");
    cut(ctx, cs);
}

static void cancel_login_deadline(gs_ctx_t *ctx, chat_session_t *cs) {
    if (cs->login_timer)
        gs_app_timer_cancel(ctx->app, cs->login_timer);
    cs->login_timer = 0;
}

static void on_open(gs_ctx_t *ctx, void *user) {
    chat_server_t *s = user;
    chat_session_t *cs = calloc(1, sizeof(*cs) + sizeof(joined_t) * s->lim.max_rooms_per_user);
    if (!cs) {
        gs_log(GS_LOG_ERROR, "chat", "session %llx: out of memory: cut",
               (unsigned long long)ctx->session);
        gs_app_disconnect(ctx->app, ctx->session);
        return;
    }
    cs->s = s;
    cs->tokens = s->lim.burst;
    cs->last_ns = gs_now_ns();
    gs_ctx_set_session_user(ctx, cs);
    /* A slot held by a connection that never logs in is a slot nobody else can have. */
    cs->login_timer =
        gs_app_timer(ctx->app, ctx->actor, s->lim.login_timeout_ms, 0, login_deadline, NULL, 0);
    if (!cs->login_timer) {
        gs_log(GS_LOG_ERROR, "chat", "session %llx: no login deadline timer: cut",
               (unsigned long long)ctx->session);
        cut(ctx, cs);
    }
}

static void leave_all(gs_ctx_t *ctx, chat_session_t *cs) {
    for (uint32_t i = 0; i < cs->nrooms; i++) {
        gs_actor_t *room = cs->rooms[i].room;
        if (!room)
            continue; /* in flight: chat_session_join_result undoes it */
        chat_room_leave_t l = {.session = ctx->session};
        gs_actor_post(room, chat_room_leave, &l, sizeof(l));
        gs_actor_unref(room);
    }
    cs->nrooms = 0;
}

static void on_close(gs_ctx_t *ctx, gs_close_reason_t reason, void *user) {
    (void)reason;
    chat_server_t *s = user;
    chat_session_t *cs = ctx->session_user;
    if (!cs)
        return;
    cancel_login_deadline(ctx, cs);
    if (cs->state == S_IN) {
        chat_lobby_logout_t lo = {.session = ctx->session};
        memcpy(lo.nick, cs->nick, sizeof(lo.nick));
        gs_actor_post(s->lobby, chat_lobby_logout, &lo, sizeof(lo));
    }
    leave_all(ctx, cs);
    free(cs);
    gs_ctx_set_session_user(ctx, NULL);
}

/* ---- requests ----------------------------------------------------------------------------- */

static void on_login(gs_ctx_t *ctx, const ProtobufCMessage *m, void *user) {
    chat_server_t *s = user;
    const Chat__LoginRequest *r = (const Chat__LoginRequest *)m;
    chat_session_t *cs = charged(ctx, m, r->request_id, COST_LOGIN);
    if (!cs)
        return;
    if (cs->state != S_NEW) {
        chat_send_error(s, ctx->session, r->request_id,
                        cs->state == S_IN ? CHAT__ERROR_CODE__ERROR_ALREADY_LOGGED_IN
                                          : CHAT__ERROR_CODE__ERROR_BAD_REQUEST,
                        id_of(m), cs->state == S_IN ? "already logged in" : "login in progress");
        return;
    }
    gs_text_verdict_t v =
        check_name(r->nickname, s->lim.nick_min_chars, s->lim.nick_max_chars, CHAT_NICK_MAX_BYTES);
    if (v != GS_TEXT_OK) {
        atomic_fetch_add_explicit(&s->ctr.login_refused, 1, memory_order_relaxed);
        chat_send_error(s, ctx->session, r->request_id, CHAT__ERROR_CODE__ERROR_NICK_INVALID,
                        id_of(m), gs_text_verdict_name(v));
        return;
    }
    cs->state = S_LOGIN_PENDING;
    chat_lobby_login_t req = {
        .session = ctx->session, .session_actor = ctx->actor, .request_id = r->request_id};
    strcpy(req.nick, r->nickname); /* length checked above */
    gs_actor_ref(ctx->actor);
    if (gs_actor_post(s->lobby, chat_lobby_login, &req, sizeof(req)) != 0) {
        gs_actor_unref(ctx->actor);
        cs->state = S_NEW;
        chat_send_error(s, ctx->session, r->request_id, CHAT__ERROR_CODE__ERROR_SERVER_BUSY,
                        id_of(m), "try again");
    }
}

void chat_session_login_result(gs_ctx_t *ctx, void *data, size_t len) {
    (void)len;
    chat_login_result_t *res = data;
    chat_server_t *s = server_of(ctx);
    chat_session_t *cs = ctx->session_user;
    if (!cs) {
        /* Closed while the lobby was deciding: give the nickname back. */
        if (res->ok) {
            chat_lobby_logout_t lo = {.session = ctx->session};
            memcpy(lo.nick, res->nick, sizeof(lo.nick));
            gs_actor_post(s->lobby, chat_lobby_logout, &lo, sizeof(lo));
        }
        return;
    }
    if (!res->ok) {
        cs->state = S_NEW;
        atomic_fetch_add_explicit(&s->ctr.login_refused, 1, memory_order_relaxed);
        chat_send_error(s, ctx->session, res->request_id, CHAT__ERROR_CODE__ERROR_NICK_TAKEN,
                        gs_msg_id_of_name("chat.LoginRequest"), "nickname taken");
        return;
    }
    cs->state = S_IN;
    cancel_login_deadline(ctx, cs);
    memcpy(cs->nick, res->nick, sizeof(cs->nick));
    atomic_fetch_add_explicit(&s->ctr.logins, 1, memory_order_relaxed);
    Chat__LoginReply r = CHAT__LOGIN_REPLY__INIT;
    r.request_id = res->request_id;
    r.nickname = cs->nick;
    r.server_time_us = chat_now_us();
    r.heartbeat_ms = s->lim.heartbeat_ms;
    r.max_text_bytes = s->lim.max_text_bytes;
    r.max_rooms_per_user = s->lim.max_rooms_per_user;
    r.max_members_per_room = s->lim.max_members_per_room;
    gs_app_send(ctx->app, ctx->session, &r.base);
}

static void on_ping(gs_ctx_t *ctx, const ProtobufCMessage *m, void *user) {
    (void)user;
    const Chat__Ping *p = (const Chat__Ping *)m;
    /* Any time, before login too (chat.proto): it keeps the session alive while a client
     * waits; the login deadline still bounds how long it may wait. */
    if (!charged(ctx, m, p->request_id, COST_PING))
        return;
    Chat__Pong r = CHAT__PONG__INIT;
    r.request_id = p->request_id;
    r.client_time_us = p->client_time_us;
    r.server_time_us = chat_now_us();
    gs_app_send(ctx->app, ctx->session, &r.base);
}

static void on_room_list(gs_ctx_t *ctx, const ProtobufCMessage *m, void *user) {
    chat_server_t *s = user;
    const Chat__RoomListRequest *r = (const Chat__RoomListRequest *)m;
    if (!logged_in_charged(ctx, m, r->request_id, COST_ROOM_LIST))
        return;
    if (strlen(r->after) > CHAT_ROOM_MAX_BYTES) {
        chat_send_error(s, ctx->session, r->request_id, CHAT__ERROR_CODE__ERROR_ROOM_INVALID,
                        id_of(m), "cursor longer than any room name");
        return;
    }
    chat_lobby_room_list_t req = {.session = ctx->session, .request_id = r->request_id};
    strcpy(req.after, r->after); /* length checked above */
    gs_actor_post(s->lobby, chat_lobby_room_list, &req, sizeof(req));
}

static void on_join(gs_ctx_t *ctx, const ProtobufCMessage *m, void *user) {
    chat_server_t *s = user;
    const Chat__JoinRequest *r = (const Chat__JoinRequest *)m;
    chat_session_t *cs = logged_in_charged(ctx, m, r->request_id, COST_JOIN);
    if (!cs)
        return;
    gs_text_verdict_t v = check_name(r->room, 1, s->lim.room_max_chars, CHAT_ROOM_MAX_BYTES);
    if (v != GS_TEXT_OK) {
        chat_send_error(s, ctx->session, r->request_id, CHAT__ERROR_CODE__ERROR_ROOM_INVALID,
                        id_of(m), gs_text_verdict_name(v));
        return;
    }
    if (find_room(cs, r->room)) {
        chat_send_error(s, ctx->session, r->request_id, CHAT__ERROR_CODE__ERROR_BAD_REQUEST,
                        id_of(m), "already in that room");
        return;
    }
    if (cs->nrooms >= s->lim.max_rooms_per_user) {
        chat_send_error(s, ctx->session, r->request_id, CHAT__ERROR_CODE__ERROR_TOO_MANY_ROOMS,
                        id_of(m), "too many rooms");
        return;
    }
    chat_lobby_join_t req = {
        .session = ctx->session, .session_actor = ctx->actor, .request_id = r->request_id};
    memcpy(req.nick, cs->nick, sizeof(req.nick));
    strcpy(req.room, r->room);
    gs_actor_ref(ctx->actor);
    if (gs_actor_post(s->lobby, chat_lobby_join, &req, sizeof(req)) != 0) {
        gs_actor_unref(ctx->actor);
        chat_send_error(s, ctx->session, r->request_id, CHAT__ERROR_CODE__ERROR_SERVER_BUSY,
                        id_of(m), "try again");
        return;
    }
    joined_t *j = &cs->rooms[cs->nrooms++];
    strcpy(j->name, r->room);
    j->room = NULL;
}

void chat_session_join_result(gs_ctx_t *ctx, void *data, size_t len) {
    (void)len;
    chat_join_result_t *res = data;
    chat_session_t *cs = ctx->session_user;
    joined_t *j = cs ? find_room(cs, res->room_name) : NULL;
    if (!j || j->room) {
        /* The session closed (or this is a stray result): undo the membership. */
        if (res->room) {
            chat_room_leave_t l = {.session = ctx->session};
            gs_actor_post(res->room, chat_room_leave, &l, sizeof(l));
            gs_actor_unref(res->room);
            gs_packet_unref(res->reply);
        }
        return;
    }
    /* State first, reply second: the client may chat in the room as soon as it reads this. */
    if (res->room) {
        j->room = res->room; /* keeps the reference */
        gs_app_send_packet(ctx->app, ctx->session, res->reply);
        gs_packet_unref(res->reply);
    } else {
        remove_room(cs, j);
        chat_send_error(cs->s, ctx->session, res->request_id, res->error,
                        gs_msg_id_of_name("chat.JoinRequest"), res->detail);
    }
}

static void on_leave(gs_ctx_t *ctx, const ProtobufCMessage *m, void *user) {
    chat_server_t *s = user;
    const Chat__LeaveRequest *r = (const Chat__LeaveRequest *)m;
    chat_session_t *cs = logged_in_charged(ctx, m, r->request_id, COST_JOIN);
    if (!cs)
        return;
    joined_t *j = find_room(cs, r->room);
    if (!j || !j->room) {
        chat_send_error(s, ctx->session, r->request_id, CHAT__ERROR_CODE__ERROR_NOT_IN_ROOM,
                        id_of(m), j ? "join still in progress" : "not in that room");
        return;
    }
    chat_room_leave_t l = {.session = ctx->session, .request_id = r->request_id};
    gs_actor_post(j->room, chat_room_leave, &l, sizeof(l));
    gs_actor_unref(j->room);
    remove_room(cs, j);
}

/* Text of a chat or whisper: its length (the request was charged already). Returns 1 when it
 * may go on. */
static int text_ok(gs_ctx_t *ctx, chat_session_t *cs, const ProtobufCMessage *m,
                   uint32_t request_id, const char *text) {
    chat_server_t *s = cs->s;
    if (strlen(text) > s->lim.max_text_bytes) {
        chat_send_error(s, ctx->session, request_id, CHAT__ERROR_CODE__ERROR_TEXT_TOO_LONG,
                        id_of(m), "text too long");
        return 0;
    }
    return 1;
}

/* Post header + text (with its terminator) to the actor that handles it, in one copy. */
static void post_text(gs_ctx_t *ctx, gs_actor_t *to, gs_job_cb fn, const void *hdr, size_t hdr_len,
                      const char *text, const ProtobufCMessage *m, uint32_t request_id) {
    if (gs_actor_post2(to, fn, hdr, hdr_len, text, strlen(text) + 1) != 0)
        chat_send_error(server_of(ctx), ctx->session, request_id,
                        CHAT__ERROR_CODE__ERROR_SERVER_BUSY, id_of(m), "try again");
}

static void on_chat(gs_ctx_t *ctx, const ProtobufCMessage *m, void *user) {
    chat_server_t *s = user;
    const Chat__ChatSend *r = (const Chat__ChatSend *)m;
    chat_session_t *cs = logged_in_charged(ctx, m, r->request_id, COST_CHAT);
    if (!cs)
        return;
    joined_t *j = find_room(cs, r->room);
    if (!j || !j->room) {
        chat_send_error(s, ctx->session, r->request_id, CHAT__ERROR_CODE__ERROR_NOT_IN_ROOM,
                        id_of(m), j ? "join still in progress" : "not in that room");
        return;
    }
    if (!text_ok(ctx, cs, m, r->request_id, r->text))
        return;
    chat_room_chat_t c = {.from = ctx->session,
                          .request_id = r->request_id,
                          .seq = r->seq,
                          .sent_at_us = r->sent_at_us,
                          .text_len = (uint32_t)strlen(r->text)};
    memcpy(c.from_nick, cs->nick, sizeof(c.from_nick));
    atomic_fetch_add_explicit(&s->ctr.chats, 1, memory_order_relaxed);
    post_text(ctx, j->room, chat_room_chat, &c, sizeof(c), r->text, m, r->request_id);
}

static void on_whisper(gs_ctx_t *ctx, const ProtobufCMessage *m, void *user) {
    chat_server_t *s = user;
    const Chat__WhisperSend *r = (const Chat__WhisperSend *)m;
    chat_session_t *cs = logged_in_charged(ctx, m, r->request_id, COST_CHAT);
    if (!cs)
        return;
    if (strlen(r->to) > CHAT_NICK_MAX_BYTES) {
        chat_send_error(s, ctx->session, r->request_id, CHAT__ERROR_CODE__ERROR_NO_SUCH_USER,
                        id_of(m), "no such user");
        return;
    }
    if (!text_ok(ctx, cs, m, r->request_id, r->text))
        return;
    chat_lobby_whisper_t w = {.from = ctx->session,
                              .request_id = r->request_id,
                              .seq = r->seq,
                              .sent_at_us = r->sent_at_us,
                              .text_len = (uint32_t)strlen(r->text)};
    memcpy(w.from_nick, cs->nick, sizeof(w.from_nick));
    strcpy(w.to_nick, r->to); /* length checked above */
    post_text(ctx, s->lobby, chat_lobby_whisper, &w, sizeof(w), r->text, m, r->request_id);
}

/* ---- frames the app could not decode or route ------------------------------------------- */

/* The request_id (field 1, a varint) of a body that did not decode, or 0: a body refused for
 * its text still has its structure, so the reply can name the request. */
static uint32_t peek_request_id(const uint8_t *p, uint32_t len) {
    const uint8_t *end = p + len;
    while (p < end) {
        uint64_t key = 0, v = 0;
        for (int sh = 0; p < end && sh < 64; sh += 7) {
            key |= (uint64_t)(*p & 0x7f) << sh;
            if (!(*p++ & 0x80))
                break;
        }
        uint32_t wt = key & 7;
        if (wt == 0 || wt == 2) {
            for (int sh = 0; p < end && sh < 64; sh += 7) {
                v |= (uint64_t)(*p & 0x7f) << sh;
                if (!(*p++ & 0x80))
                    break;
            }
            if (wt == 0 && key >> 3 == 1)
                return (uint32_t)v;
            if (wt == 2) {
                if (v > (uint64_t)(end - p))
                    return 0;
                p += v;
            }
        } else if (wt == 1 || wt == 5) {
            uint32_t n = wt == 1 ? 8 : 4;
            if ((uint32_t)(end - p) < n)
                return 0;
            p += n;
        } else {
            return 0;
        }
    }
    return 0;
}

/* The error chat.proto promises for a request whose text failed the decoder's UTF-8 check, or
 * ERROR_NONE when the type has no such error. */
static Chat__ErrorCode text_error(uint32_t msg_id) {
    if (msg_id == gs_msg_id_of_name("chat.ChatSend") ||
        msg_id == gs_msg_id_of_name("chat.WhisperSend"))
        return CHAT__ERROR_CODE__ERROR_TEXT_INVALID;
    if (msg_id == gs_msg_id_of_name("chat.LoginRequest"))
        return CHAT__ERROR_CODE__ERROR_NICK_INVALID;
    if (msg_id == gs_msg_id_of_name("chat.JoinRequest") ||
        msg_id == gs_msg_id_of_name("chat.LeaveRequest") ||
        msg_id == gs_msg_id_of_name("chat.RoomListRequest"))
        return CHAT__ERROR_CODE__ERROR_ROOM_INVALID;
    return CHAT__ERROR_CODE__ERROR_NONE;
}

/* Invalid UTF-8 or NUL in a request that has an error for it: that error, charged like any
 * request, and the session lives on (as for a nickname with a control character). Anything else
 * the app refused (an unknown id, an undecodable body, a message a client never sends) means a
 * broken or hostile client: BAD_REQUEST, then the session is closed. */
static gs_bad_frame_policy_t on_bad_frame(gs_ctx_t *ctx, const gs_bad_frame_t *bf, void *user) {
    chat_server_t *s = user;
    chat_session_t *cs = ctx->session_user;
    if (!cs || cs->cut)
        return GS_BAD_FRAME_DISCONNECT;
    uint32_t req = peek_request_id(bf->body, bf->len);
    Chat__ErrorCode code =
        bf->err == GS_EBADTEXT ? text_error(bf->msg_id) : CHAT__ERROR_CODE__ERROR_NONE;
    int is_login = bf->msg_id == gs_msg_id_of_name("chat.LoginRequest");
    if (code != CHAT__ERROR_CODE__ERROR_NONE && (cs->state == S_IN || is_login)) {
        if (charge(ctx, cs, NULL, bf->msg_id, req, COST_BAD_TEXT))
            chat_send_error(s, ctx->session, req, code, bf->msg_id,
                            "not valid UTF-8, or holds NUL");
        return GS_BAD_FRAME_DROP; /* a cut by the charge is already under way */
    }
    const char *detail = bf->kind == GS_BAD_FRAME_UNKNOWN_ID  ? "unknown message id"
                         : bf->kind == GS_BAD_FRAME_UNHANDLED ? "not a client request"
                                                              : "undecodable body";
    chat_send_error(s, ctx->session, req, CHAT__ERROR_CODE__ERROR_BAD_REQUEST, bf->msg_id, detail);
    cs->cut = 1;
    return GS_BAD_FRAME_DISCONNECT;
}

int chat_session_register(chat_server_t *s) {
    gs_app_t *app = s->app;
    int rc = 0;
    rc = rc ? rc : gs_app_on_session(app, on_open, on_close, s);
    rc = rc ? rc : gs_app_on_bad_frame(app, on_bad_frame, s);
    rc = rc ? rc : gs_app_on_message(app, &chat__login_request__descriptor, on_login, s);
    rc = rc ? rc : gs_app_on_message(app, &chat__ping__descriptor, on_ping, s);
    rc = rc ? rc : gs_app_on_message(app, &chat__room_list_request__descriptor, on_room_list, s);
    rc = rc ? rc : gs_app_on_message(app, &chat__join_request__descriptor, on_join, s);
    rc = rc ? rc : gs_app_on_message(app, &chat__leave_request__descriptor, on_leave, s);
    rc = rc ? rc : gs_app_on_message(app, &chat__chat_send__descriptor, on_chat, s);
    rc = rc ? rc : gs_app_on_message(app, &chat__whisper_send__descriptor, on_whisper, s);
    return rc;
}

/* SPDX-License-Identifier: MIT */
/* A room actor of gs-chat-server: its members, and the fan-out of every chat to all of them with
 * one encode (gs_app_broadcast). Chats from one sender arrive here in the order the sender's
 * session actor posted them, so per-sender order holds for every member. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"

typedef struct member {
    char nick[CHAT_NICK_MAX_BYTES + 1];
} member_t;

typedef struct room {
    char name[CHAT_ROOM_MAX_BYTES + 1];
    uint32_t count, cap;
    gs_session_id_t *ids; /* parallel arrays: ids[] is what a broadcast takes */
    member_t *members;
    int closed; /* emptied: the lobby forgets it, joins bounce back to the lobby */
} room_t;

static chat_server_t *server_of(gs_ctx_t *ctx) { return gs_app_user(ctx->app); }
static room_t *room_of(gs_ctx_t *ctx) { return gs_actor_user(ctx->actor); }

static void room_free(void *user) {
    room_t *r = user;
    free(r->ids);
    free(r->members);
    free(r);
}

gs_actor_t *chat_room_create(chat_server_t *s, const char *name) {
    room_t *r = calloc(1, sizeof(*r));
    gs_actor_t *a = r ? gs_actor_create(s->app, "room") : NULL;
    if (!a) {
        free(r);
        return NULL;
    }
    snprintf(r->name, sizeof(r->name), "%s", name);
    gs_actor_set_user(a, r);
    /* The room's memory goes with its actor: the last reference may be a session's. */
    gs_actor_set_finalizer(a, room_free);
    return a;
}

static int find(const room_t *r, gs_session_id_t id) {
    for (uint32_t i = 0; i < r->count; i++)
        if (r->ids[i] == id)
            return (int)i;
    return -1;
}

static void tell_lobby(gs_ctx_t *ctx, room_t *r) {
    chat_server_t *s = server_of(ctx);
    size_t n = strlen(r->name) + 1;
    unsigned char buf[sizeof(chat_lobby_room_update_t) + CHAT_ROOM_MAX_BYTES + 1];
    chat_lobby_room_update_t u = {.room = ctx->actor, .members = r->count, .closed = r->closed};
    memcpy(buf, &u, sizeof(u));
    memcpy(buf + sizeof(u), r->name, n);
    gs_actor_post(s->lobby, chat_lobby_room_update, buf, sizeof(u) + n);
}

/* RoomEvent to the first n members (the joiner or leaver is not among them). */
static void announce(gs_ctx_t *ctx, room_t *r, uint32_t n, const char *nick,
                     Chat__RoomEvent__Kind kind) {
    if (n == 0)
        return;
    Chat__RoomEvent ev = CHAT__ROOM_EVENT__INIT;
    ev.room = r->name;
    ev.nickname = (char *)(uintptr_t)nick;
    ev.kind = kind;
    gs_app_broadcast(ctx->app, r->ids, n, &ev.base, NULL);
}

/* Room arrays with room for one more member. 0, or -1 when out of memory. */
static int make_room_for_one(room_t *r) {
    if (r->count < r->cap)
        return 0;
    uint32_t cap = r->cap ? r->cap * 2 : 8;
    gs_session_id_t *ids = realloc(r->ids, cap * sizeof(*ids));
    if (ids)
        r->ids = ids;
    member_t *m = ids ? realloc(r->members, cap * sizeof(*m)) : NULL;
    if (m)
        r->members = m;
    if (!ids || !m)
        return -1;
    r->cap = cap;
    return 0;
}

/* The JoinReply listing the members; its pointers point into the room's own arrays. */
static int encode_join_reply(gs_ctx_t *ctx, room_t *r, uint32_t request_id, gs_packet_t **out) {
    char **names = malloc(r->count * sizeof(*names));
    if (!names)
        return GS_ENOMEM;
    for (uint32_t i = 0; i < r->count; i++)
        names[i] = r->members[i].nick;
    Chat__JoinReply rep = CHAT__JOIN_REPLY__INIT;
    rep.request_id = request_id;
    rep.room = r->name;
    rep.n_members = r->count;
    rep.members = names;
    int rc = gs_app_encode(ctx->app, &rep.base, out);
    free(names);
    return rc;
}

void chat_room_join(gs_ctx_t *ctx, void *data, size_t len) {
    chat_lobby_join_t *req = data;
    chat_server_t *s = server_of(ctx);
    room_t *r = room_of(ctx);
    if (r->closed) {
        /* The lobby has forgotten this room (or will before it reads this): ask again. */
        gs_actor_post(s->lobby, chat_lobby_join, req, len);
        return;
    }
    int added = 0;
    if (find(r, req->session) < 0) {
        if (r->count >= s->lim.max_members_per_room) {
            chat_join_fail(req, CHAT__ERROR_CODE__ERROR_ROOM_FULL, "room full");
            return;
        }
        if (make_room_for_one(r) != 0) {
            chat_join_fail(req, CHAT__ERROR_CODE__ERROR_SERVER_BUSY, "out of memory");
            return;
        }
        r->ids[r->count] = req->session;
        memcpy(r->members[r->count].nick, req->nick, sizeof(r->members[0].nick));
        r->count++;
        added = 1;
    }
    chat_join_result_t res = {.request_id = req->request_id};
    memcpy(res.room_name, req->room, sizeof(res.room_name));
    if (encode_join_reply(ctx, r, req->request_id, &res.reply) != 0) {
        if (added && --r->count == 0) { /* the joiner was the last member, and the only one */
            r->closed = 1;
            tell_lobby(ctx, r);
        }
        chat_join_fail(req, CHAT__ERROR_CODE__ERROR_SERVER_BUSY, "cannot encode the reply");
        return;
    }
    if (added) {
        /* The others hear of the joiner (the last member); it gets the member list instead. */
        announce(ctx, r, r->count - 1, req->nick, CHAT__ROOM_EVENT__KIND__KIND_JOINED);
        tell_lobby(ctx, r);
    }
    res.room = ctx->actor;
    gs_actor_ref(ctx->actor); /* the session's */
    if (gs_actor_post(req->session_actor, chat_session_join_result, &res, sizeof(res)) != 0) {
        /* The session will never learn it joined (its join stays pending until it closes):
         * undo the membership so no chat is fanned out to it for nothing. */
        gs_packet_unref(res.reply);
        gs_actor_unref(ctx->actor);
        chat_room_leave_t l = {.session = req->session};
        chat_room_leave(ctx, &l, sizeof(l));
    }
    gs_actor_unref(req->session_actor);
}

void chat_room_leave(gs_ctx_t *ctx, void *data, size_t len) {
    (void)len;
    chat_room_leave_t *req = data;
    chat_server_t *s = server_of(ctx);
    room_t *r = room_of(ctx);
    int i = find(r, req->session);
    if (i < 0) {
        if (req->request_id)
            chat_send_error(s, req->session, req->request_id, CHAT__ERROR_CODE__ERROR_NOT_IN_ROOM,
                            gs_msg_id_of_name("chat.LeaveRequest"), "not in that room");
        return;
    }
    char nick[CHAT_NICK_MAX_BYTES + 1];
    memcpy(nick, r->members[i].nick, sizeof(nick));
    r->count--;
    r->ids[i] = r->ids[r->count];
    r->members[i] = r->members[r->count];
    if (req->request_id) {
        Chat__LeaveReply rep = CHAT__LEAVE_REPLY__INIT;
        rep.request_id = req->request_id;
        rep.room = r->name;
        gs_app_send(ctx->app, req->session, &rep.base);
    }
    announce(ctx, r, r->count, nick, CHAT__ROOM_EVENT__KIND__KIND_LEFT);
    if (r->count == 0)
        r->closed = 1;
    tell_lobby(ctx, r);
}

void chat_room_chat(gs_ctx_t *ctx, void *data, size_t len) {
    (void)len;
    chat_room_chat_t *c = data;
    chat_server_t *s = server_of(ctx);
    room_t *r = room_of(ctx);
    if (find(r, c->from) < 0)
        return; /* left between sending and now: its session already forgot the room */
    Chat__ChatDelivery d = CHAT__CHAT_DELIVERY__INIT;
    d.room = r->name;
    d.sender = c->from_nick;
    d.text = (char *)(c + 1); /* terminated copy of the sender's text, checked by the decoder */
    d.seq = c->seq;
    d.sent_at_us = c->sent_at_us;
    d.server_time_us = chat_now_us();
    size_t sent = 0;
    gs_app_broadcast(ctx->app, r->ids, r->count, &d.base, &sent);
    atomic_fetch_add_explicit(&s->ctr.deliveries, sent, memory_order_relaxed);
}

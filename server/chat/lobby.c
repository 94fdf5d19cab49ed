/* SPDX-License-Identifier: MIT */
/* The lobby actor of gs-chat-server: the one place that knows every nickname (uniqueness,
 * whispers) and every room (creation on first join, room lists). Being one actor, it needs no
 * lock; it only ever holds small maps and forwards the heavy work (fan-out) to rooms. */
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "strmap.h"

typedef struct room_entry {
    gs_actor_t *room; /* the lobby's reference */
    uint32_t members;
} room_entry_t;

typedef struct lobby {
    strmap_t nicks; /* nickname -> session id (stored in the pointer) */
    strmap_t rooms; /* room name -> room_entry_t* */
} lobby_t;

static chat_server_t *server_of(gs_ctx_t *ctx) { return gs_app_user(ctx->app); }
static lobby_t *lobby_of(gs_ctx_t *ctx) { return gs_actor_user(ctx->actor); }

int chat_lobby_create(chat_server_t *s) {
    lobby_t *l = calloc(1, sizeof(*l));
    s->lobby = l ? gs_actor_create(s->app, "lobby") : NULL;
    if (!s->lobby) {
        free(l);
        return GS_ENOMEM;
    }
    strmap_init(&l->nicks);
    strmap_init(&l->rooms);
    gs_actor_set_user(s->lobby, l);
    return 0;
}

void chat_lobby_destroy(chat_server_t *s) {
    if (!s->lobby)
        return;
    lobby_t *l = gs_actor_user(s->lobby);
    /* The app has stopped: every session closed and every room emptied and reported closed, so
     * normally nothing is left; whatever is, is released here. */
    for (size_t i = 0; i < l->rooms.cap; i++) {
        room_entry_t *e = l->rooms.slots[i].value;
        if (l->rooms.slots[i].key && e) {
            gs_actor_unref(e->room);
            free(e);
        }
    }
    strmap_fini(&l->rooms);
    strmap_fini(&l->nicks);
    free(l);
    gs_actor_unref(s->lobby);
    s->lobby = NULL;
}

void chat_lobby_login(gs_ctx_t *ctx, void *data, size_t len) {
    (void)len;
    chat_lobby_login_t *req = data;
    lobby_t *l = lobby_of(ctx);
    chat_login_result_t res = {.request_id = req->request_id};
    memcpy(res.nick, req->nick, sizeof(res.nick));
    if (!strmap_get(&l->nicks, req->nick) &&
        strmap_put(&l->nicks, req->nick, (void *)(uintptr_t)req->session) == 0)
        res.ok = 1;
    gs_actor_post(req->session_actor, chat_session_login_result, &res, sizeof(res));
    gs_actor_unref(req->session_actor);
}

void chat_lobby_logout(gs_ctx_t *ctx, void *data, size_t len) {
    (void)len;
    chat_lobby_logout_t *req = data;
    lobby_t *l = lobby_of(ctx);
    /* Only the session that owns the nickname may give it back. */
    if ((gs_session_id_t)(uintptr_t)strmap_get(&l->nicks, req->nick) == req->session)
        strmap_remove(&l->nicks, req->nick);
}

void chat_join_fail(chat_lobby_join_t *req, Chat__ErrorCode code, const char *detail) {
    chat_join_result_t res = {.request_id = req->request_id, .error = code, .detail = detail};
    memcpy(res.room_name, req->room, sizeof(res.room_name));
    gs_actor_post(req->session_actor, chat_session_join_result, &res, sizeof(res));
    gs_actor_unref(req->session_actor);
}

void chat_lobby_join(gs_ctx_t *ctx, void *data, size_t len) {
    chat_lobby_join_t *req = data;
    chat_server_t *s = server_of(ctx);
    lobby_t *l = lobby_of(ctx);
    room_entry_t *e = strmap_get(&l->rooms, req->room);
    if (!e) {
        if (l->rooms.count >= s->lim.max_rooms) {
            chat_join_fail(req, CHAT__ERROR_CODE__ERROR_SERVER_BUSY,
                           "too many rooms on the server");
            return;
        }
        e = calloc(1, sizeof(*e));
        if (e)
            e->room = chat_room_create(s, req->room);
        if (!e || !e->room || strmap_put(&l->rooms, req->room, e) != 0) {
            if (e && e->room)
                gs_actor_unref(e->room);
            free(e);
            chat_join_fail(req, CHAT__ERROR_CODE__ERROR_SERVER_BUSY, "out of memory");
            return;
        }
        atomic_fetch_add_explicit(&s->ctr.rooms, 1, memory_order_relaxed);
    }
    /* The room answers the session, which answers the client (the session reference travels on). */
    if (gs_actor_post(e->room, chat_room_join, req, len) != 0)
        chat_join_fail(req, CHAT__ERROR_CODE__ERROR_SERVER_BUSY, "try again");
}

void chat_lobby_room_update(gs_ctx_t *ctx, void *data, size_t len) {
    (void)len;
    chat_lobby_room_update_t *u = data;
    chat_server_t *s = server_of(ctx);
    lobby_t *l = lobby_of(ctx);
    const char *name = (const char *)(u + 1);
    room_entry_t *e = strmap_get(&l->rooms, name);
    if (!e || e->room != u->room)
        return; /* an update from a room already forgotten */
    e->members = u->members;
    if (u->closed) {
        /* Joins still on their way to the closed room bounce back here and create a new one. */
        strmap_remove(&l->rooms, name);
        gs_actor_unref(e->room);
        free(e);
        atomic_fetch_sub_explicit(&s->ctr.rooms, 1, memory_order_relaxed);
    }
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const Chat__RoomInfo *)a)->name, ((const Chat__RoomInfo *)b)->name);
}

/* Bytes of a length-delimited field of n bytes with a one-byte tag. */
static size_t field_bytes(size_t n) {
    size_t v = 1;
    for (size_t x = n; x >= 0x80; x >>= 7)
        v++;
    return 1 + v + n;
}

/* One page of rooms, in name order after req->after, as many as fit the largest body: a reply
 * is always sent, whatever the number of rooms (a list past the largest frame used to be
 * refused by the encoder, and the client got nothing). */
void chat_lobby_room_list(gs_ctx_t *ctx, void *data, size_t len) {
    (void)len;
    chat_lobby_room_list_t *req = data;
    chat_server_t *s = server_of(ctx);
    lobby_t *l = lobby_of(ctx);
    size_t n = l->rooms.count;
    Chat__RoomInfo *infos = calloc(n ? n : 1, sizeof(*infos));
    Chat__RoomInfo **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
    if (!infos || !ptrs) {
        free(infos);
        free(ptrs);
        chat_send_error(s, req->session, req->request_id, CHAT__ERROR_CODE__ERROR_SERVER_BUSY,
                        gs_msg_id_of_name("chat.RoomListRequest"), "out of memory");
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < l->rooms.cap && k < n; i++) {
        if (!l->rooms.slots[i].key || strcmp(l->rooms.slots[i].key, req->after) <= 0)
            continue;
        room_entry_t *e = l->rooms.slots[i].value;
        chat__room_info__init(&infos[k]);
        infos[k].name = l->rooms.slots[i].key;
        infos[k].members = e->members;
        k++;
    }
    qsort(infos, k, sizeof(*infos), by_name);
    /* The request id, the entries, and room for the cursor: the name of the last entry. */
    size_t used = 6, page = 0;
    for (; page < k; page++) {
        size_t entry = field_bytes(protobuf_c_message_get_packed_size(&infos[page].base));
        if (used + entry + field_bytes(strlen(infos[page].name)) > s->max_body)
            break;
        used += entry;
        ptrs[page] = &infos[page];
    }
    if (page == 0 && k > 0) {
        /* Not even one entry fits (a tiny max_body): say so rather than end the walk. */
        free(infos);
        free(ptrs);
        chat_send_error(s, req->session, req->request_id, CHAT__ERROR_CODE__ERROR_SERVER_BUSY,
                        gs_msg_id_of_name("chat.RoomListRequest"), "room list page too small");
        return;
    }
    Chat__RoomList r = CHAT__ROOM_LIST__INIT;
    r.request_id = req->request_id;
    r.n_rooms = page;
    r.rooms = ptrs;
    r.next = page < k ? infos[page - 1].name : (char *)"";
    gs_app_send(s->app, req->session, &r.base);
    free(infos);
    free(ptrs);
}

void chat_lobby_whisper(gs_ctx_t *ctx, void *data, size_t len) {
    (void)len;
    chat_lobby_whisper_t *w = data;
    chat_server_t *s = server_of(ctx);
    lobby_t *l = lobby_of(ctx);
    gs_session_id_t to = (gs_session_id_t)(uintptr_t)strmap_get(&l->nicks, w->to_nick);
    if (to == GS_SESSION_NONE) {
        chat_send_error(s, w->from, w->request_id, CHAT__ERROR_CODE__ERROR_NO_SUCH_USER,
                        gs_msg_id_of_name("chat.WhisperSend"), "no such user");
        return;
    }
    Chat__WhisperDelivery d = CHAT__WHISPER_DELIVERY__INIT;
    d.sender = w->from_nick;
    d.text = (char *)(w + 1); /* terminated copy of the sender's text, checked by the decoder */
    d.seq = w->seq;
    d.sent_at_us = w->sent_at_us;
    d.server_time_us = chat_now_us();
    int rc = gs_app_send(s->app, to, &d.base);
    if (rc != 0) {
        /* The recipient is going away right now: to the sender, it is gone. */
        chat_send_error(s, w->from, w->request_id, CHAT__ERROR_CODE__ERROR_NO_SUCH_USER,
                        gs_msg_id_of_name("chat.WhisperSend"), "no such user");
        return;
    }
    atomic_fetch_add_explicit(&s->ctr.whispers, 1, memory_order_relaxed);
    Chat__WhisperReply r = CHAT__WHISPER_REPLY__INIT;
    r.request_id = w->request_id;
    r.to = w->to_nick;
    gs_app_send(s->app, w->from, &r.base);
}

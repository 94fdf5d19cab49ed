/* SPDX-License-Identifier: MIT */
/* gs-chat-server: the shared types of its three kinds of actors.
 *
 *   session actor (one per connection, the app's)  login state, joined rooms, rate limit
 *   lobby actor (one)                                nicknames -> sessions, room names -> rooms
 *   room actor (one per room)                        members; fans chat out with one encode
 *
 * Actors talk only by posting jobs whose data is a copy (the structs below), so no state is
 * shared and nothing is locked. Replies to the client carry its request_id and are sent by the
 * actor that knows the answer; a reply that confirms a change of the session's state (login,
 * join) is sent by the session actor after the change. See docs/chat.md. */
#ifndef GS_CHAT_H
#define GS_CHAT_H

#include <stdint.h>

#include "chat_proto.h"
#include "gs/content.h"

#define CHAT_NICK_MAX_BYTES 64 /* 16 code points of up to 4 bytes */
#define CHAT_ROOM_MAX_BYTES 128

typedef struct chat_limits {
    uint32_t nick_min_chars, nick_max_chars; /* [3, 16] */
    uint32_t room_max_chars;                 /* [32] */
    uint32_t max_text_bytes;                 /* chat and whisper text [1024] */
    uint32_t max_rooms_per_user;             /* [10] */
    uint32_t max_members_per_room;           /* [900]: a JoinReply of that many longest
                                                nicknames must fit max_body (checked at start) */
    uint32_t max_rooms;                      /* rooms alive at once [10000] */
    uint32_t rate_per_s;        /* request budget per second per session, in cost units (a chat
                                   costs 1; session.c lists the cost of each request) [20] */
    uint32_t burst;             /* token bucket depth [40] */
    uint32_t abuse_strikes;     /* refusals (leaking at strike_leak_per_s) that disconnect [40] */
    uint32_t strike_leak_per_s; /* refusals forgiven per second [0: rate_per_s / 4], so that a
                                   client refused more often than that, forever, is cut */
    uint32_t heartbeat_ms;      /* silence that closes a session [30000] */
    uint32_t login_timeout_ms;  /* connect -> logged in, or the session is cut [10000] */
} chat_limits_t;

/* The chat server's counters, declared once: the list generates chat_counters_t, the --stats
 * lines and the Prometheus exposition (server/chat/metrics.c).
 *   X(field, kind, metric, help); metric is the Prometheus name after "gs_chat_". */
#define CHAT_COUNTERS_MAP(X)                                                                       \
    X(logins, COUNTER, "logins_total", "Logins accepted.")                                         \
    X(login_refused, COUNTER, "logins_refused_total",                                              \
      "Logins refused (nickname taken or invalid).")                                               \
    X(chats, COUNTER, "chats_total", "Room chat messages accepted.")                               \
    X(deliveries, COUNTER, "deliveries_total", "Room chat messages queued to members.")            \
    X(whispers, COUNTER, "whispers_total", "Whispers delivered.")                                  \
    X(errors_sent, COUNTER, "errors_sent_total", "Error replies sent.")                            \
    X(rate_limited, COUNTER, "rate_limited_total",                                                 \
      "Requests of any type refused by the rate limit.")                                           \
    X(abusers_cut, COUNTER, "abusers_cut_total", "Sessions cut for flooding past the limit.")      \
    X(pre_login_cut, COUNTER, "pre_login_cut_total", "Sessions cut for a request before login.")   \
    X(rooms, GAUGE, "rooms", "Rooms open.")

typedef struct chat_counters {
#define CHAT__CTR_FIELD(f, kind, metric, help) _Atomic uint64_t f;
    CHAT_COUNTERS_MAP(CHAT__CTR_FIELD)
#undef CHAT__CTR_FIELD
} chat_counters_t;

typedef struct chat_server {
    gs_app_t *app;
    chat_limits_t lim;
    gs_actor_t *lobby;
    chat_counters_t ctr;
    uint32_t max_body;        /* largest message body (the app's max_body, resolved) */
    gs_log_limit_t log_abuse; /* "flooding: cut" lines, one per abuser */
} chat_server_t;

/* ---- the server as a whole (server.c): used by main.c and by the tests --------------------- */
/* The net's per-address accept limits, as gs-chat-server's options give them. */
typedef struct chat_addr_limits {
    uint32_t max_sessions, accept_rate, accept_burst; /* 0: off, off, 2 x rate */
    int limit_loopback;
} chat_addr_limits_t;

typedef struct chat_server_config {
    const char *host; /* ["127.0.0.1"] */
    uint16_t port;    /* 0 picks one: read it with gs_app_listen_port(s->app) */
    uint32_t io_threads, workers, max_sessions;
    uint32_t send_delay_ms;    /* net send coalescing (gs_net_config_t.send_delay_ms) [0] */
    int on_io_thread;          /* handlers on the IO thread, no workers (run_on_io_thread) */
    uint32_t max_body;         /* largest message body, both ways (gs_app_config_t) [0: 64 KiB] */
    uint32_t max_session_jobs; /* frames queued per session (gs_app_config_t) [0: its default] */
    chat_addr_limits_t addr;   /* per-address accept limits (gs_net_config_t.addr_*) [0: off] */
    gs_net_backend_t backend;  /* gs_net_config_t.backend [auto] */
    chat_limits_t lim;
} chat_server_config_t;

/* The defaults of every limit (the --help text of gs-chat-server lists them). */
void chat_limits_default(chat_limits_t *lim);
/* Whether lim fits max_body: the largest JoinReply (max_members_per_room longest nicknames in
 * the longest room name) and the largest ChatDelivery must encode. 0, or GS_EINVAL (logged,
 * with the largest member count that would fit). */
int chat_limits_check(const chat_limits_t *lim, uint32_t max_body);
/* Create and start: app, protocol, handlers, lobby, listener. s is the caller's (zeroed here).
 * Returns 0, GS_EINVAL (limits that do not fit max_body) or a GS_E* code (nothing is left
 * running). */
int chat_server_start(chat_server_t *s, const chat_server_config_t *cfg);
/* Stop (flushing sends for up to flush_ms) and free everything. Returns the unsent count. */
uint64_t chat_server_stop(chat_server_t *s, uint32_t flush_ms);

/* ---- client replies (any actor) ---------------------------------------------------------- */
void chat_send_error(chat_server_t *s, gs_session_id_t to, uint32_t request_id,
                     Chat__ErrorCode code, uint32_t request_msg_id, const char *detail);

/* ---- session actor (session.c) ----------------------------------------------------------- */
/* Registers the message handlers and the session open/close handlers on s->app. */
int chat_session_register(chat_server_t *s);

/* Posted to a session actor by the lobby/room with the outcome of its request. */
typedef struct chat_login_result {
    int ok;
    uint32_t request_id;
    char nick[CHAT_NICK_MAX_BYTES + 1];
} chat_login_result_t;
void chat_session_login_result(gs_ctx_t *ctx, void *data, size_t len);

/* The session actor, not the room, sends the outcome to the client, after it has recorded it:
 * a client that chats as soon as it reads "joined" must find its session already in the room. */
typedef struct chat_join_result {
    gs_actor_t *room;    /* a reference for the session, or NULL when the join failed */
    gs_packet_t *reply;  /* the encoded JoinReply (one reference) when room != NULL */
    uint32_t request_id; /* for the error reply when room == NULL */
    Chat__ErrorCode error;
    const char *detail; /* a string literal */
    char room_name[CHAT_ROOM_MAX_BYTES + 1];
} chat_join_result_t;
void chat_session_join_result(gs_ctx_t *ctx, void *data, size_t len);

/* ---- lobby actor (lobby.c) --------------------------------------------------------------- */
int chat_lobby_create(chat_server_t *s);
void chat_lobby_destroy(chat_server_t *s); /* after the app stopped */

typedef struct chat_lobby_login {
    gs_session_id_t session;
    gs_actor_t *session_actor; /* a reference, passed on to the reply */
    uint32_t request_id;
    char nick[CHAT_NICK_MAX_BYTES + 1];
} chat_lobby_login_t;
void chat_lobby_login(gs_ctx_t *ctx, void *data, size_t len);

typedef struct chat_lobby_logout {
    gs_session_id_t session;
    char nick[CHAT_NICK_MAX_BYTES + 1];
} chat_lobby_logout_t;
void chat_lobby_logout(gs_ctx_t *ctx, void *data, size_t len);

typedef struct chat_lobby_join {
    gs_session_id_t session;
    gs_actor_t *session_actor; /* a reference, passed on */
    uint32_t request_id;
    char nick[CHAT_NICK_MAX_BYTES + 1];
    char room[CHAT_ROOM_MAX_BYTES + 1];
} chat_lobby_join_t;
void chat_lobby_join(gs_ctx_t *ctx, void *data, size_t len);
/* A failed join (lobby or room): its outcome to the requesting session actor, which answers
 * the client with the error. Consumes req's session_actor reference. */
void chat_join_fail(chat_lobby_join_t *req, Chat__ErrorCode code, const char *detail);

typedef struct chat_lobby_room_list {
    gs_session_id_t session;
    uint32_t request_id;
    char after[CHAT_ROOM_MAX_BYTES + 1]; /* the page starts after this name ("" = first) */
} chat_lobby_room_list_t;
void chat_lobby_room_list(gs_ctx_t *ctx, void *data, size_t len);

/* Posted by a room: its member count changed (for room lists), or it emptied and closed.
 * Header, then the room's name with its terminator. */
typedef struct chat_lobby_room_update {
    gs_actor_t *room; /* identity only: no reference travels with this */
    uint32_t members;
    int closed; /* the room is empty and takes no more joins: forget it */
} chat_lobby_room_update_t;
void chat_lobby_room_update(gs_ctx_t *ctx, void *data, size_t len);

/* Whisper: header, then text_len bytes of text and a terminator. */
typedef struct chat_lobby_whisper {
    gs_session_id_t from;
    uint32_t request_id;
    uint64_t seq, sent_at_us;
    char from_nick[CHAT_NICK_MAX_BYTES + 1];
    char to_nick[CHAT_NICK_MAX_BYTES + 1];
    uint32_t text_len;
} chat_lobby_whisper_t;
void chat_lobby_whisper(gs_ctx_t *ctx, void *data, size_t len);

/* ---- room actor (room.c) ----------------------------------------------------------------- */
/* A new room actor named name (a reference for the caller, the lobby). */
gs_actor_t *chat_room_create(chat_server_t *s, const char *name);

/* The lobby forwards a join (same struct as chat_lobby_join_t). */
void chat_room_join(gs_ctx_t *ctx, void *data, size_t len);

typedef struct chat_room_leave {
    gs_session_id_t session;
    uint32_t request_id; /* 0: the session closed, no reply */
} chat_room_leave_t;
void chat_room_leave(gs_ctx_t *ctx, void *data, size_t len);

/* Chat: header, then text_len bytes of text and a terminator. */
typedef struct chat_room_chat {
    gs_session_id_t from;
    uint32_t request_id;
    uint64_t seq, sent_at_us;
    char from_nick[CHAT_NICK_MAX_BYTES + 1];
    uint32_t text_len;
} chat_room_chat_t;
void chat_room_chat(gs_ctx_t *ctx, void *data, size_t len);

/* The server's clock for *_time_us fields. */
static inline uint64_t chat_now_us(void) { return gs_now_ns() / 1000u; }

#endif /* GS_CHAT_H */

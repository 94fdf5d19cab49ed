/* SPDX-License-Identifier: MIT */
/* gs-chat-server as an object: start and stop, for the program and for in-process tests. */
#include <string.h>

#include "chat.h"

void chat_limits_default(chat_limits_t *lim) {
    *lim = (chat_limits_t){.nick_min_chars = 3,
                           .nick_max_chars = 16,
                           .room_max_chars = 32,
                           .max_text_bytes = 1024,
                           .max_rooms_per_user = 10,
                           .max_members_per_room = 900,
                           .max_rooms = 10000,
                           .rate_per_s = 20,
                           .burst = 40,
                           .abuse_strikes = 40,
                           .heartbeat_ms = 30000,
                           .login_timeout_ms = 10000};
}

/* Bytes of a length-delimited field of n bytes (tag below 16: one byte). */
static uint64_t field_bytes(uint64_t n) {
    uint64_t v = 1;
    for (uint64_t x = n; x >= 0x80; x >>= 7)
        v++;
    return 1 + v + n;
}

static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

int chat_limits_check(const chat_limits_t *lim, uint32_t max_body) {
    /* Worst case: every character takes 4 bytes of UTF-8, up to the byte caps. */
    uint64_t nick = min_u32(lim->nick_max_chars * 4u, CHAT_NICK_MAX_BYTES);
    uint64_t room = min_u32(lim->room_max_chars * 4u, CHAT_ROOM_MAX_BYTES);
    uint64_t varint = 11; /* tag + the longest varint: request_id, seq, times */
    uint64_t head = varint + field_bytes(room);
    uint64_t join = head + (uint64_t)lim->max_members_per_room * field_bytes(nick);
    uint64_t chat =
        field_bytes(room) + field_bytes(nick) + field_bytes(lim->max_text_bytes) + 3 * varint;
    if (join <= max_body && chat <= max_body)
        return 0;
    if (join > max_body)
        gs_log(GS_LOG_ERROR, "chat",
               "%u members per room of %llu-byte nicknames do not fit a %u-byte JoinReply: "
               "at most %llu",
               lim->max_members_per_room, (unsigned long long)nick, max_body,
               (unsigned long long)(max_body > head ? (max_body - head) / field_bytes(nick) : 0));
    else
        gs_log(GS_LOG_ERROR, "chat", "%u-byte texts do not fit a %u-byte ChatDelivery",
               lim->max_text_bytes, max_body);
    return GS_EINVAL;
}

int chat_server_start(chat_server_t *s, const chat_server_config_t *cfg) {
    memset(s, 0, sizeof(*s));
    s->lim = cfg->lim;
    s->max_body = cfg->max_body ? cfg->max_body : GS_FRAME_MAX_DEFAULT;
    if (!s->lim.strike_leak_per_s)
        s->lim.strike_leak_per_s = s->lim.rate_per_s / 4 ? s->lim.rate_per_s / 4 : 1;
    int rc = chat_limits_check(&s->lim, s->max_body);
    if (rc != 0)
        return rc;
    gs_app_config_t ac = {.workers = cfg->workers, .user = s};
    ac.net.io_threads = cfg->io_threads;
    ac.net.max_sessions = cfg->max_sessions;
    ac.net.send_delay_ms = cfg->send_delay_ms;
    ac.net.addr_max_sessions = cfg->addr.max_sessions;
    ac.net.addr_accept_rate = cfg->addr.accept_rate;
    ac.net.addr_accept_burst = cfg->addr.accept_burst;
    ac.net.addr_limit_loopback = cfg->addr.limit_loopback;
    ac.net.backend = cfg->backend;
    ac.run_on_io_thread = cfg->on_io_thread;
    ac.max_body = cfg->max_body;
    ac.max_session_jobs = cfg->max_session_jobs;
    /* The server-side heartbeat: a session that sends nothing (not even a Ping) for this long is
     * closed by the net's idle deadline. */
    ac.net.idle_timeout_ms = cfg->lim.heartbeat_ms;
    rc = gs_app_create(&s->app, &ac);
    if (rc == 0)
        rc = chat_proto_register(gs_app_registry(s->app));
    if (rc == 0)
        rc = chat_session_register(s);
    if (rc == 0)
        rc = chat_lobby_create(s);
    if (rc == 0)
        rc = gs_app_listen(s->app, &(gs_listen_config_t){.host = cfg->host, .port = cfg->port});
    if (rc == 0)
        rc = gs_app_start(s->app);
    if (rc != 0) {
        chat_lobby_destroy(s);
        gs_app_destroy(s->app);
        s->app = NULL;
    }
    return rc;
}

uint64_t chat_server_stop(chat_server_t *s, uint32_t flush_ms) {
    if (!s->app)
        return 0;
    /* Every session closes and every job runs (rooms empty and report to the lobby) before the
     * lobby's own state goes. */
    uint64_t unsent = gs_app_stop(s->app, flush_ms);
    chat_lobby_destroy(s);
    gs_app_destroy(s->app);
    s->app = NULL;
    return unsent;
}

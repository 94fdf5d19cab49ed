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
                           .max_members_per_room = 1000,
                           .max_rooms = 10000,
                           .rate_per_s = 20,
                           .burst = 40,
                           .abuse_strikes = 40,
                           .heartbeat_ms = 30000};
}

int chat_server_start(chat_server_t *s, const chat_server_config_t *cfg) {
    memset(s, 0, sizeof(*s));
    s->lim = cfg->lim;
    gs_app_config_t ac = {.workers = cfg->workers, .user = s};
    ac.net.io_threads = cfg->io_threads;
    ac.net.max_sessions = cfg->max_sessions;
    ac.net.send_delay_ms = cfg->send_delay_ms;
    ac.run_on_io_thread = cfg->on_io_thread;
    ac.max_body = cfg->max_body;
    /* The server-side heartbeat: a session that sends nothing (not even a Ping) for this long is
     * closed by the net's idle deadline. */
    ac.net.idle_timeout_ms = cfg->lim.heartbeat_ms;
    int rc = gs_app_create(&s->app, &ac);
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

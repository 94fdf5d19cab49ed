/* SPDX-License-Identifier: MIT */
/* gs-chat-server's exposition and --stats line, generated from CHAT_COUNTERS_MAP (chat.h). */
#ifndef GS_CHAT_METRICS_H
#define GS_CHAT_METRICS_H

#include "chat.h"
#include "gs/metrics.h"

/* gs_chat_* (the chat counters), then gs_content_*, gs_net_* and gs_pool_* of the server's app.
 * A gs_metrics_write_cb: user is the chat_server_t. Any thread. */
void chat_metrics_write(gs_expo_t *w, void *user);
/* " chat.FIELD VALUE" for every chat counter. */
void chat_metrics_line(gs_expo_t *w, chat_server_t *s);

#endif

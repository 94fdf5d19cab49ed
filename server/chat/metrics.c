/* SPDX-License-Identifier: MIT */
/* gs-chat-server's exposition and --stats line, generated from CHAT_COUNTERS_MAP (chat.h). */
#include <inttypes.h>

#include "chat_metrics.h"

#define KIND_COUNTER GS_METRIC_COUNTER
#define KIND_GAUGE   GS_METRIC_GAUGE

static uint64_t ld(_Atomic uint64_t *c) { return atomic_load_explicit(c, memory_order_relaxed); }

void chat_metrics_write(gs_expo_t *w, void *user) {
    chat_server_t *s = user;
#define FAMILY(f, kind, metric, help)                                                              \
    gs_expo_family(w, "gs_chat_" metric, KIND_##kind, help);                                       \
    gs_expo_sample(w, "gs_chat_" metric, NULL, 0, ld(&s->ctr.f));
    CHAT_COUNTERS_MAP(FAMILY)
#undef FAMILY
    gs_app_stats_t st;
    gs_app_stats(s->app, &st);
    gs_metrics_write_app(w, &st);
    gs_metrics_write_net(w, gs_app_net(s->app));
    gs_metrics_write_pool(w, &st.pool);
}

void chat_metrics_line(gs_expo_t *w, chat_server_t *s) {
#define LINE(f, kind, metric, help) gs_expo_printf(w, " chat." #f " %" PRIu64, ld(&s->ctr.f));
    CHAT_COUNTERS_MAP(LINE)
#undef LINE
}

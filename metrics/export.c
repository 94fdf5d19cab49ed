/* SPDX-License-Identifier: MIT */
/* The layers' exporters and --stats line pieces, generated from their counter lists
 * (GS_NET_STATS_MAP, GS_POOL_STATS_MAP, GS_APP_STATS_MAP): a counter added to a list appears in
 * the exposition and in the lines without a change here. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs/metrics.h"

#define KIND_COUNTER    GS_METRIC_COUNTER
#define KIND_GAUGE      GS_METRIC_GAUGE
#define KIND_NS_COUNTER GS_METRIC_COUNTER
#define KIND(k)         KIND_##k
/* Nanosecond counters are exported in seconds. */
#define SCALE_COUNTER    0
#define SCALE_GAUGE      0
#define SCALE_NS_COUNTER 1
#define SCALED(k)        SCALE_##k

#define NET_MAX_THREADS 256

void gs_metrics_write_net(gs_expo_t *w, gs_net_t *net) {
    uint32_t n = gs_net_config(net)->io_threads;
    if (n > NET_MAX_THREADS)
        n = NET_MAX_THREADS;
    gs_net_stats_t *st = calloc(n ? n : 1, sizeof *st);
    if (!st) {
        w->truncated = 1; /* the server answers 500 rather than half an exposition */
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        gs_net_io_stats(net, i, &st[i]);
    char tid[12];
    gs_label_t lab[2] = {{"io_thread", tid}, {NULL, NULL}};
#define NET_FAMILY(f, src, kind, metric, help)                                                     \
    gs_expo_family(w, "gs_net_" metric, KIND(kind), help);                                         \
    for (uint32_t i = 0; i < n; i++) {                                                             \
        snprintf(tid, sizeof tid, "%" PRIu32, i);                                                  \
        gs_expo_sample(w, "gs_net_" metric, lab, 1, st[i].f);                                      \
    }
    GS_NET_STATS_MAP(NET_FAMILY)
#undef NET_FAMILY
#define NET_VEC(f, src, cnt, label, fn, kind, metric, help)                                        \
    gs_expo_family(w, "gs_net_" metric, KIND(kind), help);                                         \
    for (uint32_t i = 0; i < n; i++) {                                                             \
        snprintf(tid, sizeof tid, "%" PRIu32, i);                                                  \
        for (int r = 0; r < (cnt); r++) {                                                          \
            lab[1].name = label;                                                                   \
            lab[1].value = fn(r);                                                                  \
            gs_expo_sample(w, "gs_net_" metric, lab, 2, st[i].f[r]);                               \
        }                                                                                          \
    }
    GS_NET_STATS_VEC_MAP(NET_VEC)
#undef NET_VEC
#define NET_HIST(f, bounds, cnt, metric, help)                                                     \
    gs_expo_family(w, "gs_net_" metric, GS_METRIC_HISTOGRAM, help);                                \
    for (uint32_t i = 0; i < n; i++) {                                                             \
        snprintf(tid, sizeof tid, "%" PRIu32, i);                                                  \
        gs_expo_histogram(w, "gs_net_" metric, lab, 1, &st[i].f, 1.0);                             \
    }
    GS_NET_HIST_MAP(NET_HIST)
#undef NET_HIST
    free(st);
    gs_label_t be = {"backend", gs_net_backend_name(net)};
    gs_expo_family(w, "gs_net_backend_info", GS_METRIC_GAUGE, "The IO backend in use (always 1).");
    gs_expo_sample(w, "gs_net_backend_info", &be, 1, 1);
    gs_expo_family(w, "gs_net_io_threads", GS_METRIC_GAUGE, "IO threads of the net instance.");
    gs_expo_sample(w, "gs_net_io_threads", NULL, 0, n);
}

void gs_metrics_write_pool(gs_expo_t *w, const gs_pool_stats_t *st) {
#define POOL_FAMILY(f, kind, metric, help)                                                         \
    gs_expo_family(w, "gs_pool_" metric, KIND(kind), help);                                        \
    gs_expo_sample(w, "gs_pool_" metric, NULL, 0, st->f);
    GS_POOL_STATS_MAP(POOL_FAMILY)
#undef POOL_FAMILY
    char cls[12];
    gs_label_t lab = {"class", cls};
#define POOL_CLASS(f, kind, metric, help)                                                          \
    gs_expo_family(w, "gs_pool_" metric, KIND(kind), help);                                        \
    for (int c = 0; c < GS_POOL_CLASSES; c++) {                                                    \
        snprintf(cls, sizeof cls, "%" PRIu32, st->classes[c].block_size);                          \
        gs_expo_sample(w, "gs_pool_" metric, &lab, 1, st->classes[c].f);                           \
    }
    GS_POOL_CLASS_STATS_MAP(POOL_CLASS)
#undef POOL_CLASS
}

void gs_metrics_write_app(gs_expo_t *w, const gs_app_stats_t *st) {
#define APP_FAMILY(f, src, kind, metric, help)                                                     \
    gs_expo_family(w, "gs_content_" metric, KIND(kind), help);                                     \
    if (SCALED(kind))                                                                              \
        gs_expo_sample_f(w, "gs_content_" metric, NULL, 0, (double)st->f * 1e-9);                  \
    else                                                                                           \
        gs_expo_sample(w, "gs_content_" metric, NULL, 0, st->f);
    GS_APP_STATS_MAP(APP_FAMILY)
#undef APP_FAMILY
#define APP_HIST(f, metric, help)                                                                  \
    gs_expo_family(w, "gs_content_" metric, GS_METRIC_HISTOGRAM, help);                            \
    gs_expo_histogram(w, "gs_content_" metric, NULL, 0, &st->f, 1e-9);
    GS_APP_HIST_MAP(APP_HIST)
#undef APP_HIST
}

void gs_metrics_line_net(gs_expo_t *w, const gs_net_stats_t *st) {
#define NET_LINE(f, src, kind, metric, help) gs_expo_printf(w, " net." #f " %" PRIu64, st->f);
    GS_NET_STATS_MAP(NET_LINE)
#undef NET_LINE
#define NET_VEC_LINE(f, src, cnt, label, fn, kind, metric, help)                                   \
    for (int r = 0; r < (cnt); r++)                                                                \
        if (st->f[r])                                                                              \
            gs_expo_printf(w, " net." #f ".%s %" PRIu64, fn(r), st->f[r]);
    GS_NET_STATS_VEC_MAP(NET_VEC_LINE)
#undef NET_VEC_LINE
}

void gs_metrics_line_pool(gs_expo_t *w, const gs_pool_stats_t *st) {
#define POOL_LINE(f, kind, metric, help) gs_expo_printf(w, " pool." #f " %" PRIu64, st->f);
    GS_POOL_STATS_MAP(POOL_LINE)
#undef POOL_LINE
}

void gs_metrics_line_app(gs_expo_t *w, const gs_app_stats_t *st) {
#define APP_LINE(f, src, kind, metric, help) gs_expo_printf(w, " app." #f " %" PRIu64, st->f);
    GS_APP_STATS_MAP(APP_LINE)
#undef APP_LINE
}

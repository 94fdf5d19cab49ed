/* SPDX-License-Identifier: MIT */
/* The metrics server on Windows: not there yet (docs/operations.md). The exposition writer, the
 * parser and the exporters build and work; only the listener is missing. */
#include "gs/metrics.h"

int gs_metrics_server_start(gs_metrics_server_t **out, const gs_metrics_config_t *cfg) {
    (void)cfg;
    *out = NULL;
    return GS_ENOTSUP;
}
uint16_t gs_metrics_server_port(gs_metrics_server_t *s) {
    (void)s;
    return 0;
}
void gs_metrics_server_set_draining(gs_metrics_server_t *s, int draining) {
    (void)s;
    (void)draining;
}
void gs_metrics_server_stop(gs_metrics_server_t *s) { (void)s; }
void gs_metrics_server_stats(gs_metrics_server_t *s, gs_metrics_server_stats_t *out) {
    (void)s;
    *out = (gs_metrics_server_stats_t){0};
}

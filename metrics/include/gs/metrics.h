/* SPDX-License-Identifier: MIT */
/* metrics: the Prometheus side of the framework. A pure exposition writer (text format 0.0.4, a
 * buffer in, no IO), a pure bounded HTTP/1.1 request parser, exporters generated from the layers'
 * counter lists (GS_NET_STATS_MAP, GS_POOL_STATS_MAP, GS_APP_STATS_MAP), and a small server on
 * its own thread and listening socket serving /metrics and /healthz. Sits above content/, beside
 * the programs: no layer includes it (docs/architecture.md#metrics). */
#ifndef GS_METRICS_H
#define GS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "gs/base.h"
#include "gs/content.h"
#include "gs/net.h"
#include "gs/packet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Exposition writer. Appends to a caller's buffer; when the buffer is too small it stops
 * writing and sets truncated (the caller retries with a larger one). Never allocates.
 * ------------------------------------------------------------------------------------------- */
typedef enum { GS_METRIC_COUNTER, GS_METRIC_GAUGE, GS_METRIC_HISTOGRAM } gs_metric_kind_t;

typedef struct gs_expo {
    char *buf;
    size_t cap, len;
    int truncated;
} gs_expo_t;

typedef struct gs_label {
    const char *name;  /* [a-zA-Z_][a-zA-Z0-9_]*, not checked */
    const char *value; /* any UTF-8; escaped here */
} gs_label_t;

void gs_expo_init(gs_expo_t *w, char *buf, size_t cap);
/* Raw text (used for the --stats lines, which share the writer). */
void gs_expo_printf(gs_expo_t *w, const char *fmt, ...) GS_PRINTF(2, 3);
/* "# HELP name help" (help escaped) and "# TYPE name kind". Once per family, before its
 * samples; a family's samples must follow it without another family in between. */
void gs_expo_family(gs_expo_t *w, const char *name, gs_metric_kind_t kind, const char *help);
/* One sample "name{labels} value". */
void gs_expo_sample(gs_expo_t *w, const char *name, const gs_label_t *labels, size_t nlabels,
                    uint64_t value);
void gs_expo_sample_f(gs_expo_t *w, const char *name, const gs_label_t *labels, size_t nlabels,
                      double value);
/* A histogram's samples: name_bucket{labels,le="..."} (cumulative, +Inf last), name_sum and
 * name_count. Bounds and sum are multiplied by scale (1e-9: nanoseconds to seconds). */
void gs_expo_histogram(gs_expo_t *w, const char *name, const gs_label_t *labels, size_t nlabels,
                       const gs_hist_snap_t *h, double scale);

/* ---------------------------------------------------------------------------------------------
 * Exporters, generated from the layers' lists. Any thread (they read stats snapshots).
 * ------------------------------------------------------------------------------------------- */
/* gs_net_*: every GS_NET_STATS_MAP entry with one sample per IO thread (label io_thread), plus
 * gs_net_backend_info{backend} and gs_net_io_threads. */
void gs_metrics_write_net(gs_expo_t *w, gs_net_t *net);
/* gs_pool_*: totals and per class (label class = block size). */
void gs_metrics_write_pool(gs_expo_t *w, const gs_pool_stats_t *st);
/* gs_content_*: the GS_APP_STATS_MAP entries and GS_APP_HIST_MAP histograms (not st->net and
 * st->pool: write those with the two above). */
void gs_metrics_write_app(gs_expo_t *w, const gs_app_stats_t *st);

/* The --stats line pieces: " net.FIELD VALUE" for every scalar entry, and
 * " net.FIELD.NAME VALUE" for every non-zero entry of a vector. Same for pool. and app. */
void gs_metrics_line_net(gs_expo_t *w, const gs_net_stats_t *st);
void gs_metrics_line_pool(gs_expo_t *w, const gs_pool_stats_t *st);
void gs_metrics_line_app(gs_expo_t *w, const gs_app_stats_t *st);

/* ---------------------------------------------------------------------------------------------
 * HTTP/1.1 request parser: pure, bounded, stateless (call it again on the whole buffer after
 * each read). Only GET is served; anything malformed is an error status, and the server closes.
 * ------------------------------------------------------------------------------------------- */
#define GS_HTTP_LINE_MAX     1024u /* request line, CRLF included */
#define GS_HTTP_HEADERS_MAX  8192u /* header lines after the request line, final CRLF included */
#define GS_HTTP_HEADER_COUNT 64u
#define GS_HTTP_REQUEST_MAX  (GS_HTTP_LINE_MAX + GS_HTTP_HEADERS_MAX)

typedef struct gs_http_request {
    const char *path; /* into the buffer: the target up to '?' (not terminated) */
    size_t path_len;
    size_t consumed; /* bytes of the request, up to and including the empty line */
    int minor;       /* HTTP/1.<minor> */
} gs_http_request_t;

/* Parse the request at the start of buf[0, len). Returns 0: incomplete, read more; 200: a
 * complete GET (req filled; bytes after req->consumed are not looked at); or the status to
 * answer with before closing: 400 (malformed: bad characters, bare CR or LF, bad target, a body),
 * 405 (a method other than GET), 414 (request line over GS_HTTP_LINE_MAX), 431 (headers over
 * GS_HTTP_HEADERS_MAX or GS_HTTP_HEADER_COUNT), 505 (not HTTP/1.x). */
int gs_http_parse(const char *buf, size_t len, gs_http_request_t *req);
/* The reason phrase of a status this module sends ("OK", "Not Found", ...). */
const char *gs_http_reason(int status);

/* "PORT", "HOST:PORT" or "[V6]:PORT" into host (numeric, not checked here; "127.0.0.1" when only
 * a port is given) and port (0 allowed: pick one). Returns 0 or GS_EADDR. */
int gs_metrics_parse_addr(const char *s, char *host, size_t host_cap, uint16_t *port);

/* ---------------------------------------------------------------------------------------------
 * The server: one thread with poll() on its own listening socket, never the game's IO threads;
 * one short request per connection, each with a deadline, at most max_conns at once. Linux and
 * other POSIX systems; on Windows gs_metrics_server_start returns GS_ENOTSUP.
 * ------------------------------------------------------------------------------------------- */
/* Fill w with the exposition (on the metrics thread, at each scrape). */
typedef void (*gs_metrics_write_cb)(gs_expo_t *w, void *user);

typedef struct gs_metrics_config {
    const char *host;          /* numeric IPv4 or IPv6 ["127.0.0.1"] */
    uint16_t port;             /* 0 picks one: gs_metrics_server_port */
    gs_metrics_write_cb write; /* required */
    void *user;
    uint32_t max_conns;  /* connections served at once [8]; more are closed at accept */
    uint32_t timeout_ms; /* a connection's whole life: read + write [2000] */
    uint32_t max_bytes;  /* largest exposition [16 MiB]; larger answers 500 */
} gs_metrics_config_t;

typedef struct gs_metrics_server gs_metrics_server_t;

/* Bind, listen and start the thread. Returns 0, GS_EINVAL (no write callback), GS_EADDR,
 * GS_ESYS (socket, bind or listen failed; logged), GS_ENOMEM, GS_ENOTSUP (Windows). On error
 * nothing runs. Controlling thread. */
int gs_metrics_server_start(gs_metrics_server_t **out, const gs_metrics_config_t *cfg);
uint16_t gs_metrics_server_port(gs_metrics_server_t *s);
/* /healthz answers 503 from now on (a server that is shutting down). Any thread. */
void gs_metrics_server_set_draining(gs_metrics_server_t *s, int draining);
/* Stop the thread, close every connection and the socket, free. NULL is ignored. */
void gs_metrics_server_stop(gs_metrics_server_t *s);

/* The server's own counters (also exported as gs_metrics_*). Any thread. */
typedef struct gs_metrics_server_stats {
    uint64_t scrapes, healthz, not_found, bad_requests, refused, timeouts;
} gs_metrics_server_stats_t;
void gs_metrics_server_stats(gs_metrics_server_t *s, gs_metrics_server_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif /* GS_METRICS_H */

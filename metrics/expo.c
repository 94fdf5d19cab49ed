/* SPDX-License-Identifier: MIT */
/* The Prometheus text exposition format 0.0.4 into a caller's buffer: no IO, no allocation. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gs/metrics.h"

void gs_expo_init(gs_expo_t *w, char *buf, size_t cap) {
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->truncated = 0;
    if (cap > 0)
        buf[0] = '\0';
}

static void put(gs_expo_t *w, const char *s, size_t n) {
    if (w->truncated)
        return;
    /* One byte stays free for the terminator, so the buffer is always a C string. */
    if (w->cap == 0 || n > w->cap - 1 - w->len) {
        w->truncated = 1;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

static void puts_(gs_expo_t *w, const char *s) { put(w, s, strlen(s)); }

void gs_expo_printf(gs_expo_t *w, const char *fmt, ...) {
    if (w->truncated || w->cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    size_t room = w->cap - w->len;
    int n = vsnprintf(w->buf + w->len, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        w->buf[w->len] = '\0';
        w->truncated = 1;
        return;
    }
    w->len += (size_t)n;
}

/* HELP text escapes backslash and newline; label values also the double quote. */
static void escaped(gs_expo_t *w, const char *s, int quote) {
    for (; *s; s++) {
        if (*s == '\\')
            put(w, "\\\\", 2);
        else if (*s == '\n')
            put(w, "\\n", 2);
        else if (quote && *s == '"')
            put(w, "\\\"", 2);
        else
            put(w, s, 1);
    }
}

static const char *kind_name(gs_metric_kind_t k) {
    switch (k) {
    case GS_METRIC_COUNTER:
        return "counter";
    case GS_METRIC_GAUGE:
        return "gauge";
    case GS_METRIC_HISTOGRAM:
        return "histogram";
    }
    return "untyped";
}

void gs_expo_family(gs_expo_t *w, const char *name, gs_metric_kind_t kind, const char *help) {
    puts_(w, "# HELP ");
    puts_(w, name);
    puts_(w, " ");
    escaped(w, help, 0);
    puts_(w, "\n# TYPE ");
    puts_(w, name);
    puts_(w, " ");
    puts_(w, kind_name(kind));
    puts_(w, "\n");
}

static void labels_(gs_expo_t *w, const gs_label_t *labels, size_t n, const char *le) {
    if (n == 0 && !le)
        return;
    puts_(w, "{");
    for (size_t i = 0; i < n; i++) {
        if (i)
            puts_(w, ",");
        puts_(w, labels[i].name);
        puts_(w, "=\"");
        escaped(w, labels[i].value, 1);
        puts_(w, "\"");
    }
    if (le) {
        if (n)
            puts_(w, ",");
        puts_(w, "le=\"");
        puts_(w, le);
        puts_(w, "\"");
    }
    puts_(w, "}");
}

void gs_expo_sample(gs_expo_t *w, const char *name, const gs_label_t *labels, size_t nlabels,
                    uint64_t value) {
    puts_(w, name);
    labels_(w, labels, nlabels, NULL);
    gs_expo_printf(w, " %" PRIu64 "\n", value);
}

/* Go's ParseFloat reads what %.17g writes, and it round-trips a double; infinities and NaN
 * are spelled the way the format wants. */
static void fmt_double(char *out, size_t n, double v) {
    if (isnan(v))
        snprintf(out, n, "NaN");
    else if (isinf(v))
        snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
    else
        snprintf(out, n, "%.17g", v);
}

void gs_expo_sample_f(gs_expo_t *w, const char *name, const gs_label_t *labels, size_t nlabels,
                      double value) {
    char v[40];
    fmt_double(v, sizeof v, value);
    puts_(w, name);
    labels_(w, labels, nlabels, NULL);
    puts_(w, " ");
    puts_(w, v);
    puts_(w, "\n");
}

void gs_expo_histogram(gs_expo_t *w, const char *name, const gs_label_t *labels, size_t nlabels,
                       const gs_hist_snap_t *h, double scale) {
    char le[40];
    uint64_t cum = 0;
    uint32_t nb = h->nbounds <= GS_HIST_MAX_BOUNDS ? h->nbounds : GS_HIST_MAX_BOUNDS;
    for (uint32_t i = 0; i <= nb; i++) {
        cum += h->counts[i];
        if (i < nb)
            snprintf(le, sizeof le, "%.9g", (double)h->bounds[i] * scale);
        else
            snprintf(le, sizeof le, "+Inf");
        puts_(w, name);
        puts_(w, "_bucket");
        labels_(w, labels, nlabels, le);
        gs_expo_printf(w, " %" PRIu64 "\n", cum);
    }
    char v[40];
    fmt_double(v, sizeof v, (double)h->sum * scale);
    puts_(w, name);
    puts_(w, "_sum");
    labels_(w, labels, nlabels, NULL);
    puts_(w, " ");
    puts_(w, v);
    puts_(w, "\n");
    puts_(w, name);
    puts_(w, "_count");
    labels_(w, labels, nlabels, NULL);
    /* The count is the +Inf bucket, so the two agree even while observations race the read. */
    gs_expo_printf(w, " %" PRIu64 "\n", cum);
}

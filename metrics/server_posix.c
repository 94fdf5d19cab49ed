/* SPDX-License-Identifier: MIT */
/* The metrics server (POSIX): one thread, poll() over its own listening socket, a wake-up pipe
 * and at most max_conns connections. Each connection gets one request and one response, then is
 * closed; its whole life is bounded by timeout_ms, so a slow or silent client (slowloris) holds
 * one of a few slots for a bounded time and nothing else. Why a thread and not the game's IO
 * loop: a scrape then never delays a game frame, and the game's IO threads need no HTTP code;
 * docs/architecture.md#metrics. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gs/metrics.h"

#define LOG           "metrics"
#define MAX_CONNS_CAP 64u

typedef struct conn {
    int fd; /* -1: free slot */
    uint64_t deadline_ns;
    size_t in_len;
    char in[GS_HTTP_REQUEST_MAX + 1];
    char *out; /* response (malloc'd), NULL while reading */
    size_t out_len, out_off;
} conn_t;

struct gs_metrics_server {
    gs_metrics_config_t cfg;
    int lfd, wake[2];
    uint16_t port;
    gs_thread_t *thread;
    _Atomic int stop, draining;
    _Atomic uint64_t scrapes, healthz, not_found, bad_requests, refused, timeouts;
    char *scratch; /* exposition buffer, grown on truncation up to max_bytes */
    size_t scratch_cap;
    conn_t *conns;
};

static void bump(_Atomic uint64_t *c) { atomic_fetch_add_explicit(c, 1, memory_order_relaxed); }
static uint64_t rd(_Atomic uint64_t *c) { return atomic_load_explicit(c, memory_order_relaxed); }

static void conn_close(conn_t *c) {
    close(c->fd);
    c->fd = -1;
    free(c->out);
    c->out = NULL;
}

/* Header and body in one buffer, so one write usually sends all of it. */
static int respond(conn_t *c, int status, const char *ctype, const char *body, size_t n) {
    char head[256];
    int h =
        snprintf(head, sizeof head,
                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                 "Connection: close\r\n\r\n",
                 status, gs_http_reason(status), ctype, n, status == 405 ? "Allow: GET\r\n" : "");
    c->out = malloc((size_t)h + n);
    if (!c->out)
        return -1;
    memcpy(c->out, head, (size_t)h);
    memcpy(c->out + h, body, n);
    c->out_len = (size_t)h + n;
    c->out_off = 0;
    return 0;
}

static int text(conn_t *c, int status, const char *msg) {
    return respond(c, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

static int scrape(gs_metrics_server_t *s, conn_t *c) {
    for (;;) {
        if (!s->scratch) {
            s->scratch_cap = 64u * 1024u;
            s->scratch = malloc(s->scratch_cap);
            if (!s->scratch)
                return text(c, 500, "out of memory\n");
        }
        gs_expo_t w;
        gs_expo_init(&w, s->scratch, s->scratch_cap);
        s->cfg.write(&w, s->cfg.user);
        gs_metrics_server_stats_t st;
        gs_metrics_server_stats(s, &st);
#define SELF(field, kind, help)                                                                    \
    gs_expo_family(&w, "gs_metrics_" #field "_total", GS_METRIC_COUNTER, help);                    \
    gs_expo_sample(&w, "gs_metrics_" #field "_total", NULL, 0, st.field);
        SELF(scrapes, COUNTER, "Scrapes of /metrics served (this one included).")
        SELF(healthz, COUNTER, "Requests of /healthz.")
        SELF(not_found, COUNTER, "Requests of other paths (404).")
        SELF(bad_requests, COUNTER, "Requests refused by the parser (4xx, 505).")
        SELF(refused, COUNTER, "Connections closed at accept: max_conns reached.")
        SELF(timeouts, COUNTER, "Connections closed at their deadline (slow or silent clients).")
#undef SELF
        if (!w.truncated)
            return respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", w.buf, w.len);
        if (s->scratch_cap >= s->cfg.max_bytes)
            return text(c, 500, "exposition larger than max_bytes\n");
        size_t cap = s->scratch_cap * 2 < s->cfg.max_bytes ? s->scratch_cap * 2 : s->cfg.max_bytes;
        char *nb = realloc(s->scratch, cap);
        if (!nb)
            return text(c, 500, "out of memory\n");
        s->scratch = nb;
        s->scratch_cap = cap;
    }
}

/* Read what is there; once a request is complete (or refused), build the response. */
static void on_readable(gs_metrics_server_t *s, conn_t *c) {
    ssize_t n = read(c->fd, c->in + c->in_len, GS_HTTP_REQUEST_MAX - c->in_len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        conn_close(c);
        return;
    }
    c->in_len += (size_t)n;
    gs_http_request_t req;
    int status = gs_http_parse(c->in, c->in_len, &req);
    if (status == 0 && c->in_len >= GS_HTTP_REQUEST_MAX)
        status = 431; /* cannot happen with the parser's limits; kept as the bound's guard */
    if (status == 0)
        return;
    int rc;
    if (status != 200) {
        bump(&s->bad_requests);
        rc = text(c, status, "bad request\n");
    } else if (req.path_len == 8 && memcmp(req.path, "/metrics", 8) == 0) {
        bump(&s->scrapes);
        rc = scrape(s, c);
    } else if (req.path_len == 8 && memcmp(req.path, "/healthz", 8) == 0) {
        bump(&s->healthz);
        int draining = atomic_load_explicit(&s->draining, memory_order_relaxed);
        rc = draining ? text(c, 503, "draining\n") : text(c, 200, "ok\n");
    } else {
        bump(&s->not_found);
        rc = text(c, 404, "not found: try /metrics or /healthz\n");
    }
    if (rc != 0) {
        conn_close(c);
        return;
    }
    /* Whatever follows the request (pipelined requests, garbage) is never read. */
    shutdown(c->fd, SHUT_RD);
}

static void on_writable(conn_t *c) {
    ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        conn_close(c);
        return;
    }
    c->out_off += (size_t)n;
    if (c->out_off == c->out_len)
        conn_close(c);
}

static void on_accept(gs_metrics_server_t *s) {
    for (;;) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            return; /* EAGAIN, or an error worth no more than a retry at the next poll */
        conn_t *c = NULL;
        for (uint32_t i = 0; i < s->cfg.max_conns; i++)
            if (s->conns[i].fd < 0) {
                c = &s->conns[i];
                break;
            }
        if (!c || fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
            bump(&s->refused);
            close(fd);
            continue;
        }
        c->fd = fd;
        c->in_len = 0;
        c->out = NULL;
        c->deadline_ns = gs_now_ns() + (uint64_t)s->cfg.timeout_ms * 1000000u;
    }
}

static void server_main(void *arg) {
    gs_metrics_server_t *s = arg;
    struct pollfd pf[MAX_CONNS_CAP + 2];
    int idx[MAX_CONNS_CAP + 2];
    while (!atomic_load_explicit(&s->stop, memory_order_acquire)) {
        uint64_t now = gs_now_ns(), next = now + 1000000000u;
        nfds_t n = 0;
        pf[n++] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
        pf[n++] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
        for (uint32_t i = 0; i < s->cfg.max_conns; i++) {
            conn_t *c = &s->conns[i];
            if (c->fd < 0)
                continue;
            if (now >= c->deadline_ns) {
                bump(&s->timeouts);
                conn_close(c);
                continue;
            }
            if (c->deadline_ns < next)
                next = c->deadline_ns;
            idx[n] = (int)i;
            pf[n++] = (struct pollfd){.fd = c->fd, .events = c->out ? POLLOUT : POLLIN};
        }
        int ms = (int)((next - now + 999999u) / 1000000u);
        int r = poll(pf, n, ms);
        if (r < 0) {
            if (errno != EINTR) {
                gs_log(GS_LOG_ERROR, LOG, "poll: %s", strerror(errno));
                gs_sleep_ms(100);
            }
            continue;
        }
        for (nfds_t k = 2; k < n; k++) {
            conn_t *c = &s->conns[idx[k]];
            if (!pf[k].revents || c->fd < 0)
                continue;
            if (c->out)
                on_writable(c);
            else
                on_readable(s, c);
        }
        if (pf[1].revents & POLLIN)
            on_accept(s);
    }
}

static int listen_on(gs_metrics_server_t *s, const char *host, uint16_t port) {
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        sl = sizeof *a4;
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        sl = sizeof *a6;
    } else {
        return GS_EADDR;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        gs_log(GS_LOG_ERROR, LOG, "socket: %s", strerror(errno));
        return GS_ESYS;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 64) != 0) {
        gs_log(GS_LOG_ERROR, LOG, "listen on %s port %u: %s", host, (unsigned)port,
               strerror(errno));
        close(fd);
        return GS_ESYS;
    }
    sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    s->port = ntohs(ss.ss_family == AF_INET ? a4->sin_port : a6->sin6_port);
    s->lfd = fd;
    return 0;
}

int gs_metrics_server_start(gs_metrics_server_t **out, const gs_metrics_config_t *cfg) {
    *out = NULL;
    if (!cfg || !cfg->write)
        return GS_EINVAL;
    gs_metrics_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return GS_ENOMEM;
    s->cfg = *cfg;
    if (!s->cfg.host)
        s->cfg.host = "127.0.0.1";
    if (s->cfg.max_conns == 0)
        s->cfg.max_conns = 8;
    if (s->cfg.max_conns > MAX_CONNS_CAP)
        s->cfg.max_conns = MAX_CONNS_CAP;
    if (s->cfg.timeout_ms == 0)
        s->cfg.timeout_ms = 2000;
    if (s->cfg.max_bytes == 0)
        s->cfg.max_bytes = 16u * 1024u * 1024u;
    s->lfd = s->wake[0] = s->wake[1] = -1;
    s->conns = calloc(s->cfg.max_conns, sizeof *s->conns);
    int rc = s->conns ? 0 : GS_ENOMEM;
    for (uint32_t i = 0; s->conns && i < s->cfg.max_conns; i++)
        s->conns[i].fd = -1;
    if (rc == 0)
        rc = listen_on(s, s->cfg.host, s->cfg.port);
    if (rc == 0 && pipe(s->wake) != 0) {
        gs_log(GS_LOG_ERROR, LOG, "pipe: %s", strerror(errno));
        s->wake[0] = s->wake[1] = -1;
        rc = GS_ESYS;
    }
    if (rc == 0)
        rc = gs_thread_start(&s->thread, server_main, s, "gs-metrics");
    if (rc != 0) {
        s->thread = NULL;
        gs_metrics_server_stop(s);
        return rc;
    }
    *out = s;
    return 0;
}

uint16_t gs_metrics_server_port(gs_metrics_server_t *s) { return s->port; }

void gs_metrics_server_set_draining(gs_metrics_server_t *s, int draining) {
    atomic_store_explicit(&s->draining, draining != 0, memory_order_relaxed);
}

void gs_metrics_server_stats(gs_metrics_server_t *s, gs_metrics_server_stats_t *out) {
    out->scrapes = rd(&s->scrapes);
    out->healthz = rd(&s->healthz);
    out->not_found = rd(&s->not_found);
    out->bad_requests = rd(&s->bad_requests);
    out->refused = rd(&s->refused);
    out->timeouts = rd(&s->timeouts);
}

void gs_metrics_server_stop(gs_metrics_server_t *s) {
    if (!s)
        return;
    if (s->thread) {
        atomic_store_explicit(&s->stop, 1, memory_order_release);
        char b = 1;
        while (write(s->wake[1], &b, 1) < 0 && errno == EINTR) {
        }
        gs_thread_join(s->thread);
    }
    for (uint32_t i = 0; s->conns && i < s->cfg.max_conns; i++)
        if (s->conns[i].fd >= 0)
            conn_close(&s->conns[i]);
    if (s->lfd >= 0)
        close(s->lfd);
    if (s->wake[0] >= 0) {
        close(s->wake[0]);
        close(s->wake[1]);
    }
    free(s->conns);
    free(s->scratch);
    free(s);
}

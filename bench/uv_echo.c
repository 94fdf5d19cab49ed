/* SPDX-License-Identifier: MIT */
/* Baseline for the echo benchmark: a plain libuv echo server, written the way a libuv user
 * would (one loop, a malloc'd read buffer per read, one uv_write per read), framed
 * with the same 8-byte header as gs-echo-server, or raw. Not part of the framework. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct conn {
    uv_tcp_t tcp;
    int raw;
    uint8_t *pend; /* partial frame bytes */
    size_t pend_len, pend_cap;
} conn_t;

typedef struct wreq {
    uv_write_t req;
    uv_buf_t buf;
} wreq_t;

static int g_raw;
static uv_signal_t g_sigint, g_sigterm;
static uv_tcp_t g_server;

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)h;
    buf->base = malloc(suggested);
    buf->len = buf->base ? suggested : 0;
}

static void on_written(uv_write_t *req, int status) {
    (void)status;
    wreq_t *w = (wreq_t *)req;
    free(w->buf.base);
    free(w);
}

static void on_closed(uv_handle_t *h) {
    conn_t *c = (conn_t *)h;
    free(c->pend);
    free(c);
}

static void echo(conn_t *c, const uint8_t *p, size_t n) {
    wreq_t *w = malloc(sizeof(*w));
    w->buf = uv_buf_init(malloc(n), (unsigned)n);
    memcpy(w->buf.base, p, n);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &w->buf, 1, on_written) != 0) {
        free(w->buf.base);
        free(w);
    }
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    conn_t *c = (conn_t *)s;
    if (nread < 0) {
        free(buf->base);
        uv_close((uv_handle_t *)s, on_closed);
        return;
    }
    const uint8_t *p = (const uint8_t *)buf->base;
    size_t n = (size_t)nread;
    if (c->raw) {
        if (n)
            echo(c, p, n);
        free(buf->base);
        return;
    }
    /* Framed: echo every whole frame; keep a partial one. */
    if (c->pend_len) {
        if (c->pend_len + n > c->pend_cap) {
            c->pend_cap = c->pend_len + n;
            c->pend = realloc(c->pend, c->pend_cap);
        }
        memcpy(c->pend + c->pend_len, p, n);
        c->pend_len += n;
        p = c->pend;
        n = c->pend_len;
    }
    size_t off = 0;
    while (n - off >= 8) {
        uint32_t len = le32(p + off);
        if (len > 65536) {
            free(buf->base);
            uv_close((uv_handle_t *)s, on_closed);
            return;
        }
        if (n - off < 8 + (size_t)len)
            break;
        off += 8 + (size_t)len;
    }
    /* Every whole frame of this read in one write: frames are echoed unchanged, so they are one
     * contiguous range (the fair baseline: one write per read, as gs-echo-server gathers). */
    if (off)
        echo(c, p, off);
    size_t rest = n - off;
    if (rest) {
        if (p == c->pend) {
            memmove(c->pend, c->pend + off, rest);
        } else {
            if (rest > c->pend_cap) {
                c->pend_cap = rest;
                c->pend = realloc(c->pend, c->pend_cap);
            }
            memcpy(c->pend, p + off, rest);
        }
    }
    c->pend_len = rest;
    free(buf->base);
}

static void on_conn(uv_stream_t *server, int status) {
    if (status < 0)
        return;
    conn_t *c = calloc(1, sizeof(*c));
    c->raw = g_raw;
    uv_tcp_init(server->loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) == 0) {
        uv_tcp_nodelay(&c->tcp, 1);
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    } else {
        uv_close((uv_handle_t *)&c->tcp, on_closed);
    }
}

static void close_walk(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, (uv_handle_t *)h == (uv_handle_t *)&g_server ||
                            (uv_handle_t *)h == (uv_handle_t *)&g_sigint ||
                            (uv_handle_t *)h == (uv_handle_t *)&g_sigterm
                        ? NULL
                        : on_closed);
}

static void on_signal(uv_signal_t *h, int sig) {
    (void)sig;
    uv_walk(h->loop, close_walk, NULL);
}

int main(int argc, char **argv) {
    int port = 7100;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--raw"))
            g_raw = 1;
        else {
            fprintf(stderr, "usage: uv-echo [--port N] [--raw]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    uv_tcp_init(loop, &g_server);
    if (uv_tcp_bind(&g_server, (const struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&g_server, 511, on_conn) != 0) {
        fprintf(stderr, "uv-echo: cannot listen on %d\n", port);
        return 1;
    }
    /* With --port 0 the kernel picks the port: print the one bound, as gs-echo-server does. */
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    if (uv_tcp_getsockname(&g_server, (struct sockaddr *)&bound, &blen) == 0)
        port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    uv_signal_init(loop, &g_sigint);
    uv_signal_start(&g_sigint, on_signal, SIGINT);
    uv_signal_init(loop, &g_sigterm);
    uv_signal_start(&g_sigterm, on_signal, SIGTERM);
    printf("uv-echo: listening on 127.0.0.1:%d (%s)\n", port, g_raw ? "raw" : "framed");
    fflush(stdout);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    printf("uv-echo: stopped\n");
    return 0;
}

/* SPDX-License-Identifier: MIT */
/* Baseline for the echo benchmark: the idiomatic fast raw libuv echo, the bar a framing server is
 * compared against (PERF-NOTES). One shared 64 KiB read buffer for every connection, each read
 * echoed at once with uv_try_write, and only the bytes the socket did not take copied into a
 * uv_write. Raw byte stream only: there is no framing to do. Not part of the framework. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define READ_SIZE   (64u * 1024u)
#define QUEUE_LIMIT (4u << 20) /* stop reading a peer that lets this many echo bytes pile up */

typedef struct wreq {
    uv_write_t req;
    uv_buf_t buf;
} wreq_t;

typedef struct server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_signal_t sigint, sigterm;
    char rbuf[READ_SIZE];
} server_t;

/* One loop, one thread: a read callback always runs to completion before the next alloc, so one
 * buffer serves every connection. */
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    server_t *s = h->loop->data;
    *buf = uv_buf_init(s->rbuf, sizeof s->rbuf);
}

static void on_closed(uv_handle_t *h) { free(h); }

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

static void on_written(uv_write_t *req, int status) {
    wreq_t *w = (wreq_t *)req;
    uv_stream_t *st = req->handle;
    free(w->buf.base);
    free(w);
    /* st->data marks a connection whose reading was stopped by QUEUE_LIMIT. */
    if (status == 0 && st->data && !uv_is_closing((uv_handle_t *)st) &&
        st->write_queue_size < QUEUE_LIMIT / 2) {
        st->data = NULL;
        uv_read_start(st, on_alloc, on_read);
    }
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
    if (nread < 0) {
        uv_close((uv_handle_t *)st, on_closed);
        return;
    }
    if (nread == 0)
        return;
    uv_buf_t b = uv_buf_init(buf->base, (unsigned)nread);
    /* uv_try_write returns UV_EAGAIN while earlier writes are queued, so order is kept. */
    int n = uv_try_write(st, &b, 1);
    if (n == nread)
        return;
    if (n < 0 && n != UV_EAGAIN) {
        uv_close((uv_handle_t *)st, on_closed);
        return;
    }
    size_t off = n > 0 ? (size_t)n : 0, rest = (size_t)nread - off;
    wreq_t *w = malloc(sizeof *w);
    char *copy = malloc(rest);
    if (!w || !copy) {
        free(w);
        free(copy);
        uv_close((uv_handle_t *)st, on_closed);
        return;
    }
    memcpy(copy, buf->base + off, rest);
    w->buf = uv_buf_init(copy, (unsigned)rest);
    if (uv_write(&w->req, st, &w->buf, 1, on_written) != 0) {
        free(copy);
        free(w);
        uv_close((uv_handle_t *)st, on_closed);
        return;
    }
    if (st->write_queue_size >= QUEUE_LIMIT) {
        uv_read_stop(st);
        st->data = st;
    }
}

static void on_conn(uv_stream_t *listener, int status) {
    if (status < 0)
        return;
    uv_tcp_t *c = malloc(sizeof *c);
    if (!c)
        return;
    uv_tcp_init(listener->loop, c);
    c->data = NULL;
    if (uv_accept(listener, (uv_stream_t *)c) != 0) {
        uv_close((uv_handle_t *)c, on_closed);
        return;
    }
    uv_tcp_nodelay(c, 1);
    uv_read_start((uv_stream_t *)c, on_alloc, on_read);
}

static void close_walk(uv_handle_t *h, void *arg) {
    server_t *s = arg;
    if (uv_is_closing(h))
        return;
    int ours = h == (uv_handle_t *)&s->listener || h == (uv_handle_t *)&s->sigint ||
               h == (uv_handle_t *)&s->sigterm;
    uv_close(h, ours ? NULL : on_closed);
}

static void on_signal(uv_signal_t *h, int sig) {
    (void)sig;
    uv_walk(h->loop, close_walk, h->loop->data);
}

int main(int argc, char **argv) {
    int port = 7100;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--raw")) {
            /* Accepted so scripts can pass the same flags as to the other raw servers. */
        } else {
            fprintf(stderr, "usage: uv-fast-echo [--port N (0: any)] [--raw]\n"
                            "Raw echo only: every byte received is sent back.\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    server_t *s = calloc(1, sizeof *s);
    if (!s)
        return 1;
    s->loop = uv_default_loop();
    s->loop->data = s;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    uv_tcp_init(s->loop, &s->listener);
    if (uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&s->listener, 511, on_conn) != 0) {
        fprintf(stderr, "uv-fast-echo: cannot listen on %d\n", port);
        return 1;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &blen) == 0)
        port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    uv_signal_init(s->loop, &s->sigint);
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_init(s->loop, &s->sigterm);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    printf("uv-fast-echo: listening on 127.0.0.1:%d (raw)\n", port);
    fflush(stdout);
    uv_run(s->loop, UV_RUN_DEFAULT);
    uv_loop_close(s->loop);
    free(s);
    printf("uv-fast-echo: stopped\n");
    return 0;
}

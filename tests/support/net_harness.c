/* SPDX-License-Identifier: MIT */
/* Test support for socket-level net tests (see net_harness.h). */
#include "net_harness.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "th_os.h"

static void h_open(gs_net_t *net, gs_session_id_t id, void *su, void *user) {
    (void)net;
    (void)su;
    th_server_t *srv = user;
    /* Publish the ids before the count: a test that waits on the count reads them next. With
     * several IO threads two opens may still race for n, so th_server_session also waits for
     * its entry to be non-zero (ids never are). */
    atomic_store(&srv->last_open_id, id);
    uint64_t n = atomic_fetch_add(&srv->opened, 1);
    if (n < TH_MAX_TRACKED)
        atomic_store(&srv->open_ids[n], id);
}

static void h_frame(gs_net_t *net, gs_session_id_t id, void *su, uint32_t msg_id,
                    const uint8_t *body, uint32_t len, void *user) {
    (void)su;
    th_server_t *srv = user;
    atomic_fetch_add(&srv->frames, 1);
    if (srv->mode == TH_ECHO) {
        gs_buf_t *b = gs_buf_frame(msg_id, body, len);
        if (!b || gs_session_send(net, id, b) != 0)
            atomic_fetch_add(&srv->send_errors, 1);
        if (b)
            gs_buf_unref(b);
    } else if (srv->mode == TH_CUSTOM && srv->on_frame) {
        srv->on_frame(srv, id, msg_id, body, len);
    }
}

static void h_data(gs_net_t *net, gs_session_id_t id, void *su, const uint8_t *data, size_t len,
                   void *user) {
    (void)su;
    th_server_t *srv = user;
    atomic_fetch_add(&srv->raw_bytes, len);
    if (srv->mode == TH_ECHO) {
        gs_buf_t *b = gs_buf_alloc((uint32_t)len);
        if (!b) {
            atomic_fetch_add(&srv->send_errors, 1);
            return;
        }
        memcpy(gs_buf_bytes(b), data, len);
        if (gs_session_send(net, id, b) != 0)
            atomic_fetch_add(&srv->send_errors, 1);
        gs_buf_unref(b);
    }
}

static void h_close(gs_net_t *net, gs_session_id_t id, void *su, gs_close_reason_t reason,
                    void *user) {
    (void)net;
    (void)id;
    (void)su;
    th_server_t *srv = user;
    if ((unsigned)reason < GS_CLOSE__COUNT)
        atomic_fetch_add(&srv->close_reasons[reason], 1);
    atomic_fetch_add(&srv->closed, 1);
}

void th_server_start(th_server_t *srv, const gs_net_config_t *cfg, th_mode_t mode, int raw) {
    gs_net_config_t c;
    if (cfg)
        c = *cfg;
    else
        memset(&c, 0, sizeof(c));
    c.cb.on_open = h_open;
    c.cb.on_frame = h_frame;
    c.cb.on_data = h_data;
    c.cb.on_close = h_close;
    c.user = srv;
    srv->mode = mode;
    assert_int_equal(gs_net_create(&srv->net, &c), 0);
    gs_listen_config_t lc = {.host = "127.0.0.1", .port = 0, .raw = raw};
    assert_int_equal(gs_net_listen(srv->net, &lc), 0);
    srv->port = gs_net_listen_port(srv->net);
    assert_true(srv->port != 0);
    assert_int_equal(gs_net_start(srv->net), 0);
}

uint64_t th_server_stop(th_server_t *srv, uint32_t flush_ms) {
    uint64_t unsent = gs_net_stop(srv->net, flush_ms);
    gs_net_stats_t st;
    gs_net_stats(srv->net, &st);
    assert_int_equal(st.io_in_flight, 0);
    assert_int_equal(st.sessions_open, 0);
    assert_int_equal(st.bufs_queued, 0);
    assert_int_equal(atomic_load(&srv->opened), atomic_load(&srv->closed));
    gs_net_destroy(srv->net);
    srv->net = NULL;
    return unsent;
}

gs_session_id_t th_server_session(th_server_t *srv, unsigned n) {
    assert_true(n < TH_MAX_TRACKED);
    assert_true(th_wait_count(&srv->opened, n + 1, 5000));
    uint64_t deadline = gs_now_ms() + 5000;
    while (atomic_load(&srv->open_ids[n]) == 0) {
        assert_true(gs_now_ms() < deadline);
        gs_sleep_ms(1);
    }
    return atomic_load(&srv->open_ids[n]);
}

int th_try_connect(uint16_t port, int rcvbuf) { return th_os_connect(port, rcvbuf); }

void th_close(int fd) { th_os_close(fd); }
int th_shutdown_wr(int fd) { return th_os_shutdown_wr(fd); }
void th_abort(int fd) { th_os_abort(fd); }

int th_bound_unlistened(uint16_t *port) {
    int fd = th_os_bound_unlistened(port);
    assert_true(fd >= 0);
    return fd;
}

int th_connect(uint16_t port) {
    int fd = th_try_connect(port, 0);
    assert_true(fd >= 0);
    return fd;
}

int th_try_write_all(int fd, const void *data, size_t len) {
    const uint8_t *p = data;
    while (len > 0) {
        long n = th_os_send(fd, p, len);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return -EPIPE;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void th_write_all(int fd, const void *data, size_t len) {
    assert_int_equal(th_try_write_all(fd, data, len), 0);
}

void th_write_frame(int fd, uint32_t msg_id, const void *body, uint32_t len) {
    uint8_t hdr[GS_FRAME_HEADER_SIZE];
    gs_frame_header_write(hdr, len, msg_id);
    th_write_all(fd, hdr, sizeof(hdr));
    if (len)
        th_write_all(fd, body, len);
}

static int wait_readable(int fd, uint64_t deadline_ms) {
    for (;;) {
        uint64_t now = gs_now_ms();
        if (now >= deadline_ms)
            return -1;
        int rc = th_os_wait_readable(fd, (uint32_t)(deadline_ms - now));
        if (rc > 0)
            return 0;
        if (rc < 0)
            return -1;
    }
}

int th_read_exact(int fd, void *buf, size_t len, uint32_t timeout_ms) {
    uint8_t *p = buf;
    uint64_t deadline = gs_now_ms() + timeout_ms;
    while (len > 0) {
        if (wait_readable(fd, deadline) != 0)
            return -1;
        long n = th_os_recv(fd, p, len, 0);
        if (n == -EAGAIN)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

long th_read_frame(int fd, uint32_t *msg_id, void *body, size_t cap, uint32_t timeout_ms) {
    uint8_t hdr[GS_FRAME_HEADER_SIZE];
    if (th_read_exact(fd, hdr, sizeof(hdr), timeout_ms) != 0)
        return -1;
    uint32_t len =
        (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 24;
    *msg_id =
        (uint32_t)hdr[4] | (uint32_t)hdr[5] << 8 | (uint32_t)hdr[6] << 16 | (uint32_t)hdr[7] << 24;
    if (len > cap)
        return -1;
    if (len && th_read_exact(fd, body, len, timeout_ms) != 0)
        return -1;
    return (long)len;
}

int th_wait_eof(int fd, uint32_t timeout_ms) {
    uint64_t deadline = gs_now_ms() + timeout_ms;
    uint8_t sink[4096];
    for (;;) {
        if (wait_readable(fd, deadline) != 0)
            return -1;
        long n = th_os_recv(fd, sink, sizeof(sink), 0);
        if (n == 0 || n == -ECONNRESET)
            return 0;
        if (n < 0 && n != -EAGAIN)
            return 0;
    }
}

int th_wait_until(int (*cond)(void *arg), void *arg, uint32_t timeout_ms) {
    uint64_t deadline = gs_now_ms() + timeout_ms;
    for (;;) {
        if (cond(arg))
            return 1;
        if (gs_now_ms() >= deadline)
            return 0;
        gs_sleep_ms(1);
    }
}

int th_wait_count(_Atomic uint64_t *ctr, uint64_t value, uint32_t timeout_ms) {
    uint64_t deadline = gs_now_ms() + timeout_ms;
    while (atomic_load(ctr) < value) {
        if (gs_now_ms() >= deadline)
            return 0;
        gs_sleep_ms(1);
    }
    return 1;
}

gs_net_stats_t th_stats(th_server_t *srv) {
    gs_net_stats_t st;
    gs_net_stats(srv->net, &st);
    return st;
}

typedef struct {
    th_server_t *srv;
    uint64_t n;
} frames_goal_t;

static int frames_in_reached(void *arg) {
    frames_goal_t *g = arg;
    return th_stats(g->srv).frames_in >= g->n;
}

static int frames_out_reached(void *arg) {
    frames_goal_t *g = arg;
    return th_stats(g->srv).frames_out >= g->n;
}

int th_wait_frames_in(th_server_t *srv, uint64_t n, uint32_t timeout_ms) {
    frames_goal_t g = {srv, n};
    return th_wait_until(frames_in_reached, &g, timeout_ms);
}

int th_wait_frames_out(th_server_t *srv, uint64_t n, uint32_t timeout_ms) {
    frames_goal_t g = {srv, n};
    return th_wait_until(frames_out_reached, &g, timeout_ms);
}

uint64_t th_rss_bytes(void) { return th_os_rss_bytes(); }

_Atomic uint64_t th_bufs_released;

typedef struct counted {
    gs_buf_t buf;
    uint8_t bytes[];
} counted_t;

static void counted_release(gs_buf_t *b) {
    atomic_fetch_add(&th_bufs_released, 1);
    free(gs_container_of(b, counted_t, buf));
}

gs_buf_t *th_counted_frame(uint32_t body_len) {
    counted_t *c = malloc(sizeof(*c) + GS_FRAME_HEADER_SIZE + body_len);
    assert_non_null(c);
    gs_frame_header_write(c->bytes, body_len, 3);
    memset(c->bytes + GS_FRAME_HEADER_SIZE, 0x5A, body_len);
    gs_buf_init(&c->buf, c->bytes, GS_FRAME_HEADER_SIZE + body_len, counted_release);
    return &c->buf;
}

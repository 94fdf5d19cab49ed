/* SPDX-License-Identifier: MIT */
/* Helpers shared by the socket-level IO tests (see test_io_common.h). */
#include "test_io_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>

#include <cmocka.h>

#include "th_os.h"

size_t tio_frame_put(uint8_t *out, uint32_t msg_id, const void *body, uint32_t len) {
    gs_frame_header_write(out, len, msg_id);
    if (len)
        memcpy(out + GS_FRAME_HEADER_SIZE, body, len);
    return GS_FRAME_HEADER_SIZE + (size_t)len;
}

void tio_fill(uint8_t *body, uint32_t len, uint64_t seed) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (uint32_t i = 0; i < len; i++)
        body[i] = (uint8_t)(tio_rand(&s) >> 56);
}

void tio_make_stream(uint32_t n, uint32_t min_len, uint32_t max_len, uint64_t seed, uint8_t **out,
                     size_t *out_len) {
    size_t cap = (size_t)n * (GS_FRAME_HEADER_SIZE + max_len);
    uint8_t *buf = malloc(cap ? cap : 1);
    uint8_t *body = malloc(max_len ? max_len : 1);
    if (!buf || !body) {
        fprintf(stderr, "tio_make_stream: out of memory\n");
        abort();
    }
    uint64_t rng = seed | 1;
    size_t pos = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = tio_range(&rng, min_len, max_len);
        tio_fill(body, len, seed ^ ((uint64_t)i << 20));
        if (len >= 4)
            tio_put32(body, i);
        pos += tio_frame_put(buf + pos, 1000 + (i % 7), body, len);
    }
    free(body);
    *out = buf;
    *out_len = pos;
}

int tio_connect(uint16_t port, int rcvbuf) { return th_try_connect(port, rcvbuf); }

int tio_write_all(int fd, const void *data, size_t len) { return th_try_write_all(fd, data, len); }

int tio_write_bytewise(int fd, const void *data, size_t len) {
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        int rc = tio_write_all(fd, p + i, 1);
        if (rc)
            return rc;
    }
    return 0;
}

static int set_nonblock(int fd, int on) { return th_os_set_nonblocking(fd, on); }

int tio_pump(int fd, const uint8_t *out, size_t out_len, size_t max_chunk, uint64_t *rng,
             uint8_t *in, size_t in_len, size_t read_max, size_t window, uint32_t timeout_ms) {
    uint64_t deadline = gs_now_ms() + timeout_ms;
    size_t wpos = 0, rpos = 0;
    int rc = -1;
    if (set_nonblock(fd, 1) != 0)
        return -1;
    while (wpos < out_len || rpos < in_len) {
        uint64_t now = gs_now_ms();
        if (now >= deadline) {
            fprintf(stderr, "tio_pump: timeout (written %llu/%llu, read %llu/%llu)\n",
                    (unsigned long long)wpos, (unsigned long long)out_len, (unsigned long long)rpos,
                    (unsigned long long)in_len);
            goto out;
        }
        size_t allowed = out_len - wpos;
        size_t ahead = wpos > rpos ? wpos - rpos : 0;
        if (window)
            allowed = ahead >= window ? 0 : (allowed < window - ahead ? allowed : window - ahead);
        int ev = (allowed ? TH_POLL_OUT : 0) | (rpos < in_len ? TH_POLL_IN : 0);
        int rev = th_os_poll(fd, ev, (uint32_t)(deadline - now));
        if (rev < 0)
            goto out;
        if (rev == 0)
            continue;
        if (rev & TH_POLL_IN || (rev & (TH_POLL_HUP | TH_POLL_ERR) && rpos < in_len)) {
            size_t want = in_len - rpos;
            if (read_max && want > read_max)
                want = read_max;
            long n = th_os_recv(fd, in + rpos, want, 0);
            if (n == 0 || (n < 0 && n != -EAGAIN)) {
                fprintf(stderr, "tio_pump: read ended (%ld) at %llu/%llu\n", n,
                        (unsigned long long)rpos, (unsigned long long)in_len);
                goto out;
            }
            if (n > 0)
                rpos += (size_t)n;
        }
        if (allowed && (rev & TH_POLL_OUT)) {
            size_t len = allowed;
            if (max_chunk) {
                size_t c = 1 + (size_t)(tio_rand(rng) % max_chunk);
                if (c < len)
                    len = c;
            }
            long n = th_os_send(fd, out + wpos, len);
            if (n < 0 && n != -EAGAIN) {
                fprintf(stderr, "tio_pump: write failed: %ld\n", n);
                goto out;
            }
            if (n > 0)
                wpos += (size_t)n;
        }
    }
    rc = 0;
out:
    set_nonblock(fd, 0);
    return rc;
}

int tio_write_until_error(int fd, size_t chunk, uint32_t timeout_ms, int *eof, int *write_err,
                          uint64_t *written) {
    uint64_t deadline = gs_now_ms() + timeout_ms;
    uint8_t *buf = calloc(1, chunk);
    uint8_t sink[4096];
    int rc = -1;
    *eof = 0;
    *write_err = 0;
    *written = 0;
    if (!buf || set_nonblock(fd, 1) != 0) {
        free(buf);
        return -1;
    }
    memset(buf, 0x5A, chunk);
    for (;;) {
        uint64_t now = gs_now_ms();
        if (now >= deadline)
            break;
        int rev = th_os_poll(fd, TH_POLL_OUT | (*eof ? 0 : TH_POLL_IN), (uint32_t)(deadline - now));
        if (rev < 0)
            break;
        if (rev == 0)
            continue;
        if (!*eof && (rev & (TH_POLL_IN | TH_POLL_HUP | TH_POLL_ERR))) {
            long n = th_os_recv(fd, sink, sizeof(sink), 0);
            if (n == 0 || (n < 0 && n != -EAGAIN))
                *eof = 1;
        }
        if (rev & (TH_POLL_OUT | TH_POLL_ERR | TH_POLL_HUP)) {
            long n = th_os_send(fd, buf, chunk);
            if (n < 0 && n != -EAGAIN) {
                *write_err = (int)-n;
                rc = 0;
                break;
            }
            if (n > 0)
                *written += (uint64_t)n;
        }
    }
    set_nonblock(fd, 0);
    free(buf);
    return rc;
}

int tio_wait_count(_Atomic uint64_t *ctr, uint64_t value, uint32_t timeout_ms) {
    uint64_t deadline = gs_now_ms() + timeout_ms;
    unsigned spins = 0;
    while (atomic_load(ctr) < value) {
        if (gs_now_ms() >= deadline)
            return 0;
        if (++spins < 64)
            gs_thread_yield();
        else
            gs_sleep_ms(1); /* a poll step, not a race cover */
    }
    return 1;
}

gs_session_id_t tio_session_id(th_server_t *srv, unsigned n, uint32_t timeout_ms) {
    if (n >= TH_MAX_TRACKED)
        return 0;
    uint64_t deadline = gs_now_ms() + timeout_ms;
    for (;;) {
        gs_session_id_t id = atomic_load(&srv->open_ids[n]);
        if (id != 0)
            return id;
        if (gs_now_ms() >= deadline)
            return 0;
        gs_thread_yield();
    }
}

gs_session_id_t tio_wait_new_last_id(th_server_t *srv, gs_session_id_t prev, uint32_t timeout_ms) {
    uint64_t deadline = gs_now_ms() + timeout_ms;
    for (;;) {
        gs_session_id_t id = atomic_load(&srv->last_open_id);
        if (id != prev)
            return id;
        if (gs_now_ms() >= deadline)
            return 0;
        gs_thread_yield();
    }
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void tio_report_latency(const char *name, uint64_t *ns, size_t n) {
    if (n == 0)
        return;
    qsort(ns, n, sizeof(*ns), cmp_u64);
    printf("%s: n=%llu rtt p50=%.1fus p99=%.1fus max=%.1fus\n", name, (unsigned long long)n,
           ns[n / 2] / 1000.0, ns[(n * 99) / 100] / 1000.0, ns[n - 1] / 1000.0);
    fflush(stdout);
}

void tio_check_echo(uint16_t port, uint32_t len) {
    int fd = th_connect(port);
    uint8_t *body = malloc(len ? len : 1), *back = malloc(len ? len : 1);
    assert_non_null(body);
    assert_non_null(back);
    tio_fill(body, len, 0xEC40 + len);
    th_write_frame(fd, 4242, body, len);
    uint32_t mid = 0;
    long got = th_read_frame(fd, &mid, back, len, 5000);
    assert_int_equal(got, (long)len);
    assert_int_equal(mid, 4242);
    assert_memory_equal(back, body, len);
    th_close(fd);
    free(body);
    free(back);
}

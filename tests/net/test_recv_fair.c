/* SPDX-License-Identifier: MIT */
/* Receive fairness over real sockets (docs/testing.md B14, B15; issue "fairness under abuse",
 * item 1): a client that sends without reading its replies is paused once its send queue passes
 * recv_pause_bytes, is not cut while paused, and loses nothing: when it reads again every echo
 * arrives, byte for byte and in order (the input held back meanwhile is fed first). The
 * per-session receive rate limits cut a session over recv_rate_frames or recv_rate_bytes with
 * reason recv_rate, and leave a session under them alone. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "gs_test.h"

#include "test_io_common.h"
#include "th_os.h"

#define WAIT_MS 10000

static int paused_now(void *arg) { return th_stats(arg).recv_paused >= 1; }

static int none_paused(void *arg) { return th_stats(arg).recv_paused == 0; }

static int got_4mib(void *arg) { return th_stats(arg).bytes_in >= (4u << 20); }

/* An echo server that pauses reading at pause_bytes of queued replies and never cuts for the
 * queue (only the pause may act). */
static void start_pausing_echo(th_server_t *srv, uint32_t pause_bytes) {
    gs_net_config_t cfg = {0};
    cfg.recv_pause_bytes = pause_bytes;
    cfg.send_soft_limit = UINT32_MAX;
    cfg.send_hard_limit = 64u << 20;
    memset(srv, 0, sizeof(*srv));
    th_server_start(srv, &cfg, TH_ECHO, 0);
}

/* A client with a small receive window that writes out without reading until the server has
 * paused it and stopped taking bytes (its writes block). Returns the client, non-blocking, and
 * in *written what the kernel took, which must be less than all of it. */
static int write_until_paused(th_server_t *srv, const uint8_t *out, size_t out_len,
                              size_t *written) {
    int fd = tio_connect(srv->port, 4096);
    assert_true(fd >= 0);
    assert_int_equal(th_os_set_nonblocking(fd, 1), 0);
    size_t off = 0;
    uint64_t deadline = gs_now_ms() + WAIT_MS;
    int paused = 0;
    while (off < out_len && gs_now_ms() < deadline) {
        long w = th_os_send(fd, out + off, out_len - off);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        assert_true(w == -EAGAIN);
        if (paused_now(srv) && th_os_poll(fd, TH_POLL_OUT, 200) == 0) {
            paused = 1;
            break;
        }
        th_os_poll(fd, TH_POLL_OUT, 10);
    }
    assert_true(paused);
    assert_true(off < out_len); /* the pause held the client back */
    *written = off;
    return fd;
}

/* B14: pause, backlog, resume, nothing lost. */
static void test_pause_then_read_everything(void **state) {
    (void)state;
    th_server_t srv;
    start_pausing_echo(&srv, 32 * 1024);
    /* Enough bytes to fill the client's receive window, the server's socket send buffer and the
     * pause limit many times over; small frames, the costliest to queue. */
    uint8_t *out;
    size_t out_len, off;
    tio_make_stream(150000, 0, 120, 0x5eed, &out, &out_len);
    uint8_t *in = malloc(out_len);
    assert_non_null(in);
    int fd = write_until_paused(&srv, out, out_len, &off);
    gs_net_stats_t st = th_stats(&srv);
    assert_true(st.recv_pauses >= 1);
    assert_int_equal(st.sessions_closed, 0);
    printf("paused after %zu of %zu bytes; queue %llu bytes\n", off, out_len,
           (unsigned long long)st.bytes_queued);

    /* Now read: the queue drains, the pause ends, the held-back input is fed, and every echo
     * arrives. */
    assert_int_equal(th_os_set_nonblocking(fd, 0), 0);
    uint64_t rng = 7;
    assert_int_equal(
        tio_pump(fd, out + off, out_len - off, 64 * 1024, &rng, in, out_len, 64 * 1024, 0, 60000),
        0);
    assert_memory_equal(in, out, out_len);
    assert_true(th_wait_until(none_paused, &srv, WAIT_MS));
    st = th_stats(&srv);
    assert_int_equal(st.sessions_closed, 0);
    assert_int_equal(st.frames_in, 150000);
    th_close(fd);
    assert_int_equal(th_server_stop(&srv, 1000), 0);
    assert_int_equal(atomic_load(&srv.close_reasons[GS_CLOSE_SEND_QUEUE_HARD]), 0);
    free(in);
    free(out);
}

/* B14: a session closed while paused, with input held back, is released cleanly (LSan: the
 * backlog is freed) and counted out of the paused gauge. */
static void test_close_while_paused(void **state) {
    (void)state;
    th_server_t srv;
    start_pausing_echo(&srv, 16 * 1024);
    uint8_t *out;
    size_t out_len, off;
    tio_make_stream(400000, 0, 40, 0xc105e, &out, &out_len);
    int fd = write_until_paused(&srv, out, out_len, &off);
    th_abort(fd); /* a reset: the session closes with its backlog and its queue */
    assert_true(th_wait_count(&srv.closed, 1, WAIT_MS));
    assert_true(th_wait_until(none_paused, &srv, WAIT_MS));
    assert_int_equal(th_server_stop(&srv, 0), 0);
    free(out);
}

/* The receive share: a multishot receive ends after recv_share_bytes and is armed again (so one
 * flood waits its turn behind the others). Needs the kernel's multishot length cap (Linux 6.17). */
static void test_receive_share(void **state) {
    (void)state;
    gs_net_config_t cfg = {0};
    cfg.recv_share_bytes = 16 * 1024;
    th_server_t srv = {0};
    th_server_start(&srv, &cfg, TH_SINK, 0);
    /* The share is counted in io_uring's re-arms; epoll reads a share per pass without re-arming
     * anything (test_epoll_paths checks it there: a flood does not starve another session). */
    int uring = strcmp(gs_net_backend_name(srv.net), "io_uring") == 0;
    struct utsname u;
    int major = 0, minor = 0;
    if (uring && (uname(&u) != 0 || sscanf(u.release, "%d.%d", &major, &minor) != 2 ||
                  major * 100 + minor < 617)) {
        assert_int_equal(th_server_stop(&srv, 1000), 0);
        gs_test_skip("the multishot receive length cap needs Linux >= 6.17");
    }
    const size_t total = 4u << 20;
    uint8_t *zeros = calloc(1, total); /* empty frames: 512 Ki of them */
    assert_non_null(zeros);
    int fd = th_connect(srv.port);
    th_write_all(fd, zeros, total);
    assert_true(th_wait_until(got_4mib, &srv, WAIT_MS));
    gs_net_stats_t st = th_stats(&srv);
    assert_int_equal(st.bytes_in, total);
    /* One arm per share at least, less a few receives that ended short of the cap. With an
     * incrementally consumed ring (Linux >= 6.12) the kernel ends a capped multishot receive at
     * the end of a buffer at the earliest, so the share is at least one buffer there (measured:
     * 72 arms for 4 MiB with 64 KiB buffers, 17 with 256 KiB ones). */
    uint32_t share = 16 * 1024, bufsize = gs_net_config(srv.net)->recv_buffer_size;
    if (bufsize > share)
        share = bufsize;
    printf("receive share: %llu re-arms for %zu bytes (buffers of %u bytes)\n",
           (unsigned long long)st.recv_rearms, total, bufsize);
    if (uring)
        assert_true(st.recv_rearms >= total / share / 2);
    th_close(fd);
    free(zeros);
    assert_int_equal(th_server_stop(&srv, 1000), 0);
    if (!uring)
        gs_test_skip("recv_rearms counts io_uring's receive share; epoll's is in test_epoll_paths");
}

/* B15: frames per second over the limit cut the session (recv_rate); a session within its
 * burst is served. */
static void test_rate_limit_frames(void **state) {
    (void)state;
    gs_net_config_t cfg = {0};
    cfg.recv_rate_frames = 100;
    cfg.recv_rate_burst_ms = 1000; /* a bucket of 100 frames */
    th_server_t srv = {0};
    th_server_start(&srv, &cfg, TH_ECHO, 0);

    /* 50 frames: within the burst, all echoed. */
    int ok = th_connect(srv.port);
    uint8_t body[16] = {1, 2, 3};
    for (int i = 0; i < 50; i++)
        th_write_frame(ok, 5, body, sizeof(body));
    for (int i = 0; i < 50; i++) {
        uint32_t id = 0;
        uint8_t got[16];
        assert_int_equal(th_read_frame(ok, &id, got, sizeof(got), WAIT_MS), 16);
        assert_int_equal(id, 5);
    }

    /* 1000 frames at once: over the bucket, cut; at most the bucket's worth was delivered. */
    uint64_t frames_before = th_stats(&srv).frames_in;
    int bad = th_connect(srv.port);
    uint8_t *burst;
    size_t burst_len;
    tio_make_stream(1000, 16, 16, 3, &burst, &burst_len);
    int rc = th_try_write_all(bad, burst, burst_len);
    assert_true(rc == 0 || rc == -EPIPE || rc == -ECONNRESET);
    assert_int_equal(th_wait_eof(bad, WAIT_MS), 0);
    assert_true(th_wait_count(&srv.close_reasons[GS_CLOSE_RECV_RATE], 1, WAIT_MS));
    gs_net_stats_t st = th_stats(&srv);
    assert_int_equal(st.disconnects[GS_CLOSE_RECV_RATE], 1);
    assert_true(st.frames_in - frames_before <= 101); /* the bucket, and a refill's frame */
    th_close(bad);
    free(burst);

    /* The honest session is still open and served. */
    th_write_frame(ok, 6, body, sizeof(body));
    uint32_t id = 0;
    uint8_t got[16];
    assert_int_equal(th_read_frame(ok, &id, got, sizeof(got), WAIT_MS), 16);
    assert_int_equal(id, 6);
    th_close(ok);
    assert_int_equal(th_server_stop(&srv, 1000), 0);
    assert_int_equal(atomic_load(&srv.close_reasons[GS_CLOSE_RECV_RATE]), 1);
}

/* B15: bytes per second over the limit cut the session. */
static void test_rate_limit_bytes(void **state) {
    (void)state;
    gs_net_config_t cfg = {0};
    cfg.recv_rate_bytes = 20000;
    cfg.recv_rate_burst_ms = 1000; /* a bucket of 20 000 bytes */
    th_server_t srv = {0};
    th_server_start(&srv, &cfg, TH_SINK, 0);
    int fd = th_connect(srv.port);
    uint8_t *big = calloc(1, 200000);
    assert_non_null(big);
    int rc = th_try_write_all(fd, big, 200000); /* zero-length frames: 25 000 of them */
    assert_true(rc == 0 || rc == -EPIPE || rc == -ECONNRESET);
    assert_int_equal(th_wait_eof(fd, WAIT_MS), 0);
    assert_true(th_wait_count(&srv.close_reasons[GS_CLOSE_RECV_RATE], 1, WAIT_MS));
    assert_true(th_stats(&srv).bytes_in <= 200000);
    th_close(fd);
    free(big);
    assert_int_equal(th_server_stop(&srv, 1000), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pause_then_read_everything),
        cmocka_unit_test(test_close_while_paused),
        cmocka_unit_test(test_receive_share),
        cmocka_unit_test(test_rate_limit_frames),
        cmocka_unit_test(test_rate_limit_bytes),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

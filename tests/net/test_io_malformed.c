/* SPDX-License-Identifier: MIT */
/* Hostile frame headers over real sockets (docs/testing.md A01-A04, A19): the offending session is
 * closed with reason protocol_error and the right reject counter incremented by exactly 1, the
 * client sees the end of the stream, the server stops reading it, and a fresh client still
 * echoes normally afterwards. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_test.h"

#include "test_io_common.h"

#define WAIT_MS 5000

/* Send a header announcing len (plus up to body_bytes of body, whose writes may fail once the
 * server has closed) and check that exactly one more session was closed for reason. */
static int all_closed(void *arg) {
    th_server_t *srv = arg;
    return atomic_load(&srv->closed) == atomic_load(&srv->opened) &&
           th_stats(srv).sessions_open == 0;
}

static void reject_case(th_server_t *srv, uint32_t len, size_t body_bytes, gs_frame_reject_t why) {
    /* Earlier clients of the test are gone first, so that counters below are this case's. */
    assert_true(th_wait_until(all_closed, srv, WAIT_MS));
    uint64_t protocol_closes = atomic_load(&srv->close_reasons[GS_CLOSE_PROTOCOL]);
    gs_net_stats_t before = th_stats(srv);
    int fd = th_connect(srv->port);
    uint8_t hdr[GS_FRAME_HEADER_SIZE];
    gs_frame_header_write(hdr, len, 77);
    assert_int_equal(tio_write_all(fd, hdr, sizeof(hdr)), 0);
    if (body_bytes) {
        uint8_t *body = calloc(1, body_bytes);
        assert_non_null(body);
        int rc = tio_write_all(fd, body, body_bytes);
        /* The server may close before the body is in: a reset or broken pipe is fine. */
        assert_true(rc == 0 || rc == -EPIPE || rc == -ECONNRESET);
        free(body);
    }
    assert_int_equal(th_wait_eof(fd, WAIT_MS), 0); /* the client sees the close */
    assert_true(
        th_wait_count(&srv->close_reasons[GS_CLOSE_PROTOCOL], protocol_closes + 1, WAIT_MS));
    assert_true(th_wait_until(all_closed, srv, WAIT_MS));
    th_close(fd);

    gs_net_stats_t st = th_stats(srv);
    assert_int_equal(st.frames_rejected[why] - before.frames_rejected[why], 1);
    for (int r = 0; r < GS_REJECT__COUNT; r++)
        if (r != (int)why)
            assert_int_equal(st.frames_rejected[r], before.frames_rejected[r]);
    assert_int_equal(st.disconnects[GS_CLOSE_PROTOCOL] - before.disconnects[GS_CLOSE_PROTOCOL], 1);
    assert_int_equal(atomic_load(&srv->close_reasons[GS_CLOSE_PROTOCOL]), protocol_closes + 1);
    /* Nothing of the rejected frame reached the application. */
    assert_int_equal(st.frames_in, before.frames_in);
    /* The body was never read into the session: at most one receive buffer was consumed. */
    assert_true(st.bytes_in - before.bytes_in <= gs_net_config(srv->net)->recv_buffer_size);
    assert_int_equal(st.sessions_open, 0);
}

/* A03: body of max_frame + 1. A02 alongside: exactly max_frame is delivered byte-exact. */
static void a03_frame_len_max_plus_one(void **state) {
    (void)state;
    th_server_t srv = {0};
    th_server_start(&srv, NULL, TH_ECHO, 0);
    reject_case(&srv, GS_FRAME_MAX_DEFAULT + 1, GS_FRAME_MAX_DEFAULT + 1, GS_REJECT_TOO_BIG);
    tio_check_echo(srv.port, GS_FRAME_MAX_DEFAULT); /* A02: max exact still passes */
    tio_check_echo(srv.port, 100);
    gs_net_stats_t st = th_stats(&srv);
    assert_int_equal(st.frames_rejected[GS_REJECT_TOO_BIG], 1);
    assert_int_equal(st.frames_in, 2);
    th_server_stop(&srv, 1000);
}

/* A03 with a configured limit: 1000 echoes, 1001 closes. */
static void a03_configured_max_frame(void **state) {
    (void)state;
    th_server_t srv = {0};
    gs_net_config_t cfg = {.max_frame = 1000};
    th_server_start(&srv, &cfg, TH_ECHO, 0);
    tio_check_echo(srv.port, 1000);
    reject_case(&srv, 1001, 1001, GS_REJECT_TOO_BIG);
    tio_check_echo(srv.port, 999);
    th_server_stop(&srv, 1000);
}

/* A04: huge announced lengths; no len + header wraparound lets them through. */
static void a04_frame_len_huge(void **state) {
    (void)state;
    th_server_t srv = {0};
    th_server_start(&srv, NULL, TH_ECHO, 0);
    const uint32_t lens[] = {0xFFFFFFFFu, 0x80000000u, 0xFFFFFFF8u, 0xFFFFFFF9u,
                             GS_FRAME_MAX_DEFAULT + GS_FRAME_HEADER_SIZE - 1};
    for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        reject_case(&srv, lens[i], 4096, GS_REJECT_TOO_BIG);
        tio_check_echo(srv.port, 64);
    }
    assert_true(th_wait_until(all_closed, &srv, WAIT_MS));
    gs_net_stats_t st = th_stats(&srv);
    assert_int_equal(st.frames_rejected[GS_REJECT_TOO_BIG], 5);
    assert_int_equal(st.disconnects[GS_CLOSE_PROTOCOL], 5);
    assert_int_equal(st.disconnects[GS_CLOSE_PEER_CLOSE], 5);
    assert_int_equal(st.frames_in, 5);
    th_server_stop(&srv, 1000);
}

/* A01 default policy: a zero-length frame is a frame (echoed), also back to back with others,
 * and the server does not wait for a body that was announced as empty. */
static void a01_zero_len_echoed_by_default(void **state) {
    (void)state;
    th_server_t srv = {0};
    th_server_start(&srv, NULL, TH_ECHO, 0);
    int fd = th_connect(srv.port);
    uint8_t stream[3 * GS_FRAME_HEADER_SIZE + 5], back[sizeof(stream)];
    size_t n = tio_frame_put(stream, 42, NULL, 0);
    n += tio_frame_put(stream + n, 43, "hello", 5);
    n += tio_frame_put(stream + n, 44, NULL, 0);
    assert_int_equal(n, sizeof(stream));
    assert_int_equal(tio_write_all(fd, stream, n), 0);
    assert_int_equal(th_read_exact(fd, back, n, WAIT_MS), 0);
    assert_memory_equal(back, stream, n);
    /* A lone empty frame as the last bytes of the stream is delivered, not held back. */
    th_write_frame(fd, 45, NULL, 0);
    uint32_t mid = 0;
    uint8_t body[8];
    assert_int_equal(th_read_frame(fd, &mid, body, sizeof(body), WAIT_MS), 0);
    assert_int_equal(mid, 45);
    th_close(fd);
    gs_net_stats_t st = th_stats(&srv);
    assert_int_equal(st.frames_in, 4);
    assert_int_equal(st.frames_rejected[GS_REJECT_ZERO_LEN], 0);
    th_server_stop(&srv, 1000);
}

/* A01 with reject_empty_frames: close with zero_len; a frame before it was delivered. */
static void a01_zero_len_rejected_when_configured(void **state) {
    (void)state;
    th_server_t srv = {0};
    gs_net_config_t cfg = {.reject_empty_frames = 1};
    th_server_start(&srv, &cfg, TH_SINK, 0);
    reject_case(&srv, 0, 0, GS_REJECT_ZERO_LEN);

    /* A valid frame and an empty one in the same write: the first reaches the handler, the
     * second closes the session. */
    int fd = th_connect(srv.port);
    uint8_t stream[2 * GS_FRAME_HEADER_SIZE + 3];
    size_t n = tio_frame_put(stream, 5, "abc", 3);
    n += tio_frame_put(stream + n, 6, NULL, 0);
    assert_int_equal(tio_write_all(fd, stream, n), 0);
    assert_int_equal(th_wait_eof(fd, WAIT_MS), 0);
    assert_true(th_wait_count(&srv.closed, 2, WAIT_MS));
    th_close(fd);
    gs_net_stats_t st = th_stats(&srv);
    assert_int_equal(st.frames_in, 1);
    assert_int_equal(atomic_load(&srv.frames), 1);
    assert_int_equal(st.frames_rejected[GS_REJECT_ZERO_LEN], 2);
    assert_int_equal(st.disconnects[GS_CLOSE_PROTOCOL], 2);
    th_server_stop(&srv, 1000);

    /* Non-empty frames still echo under the same policy. */
    th_server_t srv2 = {0};
    th_server_start(&srv2, &cfg, TH_ECHO, 0);
    tio_check_echo(srv2.port, 1);
    tio_check_echo(srv2.port, 300);
    th_server_stop(&srv2, 1000);
}

/* A19: after a bad header the client keeps streaming 1 KiB chunks. The server must close at
 * once and never read the rest: the client's writes start failing (reset) within the deadline,
 * the client sees the end of stream, and bytes_in stays at what one receive brought in. */
static void a19_protocol_desync_stream(void **state) {
    (void)state;
    th_server_t srv = {0};
    th_server_start(&srv, NULL, TH_SINK, 0);
    int fd = th_connect(srv.port);
    uint8_t hdr[GS_FRAME_HEADER_SIZE];
    gs_frame_header_write(hdr, 0x7FFFFFF0u, 9);
    uint64_t t0 = gs_now_ms();
    assert_int_equal(tio_write_all(fd, hdr, sizeof(hdr)), 0);
    int eof = 0, werr = 0;
    uint64_t written = 0;
    int rc = tio_write_until_error(fd, 1024, WAIT_MS, &eof, &werr, &written);
    uint64_t elapsed = gs_now_ms() - t0;
    printf("a19: client wrote %llu bytes after the bad header; write failed after %llu ms (%s)\n",
           (unsigned long long)written, (unsigned long long)elapsed, strerror(werr));
    assert_int_equal(rc, 0); /* a write failed before the deadline */
    assert_true(werr == EPIPE || werr == ECONNRESET);
    if (!eof)
        assert_int_equal(th_wait_eof(fd, 1000), 0);
    assert_true(th_wait_count(&srv.closed, 1, WAIT_MS));
    gs_net_stats_t st = th_stats(&srv);
    assert_int_equal(st.frames_rejected[GS_REJECT_TOO_BIG], 1);
    assert_int_equal(st.disconnects[GS_CLOSE_PROTOCOL], 1);
    assert_int_equal(st.frames_in, 0);
    /* The server read at most one receive's worth after the header, not the stream. */
    assert_true(st.bytes_in <= gs_net_config(srv.net)->recv_buffer_size);
    th_close(fd);
    /* Not reading later either. */
    gs_net_stats_t st2 = th_stats(&srv);
    assert_int_equal(st2.bytes_in, st.bytes_in);
    /* A fresh client's frame is delivered (TH_SINK: counted, not echoed). */
    int fd2 = th_connect(srv.port);
    th_write_frame(fd2, 3, "ping", 4);
    assert_true(th_wait_count(&srv.frames, 1, WAIT_MS));
    th_close(fd2);
    th_server_stop(&srv, 1000);
}

/* A19 with valid traffic first: the frames before the bad header are delivered, then the
 * session is cut the same way. */
static void a19_desync_after_valid_frames(void **state) {
    (void)state;
    th_server_t srv = {0};
    th_server_start(&srv, NULL, TH_ECHO, 0);
    int fd = th_connect(srv.port);
    uint8_t body[100], back[100];
    for (int i = 0; i < 10; i++) {
        tio_fill(body, sizeof(body), (uint64_t)i);
        th_write_frame(fd, 1, body, sizeof(body));
        uint32_t mid;
        assert_int_equal(th_read_frame(fd, &mid, back, sizeof(back), WAIT_MS), 100);
        assert_memory_equal(back, body, 100);
    }
    gs_net_stats_t before = th_stats(&srv);
    uint8_t hdr[GS_FRAME_HEADER_SIZE];
    gs_frame_header_write(hdr, 0xFFFFFFFFu, 1);
    assert_int_equal(tio_write_all(fd, hdr, sizeof(hdr)), 0);
    int eof = 0, werr = 0;
    uint64_t written = 0;
    assert_int_equal(tio_write_until_error(fd, 1024, WAIT_MS, &eof, &werr, &written), 0);
    assert_true(th_wait_count(&srv.closed, 1, WAIT_MS));
    th_close(fd);
    gs_net_stats_t st = th_stats(&srv);
    assert_int_equal(st.frames_in, 10);
    assert_int_equal(st.disconnects[GS_CLOSE_PROTOCOL], 1);
    assert_true(st.bytes_in - before.bytes_in <= gs_net_config(srv.net)->recv_buffer_size);
    tio_check_echo(srv.port, 200);
    th_server_stop(&srv, 1000);
}

/* Logging under attack (issue 11, item 5): 200 clients each send a bad header and are cut. Every
 * cut is still counted, but the per-session lines (the reject and the close, a rate limit each:
 * 10 lines a second) stay within the limit instead of two per attacker. */
static _Atomic uint64_t net_lines;

static void count_net_lines(gs_log_level_t level, const char *component, const char *message,
                            void *user) {
    (void)level;
    (void)message;
    (void)user;
    if (strcmp(component, "net") == 0)
        atomic_fetch_add(&net_lines, 1);
}

static void log_flood_rate_limited(void **state) {
    (void)state;
    const uint64_t attackers = 200;
    atomic_store(&net_lines, 0);
    gs_log_set_level(GS_LOG_INFO);
    gs_log_set_hook(count_net_lines, NULL); /* before the IO thread starts */
    th_server_t srv = {0};
    th_server_start(&srv, NULL, TH_SINK, 0);
    uint64_t t0 = gs_now_ms();
    uint8_t hdr[GS_FRAME_HEADER_SIZE];
    gs_frame_header_write(hdr, 0x7FFFFFF0u, 9);
    for (uint64_t i = 0; i < attackers; i++) {
        int fd = th_connect(srv.port);
        assert_int_equal(tio_write_all(fd, hdr, sizeof(hdr)), 0);
        assert_int_equal(th_wait_eof(fd, WAIT_MS), 0);
        th_close(fd);
    }
    assert_true(th_wait_count(&srv.closed, attackers, WAIT_MS));
    uint64_t windows = (gs_now_ms() - t0) / 1000 + 1;
    gs_net_stats_t st = th_stats(&srv);
    assert_int_equal(st.frames_rejected[GS_REJECT_TOO_BIG], attackers);
    assert_int_equal(st.disconnects[GS_CLOSE_PROTOCOL], attackers);
    uint64_t lines = atomic_load(&net_lines);
    printf("log flood: %llu attackers cut in %llu window(s), %llu net lines\n",
           (unsigned long long)attackers, (unsigned long long)windows, (unsigned long long)lines);
    assert_true(lines >= 2);
    assert_true(lines <= 2 * 10 * windows);
    th_server_stop(&srv, 1000);
    gs_log_set_hook(NULL, NULL);
    gs_log_set_level(GS_LOG_ERROR);
}

int main(void) {
    gs_log_set_level(GS_LOG_ERROR); /* the rejects log warnings by design */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a03_frame_len_max_plus_one),
        cmocka_unit_test(a03_configured_max_frame),
        cmocka_unit_test(a04_frame_len_huge),
        cmocka_unit_test(a01_zero_len_echoed_by_default),
        cmocka_unit_test(a01_zero_len_rejected_when_configured),
        cmocka_unit_test(a19_protocol_desync_stream),
        cmocka_unit_test(a19_desync_after_valid_frames),
        cmocka_unit_test(log_flood_rate_limited),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

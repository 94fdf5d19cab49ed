/* SPDX-License-Identifier: MIT */
/* Regression tests for net/ bugs found while writing the lifecycle tests (both fixed: the loop
 * clock is refreshed after each wait, and unsent counts only buffers that never left).
 *
 * 1. Receive deadlines must count from when bytes really arrived.
 *    The IO loop caches the time in loop->now_ms once per batch (gs__loop_after_batch) and then
 *    blocks in io_uring_submit_and_wait_timeout for up to tick_ms. Completions dispatched after
 *    that wait stamp sessions with the cached, stale time: last_recv_ms (idle deadline), the
 *    open time (idle deadline of a new session) and frame_start_ms (partial-frame deadline).
 *    So a deadline can fire up to one tick_ms early: a client that sent a frame 200 ms ago is
 *    closed for idle_timeout 300 ms.
 *    Made deterministic with a long tick (1000 ms): the loop sleeps from one tick to the next,
 *    the client acts 800 ms after the server's first tick, the next tick comes ~200 ms later
 *    and sees a session whose clock says it has been quiet for ~1000 ms. A correct server
 *    closes it no earlier than 300 ms after the frame (in fact at the tick after that, ~1200 ms
 *    later).
 *
 * 2. gs_net_stop's unsent count must not include buffers that were sent.
 *    A gathered send that came back short and was reposted for the rest has already handed
 *    its first buffers to the kernel (iov_first counts them). When the session is then closed
 *    (flush deadline) the repost fails and gs__on_send_done adds all req->nbufs to unsent, so
 *    buffers the peer can still read are reported as never sent; frames_out never counts them
 *    either. A never-reader makes it deterministic: the kernel takes ~2.8 MB of its 16 KiB
 *    frames, ending inside a 64-buffer gather. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_test.h"

#include "test_lifecycle_common.h"
#include "th_os.h"

/* ---- 1. stale clock ----------------------------------------------------------------------- */

/* Start the server and return the time of its first tick (it runs at once on start). */
static lc_server_t *start(gs_net_config_t *cfg, uint64_t *t_start_ms) {
    *t_start_ms = gs_now_ms();
    return lc_server_start(cfg, TH_SINK);
}

static void idle_deadline_counts_from_last_frame(void **state) {
    (void)state;
    gs_net_config_t cfg = {0};
    cfg.idle_timeout_ms = 300;
    cfg.tick_ms = 1000;
    uint64_t t_start;
    lc_server_t *srv = start(&cfg, &t_start);
    int fd = lc_connect(srv->port, 0);
    gs_session_id_t id = lc_session(srv, 0);
    gs_sleep_ms((uint32_t)(t_start + 800 - gs_now_ms())); /* the scenario: act mid-tick */
    uint8_t frame[GS_FRAME_HEADER_SIZE + 16] = {0};
    gs_frame_header_write(frame, 16, 1);
    uint64_t t_frame = gs_now_ns();
    th_write_all(fd, frame, sizeof(frame)); /* one segment: one receive completion */
    assert_true(lc_wait_closed(srv, 1, 3000));
    lc_rec_t *r = lc_find(srv, id);
    assert_non_null(r);
    assert_int_equal(atomic_load(&r->frames), 1);
    assert_int_equal(atomic_load(&r->reason), GS_CLOSE_IDLE_TIMEOUT);
    double quiet_ms = lc_ms(t_frame, atomic_load(&r->close_ns));
    print_message("idle_timeout_ms 300: closed %.1f ms after the last frame arrived\n", quiet_ms);
    assert_true(quiet_ms >= 299.0);
    th_close(fd);
    lc_server_stop(srv, 0);
    lc_server_free(srv);
}

static void frame_deadline_counts_from_first_byte(void **state) {
    (void)state;
    gs_net_config_t cfg = {0};
    cfg.frame_timeout_ms = 300;
    cfg.tick_ms = 1000;
    uint64_t t_start;
    lc_server_t *srv = start(&cfg, &t_start);
    int fd = lc_connect(srv->port, 0);
    gs_session_id_t id = lc_session(srv, 0);
    gs_sleep_ms((uint32_t)(t_start + 800 - gs_now_ms()));
    uint8_t hdr[GS_FRAME_HEADER_SIZE];
    gs_frame_header_write(hdr, 100, 1);
    uint64_t t_first = gs_now_ns();
    th_write_all(fd, hdr, 4); /* half a header */
    assert_true(lc_wait_closed(srv, 1, 3000));
    lc_rec_t *r = lc_find(srv, id);
    assert_non_null(r);
    assert_int_equal(atomic_load(&r->reason), GS_CLOSE_FRAME_TIMEOUT);
    double partial_ms = lc_ms(t_first, atomic_load(&r->close_ns));
    print_message("frame_timeout_ms 300: closed %.1f ms after the frame's first byte\n",
                  partial_ms);
    assert_true(partial_ms >= 299.0);
    th_close(fd);
    lc_server_stop(srv, 0);
    lc_server_free(srv);
}

/* ---- 2. unsent --------------------------------------------------------------------------- */

#define FRAME (16u * 1024u)

static void queue_on_frame(lc_server_t *srv, gs_session_id_t id, void *su, uint32_t msg_id,
                           const uint8_t *body, uint32_t len) {
    (void)su;
    (void)body;
    (void)len;
    for (uint32_t i = 0; i < msg_id; i++) {
        gs_buf_t *b = lc_buf(5, FRAME - GS_FRAME_HEADER_SIZE, i);
        if (!b || gs_session_send(srv->net, id, b) != 0)
            atomic_fetch_add(&srv->send_errors, 1);
        if (b)
            gs_buf_unref(b);
    }
}

typedef struct {
    lc_server_t *srv;
    gs_session_id_t id;
    uint64_t min;
} qmin_t;

static int queue_at_least(void *arg) {
    qmin_t *a = arg;
    uint64_t q = 0;
    return gs_session_queued_bytes(a->srv->net, a->id, &q) == 0 && q >= a->min;
}

static int short_send_seen(void *arg) {
    gs_net_stats_t st = lc_stats(arg);
    return st.short_sends > 0 && st.frames_out > 0;
}

static void unsent_excludes_buffers_the_kernel_took(void **state) {
    (void)state;
    /* The regression is in the short-send accounting, which only a backend whose sends complete
     * short reaches (io_uring); an overlapped WSASend completes whole or fails. */
    if (!th_os_sends_complete_short())
        gs_test_skip("needs sends that complete short (io_uring); IOCP completes whole");
    const uint32_t frames = 512; /* 8 MiB */
    gs_net_config_t cfg = {0};
    cfg.send_hard_limit = 64u * 1024u * 1024u;
    cfg.send_soft_limit = UINT32_MAX;
    lc_server_t *srv = lc_server_create(&cfg, TH_CUSTOM);
    srv->on_frame = queue_on_frame;
    lc_server_begin(srv);
    int fd = lc_connect(srv->port, 4096); /* never reads until the stop */
    gs_session_id_t id = lc_session(srv, 0);
    th_write_frame(fd, frames, NULL, 0);
    qmin_t q = {srv, id, 2u * 1024u * 1024u};
    assert_true(th_wait_until(queue_at_least, &q, LC_WAIT_MS));
    /* Let the kernel take its share: a send came back short and the queue stopped moving. */
    assert_true(th_wait_until(short_send_seen, srv, LC_WAIT_MS));
    uint64_t level = 0, now_q = 0;
    for (int stable = 0; stable < 100;) {
        assert_int_equal(gs_session_queued_bytes(srv->net, id, &now_q), 0);
        stable = now_q == level ? stable + 1 : 0;
        level = now_q;
        gs_sleep_ms(1);
    }
    uint64_t unsent = lc_server_stop(srv, 0);
    gs_net_stats_t st = lc_stats(srv);
    /* Everything the server handed to the kernel can still be read. */
    lc_stream_t s;
    lc_stream_init(&s, 0);
    int end = lc_read_stream(fd, &s, 0, 0, 0, LC_WAIT_MS);
    th_close(fd);
    int bad = s.bad;
    lc_stream_fini(&s);
    print_message("%u frames queued; the client read %llu whole frames; frames_out %llu, short "
                  "sends %llu; unsent %llu (expected %llu)\n",
                  frames, (unsigned long long)s.frames, (unsigned long long)st.frames_out,
                  (unsigned long long)st.short_sends, (unsigned long long)unsent,
                  (unsigned long long)(frames - s.frames));
    assert_true(end == 0 || end == 1);
    assert_false(bad);
    assert_int_equal(unsent + st.frames_out, frames);
    assert_int_equal(unsent, frames - s.frames);
    assert_true(lc_wait_bufs_released(LC_WAIT_MS));
    lc_server_free(srv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(idle_deadline_counts_from_last_frame),
        cmocka_unit_test(frame_deadline_counts_from_first_byte),
        cmocka_unit_test(unsent_excludes_buffers_the_kernel_took),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

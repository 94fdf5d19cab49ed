/* SPDX-License-Identifier: MIT */
/* Shutdown with pending sends (docs/testing.md C06): gs_net_stop(net, 300) while MBs are queued
 * to a client that reads slowly and to one that never reads.
 *
 * - gs_net_stop returns within flush + 1 s, every session closed with reason shutdown, and
 *   afterwards io_in_flight == 0, sessions_open == 0, bufs_queued == 0 (lc_server_stop).
 * - A slow reader that reads everything within the flush window gets every byte, in order,
 *   then an orderly end; alone, the stop returns unsent == 0.
 * - With a never-reader as well, unsent counts its buffers that never left the server: at
 *   least the frames queued to it minus the whole frames it can still read from the kernel
 *   after the stop, at most the frames queued to it (exact equality is in
 *   test_lifecycle_regressions.c), and frames_out + unsent == every buffer queued. */
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

#define KIB 1024u
#define MIB (1024u * 1024u)
/* The flush window: the slow reader must read 6 MiB within it. Under wine socket calls are far
 * slower (th_os_io_time_scale), so the window the reader gets grows with them. */
#define FLUSH_MS (300u * th_os_io_time_scale())
#define FRAME    (16u * KIB) /* bytes on the wire per frame */

/* msg_id of the client's request = how many frames to queue to it. */
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
    int fd;
    uint64_t want;
    _Atomic int go;
    int end; /* lc_read_stream's result at the end of the stream */
    int got_all;
    lc_stream_t st;
} reader_t;

/* Waits for go, then reads everything slowly (64 KiB, 1 ms pause) and then the end. */
static void reader_main(void *arg) {
    reader_t *r = arg;
    uint64_t deadline = gs_now_ms() + 10000;
    while (!atomic_load(&r->go) && gs_now_ms() < deadline)
        gs_sleep_ms(1);
    r->got_all = lc_read_stream(r->fd, &r->st, r->want, 64 * KIB, 1, 5000) == 2;
    r->end = lc_read_stream(r->fd, &r->st, 0, 64 * KIB, 0, 5000);
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

static void shutdown_case(int with_never_reader) {
    const uint32_t slow_frames = 384;  /* 6 MiB: more than the kernel takes at once */
    const uint32_t never_frames = 512; /* 8 MiB */
    gs_net_config_t cfg = {0};
    cfg.send_hard_limit = 64 * MIB;
    cfg.send_soft_limit = UINT32_MAX;
    cfg.tick_ms = 50;
    lc_server_t *srv = lc_server_create(&cfg, TH_CUSTOM);
    srv->on_frame = queue_on_frame;
    lc_server_begin(srv);

    reader_t rd = {.want = (uint64_t)slow_frames * FRAME};
    lc_stream_init(&rd.st, 0);
    rd.fd = lc_connect(srv->port, 0);
    gs_session_id_t id_slow = lc_session(srv, 0);
    th_write_frame(rd.fd, slow_frames, NULL, 0);
    qmin_t qs = {srv, id_slow, 256 * KIB};
    assert_true(th_wait_until(queue_at_least, &qs, LC_WAIT_MS));

    int never = -1;
    gs_session_id_t id_never = 0;
    if (with_never_reader) {
        never = lc_connect(srv->port, 4096);
        id_never = lc_session(srv, 1);
        th_write_frame(never, never_frames, NULL, 0);
        qmin_t qn = {srv, id_never, 2 * MIB};
        assert_true(th_wait_until(queue_at_least, &qn, LC_WAIT_MS));
    }
    uint64_t q_slow = 0;
    assert_int_equal(gs_session_queued_bytes(srv->net, id_slow, &q_slow), 0);
    assert_true(q_slow > 0); /* data still queued in the server when the stop begins */

    gs_thread_t *t;
    assert_int_equal(gs_thread_start(&t, reader_main, &rd, "c06-reader"), 0);
    atomic_store(&rd.go, 1);
    uint64_t t0 = gs_now_ns();
    uint64_t unsent = lc_server_stop(srv, FLUSH_MS);
    double stop_ms = lc_ms(t0, gs_now_ns());
    gs_thread_join(t);

    gs_net_stats_t st = lc_stats(srv);
    lc_rec_t *rs = lc_find(srv, id_slow);
    assert_non_null(rs);
    double slow_close_ms = lc_ms(t0, atomic_load(&rs->close_ns));

    /* The never-reader now reads what the kernel holds for it: those frames had left. */
    lc_stream_t nst;
    lc_stream_init(&nst, 0);
    int nend = 2;
    if (with_never_reader) {
        nend = lc_read_stream(never, &nst, 0, 0, 0, LC_WAIT_MS);
        th_close(never);
    }
    print_message("C06 (%s): %llu bytes queued to the slow reader at stop; stop took %.1f ms "
                  "(flush %u); slow reader closed after %.1f ms having read %llu/%u frames; "
                  "unsent %llu%s",
                  with_never_reader ? "slow + never reader" : "slow reader alone",
                  (unsigned long long)q_slow, stop_ms, FLUSH_MS, slow_close_ms,
                  (unsigned long long)rd.st.frames, slow_frames, (unsigned long long)unsent,
                  with_never_reader ? "" : "\n");
    if (with_never_reader)
        print_message("; never reader: %u queued, %llu whole frames were in the kernel, short "
                      "sends %llu\n",
                      never_frames, (unsigned long long)nst.frames,
                      (unsigned long long)st.short_sends);

    assert_true(stop_ms <= FLUSH_MS + 1000.0);
    /* The slow reader got every byte intact, then an orderly end. */
    assert_true(rd.got_all);
    assert_false(rd.st.bad);
    assert_int_equal(rd.st.frames, slow_frames);
    assert_true(lc_stream_aligned(&rd.st));
    assert_int_equal(rd.end, 0);
    assert_int_equal(atomic_load(&rs->reason), GS_CLOSE_SHUTDOWN);
    assert_true(slow_close_ms < FLUSH_MS + 1000.0);
    assert_int_equal(atomic_load(&srv->send_errors), 0);
    if (!with_never_reader) {
        assert_int_equal(unsent, 0);
        assert_int_equal(st.frames_out, slow_frames);
    } else {
        lc_rec_t *rn = lc_find(srv, id_never);
        assert_non_null(rn);
        assert_int_equal(atomic_load(&rn->reason), GS_CLOSE_SHUTDOWN);
        assert_true(nend == 0 || nend == 1);
        assert_false(nst.bad);
        assert_true(nst.frames < never_frames);
        assert_true(unsent > 0);
        /* Every buffer is either fully sent (frames_out) or reported unsent. */
        assert_int_equal(st.frames_out + unsent, (uint64_t)slow_frames + never_frames);
        /* The never-reader's frames that never reached its socket are unsent, and no more
         * than the frames queued to it. Exactly never_frames - nst.frames once the known bug
         * (test_lifecycle_regressions.c: buffers sent by a short send counted as unsent) is
         * fixed. */
        assert_true(unsent >= never_frames - nst.frames);
        assert_true(unsent <= never_frames);
    }
    lc_stream_fini(&nst);
    lc_stream_fini(&rd.st);
    th_close(rd.fd);
    assert_true(lc_wait_bufs_released(LC_WAIT_MS));
    assert_int_equal(lc_bufs_double_released(), 0);
    lc_server_free(srv);
}

static void c06_slow_reader_alone(void **state) {
    (void)state;
    shutdown_case(0);
}

static void c06_slow_and_never_reader(void **state) {
    (void)state;
    shutdown_case(1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(c06_slow_reader_alone),
        cmocka_unit_test(c06_slow_and_never_reader),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

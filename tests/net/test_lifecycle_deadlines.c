/* SPDX-License-Identifier: MIT */
/* Receive deadlines (docs/testing.md B08, and B01/B02 on a single connection).
 *
 * B08: with idle_timeout_ms 300 and tick_ms 50, a silent client is closed (idle_timeout) no
 * earlier than 300 ms after its session opened and no later than 300 ms + 2 ticks + slack; a
 * client that sends a frame every 100 ms stays open for 1 s (and is closed the same way once
 * it falls silent).
 *
 * Partial-frame deadline: with frame_timeout_ms 300, a client that sent half a header and one
 * that sent a header and part of the body and then trickles bytes are both closed
 * (frame_timeout) 300 ms after the first byte of their frame, however often bytes arrive; a
 * client whose frames each stay incomplete for 100 ms, and a silent client, are not closed.
 *
 * The bounds: a correct server cannot decide before the deadline has passed, and every time
 * the test measures from is taken before the event it stands for (the write before the server
 * reads it; on_open after the accept), so "closed - start >= deadline" must hold exactly
 * (1 ms allowed for the millisecond clock the server uses; one tick while the known bug below
 * is open). The upper bound allows one tick
 * for the phase of the tick, one for drift, and 150 ms of scheduling on a loaded 2-CPU
 * machine under sanitizers. */
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

#define TICK     50u
#define SLACK_MS 150.0
#define CLOCK_MS 1.0 /* the server's clock has millisecond resolution */
/* Receive times are stamped after the loop's wait, so a deadline never fires early. */
#define EARLY_MS CLOCK_MS

static double upper_bound(uint32_t deadline) { return deadline + 2.0 * TICK + SLACK_MS; }

/* ---- B08 ------------------------------------------------------------------------------------ */

static void b08_idle_timeout(void **state) {
    (void)state;
    const uint32_t idle = 300;
    gs_net_config_t cfg = {0};
    cfg.idle_timeout_ms = idle;
    cfg.tick_ms = TICK;
    lc_server_t *srv = lc_server_start(&cfg, TH_ECHO);

    int silent = lc_connect(srv->port, 0);
    gs_session_id_t id_silent = lc_session(srv, 0);
    int talker = lc_connect(srv->port, 0);
    gs_session_id_t id_talker = lc_session(srv, 1);

    /* The talker sends a frame every 100 ms for 1 s and reads each echo. */
    uint64_t start = gs_now_ms(), last_send_ns = 0;
    uint32_t seq = 0;
    while (gs_now_ms() < start + 1000) {
        uint8_t body[32];
        lc_fill(body, sizeof(body), seq);
        last_send_ns = gs_now_ns();
        th_write_frame(talker, 5, body, sizeof(body));
        uint8_t got[64];
        uint32_t msg = 0;
        assert_int_equal(th_read_frame(talker, &msg, got, sizeof(got), 1000), (long)sizeof(body));
        assert_true(lc_body_ok(got, sizeof(body), seq));
        seq++;
        gs_sleep_ms(100); /* the scenario's pace */
    }
    lc_rec_t *rs = lc_find(srv, id_silent), *rt = lc_find(srv, id_talker);
    assert_non_null(rs);
    assert_non_null(rt);
    assert_int_equal(atomic_load(&rt->closes), 0); /* the talker is still open after 1 s */
    assert_true(atomic_load(&rs->closes) == 1);
    assert_int_equal(atomic_load(&rs->reason), GS_CLOSE_IDLE_TIMEOUT);
    double silent_ms = lc_ms(atomic_load(&rs->open_ns), atomic_load(&rs->close_ns));
    assert_int_equal(lc_drain_to_eof(silent, 1000, NULL), 0);
    th_close(silent);

    /* Now the talker falls silent: closed idle_timeout after its last frame. */
    assert_true(lc_wait_closed(srv, 2, LC_WAIT_MS));
    assert_int_equal(atomic_load(&rt->reason), GS_CLOSE_IDLE_TIMEOUT);
    double talker_ms = lc_ms(last_send_ns, atomic_load(&rt->close_ns));
    assert_int_equal(lc_drain_to_eof(talker, 1000, NULL), 0);
    th_close(talker);
    print_message("B08: silent client closed %.1f ms after open; talker (%u frames) closed "
                  "%.1f ms after its last frame; asserted [%u, %.0f]\n",
                  silent_ms, seq, talker_ms, idle, upper_bound(idle));
    assert_true(silent_ms >= idle - EARLY_MS);
    assert_true(silent_ms <= upper_bound(idle));
    assert_true(talker_ms >= idle - EARLY_MS);
    assert_true(talker_ms <= upper_bound(idle));
    assert_int_equal(lc_stats(srv).disconnects[GS_CLOSE_IDLE_TIMEOUT], 2);
    lc_server_stop(srv, 0);
    lc_server_free(srv);
}

/* ---- partial-frame deadline ----------------------------------------------------------------- */

static void partial_frame_deadline(void **state) {
    (void)state;
    const uint32_t ft = 300;
    gs_net_config_t cfg = {0};
    cfg.frame_timeout_ms = ft;
    cfg.tick_ms = TICK;
    lc_server_t *srv = lc_server_start(&cfg, TH_ECHO);

    int half_hdr = lc_connect(srv->port, 0);
    gs_session_id_t id_half = lc_session(srv, 0);
    int trickle = lc_connect(srv->port, 0);
    gs_session_id_t id_trickle = lc_session(srv, 1);
    int steady = lc_connect(srv->port, 0);
    gs_session_id_t id_steady = lc_session(srv, 2);
    int quiet = lc_connect(srv->port, 0);
    gs_session_id_t id_quiet = lc_session(srv, 3);

    /* Half a header, then nothing. */
    uint8_t hdr[GS_FRAME_HEADER_SIZE];
    gs_frame_header_write(hdr, 1000, 9);
    uint64_t t_half = gs_now_ns();
    th_write_all(half_hdr, hdr, 4);

    /* A header announcing 1000 bytes and 100 of them, then 10 bytes every 50 ms: bytes keep
     * arriving, but the frame is never complete. */
    uint8_t body[1000];
    memset(body, 0xab, sizeof(body));
    uint64_t t_trickle = gs_now_ns();
    th_write_all(trickle, hdr, sizeof(hdr));
    th_write_all(trickle, body, 100);
    size_t trickled = 100;

    /* Frames of 200 bytes, each split in the middle, 100 ms between the halves; every write
     * completes one frame and starts the next, so a frame is always pending. */
    uint8_t frame[GS_FRAME_HEADER_SIZE + 200];
    uint32_t steady_seq = 0, steady_sent = 0;
    gs_frame_header_write(frame, 200, 11);
    lc_fill(frame + GS_FRAME_HEADER_SIZE, 200, steady_seq);
    th_write_all(steady, frame, 100);

    uint64_t start = gs_now_ms(), next_trickle = start + 50, next_steady = start + 100;
    int trickle_open = 1;
    while (gs_now_ms() < start + 1200) {
        uint64_t now = gs_now_ms();
        if (trickle_open && now >= next_trickle && trickled < sizeof(body)) {
            /* The server may have closed it already: a failed write ends the trickle. */
            trickle_open = lc_write_all(trickle, body + trickled, 10) == 0;
            trickled += 10;
            next_trickle += 50;
        }
        if (now >= next_steady) {
            /* Rest of the current frame, then the first half of the next one. */
            th_write_all(steady, frame + 100, sizeof(frame) - 100);
            steady_sent++;
            steady_seq++;
            lc_fill(frame + GS_FRAME_HEADER_SIZE, 200, steady_seq);
            th_write_all(steady, frame, 100);
            next_steady += 100;
        }
        gs_sleep_ms(1);
    }
    /* The steady client's frames all came back whole and in order. */
    for (uint32_t i = 0; i < steady_sent; i++) {
        uint8_t got[256];
        uint32_t msg = 0;
        assert_int_equal(th_read_frame(steady, &msg, got, sizeof(got), 1000), 200);
        assert_int_equal(msg, 11);
        assert_true(lc_body_ok(got, 200, i));
    }

    lc_rec_t *rh = lc_find(srv, id_half), *rt = lc_find(srv, id_trickle);
    lc_rec_t *rs = lc_find(srv, id_steady), *rq = lc_find(srv, id_quiet);
    assert_true(rh && rt && rs && rq);
    assert_true(lc_wait_closed(srv, 2, LC_WAIT_MS));
    assert_int_equal(atomic_load(&rh->closes), 1);
    assert_int_equal(atomic_load(&rt->closes), 1);
    assert_int_equal(atomic_load(&rh->reason), GS_CLOSE_FRAME_TIMEOUT);
    assert_int_equal(atomic_load(&rt->reason), GS_CLOSE_FRAME_TIMEOUT);
    assert_int_equal(atomic_load(&rs->closes), 0);
    assert_int_equal(atomic_load(&rq->closes), 0);
    assert_int_equal(atomic_load(&srv->frames), steady_sent); /* nothing else was delivered */
    double half_ms = lc_ms(t_half, atomic_load(&rh->close_ns));
    double trickle_ms = lc_ms(t_trickle, atomic_load(&rt->close_ns));
    print_message("partial frame: half header closed after %.1f ms, trickling body after %.1f "
                  "ms (%u of 1000 bytes sent); steady client sent %u split frames in 1.2 s and "
                  "stayed open; asserted [%u, %.0f]\n",
                  half_ms, trickle_ms, (unsigned)trickled, steady_sent, ft, upper_bound(ft));
    assert_true(half_ms >= ft - EARLY_MS);
    assert_true(half_ms <= upper_bound(ft));
    assert_true(trickle_ms >= ft - EARLY_MS);
    assert_true(trickle_ms <= upper_bound(ft));
    assert_true(steady_sent >= 8);

    int e1 = lc_drain_to_eof(half_hdr, 1000, NULL), e2 = lc_drain_to_eof(trickle, 1000, NULL);
    assert_true(e1 == 0 || e1 == 1);
    assert_true(e2 == 0 || e2 == 1);
    th_close(half_hdr);
    th_close(trickle);
    assert_int_equal(lc_stats(srv).disconnects[GS_CLOSE_FRAME_TIMEOUT], 2);
    lc_server_stop(srv, 0);
    assert_int_equal(lc_stats(srv).disconnects[GS_CLOSE_SHUTDOWN], 2);
    th_close(steady);
    th_close(quiet);
    lc_server_free(srv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(b08_idle_timeout),
        cmocka_unit_test(partial_frame_deadline),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

/* SPDX-License-Identifier: MIT */
/* Send coalescing (gs_net_config_t.send_delay_ms) over real sockets: replies queued in separate
 * receive batches leave together in one gathered send once the delay is up, and not before;
 * with no delay each goes out at once; a stop flushes at once instead of waiting out the delay;
 * a loop holding its wake-up during a long delay still answers a stop at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gs_test.h"

#include "gs/base.h"
#include "net_harness.h"
#include "th_os.h"

#define FRAMES 5

/* Write frame i, then wait until the server has taken it, so that each arrives in its own
 * receive completion (its own batch of the loop). */
static void write_and_wait(th_server_t *srv, int fd, uint32_t i) {
    uint32_t body = i;
    th_write_frame(fd, 100 + i, &body, sizeof(body));
    assert_true(th_wait_frames_in(srv, i + 1, 5000));
}

static void read_echoes(int fd) {
    for (uint32_t i = 0; i < FRAMES; i++) {
        uint32_t id = 0, body = UINT32_MAX;
        assert_int_equal(th_read_frame(fd, &id, &body, sizeof(body), 10000), sizeof(body));
        assert_int_equal(id, 100 + i);
        assert_int_equal(body, i);
    }
}

static void test_replies_gathered_after_delay(void **state) {
    (void)state;
    /* Long enough that all FRAMES requests are taken well inside it on a loaded machine. */
    gs_net_config_t cfg = {.send_delay_ms = 3000};
    th_server_t srv = {0};
    th_server_start(&srv, &cfg, TH_ECHO, 0);
    int fd = th_connect(srv.port);
    assert_true(th_wait_count(&srv.opened, 1, 5000));
    gs_net_stats_t before = th_stats(&srv);
    uint64_t t0 = gs_now_ms();
    for (uint32_t i = 0; i < FRAMES; i++)
        write_and_wait(&srv, fd, i);
    /* Every echo is queued, none sent: the delay holds them all. */
    assert_int_equal(th_os_wait_readable(fd, 0), 0);
    read_echoes(fd);
    /* Counted from the first queued echo, the flush cannot come before the delay (the loop's
     * clock has millisecond steps, hence the 1 ms). */
    assert_true(gs_now_ms() - t0 >= 3000 - 1);
    /* The client can read the bytes before the loop has handled the send's completion. */
    assert_true(th_wait_frames_out(&srv, before.frames_out + FRAMES, 5000));
    gs_net_stats_t after = th_stats(&srv);
    assert_int_equal(after.frames_out - before.frames_out, FRAMES);
    assert_int_equal(after.sends - before.sends, 1);
    assert_int_equal(after.gathers - before.gathers, 1);
    th_os_close(fd);
    assert_int_equal(th_server_stop(&srv, 1000), 0);
}

static void test_no_delay_sends_each_at_once(void **state) {
    (void)state;
    th_server_t srv = {0};
    th_server_start(&srv, NULL, TH_ECHO, 0);
    int fd = th_connect(srv.port);
    assert_true(th_wait_count(&srv.opened, 1, 5000));
    gs_net_stats_t before = th_stats(&srv);
    for (uint32_t i = 0; i < FRAMES; i++) {
        uint32_t body = i, id = 0, back = UINT32_MAX;
        th_write_frame(fd, 100 + i, &body, sizeof(body));
        assert_int_equal(th_read_frame(fd, &id, &back, sizeof(back), 10000), sizeof(back));
        assert_int_equal(back, i);
    }
    gs_net_stats_t after = th_stats(&srv);
    assert_int_equal(after.sends - before.sends, FRAMES);
    assert_int_equal(after.gathers - before.gathers, 0);
    th_os_close(fd);
    assert_int_equal(th_server_stop(&srv, 1000), 0);
}

/* A stop does not wait out a delay: what is held goes out at once and the stop returns long
 * before the delay (a minute) would have ended, also when the loop holds its wake-up flag
 * because a foreign thread posted to it during the delay (drain_inbox). CTest's TIMEOUT catches
 * a stop that waits. */
static void test_stop_flushes_at_once(void **state) {
    (void)state;
    gs_net_config_t cfg = {.send_delay_ms = 60000};
    th_server_t srv = {0};
    th_server_start(&srv, &cfg, TH_ECHO, 0);
    int fd = th_connect(srv.port);
    gs_session_id_t first = th_server_session(&srv, 0);
    int other = th_connect(srv.port);
    gs_session_id_t second = th_server_session(&srv, 1);
    assert_true(first != second);
    for (uint32_t i = 0; i < FRAMES; i++)
        write_and_wait(&srv, fd, i);
    /* The echoes wait out the delay. A close posted from this thread wakes the loop once, which
     * then keeps wake_pending set; seeing the other client's end shows the loop got that far. */
    assert_int_equal(gs_session_disconnect(srv.net, second), 0);
    assert_int_equal(th_wait_eof(other, 10000), 0);
    uint64_t t0 = gs_now_ms();
    assert_int_equal(th_server_stop(&srv, 10000), 0); /* nothing unsent */
    assert_true(gs_now_ms() - t0 < 10000);            /* did not wait for the flush window */
    read_echoes(fd);
    assert_int_equal(th_wait_eof(fd, 10000), 0);
    th_os_close(fd);
    th_os_close(other);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replies_gathered_after_delay),
        cmocka_unit_test(test_no_delay_sends_each_at_once),
        cmocka_unit_test(test_stop_flushes_at_once),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

/* SPDX-License-Identifier: MIT */
/* docs/testing.md E10 iocp_failed_completion_paths (IOCP backend only, run under wine): each
 * outcome of GetQueuedCompletionStatus(Ex) leads to the right teardown and is counted by error.
 * - TRUE with 0 bytes: peers that shut down or close gracefully -> io_eof, close peer_close;
 * - FALSE with an OVERLAPPED, reset: peers that close with RST while a receive is pending ->
 *   io_failed (reset or aborted class), close reset;
 * - FALSE with an OVERLAPPED, cancelled: gs_session_disconnect cancels pending receives with
 *   CancelIoEx -> io_failed_by[cancelled], close local;
 * - FALSE with an OVERLAPPED on ConnectEx: a refused connect -> io_failed_by[refused],
 *   on_close(connect_failed);
 * - TRUE with bytes: the echoes -> io_completed;
 * - FALSE without an OVERLAPPED: an idle wait that times out -> port_timeouts, and no port error;
 * - a posted wake-up: disconnects from a foreign thread -> port_wakeups;
 * - the stop: the posted AcceptEx requests come back cancelled and close their sockets.
 * Every case ends with every session released, io_in_flight 0 and one completion per posted
 * operation (io_posted == io_completed + io_eof + io_failed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gs_test.h"

#include "net_harness.h"
#include "th_os.h"

#define WAIT_MS 10000u
#define N       20

static void echo_once(int fd) {
    uint8_t back[4];
    th_write_frame(fd, 1, "ping", 4);
    uint32_t mid = 0;
    assert_int_equal(th_read_frame(fd, &mid, back, sizeof(back), WAIT_MS), 4);
    assert_memory_equal(back, "ping", 4);
}

static gs_net_stats_t finish(th_server_t *srv) {
    gs_net_stop(srv->net, 0);
    gs_net_stats_t st = th_stats(srv);
    assert_int_equal(st.io_posted, st.io_completed + st.io_eof + st.io_failed);
    assert_int_equal(st.port_errors, 0);
    /* The stop cancelled the listener's posted AcceptEx requests (th_os_idle_in_flight of them):
     * each came back failed and closed its socket. */
    assert_true(st.io_failed_by[GS_IOERR_CANCELLED] >= th_os_idle_in_flight(1, 1));
    th_server_stop(srv, 0);
    printf("e10: posted %llu completed %llu eof %llu failed %llu (cancelled %llu reset %llu "
           "aborted %llu refused %llu other %llu) wakeups %llu timeouts %llu handoffs %llu\n",
           (unsigned long long)st.io_posted, (unsigned long long)st.io_completed,
           (unsigned long long)st.io_eof, (unsigned long long)st.io_failed,
           (unsigned long long)st.io_failed_by[GS_IOERR_CANCELLED],
           (unsigned long long)st.io_failed_by[GS_IOERR_RESET],
           (unsigned long long)st.io_failed_by[GS_IOERR_ABORTED],
           (unsigned long long)st.io_failed_by[GS_IOERR_REFUSED],
           (unsigned long long)st.io_failed_by[GS_IOERR_OTHER], (unsigned long long)st.port_wakeups,
           (unsigned long long)st.port_timeouts, (unsigned long long)st.port_handoffs);
    return st;
}

static void zero_byte_completions_are_peer_close(void **state) {
    (void)state;
    th_server_t srv = {0};
    th_server_start(&srv, NULL, TH_ECHO, 0);
    for (int i = 0; i < N; i++) {
        int fd = th_connect(srv.port);
        echo_once(fd);
        if (i % 2)
            assert_int_equal(th_shutdown_wr(fd), 0);
        else
            th_close(fd);
        assert_true(th_wait_count(&srv.closed, (uint64_t)i + 1, WAIT_MS));
        if (i % 2)
            th_close(fd);
    }
    gs_net_stats_t st = finish(&srv);
    assert_int_equal(st.disconnects[GS_CLOSE_PEER_CLOSE], N);
    assert_true(st.io_eof >= N); /* one 0-byte receive per session */
    assert_true(st.io_completed >= 2 * N);
}

static void reset_peers_fail_pending_receives(void **state) {
    (void)state;
    th_server_t srv = {0};
    th_server_start(&srv, NULL, TH_ECHO, 0);
    for (int i = 0; i < N; i++) {
        int fd = th_connect(srv.port);
        echo_once(fd); /* the next receive is pending now */
        th_abort(fd);
        assert_true(th_wait_count(&srv.closed, (uint64_t)i + 1, WAIT_MS));
    }
    gs_net_stats_t st = finish(&srv);
    /* A reset peer fails the pending receive; the session closes as reset, never as an
     * orderly end. */
    assert_int_equal(st.disconnects[GS_CLOSE_RESET], N);
    assert_true(st.io_failed >= N);
    assert_true(st.io_failed_by[GS_IOERR_RESET] + st.io_failed_by[GS_IOERR_ABORTED] +
                    st.io_failed_by[GS_IOERR_OTHER] >=
                N);
}

static void disconnect_cancels_pending_receives(void **state) {
    (void)state;
    th_server_t srv = {0};
    th_server_start(&srv, NULL, TH_ECHO, 0);
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = th_connect(srv.port);
        echo_once(fds[i]);
    }
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(gs_session_disconnect(srv.net, th_server_session(&srv, i)), 0);
    assert_true(th_wait_count(&srv.closed, N, WAIT_MS));
    for (int i = 0; i < N; i++) {
        assert_int_equal(th_wait_eof(fds[i], WAIT_MS), 0);
        th_close(fds[i]);
    }
    gs_net_stats_t st = finish(&srv);
    assert_int_equal(st.disconnects[GS_CLOSE_LOCAL], N);
    assert_true(st.io_failed_by[GS_IOERR_CANCELLED] >= N); /* each pending receive */
    assert_true(st.port_wakeups >= 1); /* the disconnects came from this thread */
}

static _Atomic uint64_t failed_connects;
static void on_close_count(gs_net_t *net, gs_session_id_t id, void *su, gs_close_reason_t r,
                           void *user) {
    (void)net, (void)id, (void)su, (void)user;
    if (r == GS_CLOSE_CONNECT_FAILED)
        atomic_fetch_add(&failed_connects, 1);
}

static void refused_connect_fails_connectex(void **state) {
    (void)state;
    /* A port that refuses: a listener that is closed again (its port is then free). */
    th_server_t probe = {0};
    th_server_start(&probe, NULL, TH_ECHO, 0);
    uint16_t dead_port = probe.port;
    th_server_stop(&probe, 0);

    atomic_store(&failed_connects, 0);
    gs_net_config_t cfg = {.cb.on_close = on_close_count};
    gs_net_t *net = NULL;
    assert_int_equal(gs_net_create(&net, &cfg), 0);
    assert_int_equal(gs_net_start(net), 0);
    gs_connect_config_t cc = {.host = "127.0.0.1", .port = dead_port};
    assert_int_equal(gs_net_connect(net, &cc, NULL), 0);
    assert_true(th_wait_count(&failed_connects, 1, WAIT_MS));
    gs_net_stop(net, 0);
    gs_net_stats_t st;
    gs_net_stats(net, &st);
    assert_int_equal(st.io_in_flight, 0);
    assert_int_equal(st.io_posted, st.io_completed + st.io_eof + st.io_failed);
    assert_int_equal(st.disconnects[GS_CLOSE_CONNECT_FAILED], 1);
    assert_int_equal(st.io_failed, 1);
    assert_int_equal(st.io_failed_by[GS_IOERR_REFUSED], 1);
    gs_net_destroy(net);
}

static void idle_waits_time_out_without_error(void **state) {
    (void)state;
    th_server_t srv = {0};
    gs_net_config_t cfg = {.tick_ms = 5};
    th_server_start(&srv, &cfg, TH_ECHO, 0);
    int fd = th_connect(srv.port);
    echo_once(fd);
    gs_net_stats_t st0 = th_stats(&srv);
    /* Nothing happens for a while: each wait ends at the next tick with no completion. */
    uint64_t deadline = gs_now_ms() + WAIT_MS;
    gs_net_stats_t st = st0;
    while (st.port_timeouts < st0.port_timeouts + 5 && gs_now_ms() < deadline) {
        gs_thread_yield();
        st = th_stats(&srv);
    }
    assert_true(st.port_timeouts >= st0.port_timeouts + 5);
    echo_once(fd); /* and the session still works */
    th_close(fd);
    assert_true(th_wait_count(&srv.closed, 1, WAIT_MS));
    gs_net_stats_t fin = finish(&srv);
    assert_int_equal(fin.port_errors, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(zero_byte_completions_are_peer_close),
        cmocka_unit_test(reset_peers_fail_pending_receives),
        cmocka_unit_test(disconnect_cancels_pending_receives),
        cmocka_unit_test(refused_connect_fails_connectex),
        cmocka_unit_test(idle_waits_time_out_without_error),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

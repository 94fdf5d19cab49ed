/* SPDX-License-Identifier: MIT */
/* Per-address accept limits over real sockets (docs/testing.md B17; issue "fairness under
 * abuse", item 1): clients bind their own loopback source addresses (127.0.0.2, .3, ...), so
 * that one test process is several peers. An address over addr_max_sessions is closed at accept
 * and counted while other addresses open freely; a closed session gives its place back; an
 * address that connects faster than addr_accept_rate beyond its burst is refused; a cut for
 * abuse (the net layer's protocol_error, or the application's gs_session_cut after a last reply)
 * empties its address's burst; loopback is exempt unless addr_limit_loopback. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "gs_test.h"

#include "test_io_common.h"

#define WAIT_MS  10000
#define MSG_ECHO 7u
#define MSG_CUT  99u /* TH_CUSTOM: reply, then gs_session_cut(flushed) */

/* A blocking client bound to 127.0.0.<host> (any port), connected to 127.0.0.1:port. */
static int connect_from(uint8_t host, uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(0x7f000000u | host);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* The session answers: one frame echoed back. A refused connection reads EOF or a reset. */
static int echoes(int fd) {
    uint8_t body[4] = {1, 2, 3, 4}, got[8];
    uint32_t id;
    if (th_try_write_all(fd, "\x04\0\0\0\x07\0\0\0\x01\x02\x03\x04", 12) != 0)
        return 0;
    long n = th_read_frame(fd, &id, got, sizeof got, WAIT_MS);
    return n == 4 && id == MSG_ECHO && memcmp(got, body, 4) == 0;
}

static void start(th_server_t *srv, th_mode_t mode, uint32_t max_sessions, uint32_t rate,
                  uint32_t burst, int limit_loopback) {
    gs_net_config_t cfg = {0};
    cfg.addr_max_sessions = max_sessions;
    cfg.addr_accept_rate = rate;
    cfg.addr_accept_burst = burst;
    cfg.addr_limit_loopback = limit_loopback;
    th_server_start(srv, &cfg, mode, 0);
}

static void too_many_sessions_per_address(void **state) {
    (void)state;
    th_server_t srv = {0};
    start(&srv, TH_ECHO, 3, 0, 0, 1);
    int a[3];
    for (int i = 0; i < 3; i++) {
        a[i] = connect_from(2, srv.port);
        assert_true(echoes(a[i]));
    }
    /* the fourth from 127.0.0.2 is closed at accept, before any callback */
    int over = connect_from(2, srv.port);
    assert_int_equal(th_wait_eof(over, WAIT_MS), 0);
    th_close(over);
    gs_net_stats_t st = th_stats(&srv);
    assert_int_equal(st.accept_addr_sessions, 1);
    assert_int_equal(atomic_load(&srv.opened), 3);
    /* other addresses are not affected */
    int b = connect_from(3, srv.port);
    assert_true(echoes(b));
    /* a closed session gives its place back */
    th_close(a[0]);
    assert_true(th_wait_count(&srv.closed, 1, WAIT_MS));
    a[0] = connect_from(2, srv.port);
    assert_true(echoes(a[0]));
    assert_int_equal(th_stats(&srv).accept_addr_sessions, 1);
    for (int i = 0; i < 3; i++)
        th_close(a[i]);
    th_close(b);
    th_server_stop(&srv, 1000);
}

static void loopback_exempt_unless_asked(void **state) {
    (void)state;
    th_server_t srv = {0};
    start(&srv, TH_ECHO, 1, 1, 1, 0);
    int fds[4];
    for (int i = 0; i < 4; i++) {
        fds[i] = connect_from(1, srv.port); /* 127.0.0.1: exempt */
        assert_true(echoes(fds[i]));
    }
    for (int i = 0; i < 4; i++) {
        th_close(fds[i]);
        fds[i] = connect_from(5, srv.port); /* 127.0.0.5 too: all of 127/8 is loopback */
        assert_true(echoes(fds[i]));
    }
    gs_net_stats_t st = th_stats(&srv);
    assert_int_equal(st.accept_addr_sessions + st.accept_addr_rate, 0);
    for (int i = 0; i < 4; i++)
        th_close(fds[i]);
    th_server_stop(&srv, 1000);
}

/* Rate 1/s: within one test (well under a second between the accepts that matter) the bucket
 * gains at most a fraction of a token, so a refusal is certain unless the machine stalled for a
 * second; the elapsed time is checked so that such a stall reads as what it is. */
static void accept_rate_beyond_burst(void **state) {
    (void)state;
    th_server_t srv = {0};
    start(&srv, TH_ECHO, 0, 1, 3, 1);
    uint64_t t0 = gs_now_ms();
    for (int i = 0; i < 3; i++) {
        int fd = connect_from(2, srv.port);
        assert_true(echoes(fd));
        th_close(fd);
    }
    int fd = connect_from(2, srv.port);
    assert_int_equal(th_wait_eof(fd, WAIT_MS), 0);
    th_close(fd);
    assert_true(gs_now_ms() - t0 < 1000);
    assert_int_equal(th_stats(&srv).accept_addr_rate, 1);
    /* another address has its own burst */
    fd = connect_from(3, srv.port);
    assert_true(echoes(fd));
    th_close(fd);
    th_server_stop(&srv, 1000);
}

/* A protocol_error cut (a frame longer than max_frame) empties the address's burst: the next
 * accept from it is refused though two of its three tokens were left. */
static void protocol_cut_spends_the_burst(void **state) {
    (void)state;
    th_server_t srv = {0};
    start(&srv, TH_ECHO, 0, 1, 3, 1);
    uint64_t t0 = gs_now_ms();
    int fd = connect_from(4, srv.port);
    assert_true(echoes(fd));
    th_write_all(fd, "\xff\xff\xff\x7f\x07\0\0\0", 8);
    assert_int_equal(th_wait_eof(fd, WAIT_MS), 0);
    th_close(fd);
    assert_true(th_wait_count(&srv.close_reasons[GS_CLOSE_PROTOCOL], 1, WAIT_MS));
    fd = connect_from(4, srv.port);
    assert_int_equal(th_wait_eof(fd, WAIT_MS), 0);
    th_close(fd);
    assert_true(gs_now_ms() - t0 < 1000);
    assert_int_equal(th_stats(&srv).accept_addr_rate, 1);
    th_server_stop(&srv, 1000);
}

static void cut_handler(th_server_t *srv, gs_session_id_t id, uint32_t msg_id, const uint8_t *body,
                        uint32_t len) {
    gs_buf_t *b = gs_buf_frame(msg_id, body, len);
    if (!b || gs_session_send(srv->net, id, b) != 0)
        atomic_fetch_add(&srv->send_errors, 1);
    if (b)
        gs_buf_unref(b);
    if (msg_id == MSG_CUT) {
        if (gs_session_cut(srv->net, id, 1) != 0)
            atomic_fetch_add(&srv->send_errors, 1);
        gs_buf_t *late = gs_buf_frame(msg_id, body, len);
        /* the contract of close_flushed holds for a cut: nothing after it is sent */
        if (late && gs_session_send(srv->net, id, late) == 0)
            atomic_fetch_add(&srv->send_errors, 1);
        if (late)
            gs_buf_unref(late);
    }
}

/* gs_session_cut(flushed): the last reply arrives, then the close; reason abuse; the address's
 * burst is spent. */
static void app_cut_after_reply(void **state) {
    (void)state;
    th_server_t srv = {0};
    srv.on_frame = cut_handler;
    start(&srv, TH_CUSTOM, 0, 1, 3, 1);
    uint64_t t0 = gs_now_ms();
    int fd = connect_from(6, srv.port);
    assert_true(echoes(fd));
    th_write_frame(fd, MSG_CUT, "bye", 3);
    uint8_t got[8];
    uint32_t id;
    assert_int_equal(th_read_frame(fd, &id, got, sizeof got, WAIT_MS), 3);
    assert_int_equal(id, MSG_CUT);
    assert_int_equal(th_wait_eof(fd, WAIT_MS), 0);
    th_close(fd);
    assert_true(th_wait_count(&srv.close_reasons[GS_CLOSE_ABUSE], 1, WAIT_MS));
    assert_int_equal(atomic_load(&srv.send_errors), 0);
    fd = connect_from(6, srv.port);
    assert_int_equal(th_wait_eof(fd, WAIT_MS), 0);
    th_close(fd);
    assert_true(gs_now_ms() - t0 < 1000);
    gs_net_stats_t st = th_stats(&srv);
    assert_int_equal(st.accept_addr_rate, 1);
    assert_int_equal(st.disconnects[GS_CLOSE_ABUSE], 1);
    assert_int_equal(gs_session_cut(srv.net, th_server_session(&srv, 0), 0), GS_ESTALE);
    th_server_stop(&srv, 1000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(too_many_sessions_per_address),
        cmocka_unit_test(loopback_exempt_unless_asked),
        cmocka_unit_test(accept_rate_beyond_burst),
        cmocka_unit_test(protocol_cut_spends_the_burst),
        cmocka_unit_test(app_cut_after_reply),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

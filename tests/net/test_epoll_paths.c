/* SPDX-License-Identifier: MIT */
/* The epoll backend's own paths (net/port_epoll.c), with backend = GS_NET_BACKEND_EPOLL
 * whatever GS_NET_BACKEND says:
 * - a send waiting for EPOLLOUT (a client that does not read) ended by a local disconnect and
 *   by the client's reset: every buffer released once, nothing in flight after;
 * - short writes (debug_send_max = 7) over a 1 MiB echo, verified byte for byte;
 * - cancel racing readiness: random disconnects during busy echoes on two IO threads;
 * (EMFILE: test_io_emfile, run on epoll by the epoll pass of scripts/test.sh, where the
 * listener leaves the epoll set while accepting is paused;)
 * - the read share: a session flooding the loop does not starve another one on the same loop;
 * - lent read blocks come back mid-pass: 48 sessions ready at once, each frame held and echoed
 *   as it is (no copy), with only 2 blocks pinnable, are all lent (none refused) because the
 *   pass flushes every few sessions and the echoes' completions return their slices.
 * th_server_stop asserts io_in_flight == 0, every session closed and no buffer queued. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gs_test.h"

#include "test_io_common.h"

#define WAIT_MS 10000u

static void start_epoll(th_server_t *srv, gs_net_config_t cfg, th_mode_t mode) {
    cfg.backend = GS_NET_BACKEND_EPOLL;
    th_server_start(srv, &cfg, mode, 0);
    assert_string_equal(gs_net_backend_name(srv->net), "epoll");
}

/* ---- a send blocked on EPOLLOUT, then cancelled ------------------------------------------- */

typedef struct {
    th_server_t *srv;
    uint64_t last;
    uint32_t same;
    int stuck;
} stuck_t;

/* Either the queue drained (everything went into the socket: send more), or bytes_out has
 * stopped moving for 50 polls (~50 ms) with buffers still queued: the send is waiting for
 * EPOLLOUT on a full socket (stuck). */
static int drained_or_stuck(void *arg) {
    stuck_t *k = arg;
    gs_net_stats_t st = th_stats(k->srv);
    if (st.bufs_queued == 0) {
        k->stuck = 0;
        return 1;
    }
    if (st.bytes_out != k->last) {
        k->last = st.bytes_out;
        k->same = 0;
        return 0;
    }
    k->stuck = ++k->same >= 50;
    return k->stuck;
}

#define BLOCK_ITER   20
#define BLOCK_ROUNDS 256 /* of 16 x 32000 bytes: up to 128 MB, far past any send buffer */

static void blocked_send_cancelled(void **state) {
    (void)state;
    atomic_store(&th_bufs_released, 0);
    th_server_t srv = {0};
    gs_net_config_t cfg = {.send_hard_limit = UINT32_MAX, .send_soft_limit = UINT32_MAX};
    start_epoll(&srv, cfg, TH_SINK);
    uint64_t made = 0;
    for (unsigned it = 0; it < BLOCK_ITER; it++) {
        gs_session_id_t prev = (gs_session_id_t)atomic_load(&srv.last_open_id);
        int fd = th_try_connect(srv.port, 4096); /* small window, never read */
        assert_true(fd >= 0);
        gs_session_id_t id = tio_wait_new_last_id(&srv, prev, WAIT_MS);
        assert_true(id != 0);
        /* Until the socket is full and buffers stay queued: how much it takes depends on the
         * kernel's send buffer autotuning (megabytes on loopback). */
        stuck_t k = {.srv = &srv};
        for (int r = 0; r < BLOCK_ROUNDS && !k.stuck; r++) {
            for (int j = 0; j < 16; j++) {
                gs_buf_t *b = th_counted_frame(32000);
                made++;
                assert_int_equal(gs_session_send(srv.net, id, b), 0);
                gs_buf_unref(b);
            }
            k.same = 0;
            assert_true(th_wait_until(drained_or_stuck, &k, WAIT_MS));
        }
        assert_true(k.stuck);
        /* Even iterations: the server cancels the waiting send; odd: the client resets, and the
         * EPOLLERR edge ends it with an error. */
        if (it % 2 == 0)
            assert_int_equal(gs_session_disconnect(srv.net, id), 0);
        else
            th_abort(fd);
        assert_true(th_wait_count(&srv.closed, it + 1, WAIT_MS));
        if (it % 2 == 0)
            th_close(fd);
    }
    assert_true(th_wait_count(&th_bufs_released, made, WAIT_MS));
    gs_net_stats_t st = th_stats(&srv);
    assert_int_equal(st.disconnects[GS_CLOSE_LOCAL], BLOCK_ITER / 2);
    assert_int_equal(st.disconnects[GS_CLOSE_RESET], BLOCK_ITER / 2);
    th_server_stop(&srv, 0);
    assert_int_equal(atomic_load(&th_bufs_released), made); /* once each: no more after stop */
}

/* ---- short writes ------------------------------------------------------------------------- */

typedef struct {
    th_server_t *srv;
    uint64_t bytes;
} bytes_out_wait_t;
static int bytes_out_reached(void *arg) {
    bytes_out_wait_t *w = arg;
    return th_stats(w->srv).bytes_out >= w->bytes;
}

static void short_writes_1mib_echo(void **state) {
    (void)state;
    th_server_t srv = {0};
    gs_net_config_t cfg = {.debug_send_max = 7};
    start_epoll(&srv, cfg, TH_ECHO);
    uint8_t *out;
    size_t len;
    tio_make_stream(700, 1, 3400, 0xE7011, &out, &len); /* ~1 MiB of frames */
    assert_true(len >= (1u << 20));
    uint8_t *in = malloc(len);
    assert_non_null(in);
    int fd = th_connect(srv.port);
    uint64_t rng = 0x5EED;
    assert_int_equal(tio_pump(fd, out, len, 0, &rng, in, len, 0, 256 * 1024, 60000), 0);
    assert_memory_equal(in, out, len);
    /* bytes_out is counted when the loop delivers a send's completion, which may come after
     * the client has read the bytes. */
    bytes_out_wait_t w = {&srv, len};
    assert_true(th_wait_until(bytes_out_reached, &w, WAIT_MS));
    gs_net_stats_t st = th_stats(&srv);
    printf("short writes: %zu bytes echoed, %llu sends, %llu short\n", len,
           (unsigned long long)st.sends, (unsigned long long)st.short_sends);
    assert_int_equal(st.bytes_out, len);
    assert_true(st.short_sends > len / 7 / 2);
    th_close(fd);
    assert_true(th_wait_count(&srv.closed, 1, WAIT_MS));
    th_server_stop(&srv, 0);
    free(in);
    free(out);
}

/* ---- cancel racing readiness -------------------------------------------------------------- */

#define RACE_ITER  100
#define RACE_PAIRS 2

typedef struct pump {
    int fd;
    _Atomic int stop;
} pump_t;

/* Writes bursts of frames and reads echoes until told to stop or the server cuts it. */
static void pump_main(void *arg) {
    pump_t *p = arg;
    uint8_t frame[GS_FRAME_HEADER_SIZE + 700], back[800];
    gs_frame_header_write(frame, 700, 8);
    memset(frame + GS_FRAME_HEADER_SIZE, 0x44, 700);
    uint8_t burst[4 * sizeof(frame)];
    for (int i = 0; i < 4; i++)
        memcpy(burst + i * sizeof(frame), frame, sizeof(frame));
    while (!atomic_load(&p->stop)) {
        if (th_try_write_all(p->fd, burst, sizeof(burst)) != 0)
            break;
        uint32_t mid;
        int ok = 1;
        for (int i = 0; i < 4 && ok; i++)
            ok = th_read_frame(p->fd, &mid, back, sizeof(back), WAIT_MS) == 700;
        if (!ok)
            break;
    }
}

static void cancel_vs_readiness_two_threads(void **state) {
    (void)state;
    th_server_t srv = {0};
    gs_net_config_t cfg = {.io_threads = 2};
    start_epoll(&srv, cfg, TH_ECHO);
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    unsigned opened = 0;
    for (unsigned it = 0; it < RACE_ITER; it++) {
        pump_t p[RACE_PAIRS];
        gs_session_id_t ids[RACE_PAIRS];
        gs_thread_t *t[RACE_PAIRS];
        for (int i = 0; i < RACE_PAIRS; i++) {
            gs_session_id_t prev = (gs_session_id_t)atomic_load(&srv.last_open_id);
            p[i].fd = th_connect(srv.port);
            atomic_init(&p[i].stop, 0);
            ids[i] = tio_wait_new_last_id(&srv, prev, WAIT_MS);
            assert_true(ids[i] != 0);
            opened++;
        }
        for (int i = 0; i < RACE_PAIRS; i++)
            assert_int_equal(gs_thread_start(&t[i], pump_main, &p[i], "race-pump"), 0);
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        uint64_t target = atomic_load(&srv.frames) + rng % 40;
        uint64_t deadline = gs_now_ms() + WAIT_MS;
        while (atomic_load(&srv.frames) < target && gs_now_ms() < deadline)
            gs_thread_yield();
        /* One cut from the server (a cancel racing whatever is ready), the other from the
         * client (a reset racing the echo), in a random order. */
        int first = (int)(rng >> 20) & 1;
        assert_int_equal(gs_session_disconnect(srv.net, ids[first]), 0);
        /* The client's cut: a reset once its pump is out of the socket (linger 0), the shutdown
         * first so that the pump thread's blocking read returns now. */
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(p[!first].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        shutdown(p[!first].fd, SHUT_RDWR);
        assert_true(th_wait_count(&srv.closed, opened, WAIT_MS));
        for (int i = 0; i < RACE_PAIRS; i++) {
            atomic_store(&p[i].stop, 1);
            gs_thread_join(t[i]);
            th_close(p[i].fd);
        }
    }
    gs_net_stats_t st = th_stats(&srv);
    assert_int_equal(st.disconnects[GS_CLOSE_LOCAL], RACE_ITER);
    printf("cancel vs readiness: %u sessions; local %llu reset %llu peer %llu\n", opened,
           (unsigned long long)st.disconnects[GS_CLOSE_LOCAL],
           (unsigned long long)st.disconnects[GS_CLOSE_RESET],
           (unsigned long long)st.disconnects[GS_CLOSE_PEER_CLOSE]);
    th_server_stop(&srv, 0);
}

/* ---- a flood does not starve another session ---------------------------------------------- */

#define MSG_PING  1u
#define MSG_FLOOD 2u
#define PINGS     200

static _Atomic uint64_t flood_frames;

/* Echo pings; count flood frames, each after a little work, so that the server reads the flood
 * slower than the client writes it and the flooder's socket is rarely empty. This asserts
 * progress only: on loopback the socket still runs dry now and then, so even a read "until
 * EAGAIN" lets the pings through eventually (checked by hand with recv_share_bytes =
 * UINT32_MAX: 200 pings took ~570 ms instead of ~30 ms with the 16 KiB share). */
static void ping_or_drop(th_server_t *srv, gs_session_id_t id, uint32_t msg_id, const uint8_t *body,
                         uint32_t len) {
    if (msg_id != MSG_PING) {
        for (volatile int k = 0; k < 500; k++)
            ;
        atomic_fetch_add(&flood_frames, 1);
        return;
    }
    gs_buf_t *b = gs_buf_frame(msg_id, body, len);
    if (!b || gs_session_send(srv->net, id, b) != 0)
        atomic_fetch_add(&srv->send_errors, 1);
    if (b)
        gs_buf_unref(b);
}

typedef struct flood {
    int fd;
    _Atomic int stop;
    _Atomic uint64_t written;
} flood_t;

static void flood_main(void *arg) {
    flood_t *f = arg;
    /* 64 KiB of small frames per write: the server reads it a share at a time. */
    static uint8_t chunk[64 * 1024];
    size_t flen = GS_FRAME_HEADER_SIZE + 56, n = sizeof(chunk) / flen;
    for (size_t i = 0; i < n; i++) {
        gs_frame_header_write(chunk + i * flen, 56, MSG_FLOOD);
        memset(chunk + i * flen + GS_FRAME_HEADER_SIZE, 0x66, 56);
    }
    while (!atomic_load(&f->stop)) {
        if (th_try_write_all(f->fd, chunk, n * flen) != 0)
            break;
        atomic_fetch_add(&f->written, n * flen);
    }
}

static int flooding(void *arg) { return atomic_load(&flood_frames) >= *(uint64_t *)arg; }

static void flood_does_not_starve(void **state) {
    (void)state;
    atomic_store(&flood_frames, 0);
    th_server_t srv = {0};
    srv.on_frame = ping_or_drop;
    /* One IO thread: both sessions on the same loop. A small share so that a pass is short. */
    gs_net_config_t cfg = {.io_threads = 1, .recv_share_bytes = 16 * 1024};
    start_epoll(&srv, cfg, TH_CUSTOM);
    flood_t f = {.fd = th_connect(srv.port)};
    int pinger = th_connect(srv.port);
    assert_true(th_wait_count(&srv.opened, 2, WAIT_MS));
    gs_thread_t *t = NULL;
    assert_int_equal(gs_thread_start(&t, flood_main, &f, "flood"), 0);
    uint64_t want = 20000; /* ~1.2 MiB of flood taken before the first ping */
    assert_true(th_wait_until(flooding, &want, WAIT_MS));
    uint64_t flood_before = atomic_load(&flood_frames);
    uint64_t t0 = gs_now_ms();
    for (uint32_t i = 0; i < PINGS; i++) {
        uint32_t back = 0, mid = 0;
        th_write_frame(pinger, MSG_PING, &i, sizeof(i));
        assert_int_equal(th_read_frame(pinger, &mid, &back, sizeof(back), WAIT_MS),
                         (long)sizeof(i));
        assert_int_equal(mid, MSG_PING);
        assert_int_equal(back, i);
    }
    uint64_t elapsed = gs_now_ms() - t0;
    uint64_t flood_after = atomic_load(&flood_frames);
    /* Progress on both sides: the pings were all answered while the flood was still being read
     * (not after it stopped), and the flooder never stopped being read either. */
    printf("flood: %u pings in %llu ms while %llu flood frames were read\n", PINGS,
           (unsigned long long)elapsed, (unsigned long long)(flood_after - flood_before));
    assert_true(flood_after > flood_before);
    atomic_store(&f.stop, 1);
    gs_thread_join(t); /* its writes go on being read: it sees the stop */
    th_abort(f.fd);
    th_close(pinger);
    assert_true(th_wait_count(&srv.closed, 2, WAIT_MS));
    assert_int_equal(atomic_load(&srv.send_errors), 0);
    th_server_stop(&srv, 0);
}

/* ---- lent read blocks come back within a pass ---------------------------------------------- */

#define MSG_GATE     7u  /* its handler waits until the test has written every other frame */
#define PASS_CLIENTS 48u /* ready in one pass: 48 x 1 KiB frames, 3 read blocks of 16 KiB */
#define PASS_BODY    1000u

static _Atomic int gate_entered, gate_open;
static _Atomic uint64_t pass_refused;

static void hold_and_echo(th_server_t *srv, gs_session_id_t id, uint32_t msg_id,
                          const uint8_t *body, uint32_t len) {
    if (msg_id == MSG_GATE) {
        /* Keep the loop thread here while the other sessions' frames land in their sockets, so
         * that the next epoll_wait reports them all ready together: one pass. */
        atomic_store(&gate_entered, 1);
        while (!atomic_load(&gate_open))
            gs_sleep_ms(1);
        return;
    }
    gs_buf_t *b = gs_net_frame_hold(srv->net);
    if (!b) {
        atomic_fetch_add(&pass_refused, 1);
        b = gs_buf_frame(msg_id, body, len);
    }
    if (!b || gs_session_send(srv->net, id, b) != 0)
        atomic_fetch_add(&srv->send_errors, 1);
    if (b)
        gs_buf_unref(b);
}

static int gate_reached(void *arg) {
    (void)arg;
    return atomic_load(&gate_entered);
}

static void lent_blocks_return_mid_pass(void **state) {
    (void)state;
    atomic_store(&gate_entered, 0);
    atomic_store(&gate_open, 0);
    atomic_store(&pass_refused, 0);
    th_server_t srv = {0};
    srv.on_frame = hold_and_echo;
    /* 4 read blocks of 16 KiB: at most 2 pinned by lends. The pass reads 48 KiB of frames, 3
     * blocks' worth: held to the end of the pass, the third block's frames would be refused. */
    gs_net_config_t cfg = {.io_threads = 1, .recv_buffers = 4, .recv_buffer_size = 16 * 1024};
    start_epoll(&srv, cfg, TH_CUSTOM);
    int gate = th_connect(srv.port);
    int fds[PASS_CLIENTS];
    for (unsigned i = 0; i < PASS_CLIENTS; i++)
        fds[i] = th_connect(srv.port);
    assert_true(th_wait_count(&srv.opened, PASS_CLIENTS + 1, WAIT_MS));
    th_write_frame(gate, MSG_GATE, NULL, 0);
    assert_true(th_wait_until(gate_reached, NULL, WAIT_MS));
    uint8_t body[PASS_BODY];
    for (unsigned i = 0; i < PASS_CLIENTS; i++) {
        memset(body, (int)(i + 1), sizeof(body));
        th_write_frame(fds[i], MSG_PING, body, sizeof(body));
    }
    atomic_store(&gate_open, 1);
    uint8_t back[PASS_BODY];
    for (unsigned i = 0; i < PASS_CLIENTS; i++) {
        uint32_t mid = 0;
        assert_int_equal(th_read_frame(fds[i], &mid, back, sizeof(back), WAIT_MS),
                         (long)sizeof(back));
        assert_int_equal(mid, MSG_PING);
        memset(body, (int)(i + 1), sizeof(body));
        assert_memory_equal(back, body, sizeof(body));
    }
    gs_net_stats_t st = th_stats(&srv);
    assert_int_equal(atomic_load(&pass_refused), 0);
    assert_int_equal(st.frames_hold_refused, 0);
    assert_true(st.frames_held >= PASS_CLIENTS);
    assert_int_equal(atomic_load(&srv.send_errors), 0);
    th_close(gate);
    for (unsigned i = 0; i < PASS_CLIENTS; i++)
        th_close(fds[i]);
    assert_true(th_wait_count(&srv.closed, PASS_CLIENTS + 1, WAIT_MS));
    th_server_stop(&srv, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(blocked_send_cancelled),          cmocka_unit_test(short_writes_1mib_echo),
        cmocka_unit_test(cancel_vs_readiness_two_threads), cmocka_unit_test(flood_does_not_starve),
        cmocka_unit_test(lent_blocks_return_mid_pass),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

/* SPDX-License-Identifier: MIT */
/* gs_net_frame_hold / gs_net_data_hold over real sockets on io_uring and epoll (data path v2): a
 * frame lying whole in a receive buffer is lent without a copy and keeps that buffer out of the
 * ring, intact while more traffic flows, until its last reference is dropped on another thread;
 * at most half the ring is ever lent, and receiving goes on beyond that (holds are refused, not
 * frames); a frame that spanned receives comes in the framer's buffer, lending nothing; a frame
 * whose body is whole in a receive but whose header was split before it has no contiguous copy
 * to lend, and the hold is refused. */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "gs/base.h"
#include "gs_test.h"
#include "net_harness.h"

#define RING     8u    /* provided receive buffers */
#define BUF_SIZE 4096u /* bytes each */
#define MAX_HELD 256

typedef struct {
    _Atomic int off; /* hold nothing: frames are only counted */
    _Atomic uint64_t n;
    gs_buf_t *bufs[MAX_HELD];
    _Atomic uint64_t refused;
} held_t;

static held_t held;
/* Which ring the server gets: each receive in a buffer of its own (as before Linux 6.12), or
 * buffers the kernel fills across receives (IOU_PBUF_RING_INC, where the kernel has it; an older
 * kernel runs the same tests on the first kind). Every test runs on both. */
static int incremental;

/* Linux >= 6.12 consumes a ring incrementally (IOU_PBUF_RING_INC); the backend probes for it. */
static int kernel_has_incremental(void) {
    struct utsname u;
    int major = 0, minor = 0;
    return uname(&u) == 0 && sscanf(u.release, "%d.%d", &major, &minor) == 2 &&
           major * 100 + minor >= 612;
}

static void hold_frame(th_server_t *srv, gs_session_id_t id, uint32_t msg_id, const uint8_t *body,
                       uint32_t len) {
    (void)id;
    (void)msg_id;
    (void)body;
    (void)len;
    if (atomic_load(&held.off))
        return;
    gs_buf_t *b = gs_net_frame_hold(srv->net);
    uint64_t k = atomic_load(&held.n);
    if (!b) {
        atomic_fetch_add(&held.refused, 1);
        return;
    }
    if (k < MAX_HELD) {
        held.bufs[k] = b;
        atomic_store(&held.n, k + 1);
    } else {
        gs_buf_unref(b);
    }
}

static void start(th_server_t *srv) {
    memset(&held, 0, sizeof(held));
    gs_net_config_t cfg = {0};
    cfg.recv_buffers = RING;
    cfg.recv_buffer_size = BUF_SIZE;
    cfg.disable_incremental_buffers = !incremental;
    srv->on_frame = hold_frame;
    th_server_start(srv, &cfg, TH_CUSTOM, 0);
}

static void release_all(void) {
    uint64_t n = atomic_load(&held.n);
    for (uint64_t i = 0; i < n; i++)
        gs_buf_unref(held.bufs[i]); /* the test thread: not the IO thread that lent them */
    atomic_store(&held.n, 0);
}

static int none_lent(void *arg) { return th_stats(arg).recv_bufs_lent == 0; }

typedef struct {
    th_server_t *srv;
    uint64_t bytes;
} bytes_wait_t;

static int bytes_in_reached(void *arg) {
    bytes_wait_t *w = arg;
    return th_stats(w->srv).bytes_in >= w->bytes;
}

/* A frame of msg_id 5 whose body is `len` bytes of (seed + i). */
static void make_frame(uint8_t *out, uint32_t len, uint8_t seed) {
    gs_frame_header_write(out, len, 5);
    for (uint32_t i = 0; i < len; i++)
        out[GS_FRAME_HEADER_SIZE + i] = (uint8_t)(seed + i);
}

/* io_uring and epoll lend receive buffers (epoll: its read blocks, filled across reads like an
 * incremental ring). A backend that lends none must refuse every hold of a frame that lies in a
 * receive, and lose nothing; the lending itself is then skipped, not passed. */
static int lends(th_server_t *srv, int fd) {
    if (strcmp(gs_net_backend_name(srv->net), "io_uring") == 0 ||
        strcmp(gs_net_backend_name(srv->net), "epoll") == 0)
        return 1;
    uint8_t f[GS_FRAME_HEADER_SIZE + 100];
    make_frame(f, 100, 1);
    for (int i = 0; i < 3; i++)
        th_write_all(fd, f, sizeof(f));
    assert_true(th_wait_count(&held.refused, 3, 5000));
    assert_int_equal(atomic_load(&held.n), 0);
    assert_int_equal(th_stats(srv).recv_bufs_lent, 0);
    th_close(fd);
    assert_int_equal(th_server_stop(srv, 1000), 0);
    return 0;
}

static void test_lent_until_released_elsewhere(void **state) {
    (void)state;
    th_server_t srv = {0};
    start(&srv);
    int fd = th_connect(srv.port);
    if (!lends(&srv, fd))
        gs_test_skip("this backend lends no receive buffers (holds refused, checked)");
    /* Three frames in one write: one receive, one ring buffer, three lends. */
    uint8_t three[3][GS_FRAME_HEADER_SIZE + 100];
    for (int i = 0; i < 3; i++)
        make_frame(three[i], 100, (uint8_t)(10 * i));
    th_write_all(fd, three, sizeof(three));
    assert_true(th_wait_count(&held.n, 3, 5000));
    gs_net_stats_t st = th_stats(&srv);
    assert_int_equal(st.frames_held, 3);
    assert_int_equal(st.recv_bufs_lent, 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(held.bufs[i]->len, sizeof(three[i]));
        assert_memory_equal(held.bufs[i]->data, three[i], sizeof(three[i]));
    }
    /* More traffic through the rest of the ring, released as it comes: the lent buffer is not
     * reused, so what was lent stays intact. */
    atomic_store(&held.off, 1);
    uint8_t more[GS_FRAME_HEADER_SIZE + 3000];
    for (int i = 0; i < 40; i++) {
        make_frame(more, 3000, (uint8_t)(100 + i));
        th_write_all(fd, more, sizeof(more));
    }
    assert_true(th_wait_frames_in(&srv, 43, 5000));
    for (int i = 0; i < 3; i++)
        assert_memory_equal(held.bufs[i]->data, three[i], sizeof(three[i]));
    assert_int_equal(th_stats(&srv).recv_bufs_lent, 1);
    /* Released on this thread: back to the IO thread's ring through its returns. */
    release_all();
    assert_true(th_wait_until(none_lent, &srv, 5000));
    th_close(fd);
    assert_int_equal(th_server_stop(&srv, 1000), 0);
}

/* Each frame in its own receive (the next written once the last has arrived), every one held:
 * half the ring (4 buffers) is lent, then holds are refused while frames keep arriving, on this
 * session and on another one. With buffers of their own, the first 4 frames are held; with an
 * incremental ring, the frames of the first 4 buffers (about 19 a buffer; one that straddles two
 * buffers is reassembled and held from the framer's copy). */
static void test_half_the_ring_at_most(void **state) {
    (void)state;
    th_server_t srv = {0};
    start(&srv);
    int fd = th_connect(srv.port);
    if (!lends(&srv, fd))
        gs_test_skip("this backend lends no receive buffers (holds refused, checked)");
    uint8_t f[GS_FRAME_HEADER_SIZE + 200];
    /* epoll's read blocks always fill across reads, as an incremental ring does. */
    int inc = incremental || strcmp(gs_net_backend_name(srv.net), "epoll") == 0;
    const uint64_t n = inc ? 120 : 12; /* 120 x 208 bytes: 6 buffers of 4 KiB */
    for (uint64_t i = 0; i < n; i++) {
        make_frame(f, 200, (uint8_t)i);
        th_write_all(fd, f, sizeof(f));
        assert_true(th_wait_frames_in(&srv, i + 1, 5000));
        /* Incremental where the kernel has it: three receives, three holds, one buffer. With a
         * buffer per receive they would be three. */
        if (i == 2 && inc && (incremental ? kernel_has_incremental() : 1))
            assert_int_equal(th_stats(&srv).recv_bufs_lent, 1);
    }
    gs_net_stats_t st = th_stats(&srv);
    assert_int_equal(st.recv_bufs_lent, RING / 2);
    uint64_t h = atomic_load(&held.n), r = atomic_load(&held.refused);
    assert_int_equal(h + r, n);
    assert_int_equal(st.frames_hold_refused, r);
    if (!inc)
        assert_int_equal(h, RING / 2);
    assert_true(r > 0);
    for (uint64_t i = 0; i < h; i++) { /* intact, though more came (frame k's seed is k) */
        assert_int_equal(held.bufs[i]->len, sizeof(f));
        make_frame(f, 200, held.bufs[i]->data[GS_FRAME_HEADER_SIZE]);
        assert_memory_equal(held.bufs[i]->data, f, sizeof(f));
    }
    /* Another client is still served: its frames arrive (and are refused holds too). */
    int fd2 = th_connect(srv.port);
    for (int i = 0; i < 20; i++) {
        make_frame(f, 200, (uint8_t)(50 + i));
        th_write_all(fd2, f, sizeof(f));
    }
    assert_true(th_wait_frames_in(&srv, n + 20, 5000));
    /* No ring buffer lent beyond half the ring. (A frame of these 20 writes that straddles two
     * receives may still be held: from the framer's copy, which lends nothing.) */
    assert_int_equal(th_stats(&srv).recv_bufs_lent, RING / 2);
    release_all();
    assert_true(th_wait_until(none_lent, &srv, 5000));
    th_close(fd);
    th_close(fd2);
    assert_int_equal(th_server_stop(&srv, 1000), 0);
}

/* A frame larger than a receive buffer spans receives: the hold is the framer's reassembly
 * buffer (no receive buffer lent); a frame whose header came byte by byte is refused a hold. */
static void test_span_and_split_header(void **state) {
    (void)state;
    th_server_t srv = {0};
    start(&srv);
    int fd = th_connect(srv.port);
    static uint8_t big[GS_FRAME_HEADER_SIZE + 10000];
    make_frame(big, 10000, 7);
    th_write_all(fd, big, sizeof(big));
    assert_true(th_wait_count(&held.n, 1, 5000));
    assert_int_equal(held.bufs[0]->len, sizeof(big));
    assert_memory_equal(held.bufs[0]->data, big, sizeof(big));
    assert_int_equal(th_stats(&srv).recv_bufs_lent, 0);

    uint8_t small[GS_FRAME_HEADER_SIZE + 16];
    make_frame(small, 16, 3);
    /* Seven header bytes, each written once the server has taken the one before (its own
     * receive), then the last header byte with the body: the body lies whole in that receive,
     * but its header is not in front of it there. */
    bytes_wait_t w = {&srv, sizeof(big)};
    for (unsigned i = 0; i + 1 < GS_FRAME_HEADER_SIZE; i++) {
        th_write_all(fd, small + i, 1);
        w.bytes++;
        assert_true(th_wait_until(bytes_in_reached, &w, 5000));
    }
    th_write_all(fd, small + GS_FRAME_HEADER_SIZE - 1, 1 + 16);
    assert_true(th_wait_frames_in(&srv, 2, 5000));
    assert_true(th_wait_count(&held.refused, 1, 5000));
    assert_int_equal(atomic_load(&held.n), 1);
    release_all();
    th_close(fd);
    assert_int_equal(th_server_stop(&srv, 1000), 0);
}

static int whole_buffers(void **state) {
    (void)state;
    incremental = 0;
    return 0;
}

static int incremental_ring(void **state) {
    (void)state;
    incremental = 1;
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_lent_until_released_elsewhere, whole_buffers),
        cmocka_unit_test_setup(test_half_the_ring_at_most, whole_buffers),
        cmocka_unit_test_setup(test_span_and_split_header, whole_buffers),
        cmocka_unit_test_setup(test_lent_until_released_elsewhere, incremental_ring),
        cmocka_unit_test_setup(test_half_the_ring_at_most, incremental_ring),
        cmocka_unit_test_setup(test_span_and_split_header, incremental_ring),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

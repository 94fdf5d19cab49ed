/* SPDX-License-Identifier: MIT */
/* Send-queue limits against clients that never read (docs/testing.md B03, B04).
 *
 * B03: frames are queued to a client that never reads until gs_session_send fails. The cut
 * must come at the hard limit (GS_ESENDQ, reason send_queue_hard counted once), the queue seen
 * at the cut must lie in [limit - frame, limit], the client must see the end of the stream,
 * every buffer must be released and the process must not grow while the sender keeps trying.
 * Two senders: a user thread (the test thread) and a handler on the IO thread.
 *
 * B04: a client kept above the soft limit is cut after the grace (not before it, not much
 * after it); a client kept below the limit for the same time is not cut. */
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

/* ---- B03, sender = a user thread ------------------------------------------------------------ */

typedef struct {
    gs_net_t *net;
    gs_session_id_t id;
} qwait_t;

static int queue_empty(void *arg) {
    qwait_t *w = arg;
    uint64_t q = 1;
    return gs_session_queued_bytes(w->net, w->id, &q) != 0 || q == 0;
}

static void b03_never_reader_user_thread(void **state) {
    (void)state;
    const uint32_t limit = 256 * KIB;
    const uint32_t frame = 16 * KIB; /* header included */
    gs_net_config_t cfg = {0};
    cfg.send_hard_limit = limit;
    cfg.send_soft_limit = UINT32_MAX; /* only the hard limit may cut */
    cfg.tick_ms = 50;
    lc_server_t *srv = lc_server_start(&cfg, TH_SINK);
    gs_net_t *net = srv->net;
    uint64_t created0 = lc_bufs_created();
    uint64_t rss0 = th_rss_bytes(), rss_max = rss0;
    assert_true(rss0 > 0);

    int fd = lc_connect(srv->port, 4096); /* never reads */
    gs_session_id_t id = lc_session(srv, 0);

    /* Send until refused. q_before is read just before each send by the only thread that adds
     * to the queue, so the queue at the failing check is <= q_before; the failing check saw
     * q + frame > limit. Hence a correct cut has limit - frame < q_before <= limit. */
    uint64_t q_before = 0, q_max = 0, accepted = 0;
    uint32_t seq = 0;
    int rc = 0;
    uint64_t deadline = gs_now_ms() + 10000;
    while (gs_now_ms() < deadline) {
        assert_int_equal(gs_session_queued_bytes(net, id, &q_before), 0);
        if (q_before > q_max)
            q_max = q_before;
        gs_buf_t *b = lc_buf(7, frame - GS_FRAME_HEADER_SIZE, seq);
        assert_non_null(b);
        rc = gs_session_send(net, id, b);
        gs_buf_unref(b);
        if (rc != 0)
            break;
        seq++;
        accepted++;
        /* Kernel buffers absorb a few MB at most: 64 MiB without a cut means no limit. */
        assert_true(accepted * frame < 64ull * MIB);
        /* A room's pace, not a burst: give the IO thread the chance to hand the frame to the
         * kernel (it takes microseconds while the kernel has room), so that the queue grows
         * only once the client's window and the socket buffers are full. The first frame must
         * go (a fresh connection has room for it): the scenario needs data on its way to the
         * client, whatever the scheduler does to the IO thread. */
        qwait_t w = {net, id};
        if (accepted == 1)
            assert_true(th_wait_until(queue_empty, &w, LC_WAIT_MS));
        else
            (void)th_wait_until(queue_empty, &w, 5);
        if ((accepted & 15) == 0) {
            uint64_t r = th_rss_bytes();
            if (r > rss_max)
                rss_max = r;
        }
    }
    assert_int_equal(rc, GS_ESENDQ);
    print_message("B03 user thread: %llu frames accepted, queue at cut %llu (limit %u, frame "
                  "%u), max queue seen %llu\n",
                  (unsigned long long)accepted, (unsigned long long)q_before, limit, frame,
                  (unsigned long long)q_max);
    assert_true(q_before > limit - frame);
    assert_true(q_before <= limit);
    assert_true(q_max <= limit);

    /* The sender keeps trying (one broadcast buffer, as a room would send): every send now
     * fails without queueing, and once the id is stale it stays stale. Memory stays bounded
     * meanwhile. (Fresh buffers per attempt would measure the allocator: under ASan freed
     * blocks sit in quarantine and RSS grows by the bytes allocated.) */
    int stale_seen = 0;
    gs_buf_t *bcast = lc_buf(7, frame - GS_FRAME_HEADER_SIZE, seq);
    assert_non_null(bcast);
    for (int i = 0; i < 2000; i++) {
        rc = gs_session_send(net, id, bcast);
        if (rc == GS_ESTALE)
            stale_seen = 1;
        else if (rc != GS_ECLOSING || stale_seen)
            fail_msg("send #%d after the cut returned %s", i, gs_err_name(rc));
        if ((i & 63) == 0) {
            uint64_t r = th_rss_bytes();
            if (r > rss_max)
                rss_max = r;
        }
    }
    /* Every failed send released the reference it took: ours is the last one. */
    assert_int_equal(atomic_load(&bcast->refs), 1);
    gs_buf_unref(bcast);

    /* Cut once, for the right reason; the client sees the end of the stream after what the
     * kernel had taken, and that prefix is intact. */
    assert_true(lc_wait_closed(srv, 1, LC_WAIT_MS));
    lc_stream_t st;
    lc_stream_init(&st, 0);
    int end = lc_read_stream(fd, &st, 0, 0, 0, LC_WAIT_MS);
    assert_true(end == 0 || end == 1);
    assert_false(st.bad);
    assert_true(st.frames <= accepted);
    /* The kernel had taken frames before the queue grew: the client really stopped reading
     * with data on its way, and the queue (not a burst) hit the limit. */
    assert_true(st.frames > 0);
    assert_true(accepted * frame > limit);
    th_close(fd);
    print_message("B03 user thread: client drained %llu bytes (%llu whole frames) then %s; RSS "
                  "%llu -> max %llu KiB\n",
                  (unsigned long long)st.bytes, (unsigned long long)st.frames,
                  end == 0 ? "EOF" : "reset", (unsigned long long)(rss0 / KIB),
                  (unsigned long long)(rss_max / KIB));
    lc_stream_fini(&st);

    gs_net_stats_t s = lc_stats(srv);
    assert_int_equal(atomic_load(&srv->close_reasons[GS_CLOSE_SEND_QUEUE_HARD]), 1);
    assert_int_equal(s.disconnects[GS_CLOSE_SEND_QUEUE_HARD], 1);
    assert_int_equal(atomic_load(&srv->closed), 1);
    assert_int_equal(s.bufs_queued, 0);
    assert_int_equal(s.bytes_queued, 0);
    assert_true(lc_wait_bufs_released(LC_WAIT_MS));
    assert_int_equal(lc_bufs_double_released(), 0);
    assert_true(lc_bufs_created() - created0 == accepted + 2);
    assert_true(rss_max < rss0 + 32ull * MIB);

    assert_int_equal(lc_server_stop(srv, 0), 0);
    lc_server_free(srv);
}

/* ---- B03, sender = a handler on the IO thread --------------------------------------------- */

/* Every frame the client sends makes the handler queue a burst of 16 KiB frames; between
 * bursts the IO thread flushes what the kernel takes. On the IO thread no send completes and
 * nothing is released while the handler runs, so the queue it reads is exact. */
typedef struct {
    uint32_t limit, frame, burst;
    uint32_t seq;
    uint64_t accepted;
    int cut_rc;      /* the failing send's result */
    uint64_t cut_q;  /* queued bytes right after the failing send */
    uint64_t q_max;  /* largest queue seen after a successful send */
    int after_rc;    /* a send after the cut, from the same handler call */
    int errors;      /* unexpected results */
    _Atomic int cut; /* set last */
} burst_state_t;

static void burst_on_frame(lc_server_t *srv, gs_session_id_t id, void *su, uint32_t msg_id,
                           const uint8_t *body, uint32_t len) {
    (void)su;
    (void)msg_id;
    (void)body;
    (void)len;
    burst_state_t *b = srv->user;
    if (atomic_load(&b->cut))
        return;
    for (uint32_t i = 0; i < b->burst; i++) {
        gs_buf_t *buf = lc_buf(7, b->frame - GS_FRAME_HEADER_SIZE, b->seq);
        if (!buf) {
            b->errors++;
            return;
        }
        int rc = gs_session_send(srv->net, id, buf);
        gs_buf_unref(buf);
        uint64_t q = 0;
        int qrc = gs_session_queued_bytes(srv->net, id, &q);
        if (rc == 0) {
            b->seq++;
            b->accepted++;
            if (qrc != 0)
                b->errors++;
            if (q > b->q_max)
                b->q_max = q;
            continue;
        }
        b->cut_rc = rc;
        b->cut_q = qrc == 0 ? q : UINT64_MAX;
        buf = lc_buf(7, 16, 0);
        b->after_rc = gs_session_send(srv->net, id, buf);
        gs_buf_unref(buf);
        atomic_store(&b->cut, 1);
        return;
    }
}

static int burst_cut(void *arg) { return atomic_load(&((burst_state_t *)arg)->cut); }

typedef struct {
    lc_server_t *srv;
    burst_state_t *b;
    uint64_t pokes;
} poke_wait_t;

/* The server has taken every poke so far, or has cut the session (later pokes are dropped). */
static int poke_taken(void *arg) {
    poke_wait_t *w = arg;
    return atomic_load(&w->b->cut) || lc_stats(w->srv).frames_in >= w->pokes;
}

static void b03_never_reader_handler(void **state) {
    (void)state;
    burst_state_t b = {.limit = 250000, .frame = 16 * KIB, .burst = 4};
    gs_net_config_t cfg = {0};
    cfg.send_hard_limit = b.limit; /* not a multiple of the frame */
    cfg.send_soft_limit = UINT32_MAX;
    /* The pokes must reach the handler however full the queue is: without this, receive
     * backpressure (test_recv_fair) would hold them back before the limit is reached. */
    cfg.recv_pause_bytes = UINT32_MAX;
    lc_server_t *srv = lc_server_create(&cfg, TH_CUSTOM);
    srv->user = &b;
    srv->on_frame = burst_on_frame;
    lc_server_begin(srv);
    uint64_t rss0 = th_rss_bytes(), rss_max = rss0;

    int fd = lc_connect(srv->port, 4096); /* writes, never reads */
    (void)lc_session(srv, 0);
    uint8_t poke[GS_FRAME_HEADER_SIZE];
    gs_frame_header_write(poke, 0, 1);
    uint64_t deadline = gs_now_ms() + 10000;
    int pokes = 0;
    while (!atomic_load(&b.cut) && gs_now_ms() < deadline) {
        /* The server may cut the connection between pokes. */
        if (lc_write_all(fd, poke, sizeof(poke)) != 0)
            break;
        pokes++;
        /* One poke per receive batch: the IO thread flushes each burst (and the kernel takes
         * what it has room for) before the next handler call. Pokes that piled up while the IO
         * thread was off the CPU would run their bursts back to back, the queue would reach
         * the limit with nothing sent, and the scenario would not be the one under test. */
        poke_wait_t pw = {srv, &b, (uint64_t)pokes};
        assert_true(th_wait_until(poke_taken, &pw, LC_WAIT_MS));
        uint64_t r = th_rss_bytes();
        if (r > rss_max)
            rss_max = r;
    }
    /* The handler closes the session before it records the cut: wait for the record. */
    assert_true(th_wait_until(burst_cut, &b, LC_WAIT_MS));
    print_message("B03 handler: %d pokes, %llu frames accepted, queue at cut %llu (limit %u, "
                  "frame %u)\n",
                  pokes, (unsigned long long)b.accepted, (unsigned long long)b.cut_q, b.limit,
                  b.frame);
    assert_int_equal(b.errors, 0);
    assert_int_equal(b.cut_rc, GS_ESENDQ);
    assert_true(b.cut_q != UINT64_MAX);
    assert_true(b.cut_q > b.limit - b.frame);
    assert_true(b.cut_q <= b.limit);
    assert_true(b.q_max <= b.limit);
    assert_int_equal(b.after_rc, GS_ECLOSING);
    /* More than the queue limit was accepted: the kernel took its share before the cut. */
    assert_true(b.accepted * b.frame > b.limit);

    assert_true(lc_wait_closed(srv, 1, LC_WAIT_MS));
    int end = lc_drain_to_eof(fd, LC_WAIT_MS, NULL);
    assert_true(end == 0 || end == 1);
    th_close(fd);
    gs_net_stats_t s = lc_stats(srv);
    assert_int_equal(s.disconnects[GS_CLOSE_SEND_QUEUE_HARD], 1);
    assert_int_equal(atomic_load(&srv->closed), 1);
    assert_int_equal(s.bufs_queued, 0);
    assert_true(lc_wait_bufs_released(LC_WAIT_MS));
    assert_int_equal(lc_bufs_double_released(), 0);
    assert_true(rss_max < rss0 + 32ull * MIB);
    assert_int_equal(lc_server_stop(srv, 0), 0);
    lc_server_free(srv);
}

/* ---- B04 ------------------------------------------------------------------------------------ */

typedef struct {
    lc_server_t *srv;
    gs_session_id_t id;
    uint64_t limit;
    int above; /* 1: queue must stay above limit; 0: at or below */
} qcheck_t;

static uint64_t queued(lc_server_t *srv, gs_session_id_t id, int *alive) {
    uint64_t q = 0;
    *alive = gs_session_queued_bytes(srv->net, id, &q) == 0;
    return q;
}

typedef struct {
    lc_server_t *srv;
    gs_session_id_t id;
    uint64_t short_sends; /* the server's count before this frame */
} drain_wait_t;

/* The frame left (the queue is empty), or the kernel took only part of a send: full. */
static int drained_or_full(void *arg) {
    drain_wait_t *w = arg;
    int alive;
    return queued(w->srv, w->id, &alive) == 0 || !alive ||
           lc_stats(w->srv).short_sends > w->short_sends;
}

/* Queue frames of frame bytes to a client that never reads until the kernel stops taking
 * them, then top the queue up to at most target bytes. Returns the queue reached. The kernel
 * is full when a send goes out short (it took part of a send and keeps the rest waiting), or
 * when a frame stays queued for LC_WAIT_MS (no room at all); a kernel with room takes a frame
 * in microseconds. No shorter wait decides: an IO thread off the CPU for a while must not
 * pass for a full kernel. */
static uint64_t fill_to(lc_server_t *srv, gs_session_id_t id, uint32_t frame, uint64_t target,
                        uint32_t *seq) {
    int alive;
    int stalled = 0;
    for (int i = 0; i < 4096 && !stalled; i++) {
        drain_wait_t w = {srv, id, lc_stats(srv).short_sends};
        gs_buf_t *b = lc_buf(7, frame - GS_FRAME_HEADER_SIZE, (*seq)++);
        assert_int_equal(gs_session_send(srv->net, id, b), 0);
        gs_buf_unref(b);
        (void)th_wait_until(drained_or_full, &w, LC_WAIT_MS);
        stalled = queued(srv, id, &alive) != 0;
        assert_true(alive);
    }
    assert_true(stalled);
    while (queued(srv, id, &alive) + frame <= target) {
        gs_buf_t *b = lc_buf(7, frame - GS_FRAME_HEADER_SIZE, (*seq)++);
        assert_int_equal(gs_session_send(srv->net, id, b), 0);
        gs_buf_unref(b);
    }
    /* Nothing moves any more (checked over 100 ms): the queue level is what the test set. */
    uint64_t q0 = queued(srv, id, &alive);
    uint64_t until = gs_now_ms() + 100;
    while (gs_now_ms() < until) {
        assert_int_equal(queued(srv, id, &alive), q0);
        gs_sleep_ms(1);
    }
    return q0;
}

static void b04_soft_limit_timing(void **state) {
    (void)state;
    /* fill_to needs a queue level that settles once the kernel is full: on IOCP a pending
     * WSASend holds its whole gather and completes later in one step, so the level the test
     * sets does not hold still. The soft limit itself is backend-neutral (the tick). */
    if (!th_os_sends_complete_short())
        gs_test_skip("B04 needs sends that complete short (io_uring); IOCP completes whole");
    const uint32_t soft = 64 * KIB, grace = 500, tick = 50, frame = 4 * KIB;
    /* Upper bound: the first tick after the queue crossed the limit starts the grace (up to
     * one tick later), the first tick at or after its end cuts (ticks are tick_ms apart, plus
     * drift of a ms or so per tick), then the close completes (cancel, release, on_close).
     * 2 ticks plus 150 ms of scheduling slack on a loaded 2-CPU machine under ASan. */
    const double upper = grace + 2.0 * tick + 150.0;
    gs_net_config_t cfg = {0};
    cfg.send_soft_limit = soft;
    cfg.send_soft_grace_ms = grace;
    cfg.tick_ms = tick;
    cfg.send_hard_limit = 64 * MIB;
    lc_server_t *srv = lc_server_start(&cfg, TH_SINK);

    int fd1 = lc_connect(srv->port, 4096); /* kept above the soft limit */
    gs_session_id_t id1 = lc_session(srv, 0);
    int fd2 = lc_connect(srv->port, 4096); /* kept below it */
    gs_session_id_t id2 = lc_session(srv, 1);
    uint32_t seq1 = 0, seq2 = 0;
    uint64_t q1 = fill_to(srv, id1, frame, soft - 2 * frame, &seq1);
    uint64_t q2 = fill_to(srv, id2, frame, soft - 4 * frame, &seq2);
    assert_true(q1 <= soft && q2 <= soft);

    /* Cross the limit: t0 is taken before the send, so it is no later than the moment the
     * queue passed the limit. */
    uint64_t t0 = gs_now_ns();
    gs_buf_t *b = lc_buf(7, 4 * frame - GS_FRAME_HEADER_SIZE, seq1++);
    assert_int_equal(gs_session_send(srv->net, id1, b), 0);
    gs_buf_unref(b);

    /* Watch both queues until client 1 is cut and for twice the grace in all: client 1 must
     * stay above the limit while it lives (else the scenario is void), client 2 at or below. */
    int alive1 = 1, alive2 = 1;
    uint64_t end_ns = t0 + (uint64_t)(2 * grace) * 1000000u;
    while (gs_now_ns() < end_ns) {
        uint64_t a = queued(srv, id1, &alive1);
        if (alive1 && a <= soft)
            fail_msg("client 1's queue fell to %llu, not above the soft limit",
                     (unsigned long long)a);
        uint64_t c = queued(srv, id2, &alive2);
        assert_true(alive2);
        assert_true(c <= soft && c > 0);
        gs_sleep_ms(1);
    }
    assert_true(lc_wait_closed(srv, 1, LC_WAIT_MS));
    lc_rec_t *r1 = lc_find(srv, id1), *r2 = lc_find(srv, id2);
    assert_non_null(r1);
    assert_non_null(r2);
    assert_int_equal(atomic_load(&r1->closes), 1);
    assert_int_equal(atomic_load(&r1->reason), GS_CLOSE_SEND_QUEUE_SOFT);
    double cut_ms = lc_ms(t0, atomic_load(&r1->close_ns));
    print_message("B04: client above the soft limit cut after %.1f ms (grace %u, tick %u, "
                  "asserted [%u, %.0f])\n",
                  cut_ms, grace, tick, grace, upper);
    assert_true(cut_ms >= grace);
    assert_true(cut_ms <= upper);
    /* Client 2 stayed open for the whole time and only client 1 was cut. */
    assert_int_equal(atomic_load(&r2->closes), 0);
    gs_net_stats_t s = lc_stats(srv);
    assert_int_equal(s.disconnects[GS_CLOSE_SEND_QUEUE_SOFT], 1);
    assert_int_equal(atomic_load(&srv->closed), 1);

    int end = lc_drain_to_eof(fd1, LC_WAIT_MS, NULL);
    assert_true(end == 0 || end == 1);
    th_close(fd1);
    /* Client 2 is closed by the stop (no flush): its queued frames are reported unsent. */
    uint64_t unsent = lc_server_stop(srv, 0);
    assert_true(unsent > 0);
    assert_int_equal(lc_stats(srv).disconnects[GS_CLOSE_SHUTDOWN], 1);
    th_close(fd2);
    assert_true(lc_wait_bufs_released(LC_WAIT_MS));
    lc_server_free(srv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(b03_never_reader_user_thread),
        cmocka_unit_test(b03_never_reader_handler),
        cmocka_unit_test(b04_soft_limit_timing),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

/* SPDX-License-Identifier: MIT */
/* D01 pingpong_exact over real sockets: N client threads, each doing round trips of frames that
 * carry (client id, sequence number, checksum). Every reply must be the exact frame just sent:
 * 0 lost (a reply never comes: deadline), 0 reordered or duplicated (sequence mismatch), 0
 * corrupted (checksum and full body comparison). Variants: frames written one byte per send(),
 * and the fallback receive path without provided buffers. RTT p50/p99/max are printed. */
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

#define WAIT_MS     10000
#define PP_MAX_BODY 96

typedef struct {
    int fd;
    uint32_t cid;
    uint32_t rounds;
    int bytewise;
    uint64_t *rtt_ns;
    /* results, read by the test thread after join */
    uint32_t done, lost, reordered, corrupted, write_failed;
} pp_client_t;

static uint32_t checksum(const uint8_t *p, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* Body: cid u32, seq u32, payload (seq-dependent length and bytes), checksum u32 of the rest. */
static uint32_t pp_body(uint8_t *body, uint32_t cid, uint32_t seq) {
    uint32_t payload = (seq * 7 + cid) % (PP_MAX_BODY - 12 + 1);
    tio_put32(body, cid);
    tio_put32(body + 4, seq);
    for (uint32_t i = 0; i < payload; i++)
        body[8 + i] = (uint8_t)(cid * 31 + seq * 17 + i);
    tio_put32(body + 8 + payload, checksum(body, 8 + payload));
    return 12 + payload;
}

static void pp_main(void *arg) {
    pp_client_t *c = arg;
    uint8_t frame[GS_FRAME_HEADER_SIZE + PP_MAX_BODY], body[PP_MAX_BODY], back[PP_MAX_BODY];
    for (uint32_t seq = 0; seq < c->rounds; seq++) {
        uint32_t blen = pp_body(body, c->cid, seq);
        size_t flen = tio_frame_put(frame, 100 + c->cid, body, blen);
        uint64_t t0 = gs_now_ns();
        int rc = c->bytewise ? tio_write_bytewise(c->fd, frame, flen)
                             : tio_write_all(c->fd, frame, flen);
        if (rc != 0) {
            c->write_failed++;
            return;
        }
        uint32_t mid = 0;
        long got = th_read_frame(c->fd, &mid, back, sizeof(back), WAIT_MS);
        if (got < 12) {
            c->lost++; /* no reply before the deadline (or a broken one): stop here */
            return;
        }
        c->rtt_ns[seq] = gs_now_ns() - t0;
        uint32_t rseq = tio_get32(back + 4);
        if (tio_get32(back) != c->cid || mid != 100 + c->cid ||
            tio_get32(back + got - 4) != checksum(back, (size_t)got - 4)) {
            c->corrupted++;
            return;
        }
        if (rseq != seq) {
            c->reordered++; /* a duplicate or an older / newer frame */
            return;
        }
        if ((uint32_t)got != blen || memcmp(back, body, blen) != 0) {
            c->corrupted++;
            return;
        }
        c->done++;
    }
}

static void run_pingpong(const char *name, const gs_net_config_t *cfg, uint32_t nclients,
                         uint32_t rounds, int bytewise) {
    th_server_t srv = {0};
    th_server_start(&srv, cfg, TH_ECHO, 0);
    pp_client_t *cl = calloc(nclients, sizeof(*cl));
    gs_thread_t **th = calloc(nclients, sizeof(*th));
    uint64_t *rtt = calloc((size_t)nclients * rounds, sizeof(uint64_t));
    assert_non_null(cl);
    assert_non_null(th);
    assert_non_null(rtt);
    for (uint32_t i = 0; i < nclients; i++) {
        cl[i].fd = th_connect(srv.port);
        cl[i].cid = i;
        cl[i].rounds = rounds;
        cl[i].bytewise = bytewise;
        cl[i].rtt_ns = rtt + (size_t)i * rounds;
    }
    uint64_t t0 = gs_now_ms();
    for (uint32_t i = 0; i < nclients; i++)
        assert_int_equal(gs_thread_start(&th[i], pp_main, &cl[i], "pp-client"), 0);
    for (uint32_t i = 0; i < nclients; i++)
        gs_thread_join(th[i]);
    uint64_t elapsed = gs_now_ms() - t0;

    uint64_t done = 0, lost = 0, reordered = 0, corrupted = 0, wfail = 0;
    for (uint32_t i = 0; i < nclients; i++) {
        done += cl[i].done;
        lost += cl[i].lost;
        reordered += cl[i].reordered;
        corrupted += cl[i].corrupted;
        wfail += cl[i].write_failed;
    }
    printf("%s: %u clients x %u round trips in %llu ms: done %llu lost %llu reordered/dup %llu "
           "corrupted %llu write_failed %llu\n",
           name, nclients, rounds, (unsigned long long)elapsed, (unsigned long long)done,
           (unsigned long long)lost, (unsigned long long)reordered, (unsigned long long)corrupted,
           (unsigned long long)wfail);
    tio_report_latency(name, rtt, done == (uint64_t)nclients * rounds ? done : 0);
    assert_int_equal(lost, 0);
    assert_int_equal(reordered, 0);
    assert_int_equal(corrupted, 0);
    assert_int_equal(wfail, 0);
    assert_int_equal(done, (uint64_t)nclients * rounds);

    /* The server's view agrees: every frame in once and out once, nothing left queued. */
    assert_true(th_wait_frames_out(&srv, done, WAIT_MS));
    gs_net_stats_t st = th_stats(&srv);
    assert_int_equal(st.frames_in, done);
    assert_int_equal(st.frames_out, done);
    assert_int_equal(st.bytes_in, st.bytes_out);
    assert_int_equal(st.sessions_open, nclients);
    assert_int_equal(atomic_load(&srv.send_errors), 0);
    assert_int_equal(st.disconnects[GS_CLOSE_PROTOCOL] + st.disconnects[GS_CLOSE_RESET], 0);

    for (uint32_t i = 0; i < nclients; i++)
        th_close(cl[i].fd);
    th_server_stop(&srv, 1000);
    free(rtt);
    free(th);
    free(cl);
}

static void d01_pingpong_exact(void **state) {
    (void)state;
    run_pingpong("d01", NULL, 20, 1000, 0);
}

static void d01_pingpong_bytewise(void **state) {
    (void)state;
    run_pingpong("d01 bytewise", NULL, 10, 200, 1);
}

/* Fallback receive path: one malloc'd receive buffer per session, single-shot receives. */
static void d01_pingpong_no_provided_buffers(void **state) {
    (void)state;
    gs_net_config_t cfg = {.disable_provided_buffers = 1};
    run_pingpong("d01 fallback", &cfg, 5, 300, 0);
    cfg.recv_buffer_size = 16; /* smaller than most frames: bodies span receives */
    run_pingpong("d01 fallback 16B", &cfg, 4, 100, 0);
    run_pingpong("d01 fallback bytewise", &cfg, 2, 50, 1);
}

int main(void) {
    gs_log_set_level(GS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(d01_pingpong_exact),
        cmocka_unit_test(d01_pingpong_bytewise),
        cmocka_unit_test(d01_pingpong_no_provided_buffers),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

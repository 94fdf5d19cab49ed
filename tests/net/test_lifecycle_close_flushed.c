/* SPDX-License-Identifier: MIT */
/* gs_session_close_flushed: a last reply before a cut. What was queued arrives complete and in
 * order, then an orderly end; frames the client sends meanwhile are dropped; a client that
 * never reads is closed at the deadline anyway; the close reason is local; a stale id fails.
 * Sends after the call are refused, and an outgoing session still connecting closes once it has
 * opened and flushed (issue 11, item 3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gs_test.h"

#include "test_lifecycle_common.h"

typedef struct {
    uint32_t frames, body;
    _Atomic int rc;
    _Atomic int after_rc; /* a send after close_flushed */
} last_words_t;

/* On the client's first frame: queue the frames, then ask for the close. Later frames must
 * never arrive here (the test counts them). */
static void on_frame(lc_server_t *srv, gs_session_id_t id, void *su, uint32_t msg_id,
                     const uint8_t *body, uint32_t len) {
    (void)su;
    (void)body;
    (void)len;
    last_words_t *w = srv->user;
    if (msg_id != 1)
        return;
    for (uint32_t i = 0; i < w->frames; i++) {
        gs_buf_t *b = lc_buf(9, w->body, i);
        assert_non_null(b);
        gs_session_send(srv->net, id, b);
        gs_buf_unref(b);
    }
    atomic_store(&w->rc, gs_session_close_flushed(srv->net, id) == 0 ? 1 : -1);
    gs_buf_t *late = lc_buf(9, w->body, w->frames);
    assert_non_null(late);
    atomic_store(&w->after_rc, gs_session_send(srv->net, id, late));
    gs_buf_unref(late);
}

static void run(uint32_t frames, uint32_t body) {
    last_words_t w = {.frames = frames, .body = body};
    lc_server_t *srv = lc_server_create(NULL, TH_CUSTOM);
    srv->on_frame = on_frame;
    srv->user = &w;
    lc_server_begin(srv);
    int fd = lc_connect(srv->port, 0);
    /* The request and 50 frames after it in one write, so that they arrive together: the ones
     * after the request must be dropped, never delivered. (Written separately, later ones could
     * meet the closed socket.) */
    uint8_t batch[51][GS_FRAME_HEADER_SIZE];
    for (int i = 0; i < 51; i++)
        gs_frame_header_write(batch[i], 0, i == 0 ? 1 : 2);
    assert_int_equal(lc_write_all(fd, batch, sizeof(batch)), 0);
    lc_stream_t st;
    lc_stream_init(&st, 0);
    assert_int_equal(lc_read_stream(fd, &st, UINT64_MAX, 0, 0, LC_WAIT_MS), 0); /* orderly end */
    assert_false(st.bad);
    assert_int_equal(st.frames, frames);
    assert_true(lc_stream_aligned(&st));
    lc_stream_fini(&st);
    assert_int_equal(atomic_load(&w.rc), 1);
    assert_int_equal(atomic_load(&w.after_rc), GS_ECLOSING); /* and it never arrived (frames) */
    assert_true(lc_wait_closed(srv, 1, LC_WAIT_MS));
    lc_rec_t *r = lc_find(srv, lc_session(srv, 0));
    assert_int_equal(atomic_load(&r->reason), GS_CLOSE_LOCAL);
    /* Not even frames in the same read as the request got through. */
    assert_int_equal(atomic_load(&r->frames), 1);
    th_close(fd);
    lc_server_stop(srv, 0);
    lc_server_free(srv);
}

static void test_small_reply_then_close(void **state) {
    (void)state;
    run(3, 100);
}

static void test_large_queue_then_close(void **state) {
    (void)state;
    run(100, 8000); /* 800 KB (under the hard limit): still queued when the request comes */
}

/* A client that never reads: the session closes at the deadline (2 s), not never. */
static void test_non_reader_closed_at_deadline(void **state) {
    (void)state;
    last_words_t w = {.frames = 100, .body = 60000};
    gs_net_config_t cfg = {.send_hard_limit = UINT32_MAX, .send_soft_limit = UINT32_MAX};
    lc_server_t *srv = lc_server_create(&cfg, TH_CUSTOM);
    srv->on_frame = on_frame;
    srv->user = &w;
    lc_server_begin(srv);
    int fd = lc_connect(srv->port, 4096);
    uint8_t hdr[GS_FRAME_HEADER_SIZE];
    gs_frame_header_write(hdr, 0, 1);
    assert_int_equal(lc_write_all(fd, hdr, sizeof(hdr)), 0);
    uint64_t t0 = gs_now_ms();
    assert_true(lc_wait_closed(srv, 1, 10000));
    uint64_t waited = gs_now_ms() - t0;
    assert_true(waited >= 1500); /* it did wait for the peer */
    lc_rec_t *r = lc_find(srv, lc_session(srv, 0));
    assert_int_equal(atomic_load(&r->reason), GS_CLOSE_LOCAL);
    th_close(fd);
    lc_server_stop(srv, 0);
    lc_server_free(srv);
    assert_true(lc_wait_bufs_released(LC_WAIT_MS));
}

static void test_stale_id(void **state) {
    (void)state;
    lc_server_t *srv = lc_server_start(NULL, TH_SINK);
    assert_int_equal(gs_session_close_flushed(srv->net, (gs_session_id_t)7 << 32 | 3), GS_ESTALE);
    lc_server_stop(srv, 0);
    lc_server_free(srv);
}

/* An outgoing session asked to close once flushed before its connect completed (the request and
 * the connect reach the IO thread in the same inbox pass): it opens, sends what was queued
 * before the call, and closes (LOCAL). A send after the call is refused. It used to stay open. */
static void test_while_connecting(void **state) {
    (void)state;
    lc_server_t *srv = lc_server_start(NULL, TH_SINK);
    lc_server_t *cli = lc_server_start(NULL, TH_SINK);
    gs_session_id_t id = GS_SESSION_NONE;
    gs_connect_config_t cc = {.host = "127.0.0.1", .port = srv->port};
    assert_int_equal(gs_net_connect(cli->net, &cc, &id), 0);
    gs_buf_t *b = lc_buf(4, 16, 0);
    assert_int_equal(gs_session_send(cli->net, id, b), 0);
    assert_int_equal(gs_session_close_flushed(cli->net, id), 0);
    assert_int_equal(gs_session_send(cli->net, id, b), GS_ECLOSING);
    gs_buf_unref(b);
    assert_true(lc_wait_closed(cli, 1, LC_WAIT_MS));
    lc_rec_t *r = lc_find(cli, id);
    assert_non_null(r);
    assert_int_equal(atomic_load(&r->opens), 1);
    assert_int_equal(atomic_load(&r->reason), GS_CLOSE_LOCAL);
    assert_true(th_wait_count(&srv->frames, 1, LC_WAIT_MS)); /* the frame queued before the call */
    assert_true(lc_wait_closed(srv, 1, LC_WAIT_MS));
    assert_int_equal(atomic_load(&srv->frames), 1);
    lc_server_stop(cli, 0);
    lc_server_free(cli);
    lc_server_stop(srv, 0);
    lc_server_free(srv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_reply_then_close),
        cmocka_unit_test(test_large_queue_then_close),
        cmocka_unit_test(test_non_reader_closed_at_deadline),
        cmocka_unit_test(test_stale_id),
        cmocka_unit_test(test_while_connecting),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

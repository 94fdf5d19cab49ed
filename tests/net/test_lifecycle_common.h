/* SPDX-License-Identifier: MIT */
/* Helpers shared by the lifecycle tests (test_lifecycle_*.c, docs/testing.md B and C): a server on
 * 127.0.0.1 whose callbacks check the callback contract per session (on_open before any frame,
 * on_close exactly once, nothing after it, the id already stale inside on_close) and record
 * when each session opened and closed and why; send buffers whose releases are counted; client
 * sockets with a chosen receive buffer, resets and end-of-stream checks with deadlines.
 * Assertions run on the test thread only: callbacks and helper threads record into atomics. */
#ifndef GS_TEST_LIFECYCLE_COMMON_H
#define GS_TEST_LIFECYCLE_COMMON_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "net_harness.h"

#define LC_MAX_SESSIONS 1024u  /* max_sessions of every lc server (slot index bound) */
#define LC_MAX_RECORDS  16384u /* sessions recorded per server */
#define LC_WAIT_MS      5000u  /* default deadline of a wait that must succeed */

typedef struct lc_server lc_server_t;

/* One session seen by the server (also a failed outgoing connect, with opens == 0). */
typedef struct lc_rec {
    _Atomic uint64_t id;
    _Atomic uint64_t open_ns, close_ns; /* gs_now_ns() inside on_open / on_close */
    _Atomic uint32_t opens, closes, reason;
    _Atomic uint64_t frames;
    _Atomic(void *) session_user; /* as passed to on_close */
} lc_rec_t;

/* Hooks run on the IO thread after the server's own bookkeeping (on_close: before it marks the
 * record closed, so a hook may inspect the record). Any may be NULL. */
typedef void (*lc_open_cb)(lc_server_t *srv, gs_session_id_t id, void *session_user);
typedef void (*lc_frame_cb)(lc_server_t *srv, gs_session_id_t id, void *session_user,
                            uint32_t msg_id, const uint8_t *body, uint32_t len);
typedef void (*lc_close_cb)(lc_server_t *srv, gs_session_id_t id, void *session_user,
                            gs_close_reason_t reason);

struct lc_server {
    gs_net_t *net;
    uint16_t port;
    th_mode_t mode; /* TH_ECHO echoes frames (gs_buf_frame), TH_SINK drops, TH_CUSTOM: hooks */
    lc_open_cb on_open;
    lc_frame_cb on_frame; /* runs in every mode, after the echo */
    lc_close_cb on_close;
    void *user;
    _Atomic uint64_t opened, closed, frames, send_errors;
    _Atomic uint64_t close_reasons[GS_CLOSE__COUNT];
    _Atomic uint64_t violations; /* callback contract breaks; the first is described below */
    char violation[160];
    _Atomic int violation_set;
    _Atomic uint64_t nrec;
    _Atomic uint32_t slot_rec[LC_MAX_SESSIONS]; /* record index + 1 of the slot's session */
    lc_rec_t rec[LC_MAX_RECORDS];
};

/* Allocate and start a server (cfg may be NULL; its callbacks, user and max_sessions are
 * replaced). Hooks can be set on the returned server before any client connects. */
lc_server_t *lc_server_start(const gs_net_config_t *cfg, th_mode_t mode);
/* Create without listening or starting (hooks set before gs_net_start); lc_server_begin
 * listens on 127.0.0.1:0 and starts. */
lc_server_t *lc_server_create(const gs_net_config_t *cfg, th_mode_t mode);
void lc_server_begin(lc_server_t *srv);
/* gs_net_stop(flush_ms), then assert: io_in_flight 0, sessions_open 0, bufs_queued 0, every
 * recorded session closed exactly once (opened once unless its connect failed), no contract
 * violation. Returns the unsent count. The net stays allocated for stats until lc_server_free.*/
uint64_t lc_server_stop(lc_server_t *srv, uint32_t flush_ms);
void lc_server_free(lc_server_t *srv);

/* Assert that no callback broke the contract so far (prints the first violation). */
void lc_assert_no_violation(lc_server_t *srv);
/* The record of session id, or NULL. Test thread. */
lc_rec_t *lc_find(lc_server_t *srv, gs_session_id_t id);
/* The n-th opened session's id (0-based), waiting up to LC_WAIT_MS; fails the test on timeout.*/
gs_session_id_t lc_session(lc_server_t *srv, uint64_t n);
/* Wait until at least n sessions have closed. Returns 1 if they did. */
int lc_wait_closed(lc_server_t *srv, uint64_t n, uint32_t timeout_ms);
/* Wait until the server's io_in_flight equals value. Returns 1 if it did. */
int lc_wait_in_flight(lc_server_t *srv, uint64_t value, uint32_t timeout_ms);
gs_net_stats_t lc_stats(lc_server_t *srv);

/* ---- counted send buffers ---------------------------------------------------------------- */

/* A frame buffer (header + body) whose release hook counts into process-wide counters, checks
 * that it runs once per buffer and frees it. The body is lc_fill(seq). */
gs_buf_t *lc_buf(uint32_t msg_id, uint32_t body_len, uint32_t seq);
/* Body pattern: the first 4 bytes hold seq (little-endian) when len >= 4, then bytes derived
 * from (seq, offset). */
void lc_fill(uint8_t *body, uint32_t len, uint32_t seq);
/* 1 if body equals lc_fill(seq) for its length. */
int lc_body_ok(const uint8_t *body, uint32_t len, uint32_t seq);
uint64_t lc_bufs_created(void);
uint64_t lc_bufs_released(void);
uint64_t lc_bufs_double_released(void);
/* Wait until every counted buffer created so far was released. Returns 1 if so. */
int lc_wait_bufs_released(uint32_t timeout_ms);

/* ---- clients ----------------------------------------------------------------------------- */

/* Blocking socket connected to 127.0.0.1:port, TCP_NODELAY; rcvbuf > 0 sets SO_RCVBUF before
 * connect (so the window stays small). Fails the test on error: test thread only. */
int lc_connect(uint16_t port, int rcvbuf);
/* Same, but returns -1 instead of failing: any thread. */
int lc_connect_nofail(uint16_t port, int rcvbuf);
/* Close with SO_LINGER {1, 0}: the peer gets a reset. */
void lc_close_rst(int fd);
/* Read and discard until end of stream, a reset or the deadline. Returns 0 for an orderly end
 * (read returned 0), 1 for a reset or another error, -1 on timeout. *drained (if not NULL) gets
 * the bytes read. */
int lc_drain_to_eof(int fd, uint32_t timeout_ms, uint64_t *drained);
/* Write all bytes with MSG_NOSIGNAL. Returns 0 or -errno; never asserts (any thread). */
int lc_write_all(int fd, const void *data, size_t len);

/* A checker for a stream of lc_buf frames with consecutive seq numbers: feed it what a client
 * reads; it parses frames and checks header, order and every body byte. */
typedef struct lc_stream {
    uint8_t hdr[GS_FRAME_HEADER_SIZE];
    uint32_t hdr_have, body_len, body_have, msg_id, next_seq;
    uint8_t *body; /* LC_STREAM_MAX_BODY bytes */
    uint64_t frames, bytes;
    int bad; /* set on the first mismatch (and stays) */
} lc_stream_t;
#define LC_STREAM_MAX_BODY (1u << 20)
void lc_stream_init(lc_stream_t *st, uint32_t first_seq);
void lc_stream_fini(lc_stream_t *st);
void lc_stream_feed(lc_stream_t *st, const uint8_t *data, size_t len);
/* 1 if the stream ended between frames (no partial frame pending). */
static inline int lc_stream_aligned(const lc_stream_t *st) { return st->hdr_have == 0; }
/* Read into the checker until: an orderly end (returns 0), a reset or error (1), want bytes in
 * total were fed (2), or the deadline (-1). chunk > 0 limits each read; pause_ms > 0 sleeps
 * between reads (a slow reader). Any thread. */
int lc_read_stream(int fd, lc_stream_t *st, uint64_t want, size_t chunk, uint32_t pause_ms,
                   uint32_t timeout_ms);

/* Milliseconds (with fraction) between two gs_now_ns() values. */
static inline double lc_ms(uint64_t from_ns, uint64_t to_ns) {
    return ((double)to_ns - (double)from_ns) / 1e6;
}

/* Small deterministic generator (xorshift64*). */
static inline uint64_t lc_rand(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

#endif

/* SPDX-License-Identifier: MIT */
/* Test support for socket-level net tests: a server on 127.0.0.1 with a port picked by the
 * kernel, plain blocking client sockets with receive deadlines, waiting on a condition with a
 * deadline, and counters recorded from the server's callbacks. */
#ifndef GS_TEST_NET_HARNESS_H
#define GS_TEST_NET_HARNESS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "gs/net.h"

/* What the harness server does with each frame / raw chunk. */
typedef enum { TH_ECHO = 0, TH_SINK, TH_CUSTOM } th_mode_t;

typedef struct th_server th_server_t;
typedef void (*th_frame_cb)(th_server_t *srv, gs_session_id_t id, uint32_t msg_id,
                            const uint8_t *body, uint32_t len);

#define TH_MAX_TRACKED 64

struct th_server {
    gs_net_t *net;
    uint16_t port;
    th_mode_t mode;
    th_frame_cb on_frame; /* TH_CUSTOM */
    void *user;
    /* recorded by callbacks (IO threads), read by the test thread */
    _Atomic uint64_t opened, closed, frames, raw_bytes;
    _Atomic uint64_t close_reasons[GS_CLOSE__COUNT];
    _Atomic uint64_t last_open_id;
    _Atomic uint64_t open_ids[TH_MAX_TRACKED]; /* first TH_MAX_TRACKED opened ids, in order */
    _Atomic uint64_t send_errors;
};

/* Start a server: cfg may be NULL (defaults); its callbacks are replaced by the harness's.
 * raw selects a raw listener. Fails the test on error. */
void th_server_start(th_server_t *srv, const gs_net_config_t *cfg, th_mode_t mode, int raw);
/* gs_net_stop(flush_ms) + destroy; returns gs_net_stop's unsent count. Asserts that every
 * opened session was closed and that io_in_flight is 0 before destroy. */
uint64_t th_server_stop(th_server_t *srv, uint32_t flush_ms);
/* The id of the n-th session opened (0-based), waiting up to 5 s for it to open. */
gs_session_id_t th_server_session(th_server_t *srv, unsigned n);

/* Blocking client socket connected to 127.0.0.1:port with TCP_NODELAY and a 10 s receive
 * timeout. Fails the test on error. */
int th_connect(uint16_t port);
/* th_connect without the assertion, and with an optional SO_RCVBUF (0 = default): for client
 * threads and for tests where a failed connect is an outcome. Returns the fd or -1. */
int th_try_connect(uint16_t port, int rcvbuf);
/* Close a client socket; shut down its sending side (0 or -1); close it with a reset
 * (SO_LINGER 0). Portable: test bodies use these, never close()/closesocket(). */
void th_close(int fd);
int th_shutdown_wr(int fd);
void th_abort(int fd);
/* A socket bound to a free 127.0.0.1 port without listening (connects there are refused); the
 * port goes to *port. Fails the test on error. Close it with th_close. */
int th_bound_unlistened(uint16_t *port);
/* Write all bytes (fails the test on error). */
void th_write_all(int fd, const void *data, size_t len);
/* Write all bytes; returns 0 or -errno (-EPIPE if the peer stopped taking bytes). */
int th_try_write_all(int fd, const void *data, size_t len);
/* Write one frame. */
void th_write_frame(int fd, uint32_t msg_id, const void *body, uint32_t len);
/* Read exactly len bytes before the deadline (ms from now). Returns 0, or -1 on EOF/timeout/
 * error (the test decides). */
int th_read_exact(int fd, void *buf, size_t len, uint32_t timeout_ms);
/* Read one frame: fills *msg_id and up to cap body bytes, returns the body length or -1. */
long th_read_frame(int fd, uint32_t *msg_id, void *body, size_t cap, uint32_t timeout_ms);
/* Wait until the peer closes the socket (read returns 0 or ECONNRESET), discarding data.
 * Returns 0 when closed, -1 on timeout. */
int th_wait_eof(int fd, uint32_t timeout_ms);

/* Poll cond(arg) every millisecond until it is true or timeout_ms passes. Returns 1 if true.
 * This waits for a state the code must reach; it is not a sleep to hide a race. */
int th_wait_until(int (*cond)(void *arg), void *arg, uint32_t timeout_ms);
/* Wait until an atomic counter reaches at least value. Returns 1 if it did. */
int th_wait_count(_Atomic uint64_t *ctr, uint64_t value, uint32_t timeout_ms);

/* A snapshot of the server's counters. */
gs_net_stats_t th_stats(th_server_t *srv);
/* Wait until the server's frames_in (frames_out) count reaches at least n. frames_out is counted
 * when the loop handles a send's completion, which can come after the client has read the
 * bytes. Returns 1 if it did. */
int th_wait_frames_in(th_server_t *srv, uint64_t n, uint32_t timeout_ms);
int th_wait_frames_out(th_server_t *srv, uint64_t n, uint32_t timeout_ms);

/* A frame of message id 3 with body_len bytes of 0x5A, in a malloc'd buffer (one reference, the
 * caller's) whose release adds 1 to th_bufs_released: a test compares that count with the
 * buffers it made to see each released exactly once. */
extern _Atomic uint64_t th_bufs_released;
gs_buf_t *th_counted_frame(uint32_t body_len);
/* Resident set size of this process in bytes (/proc/self/statm; the working set on Windows). */
uint64_t th_rss_bytes(void);

#endif

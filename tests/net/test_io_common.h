/* SPDX-License-Identifier: MIT */
/* Helpers shared by the socket-level IO tests (test_io_*.c, test_echo_*.c): frame encoding,
 * writes that report errors instead of failing the test (usable from client threads, where a
 * cmocka assertion must not run), an interleaved write/read pump with a deadline, and a small
 * deterministic random generator. Nothing here sleeps: every wait is a poll with a deadline. */
#ifndef GS_TEST_IO_COMMON_H
#define GS_TEST_IO_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "net_harness.h"

/* xorshift64*: deterministic per seed, so a failure reproduces. */
static inline uint64_t tio_rand(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}
/* Uniform in [lo, hi]. */
static inline uint32_t tio_range(uint64_t *s, uint32_t lo, uint32_t hi) {
    return lo + (uint32_t)(tio_rand(s) % ((uint64_t)hi - lo + 1));
}

static inline void tio_put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t tio_get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Append one frame (header + body) at out; returns the bytes written. */
size_t tio_frame_put(uint8_t *out, uint32_t msg_id, const void *body, uint32_t len);

/* Fill body with bytes derived from (seed, index): every frame's content is distinct, so a
 * lost, duplicated or reordered frame cannot go unnoticed by a byte comparison. */
void tio_fill(uint8_t *body, uint32_t len, uint64_t seed);

/* A stream of n random frames with bodies of [min_len, max_len] bytes into a malloc'd buffer
 * (*out, *out_len). Each body starts with its index (when long enough). Returns the frame
 * count written (n). The test frees *out. */
void tio_make_stream(uint32_t n, uint32_t min_len, uint32_t max_len, uint64_t seed, uint8_t **out,
                     size_t *out_len);

/* Connect to 127.0.0.1:port with TCP_NODELAY; rcvbuf > 0 sets SO_RCVBUF before connecting.
 * Returns the fd or -1 (does not fail the test: usable from any thread). */
int tio_connect(uint16_t port, int rcvbuf);

/* Write all bytes (blocking socket, MSG_NOSIGNAL). Returns 0, or -errno on failure. Never
 * asserts: usable from any thread. */
int tio_write_all(int fd, const void *data, size_t len);

/* Write every byte with its own send() call (TCP_NODELAY is set by th_connect / tio_connect,
 * so each send leaves as its own segment). Returns 0 or -errno. */
int tio_write_bytewise(int fd, const void *data, size_t len);

/* Interleaved write/read on one socket until in_len bytes were read or timeout_ms passed:
 * writes out[] in chunks of random length 1..max_chunk (max_chunk 0: as much as the socket
 * takes), reads in chunks of at most read_max bytes (0: as much as there is), and never lets
 * the written bytes run more than window bytes ahead of the read ones (0: no window).
 * Returns 0 when all of out was written and in_len bytes were read; -1 otherwise. */
int tio_pump(int fd, const uint8_t *out, size_t out_len, size_t max_chunk, uint64_t *rng,
             uint8_t *in, size_t in_len, size_t read_max, size_t window, uint32_t timeout_ms);

/* Keep writing chunk-sized blocks (non-blocking) until a write fails or timeout_ms passes,
 * also reading (and discarding) whatever arrives. Sets *eof when the peer's end of stream or
 * a reset was seen on the read side, *write_err to the failing write's errno (0 if none) and
 * *written to the bytes the kernel accepted. Returns 0 when a write failed before the
 * deadline, -1 on timeout. */
int tio_write_until_error(int fd, size_t chunk, uint32_t timeout_ms, int *eof, int *write_err,
                          uint64_t *written);

/* Poll a counter without the 1 ms step of th_wait_count: for loops of thousands of cycles.
 * Returns 1 when *ctr >= value before the deadline. */
int tio_wait_count(_Atomic uint64_t *ctr, uint64_t value, uint32_t timeout_ms);

/* Main test thread only (asserts): a fresh client connects, sends one frame of len bytes and
 * must get it back byte-exact (the "reconnect and PING" step after a hostile case). */
void tio_check_echo(uint16_t port, uint32_t len);

/* The harness's h_open increments srv->opened before it stores open_ids[n] and last_open_id,
 * so waiting on opened alone can read a stale or zero id (th_server_session has that race).
 * These wait for the id itself. tio_session_id: open_ids[n] non-zero (n < TH_MAX_TRACKED).
 * tio_wait_new_last_id: last_open_id differs from prev. Both return 0 on timeout. */
gs_session_id_t tio_session_id(th_server_t *srv, unsigned n, uint32_t timeout_ms);
gs_session_id_t tio_wait_new_last_id(th_server_t *srv, gs_session_id_t prev, uint32_t timeout_ms);

/* Sort and pick percentiles of latencies (ns); prints "name: n p50 p99 max" to stdout. */
void tio_report_latency(const char *name, uint64_t *ns, size_t n);

#endif

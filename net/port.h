/* SPDX-License-Identifier: MIT */
/* The backend interface: the handful of operations the session core needs from a completion
 * port, and the upcalls the backend makes when they complete. One file per backend implements
 * it (port_uring.c on Linux, port_iocp.c on Windows; port_epoll.c later). Nothing above net/ sees
 * it.
 *
 * Rules every backend keeps:
 * - Each posted operation holds one session reference (gs__session_ref) taken by the core or
 *   the backend before the post, and drops it (gs__session_put) after its terminal completion
 *   has been fully handled. A post that fails drops it at once. So a session is never freed
 *   while the kernel may still write into it.
 * - Completions are classified once, here: data, orderly end (0 bytes), error (negative
 *   errno-style code), cancellation. The core never sees a raw CQE or OVERLAPPED.
 * - Upcalls for a session run on the thread that owns its loop (gs__loop_t).
 */
#ifndef GS_NET_PORT_H
#define GS_NET_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "gs/net.h"

typedef struct gs__loop gs__loop_t;
typedef struct gs__session gs__session_t;
typedef struct gs__listener gs__listener_t;
typedef struct gs__send_req gs__send_req_t;
typedef struct gs__port gs__port_t; /* backend state of one loop */

/* Create/destroy the backend state of a loop (io_uring: the ring, its provided buffers and its
 * wake-up eventfd). init runs on the controlling thread; the ring is created disabled and
 * enabled by gs__port_run on the IO thread (single-issuer rings belong to one thread). */
int gs__port_init(gs__loop_t *loop);
void gs__port_fini(gs__loop_t *loop);

/* The most buffers one send operation carries (io_uring: GS__GATHER_LIMIT; IOCP: 64, see
 * port_iocp.c). gs_net_create lowers gather_max to it. */
uint32_t gs__port_gather_limit(void);

/* IO thread body: wait for completions, dispatch them, drain the inbox, flush sends, run ticks;
 * returns once the loop is stopping and has no session and no operation left. */
void gs__port_run(gs__loop_t *loop);

/* Any thread: make the loop's thread look at its inbox soon. Cheap when already signalled. */
void gs__port_wake(gs__loop_t *loop);

/* Loop thread. Arm accepting on the loop's socket of this listener / stop it. */
int gs__port_accept_start(gs__loop_t *loop, gs__listener_t *l);
void gs__port_accept_stop(gs__loop_t *loop, gs__listener_t *l);

/* Loop thread. Arm the session's receive. Upcalls gs__on_recv for data and gs__on_recv_end
 * once when receiving is over (0 = orderly end, negative = error or cancelled). */
int gs__port_recv_start(gs__session_t *s);

/* Loop thread. Receive backpressure: the core has just set s->recv_paused; stop receiving soon.
 * From then on, when the session's receive operation ends while s->recv_paused is set and the
 * session is open (or it was waiting for buffers), the backend keeps the receive's reference,
 * sets s->recv_parked and posts nothing more; the core re-arms it with gs__port_recv_start (and
 * clears recv_parked) once the send queue has drained, or drops that reference at close. Data
 * that arrives before the operation ends is delivered as usual. A receive that ends after the
 * pause was lifted again (a cancel that came late) is re-armed by the backend itself. */
void gs__port_recv_pause(gs__session_t *s);

/* Loop thread. Post a gathered send of req (iov already filled by the core). Upcalls
 * gs__on_send_done exactly once with the bytes sent (possibly fewer than asked: the core
 * decides) or a negative error. Returns 0 or a GS_E code (then no upcall happens). */
int gs__port_send(gs__session_t *s, gs__send_req_t *req);

/* Any thread, before the session is posted to its loop: remember where to connect.
 * Returns 0 or GS_ENOMEM. */
typedef struct gs__addr gs__addr_t;
int gs__port_connect_prepare(gs__session_t *s, const gs__addr_t *addr);

/* Loop thread. Start an outgoing connect to the address in the session's connect request.
 * Upcalls gs__on_connect_done exactly once. */
int gs__port_connect(gs__session_t *s);

/* Loop thread. Cancel every pending operation of the session so their completions arrive
 * soon; idempotent. */
void gs__port_cancel(gs__session_t *s);

/* Loop thread. The session is being released (no operation pending): close its socket and
 * free its backend data. */
void gs__port_session_release(gs__session_t *s);
/* Close a socket that never became a session. */
void gs__port_close_fd(intptr_t fd);

/* Loop thread, during gs__on_recv: a buffer over [data, data + len), which must lie inside the
 * receive buffer being delivered, that keeps that receive buffer from being reused until its last
 * reference is dropped (on any thread): one reference, owned by the caller. NULL when the backend
 * does not lend receive buffers (IOCP: each session has its own), when it has lent enough of them
 * already, or when out of memory: then the core copies. */
gs_buf_t *gs__port_lend(gs__loop_t *loop, const uint8_t *data, uint32_t len);

/* Backend counters merged into gs_net_stats_t; the caller zeroes the struct, so a backend fills
 * only the counters it has. */
#define GS__PS_LOOP(f)
#define GS__PS_PORT(f) uint64_t f;
#define GS__PS_CALC(f)
#define GS__PS_FIELD(f, src, kind, metric, help) GS__PS_##src(f)
#define GS__PS_VEC_LOOP(f, n)
#define GS__PS_VEC_PORT(f, n)                                uint64_t f[n];
#define GS__PS_VEC(f, src, n, label, fn, kind, metric, help) GS__PS_VEC_##src(f, n)
/* The PORT entries of GS_NET_STATS_MAP (gs/net.h). */
typedef struct gs__port_stats {
    GS_NET_STATS_MAP(GS__PS_FIELD)
    GS_NET_STATS_VEC_MAP(GS__PS_VEC)
} gs__port_stats_t;
void gs__port_stats(gs__loop_t *loop, gs__port_stats_t *out);

/* ---- upcalls into the core (net/session.c), loop thread only ---- */
void gs__on_accept(gs__loop_t *loop, gs__listener_t *l, intptr_t fd);
void gs__on_recv(gs__session_t *s, const uint8_t *data, size_t len);
void gs__on_recv_end(gs__session_t *s, int err);
void gs__on_send_done(gs__session_t *s, gs__send_req_t *req, long result);
void gs__on_connect_done(gs__session_t *s, int err);
/* Once per loop iteration, after a batch of completions: inbox, deferred sends, ticks. */
void gs__loop_after_batch(gs__loop_t *loop);
/* Milliseconds until the loop wants to run gs__loop_after_batch for ticks (0 = now). */
uint32_t gs__loop_next_timeout_ms(gs__loop_t *loop);
/* True once the loop may return from gs__port_run. */
int gs__loop_done(gs__loop_t *loop);

#endif /* GS_NET_PORT_H */

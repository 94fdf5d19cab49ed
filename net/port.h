/* SPDX-License-Identifier: MIT */
/* The backend interface: the handful of operations the session core needs from a completion
 * port, and the upcalls the backend makes when they complete. One file per backend implements
 * it (port_uring.c and port_epoll.c on Linux, port_iocp.c on Windows). Nothing above net/ sees
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

typedef struct gs__addr gs__addr_t;

/* One backend: its operations, in a table so that one build carries several (Linux: io_uring
 * and epoll, chosen at gs_net_create; Windows: IOCP). The core calls them through the inline
 * gs__port_* wrappers of internal.h; the loop itself (gs__loop_run, net/loop.c) is the core's,
 * and a backend supplies only what differs: waiting for completions, signalling the thread,
 * posting and cancelling operations. Unless said otherwise an operation runs on the loop's
 * thread. */
typedef struct gs__port_ops {
    const char *name;      /* "io_uring", "epoll", "iocp": the stats and start-up lines say it */
    uint32_t gather_limit; /* the most buffers one send carries; gs_net_create lowers gather_max */

    /* Create/destroy the backend state of a loop (loop->port). init runs on the controlling
     * thread (gs_net_create) and returns 0, GS_ENOMEM, GS_ESYS, or GS_ENOTSUP when the kernel
     * or the sandbox refuses this backend (then nothing of it is left and, with backend auto,
     * gs_net_create tries the next one). fini runs on the controlling thread after the loop's
     * thread has ended, or after a failed start. */
    int (*init)(gs__loop_t *loop);
    void (*fini)(gs__loop_t *loop);

    /* The loop's thread starts (io_uring: enable the single-issuer ring, arm the wake-up). */
    void (*thread_start)(gs__loop_t *loop);
    /* Wait up to timeout_ms for completions (0: do not block), set loop->now_ms to the time
     * after the wait, and dispatch every completion that is ready through the upcalls below. */
    void (*poll)(gs__loop_t *loop, uint32_t timeout_ms);
    /* After the core's batch end (gs__loop_after_batch): backend work that must follow it
     * (io_uring: receives re-armed from the -ENOBUFS FIFO, lends returned by other threads). */
    void (*batch_end)(gs__loop_t *loop);
    /* Every session is gone and accepting was stopped: retire the loop's own operations (the
     * wake-up) and poll until none is in flight, so that io_in_flight is 0 when the thread
     * ends. */
    void (*thread_end)(gs__loop_t *loop);
    /* Any thread: wake the loop's thread from poll. The core calls it at most once per sleep
     * (gs__port_wake exchanges wake_pending first). */
    void (*signal)(gs__loop_t *loop);

    /* Arm accepting on this listener's socket / stop it. A backend that finds the process out
     * of descriptors (EMFILE, ENFILE) calls gs__loop_accept_pause and stops accepting; the core
     * calls accept_resume a tick later. */
    int (*accept_start)(gs__loop_t *loop, gs__listener_t *l);
    void (*accept_stop)(gs__loop_t *loop, gs__listener_t *l);
    void (*accept_resume)(gs__loop_t *loop);

    /* Arm the session's receive. Upcalls gs__on_recv for data and gs__on_recv_end once when
     * receiving is over (0 = orderly end, negative = error or cancelled). */
    int (*recv_start)(gs__session_t *s);
    /* Receive backpressure: the core has just set s->recv_paused; stop receiving soon. From then
     * on, when the session's receive operation ends while s->recv_paused is set and the session
     * is open (or it was waiting for buffers), the backend keeps the receive's reference, sets
     * s->recv_parked and posts nothing more; the core re-arms it with recv_start (and clears
     * recv_parked) once the send queue has drained, or drops that reference at close. Data that
     * arrives before the operation ends is delivered as usual. A receive that ends after the
     * pause was lifted again (a cancel that came late) is re-armed by the backend itself. */
    void (*recv_pause)(gs__session_t *s);
    /* Post a gathered send of req (iov already filled by the core). Upcalls gs__on_send_done
     * exactly once with the bytes sent (possibly fewer than asked: the core decides) or a
     * negative error. Returns 0 or a GS_E code (then no upcall happens). */
    int (*send)(gs__session_t *s, gs__send_req_t *req);
    /* Any thread, before the session is posted to its loop: remember where to connect.
     * Returns 0 or GS_ENOMEM. */
    int (*connect_prepare)(gs__session_t *s, const gs__addr_t *addr);
    /* Start an outgoing connect to that address. Upcalls gs__on_connect_done exactly once. */
    int (*connect)(gs__session_t *s);
    /* Cancel every pending operation of the session so their completions arrive soon;
     * idempotent. */
    void (*cancel)(gs__session_t *s);
    /* The session is being released (no operation pending): close its socket and free its
     * backend data. Also on the controlling thread for a connect that failed before posting. */
    void (*session_release)(gs__session_t *s);
    /* Close a socket that never became a session. */
    void (*close_fd)(intptr_t fd);
    /* During gs__on_recv: a buffer over [data, data + len), which must lie inside the receive
     * buffer being delivered, that keeps that receive buffer from being reused until its last
     * reference is dropped (on any thread): one reference, owned by the caller. NULL when the
     * backend does not lend receive buffers (IOCP, epoll: a session's own or a shared read
     * buffer), when it has lent enough already, or when out of memory: then the core copies. */
    gs_buf_t *(*lend)(gs__loop_t *loop, const uint8_t *data, uint32_t len);
    /* Backend counters, into a struct the caller zeroed. Any thread. */
    void (*stats)(gs__loop_t *loop, gs__port_stats_t *out);
} gs__port_ops_t;

extern const gs__port_ops_t gs__port_uring_ops, gs__port_epoll_ops, gs__port_iocp_ops;

/* The backends this build has, in auto's order of preference, ending with {0, NULL}
 * (net/backends_linux.c, net/backends_win.c). */
typedef struct gs__port_backend {
    gs_net_backend_t kind;
    const gs__port_ops_t *ops;
} gs__port_backend_t;
extern const gs__port_backend_t gs__port_backends[];

/* ---- upcalls into the core (net/session.c), loop thread only ---- */
void gs__on_accept(gs__loop_t *loop, gs__listener_t *l, intptr_t fd);
void gs__on_recv(gs__session_t *s, const uint8_t *data, size_t len);
void gs__on_recv_end(gs__session_t *s, int err);
void gs__on_send_done(gs__session_t *s, gs__send_req_t *req, long result);
void gs__on_connect_done(gs__session_t *s, int err);
/* Once per loop iteration, after a batch of completions: inbox, deferred sends, ticks. */
void gs__loop_after_batch(gs__loop_t *loop);
/* Mid-poll, between completions: send what the sessions handled so far have queued (unless
 * send_delay_ms holds the flush list), as the batch end would. The epoll backend calls it every
 * few sessions of a pass, so the read blocks lent to their echoes come back (with the send
 * completions it then delivers) while they are still in cache, instead of the pass pinning a
 * block per session and copying once they are all pinned. */
void gs__loop_flush_now(gs__loop_t *loop);
/* Milliseconds until the loop wants to run gs__loop_after_batch for ticks (0 = now). */
uint32_t gs__loop_next_timeout_ms(gs__loop_t *loop);
/* True once the loop may return from gs__loop_run. */
int gs__loop_done(gs__loop_t *loop);
/* Accepting failed for lack of descriptors: counted (accept_pauses), logged at a bounded rate;
 * the core calls the backend's accept_resume after a tick. */
void gs__loop_accept_pause(gs__loop_t *loop, const char *why);

#endif /* GS_NET_PORT_H */

/* SPDX-License-Identifier: MIT */
/* net: completion-based networking. Sessions named by 64-bit ids, framed or raw byte streams,
 * one outstanding receive and one outstanding (gathered) send per session, sends from any
 * thread. Backends: io_uring and epoll (Linux) and IOCP (Windows) behind net/port.h. */
#ifndef GS_NET_H
#define GS_NET_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gs/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gs_net gs_net_t; /* opaque: one instance = one set of IO threads + sessions */

/* A session id: high 32 bits generation, low 32 bits slot index. 0 is never a valid id.
 * Ids are values: copy them to any thread. A call with an id whose session has gone (or whose
 * slot now holds another session) returns GS_ESTALE and touches nothing. */
typedef uint64_t gs_session_id_t;
#define GS_SESSION_NONE ((gs_session_id_t)0)
static inline uint32_t gs_session_slot(gs_session_id_t id) { return (uint32_t)id; }

/* ---------------------------------------------------------------------------------------------
 * Frames. Header = 8 bytes, little-endian: u32 body length, u32 message id; then the body.
 * See docs/protocol.md.
 * ------------------------------------------------------------------------------------------- */
#define GS_FRAME_HEADER_SIZE 8u
#define GS_FRAME_MAX_DEFAULT (64u * 1024u)

static inline void gs_frame_header_write(uint8_t out[GS_FRAME_HEADER_SIZE], uint32_t body_len,
                                         uint32_t msg_id) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* Two stores where the host is little-endian like the wire (compilers do not merge the byte
     * loop below into them on their own). */
    memcpy(out, &body_len, 4);
    memcpy(out + 4, &msg_id, 4);
#else
    for (int i = 0; i < 4; i++) {
        out[i] = (uint8_t)(body_len >> (8 * i));
        out[4 + i] = (uint8_t)(msg_id >> (8 * i));
    }
#endif
}

/* ---------------------------------------------------------------------------------------------
 * Send buffers. A reference-counted descriptor with a release hook; the packet layer embeds one
 * in each pooled packet. The bytes [data, data+len) are sent as they are: for a framed session
 * they must already hold the frame header (gs_frame_header_write) followed by the body.
 *
 * Ownership rule: gs_session_send() takes its own reference (gs_buf_ref) and releases it exactly
 * once: after the bytes have left, or when the send fails, or when the session closes with it
 * still queued. The caller's reference is never consumed: the caller unrefs its own.
 * The bytes must not change while any reference is held.
 *
 * Memory accounting: a queued buffer counts against the session's send limits (and the
 * bytes_queued gauge) with its charge, the memory it really holds, not its wire length: a 24-byte
 * frame in a 256-byte pooled block charges the block. gs_buf_init sets charge = len; whoever owns
 * larger memory behind the bytes (the packet layer, gs_buf_alloc) raises it before the first send.
 * It must not change while any reference is held.
 * ------------------------------------------------------------------------------------------- */
typedef struct gs_buf gs_buf_t;
typedef void (*gs_buf_release_cb)(gs_buf_t *buf);

/* Private to net: the send-queue link one buffer carries for the first session that queues it,
 * so that a buffer sent to one session at a time (a reply, an echo) is queued without a separate
 * allocation. Other sessions queueing it meanwhile get their own link. */
typedef struct gs__buf_qlink {
    gs_mpsc_node_t link;
    gs_buf_t *buf;
    void *kind;
} gs__buf_qlink_t;

struct gs_buf {
    const uint8_t *data;
    uint32_t len;
    uint32_t charge; /* memory held, counted against send limits (>= len; see above) */
    _Atomic uint32_t refs;
    _Atomic uint32_t qlink_busy; /* private: qlink is in a send queue */
    gs_buf_release_cb release;   /* called once, by whichever thread drops the last reference */
    gs__buf_qlink_t qlink;       /* private */
};

/* Initialise with one reference held by the caller; charge = len. */
static inline void gs_buf_init(gs_buf_t *b, const uint8_t *data, uint32_t len,
                               gs_buf_release_cb release) {
    b->data = data;
    b->len = len;
    b->charge = len;
    atomic_init(&b->refs, 1);
    atomic_init(&b->qlink_busy, 0);
    b->release = release;
}
static inline void gs_buf_ref(gs_buf_t *b) {
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}
static inline void gs_buf_unref(gs_buf_t *b) {
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        b->release(b);
}

/* Allocate a buffer of len bytes (header room included by the caller) with malloc and a
 * release hook that frees it. For tools and tests; servers use the packet layer's pool.
 * Returns NULL when out of memory. data is writable through gs_buf_bytes(). */
gs_buf_t *gs_buf_alloc(uint32_t len);
static inline uint8_t *gs_buf_bytes(gs_buf_t *b) { return (uint8_t *)(uintptr_t)b->data; }
/* gs_buf_alloc + header + body copy, one reference held by the caller. */
gs_buf_t *gs_buf_frame(uint32_t msg_id, const void *body, uint32_t body_len);

/* ---------------------------------------------------------------------------------------------
 * Close reasons and counters.
 * ------------------------------------------------------------------------------------------- */
#define GS_CLOSE_REASON_MAP(X)                                                                     \
    X(NONE, "none")                                                                                \
    X(PEER_CLOSE, "peer_close")           /* orderly EOF from the peer */                          \
    X(RESET, "reset")                     /* connection reset or other socket error */             \
    X(LOCAL, "local")                     /* gs_session_disconnect() */                            \
    X(IDLE_TIMEOUT, "idle_timeout")       /* nothing received for idle_timeout_ms */               \
    X(FRAME_TIMEOUT, "frame_timeout")     /* a frame stayed incomplete for frame_timeout_ms */     \
    X(SEND_QUEUE_HARD, "send_queue_hard") /* queued bytes over the hard limit */                   \
    X(SEND_QUEUE_SOFT, "send_queue_soft") /* over the soft limit for longer than the grace */      \
    X(RECV_RATE, "recv_rate")             /* over recv_rate_bytes or recv_rate_frames */           \
    X(PROTOCOL, "protocol_error")         /* bad frame header: see frames_rejected */              \
    X(SHUTDOWN, "shutdown")               /* gs_net_stop() */                                      \
    X(CONNECT_FAILED, "connect_failed")   /* outgoing connect did not complete */                  \
    X(NOMEM, "nomem")                     /* an allocation for this session failed */              \
    X(ABUSE, "abuse")                     /* gs_session_cut(): the application judged it abusive */

typedef enum {
#define GS__CR_ENUM(name, str) GS_CLOSE_##name,
    GS_CLOSE_REASON_MAP(GS__CR_ENUM)
#undef GS__CR_ENUM
        GS_CLOSE__COUNT
} gs_close_reason_t;

const char *gs_close_reason_name(gs_close_reason_t r);

#define GS_FRAME_REJECT_MAP(X)                                                                     \
    X(TOO_BIG, "too_big")                                                                          \
    X(ZERO_LEN, "zero_len")

typedef enum {
#define GS__FR_ENUM(name, str) GS_REJECT_##name,
    GS_FRAME_REJECT_MAP(GS__FR_ENUM)
#undef GS__FR_ENUM
        GS_REJECT__COUNT
} gs_frame_reject_t;

const char *gs_frame_reject_name(gs_frame_reject_t r);

/* Why an IO operation completed with an error, as the backend classified it (IOCP: the Win32
 * code GetQueuedCompletionStatus reports for a failed operation, docs/testing.md E10). */
#define GS_IO_ERROR_MAP(X)                                                                         \
    X(CANCELLED, "cancelled") /* cancelled by a close (995 ERROR_OPERATION_ABORTED) */             \
    X(RESET, "reset")         /* the connection died (64 ERROR_NETNAME_DELETED, WSAECONNRESET) */  \
    X(ABORTED, "aborted")     /* aborted locally (1236 ERROR_CONNECTION_ABORTED) */                \
    X(REFUSED, "refused")     /* a connect was refused (1225 ERROR_CONNECTION_REFUSED) */          \
    X(OTHER, "other")         /* anything else: logged once per code */

typedef enum {
#define GS__IE_ENUM(name, str) GS_IOERR_##name,
    GS_IO_ERROR_MAP(GS__IE_ENUM)
#undef GS__IE_ENUM
        GS_IOERR__COUNT
} gs_io_error_t;

const char *gs_io_error_name(gs_io_error_t e);

/* The net counters, declared once: this list generates gs_net_stats_t, the per-IO-thread counter
 * struct, the backend's counter struct, the merge in gs_net_stats, the programs' --stats lines and
 * the Prometheus exposition (metrics/), so that a counter cannot be left out of one of them.
 *   X(field, source, kind, metric, help)
 * field: the gs_net_stats_t member. source: LOOP (counted by the IO thread, summed over threads),
 * PORT (counted by the backend, gs__port_stats) or CALC (derived by gs_net_stats). kind: COUNTER
 * (monotonic) or GAUGE. metric: the Prometheus name after "gs_net_". */
#define GS_NET_STATS_MAP(X)                                                                        \
    X(accepts, LOOP, COUNTER, "accepts_total", "Connections accepted.")                            \
    X(accept_refused, LOOP, COUNTER, "accepts_refused_total",                                      \
      "Connections accepted then closed at once: the session table was full.")                     \
    X(accept_addr_sessions, LOOP, COUNTER, "accepts_addr_refused_sessions_total",                  \
      "Connections closed at accept: their address held addr_max_sessions already.")               \
    X(accept_addr_rate, LOOP, COUNTER, "accepts_addr_refused_rate_total",                          \
      "Connections closed at accept: their address connected faster than addr_accept_rate.")       \
    X(accept_addr_untracked, LOOP, COUNTER, "accepts_addr_untracked_total",                        \
      "Connections let in untracked: the per-address table was full of live addresses.")           \
    X(connects, LOOP, COUNTER, "connects_total", "Outgoing connects completed.")                   \
    X(sessions_open, CALC, GAUGE, "sessions_open", "Sessions open now.")                           \
    X(sessions_total, LOOP, COUNTER, "sessions_opened_total",                                      \
      "Sessions ever opened (accepted or connected).")                                             \
    X(sessions_closed, LOOP, COUNTER, "sessions_closed_total",                                     \
      "Sessions closed, including outgoing connects that failed.")                                 \
    X(bytes_in, LOOP, COUNTER, "received_bytes_total", "Bytes received.")                          \
    X(bytes_out, LOOP, COUNTER, "sent_bytes_total", "Bytes sent.")                                 \
    X(frames_in, LOOP, COUNTER, "frames_received_total", "Frames received (framed sessions).")     \
    X(frames_out, LOOP, COUNTER, "frames_sent_total", "Buffers fully sent.")                       \
    X(frames_held, LOOP, COUNTER, "frames_held_total",                                             \
      "Frames handed on without a copy (gs_net_frame_hold, gs_net_data_hold).")                    \
    X(frames_hold_refused, LOOP, COUNTER, "frames_hold_refused_total",                             \
      "Holds refused inside a callback: the caller copied.")                                       \
    X(recv_pauses, LOOP, COUNTER, "recv_pauses_total",                                             \
      "Receives paused: the session's send queue passed recv_pause_bytes.")                        \
    X(recv_paused, LOOP, GAUGE, "recv_paused_sessions",                                            \
      "Sessions not being read now: their send queue is over recv_pause_bytes.")                   \
    X(sends, LOOP, COUNTER, "sends_total", "Send operations submitted to the kernel.")             \
    X(gathers, LOOP, COUNTER, "gathered_sends_total", "Sends carrying more than one buffer.")      \
    X(short_sends, LOOP, COUNTER, "short_sends_total",                                             \
      "Sends that completed with fewer bytes than asked.")                                         \
    X(bufs_queued, CALC, GAUGE, "send_queue_buffers",                                              \
      "Buffers queued or in flight, all sessions.")                                                \
    X(bytes_queued, CALC, GAUGE, "send_queue_bytes",                                               \
      "Memory held by queued buffers (their charges), all sessions.")                              \
    X(io_in_flight, PORT, GAUGE, "io_in_flight", "Operations submitted and not yet completed.")    \
    X(cq_overflows, PORT, COUNTER, "cq_overflows_total",                                           \
      "Times the completion queue overflowed (none lost).")                                        \
    X(enobufs, PORT, COUNTER, "recv_enobufs_total",                                                \
      "Multishot receives ended for lack of provided buffers.")                                    \
    X(recv_rearms, PORT, COUNTER, "recv_rearms_total", "Multishot receives armed again.")          \
    X(accept_pauses, LOOP, COUNTER, "accept_pauses_total",                                         \
      "Accepts paused for a tick: out of descriptors.")                                            \
    X(recv_bufs_lent, PORT, GAUGE, "recv_buffers_lent",                                            \
      "Receive buffers kept out of the ring by held frames.")                                      \
    X(io_posted, PORT, COUNTER, "io_posted_total", "IOCP: operations posted.")                     \
    X(io_completed, PORT, COUNTER, "io_completed_total", "IOCP: operations completed.")            \
    X(io_eof, PORT, COUNTER, "io_eof_total", "IOCP: operations completed with 0 bytes.")           \
    X(io_failed, PORT, COUNTER, "io_failed_total", "IOCP: operations completed with an error.")    \
    X(port_wakeups, PORT, COUNTER, "port_wakeups_total", "IOCP: posted wake-ups dequeued.")        \
    X(port_handoffs, PORT, COUNTER, "port_handoffs_total",                                         \
      "IOCP: accepted sockets handed to another IO thread.")                                       \
    X(port_timeouts, PORT, COUNTER, "port_timeouts_total",                                         \
      "IOCP: waits that ended with no completion.")                                                \
    X(port_errors, PORT, COUNTER, "port_errors_total", "IOCP: waits that failed otherwise.")

/* Counters by reason: X(field, source, count, label, name_fn, kind, metric, help). One sample
 * per reason, labelled label="<name_fn(i)>". */
#define GS_NET_STATS_VEC_MAP(X)                                                                    \
    X(disconnects, LOOP, GS_CLOSE__COUNT, "reason", gs_close_reason_name, COUNTER,                 \
      "disconnects_total", "Sessions closed, by reason.")                                          \
    X(frames_rejected, LOOP, GS_REJECT__COUNT, "reason", gs_frame_reject_name, COUNTER,            \
      "frames_rejected_total", "Frame headers rejected, by reason.")                               \
    X(io_failed_by, PORT, GS_IOERR__COUNT, "class", gs_io_error_name, COUNTER,                     \
      "io_failed_by_class_total", "IOCP: failed operations, by error class.")

/* Histograms, while gs_net_set_histograms is on (off by default: each costs a bucket search and
 * two atomic adds on the IO thread's own lines per event): X(field, bounds, count, metric, help).
 * Each IO thread keeps its own; gs_net_stats merges them. */
extern const uint64_t gs_net_hist_bounds_bufs[];
extern const uint32_t gs_net_hist_bounds_bufs_count;
#define GS_NET_HIST_MAP(X)                                                                         \
    X(frame_bytes, gs_hist_bounds_bytes, gs_hist_bounds_bytes_count, "received_frame_bytes",       \
      "Body sizes of the frames received.")                                                        \
    X(flush_bufs, gs_net_hist_bounds_bufs, gs_net_hist_bounds_bufs_count, "send_gather_buffers",   \
      "Buffers a send took from its session's queue: the queue's depth at each flush.")

/* A snapshot of counters, summed over IO threads (or of one, gs_net_io_stats). Totals are
 * monotonic; "open"/"queued" are gauges. Readable from any thread at any time (values are read
 * without a global lock, so a snapshot taken under load is approximate between counters but each
 * counter is exact). Generated from the lists above. */
typedef struct gs_net_stats {
#define GS__NS_FIELD(f, src, kind, metric, help)             uint64_t f;
#define GS__NS_VEC(f, src, n, label, fn, kind, metric, help) uint64_t f[n];
#define GS__NS_HIST(f, bounds, n, metric, help)              gs_hist_snap_t f;
    GS_NET_STATS_MAP(GS__NS_FIELD)
    GS_NET_STATS_VEC_MAP(GS__NS_VEC)
    GS_NET_HIST_MAP(GS__NS_HIST)
#undef GS__NS_FIELD
#undef GS__NS_VEC
#undef GS__NS_HIST
} gs_net_stats_t;

/* ---------------------------------------------------------------------------------------------
 * Callbacks. All run on an IO thread of the net instance: on every backend, always the thread
 * that owns the session (one per session, for its whole life), so one session's callbacks never run
 * concurrently and arrive in order: on_open, then frames/data, then on_close exactly once.
 * A callback may call any gs_session_* function, including for its own session.
 * Callbacks must not block for long: they stall every session of that IO thread.
 * ------------------------------------------------------------------------------------------- */
typedef struct gs_net_callbacks {
    /* A session opened (accepted, or an outgoing connect completed). session_user is the value
     * given to gs_net_connect (NULL for accepted sessions) and may be replaced here with
     * gs_session_set_user. */
    void (*on_open)(gs_net_t *net, gs_session_id_t id, void *session_user, void *user);
    /* A complete frame arrived on a framed session. body is valid only during the call. */
    void (*on_frame)(gs_net_t *net, gs_session_id_t id, void *session_user, uint32_t msg_id,
                     const uint8_t *body, uint32_t len, void *user);
    /* Bytes arrived on a raw session. data is valid only during the call. */
    void (*on_data)(gs_net_t *net, gs_session_id_t id, void *session_user, const uint8_t *data,
                    size_t len, void *user);
    /* The session is gone: called exactly once for every session that opened, and also for an
     * outgoing connect that failed (reason GS_CLOSE_CONNECT_FAILED, without on_open). The id is
     * already stale when this runs. */
    void (*on_close)(gs_net_t *net, gs_session_id_t id, void *session_user,
                     gs_close_reason_t reason, void *user);
    /* Optional: once per pass of each IO thread's loop, after its batch of completions and its
     * inbox, before its sends are flushed, and also when gs_net_wake woke it. For running other
     * work on the IO thread (the content layer runs its handlers here when it has no workers):
     * what it sends leaves in the same flush. Return non-zero to be called again at once (work
     * is left), 0 to let the loop sleep until its next event. */
    int (*on_pass)(gs_net_t *net, uint32_t io_thread, void *user);
} gs_net_callbacks_t;

/* The IO backend (docs/net.md "Backends"). */
typedef enum {
    /* The first one the host allows: io_uring, then epoll when io_uring is refused (a seccomp
     * profile such as Docker's default, kernel.io_uring_disabled, gVisor, an old kernel); IOCP on
     * Windows. The environment variable GS_NET_BACKEND (auto, io_uring, epoll, iocp) overrides
     * auto, so programs built on the framework can be switched without a rebuild. */
    GS_NET_BACKEND_AUTO = 0,
    GS_NET_BACKEND_IO_URING,
    GS_NET_BACKEND_EPOLL,
    GS_NET_BACKEND_IOCP,
} gs_net_backend_t;

/* "auto", "io_uring", "epoll" or "iocp" (what --backend takes) to *out: 0, or GS_EINVAL. */
int gs_net_backend_parse(const char *name, gs_net_backend_t *out);

/* ---------------------------------------------------------------------------------------------
 * Configuration. All-zero means defaults, given in brackets.
 * ------------------------------------------------------------------------------------------- */
typedef struct gs_net_config {
    gs_net_callbacks_t cb;
    void *user;                  /* passed to every callback */
    uint32_t io_threads;         /* IO threads started by gs_net_start [1] */
    gs_net_backend_t backend;    /* [auto]: see gs_net_backend_t; a backend this build or host
                                  * lacks makes gs_net_create fail with GS_ENOTSUP */
    uint32_t max_sessions;       /* session table capacity [16384] */
    uint32_t max_frame;          /* largest body accepted [64 KiB]; larger disconnects */
    int reject_empty_frames;     /* body length 0 disconnects (zero_len) instead of delivering */
    uint32_t gather_max;         /* buffers gathered into one send [64], at most 1024 */
    uint32_t send_soft_limit;    /* queued bytes over this for longer than the grace cut the */
    uint32_t send_soft_grace_ms; /*   session [256 KiB, 10000 ms]; UINT32_MAX disables */
    uint32_t send_hard_limit;    /* queued bytes over this cut at once [1 MiB]; UINT32_MAX off */
    uint32_t idle_timeout_ms;    /* nothing received for this long closes [0 = off] */
    /* Receive backpressure: a session whose send queue holds more than this (memory, as the send
     * limits count it) is no longer read until the queue is below half of it again: TCP flow
     * control then holds the peer back, and a client that sends without reading its replies can
     * make the server do no more than this much work before the send limits judge it (a
     * reconnecting never-reader would otherwise take the whole loop, docs/net.md "Fairness").
     * Paused time counts as idle for idle_timeout_ms. [min(send_soft_limit, send_hard_limit / 2)
     * of the limits that are on]; UINT32_MAX disables. */
    uint32_t recv_pause_bytes;
    /* Receive share: one session's multishot receive takes at most this many bytes before it is
     * armed again behind the others (so a flood waits its turn, and what arrives after a pause is
     * bounded by it) [4 x recv_buffer_size]. io_uring on Linux >= 6.17 (the kernel's multishot
     * length cap); epoll reads at most this much of a session per pass over the ready ones;
     * elsewhere the kernel's own per-wake limit applies. */
    uint32_t recv_share_bytes;
    /* Per-session receive rate limits [0 = off]: a session that receives more than
     * recv_rate_bytes bytes/s or recv_rate_frames frames/s (framed sessions), measured by a token
     * bucket that holds recv_rate_burst_ms worth of the rate [2000], is cut (reason recv_rate). */
    uint32_t recv_rate_bytes;
    uint32_t recv_rate_frames;
    uint32_t recv_rate_burst_ms;
    /* Per-address accept limits [0 = off]: one peer address (an IPv4 address, or an IPv6 /64)
     * may hold at most addr_max_sessions sessions at once, and connect at most addr_accept_rate
     * times per second (refused attempts count) beyond a burst of addr_accept_burst
     * [2 x addr_accept_rate]; an accept over either
     * is closed at once, before any callback, and counted (accept_addr_sessions,
     * accept_addr_rate). A session cut for abuse (gs_session_cut, or the net layer's own cuts:
     * protocol_error, recv_rate, frame_timeout, send_queue_*) puts its address a whole burst in
     * debt: it may not connect again for addr_accept_burst / addr_accept_rate seconds (2 s by
     * default), so a client that reconnects after every cut gets one session per that time.
     * Loopback peers (127.0.0.0/8,
     * ::1) are exempt unless addr_limit_loopback is set. One table for all IO threads, of
     * max_sessions + 1024 addresses (docs/net.md "Fairness"). */
    uint32_t addr_max_sessions;
    uint32_t addr_accept_rate;
    uint32_t addr_accept_burst;
    int addr_limit_loopback;
    uint32_t frame_timeout_ms; /* a frame incomplete this long closes [10000]; UINT32_MAX off */
    uint32_t tick_ms;          /* deadline check period [100] */
    /* Send coalescing [0 = off]: a session with something to send waits up to this long before
     * its send is posted, so what queues meanwhile leaves in one gathered send (fewer syscalls
     * per frame, like a game server flushing once per tick) at the price of that much latency.
     * Each IO thread flushes all its waiting sessions together; a stop flushes at once. */
    uint32_t send_delay_ms;
    /* io_uring knobs (ignored by other backends) */
    uint32_t ring_entries;        /* SQ size per IO thread [1024]; CQ is twice that */
    uint32_t cq_entries;          /* explicit CQ size [2 × ring_entries] (tests make it tiny) */
    uint32_t recv_buffers;        /* provided receive buffers per IO thread [256], power of 2 */
    uint32_t recv_buffer_size;    /* bytes each [16 KiB]; also IOCP's per-session buffer and
                                   * epoll's read block size (epoll: 16 blocks of [64 KiB], half
                                   * of them lendable, when both this and recv_buffers are 0) */
    int disable_provided_buffers; /* test/fallback: one malloc'd receive buffer per recv */
    /* test/fallback: each receive takes a whole ring buffer, as on kernels before 6.12, instead
     * of the kernel filling each buffer across receives (IOU_PBUF_RING_INC) */
    int disable_incremental_buffers;
    /* Test knob (docs/testing.md E02): submit at most a random 1..debug_send_max bytes per send, so
     * every send may come back short and the resubmission path runs. 0 = off. */
    uint32_t debug_send_max;
} gs_net_config_t;

/* ---------------------------------------------------------------------------------------------
 * Lifecycle. create → listen/connect → start → … → stop → destroy.
 * create/listen/start/stop/destroy: call from one controlling thread (not from a callback).
 * ------------------------------------------------------------------------------------------- */

/* Allocate the instance and its backend (rings / completion ports are created here so that
 * errors surface early; on Windows this also takes a Winsock reference, WSAStartup, released
 * by gs_net_destroy). Returns 0, GS_EINVAL (bad config), GS_ENOMEM, GS_ENOTSUP (no io_uring),
 * GS_ESYS. */
int gs_net_create(gs_net_t **out, const gs_net_config_t *cfg);

typedef struct gs_listen_config {
    const char *host; /* numeric IPv4 or IPv6 address ["127.0.0.1"] */
    uint16_t port;    /* 0 picks a free port: read it back with gs_net_listen_port */
    int raw;          /* sessions accepted here are raw byte streams (on_data), not framed */
    int backlog;      /* [511] */
} gs_listen_config_t;

/* Bind and listen (before gs_net_start). Several listeners may be added. The port is taken
 * exclusively: if another socket (another server) holds it, this fails with GS_EADDRINUSE, after
 * retrying for up to 500 ms so that a server restarted right after its predecessor was
 * killed gets the port once the old socket is gone (logged). Returns 0, GS_EADDR,
 * GS_EADDRINUSE, GS_ESYS (bind/listen failed otherwise; errno logged), GS_ESTATE (already
 * started). */
int gs_net_listen(gs_net_t *net, const gs_listen_config_t *lc);
/* Port of the first listener (useful with port 0). 0 if none. Any thread. */
uint16_t gs_net_listen_port(gs_net_t *net);

/* Start the IO threads. Returns 0 or GS_ESYS / GS_ENOMEM / GS_ESTATE. */
int gs_net_start(gs_net_t *net);

/* Graceful stop: stop accepting; give sessions until flush_ms to send what they have queued;
 * then close every session (reason shutdown), wait for every IO operation to complete, and join
 * the IO threads. on_close runs for every open session before this returns. Returns the number
 * of buffers that were still queued and never sent (0 when everything was flushed).
 * Not from an IO thread. */
uint64_t gs_net_stop(gs_net_t *net, uint32_t flush_ms);

/* Free everything. Stops first if still running. */
void gs_net_destroy(gs_net_t *net);

/* Outgoing connection, asynchronous. Any thread, after gs_net_start. On success returns 0 and
 * later exactly one of on_open or on_close(CONNECT_FAILED) runs; *out_id (if not NULL) gets the
 * id at once. On error returns GS_EADDR, GS_EFULL (session table full), GS_ESTATE, GS_ESYS and
 * no callback runs. */
typedef struct gs_connect_config {
    const char *host; /* numeric IPv4 or IPv6 address */
    uint16_t port;
    int raw;
    void *session_user;
} gs_connect_config_t;
int gs_net_connect(gs_net_t *net, const gs_connect_config_t *cc, gs_session_id_t *out_id);

/* ---------------------------------------------------------------------------------------------
 * Sessions. Every function here may be called from any thread, including from callbacks.
 * ------------------------------------------------------------------------------------------- */

/* Queue buf for sending on the session. Takes its own reference (see gs_buf_t); the caller's is
 * untouched. Buffers queued by one thread go out in the order that thread queued them.
 * Returns 0; GS_ESTALE (id gone: zero bytes sent, nothing queued); GS_ECLOSING (session is
 * closing); GS_ESENDQ (queueing it would pass the hard limit: the session is disconnected with
 * reason send_queue_hard); GS_ENOMEM. On any error the reference taken is already released. */
int gs_session_send(gs_net_t *net, gs_session_id_t id, gs_buf_t *buf);
/* gs_session_send of one buffer to n sessions, for broadcasts: one allocation for all the queue
 * links and one reference-count update instead of n of each. A target that is stale, closing or
 * over its hard limit is skipped exactly as gs_session_send would refuse it. Returns 0 (then
 * *sent, if not NULL, is the number of sessions that queued it), GS_ENOMEM or GS_EINVAL (n above
 * 2^31): then nothing was queued. */
int gs_session_send_many(gs_net_t *net, const gs_session_id_t *ids, size_t n, gs_buf_t *buf,
                         size_t *sent);

/* Ask the session to close. Pending IO is cancelled; on_close(LOCAL) runs later on the
 * session's IO thread. Queued sends are dropped (use gs_net_stop's flush for graceful close).
 * Returns 0, GS_ESTALE. Calling it twice is harmless (the first reason wins). */
int gs_session_disconnect(gs_net_t *net, gs_session_id_t id);
/* Close once what is queued (by then) has been sent: for a last reply before a cut (an error,
 * a kick notice). From this call on, gs_session_send (and send_many) to the session is refused
 * with GS_ECLOSING, so what was queued before it is the last that goes out. Frames that arrive
 * meanwhile are dropped. On an outgoing session still connecting, the close comes once it has
 * opened and flushed (or with the failed connect). If the peer does not take the bytes within
 * 2 s, the session closes anyway. on_close(LOCAL) follows. Any thread. Returns 0, GS_ESTALE. */
int gs_session_close_flushed(gs_net_t *net, gs_session_id_t id);
/* Cut a session for misbehaviour (a flood, a bad request the policy does not forgive): as
 * gs_session_close_flushed when flushed is non-zero (a last error reply goes out first), else as
 * gs_session_disconnect; the close reason is abuse (on_close(ABUSE), disconnects{reason="abuse"})
 * and, with per-address limits on, the peer's address may not connect again for a burst's
 * worth of the accept rate (addr_accept_burst / addr_accept_rate s), so reconnecting at once
 * after each cut gains the abuser nothing. Any thread. Returns 0, GS_ESTALE. */
int gs_session_cut(gs_net_t *net, gs_session_id_t id, int flushed);

/* Replace the per-session user pointer passed to callbacks. Returns 0 or GS_ESTALE. */
int gs_session_set_user(gs_net_t *net, gs_session_id_t id, void *session_user);

/* Memory held by what is queued for the session and not yet acknowledged by a send completion:
 * the buffers' charges plus any queue links allocated for them (what the send limits bound).
 * Returns 0 or GS_ESTALE. */
int gs_session_queued_bytes(gs_net_t *net, gs_session_id_t id, uint64_t *out);

/* Inside on_frame, on its IO thread: the frame being delivered, whole as it came (header and
 * body), in a buffer with one reference owned by the caller, without a copy: to send it on (an
 * echo, a relay, a broadcast of what a client sent) or keep it past the callback. It points into
 * the receive buffer when the frame lies whole there (the receive buffer is then lent: it does
 * not go back to the kernel until the last reference is dropped, on any thread), or is the buffer
 * the frame was reassembled in when it spanned receives. Returns NULL when that is not possible
 * (a header split across receives, a backend that lends no receive buffers such as IOCP, more
 * than half of the IO thread's receive buffers lent already, out of memory), or outside on_frame:
 * then copy the body yourself (into a pooled packet). Charged like any buffer: its bytes and its
 * descriptor. Release every such buffer before gs_net_destroy. Counted in gs_net_stats as
 * frames_held and frames_hold_refused. */
gs_buf_t *gs_net_frame_hold(gs_net_t *net);
/* The same inside on_data (raw sessions): the bytes being delivered. */
gs_buf_t *gs_net_data_hold(gs_net_t *net);

/* Make IO thread io_thread (0-based) run a pass of its loop soon, calling on_pass: for work
 * handed to it from other threads. Cheap when it is already awake or signalled; a no-op when
 * called on that IO thread itself (its pass comes anyway). Any thread. */
void gs_net_wake(gs_net_t *net, uint32_t io_thread);
/* The index of this net's IO thread that is running the caller, or -1 on any other thread: for
 * code that must know where it runs (assertions, run_on_io_thread). Any thread. */
int gs_net_io_thread(gs_net_t *net);

/* Counters, summed over the IO threads. Any thread. */
void gs_net_stats(gs_net_t *net, gs_net_stats_t *out);
/* The counters of IO thread io_thread alone (0-based; the gauges too). Returns 0, or GS_EINVAL
 * when there is no such IO thread (out is zeroed). Any thread. */
int gs_net_io_stats(gs_net_t *net, uint32_t io_thread, gs_net_stats_t *out);
/* Turn the GS_NET_HIST_MAP histograms on or off (a metrics exporter turns them on). Any thread,
 * any time; events before it was turned on are not counted. */
void gs_net_set_histograms(gs_net_t *net, int on);
/* The backend the instance runs on: "io_uring", "epoll" or "iocp". */
const char *gs_net_backend_name(const gs_net_t *net);
/* The config the instance runs with, defaults filled in. */
const gs_net_config_t *gs_net_config(gs_net_t *net);

#ifdef __cplusplus
}
#endif
#endif /* GS_NET_H */

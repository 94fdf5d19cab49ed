/* SPDX-License-Identifier: MIT */
/* Internal types shared by the session core (net.c, session.c) and the backends. */
#ifndef GS_NET_INTERNAL_H
#define GS_NET_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "gs/net.h"
#include "framer.h"
#include "port.h"
#include "addr_limit.h"
#include "session_table.h"

#define GS__LOG          "net"
#define GS__GATHER_LIMIT 1024u

/* Session states, seen only by the owning loop's thread. */
enum { GS__S_CONNECTING = 1, GS__S_OPEN, GS__S_CLOSED };

/* Inbox work flags (gs__session_t.pending): why a session was pushed to its loop's inbox. */
enum {
    GS__P_KICK = 1u << 0,          /* a foreign thread won the send flag: flush the queue */
    GS__P_CLOSE = 1u << 1,         /* a foreign thread asked for a close (reason in close_reason) */
    GS__P_CONNECT = 1u << 2,       /* a new outgoing session: post its connect */
    GS__P_RELEASE = 1u << 3,       /* a foreign put dropped the last reference */
    GS__P_CLOSE_FLUSHED = 1u << 4, /* a foreign thread asked to close once its sends are out */
};

/* A queued buffer reference: the per-(session, buffer) link, since one buffer may sit in many
 * sessions' queues when broadcast. The first session to queue a buffer uses the link embedded in
 * it (kind == buf: no allocation); another session queueing it while that link is busy gets one
 * malloc'd alone (kind NULL); gs_session_send_many takes all of a broadcast's links from one
 * block (kind = the block), freed when the last of them is consumed. */
typedef gs__buf_qlink_t gs__send_node_t;
typedef struct gs__node_block {
    _Atomic size_t left; /* nodes not yet consumed or dropped */
    gs__send_node_t nodes[];
} gs__node_block_t;

static inline int gs__send_node_embedded(const gs__send_node_t *n) { return n->kind == n->buf; }

/* What a queued node holds, as charged to the session's queue at send: the buffer's charge plus
 * the link when it was allocated for it. */
static inline uint64_t gs__send_node_charge(const gs__send_node_t *n) {
    return (uint64_t)n->buf->charge + (gs__send_node_embedded(n) ? 0 : sizeof(gs__send_node_t));
}

/* Any thread: a node has been consumed (sent or dropped); free it or its share of the block.
 * Call it while the buffer is still referenced (an embedded link lives in the buffer). */
static inline void gs__send_node_free(gs__send_node_t *n) {
    if (gs__send_node_embedded(n)) {
        /* Release: the link's last use (the pop) happens before another sender claims it. */
        atomic_store_explicit(&n->buf->qlink_busy, 0, memory_order_release);
        return;
    }
    gs__node_block_t *b = n->kind;
    if (!b)
        free(n);
    else if (atomic_fetch_sub_explicit(&b->left, 1, memory_order_acq_rel) == 1)
        free(b);
}

/* One gathered send in flight. Allocated per loop (reused from a free list), sized for
 * gather_max buffers; the iovec array is laid out by the core as {base,len} pairs compatible
 * with struct iovec, and the backend keeps whatever else it needs in port_space. */
typedef struct gs__iov {
    void *base;
    size_t len;
} gs__iov_t;

struct gs__send_req {
    gs__send_req_t *next_free;
    gs__session_t *session;
    uint32_t nbufs;     /* buffers in this send */
    uint32_t iov_first; /* first iov not fully sent (short sends advance it) */
    uint64_t bytes;     /* total bytes of all buffers */
    uint64_t charged;   /* what they were charged to the session's queue (gs__send_node_charge) */
    uint64_t sent;      /* bytes acknowledged so far */
    /* backend scratch (io_uring: struct msghdr; IOCP: the send's OVERLAPPED) */
    _Alignas(16) unsigned char port_space[64];
    gs_buf_t **bufs; /* points just after the struct */
    gs__iov_t *iov;
};

/* Why a session closes once its send queue is flushed (gs__session_t.peer_eof bits). */
enum {
    GS__EOF_PEER = 1u << 0,  /* orderly end from the peer */
    GS__EOF_LOCAL = 1u << 1, /* gs_session_close_flushed: frame_start_ms holds the deadline */
};

struct gs__session {
    gs__life_t *life; /* into the table; generation + references */
    gs_net_t *net;
    gs__loop_t *loop;
    _Atomic(void *) user;
    _Atomic uint32_t pending;       /* GS__P_* flags; non-zero while in the inbox */
    _Atomic uint32_t send_flag;     /* 1 while one send (or its scheduling) is owned */
    _Atomic uint32_t close_reason;  /* first reason wins; 0 while open */
    _Atomic uint32_t flush_closing; /* gs_session_close_flushed was called: sends refused */
    uint32_t slot;
    intptr_t fd;
    uint8_t state;
    uint8_t raw;
    uint8_t peer_eof;      /* GS__EOF_*: close once the queue is flushed */
    uint8_t send_parked;   /* flag owned while connecting: send once open */
    uint8_t recv_paused;   /* receive backpressure: the send queue passed recv_pause_bytes */
    uint8_t recv_parked;   /* the backend ended the receive while paused and holds its reference */
    uint8_t eof_deferred;  /* the peer's orderly end came in behind a backlog */
    uint8_t resume_listed; /* in the loop's resume list */
    uint32_t addr_slot;    /* its entry in net->addr_limit, or GS__ADDR_SLOT_NONE */
    /* Receive backpressure: input that arrived, or was left in a feed, while the receive was
     * paused; fed first when the pause ends (docs/net.md "Fairness"). */
    uint8_t *backlog;
    uint32_t backlog_len, backlog_cap;
    gs__session_t *resume_next;
    uint32_t frames_this_feed;
    gs_mpsc_node_t inbox_node;
    gs_mpsc_t sendq;
    _Atomic uint64_t queued_bytes;
    uint64_t id;
    gs__session_t *flush_next;
    gs_list_t link;       /* loop's list of sessions (deadline scan, shutdown) */
    gs_list_t rearm_link; /* loop's FIFO of receives waiting for buffers */
    uint64_t last_recv_ms;
    uint64_t frame_start_ms;
    uint64_t soft_since_ms;
    /* recv_rate_bytes / recv_rate_frames token buckets, in rate x milliseconds (one byte or
     * frame costs 1000), refilled at rate_ms. */
    uint64_t rate_bytes_tokens, rate_frames_tokens, rate_ms;
    void *port_data; /* backend per-session data (connect address, fallback
                      * receive buffer); freed by the backend at release */
    gs_framer_t framer;
};

/* Counters owned by one loop: written by its thread only (relaxed load+store, no lock prefix),
 * read by anyone with relaxed loads. */
typedef _Atomic uint64_t gs__ctr_t;
static inline void gs__ctr_add(gs__ctr_t *c, uint64_t n) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}
static inline uint64_t gs__ctr_get(gs__ctr_t *c) {
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* The bytes_queued / bufs_queued gauges of one loop's sessions: added to by any sending thread
 * (atomic read-modify-write on the loop's line, not a net-wide one), taken off by the loop thread
 * alone when buffers complete or are dropped. Summed on read. */
typedef struct gs__loop_gauges {
    _Alignas(GS_CACHELINE) _Atomic uint64_t bufs_in, bytes_in;
    gs__ctr_t bufs_out, bytes_out;
} gs__loop_gauges_t;

/* One IO thread's counters: the LOOP entries of GS_NET_STATS_MAP (gs/net.h). */
#define GS__LS_LOOP(f) gs__ctr_t f;
#define GS__LS_PORT(f)
#define GS__LS_CALC(f)
#define GS__LS_FIELD(f, src, kind, metric, help) GS__LS_##src(f)
#define GS__LS_VEC_LOOP(f, n)                    gs__ctr_t f[n];
#define GS__LS_VEC_PORT(f, n)
#define GS__LS_VEC(f, src, n, label, fn, kind, metric, help) GS__LS_VEC_##src(f, n)
typedef struct gs__loop_stats {
    GS_NET_STATS_MAP(GS__LS_FIELD)
    GS_NET_STATS_VEC_MAP(GS__LS_VEC)
} gs__loop_stats_t;

struct gs__loop {
    gs_net_t *net;
    uint32_t index;
    gs_thread_t *thread;
    gs__port_t *port;
    uint64_t now_ms;           /* cached at each iteration */
    uint64_t accept_resume_ms; /* accepting paused for lack of descriptors until then (0: not) */
    uint64_t next_tick_ms;
    int stopping;    /* loop thread copy of net->stopping */
    int closing_all; /* flush deadline passed: every session closed */
    uint64_t flush_deadline_ms;
    uint32_t nsessions; /* sessions on this loop (list length) */
    gs_list_t sessions;
    gs_list_t rearm_fifo;
    gs__session_t *flush_head, *flush_tail; /* sessions to flush at the end of this batch */
    uint64_t flush_at_ms;                   /* send_delay_ms: when the flush list goes out */
    int pass_again;                         /* on_pass asked to be called again at once */
    gs__session_t *deferred;                /* flushes that found a half-pushed queue: next pass */
    gs__session_t *resume_head;             /* sessions whose receive pause ended: feed, re-arm */
    gs__send_req_t *free_reqs;
    gs__loop_stats_t st;
    gs__loop_gauges_t q;
#define GS__LH_FIELD(f, bounds, n, metric, help) gs_hist_t h_##f;
    GS_NET_HIST_MAP(GS__LH_FIELD) /* written by this loop only, while net->hist_on */
#undef GS__LH_FIELD
    /* While on_frame / on_data runs: the session and what it is being given (gs_net_frame_hold). */
    gs__session_t *cur_session;
    const uint8_t *cur_bytes;
    uint32_t cur_len, cur_msg_id;
    _Alignas(GS_CACHELINE) gs_mpsc_t inbox;
    _Alignas(GS_CACHELINE) _Atomic uint32_t wake_pending;
};

struct gs__listener {
    gs__listener_t *next;
    int raw;
    uint16_t port;
    uint32_t nfds;   /* sockets in fds: one, shared by the loops (see sock.h) */
    intptr_t *fds;   /* room for one per loop; see sock.h */
    uint8_t *armed;  /* per loop: accepting armed (backend-defined states) */
    void *port_data; /* backend per-listener data (IOCP: the pre-posted AcceptEx requests) */
};

struct gs_net {
    gs_net_config_t cfg;
    const gs__port_ops_t *ops; /* the backend in use, chosen at gs_net_create */
    /* Why the last backend tried refused to start (its init writes it; logged by the core). */
    char backend_refused[128];
    gs__session_table_t table;
    gs__session_t *sessions; /* capacity entries, parallel to the table */
    uint32_t nloops;
    gs__loop_t *loops;
    gs__listener_t *listeners;
    _Atomic uint32_t next_loop; /* round robin for connects */
    _Atomic int started, stopping;
    int stopped;
    uint32_t flush_ms; /* gs_net_stop's flush window */
    _Atomic uint64_t unsent;
    /* Lines a client can cause at will (its cut, its rejected frame) go through these. */
    gs_log_limit_t log_close, log_reject;
    _Atomic int hist_on; /* gs_net_set_histograms */
    int addr_limit_on;   /* addr_max_sessions or addr_accept_rate set */
    int ring_defaulted;  /* recv_buffers and recv_buffer_size left to the backend */
    gs__addr_limit_t addr_limit;
};

/* ---- the backend's operations (port.h), through the net's table ---- */
static inline int gs__port_init(gs__loop_t *loop) { return loop->net->ops->init(loop); }
static inline void gs__port_fini(gs__loop_t *loop) { loop->net->ops->fini(loop); }
/* Any thread: make the loop's thread look at its inbox soon. One signal per sleep, however many
 * producers: the loop clears wake_pending before it drains its inbox, so a push after that point
 * signals again. */
static inline void gs__port_wake(gs__loop_t *loop) {
    if (atomic_exchange_explicit(&loop->wake_pending, 1, memory_order_seq_cst) == 0)
        loop->net->ops->signal(loop);
}
static inline int gs__port_accept_start(gs__loop_t *loop, gs__listener_t *l) {
    return loop->net->ops->accept_start(loop, l);
}
static inline void gs__port_accept_stop(gs__loop_t *loop, gs__listener_t *l) {
    loop->net->ops->accept_stop(loop, l);
}
static inline int gs__port_recv_start(gs__session_t *s) { return s->net->ops->recv_start(s); }
static inline void gs__port_recv_pause(gs__session_t *s) { s->net->ops->recv_pause(s); }
static inline int gs__port_send(gs__session_t *s, gs__send_req_t *req) {
    return s->net->ops->send(s, req);
}
static inline int gs__port_connect_prepare(gs__session_t *s, const gs__addr_t *addr) {
    return s->net->ops->connect_prepare(s, addr);
}
static inline int gs__port_connect(gs__session_t *s) { return s->net->ops->connect(s); }
static inline void gs__port_cancel(gs__session_t *s) { s->net->ops->cancel(s); }
static inline void gs__port_session_release(gs__session_t *s) { s->net->ops->session_release(s); }
static inline void gs__port_close_fd(gs__loop_t *loop, intptr_t fd) {
    loop->net->ops->close_fd(fd);
}
static inline gs_buf_t *gs__port_lend(gs__loop_t *loop, const uint8_t *data, uint32_t len) {
    return loop->net->ops->lend ? loop->net->ops->lend(loop, data, len) : NULL;
}
static inline void gs__port_stats(gs__loop_t *loop, gs__port_stats_t *out) {
    loop->net->ops->stats(loop, out);
}

/* loop.c: the IO thread's body, one for every backend: poll, batch end, ticks, accept pauses;
 * returns once the loop is stopping and has no session and no operation left. */
void gs__loop_run(gs__loop_t *loop);

/* The loop whose thread is running the caller, or NULL on any other thread. */
extern _Thread_local gs__loop_t *gs__tls_loop;

/* session.c */
void gs__session_put(gs__session_t *s);
static inline void gs__session_ref(gs__session_t *s) { gs__life_ref(s->life); }
void gs__session_release(gs__session_t *s);
void gs__session_close(gs__session_t *s, gs_close_reason_t reason);
void gs__session_init(gs__session_t *s, gs__loop_t *loop, uint64_t id, intptr_t fd, int raw,
                      void *user);
void gs__session_kick(gs__session_t *s);
void gs__session_post_connect(gs__session_t *s);
void gs__session_request_close(gs__session_t *s, gs_close_reason_t reason);
/* Loop thread: close once everything queued is out; if nothing is, now. */
void gs__session_close_when_flushed(gs__session_t *s);

/* recv.c, loop thread. */
void gs__recv_init(gs__session_t *s, uint64_t now_ms); /* rate buckets full */
void gs__recv_fini(gs__session_t *s);                  /* frees the backlog */
void gs__recv_pressure_check(gs__session_t *s);        /* pause if the queue is over the limit */
void gs__recv_pressure_release(gs__session_t *s);      /* end the pause once it has drained */
void gs__recv_pause_end(gs__session_t *s);
void gs__recv_resume_all(gs__loop_t *loop); /* batch end: feed backlogs, re-arm */

/* gs_session_close_flushed: any thread. */
void gs__session_request_close_flushed(gs__session_t *s);
/* How long a session closing once flushed waits for its peer to take the last bytes. */
#define GS__CLOSE_FLUSH_MS 2000u
gs__send_req_t *gs__req_get(gs__loop_t *loop);
void gs__req_put(gs__loop_t *loop, gs__send_req_t *req);
void gs__loop_free_reqs(gs__loop_t *loop);

#endif /* GS_NET_INTERNAL_H */

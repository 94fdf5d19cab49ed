/* SPDX-License-Identifier: MIT */
/* io_uring backend: one ring per IO thread; multishot accept; multishot recv into a small ring
 * of provided buffers (so idle sessions pin no receive memory) with an -ENOBUFS re-arm FIFO;
 * send / gathered sendmsg; async connect; cancel by fd; an eventfd read as the inbox wake-up.
 * Features are probed at run time and the backend falls back inside itself: rings without
 * SINGLE_ISSUER/DEFER_TASKRUN, kernels without buffer rings (one heap buffer per session),
 * kernels without multishot recv (single-shot recv re-armed after each completion). */
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"
#include "sock.h"

_Static_assert(sizeof(gs__iov_t) == sizeof(struct iovec) &&
                   offsetof(gs__iov_t, base) == offsetof(struct iovec, iov_base) &&
                   offsetof(gs__iov_t, len) == offsetof(struct iovec, iov_len),
               "gs__iov_t must be layout-compatible with struct iovec");
_Static_assert(sizeof(struct msghdr) <= sizeof(((gs__send_req_t *)0)->port_space),
               "msghdr must fit in the send request's backend space");

/* user_data = pointer | tag. Sessions, listeners and requests are at least 8-byte aligned. */
enum { TAG_IGNORE = 0, TAG_RECV = 1, TAG_CONNECT = 2, TAG_SEND = 3, TAG_ACCEPT = 4, TAG_WAKE = 5 };
#define TAG_MASK     7u
#define UD(ptr, tag) ((uint64_t)(uintptr_t)(ptr) | (tag))

#define BGID          0
#define ACCEPT_PAUSED 2 /* gs__listener_t.armed: paused after EMFILE, re-armed on a tick */

/* Incrementally consumed buffer rings (kernel >= 6.12; liburing 2.3's headers predate them, and
 * its io_uring_buf_reg calls the flags field `pad`). Probed at run time: an older kernel refuses
 * the flag with -EINVAL and the ring is registered without it. */
#ifndef IOU_PBUF_RING_INC
#define IOU_PBUF_RING_INC 2
#endif
#ifndef IORING_CQE_F_BUF_MORE
#define IORING_CQE_F_BUF_MORE (1U << 4)
#endif
/* The ring when the application leaves its size to us and the kernel consumes buffers
 * incrementally: one small ring that stays in L2 (../PERF-NOTES: 16 x 64 KiB reached 1.07-1.16x
 * libuv where 256 x 32 KiB reached 0.5-0.7x at 4 KiB messages), every buffer shared by many
 * receives instead of one buffer per receive. */
#define INC_DEFAULT_BUFS 16u
#define INC_DEFAULT_SIZE (64u * 1024u)

struct gs__port {
    struct io_uring ring;
    int ring_ready;
    int disabled; /* created with IORING_SETUP_R_DISABLED: enable on the IO thread */
    int evfd;
    uint64_t evbuf;
    int wake_armed;
    int tearing_down;
    /* provided receive buffers */
    int use_pbuf, use_multishot;
    int use_inc;   /* IOU_PBUF_RING_INC: the kernel fills each buffer across several receives */
    int use_share; /* multishot receives carry a length cap (recv_share_bytes) */
    struct io_uring_buf_ring *br;
    size_t br_size;
    uint8_t *bufs;
    uint32_t nbufs, bufsize;
    int mask;
    /* Lending receive buffers (uring_lend): per buffer, the references of buffers lent out of
     * it plus one while a completion delivers it; the buffer goes back to the ring when that
     * reaches 0. Loop thread only: lends released on other threads come back through `returns`
     * and are counted off here. */
    uint32_t *brefs;
    uint32_t *boff;     /* incremental rings: bytes of each buffer the kernel has filled */
    uint32_t *blends;   /* lends outstanding per buffer (a buffer with any counts in `lent`) */
    int cur_bid;        /* the buffer gs__on_recv is delivering, or -1 */
    uint32_t lent;      /* buffers with lends outstanding: kept out of the ring by them */
    uint32_t lends_max; /* lends out at once, at most (see uring_lend) */
    uint32_t lends_out; /* lends not yet returned */
    struct lend *free_lends;
    struct lend_chunk *lend_chunks;
    gs_mpsc_t returns;
    uint64_t rng; /* debug_send_max's random lengths */
    /* counters (written by the loop thread only) */
    gs__ctr_t io_in_flight, cq_overflows, enobufs, recv_rearms, lent_gauge;
};

/* A lent slice of a receive buffer: the net buffer the user holds, and where it came from. */
typedef struct lend {
    gs_buf_t buf;
    gs__loop_t *loop;
    uint32_t bid;
    gs_mpsc_node_t ret; /* in port->returns when released on another thread */
    struct lend *next_free;
} lend_t;

#define LENDS_PER_CHUNK 256
/* Lends outstanding at once: 8 per receive buffer, and with incremental rings (where one buffer
 * holds many frames) one per 256 bytes of ring. This bounds the descriptors a loop ever
 * allocates (2 048 x 88 bytes = 176 KiB with either default ring), which are kept for reuse and
 * not given back, whatever a slow peer or a handler holds on to. */
#define LENDS_PER_BUF  8u
#define LEND_MIN_BYTES 256u
typedef struct lend_chunk {
    struct lend_chunk *next;
    lend_t lends[LENDS_PER_CHUNK];
} lend_chunk_t;

static void drain_returns(gs__port_t *p);

/* Per-session backend data, allocated only when needed: the address of an outgoing connect and,
 * without provided buffers, the session's own receive buffer. */
typedef struct uring_sess {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint8_t *rbuf;
} uring_sess_t;

static void in_flight(gs__port_t *p, int delta) {
    gs__ctr_add(&p->io_in_flight, (uint64_t)(int64_t)delta);
}

/* An SQE, submitting what is queued when the SQ is full (tests run with 2-4 entries). */
static struct io_uring_sqe *get_sqe(gs__port_t *p) {
    for (int tries = 0; tries < 1000; tries++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&p->ring);
        if (sqe)
            return sqe;
        int rc = io_uring_submit(&p->ring);
        if (rc < 0 && rc != -EBUSY && rc != -EAGAIN && rc != -EINTR) {
            gs_log(GS_LOG_ERROR, GS__LOG, "io_uring_submit: %s", strerror(-rc));
            return NULL;
        }
    }
    gs_log(GS_LOG_ERROR, GS__LOG, "submission queue stayed full");
    return NULL;
}

/* ---- setup ------------------------------------------------------------------------------- */

static int ring_setup(gs__port_t *p, gs_net_t *net) {
    const gs_net_config_t *cfg = &net->cfg;
    /* Newest first; each fallback drops what an older kernel rejects with -EINVAL. */
    const unsigned variants[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL |
            IORING_SETUP_R_DISABLED,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        0,
    };
    int rc = -EINVAL;
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        struct io_uring_params params;
        memset(&params, 0, sizeof(params));
        params.flags = variants[i] | IORING_SETUP_CQSIZE;
        params.cq_entries = cfg->cq_entries;
        rc = io_uring_queue_init_params(cfg->ring_entries, &p->ring, &params);
        if (rc == 0) {
            p->disabled = (variants[i] & IORING_SETUP_R_DISABLED) != 0;
            if (!(params.features & IORING_FEAT_NODROP))
                gs_log(GS_LOG_WARN, GS__LOG,
                       "kernel lacks IORING_FEAT_NODROP: a CQ overflow "
                       "would lose completions; use a larger CQ");
            return 0;
        }
        if (rc != -EINVAL)
            break;
    }
    /* Refused, not failed: a seccomp filter (Docker's default profile: EPERM), the sysctl
     * kernel.io_uring_disabled (EPERM), gVisor or a kernel without io_uring (ENOSYS), or one
     * too old for every variant (EINVAL). The core logs the reason once and, with backend auto,
     * goes on with the next backend. */
    snprintf(net->backend_refused, sizeof net->backend_refused, "io_uring_setup: %s",
             strerror(-rc));
    return rc == -ENOSYS || rc == -EPERM || rc == -EINVAL ? GS_ENOTSUP : GS_ESYS;
}

static int probe_ops(gs__port_t *p, gs_net_t *net) {
    struct io_uring_probe *probe = io_uring_get_probe_ring(&p->ring);
    if (!probe) {
        snprintf(net->backend_refused, sizeof net->backend_refused, "io_uring probe refused");
        return GS_ENOTSUP;
    }
    static const int needed[] = {IORING_OP_ACCEPT,      IORING_OP_CONNECT, IORING_OP_RECV,
                                 IORING_OP_SEND,        IORING_OP_SENDMSG, IORING_OP_READ,
                                 IORING_OP_ASYNC_CANCEL};
    int ok = 1;
    for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
        if (ok && !io_uring_opcode_supported(probe, needed[i])) {
            snprintf(net->backend_refused, sizeof net->backend_refused, "io_uring lacks opcode %d",
                     needed[i]);
            ok = 0;
        }
    }
    io_uring_free_probe(probe);
    return ok ? 0 : GS_ENOTSUP;
}

/* Register a ring of nbufs entries at mem, incrementally consumed if inc. 0 or -errno. */
static int register_ring(gs__port_t *p, void *mem, uint32_t nbufs, int inc) {
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (unsigned long)(uintptr_t)mem;
    reg.ring_entries = nbufs;
    reg.bgid = BGID;
    reg.pad = inc ? IOU_PBUF_RING_INC : 0; /* the flags field */
    return io_uring_register_buf_ring(&p->ring, &reg, 0);
}

static void pbuf_setup(gs__port_t *p, const gs_net_config_t *cfg, int size_defaulted) {
    p->use_pbuf = 0;
    if (cfg->disable_provided_buffers)
        return;
    /* Room for the larger of the two rings we may register. */
    uint32_t ring_max = cfg->recv_buffers > INC_DEFAULT_BUFS ? cfg->recv_buffers : INC_DEFAULT_BUFS;
    p->br_size = sizeof(struct io_uring_buf) * ring_max;
    void *mem = mmap(NULL, p->br_size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED)
        return;
    p->br = mem;
    /* Incremental first, with the small default ring if the size is ours to choose; a kernel
     * before 6.12 refuses the flag and gets the configured ring, consumed a buffer per receive. */
    int rc = -EINVAL;
    if (!cfg->disable_incremental_buffers) {
        p->nbufs = size_defaulted ? INC_DEFAULT_BUFS : cfg->recv_buffers;
        p->bufsize = size_defaulted ? INC_DEFAULT_SIZE : cfg->recv_buffer_size;
        rc = register_ring(p, mem, p->nbufs, 1);
        p->use_inc = rc == 0;
    }
    if (rc == -EINVAL) {
        p->nbufs = cfg->recv_buffers;
        p->bufsize = cfg->recv_buffer_size;
        rc = register_ring(p, mem, p->nbufs, 0);
    }
    if (rc == 0) {
        p->bufs = malloc((size_t)p->nbufs * p->bufsize);
        p->brefs = calloc(p->nbufs, sizeof(*p->brefs));
        p->boff = calloc(p->nbufs, sizeof(*p->boff));
        p->blends = calloc(p->nbufs, sizeof(*p->blends));
        if (!p->bufs || !p->brefs || !p->boff || !p->blends) {
            io_uring_unregister_buf_ring(&p->ring, BGID);
            rc = -ENOMEM;
        }
    }
    if (rc != 0) {
        gs_log(GS_LOG_INFO, GS__LOG, "no provided buffer ring (%s): one buffer per session",
               strerror(-rc));
        free(p->bufs);
        free(p->brefs);
        free(p->boff);
        free(p->blends);
        munmap(mem, p->br_size);
        p->bufs = NULL;
        p->brefs = p->boff = p->blends = NULL;
        p->br = NULL;
        p->use_inc = 0;
        return;
    }
    io_uring_buf_ring_init(p->br);
    p->mask = io_uring_buf_ring_mask(p->nbufs);
    for (uint32_t i = 0; i < p->nbufs; i++) {
        io_uring_buf_ring_add(p->br, p->bufs + (size_t)i * p->bufsize, p->bufsize,
                              (unsigned short)i, p->mask, (int)i);
        p->brefs[i] = (uint32_t)p->use_inc; /* the kernel's, while it may still fill it */
    }
    io_uring_buf_ring_advance(p->br, (int)p->nbufs);
    uint64_t by_bytes = (uint64_t)p->nbufs * p->bufsize / LEND_MIN_BYTES;
    p->lends_max = LENDS_PER_BUF * p->nbufs;
    if (p->use_inc && by_bytes > p->lends_max)
        p->lends_max = (uint32_t)(by_bytes < UINT32_MAX ? by_bytes : UINT32_MAX);
    p->use_pbuf = 1;
}

static int uring_init(gs__loop_t *loop) {
    const gs_net_config_t *cfg = &loop->net->cfg;
    gs__port_t *p = calloc(1, sizeof(*p));
    if (!p)
        return GS_ENOMEM;
    p->evfd = -1;
    p->cur_bid = -1;
    gs_mpsc_init(&p->returns);
    p->rng = 0x9E3779B97F4A7C15ull ^ (uint64_t)loop->index;
    int rc = ring_setup(p, loop->net);
    if (rc) {
        free(p);
        return rc;
    }
    p->ring_ready = 1;
    rc = probe_ops(p, loop->net);
    if (rc == 0) {
        p->evfd = eventfd(0, EFD_CLOEXEC);
        if (p->evfd < 0)
            rc = GS_ESYS;
    }
    if (rc) {
        io_uring_queue_exit(&p->ring);
        free(p);
        return rc;
    }
    pbuf_setup(p, cfg, loop->net->ring_defaulted);
    if (p->use_pbuf && loop->net->ring_defaulted) {
        /* Say what the ring is (gs_net_config): the size was ours to pick. gs_net_create runs
         * this on its own thread, before any IO thread reads the config. */
        loop->net->cfg.recv_buffers = p->nbufs;
        loop->net->cfg.recv_buffer_size = p->bufsize;
    }
    p->use_multishot = p->use_pbuf; /* multishot recv needs provided buffers */
    p->use_share = p->use_multishot && cfg->recv_share_bytes != UINT32_MAX;
    loop->port = p;
    return 0;
}

static void uring_fini(gs__loop_t *loop) {
    gs__port_t *p = loop->port;
    if (!p)
        return;
    /* Lends released after the loop thread ended (between gs_net_stop and here) wait here; no
     * thread runs the loop any more, so this one may take them. */
    drain_returns(p);
    if (p->use_pbuf)
        io_uring_unregister_buf_ring(&p->ring, BGID);
    io_uring_queue_exit(&p->ring);
    if (p->br)
        munmap(p->br, p->br_size);
    if (p->lends_out)
        gs_log(GS_LOG_ERROR, GS__LOG,
               "%u receive buffer slice(s) still lent at destroy: a gs_net_frame_hold buffer "
               "was not released; the receive buffers' memory is kept",
               p->lends_out);
    else
        free(p->bufs);
    free(p->brefs);
    free(p->boff);
    free(p->blends);
    while (p->lend_chunks) {
        lend_chunk_t *c = p->lend_chunks;
        p->lend_chunks = c->next;
        free(c);
    }
    if (p->evfd >= 0)
        close(p->evfd);
    free(p);
    loop->port = NULL;
}

/* ---- operations -------------------------------------------------------------------------- */

static void arm_wake(gs__loop_t *loop) {
    gs__port_t *p = loop->port;
    struct io_uring_sqe *sqe = get_sqe(p);
    if (!sqe)
        return;
    io_uring_prep_read(sqe, p->evfd, &p->evbuf, sizeof(p->evbuf), 0);
    io_uring_sqe_set_data64(sqe, UD(loop, TAG_WAKE));
    p->wake_armed = 1;
    in_flight(p, 1);
}

static void uring_signal(gs__loop_t *loop) {
    uint64_t one = 1;
    ssize_t w;
    do {
        w = write(loop->port->evfd, &one, sizeof(one));
    } while (w < 0 && errno == EINTR);
}

static int uring_accept_start(gs__loop_t *loop, gs__listener_t *l) {
    gs__port_t *p = loop->port;
    struct io_uring_sqe *sqe = get_sqe(p);
    if (!sqe)
        return GS_ESYS;
    /* Every loop's ring accepts on the one listening socket; the kernel hands each connection
     * to one of them, and that loop owns the session. */
    io_uring_prep_multishot_accept(sqe, (int)l->fds[0], NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, UD(l, TAG_ACCEPT));
    l->armed[loop->index] = 1;
    in_flight(p, 1);
    return 0;
}

static void uring_accept_stop(gs__loop_t *loop, gs__listener_t *l) {
    gs__port_t *p = loop->port;
    if (l->armed[loop->index] == ACCEPT_PAUSED)
        l->armed[loop->index] = 0; /* nothing in the kernel to cancel */
    if (!l->armed[loop->index])
        return;
    struct io_uring_sqe *sqe = get_sqe(p);
    if (!sqe)
        return;
    io_uring_prep_cancel64(sqe, UD(l, TAG_ACCEPT), 0);
    io_uring_sqe_set_data64(sqe, TAG_IGNORE);
}

static uring_sess_t *sess_data(gs__session_t *s) {
    if (!s->port_data)
        s->port_data = calloc(1, sizeof(uring_sess_t));
    return s->port_data;
}

static int post_recv(gs__session_t *s) {
    gs__port_t *p = s->loop->port;
    struct io_uring_sqe *sqe;
    if (p->use_pbuf) {
        sqe = get_sqe(p);
        if (!sqe)
            return GS_ESYS;
        if (p->use_multishot) {
            io_uring_prep_recv_multishot(sqe, (int)s->fd, NULL, 0, 0);
            /* The receive share (Linux >= 6.17): the multishot ends after this many bytes and
             * is armed again behind the others. sqe->optlen, which shares file_index's place
             * (liburing 2.3 names only the latter). */
            if (p->use_share)
                sqe->file_index = s->net->cfg.recv_share_bytes;
        } else
            io_uring_prep_recv(sqe, (int)s->fd, NULL, p->bufsize, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = BGID;
    } else {
        uring_sess_t *us = sess_data(s);
        if (!us)
            return GS_ENOMEM;
        uint32_t size = s->net->cfg.recv_buffer_size;
        if (!us->rbuf && !(us->rbuf = malloc(size)))
            return GS_ENOMEM;
        sqe = get_sqe(p);
        if (!sqe)
            return GS_ESYS;
        io_uring_prep_recv(sqe, (int)s->fd, us->rbuf, size, 0);
    }
    io_uring_sqe_set_data64(sqe, UD(s, TAG_RECV));
    in_flight(p, 1);
    return 0;
}

static int uring_recv_start(gs__session_t *s) { return post_recv(s); }

static int uring_send(gs__session_t *s, gs__send_req_t *req) {
    gs__port_t *p = s->loop->port;
    struct io_uring_sqe *sqe = get_sqe(p);
    if (!sqe)
        return GS_ESYS;
    uint32_t left = req->nbufs - req->iov_first;
    gs__iov_t *first = &req->iov[req->iov_first];
    size_t first_len = first->len;
    uint32_t cap = s->net->cfg.debug_send_max;
    if (cap) {
        /* Test knob: offer the kernel only a random prefix, as a short send would leave. */
        p->rng ^= p->rng << 13, p->rng ^= p->rng >> 7, p->rng ^= p->rng << 17;
        size_t limit = 1 + (size_t)(p->rng % cap), sum = 0;
        uint32_t k = 0;
        while (k < left && sum + req->iov[req->iov_first + k].len <= limit)
            sum += req->iov[req->iov_first + k++].len;
        if (k == 0) {
            left = 1;
            first_len = limit;
        } else {
            left = k;
        }
    }
    if (left == 1) {
        /* One contiguous range: a plain send is cheaper than sendmsg. */
        io_uring_prep_send(sqe, (int)s->fd, first->base, first_len, MSG_NOSIGNAL);
    } else {
        struct msghdr *msg = (struct msghdr *)(void *)req->port_space;
        memset(msg, 0, sizeof(*msg));
        msg->msg_iov = (struct iovec *)(void *)first;
        msg->msg_iovlen = left;
        io_uring_prep_sendmsg(sqe, (int)s->fd, msg, MSG_NOSIGNAL);
    }
    io_uring_sqe_set_data64(sqe, UD(req, TAG_SEND));
    in_flight(p, 1);
    return 0;
}

static int uring_connect_prepare(gs__session_t *s, const gs__addr_t *addr) {
    uring_sess_t *us = sess_data(s);
    if (!us)
        return GS_ENOMEM;
    memcpy(&us->addr, addr->bytes, sizeof(us->addr));
    us->addrlen = (socklen_t)addr->len;
    return 0;
}

static int uring_connect(gs__session_t *s) {
    gs__port_t *p = s->loop->port;
    uring_sess_t *us = s->port_data;
    struct io_uring_sqe *sqe = get_sqe(p);
    if (!sqe || !us)
        return GS_ESYS;
    io_uring_prep_connect(sqe, (int)s->fd, (struct sockaddr *)&us->addr, us->addrlen);
    io_uring_sqe_set_data64(sqe, UD(s, TAG_CONNECT));
    in_flight(p, 1);
    return 0;
}

static void uring_cancel(gs__session_t *s) {
    gs__port_t *p = s->loop->port;
    /* shutdown() ends a pending recv (0 bytes) and send (EPIPE) at once and tells the peer;
     * cancel-by-fd also reaches a connect in progress. A plain close() would not: the ring
     * holds its own reference to the file (docs/testing.md C09). */
    shutdown((int)s->fd, SHUT_RDWR);
    struct io_uring_sqe *sqe = get_sqe(p);
    if (sqe) {
        io_uring_prep_cancel_fd(sqe, (int)s->fd, IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(sqe, TAG_IGNORE);
    }
    /* A receive parked in the re-arm FIFO has no kernel operation: end it here. */
    if (!gs_list_empty(&s->rearm_link)) {
        gs_list_remove(&s->rearm_link);
        gs__on_recv_end(s, -ECANCELED);
        gs__session_put(s);
    }
}

static void uring_recv_pause(gs__session_t *s) {
    gs__port_t *p = s->loop->port;
    if (!gs_list_empty(&s->rearm_link)) {
        /* Waiting for buffers: no kernel operation to end. */
        gs_list_remove(&s->rearm_link);
        s->recv_parked = 1;
        return;
    }
    if (!p->use_multishot)
        return; /* a single-shot receive parks when it completes */
    struct io_uring_sqe *sqe = get_sqe(p);
    if (!sqe)
        return; /* logged; the receive goes on unpaused until it ends by itself */
    io_uring_prep_cancel64(sqe, UD(s, TAG_RECV), 0);
    io_uring_sqe_set_data64(sqe, TAG_IGNORE);
}

static void uring_session_release(gs__session_t *s) {
    uring_sess_t *us = s->port_data;
    if (us) {
        free(us->rbuf);
        free(us);
        s->port_data = NULL;
    }
    close((int)s->fd);
    s->fd = -1;
}

static void uring_close_fd(intptr_t fd) { close((int)fd); }

static void uring_stats(gs__loop_t *loop, gs__port_stats_t *out) {
    gs__port_t *p = loop->port;
    out->io_in_flight = gs__ctr_get(&p->io_in_flight);
    out->cq_overflows = gs__ctr_get(&p->cq_overflows);
    out->enobufs = gs__ctr_get(&p->enobufs);
    out->recv_rearms = gs__ctr_get(&p->recv_rearms);
    out->recv_bufs_lent = gs__ctr_get(&p->lent_gauge);
}

/* ---- completions ------------------------------------------------------------------------- */

static void recycle_buffer(gs__port_t *p, unsigned bid) {
    p->boff[bid] = 0;
    p->brefs[bid] = (uint32_t)p->use_inc; /* the kernel's reference again */
    io_uring_buf_ring_add(p->br, p->bufs + (size_t)bid * p->bufsize, p->bufsize,
                          (unsigned short)bid, p->mask, 0);
    io_uring_buf_ring_advance(p->br, 1);
}

/* Loop thread: one reference to buffer bid is gone; the last one puts it back in the ring.
 * References: the kernel's while it may still fill the buffer (incremental rings), the
 * delivering completion's, one per lend. */
static void buffer_put(gs__port_t *p, unsigned bid) {
    if (--p->brefs[bid] == 0)
        recycle_buffer(p, bid);
}

/* Loop thread: a lend's last reference is gone. */
static void lend_return(gs__port_t *p, lend_t *l) {
    unsigned bid = l->bid;
    l->next_free = p->free_lends;
    p->free_lends = l;
    p->lends_out--;
    if (--p->blends[bid] == 0) {
        p->lent--;
        gs__ctr_add(&p->lent_gauge, (uint64_t)-1);
    }
    buffer_put(p, bid);
}

static void lend_release(gs_buf_t *b) {
    lend_t *l = gs_container_of(b, lend_t, buf);
    gs__loop_t *loop = l->loop;
    if (gs__tls_loop == loop) {
        lend_return(loop->port, l);
        return;
    }
    /* Only the loop thread may touch the buffer ring: hand it back. */
    gs_mpsc_push(&loop->port->returns, &l->ret);
    gs__port_wake(loop);
}

static void drain_returns(gs__port_t *p) {
    gs_mpsc_node_t *n;
    while ((n = gs_mpsc_pop(&p->returns)) != NULL)
        lend_return(p, gs_container_of(n, lend_t, ret));
}

static gs_buf_t *uring_lend(gs__loop_t *loop, const uint8_t *data, uint32_t len) {
    gs__port_t *p = loop->port;
    if (p->cur_bid < 0)
        return NULL;
    const uint8_t *base = p->bufs + (size_t)p->cur_bid * p->bufsize;
    if (data < base || len > p->bufsize || (size_t)(data - base) > p->bufsize - len)
        return NULL;
    /* At most half the ring may be out on loan, so receiving never starves for long, whoever
     * holds on to what it was lent (a slow peer's queue, a handler keeping frames). */
    if ((p->blends[p->cur_bid] == 0 && p->lent >= p->nbufs / 2) || p->lends_out >= p->lends_max)
        return NULL;
    lend_t *l = p->free_lends;
    if (!l) {
        lend_chunk_t *c = malloc(sizeof(*c));
        if (!c)
            return NULL;
        c->next = p->lend_chunks;
        p->lend_chunks = c;
        for (int i = LENDS_PER_CHUNK - 1; i >= 0; i--) {
            c->lends[i].next_free = p->free_lends;
            p->free_lends = &c->lends[i];
        }
        l = p->free_lends;
    }
    p->free_lends = l->next_free;
    p->lends_out++;
    l->loop = loop;
    l->bid = (uint32_t)p->cur_bid;
    gs_buf_init(&l->buf, data, len, lend_release);
    l->buf.charge = len + (uint32_t)sizeof(*l);
    p->brefs[p->cur_bid]++;
    if (p->blends[p->cur_bid]++ == 0) {
        p->lent++;
        gs__ctr_add(&p->lent_gauge, 1);
    }
    return &l->buf;
}

static void recv_finished(gs__session_t *s, int err) {
    gs__on_recv_end(s, err);
    gs__session_put(s); /* the receive's reference */
}

static void rearm_recv(gs__session_t *s) {
    gs__port_t *p = s->loop->port;
    gs__ctr_add(&p->recv_rearms, 1);
    if (post_recv(s) != 0)
        recv_finished(s, -ENOMEM);
}

static void on_recv_cqe(gs__loop_t *loop, gs__session_t *s, struct io_uring_cqe *cqe) {
    gs__port_t *p = loop->port;
    int res = cqe->res;
    int more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    if (!more)
        in_flight(p, -1);
    if (res > 0) {
        if (cqe->flags & IORING_CQE_F_BUFFER) {
            unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
            /* An incremental ring hands out each buffer in consecutive pieces: this one starts
             * where the last ended, and BUF_MORE says the kernel will fill more of it. */
            uint8_t *data = p->bufs + (size_t)bid * p->bufsize + p->boff[bid];
            int kernel_done = !p->use_inc || !(cqe->flags & IORING_CQE_F_BUF_MORE);
            if (p->use_inc)
                p->boff[bid] += (uint32_t)res;
            p->brefs[bid]++;
            p->cur_bid = (int)bid;
            gs__on_recv(s, data, (size_t)res);
            p->cur_bid = -1;
            /* The framer copied what it must keep: the buffer goes back once the kernel is done
             * with it, unless a callback was lent part of it (gs_net_frame_hold); then it goes
             * back with the last lend, and at most half the ring is ever kept out that way. */
            if (kernel_done && p->use_inc)
                p->brefs[bid]--; /* the kernel's: the delivery's keeps it above 0 */
            buffer_put(p, bid);
        } else {
            gs__on_recv(s, ((uring_sess_t *)s->port_data)->rbuf, (size_t)res);
        }
        if (!more) {
            if (s->state != GS__S_OPEN)
                recv_finished(s, -ECANCELED);
            else if (s->recv_paused)
                s->recv_parked = 1; /* backpressure: keep the reference, post nothing */
            else
                rearm_recv(s); /* single-shot mode, or the kernel ended the multishot */
        }
        return;
    }
    if (more)
        return; /* not expected: errors end a multishot */
    if (s->state == GS__S_OPEN && (res == -ENOBUFS || res == -ECANCELED)) {
        /* Ended by uring_recv_pause's cancel, or for lack of buffers, while the session's
         * receiving is paused: park it; once the pause is over a cancel that came late
         * re-arms (the close path makes the state non-open before it cancels). */
        if (s->recv_paused) {
            s->recv_parked = 1;
            return;
        }
        if (res == -ECANCELED) {
            rearm_recv(s);
            return;
        }
    }
    if (res == -ENOBUFS && s->state == GS__S_OPEN) {
        /* The ring ran dry: normal with a small ring. Queue the session, keeping the
         * receive's reference, and re-arm oldest first as buffers come back. */
        gs__ctr_add(&p->enobufs, 1);
        gs_list_insert_tail(&loop->rearm_fifo, &s->rearm_link);
        return;
    }
    if (res == -EINVAL && p->use_share && s->state == GS__S_OPEN) {
        /* Kernel before 6.17: no length cap on multishot receives; go on without it. */
        gs_log(GS_LOG_INFO, GS__LOG,
               "multishot receive length cap unsupported: the receive share is not applied");
        p->use_share = 0;
        rearm_recv(s);
        return;
    }
    if (res == -EINVAL && p->use_multishot && s->state == GS__S_OPEN) {
        /* Kernel without multishot recv (before 6.0): fall back to single-shot for good. */
        gs_log(GS_LOG_INFO, GS__LOG, "multishot recv unsupported: using single-shot recv");
        p->use_multishot = 0;
        rearm_recv(s);
        return;
    }
    recv_finished(s, res == 0 ? 0 : res);
}

static void on_accept_cqe(gs__loop_t *loop, gs__listener_t *l, struct io_uring_cqe *cqe) {
    gs__port_t *p = loop->port;
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        in_flight(p, -1);
        l->armed[loop->index] = 0;
    }
    if (cqe->res >= 0) {
        int one = 1;
        setsockopt(cqe->res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        gs__on_accept(loop, l, cqe->res);
    } else if (cqe->res == -EMFILE || cqe->res == -ENFILE || cqe->res == -ENOBUFS ||
               cqe->res == -ENOMEM) {
        /* Out of descriptors or memory: re-arming now would fail again at once and spin a core
         * (docs/testing.md B07). Pause this listener until the next tick; pending connections
         * wait in the backlog meanwhile. */
        if (!l->armed[loop->index]) {
            l->armed[loop->index] = ACCEPT_PAUSED;
            gs__loop_accept_pause(loop, strerror(-cqe->res));
        }
        return;
    } else if (cqe->res != -ECANCELED) {
        gs_log(GS_LOG_WARN, GS__LOG, "accept: %s", strerror(-cqe->res));
    }
    if (!l->armed[loop->index] && !loop->stopping && !p->tearing_down)
        uring_accept_start(loop, l);
}

static void handle_cqe(gs__loop_t *loop, struct io_uring_cqe *cqe) {
    gs__port_t *p = loop->port;
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    void *ptr = (void *)(uintptr_t)(ud & ~(uint64_t)TAG_MASK);
    switch (ud & TAG_MASK) {
    case TAG_IGNORE:
        return;
    case TAG_WAKE:
        in_flight(p, -1);
        p->wake_armed = 0;
        if (!p->tearing_down)
            arm_wake(loop);
        return;
    case TAG_ACCEPT:
        on_accept_cqe(loop, ptr, cqe);
        return;
    case TAG_RECV:
        on_recv_cqe(loop, ptr, cqe);
        return;
    case TAG_SEND: {
        gs__send_req_t *req = ptr;
        gs__session_t *s = req->session;
        in_flight(p, -1);
        gs__on_send_done(s, req, cqe->res);
        gs__session_put(s);
        return;
    }
    case TAG_CONNECT: {
        gs__session_t *s = ptr;
        in_flight(p, -1);
        if (cqe->res == 0) {
            int one = 1;
            setsockopt((int)s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        gs__on_connect_done(s, cqe->res);
        gs__session_put(s);
        return;
    }
    default:
        gs_log(GS_LOG_ERROR, GS__LOG, "unknown completion tag %u", (unsigned)(ud & TAG_MASK));
    }
}

static void rearm_from_fifo(gs__loop_t *loop) {
    gs__port_t *p = loop->port;
    /* All buffers are back in the ring after each batch (they are recycled as soon as they are
     * read); re-arm only a share of them so the sessions already armed keep room. */
    uint32_t budget = p->nbufs / 4 ? p->nbufs / 4 : 1;
    while (budget-- > 0 && !gs_list_empty(&loop->rearm_fifo)) {
        gs__session_t *s = gs_container_of(loop->rearm_fifo.next, gs__session_t, rearm_link);
        gs_list_remove(&s->rearm_link);
        if (s->state == GS__S_OPEN)
            rearm_recv(s);
        else
            recv_finished(s, -ECANCELED);
    }
}

/* The core's accept pause is over: re-arm the listeners it paused. */
static void uring_accept_resume(gs__loop_t *loop) {
    if (loop->port->tearing_down)
        return;
    for (gs__listener_t *l = loop->net->listeners; l; l = l->next) {
        if (l->armed[loop->index] == ACCEPT_PAUSED) {
            l->armed[loop->index] = 0;
            uring_accept_start(loop, l);
        }
    }
}

static void wait_and_dispatch(gs__loop_t *loop, uint32_t wait_ms) {
    gs__port_t *p = loop->port;
    struct __kernel_timespec ts = {.tv_sec = wait_ms / 1000,
                                   .tv_nsec = (long long)(wait_ms % 1000) * 1000000};
    struct io_uring_cqe *cqe = NULL;
    int rc = io_uring_submit_and_wait_timeout(&p->ring, &cqe, 1, &ts, NULL);
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
        gs_log(GS_LOG_ERROR, GS__LOG, "io_uring wait: %s", strerror(-rc));
    /* The wait may have lasted up to a tick: stamp what it delivered with the time now. */
    loop->now_ms = gs_now_ms();
    if (io_uring_cq_has_overflow(&p->ring))
        gs__ctr_add(&p->cq_overflows, 1); /* NODROP keeps them; the next enter flushes them */
    unsigned head, n = 0;
    io_uring_for_each_cqe(&p->ring, head, cqe) {
        handle_cqe(loop, cqe);
        n++;
    }
    io_uring_cq_advance(&p->ring, n);
}

static void uring_thread_start(gs__loop_t *loop) {
    gs__port_t *p = loop->port;
    if (p->disabled) {
        /* A single-issuer ring belongs to the thread that enables it. */
        /* Raw syscall: liburing 2.3 declares io_uring_enable_rings but does not export it. */
        long rc =
            syscall(__NR_io_uring_register, p->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
        if (rc < 0)
            gs_log(GS_LOG_ERROR, GS__LOG, "enable rings: %s", strerror(errno));
    }
    arm_wake(loop);
}

static void uring_poll(gs__loop_t *loop, uint32_t timeout_ms) {
    wait_and_dispatch(loop, timeout_ms);
    rearm_from_fifo(loop);
}

/* After the core's batch end cleared wake_pending: a lend released elsewhere from now on wakes
 * the loop again, so none is stranded in `returns`. */
static void uring_batch_end(gs__loop_t *loop) { drain_returns(loop->port); }

static void uring_thread_end(gs__loop_t *loop) {
    gs__port_t *p = loop->port;
    p->tearing_down = 1;
    struct io_uring_sqe *sqe = get_sqe(p);
    if (sqe && p->wake_armed) {
        io_uring_prep_cancel64(sqe, UD(loop, TAG_WAKE), 0);
        io_uring_sqe_set_data64(sqe, TAG_IGNORE);
    }
    while (gs__ctr_get(&p->io_in_flight) > 0) {
        wait_and_dispatch(loop, 100);
        drain_returns(p);
    }
    drain_returns(p);
}

const gs__port_ops_t gs__port_uring_ops = {
    .name = "io_uring",
    .gather_limit = GS__GATHER_LIMIT,
    .init = uring_init,
    .fini = uring_fini,
    .thread_start = uring_thread_start,
    .poll = uring_poll,
    .batch_end = uring_batch_end,
    .thread_end = uring_thread_end,
    .signal = uring_signal,
    .accept_start = uring_accept_start,
    .accept_stop = uring_accept_stop,
    .accept_resume = uring_accept_resume,
    .recv_start = uring_recv_start,
    .recv_pause = uring_recv_pause,
    .send = uring_send,
    .connect_prepare = uring_connect_prepare,
    .connect = uring_connect,
    .cancel = uring_cancel,
    .session_release = uring_session_release,
    .close_fd = uring_close_fd,
    .lend = uring_lend,
    .stats = uring_stats,
};

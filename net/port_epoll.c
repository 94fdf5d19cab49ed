/* SPDX-License-Identifier: MIT */
/* epoll backend: the completion semantics of port.h over readiness. One epoll set per IO thread;
 * an eventfd in it as the inbox wake-up; the shared listening socket in every loop's set
 * (EPOLLEXCLUSIVE) with accept4 in a bounded loop; receives read into the loop's current read
 * block, which the core may borrow slices of (lend) instead of copying; sends tried at once with
 * sendmsg and, when the socket is full, again on EPOLLOUT; non-blocking connects completed on
 * EPOLLOUT.
 *
 * Read blocks and lending: a loop reads into its current block at an offset. A slice of what
 * was just read can be lent to the core (a frame or raw bytes handed on to a send queue without
 * a copy, gs_net_frame_hold); the block then keeps the lent bytes and the next read goes after
 * them, and once too little room is left it is set aside until its last lend comes back and a
 * fresh block becomes current. Nothing lent: the next read reuses the block from its start, so
 * a loop that copies (or is never lent from) touches one block, as it would with a plain read
 * buffer. At most half of recv_buffers blocks may be pinned by lends at once (as on io_uring);
 * beyond that the current block is not lent from and is reused at once, the core copies, and
 * receiving goes on: peers that never read cannot starve the loop of buffers or grow its memory
 * past that bound. Free blocks idle for a second are unmapped. The spare, a buffer never lent,
 * is read into only when a block cannot be mapped.
 *
 * Edge- or level-triggered: sessions are edge-triggered, the listener and the eventfd
 * level-triggered.
 * - A session's socket is added once, at its first operation, for EPOLLIN | EPOLLOUT |
 *   EPOLLRDHUP | EPOLLET, and never modified: pausing and resuming a receive (backpressure), a
 *   send that blocks and unblocks, a connect that completes cost no epoll_ctl at all. With
 *   level triggering each of them would need an EPOLL_CTL_MOD (or a paused, readable session
 *   would be reported at every wait and spin the loop), and a socket with data left after its
 *   bounded read would be reported again at every wait anyway.
 * - What edge triggering costs is remembering readiness: the backend keeps, per session, whether
 *   it was readable when last looked at, and a per-loop ready list of armed receives that still
 *   have data. Each pass gives every session on it one read share (recv_share_bytes) and puts it
 *   back at the tail while data remains, so one flooding session cannot monopolise the loop; the
 *   loop does not sleep while the list is non-empty.
 * - The listener stays level-triggered: a wake-up accepts a bounded number of connections and
 *   the rest are simply reported again, and it is disarmed by removing it from the set
 *   (EPOLLEXCLUSIVE sockets cannot be modified), which is what an EMFILE pause needs. The
 *   eventfd is level-triggered so that a wake-up written before the loop looks is never lost.
 *
 * Completions are never delivered inside the call that posted the operation: a send that
 * succeeds at once, a connect that completes at once and every operation ended by cancel are
 * queued on the loop's completion list and delivered at the loop's next batch end (or poll).
 * gs__on_send_done re-posts the rest of a short send from inside itself and start_send runs in
 * the middle of the core's flush walk, so an inline completion would recurse once per short
 * send (debug_send_max) and re-enter the walk. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"
#include "sock.h"

_Static_assert(sizeof(gs__iov_t) == sizeof(struct iovec) &&
                   offsetof(gs__iov_t, base) == offsetof(struct iovec, iov_base) &&
                   offsetof(gs__iov_t, len) == offsetof(struct iovec, iov_len),
               "gs__iov_t must be layout-compatible with struct iovec");

#ifndef EPOLLEXCLUSIVE
#define EPOLLEXCLUSIVE (1u << 28)
#endif

/* epoll data = pointer | tag. Loops, listeners and session data are at least 8-byte aligned. */
enum { TAG_WAKE = 1, TAG_LISTEN = 2, TAG_SESS = 3 };
#define TAG_MASK     7u
#define UD(ptr, tag) ((uint64_t)(uintptr_t)(ptr) | (tag))

#define ACCEPT_PAUSED  2u  /* gs__listener_t.armed: removed after EMFILE, re-added on a tick */
#define ACCEPT_BATCH   64  /* connections accepted per readiness report, at most */
#define EVENTS         256 /* events taken per epoll_wait */
#define DEFAULT_RBUF   (64u * 1024u) /* read block size when the application leaves the sizes */
#define DEFAULT_BLOCKS 16u           /* recv_buffers then: half of it may be lent */

#define LENDS_MAX       4096 /* slices lent at once per loop, at most */
#define BLOCKS_IDLE_MS  1000 /* free read blocks unused this long go back to the system */
#define FLUSH_EVERY     8    /* sessions read between mid-pass flushes (run_ready) */
#define LENDS_PER_CHUNK 512  /* lend descriptors mapped together */

/* A lendable read block: rbuf_size bytes of their own mapping, so that giving an idle block
 * back (trim_blocks) lowers the process's RSS whatever the allocator keeps. */
typedef struct rblock {
    struct rblock *next_free;
    uint32_t lends; /* slices of it lent out (loop thread only) */
    uint8_t *data;
} rblock_t;

/* One lent slice. Released on any thread; the block is touched on the loop thread only, so a
 * release elsewhere comes back through port->returns. */
typedef struct ep_lend {
    gs_buf_t buf;
    gs_mpsc_node_t ret;
    gs__loop_t *loop;
    rblock_t *blk;
    struct ep_lend *next_free;
} ep_lend_t;

typedef struct lend_chunk {
    struct lend_chunk *next;
    ep_lend_t lends[LENDS_PER_CHUNK];
} lend_chunk_t;

/* Operation states of a send or a connect. */
enum { OP_NONE = 0, OP_WAITING, OP_DONE };

/* Per-session backend data (s->port_data), allocated at the first operation (or at
 * connect_prepare) and freed at release. */
typedef struct ep_sess {
    gs__session_t *s;
    gs_list_t ready_link; /* in port->ready: an armed receive whose socket has data */
    gs_list_t done_link;  /* in port->done: a completion to deliver */
    uint8_t registered;   /* the socket is in the epoll set */
    uint8_t recv_armed;   /* a receive operation is posted (it holds a session reference) */
    uint8_t readable;     /* edge seen and not yet read down to EAGAIN */
    uint8_t rdhup;        /* the peer's end or an error was reported: read until 0 or error */
    uint8_t cancelled;    /* cancel ran: every operation completes from the completion list */
    uint8_t send_state;   /* OP_*: send_req waits for EPOLLOUT, or its result is queued */
    uint8_t connect_state;
    gs__send_req_t *send_req;
    long send_result;
    int connect_result;
    struct sockaddr_storage addr;
    socklen_t addrlen;
} ep_sess_t;

struct gs__port {
    int epfd;
    int evfd;
    int wake_armed;
    int tearing_down;
    int no_exclusive; /* the kernel refused EPOLLEXCLUSIVE (before 4.5) */
    uint8_t *spare;   /* read buffer never lent: used while every block is pinned */
    uint32_t rbuf_size;
    /* Read blocks (see the top). cur: the block reads go to, at cur_off; delivering: the block
     * whose bytes gs__on_recv is handling now (NULL for the spare), which lend checks. */
    rblock_t *cur, *delivering, *free_blocks;
    uint32_t cur_off, nblocks, lends_out, blocks_lent;
    uint32_t blocks_lent_max; /* half of recv_buffers: blocks pinned by lends, at most */
    uint64_t blocks_used_ms;  /* when a free block was last taken */
    ep_lend_t *free_lends;
    lend_chunk_t *lend_chunks;
    gs_mpsc_t returns;
    uint32_t share; /* bytes read per session and pass, at most */
    gs_list_t ready, done;
    uint64_t rng; /* debug_send_max's random lengths */
    uint64_t accept_errors;
    struct epoll_event events[EVENTS];
    /* counters (written by the loop thread only) */
    gs__ctr_t io_in_flight, lent_gauge;
};

static void in_flight(gs__port_t *p, int delta) {
    gs__ctr_add(&p->io_in_flight, (uint64_t)(int64_t)delta);
}

static void list_splice_init(gs_list_t *from, gs_list_t *to) {
    gs_list_init(to);
    if (gs_list_empty(from))
        return;
    to->next = from->next;
    to->prev = from->prev;
    to->next->prev = to;
    to->prev->next = to;
    gs_list_init(from);
}

/* ---- setup ------------------------------------------------------------------------------- */

static int ep_init(gs__loop_t *loop) {
    gs_net_t *net = loop->net;
    gs__port_t *p = calloc(1, sizeof(*p));
    if (!p)
        return GS_ENOMEM;
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0) {
        int err = errno;
        free(p);
        /* Refused rather than failed: a sandbox without epoll (seccomp: EPERM, gVisor-like
         * hosts: ENOSYS). */
        snprintf(net->backend_refused, sizeof net->backend_refused, "epoll_create1: %s",
                 strerror(err));
        return err == ENOSYS || err == EPERM ? GS_ENOTSUP : GS_ESYS;
    }
    p->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (net->ring_defaulted) {
        /* The sizes are ours to pick: blocks of 64 KiB, half of 16 lendable, as io_uring's
         * incremental ring. Say what they are (gs_net_config); gs_net_create runs this before
         * any IO thread reads the config. */
        net->cfg.recv_buffer_size = DEFAULT_RBUF;
        net->cfg.recv_buffers = DEFAULT_BLOCKS;
    }
    p->rbuf_size = net->cfg.recv_buffer_size;
    p->spare = malloc(p->rbuf_size);
    if (p->evfd < 0 || !p->spare) {
        int rc = p->evfd < 0 ? GS_ESYS : GS_ENOMEM;
        if (p->evfd >= 0)
            close(p->evfd);
        close(p->epfd);
        free(p->spare);
        free(p);
        return rc;
    }
    gs_mpsc_init(&p->returns);
    p->blocks_lent_max = net->cfg.recv_buffers / 2 ? net->cfg.recv_buffers / 2 : 1;
    p->share = net->cfg.recv_share_bytes ? net->cfg.recv_share_bytes : p->rbuf_size;
    gs_list_init(&p->ready);
    gs_list_init(&p->done);
    p->rng = 0x9E3779B97F4A7C15ull ^ (uint64_t)loop->index;
    loop->port = p;
    return 0;
}

static void drain_returns(gs__port_t *p);

static rblock_t *block_new(gs__port_t *p) {
    rblock_t *b = malloc(sizeof(*b));
    if (!b)
        return NULL;
    void *m = mmap(NULL, p->rbuf_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        free(b);
        return NULL;
    }
    b->data = m;
    b->lends = 0;
    b->next_free = NULL;
    p->nblocks++;
    return b;
}

static void block_free(gs__port_t *p, rblock_t *b) {
    munmap(b->data, p->rbuf_size);
    free(b);
    p->nblocks--;
}

/* Every lend descriptor is free: unmap their chunks. */
static void lends_unmap(gs__port_t *p) {
    while (p->lend_chunks) {
        lend_chunk_t *c = p->lend_chunks;
        p->lend_chunks = c->next;
        munmap(c, sizeof(*c));
    }
    p->free_lends = NULL;
}

/* Free blocks and lend descriptors unused for BLOCKS_IDLE_MS go back to the system: a burst of
 * held frames (peers that stopped reading) does not keep its memory for the life of the
 * process. */
static void trim_blocks(gs__loop_t *loop) {
    gs__port_t *p = loop->port;
    if (loop->now_ms - p->blocks_used_ms < BLOCKS_IDLE_MS)
        return;
    if (p->lends_out == 0 && p->lend_chunks)
        lends_unmap(p);
    while (p->free_blocks) {
        rblock_t *b = p->free_blocks;
        p->free_blocks = b->next_free;
        block_free(p, b);
    }
}

static void ep_fini(gs__loop_t *loop) {
    gs__port_t *p = loop->port;
    if (!p)
        return;
    /* Lends released after the loop thread ended wait in returns; no thread runs the loop any
     * more, so this one may take them. */
    drain_returns(p);
    close(p->evfd);
    close(p->epfd);
    free(p->spare);
    if (p->lends_out) {
        gs_log(GS_LOG_ERROR, GS__LOG,
               "%u receive buffer slice(s) still lent at destroy: a gs_net_frame_hold buffer "
               "was not released; the read blocks' memory is kept",
               p->lends_out);
    } else {
        if (p->cur)
            block_free(p, p->cur);
        while (p->free_blocks) {
            rblock_t *b = p->free_blocks;
            p->free_blocks = b->next_free;
            block_free(p, b);
        }
        lends_unmap(p);
    }
    free(p);
    loop->port = NULL;
}

static void ep_signal(gs__loop_t *loop) {
    uint64_t one = 1;
    ssize_t w;
    do {
        w = write(loop->port->evfd, &one, sizeof(one));
    } while (w < 0 && errno == EINTR);
    /* EAGAIN: the counter is saturated, so a wake-up is pending anyway. */
}

/* ---- accept ------------------------------------------------------------------------------ */

static int listen_add(gs__loop_t *loop, gs__listener_t *l) {
    gs__port_t *p = loop->port;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UD(l, TAG_LISTEN)};
    /* Every loop's set holds the one listening socket; EPOLLEXCLUSIVE wakes one of the waiting
     * loops per connection instead of all of them. */
    if (!p->no_exclusive) {
        ev.events |= EPOLLEXCLUSIVE;
        if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, (int)l->fds[0], &ev) == 0)
            return 0;
        if (errno != EINVAL)
            return -1;
        p->no_exclusive = 1;
        ev.events = EPOLLIN;
    }
    return epoll_ctl(p->epfd, EPOLL_CTL_ADD, (int)l->fds[0], &ev);
}

static int ep_accept_start(gs__loop_t *loop, gs__listener_t *l) {
    gs__port_t *p = loop->port;
    if (l->nfds == 0 || l->armed[loop->index] == 1)
        return 0;
    /* The shared listening socket is opened blocking (sock_posix.c): a loop that finds the
     * backlog empty (another loop took the connection) must get EAGAIN, not wait in accept. */
    int fl = fcntl((int)l->fds[0], F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK))
        fcntl((int)l->fds[0], F_SETFL, fl | O_NONBLOCK);
    if (listen_add(loop, l) != 0) {
        gs_log(GS_LOG_ERROR, GS__LOG, "epoll_ctl(listener): %s", strerror(errno));
        return GS_ESYS;
    }
    l->armed[loop->index] = 1;
    in_flight(p, 1);
    return 0;
}

/* Remove the listener from this loop's set (armed == 1 only). */
static void listen_remove(gs__loop_t *loop, gs__listener_t *l) {
    gs__port_t *p = loop->port;
    epoll_ctl(p->epfd, EPOLL_CTL_DEL, (int)l->fds[0], NULL);
    l->armed[loop->index] = 0;
    in_flight(p, -1);
}

static void ep_accept_stop(gs__loop_t *loop, gs__listener_t *l) {
    if (l->armed[loop->index] == ACCEPT_PAUSED)
        l->armed[loop->index] = 0; /* not in the set */
    else if (l->armed[loop->index] == 1)
        listen_remove(loop, l);
}

static void ep_accept_resume(gs__loop_t *loop) {
    if (loop->port->tearing_down)
        return;
    for (gs__listener_t *l = loop->net->listeners; l; l = l->next) {
        if (l->armed[loop->index] == ACCEPT_PAUSED) {
            l->armed[loop->index] = 0;
            ep_accept_start(loop, l);
        }
    }
}

static void on_listen_ready(gs__loop_t *loop, gs__listener_t *l) {
    gs__port_t *p = loop->port;
    /* Bounded: what is left in the backlog is reported again at the next wait (level). */
    for (int i = 0; i < ACCEPT_BATCH && l->armed[loop->index] == 1; i++) {
        int fd = accept4((int)l->fds[0], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            gs__on_accept(loop, l, fd);
            continue;
        }
        int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK)
            return; /* another loop took it, or the backlog is empty */
        if (err == EINTR || err == ECONNABORTED || err == EPROTO)
            continue; /* that connection is gone; the next may not be */
        if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
            /* Out of descriptors or memory: the socket stays readable, so leaving it in the set
             * would report it at every wait and spin a core (docs/testing.md B07). Remove it
             * until the core's tick resumes accepting; connections wait in the backlog. */
            listen_remove(loop, l);
            l->armed[loop->index] = ACCEPT_PAUSED;
            gs__loop_accept_pause(loop, strerror(err));
            return;
        }
        if (p->accept_errors++ % 1000 == 0)
            gs_log(GS_LOG_WARN, GS__LOG, "accept: %s", strerror(err));
        return;
    }
}

/* ---- sessions ---------------------------------------------------------------------------- */

static ep_sess_t *sess_data(gs__session_t *s) {
    ep_sess_t *es = s->port_data;
    if (!es) {
        es = calloc(1, sizeof(*es));
        if (!es)
            return NULL;
        es->s = s;
        gs_list_init(&es->ready_link);
        gs_list_init(&es->done_link);
        s->port_data = es;
    }
    return es;
}

static int ensure_registered(gs__port_t *p, ep_sess_t *es) {
    if (es->registered)
        return 0;
    /* Added once for everything the session will ever wait for, edge-triggered (see the top):
     * if the socket is ready already the add reports it at the next wait. */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.u64 = UD(es, TAG_SESS)};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, (int)es->s->fd, &ev) != 0) {
        gs_log(GS_LOG_ERROR, GS__LOG, "epoll_ctl(session): %s", strerror(errno));
        return -1;
    }
    es->registered = 1;
    return 0;
}

static void queue_done(gs__port_t *p, ep_sess_t *es) {
    if (gs_list_empty(&es->done_link))
        gs_list_insert_tail(&p->done, &es->done_link);
}

static int ep_recv_start(gs__session_t *s) {
    gs__port_t *p = s->loop->port;
    ep_sess_t *es = sess_data(s);
    if (!es)
        return GS_ENOMEM;
    if (ensure_registered(p, es) != 0)
        return GS_ESYS;
    es->recv_armed = 1;
    in_flight(p, 1);
    /* Data left from before a pause: no new edge will say so. */
    if (es->readable && gs_list_empty(&es->ready_link))
        gs_list_insert_tail(&p->ready, &es->ready_link);
    return 0;
}

/* The receive operation ends: its terminal upcall, then its reference. */
static void recv_finished(gs__port_t *p, ep_sess_t *es, int err) {
    gs__session_t *s = es->s;
    es->recv_armed = 0;
    gs_list_remove(&es->ready_link);
    in_flight(p, -1);
    gs__on_recv_end(s, err);
    gs__session_put(s); /* the receive's reference */
}

static void ep_recv_pause(gs__session_t *s) {
    gs__port_t *p = s->loop->port;
    ep_sess_t *es = s->port_data;
    /* No kernel operation to end: the receive ends here, parked (port.h). It may be inside
     * gs__on_recv of do_read, which stops once it sees the receive gone. What is still in the
     * socket stays there (readable stays set) until recv_start re-arms. */
    if (!es || !es->recv_armed || es->cancelled)
        return;
    es->recv_armed = 0;
    gs_list_remove(&es->ready_link);
    in_flight(p, -1);
    s->recv_parked = 1; /* the receive's reference is the core's now */
}

/* ---- read blocks and lending -------------------------------------------------------------- */

/* Loop thread: a lent slice's last reference is gone. A block whose last lend came back is
 * reused from its start if it is current, else it joins the free blocks. */
static void lend_return(gs__port_t *p, ep_lend_t *l) {
    rblock_t *b = l->blk;
    l->next_free = p->free_lends;
    p->free_lends = l;
    p->lends_out--;
    if (--b->lends != 0)
        return;
    p->blocks_lent--;
    gs__ctr_add(&p->lent_gauge, (uint64_t)-1);
    if (b == p->cur) {
        p->cur_off = 0; /* nothing of it is referenced any more (nothing reads into it now) */
    } else {
        b->next_free = p->free_blocks;
        p->free_blocks = b;
    }
}

static void lend_release(gs_buf_t *buf) {
    ep_lend_t *l = gs_container_of(buf, ep_lend_t, buf);
    gs__loop_t *loop = l->loop;
    if (gs__tls_loop == loop) {
        lend_return(loop->port, l);
        return;
    }
    /* Only the loop thread touches the blocks: hand it back. */
    gs_mpsc_push(&loop->port->returns, &l->ret);
    gs__port_wake(loop);
}

static void drain_returns(gs__port_t *p) {
    gs_mpsc_node_t *n;
    while ((n = gs_mpsc_pop(&p->returns)) != NULL)
        lend_return(p, gs_container_of(n, ep_lend_t, ret));
}

/* Where the next read goes and how much room it has: the current block after what is lent of
 * it; a fresh block when too little is left; the spare (never lent) when every block is pinned.
 * Sets p->delivering for ep_lend. */
static uint8_t *read_room(gs__port_t *p, size_t *room) {
    rblock_t *b = p->cur;
    if (b && p->rbuf_size - p->cur_off < p->rbuf_size / 4) {
        p->cur = NULL; /* set aside: it joins the free blocks with its last lend */
        b = NULL;
    }
    if (!b) {
        b = p->free_blocks;
        if (b)
            p->free_blocks = b->next_free;
        else
            b = block_new(p); /* at most blocks_lent_max + 1 exist: see ep_lend */
        if (!b) {
            p->delivering = NULL;
            *room = p->rbuf_size;
            return p->spare;
        }
        p->cur = b;
        p->cur_off = 0;
        p->blocks_used_ms = gs_now_ms();
    }
    p->delivering = b;
    *room = p->rbuf_size - p->cur_off;
    return b->data + p->cur_off;
}

static gs_buf_t *ep_lend(gs__loop_t *loop, const uint8_t *data, uint32_t len) {
    gs__port_t *p = loop->port;
    rblock_t *b = p->delivering;
    if (!b || data < b->data || len > p->rbuf_size ||
        (size_t)(data - b->data) > p->rbuf_size - len || p->lends_out >= LENDS_MAX)
        return NULL;
    /* At most half the blocks may be pinned, so memory stays bounded whoever holds on to what
     * it was lent (a slow peer's queue, a handler keeping frames): beyond that, the current
     * block is never lent from and is reused at once, and the core copies. */
    if (b->lends == 0 && p->blocks_lent >= p->blocks_lent_max)
        return NULL;
    ep_lend_t *l = p->free_lends;
    if (!l) {
        lend_chunk_t *c =
            mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (c == MAP_FAILED)
            return NULL;
        p->blocks_used_ms = gs_now_ms();
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
    l->blk = b;
    gs_buf_init(&l->buf, data, len, lend_release);
    l->buf.charge = len + (uint32_t)sizeof(*l);
    if (b->lends++ == 0) {
        p->blocks_lent++;
        gs__ctr_add(&p->lent_gauge, 1);
    }
    if (b == p->cur) {
        /* Later reads go after the slice (16-byte aligned, for the copies made from them). */
        size_t end = ((size_t)(data - b->data) + len + 15) & ~(size_t)15;
        if (end > p->rbuf_size)
            end = p->rbuf_size;
        if (end > p->cur_off)
            p->cur_off = (uint32_t)end;
    }
    return &l->buf;
}

/* Read one share of a ready session. It leaves the ready list when the socket is read down (or
 * the receive ended); with data left it goes back to the tail for the next pass. */
static void do_read(gs__port_t *p, ep_sess_t *es) {
    gs__session_t *s = es->s;
    uint32_t budget = p->share;
    for (;;) {
        if (!es->recv_armed || es->cancelled)
            return; /* parked by a pause, or the completion list ends it */
        size_t room;
        uint8_t *buf = read_room(p, &room);
        size_t want = budget < room ? budget : room;
        ssize_t n = recv((int)s->fd, buf, want, 0);
        if (n > 0) {
            gs__on_recv(s, buf, (size_t)n);
            p->delivering = NULL;
            if (!es->recv_armed || es->cancelled)
                return;
            /* Short read: the socket is empty now. Anything arriving after the read raises a new
             * edge; an end reported with the data already read (rdhup) does not, so it is read
             * for. */
            if ((size_t)n < want && !es->rdhup) {
                es->readable = 0;
                return;
            }
            budget -= (uint32_t)n;
            if (budget == 0) {
                if (gs_list_empty(&es->ready_link))
                    gs_list_insert_tail(&p->ready, &es->ready_link);
                return;
            }
            continue;
        }
        p->delivering = NULL;
        if (n == 0) {
            recv_finished(p, es, 0); /* the peer's orderly end */
            return;
        }
        int err = errno;
        if (err == EINTR)
            continue;
        if (err == EAGAIN || err == EWOULDBLOCK) {
            es->readable = 0;
            return;
        }
        recv_finished(p, es, -err);
        return;
    }
}

static int run_done(gs__port_t *p);

/* One pass over the sessions ready now (those re-listed by it wait for the next pass). Every
 * FLUSH_EVERY sessions, what they queued is sent and its completions delivered
 * (gs__loop_flush_now): the slices lent to their replies come back while the block is hot. */
static void run_ready(gs__loop_t *loop) {
    gs__port_t *p = loop->port;
    gs_list_t pass;
    list_splice_init(&p->ready, &pass);
    unsigned k = 0;
    while (!gs_list_empty(&pass)) {
        ep_sess_t *es = gs_container_of(pass.next, ep_sess_t, ready_link);
        gs_list_remove(&es->ready_link);
        do_read(p, es);
        if (++k % FLUSH_EVERY == 0 && p->blocks_lent) {
            gs__loop_flush_now(loop);
            run_done(p);
        }
    }
}

/* One sendmsg of what req has left (debug_send_max: of a random prefix). Bytes or -errno. */
static long try_send(gs__port_t *p, gs__session_t *s, gs__send_req_t *req) {
    uint32_t left = req->nbufs - req->iov_first;
    struct iovec *first = (struct iovec *)(void *)&req->iov[req->iov_first];
    struct iovec cut;
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = first;
    msg.msg_iovlen = left;
    uint32_t cap = s->net->cfg.debug_send_max;
    if (cap && left > 0) {
        /* Test knob: offer the kernel only a random prefix, as a short send would leave (the
         * same choice as port_uring.c: whole buffers that fit, else part of the first). */
        p->rng ^= p->rng << 13, p->rng ^= p->rng >> 7, p->rng ^= p->rng << 17;
        size_t limit = 1 + (size_t)(p->rng % cap), sum = 0;
        uint32_t k = 0;
        while (k < left && sum + first[k].iov_len <= limit)
            sum += first[k++].iov_len;
        if (k == 0) {
            cut.iov_base = first->iov_base;
            cut.iov_len = limit;
            msg.msg_iov = &cut;
            msg.msg_iovlen = 1;
        } else {
            msg.msg_iovlen = k;
        }
    }
    ssize_t n;
    do {
        n = sendmsg((int)s->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    return n >= 0 ? (long)n : -(long)errno;
}

static int ep_send(gs__session_t *s, gs__send_req_t *req) {
    gs__port_t *p = s->loop->port;
    ep_sess_t *es = sess_data(s);
    if (!es)
        return GS_ENOMEM;
    if (ensure_registered(p, es) != 0)
        return GS_ESYS;
    in_flight(p, 1);
    es->send_req = req;
    long r = try_send(p, s, req);
    if (r == -EAGAIN || r == -EWOULDBLOCK) {
        es->send_state = OP_WAITING; /* the next EPOLLOUT edge tries again */
        return 0;
    }
    /* Done (all, part, or failed): delivered from the completion list, never from here. */
    es->send_state = OP_DONE;
    es->send_result = r;
    queue_done(p, es);
    return 0;
}

static void send_finished(gs__port_t *p, ep_sess_t *es, long result) {
    gs__session_t *s = es->s;
    gs__send_req_t *req = es->send_req;
    es->send_req = NULL;
    es->send_state = OP_NONE;
    in_flight(p, -1);
    gs__on_send_done(s, req, result); /* may post the rest of a short send: ep_send queues it */
    gs__session_put(s);               /* the send's reference */
}

static int ep_connect_prepare(gs__session_t *s, const gs__addr_t *addr) {
    ep_sess_t *es = sess_data(s);
    if (!es)
        return GS_ENOMEM;
    memcpy(&es->addr, addr->bytes, sizeof(es->addr));
    es->addrlen = (socklen_t)addr->len;
    return 0;
}

static int ep_connect(gs__session_t *s) {
    gs__port_t *p = s->loop->port;
    ep_sess_t *es = s->port_data;
    if (!es)
        return GS_ESYS;
    int fd = (int)s->fd;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        return GS_ESYS;
    /* connect(2) restarted after EINTR would fail with EALREADY: once is enough, EINTR means
     * the connect goes on in the background like EINPROGRESS. */
    int rc = connect(fd, (struct sockaddr *)&es->addr, es->addrlen);
    if (rc != 0 && errno != EINPROGRESS && errno != EINTR) {
        gs_log(GS_LOG_INFO, GS__LOG, "connect: %s", strerror(errno));
        return GS_ESYS;
    }
    /* Added once the connect is under way: an unconnected socket polls as hung up. */
    if (ensure_registered(p, es) != 0)
        return GS_ESYS;
    in_flight(p, 1);
    if (rc == 0) {
        es->connect_state = OP_DONE; /* connected at once: delivered from the completion list */
        es->connect_result = 0;
        queue_done(p, es);
    } else {
        es->connect_state = OP_WAITING; /* EPOLLOUT (or EPOLLERR) ends it */
    }
    return 0;
}

static void connect_finished(gs__port_t *p, ep_sess_t *es, int err) {
    gs__session_t *s = es->s;
    es->connect_state = OP_NONE;
    in_flight(p, -1);
    if (err == 0) {
        int one = 1;
        setsockopt((int)s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    gs__on_connect_done(s, err);
    gs__session_put(s); /* the connect's reference */
}

static void ep_cancel(gs__session_t *s) {
    gs__port_t *p = s->loop->port;
    ep_sess_t *es = s->port_data;
    if (s->fd >= 0)
        shutdown((int)s->fd, SHUT_RDWR); /* tells the peer at once, as io_uring's cancel does */
    if (!es || es->cancelled)
        return;
    es->cancelled = 1;
    gs_list_remove(&es->ready_link);
    /* Every pending operation completes from the completion list, each exactly once; one whose
     * result is queued already keeps it. */
    if (es->send_state == OP_WAITING) {
        es->send_state = OP_DONE;
        es->send_result = -ECANCELED;
    }
    if (es->connect_state == OP_WAITING) {
        es->connect_state = OP_DONE;
        es->connect_result = -ECANCELED;
    }
    if (es->recv_armed || es->send_state == OP_DONE || es->connect_state == OP_DONE)
        queue_done(p, es);
}

/* Deliver what one session has on the completion list. */
static void deliver(gs__port_t *p, ep_sess_t *es) {
    if (es->connect_state == OP_DONE)
        connect_finished(p, es, es->connect_result);
    if (es->send_state == OP_DONE)
        send_finished(p, es, es->send_result);
    if (es->cancelled && es->recv_armed)
        recv_finished(p, es, -ECANCELED);
}

/* Deliver the completions queued so far; those queued meanwhile wait for the next call. */
static int run_done(gs__port_t *p) {
    gs_list_t pass;
    list_splice_init(&p->done, &pass);
    int any = !gs_list_empty(&pass);
    while (!gs_list_empty(&pass)) {
        ep_sess_t *es = gs_container_of(pass.next, ep_sess_t, done_link);
        gs_list_remove(&es->done_link);
        deliver(p, es);
    }
    return any;
}

static void on_sess_event(gs__port_t *p, ep_sess_t *es, uint32_t ev) {
    if (es->cancelled)
        return; /* the completion list ends what is pending */
    if (es->connect_state == OP_WAITING && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt((int)es->s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err == 0 && (ev & (EPOLLERR | EPOLLHUP)))
            err = ECONNREFUSED;
        connect_finished(p, es, -err);
        if (es->cancelled)
            return;
    }
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        es->readable = 1;
        if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            es->rdhup = 1;
        if (es->recv_armed && gs_list_empty(&es->ready_link))
            gs_list_insert_tail(&p->ready, &es->ready_link);
    }
    if (es->send_state == OP_WAITING && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        long r = try_send(p, es->s, es->send_req);
        if (r != -EAGAIN && r != -EWOULDBLOCK)
            send_finished(p, es, r); /* from poll, not from inside the core's send: safe */
    }
}

static void ep_session_release(gs__session_t *s) {
    ep_sess_t *es = s->port_data;
    if (es) {
        gs_list_remove(&es->ready_link); /* not listed: no operation is pending */
        gs_list_remove(&es->done_link);
        if (es->registered)
            epoll_ctl(s->loop->port->epfd, EPOLL_CTL_DEL, (int)s->fd, NULL);
        free(es);
        s->port_data = NULL;
    }
    if (s->fd >= 0)
        close((int)s->fd);
    s->fd = -1;
}

static void ep_close_fd(intptr_t fd) { close((int)fd); }

static void ep_stats(gs__loop_t *loop, gs__port_stats_t *out) {
    out->io_in_flight = gs__ctr_get(&loop->port->io_in_flight);
    out->recv_bufs_lent = gs__ctr_get(&loop->port->lent_gauge);
}

/* ---- the loop ---------------------------------------------------------------------------- */

static void drain_wake(gs__port_t *p) {
    uint64_t v;
    while (read(p->evfd, &v, sizeof(v)) == (ssize_t)sizeof(v))
        ;
}

static void ep_poll(gs__loop_t *loop, uint32_t timeout_ms) {
    gs__port_t *p = loop->port;
    /* Receives with data left and queued completions are work: do not sleep on them. */
    if (!gs_list_empty(&p->ready) || !gs_list_empty(&p->done))
        timeout_ms = 0;
    int n = epoll_wait(p->epfd, p->events, EVENTS, (int)timeout_ms);
    if (n < 0 && errno != EINTR)
        gs_log(GS_LOG_ERROR, GS__LOG, "epoll_wait: %s", strerror(errno));
    /* The wait may have lasted up to a tick: stamp what it delivered with the time now. */
    loop->now_ms = gs_now_ms();
    for (int i = 0; i < n; i++) {
        uint64_t ud = p->events[i].data.u64;
        void *ptr = (void *)(uintptr_t)(ud & ~(uint64_t)TAG_MASK);
        switch (ud & TAG_MASK) {
        case TAG_WAKE:
            drain_wake(p); /* gs__loop_after_batch reads the inbox and the stop */
            break;
        case TAG_LISTEN:
            on_listen_ready(loop, ptr);
            break;
        case TAG_SESS:
            on_sess_event(p, ptr, p->events[i].events);
            break;
        default:
            gs_log(GS_LOG_ERROR, GS__LOG, "unknown epoll tag %u", (unsigned)(ud & TAG_MASK));
        }
    }
    run_ready(loop);
    run_done(p);
}

static void ep_thread_start(gs__loop_t *loop) {
    gs__port_t *p = loop->port;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UD(loop, TAG_WAKE)};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->evfd, &ev) != 0) {
        gs_log(GS_LOG_ERROR, GS__LOG, "epoll_ctl(eventfd): %s", strerror(errno));
        return;
    }
    p->wake_armed = 1;
    in_flight(p, 1);
}

/* After the core's batch end: completions it caused (sends that went out at once from the
 * flush, operations its closes cancelled) are delivered now rather than after another wait. */
static void ep_batch_end(gs__loop_t *loop) {
    run_done(loop->port);
    drain_returns(loop->port); /* wake_pending is clear: a later release wakes the loop again */
    trim_blocks(loop);
}

static void ep_thread_end(gs__loop_t *loop) {
    gs__port_t *p = loop->port;
    p->tearing_down = 1;
    if (p->wake_armed) {
        epoll_ctl(p->epfd, EPOLL_CTL_DEL, p->evfd, NULL);
        p->wake_armed = 0;
        in_flight(p, -1);
    }
    while (gs__ctr_get(&p->io_in_flight) > 0) {
        ep_poll(loop, 100);
        drain_returns(p);
    }
    drain_returns(p);
}

const gs__port_ops_t gs__port_epoll_ops = {
    .name = "epoll",
    .gather_limit = GS__GATHER_LIMIT, /* IOV_MAX on Linux */
    .init = ep_init,
    .fini = ep_fini,
    .thread_start = ep_thread_start,
    .poll = ep_poll,
    .batch_end = ep_batch_end,
    .thread_end = ep_thread_end,
    .signal = ep_signal,
    .accept_start = ep_accept_start,
    .accept_stop = ep_accept_stop,
    .accept_resume = ep_accept_resume,
    .recv_start = ep_recv_start,
    .recv_pause = ep_recv_pause,
    .send = ep_send,
    .connect_prepare = ep_connect_prepare,
    .connect = ep_connect,
    .cancel = ep_cancel,
    .session_release = ep_session_release,
    .close_fd = ep_close_fd,
    .lend = ep_lend,
    .stats = ep_stats,
};

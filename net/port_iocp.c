/* SPDX-License-Identifier: MIT */
/* IOCP backend: one completion port per IO thread (loop), waited on with
 * GetQueuedCompletionStatusEx by that thread only, so every upcall for a session runs on the
 * thread that owns it, exactly as on io_uring. AcceptEx pre-posted several deep on the one
 * shared listening socket (its completions arrive on loop 0, which hands accepted sockets to the
 * loops round robin through their ports); ConnectEx; one WSARecv per session into its own
 * buffer; gathered WSASend; CancelIoEx for close; PostQueuedCompletionStatus for wake-ups.
 * Every dequeued entry is classified once (classify) and counted by outcome. docs/net.md has
 * the mapping, the classification table and the wine quirks. */
#include <winsock2.h>
#include <mswsock.h>
#include <windows.h>
#include <winternl.h>
#include <ws2tcpip.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sock.h"

/* Sockets are associated with key 0: their OVERLAPPED says which operation completed. Posted
 * packets carry no OVERLAPPED of ours: KEY_WAKE is the inbox/stop wake-up; any other key is a
 * listener (pointers are at least 8-aligned, so never 1) and the packet hands over an accepted
 * socket, carried in the lpOverlapped slot, which the port returns verbatim and never reads. */
#define KEY_IO   ((ULONG_PTR)0)
#define KEY_WAKE ((ULONG_PTR)1)

/* Buffers per WSASend. wine 8.0 fails a WSASend with more than 1024 buffers *and* still queues
 * a completion for it, which would release the request twice, so the backend stays well below
 * that: gs_net_create lowers gather_max to this (gs__port_gather_limit), and iocp_send caps
 * again, letting the core's short-send path post the rest, should a request ever be longer. */
#define IOCP_WSABUF_MAX 64u
/* AcceptEx requests kept posted on each listening socket. */
#define ACCEPT_DEPTH 16u
/* AcceptEx wants room for each address plus 16 bytes. */
#define ACCEPT_ADDR_LEN ((DWORD)(sizeof(SOCKADDR_STORAGE) + 16))
/* Completions dequeued per GetQueuedCompletionStatusEx call. */
#define BATCH 64u

enum { OP_RECV = 1, OP_SEND, OP_CONNECT, OP_ACCEPT };

/* The typed request around each OVERLAPPED (recovered with container_of). */
typedef struct iocp_op {
    OVERLAPPED ov;
    uint32_t kind;
} iocp_op_t;

_Static_assert(sizeof(iocp_op_t) <= sizeof(((gs__send_req_t *)0)->port_space),
               "the send OVERLAPPED must fit in the send request's backend space");
_Static_assert(sizeof(SOCKET) <= sizeof(intptr_t), "a SOCKET must fit the session's fd");

typedef struct accept_op {
    iocp_op_t op;
    gs__listener_t *l;
    SOCKET s; /* created before the AcceptEx call; INVALID_SOCKET when not posted */
    uint8_t addrs[2 * (sizeof(SOCKADDR_STORAGE) + 16)];
} accept_op_t;

typedef struct iocp_listener {
    LPFN_ACCEPTEX acceptex;
    int family;
    int associated;
    accept_op_t ops[ACCEPT_DEPTH];
} iocp_listener_t;

/* Per-session backend data: the receive and connect requests, the connect address and the
 * session's receive buffer (one outstanding WSARecv, so one buffer). */
typedef struct iocp_sess {
    gs__session_t *s;
    iocp_op_t recv_op;
    iocp_op_t connect_op;
    gs__addr_t addr;
    uint32_t rsize;
    uint8_t rbuf[];
} iocp_sess_t;

struct gs__port {
    HANDLE iocp;
    int tearing_down;
    uint64_t rng;         /* debug_send_max's random lengths */
    uint32_t next_target; /* loop 0: round robin of accepted sockets */
    LPFN_CONNECTEX connectex;
    /* counters (written by the loop thread only) */
    gs__ctr_t io_in_flight;
    gs__ctr_t io_posted, io_completed, io_eof, io_failed, io_failed_by[GS_IOERR__COUNT];
    gs__ctr_t port_wakeups, port_handoffs, port_timeouts, port_errors;
    DWORD logged_codes[8]; /* "other" error codes already logged */
};

static void in_flight(gs__port_t *p, int delta) {
    gs__ctr_add(&p->io_in_flight, (uint64_t)(int64_t)delta);
}

/* Taken before every post (a completion may be queued before the call returns); a post that
 * fails at once gives it back with post_failed. */
static void posting(gs__port_t *p) {
    in_flight(p, 1);
    gs__ctr_add(&p->io_posted, 1);
}
static void post_failed(gs__port_t *p) {
    in_flight(p, -1);
    gs__ctr_add(&p->io_posted, (uint64_t)-1);
}

/* ---- classification ---------------------------------------------------------------------- */

/* What one dequeued entry is. These are the GetQueuedCompletionStatus cases of the seed notes,
 * read from GetQueuedCompletionStatusEx's entries: the call failing is "FALSE without an
 * OVERLAPPED" (timeout or port error, handled in wait_and_dispatch); a posted packet is a
 * wake-up or a hand-off; an entry with our OVERLAPPED is TRUE (status success: with bytes, or
 * 0 bytes = the peer closed, for a receive or a send) or FALSE with an OVERLAPPED (status
 * failure: the operation failed and still needs its cleanup, whatever the code). */
typedef enum { EV_DONE, EV_EOF, EV_FAILED } ev_t;

static gs_io_error_t error_class(DWORD code) {
    switch (code) {
    case ERROR_OPERATION_ABORTED: /* 995: CancelIoEx, or the socket was closed */
        return GS_IOERR_CANCELLED;
    case ERROR_NETNAME_DELETED: /* 64: the connection was reset */
    case WSAECONNRESET:
    case ERROR_CONNECTION_INVALID:
        return GS_IOERR_RESET;
    case ERROR_CONNECTION_ABORTED: /* 1236 */
    case WSAECONNABORTED:
    case ERROR_REQUEST_ABORTED:
        return GS_IOERR_ABORTED;
    case ERROR_CONNECTION_REFUSED: /* 1225 */
    case WSAECONNREFUSED:
        return GS_IOERR_REFUSED;
    default:
        return GS_IOERR_OTHER;
    }
}

static ev_t classify(gs__port_t *p, const OVERLAPPED_ENTRY *e, uint32_t kind, DWORD *code) {
    /* The status the port recorded in the OVERLAPPED; converted to the Win32 code that
     * GetQueuedCompletionStatus would have set for a FALSE return (995, 64, ...). */
    NTSTATUS st = (NTSTATUS)e->lpOverlapped->Internal;
    *code = 0;
    if (st < 0) {
        *code = RtlNtStatusToDosError(st);
        gs_io_error_t c = error_class(*code);
        gs__ctr_add(&p->io_failed, 1);
        gs__ctr_add(&p->io_failed_by[c], 1);
        if (c == GS_IOERR_OTHER) {
            /* Unexpected codes are logged once each, so a wine or driver quirk is visible
             * without flooding the log. */
            size_t i = 0, n = sizeof(p->logged_codes) / sizeof(p->logged_codes[0]);
            while (i < n && p->logged_codes[i] && p->logged_codes[i] != *code)
                i++;
            if (i < n && !p->logged_codes[i]) {
                p->logged_codes[i] = *code;
                gs_log(GS_LOG_INFO, GS__LOG, "IOCP: operation failed with error %lu",
                       (unsigned long)*code);
            }
        }
        return EV_FAILED;
    }
    if (e->dwNumberOfBytesTransferred == 0 && (kind == OP_RECV || kind == OP_SEND)) {
        gs__ctr_add(&p->io_eof, 1);
        return EV_EOF;
    }
    gs__ctr_add(&p->io_completed, 1);
    return EV_DONE;
}

/* ---- setup ------------------------------------------------------------------------------- */

static int iocp_init(gs__loop_t *loop) {
    gs__port_t *p = calloc(1, sizeof(*p));
    if (!p)
        return GS_ENOMEM;
    /* One thread waits on this port, so let one run. */
    p->iocp = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
    if (!p->iocp) {
        gs_log(GS_LOG_ERROR, GS__LOG, "CreateIoCompletionPort: error %lu",
               (unsigned long)GetLastError());
        free(p);
        return GS_ESYS;
    }
    p->rng = 0x9E3779B97F4A7C15ull ^ (uint64_t)loop->index;
    loop->port = p;
    return 0;
}

static void iocp_fini(gs__loop_t *loop) {
    gs__port_t *p = loop->port;
    if (!p)
        return;
    /* Every thread is joined. A hand-off posted to this loop after it had finished may still be
     * queued: close the sockets it carries. Wake-ups need nothing. */
    OVERLAPPED_ENTRY ents[BATCH];
    ULONG n = 0;
    while (GetQueuedCompletionStatusEx(p->iocp, ents, BATCH, &n, 0, FALSE) && n > 0) {
        for (ULONG i = 0; i < n; i++)
            if (ents[i].lpCompletionKey != KEY_IO && ents[i].lpCompletionKey != KEY_WAKE)
                closesocket((SOCKET)(uintptr_t)ents[i].lpOverlapped);
    }
    CloseHandle(p->iocp);
    free(p);
    loop->port = NULL;
}

static int associate(gs__port_t *p, SOCKET s) {
    if (!CreateIoCompletionPort((HANDLE)s, p->iocp, KEY_IO, 0)) {
        gs_log(GS_LOG_ERROR, GS__LOG, "CreateIoCompletionPort(socket): error %lu",
               (unsigned long)GetLastError());
        return GS_ESYS;
    }
    return 0;
}

static void *extension(SOCKET s, GUID guid) {
    void *fn = NULL;
    DWORD bytes = 0;
    if (WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, sizeof(guid), &fn, sizeof(fn),
                 &bytes, NULL, NULL) != 0) {
        gs_log(GS_LOG_ERROR, GS__LOG, "WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER): %d",
               WSAGetLastError());
        return NULL;
    }
    return fn;
}

/* ---- wake-up ----------------------------------------------------------------------------- */

static void iocp_signal(gs__loop_t *loop) {
    /* One packet per sleep (the core exchanges wake_pending first). It also serves gs_net_stop:
     * closing a port does not wake its waiters under wine, a posted packet does. */
    if (!PostQueuedCompletionStatus(loop->port->iocp, 0, KEY_WAKE, NULL))
        gs_log(GS_LOG_ERROR, GS__LOG, "PostQueuedCompletionStatus: error %lu",
               (unsigned long)GetLastError());
}

/* ---- accept ------------------------------------------------------------------------------ */

static void post_accept(gs__loop_t *loop, iocp_listener_t *il, accept_op_t *a) {
    gs__port_t *p = loop->port;
    SOCKET ls = (SOCKET)a->l->fds[0];
    /* AcceptEx takes a socket created beforehand; it becomes the connection. */
    a->s = WSASocketW(il->family, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                      WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    int err = 0;
    if (a->s == INVALID_SOCKET) {
        err = WSAGetLastError();
    } else {
        memset(&a->op.ov, 0, sizeof(a->op.ov));
        DWORD got = 0;
        posting(p);
        /* Receive no data with the accept: a client that connects and waits must still be
         * accepted at once. */
        if (!il->acceptex(ls, a->s, a->addrs, 0, ACCEPT_ADDR_LEN, ACCEPT_ADDR_LEN, &got,
                          &a->op.ov) &&
            (err = WSAGetLastError()) != ERROR_IO_PENDING) {
            post_failed(p);
            closesocket(a->s);
            a->s = INVALID_SOCKET;
        } else {
            err = 0;
        }
    }
    if (err) {
        /* Out of sockets or memory: posting again now would fail again. Retry at the next tick;
         * connections wait in the backlog meanwhile. */
        char why[48];
        snprintf(why, sizeof why, "AcceptEx: WSA error %d", err);
        gs__loop_accept_pause(loop, why);
    }
}

static int iocp_accept_start(gs__loop_t *loop, gs__listener_t *l) {
    /* The shared listening socket belongs to loop 0's port (a handle is associated with one
     * port); loop 0 hands what it accepts to the others. */
    if (loop->index != 0 || l->nfds == 0)
        return 0;
    gs__port_t *p = loop->port;
    iocp_listener_t *il = l->port_data;
    SOCKET ls = (SOCKET)l->fds[0];
    if (!il) {
        WSAPROTOCOL_INFOW info;
        int len = sizeof(info);
        if (getsockopt(ls, SOL_SOCKET, SO_PROTOCOL_INFOW, (char *)&info, &len) != 0)
            return GS_ESYS;
        GUID g = WSAID_ACCEPTEX;
        LPFN_ACCEPTEX fn = (LPFN_ACCEPTEX)extension(ls, g);
        if (!fn)
            return GS_ESYS;
        il = calloc(1, sizeof(*il));
        if (!il)
            return GS_ENOMEM;
        il->family = info.iAddressFamily;
        il->acceptex = fn;
        for (uint32_t i = 0; i < ACCEPT_DEPTH; i++) {
            il->ops[i].op.kind = OP_ACCEPT;
            il->ops[i].l = l;
            il->ops[i].s = INVALID_SOCKET;
        }
        l->port_data = il;
    }
    if (!il->associated) {
        if (associate(p, ls) != 0)
            return GS_ESYS;
        il->associated = 1;
    }
    for (uint32_t i = 0; i < ACCEPT_DEPTH; i++)
        if (il->ops[i].s == INVALID_SOCKET)
            post_accept(loop, il, &il->ops[i]);
    l->armed[0] = 1;
    return 0;
}

static void iocp_accept_stop(gs__loop_t *loop, gs__listener_t *l) {
    if (loop->index != 0 || !l->port_data || l->nfds == 0)
        return;
    l->armed[0] = 0;
    /* Cancel every posted AcceptEx: each completes with a failure and closes its socket. If
     * the cancel itself fails (other than "nothing to cancel"), closing the listening socket
     * ends them as well; net.c then has nothing left to close. */
    if (!CancelIoEx((HANDLE)(SOCKET)l->fds[0], NULL) && GetLastError() != ERROR_NOT_FOUND) {
        gs_log(GS_LOG_WARN, GS__LOG, "CancelIoEx(listener): error %lu: closing it",
               (unsigned long)GetLastError());
        gs__sock_listen_close(l);
    }
}

/* An accepted socket joins the loop that will own it. */
static void adopt(gs__loop_t *loop, gs__listener_t *l, SOCKET s) {
    if (associate(loop->port, s) != 0) {
        closesocket(s);
        return;
    }
    gs__on_accept(loop, l, (intptr_t)s);
}

static void on_accept(gs__loop_t *loop, accept_op_t *a, ev_t ev) {
    gs__port_t *p = loop->port;
    gs__listener_t *l = a->l;
    SOCKET s = a->s;
    a->s = INVALID_SOCKET;
    int rearm = !loop->stopping && !p->tearing_down && l->armed[0];
    if (ev == EV_FAILED) {
        /* Cancelled at stop, or the client reset before we took it: that socket is spent. */
        closesocket(s);
        if (rearm)
            post_accept(loop, l->port_data, a);
        return;
    }
    SOCKET ls = (SOCKET)l->fds[0];
    /* Gives the accepted socket the listener's properties (getpeername, shutdown work). */
    setsockopt(s, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (const char *)&ls, sizeof(ls));
    BOOL one = TRUE;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof(one));
    if (rearm)
        post_accept(loop, l->port_data, a);
    gs_net_t *net = loop->net;
    uint32_t t = net->nloops > 1 && !loop->stopping ? p->next_target++ % net->nloops : 0;
    if (t != loop->index) {
        gs__loop_t *target = &net->loops[t];
        if (PostQueuedCompletionStatus(target->port->iocp, 0, (ULONG_PTR)l,
                                       (LPOVERLAPPED)(uintptr_t)s)) {
            gs__ctr_add(&p->port_handoffs, 1);
            return;
        }
        gs_log(GS_LOG_WARN, GS__LOG, "accept hand-off failed (error %lu): keeping it here",
               (unsigned long)GetLastError());
    }
    adopt(loop, l, s);
}

/* The core's accept pause is over: post the AcceptEx requests that failed again. */
static void iocp_accept_resume(gs__loop_t *loop) {
    if (loop->port->tearing_down)
        return;
    for (gs__listener_t *l = loop->net->listeners; l; l = l->next)
        if (l->armed[0])
            iocp_accept_start(loop, l);
}

/* ---- sessions ---------------------------------------------------------------------------- */

static iocp_sess_t *sess_data(gs__session_t *s) {
    if (!s->port_data) {
        uint32_t size = s->net->cfg.recv_buffer_size;
        iocp_sess_t *is = malloc(sizeof(*is) + size);
        if (!is)
            return NULL;
        memset(is, 0, sizeof(*is));
        is->s = s;
        is->rsize = size;
        is->recv_op.kind = OP_RECV;
        is->connect_op.kind = OP_CONNECT;
        s->port_data = is;
    }
    return s->port_data;
}

static int post_recv(gs__session_t *s) {
    gs__port_t *p = s->loop->port;
    iocp_sess_t *is = sess_data(s);
    if (!is)
        return GS_ENOMEM;
    memset(&is->recv_op.ov, 0, sizeof(is->recv_op.ov));
    WSABUF wb = {.len = is->rsize, .buf = (char *)is->rbuf};
    DWORD flags = 0;
    posting(p);
    if (WSARecv((SOCKET)s->fd, &wb, 1, NULL, &flags, &is->recv_op.ov, NULL) != 0) {
        int err = WSAGetLastError();
        if (err != WSA_IO_PENDING) {
            /* Failed at once: no completion will come. */
            post_failed(p);
            return GS_ESYS;
        }
    }
    return 0;
}

static int iocp_recv_start(gs__session_t *s) { return post_recv(s); }

static void recv_finished(gs__session_t *s, int err) {
    gs__on_recv_end(s, err);
    gs__session_put(s); /* the receive's reference */
}

static void on_recv(gs__session_t *s, ev_t ev, DWORD code, DWORD bytes) {
    if (ev == EV_FAILED) {
        recv_finished(s, -(int)code);
        return;
    }
    if (ev == EV_EOF) {
        recv_finished(s, 0); /* the peer closed its side */
        return;
    }
    gs__on_recv(s, ((iocp_sess_t *)s->port_data)->rbuf, bytes);
    if (s->state != GS__S_OPEN) {
        recv_finished(s, -ECANCELED);
        return;
    }
    if (s->recv_paused) {
        s->recv_parked = 1; /* backpressure: keep the reference, post nothing (port.h) */
        return;
    }
    /* The receive keeps its reference across the re-post. */
    if (post_recv(s) != 0)
        recv_finished(s, GS_ESYS);
}

static iocp_op_t *send_op(gs__send_req_t *req) { return (iocp_op_t *)(void *)req->port_space; }

static int iocp_send(gs__session_t *s, gs__send_req_t *req) {
    gs__port_t *p = s->loop->port;
    WSABUF wb[IOCP_WSABUF_MAX];
    uint32_t left = req->nbufs - req->iov_first;
    if (left > IOCP_WSABUF_MAX)
        left = IOCP_WSABUF_MAX; /* the completion comes back short; the core posts the rest */
    uint64_t limit = UINT64_MAX;
    uint32_t cap = s->net->cfg.debug_send_max;
    if (cap) {
        /* Test knob: offer only a random prefix, as a short send would leave. */
        p->rng ^= p->rng << 13, p->rng ^= p->rng >> 7, p->rng ^= p->rng << 17;
        limit = 1 + p->rng % cap;
    }
    uint32_t n = 0;
    uint64_t sum = 0;
    while (n < left && sum < limit) {
        gs__iov_t *v = &req->iov[req->iov_first + n];
        uint64_t len = v->len;
        if (len > limit - sum)
            len = limit - sum;
        if (len > UINT32_MAX / 2)
            len = UINT32_MAX / 2; /* WSABUF lengths are ULONG */
        wb[n].buf = (char *)v->base;
        wb[n].len = (ULONG)len;
        sum += len;
        n++;
    }
    iocp_op_t *op = send_op(req);
    memset(op, 0, sizeof(*op));
    op->kind = OP_SEND;
    posting(p);
    /* Winsock captures the WSABUF array before returning, so it may live on this stack. */
    if (WSASend((SOCKET)s->fd, wb, n, NULL, 0, &op->ov, NULL) != 0) {
        int err = WSAGetLastError();
        if (err != WSA_IO_PENDING) {
            post_failed(p);
            return GS_ESYS;
        }
    }
    return 0;
}

static int iocp_connect_prepare(gs__session_t *s, const gs__addr_t *addr) {
    iocp_sess_t *is = sess_data(s);
    if (!is)
        return GS_ENOMEM;
    is->addr = *addr;
    return 0;
}

static int iocp_connect(gs__session_t *s) {
    gs__port_t *p = s->loop->port;
    iocp_sess_t *is = s->port_data;
    if (!is)
        return GS_ESYS;
    SOCKET sock = (SOCKET)s->fd;
    const struct sockaddr *sa = (const struct sockaddr *)(const void *)is->addr.bytes;
    /* ConnectEx needs a bound socket: any local address and port of the family. */
    SOCKADDR_STORAGE any;
    memset(&any, 0, sizeof(any));
    any.ss_family = sa->sa_family;
    int anylen = sa->sa_family == AF_INET6 ? (int)sizeof(struct sockaddr_in6)
                                           : (int)sizeof(struct sockaddr_in);
    if (bind(sock, (struct sockaddr *)&any, anylen) != 0) {
        gs_log(GS_LOG_ERROR, GS__LOG, "bind before ConnectEx: WSA error %d", WSAGetLastError());
        return GS_ESYS;
    }
    if (associate(p, sock) != 0)
        return GS_ESYS;
    if (!p->connectex) {
        GUID g = WSAID_CONNECTEX;
        p->connectex = (LPFN_CONNECTEX)extension(sock, g);
        if (!p->connectex)
            return GS_ESYS;
    }
    memset(&is->connect_op.ov, 0, sizeof(is->connect_op.ov));
    posting(p);
    if (!p->connectex(sock, sa, (int)is->addr.len, NULL, 0, NULL, &is->connect_op.ov)) {
        int err = WSAGetLastError();
        if (err != ERROR_IO_PENDING) {
            post_failed(p);
            gs_log(GS_LOG_INFO, GS__LOG, "ConnectEx: WSA error %d", err);
            return GS_ESYS;
        }
    }
    return 0;
}

static void on_connect(gs__session_t *s, ev_t ev, DWORD code) {
    if (ev != EV_FAILED) {
        SOCKET sock = (SOCKET)s->fd;
        /* Without it the socket is connected but shutdown and getpeername fail on it. */
        setsockopt(sock, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, NULL, 0);
        BOOL one = TRUE;
        setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof(one));
    }
    gs__on_connect_done(s, ev == EV_FAILED ? -(int)code : 0);
    gs__session_put(s); /* the connect's reference */
}

static void iocp_cancel(gs__session_t *s) {
    if (s->fd == -1)
        return;
    /* Ends the pending receive, send or connect: each still completes (FALSE with its
     * OVERLAPPED, error 995) and drops its reference there. An operation that already completed
     * is not found, and its completion is queued anyway: exactly one per operation. */
    if (!CancelIoEx((HANDLE)(SOCKET)s->fd, NULL) && GetLastError() != ERROR_NOT_FOUND) {
        /* Should not happen; closing the socket ends every operation on it too. */
        gs_log(GS_LOG_WARN, GS__LOG, "CancelIoEx: error %lu: closing the socket",
               (unsigned long)GetLastError());
        closesocket((SOCKET)s->fd);
        s->fd = -1;
    }
}

static void iocp_recv_pause(gs__session_t *s) {
    /* One WSARecv at a time: it parks when it completes (on_recv). A receive waiting for data
     * costs nothing meanwhile. */
    (void)s;
}

static void iocp_session_release(gs__session_t *s) {
    free(s->port_data);
    s->port_data = NULL;
    if (s->fd != -1)
        closesocket((SOCKET)s->fd);
    s->fd = -1;
}

static void iocp_close_fd(intptr_t fd) { closesocket((SOCKET)fd); }

static gs_buf_t *iocp_lend(gs__loop_t *loop, const uint8_t *data, uint32_t len) {
    /* Each session receives into its own buffer and posts the next WSARecv into it at once:
     * lending it would stall the session. The core copies instead. */
    (void)loop;
    (void)data;
    (void)len;
    return NULL;
}

static void iocp_stats(gs__loop_t *loop, gs__port_stats_t *out) {
    gs__port_t *p = loop->port;
    out->io_in_flight = gs__ctr_get(&p->io_in_flight);
    out->io_posted = gs__ctr_get(&p->io_posted);
    out->io_completed = gs__ctr_get(&p->io_completed);
    out->io_eof = gs__ctr_get(&p->io_eof);
    out->io_failed = gs__ctr_get(&p->io_failed);
    for (int e = 0; e < GS_IOERR__COUNT; e++)
        out->io_failed_by[e] = gs__ctr_get(&p->io_failed_by[e]);
    out->port_wakeups = gs__ctr_get(&p->port_wakeups);
    out->port_handoffs = gs__ctr_get(&p->port_handoffs);
    out->port_timeouts = gs__ctr_get(&p->port_timeouts);
    out->port_errors = gs__ctr_get(&p->port_errors);
}

/* ---- completions ------------------------------------------------------------------------- */

static void dispatch(gs__loop_t *loop, const OVERLAPPED_ENTRY *e) {
    gs__port_t *p = loop->port;
    if (e->lpCompletionKey == KEY_WAKE) {
        gs__ctr_add(&p->port_wakeups, 1); /* gs__loop_after_batch reads the inbox and stop */
        return;
    }
    if (e->lpCompletionKey != KEY_IO) {
        adopt(loop, (gs__listener_t *)e->lpCompletionKey, (SOCKET)(uintptr_t)e->lpOverlapped);
        return;
    }
    if (!e->lpOverlapped) {
        gs__ctr_add(&p->port_errors, 1);
        gs_log(GS_LOG_ERROR, GS__LOG, "IOCP: completion without an OVERLAPPED");
        return;
    }
    iocp_op_t *op = gs_container_of(e->lpOverlapped, iocp_op_t, ov);
    DWORD code;
    ev_t ev = classify(p, e, op->kind, &code);
    in_flight(p, -1);
    switch (op->kind) {
    case OP_RECV: {
        iocp_sess_t *is = gs_container_of(op, iocp_sess_t, recv_op);
        on_recv(is->s, ev, code, e->dwNumberOfBytesTransferred);
        return;
    }
    case OP_SEND: {
        gs__send_req_t *req =
            (gs__send_req_t *)(void *)((char *)op - offsetof(gs__send_req_t, port_space));
        gs__session_t *s = req->session;
        /* A send that moved 0 bytes means the peer is gone: an error for the core, which would
         * otherwise post the same bytes again. */
        long result = ev == EV_DONE  ? (long)e->dwNumberOfBytesTransferred
                      : ev == EV_EOF ? -(long)WSAECONNRESET
                                     : -(long)code;
        gs__on_send_done(s, req, result);
        gs__session_put(s); /* the send's reference */
        return;
    }
    case OP_CONNECT: {
        iocp_sess_t *is = gs_container_of(op, iocp_sess_t, connect_op);
        on_connect(is->s, ev, code);
        return;
    }
    case OP_ACCEPT:
        on_accept(loop, gs_container_of(op, accept_op_t, op), ev);
        return;
    default:
        gs_log(GS_LOG_ERROR, GS__LOG, "IOCP: unknown operation kind %u", op->kind);
    }
}

static void wait_and_dispatch(gs__loop_t *loop, uint32_t wait_ms) {
    gs__port_t *p = loop->port;
    OVERLAPPED_ENTRY ents[BATCH];
    ULONG n = 0;
    BOOL ok = GetQueuedCompletionStatusEx(p->iocp, ents, BATCH, &n, wait_ms, FALSE);
    /* The wait may have lasted up to a tick: stamp what it delivered with the time now. */
    loop->now_ms = gs_now_ms();
    if (!ok) {
        /* FALSE without an entry: a timeout (the tick is due), or the port failed. */
        DWORD err = GetLastError();
        if (err == WAIT_TIMEOUT) {
            gs__ctr_add(&p->port_timeouts, 1);
        } else {
            if (gs__ctr_get(&p->port_errors) % 1000 == 0)
                gs_log(GS_LOG_ERROR, GS__LOG, "GetQueuedCompletionStatusEx: error %lu",
                       (unsigned long)err);
            gs__ctr_add(&p->port_errors, 1);
        }
        return;
    }
    for (ULONG i = 0; i < n; i++)
        dispatch(loop, &ents[i]);
}

static void iocp_thread_start(gs__loop_t *loop) { (void)loop; }

static void iocp_batch_end(gs__loop_t *loop) { (void)loop; }

/* Accepting was stopped by the core: wait for the AcceptEx completions, then free them. */
static void iocp_thread_end(gs__loop_t *loop) {
    gs__port_t *p = loop->port;
    p->tearing_down = 1;
    while (gs__ctr_get(&p->io_in_flight) > 0)
        wait_and_dispatch(loop, 100);
    for (gs__listener_t *l = loop->net->listeners; l; l = l->next) {
        if (loop->index == 0) {
            free(l->port_data);
            l->port_data = NULL;
        }
    }
}

const gs__port_ops_t gs__port_iocp_ops = {
    .name = "iocp",
    .gather_limit = IOCP_WSABUF_MAX,
    .init = iocp_init,
    .fini = iocp_fini,
    .thread_start = iocp_thread_start,
    .poll = wait_and_dispatch,
    .batch_end = iocp_batch_end,
    .thread_end = iocp_thread_end,
    .signal = iocp_signal,
    .accept_start = iocp_accept_start,
    .accept_stop = iocp_accept_stop,
    .accept_resume = iocp_accept_resume,
    .recv_start = iocp_recv_start,
    .recv_pause = iocp_recv_pause,
    .send = iocp_send,
    .connect_prepare = iocp_connect_prepare,
    .connect = iocp_connect,
    .cancel = iocp_cancel,
    .session_release = iocp_session_release,
    .close_fd = iocp_close_fd,
    .lend = iocp_lend,
    .stats = iocp_stats,
};

/* SPDX-License-Identifier: MIT */
/* abusers: the hostile clients of bench/hostile_mix.sh (issue 11), one thread, plain epoll, like
 * bench/loadgen. Each kind is a count of connections; every connection binds a local address
 * from --source-base (+ i % --sources) before it connects, so per-address limits of the server
 * apply to the abusers and not to honest load from 127.0.0.1. Kinds:
 *   never-readers  send 24-byte frames as fast as the socket takes them, never read (chat: after
 *                  a LoginRequest, Pings of exactly 24 bytes on the wire)
 *   chat-flood     log in, join room-(i % --rooms), send ChatSend as fast as possible, read and
 *                  discard what comes back
 *   join-leave     log in, JoinRequest/LeaveRequest of the same room in a loop
 *   roomlist-flood log in, RoomListRequest in a loop
 *   garbage        random bytes, a header announcing 0xFFFFFFFF bytes, or (chat) well-framed
 *                  random bodies with unknown ids; then read until the server closes
 *   slowloris      a frame header announcing 1000 bytes, then one body byte per second
 * Every connection that ends (closed or reset by the server, refused, or, for garbage, not
 * closed within 2 s) is opened again at once: that is the abuse. Connection attempts of the whole
 * process are capped by a token bucket (--max-connect-rate), so a refusing server cannot make
 * this process spin. Messages are encoded with protobuf-c (chat.pb-c.h), ids from
 * gs_msg_id_of_name. --burn PCT opens nothing and only burns PCT% of one CPU: the harmless
 * control load of the same CPU cost.
 * At the end (--seconds, or SIGINT/SIGTERM) it prints one JSON line with per-kind counts and its
 * own CPU seconds. Exit 0; 1 when no connection could be established at all; 2 usage error. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "chat.pb-c.h"
#include "gs/packet.h"

#define PROG       "abusers"
#define HDR        8u            /* docs/protocol.md: u32 body length, u32 message id */
#define SBUF       8192u         /* one connection's repeating output stream */
#define PRE_MAX    512u          /* login/join frames written before the stream */
#define READ_SIZE  (64u * 1024u) /* shared read buffer */
#define MAX_EVENTS 256
#define MAX_CONNS  10000u
#define NS         UINT64_C(1000000000)
#define CONNECT_NS (2 * NS) /* a connect not done by then counts as refused */
#define GARBAGE_NS (2 * NS) /* garbage the server did not close: we close and go again */
#define SLOW_NS    NS       /* slowloris: one byte per second */
#define ECHO_ID    1u       /* gs-echo-server echoes any id */
#define KIND_OPT   1000     /* getopt_long values of the kind counts */

enum { K_NEVER, K_FLOOD, K_JOINLEAVE, K_ROOMLIST, K_GARBAGE, K_SLOW, K_COUNT };
static const char *const kind_name[K_COUNT] = {"never_readers",  "chat_flood", "join_leave",
                                               "roomlist_flood", "garbage",    "slowloris"};

/* C_WAIT: waiting for a connect token; C_CONNECTING; C_LOGIN: logged-in reply awaited (chat);
 * C_JOIN: JoinReply awaited (chat-flood); C_RUN: the abuse itself. */
enum { C_WAIT, C_CONNECTING, C_LOGIN, C_JOIN, C_RUN };

typedef struct stats {
    uint64_t connects, refused, cuts, gave_up, bytes_sent, requests, replies;
} stats_t;

typedef struct conn {
    int fd, kind, state, got;   /* got: a byte arrived from the server on this connection */
    uint32_t index, gen;        /* abuser index (source address, nickname, room); attempt number */
    uint64_t t_connect, t_next; /* connect time; slowloris' next byte, garbage's give-up time */
    uint32_t ev;                /* the epoll mask now set */
    uint8_t pre[PRE_MAX];       /* frames to write before the stream (login, then join) */
    uint32_t pre_len, pre_off;
    uint8_t sbuf[SBUF]; /* whole units, repeated: written round and round */
    uint32_t unit, slen, soff;
    uint64_t spos;    /* stream bytes written on this connection: requests = spos / unit */
    int once;         /* garbage: the stream is written once, not round and round */
    uint8_t hdr[HDR]; /* reply framer: header bytes so far, then body bytes to skip */
    uint32_t hdr_have, skip;
} conn_t;

typedef struct opts {
    const char *host;
    uint16_t port;
    uint32_t count[K_COUNT], seconds, sources, rooms, burn;
    double max_rate;
    int chat;
    struct in_addr source;
} opts_t;

typedef struct run {
    opts_t o;
    int ep;
    struct sockaddr_in addr;
    conn_t *c;
    uint32_t n;
    stats_t st[K_COUNT];
    uint64_t attempts, connect_errors, bind_errors;
    double tokens;
    uint64_t t_tokens, rng;
    uint32_t cursor; /* where the next round of connects starts */
    uint8_t *rbuf;
    uint32_t id_login, id_login_reply, id_join_reply, id_join, id_leave, id_chat, id_ping, id_list;
} run_t;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t rnd(run_t *r) { /* splitmix64 */
    uint64_t x = (r->rng += UINT64_C(0x9e3779b97f4a7c15));
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Frame one message (header + protobuf-c body) at out; returns its length, 0 if it does not fit. */
static uint32_t frame(uint8_t *out, uint32_t cap, uint32_t id, const ProtobufCMessage *m) {
    size_t n = protobuf_c_message_get_packed_size(m);
    if (HDR + n > cap)
        return 0;
    gs_frame_header_write(out, (uint32_t)n, id);
    protobuf_c_message_pack(m, out + HDR);
    return HDR + (uint32_t)n;
}

/* Repeat the unit at c->sbuf[0..unit) to fill the stream buffer with whole units. */
static void stream_fill(conn_t *c, uint32_t unit) {
    c->unit = unit;
    c->slen = unit ? SBUF / unit * unit : 0;
    for (uint32_t o = unit; o + unit <= c->slen; o += unit)
        memcpy(c->sbuf + o, c->sbuf, unit);
    c->soff = 0;
}

static void nick_of(const conn_t *c, char *out) { /* "x" + 2 base-36 digits + attempt, base 36 */
    static const char d36[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    char g[16];
    int n = 0;
    uint32_t gen = c->gen;
    do {
        g[n++] = d36[gen % 36];
        gen /= 36;
    } while (gen && n < 12);
    out[0] = 'x';
    out[1] = d36[(c->index / 36) % 36];
    out[2] = d36[c->index % 36];
    for (int i = 0; i < n; i++)
        out[3 + i] = g[n - 1 - i];
    out[3 + n] = 0;
}

static void room_of(const run_t *r, const conn_t *c, char *out, size_t cap) {
    snprintf(out, cap, "room-%" PRIu32, c->index % r->o.rooms);
}

/* What a connection writes, built when it connects (pre) and when it may start (stream). */
static void build_pre(run_t *r, conn_t *c) {
    c->pre_len = c->pre_off = 0;
    c->unit = c->slen = c->soff = 0;
    c->spos = 0;
    c->once = 0;
    if (!r->o.chat) { /* echo: every kind goes straight to its stream */
        if (c->kind == K_NEVER) {
            gs_frame_header_write(c->sbuf, 16, ECHO_ID); /* 8 + 16: the smallest echo */
            for (int i = 0; i < 16; i++)
                c->sbuf[HDR + i] = (uint8_t)('a' + i);
            stream_fill(c, HDR + 16);
        }
        return;
    }
    if (c->kind == K_GARBAGE || c->kind == K_SLOW)
        return;
    char nick[20];
    nick_of(c, nick);
    Chat__LoginRequest lr = CHAT__LOGIN_REQUEST__INIT;
    lr.request_id = 1;
    lr.nickname = nick;
    c->pre_len = frame(c->pre, PRE_MAX, r->id_login, &lr.base);
    if (c->kind == K_NEVER) { /* after the login, 24-byte Pings, never reading the replies */
        Chat__Ping p = CHAT__PING__INIT;
        p.request_id = UINT32_C(0x10000000) | c->index; /* a 5-byte varint */
        p.client_time_us = UINT64_C(1) << 56;           /* a 9-byte varint: body 16 bytes */
        stream_fill(c, frame(c->sbuf, SBUF, r->id_ping, &p.base));
    }
}

static void build_stream(run_t *r, conn_t *c) {
    char room[40];
    room_of(r, c, room, sizeof room);
    uint32_t n = 0;
    if (c->kind == K_FLOOD) {
        char text[41];
        memset(text, 'f', 40);
        text[40] = 0;
        Chat__ChatSend m = CHAT__CHAT_SEND__INIT;
        m.request_id = 3;
        m.room = room;
        m.text = text;
        m.seq = 1;
        n = frame(c->sbuf, SBUF, r->id_chat, &m.base);
    } else if (c->kind == K_JOINLEAVE) {
        Chat__JoinRequest j = CHAT__JOIN_REQUEST__INIT;
        Chat__LeaveRequest l = CHAT__LEAVE_REQUEST__INIT;
        j.request_id = 3;
        j.room = room;
        l.request_id = 4;
        l.room = room;
        n = frame(c->sbuf, SBUF, r->id_join, &j.base);
        n += frame(c->sbuf + n, SBUF - n, r->id_leave, &l.base);
    } else if (c->kind == K_ROOMLIST) {
        Chat__RoomListRequest m = CHAT__ROOM_LIST_REQUEST__INIT;
        m.request_id = 3;
        m.after = "";
        n = frame(c->sbuf, SBUF, r->id_list, &m.base);
    }
    stream_fill(c, n);
}

static void build_garbage(run_t *r, conn_t *c) {
    unsigned variant = c->gen % (r->o.chat ? 3u : 2u);
    for (uint32_t i = 0; i < SBUF; i += 8) {
        uint64_t w = rnd(r);
        memcpy(c->sbuf + i, &w, 8);
    }
    if (variant == 1) { /* a header announcing 0xFFFFFFFF bytes */
        gs_frame_header_write(c->sbuf, UINT32_MAX, ECHO_ID);
    } else if (variant == 2) { /* well framed, 16 random bytes under a random (unknown) id */
        for (uint32_t o = 0; o + HDR + 16 <= SBUF; o += HDR + 16)
            gs_frame_header_write(c->sbuf + o, 16, (uint32_t)rnd(r) | 1u);
    }
    c->unit = variant == 2 ? HDR + 16 : SBUF;
    c->slen = SBUF / c->unit * c->unit;
    c->soff = 0;
    c->once = 1;
    c->t_next = now_ns() + GARBAGE_NS;
}

static void set_ev(run_t *r, conn_t *c, uint32_t ev) {
    if (ev == c->ev)
        return;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd, &e);
    c->ev = ev;
}

/* The epoll interest a connection needs in its state. */
static uint32_t want_ev(const conn_t *c) {
    if (c->state == C_CONNECTING)
        return EPOLLOUT;
    uint32_t ev = EPOLLRDHUP;
    if (c->kind != K_NEVER || !c->got)
        ev |= EPOLLIN; /* never-readers only notice the first byte, then stop asking */
    if (c->pre_off < c->pre_len || (c->state == C_RUN && c->slen && c->kind != K_SLOW))
        ev |= EPOLLOUT;
    return ev;
}

/* Requests in the stream bytes written so far (a join-leave unit is two requests). */
static uint64_t stream_requests(const conn_t *c) {
    return c->unit ? c->spos / c->unit * (c->kind == K_JOINLEAVE ? 2u : 1u) : 0;
}

/* The connection ended; count how, and queue it for a new connect. */
static void conn_end(run_t *r, conn_t *c, int by_server, uint64_t now) {
    stats_t *s = &r->st[c->kind];
    if (c->fd >= 0) {
        s->requests += stream_requests(c);
        close(c->fd);
    }
    /* Refused: the connect failed, or the server closed the connection before a byte of it
     * arrived (as a refusal at accept does; so does a cut before the first reply: garbage in
     * echo mode, a never-reader cut before its LoginReply went out). Cut: closed after. */
    (void)now;
    if (c->state == C_CONNECTING || (by_server && !c->got))
        s->refused++;
    else if (by_server)
        s->cuts++;
    else
        s->gave_up++;
    c->fd = -1;
    c->state = C_WAIT;
    c->ev = 0;
}

static void conn_start(run_t *r, conn_t *c, uint64_t now) {
    r->attempts++;
    c->gen++;
    c->got = 0;
    c->hdr_have = c->skip = 0;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        r->connect_errors++;
        return;
    }
    int one = 1, snd = 16384, rcv = 4096;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* Small kernel buffers: the abuser's own copies stay cheap (it shares a CPU with the
     * honest client), and a never-reader's echoes back up into the server's queue sooner. */
    setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd);
    if (c->kind == K_NEVER)
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    /* Port 0 with IP_BIND_ADDRESS_NO_PORT: the port is picked at connect for the 4-tuple, so a
     * reconnect loop does not exhaust the ephemeral ports of the source address. */
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(ntohl(r->o.source.s_addr) + c->index % r->o.sources);
    if (bind(c->fd, (struct sockaddr *)&src, sizeof src) != 0) {
        r->bind_errors++;
        close(c->fd);
        c->fd = -1;
        return;
    }
    c->t_connect = now;
    c->state = C_CONNECTING;
    if (connect(c->fd, (struct sockaddr *)&r->addr, sizeof r->addr) != 0 && errno != EINPROGRESS) {
        r->connect_errors++;
        conn_end(r, c, 1, now);
        return;
    }
    struct epoll_event e = {.events = EPOLLOUT, .data.ptr = c};
    epoll_ctl(r->ep, EPOLL_CTL_ADD, c->fd, &e);
    c->ev = EPOLLOUT;
}

/* Enter the abuse proper. */
static void conn_run(run_t *r, conn_t *c, uint64_t now) {
    c->state = C_RUN;
    if (c->kind == K_GARBAGE)
        build_garbage(r, c);
    else if (c->kind == K_SLOW) {
        gs_frame_header_write(c->pre, 1000, r->o.chat ? r->id_login : ECHO_ID);
        c->pre_len = HDR;
        c->pre_off = 0;
        c->t_next = now + SLOW_NS;
    } else if (r->o.chat && c->kind != K_NEVER)
        build_stream(r, c);
}

static void on_connected(run_t *r, conn_t *c, uint64_t now) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        r->connect_errors++;
        conn_end(r, c, 1, now);
        return;
    }
    r->st[c->kind].connects++;
    build_pre(r, c);
    if (r->o.chat && (c->kind == K_FLOOD || c->kind == K_JOINLEAVE || c->kind == K_ROOMLIST))
        c->state = C_LOGIN;
    else
        conn_run(r, c, now);
}

/* Write what is pending (pre first, then the stream); -1 when the connection failed. */
static int do_write(run_t *r, conn_t *c) {
    stats_t *s = &r->st[c->kind];
    for (;;) {
        const uint8_t *p;
        size_t len;
        int pre = c->pre_off < c->pre_len;
        if (pre) {
            p = c->pre + c->pre_off;
            len = c->pre_len - c->pre_off;
        } else if (c->state == C_RUN && c->slen && c->kind != K_SLOW) {
            p = c->sbuf + c->soff;
            len = c->slen - c->soff;
        } else
            return 0;
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        s->bytes_sent += (uint64_t)n;
        if (pre) {
            c->pre_off += (uint32_t)n;
            if (c->pre_off == c->pre_len)
                s->requests++; /* the login or the join */
            continue;
        }
        c->soff += (uint32_t)n;
        c->spos += (uint64_t)n;
        if (c->soff == c->slen) {
            c->soff = 0;
            if (c->once) {
                s->requests += stream_requests(c);
                c->slen = 0; /* written once: now only read until the server closes */
                c->spos = 0;
                return 0;
            }
        }
        if ((size_t)n < len)
            return 0; /* the socket is full: wait for EPOLLOUT */
        if (c->kind != K_NEVER)
            return 0; /* one write per wake-up; never-readers fill the socket at once */
    }
}

/* Count reply frames; move a chat connection on when its login or join is answered. */
static void parse(run_t *r, conn_t *c, const uint8_t *p, size_t n, uint64_t now) {
    while (n) {
        if (c->skip) {
            size_t k = c->skip < n ? c->skip : n;
            c->skip -= (uint32_t)k;
            p += k;
            n -= k;
            continue;
        }
        size_t k = HDR - c->hdr_have < n ? HDR - c->hdr_have : n;
        memcpy(c->hdr + c->hdr_have, p, k);
        c->hdr_have += (uint32_t)k;
        p += k;
        n -= k;
        if (c->hdr_have < HDR)
            break;
        c->hdr_have = 0;
        c->skip = get32(c->hdr);
        uint32_t id = get32(c->hdr + 4);
        r->st[c->kind].replies++;
        if (c->state == C_LOGIN && id == r->id_login_reply) {
            if (c->kind == K_FLOOD) {
                Chat__JoinRequest j = CHAT__JOIN_REQUEST__INIT;
                char room[40];
                room_of(r, c, room, sizeof room);
                j.request_id = 2;
                j.room = room;
                c->pre_len = frame(c->pre, PRE_MAX, r->id_join, &j.base);
                c->pre_off = 0;
                c->state = C_JOIN;
            } else
                conn_run(r, c, now);
        } else if (c->state == C_JOIN && id == r->id_join_reply)
            conn_run(r, c, now);
    }
}

static void on_event(run_t *r, conn_t *c, uint32_t ev, uint64_t now) {
    if (c->state == C_CONNECTING) {
        on_connected(r, c, now);
        if (c->state != C_WAIT && do_write(r, c) != 0)
            conn_end(r, c, 1, now);
        if (c->state != C_WAIT)
            set_ev(r, c, want_ev(c));
        return;
    }
    if (ev & EPOLLIN) {
        if (c->kind == K_NEVER) {
            /* Noticed, not read: the socket's receive queue stays full. EPOLLIN also means an
             * end of stream, which is not a byte from the server. */
            int avail = 0;
            if (ioctl(c->fd, FIONREAD, &avail) == 0 && avail > 0)
                c->got = 1;
        } else {
            ssize_t n = recv(c->fd, r->rbuf, READ_SIZE, 0);
            if (n > 0) {
                c->got = 1;
                parse(r, c, r->rbuf, (size_t)n, now);
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                conn_end(r, c, 1, now);
                return;
            }
        }
    }
    if ((ev & (EPOLLHUP | EPOLLERR)) || ((ev & EPOLLRDHUP) && c->kind == K_NEVER)) {
        conn_end(r, c, 1, now); /* readers see the end as a read of 0 once the data is read */
        return;
    }
    if ((ev & EPOLLOUT) && do_write(r, c) != 0) {
        conn_end(r, c, 1, now);
        return;
    }
    set_ev(r, c, want_ev(c));
}

/* Timers: connects that hang, slowloris bytes, garbage the server put up with. Returns the
 * nearest deadline. */
static uint64_t timers(run_t *r, uint64_t now) {
    uint64_t next = now + NS;
    for (uint32_t i = 0; i < r->n; i++) {
        conn_t *c = &r->c[i];
        if (c->state == C_CONNECTING) {
            if (now - c->t_connect >= CONNECT_NS)
                conn_end(r, c, 1, now);
            else if (c->t_connect + CONNECT_NS < next)
                next = c->t_connect + CONNECT_NS;
            continue;
        }
        if (c->state != C_RUN || (c->kind != K_SLOW && c->kind != K_GARBAGE))
            continue;
        if (now >= c->t_next) {
            if (c->kind == K_GARBAGE) {
                conn_end(r, c, 0, now);
                continue;
            }
            if (c->pre_off == c->pre_len) { /* the header is out: one more body byte */
                ssize_t n = send(c->fd, "a", 1, MSG_NOSIGNAL);
                if (n == 1)
                    r->st[K_SLOW].bytes_sent++;
                else if (n < 0 && errno != EAGAIN) {
                    conn_end(r, c, 1, now);
                    continue;
                }
            }
            c->t_next = now + SLOW_NS;
        }
        if (c->t_next < next)
            next = c->t_next;
    }
    return next;
}

/* Start the connects the token bucket allows; returns when the next token is due (0: none
 * waiting). */
static uint64_t connect_waiting(run_t *r, uint64_t now) {
    double burst = r->o.max_rate / 10.0 < 1.0 ? 1.0 : r->o.max_rate / 10.0;
    r->tokens += (double)(now - r->t_tokens) / 1e9 * r->o.max_rate;
    if (r->tokens > burst)
        r->tokens = burst;
    r->t_tokens = now;
    int waiting = 0;
    /* Round robin from where the last call stopped: under a low rate, the first kinds in the
     * table would otherwise take every token. */
    for (uint32_t k = 0; k < r->n; k++) {
        conn_t *c = &r->c[(r->cursor + k) % r->n];
        if (c->state != C_WAIT)
            continue;
        if (r->tokens < 1.0) {
            waiting = 1;
            r->cursor = (r->cursor + k) % r->n;
            break;
        }
        r->tokens -= 1.0;
        conn_start(r, c, now);
    }
    if (!waiting)
        return 0;
    return now + (uint64_t)((1.0 - r->tokens) / r->o.max_rate * 1e9) + 1;
}

static int usage(FILE *f, int rc) {
    fprintf(f,
            "usage: " PROG " [options]\n"
            "  --mode echo|chat        server kind (default echo; echo supports only\n"
            "                          --never-readers, --garbage, --slowloris)\n"
            "  --host A.B.C.D          server address, IPv4 (default 127.0.0.1)\n"
            "  --port N                server port (default 7000)\n"
            "  --seconds S             run time (default 10); SIGINT/SIGTERM end it early\n"
            "  --never-readers N       send 24-byte frames, never read, reconnect when cut\n"
            "  --chat-flood N          log in, join a room, ChatSend as fast as possible\n"
            "  --join-leave N          log in, join/leave one room in a loop\n"
            "  --roomlist-flood N      log in, RoomListRequest in a loop\n"
            "  --garbage N             random bytes, bad lengths or (chat) unknown ids\n"
            "  --slowloris N           a frame header, then one byte per second\n"
            "  --rooms R               chat kinds use room-(i %% R) (default 10)\n"
            "  --source-base A.B.C.D   local address of abuser 0 (default 127.0.0.2)\n"
            "  --sources K             abuser i binds source-base + (i %% K) (default 1)\n"
            "  --max-connect-rate R    connection attempts per second, all kinds (default 2000)\n"
            "  --burn PCT              no connections: burn PCT%% of one CPU (a control load)\n"
            "Every connection that ends is opened again at once (within the connect rate).\n"
            "Prints one JSON line at the end. Exit 0; 1 nothing connected; 2 usage error.\n");
    return rc;
}

static int parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int parse_opts(int argc, char **argv, opts_t *o) {
    static const struct option lo[] = {{"mode", required_argument, 0, 'm'},
                                       {"host", required_argument, 0, 'H'},
                                       {"port", required_argument, 0, 'p'},
                                       {"seconds", required_argument, 0, 's'},
                                       {"never-readers", required_argument, 0, KIND_OPT + 0},
                                       {"chat-flood", required_argument, 0, KIND_OPT + 1},
                                       {"join-leave", required_argument, 0, KIND_OPT + 2},
                                       {"roomlist-flood", required_argument, 0, KIND_OPT + 3},
                                       {"garbage", required_argument, 0, KIND_OPT + 4},
                                       {"slowloris", required_argument, 0, KIND_OPT + 5},
                                       {"rooms", required_argument, 0, 'r'},
                                       {"source-base", required_argument, 0, 'b'},
                                       {"sources", required_argument, 0, 'k'},
                                       {"max-connect-rate", required_argument, 0, 'R'},
                                       {"burn", required_argument, 0, 'B'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    *o = (opts_t){.host = "127.0.0.1",
                  .port = 7000,
                  .seconds = 10,
                  .sources = 1,
                  .rooms = 10,
                  .max_rate = 2000};
    inet_pton(AF_INET, "127.0.0.2", &o->source);
    int ch;
    uint32_t v;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        int bad = 0;
        if (ch >= KIND_OPT && ch < KIND_OPT + K_COUNT) {
            if (parse_u32(optarg, 0, MAX_CONNS, &o->count[ch - KIND_OPT]) != 0) {
                fprintf(stderr, PROG ": bad value '%s' (try --help)\n", optarg);
                return -1;
            }
            continue;
        }
        switch (ch) {
        case 'm':
            if (!strcmp(optarg, "chat") || !strcmp(optarg, "echo"))
                o->chat = !strcmp(optarg, "chat");
            else
                bad = 1;
            break;
        case 'H':
            o->host = optarg;
            break;
        case 'p':
            bad = parse_u32(optarg, 1, 65535, &v);
            o->port = (uint16_t)v;
            break;
        case 's':
            bad = parse_u32(optarg, 1, 86400, &o->seconds);
            break;
        case 'r':
            bad = parse_u32(optarg, 1, 10000, &o->rooms);
            break;
        case 'b':
            bad = inet_pton(AF_INET, optarg, &o->source) != 1;
            break;
        case 'k':
            bad = parse_u32(optarg, 1, 65536, &o->sources);
            break;
        case 'R':
            bad = parse_u32(optarg, 1, 1000000, &v);
            o->max_rate = v;
            break;
        case 'B':
            bad = parse_u32(optarg, 0, 100, &o->burn);
            break;
        case 'h':
            return usage(stdout, 1);
        default:
            return usage(stderr, -1);
        }
        if (bad) {
            fprintf(stderr, PROG ": bad value '%s' (try --help)\n", optarg);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!o->chat && (o->count[K_FLOOD] || o->count[K_JOINLEAVE] || o->count[K_ROOMLIST])) {
        fprintf(stderr,
                PROG ": --chat-flood, --join-leave and --roomlist-flood need --mode chat\n");
        return -1;
    }
    return 0;
}

/* The control load: busy for pct% of every 10 ms, asleep for the rest. */
static void burn(const opts_t *o, uint64_t end) {
    const uint64_t period = 10000000u, busy = period * o->burn / 100u;
    volatile uint64_t sink = 0;
    for (uint64_t t = now_ns(); t < end && !g_stop; t = now_ns()) {
        while (now_ns() - t < busy)
            sink++;
        struct timespec ts = {0, (long)(period - busy)};
        if (period > busy)
            nanosleep(&ts, NULL);
    }
}

int main(int argc, char **argv) {
    run_t *r = calloc(1, sizeof *r);
    if (!r)
        return 1;
    int prc = parse_opts(argc, argv, &r->o);
    if (prc)
        return prc > 0 ? 0 : 2;
    const opts_t *o = &r->o;
    r->addr.sin_family = AF_INET;
    r->addr.sin_port = htons(o->port);
    if (inet_pton(AF_INET, o->host, &r->addr.sin_addr) != 1) {
        fprintf(stderr, PROG ": --host '%s' is not a numeric IPv4 address\n", o->host);
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    const double cpu0 = cpu_s();
    uint64_t now = now_ns();
    const uint64_t t0 = now, end = now + (uint64_t)o->seconds * NS;
    if (o->burn) {
        burn(o, end);
        double secs = (double)(now_ns() - t0) / 1e9;
        printf("{\"tool\":\"" PROG "\",\"burn_pct\":%" PRIu32 ",\"seconds\":%.3f,\"cpu_s\":%.3f}\n",
               o->burn, secs, cpu_s() - cpu0);
        free(r);
        return 0;
    }
    r->id_login = gs_msg_id_of_name(chat__login_request__descriptor.name);
    r->id_login_reply = gs_msg_id_of_name(chat__login_reply__descriptor.name);
    r->id_join = gs_msg_id_of_name(chat__join_request__descriptor.name);
    r->id_join_reply = gs_msg_id_of_name(chat__join_reply__descriptor.name);
    r->id_leave = gs_msg_id_of_name(chat__leave_request__descriptor.name);
    r->id_chat = gs_msg_id_of_name(chat__chat_send__descriptor.name);
    r->id_ping = gs_msg_id_of_name(chat__ping__descriptor.name);
    r->id_list = gs_msg_id_of_name(chat__room_list_request__descriptor.name);
    for (int k = 0; k < K_COUNT; k++)
        r->n += o->count[k];
    if (r->n > MAX_CONNS) {
        fprintf(stderr, PROG ": more than %u connections in all\n", MAX_CONNS);
        return 2;
    }
    r->c = calloc(r->n ? r->n : 1, sizeof *r->c);
    r->rbuf = malloc(READ_SIZE);
    r->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!r->c || !r->rbuf || r->ep < 0) {
        fprintf(stderr, PROG ": out of memory (or no epoll)\n");
        return 1;
    }
    r->rng = (uint64_t)getpid() ^ now;
    uint32_t i = 0;
    for (int k = 0; k < K_COUNT; k++)
        for (uint32_t j = 0; j < o->count[k]; j++, i++)
            r->c[i] = (conn_t){.fd = -1, .kind = k, .index = i, .state = C_WAIT};
    r->tokens = o->max_rate / 10.0 < 1.0 ? 1.0 : o->max_rate / 10.0;
    r->t_tokens = now;

    while (now < end && !g_stop) {
        uint64_t next = timers(r, now), tok = connect_waiting(r, now);
        if (tok && tok < next)
            next = tok;
        if (end < next)
            next = end;
        int timeout = next > now ? (int)((next - now + 999999u) / 1000000u) : 0;
        struct epoll_event ev[MAX_EVENTS];
        int n = epoll_wait(r->ep, ev, MAX_EVENTS, timeout);
        now = now_ns();
        for (int e = 0; e < n; e++) {
            conn_t *c = ev[e].data.ptr;
            if (c->fd >= 0 && c->state != C_WAIT)
                on_event(r, c, ev[e].events, now);
        }
    }
    const double secs = (double)(now_ns() - t0) / 1e9;
    uint64_t connected = 0;
    for (uint32_t k = 0; k < r->n; k++)
        if (r->c[k].fd >= 0) {
            r->st[r->c[k].kind].requests += stream_requests(&r->c[k]);
            close(r->c[k].fd);
        }
    printf("{\"tool\":\"" PROG "\",\"mode\":\"%s\",\"seconds\":%.3f,\"cpu_s\":%.3f,"
           "\"attempts\":%" PRIu64 ",\"connect_errors\":%" PRIu64 ",\"bind_errors\":%" PRIu64,
           o->chat ? "chat" : "echo", secs, cpu_s() - cpu0, r->attempts, r->connect_errors,
           r->bind_errors);
    for (int k = 0; k < K_COUNT; k++) {
        const stats_t *s = &r->st[k];
        connected += s->connects;
        if (!o->count[k])
            continue;
        printf(",\"%s\":{\"conns\":%" PRIu32 ",\"connects\":%" PRIu64
               ",\"connects_refused\":%" PRIu64 ",\"cuts\":%" PRIu64 ",\"gave_up\":%" PRIu64
               ",\"bytes_sent\":%" PRIu64 ",\"requests_sent\":%" PRIu64 ",\"replies_read\":%" PRIu64
               "}",
               kind_name[k], o->count[k], s->connects, s->refused, s->cuts, s->gave_up,
               s->bytes_sent, s->requests, s->replies);
    }
    printf("}\n");
    fflush(stdout);
    const int rc = r->n && !connected ? 1 : 0;
    close(r->ep);
    free(r->rbuf);
    free(r->c);
    free(r);
    return rc;
}

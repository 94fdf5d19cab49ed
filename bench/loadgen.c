/* SPDX-License-Identifier: MIT */
/* loadgen: a minimal echo load generator independent of the framework (plain epoll, one thread,
 * pipelined), which verifies every echoed byte; the client of bench/echo_bench.sh next to gs-bot.
 *
 * Each connection's outgoing stream is a deterministic function of (connection index, position):
 * message k is [frame header: u32 size, u32 id 1 (framed mode only)] [u32 connection, u64 k,
 * u32 magic] [size - 16 bytes of a random table starting at an offset hashed from (connection,
 * k)]. The echo must be that same stream, so it is compared byte for byte in place, as it
 * arrives, with no framing parser and no copy: corruption, loss, duplication, reordering and
 * bytes of another connection all show as the first differing byte. A connection that differs is
 * reported, counted as one mismatched message and closed (its stream cannot be resynchronised);
 * its echoes still awaited then count as lost. `errors` counts connections that failed for any
 * reason (that one, a failed connect, a close or reset by the server, a failed write). Latency is
 * from the write of a message's batch to the read that completed its echo (send times are kept
 * per connection, not trusted from the echo). Exit status: 0 all verified, 1 any mismatch, loss
 * or error, 2 usage error. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROG         "loadgen"
#define READ_SIZE    (64u * 1024u) /* one read per wake-up, into one shared buffer */
#define FRAME_HDR    8u            /* docs/protocol.md: u32 body length, u32 message id */
#define MSG_HDR      16u           /* u32 connection, u64 sequence, u32 magic */
#define MSG_ID       1u
#define MSG_MAGIC    0x474c5347u /* "GSLG" */
#define SIZE_MAX_B   (1u << 20)
#define DEPTH_MAX    4096u
#define BATCH_MAX    (16u << 20) /* bytes one connection may have to write at once */
#define TABLE_SPAN   (64u * 1024u)
#define CONNECTING   128u /* connects in progress at once: a listen backlog is often 128-511 */
#define CONNECT_NS   (UINT64_C(10) * 1000000000u)
#define MAX_EVENTS   256
#define HIST_SUB     5 /* latency histogram: 32 linear sub-buckets per power of two */
#define HIST_BUCKETS (64 << HIST_SUB)

typedef struct conn {
    int fd;
    uint32_t index;
    int state;         /* C_IDLE, C_CONNECTING, C_OPEN, C_DONE */
    uint64_t next_seq; /* messages put in the stream (sent) */
    uint64_t expect;   /* message whose echo is being compared */
    uint32_t rpos;     /* bytes of message `expect` compared so far */
    uint8_t *pend;     /* bytes accepted for sending but not yet written (socket was full) */
    size_t pend_off, pend_len, pend_cap;
    uint64_t *sent_ns; /* send time of message seq, at [seq % depth] */
} conn_t;

enum { C_IDLE, C_CONNECTING, C_OPEN, C_DONE };

typedef struct opts {
    const char *host;
    uint16_t port;
    uint32_t conns, size, depth, duration_s, drain_s;
    int raw;
} opts_t;

typedef struct run {
    opts_t o;
    uint32_t unit; /* bytes per message on the wire */
    int ep;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    conn_t *c;
    uint8_t *table; /* TABLE_SPAN + size random bytes */
    uint8_t *wbuf;  /* shared: a connection's batch is built here, then written */
    uint8_t *rbuf;  /* shared: READ_SIZE */
    int stopping;   /* no new messages, only the drain */
    uint64_t sent, received, mismatched, errors;
    uint64_t reads, writes, polls; /* syscalls: how much each one carried is the client's cost */
    uint32_t connected, open, connecting, next_connect, reports;
    uint64_t hist[HIST_BUCKETS], lat_max;
} run_t;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t mix64(uint64_t x) { /* splitmix64's finaliser */
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

static void report(run_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(run_t *r, const char *fmt, ...) {
    if (r->reports++ >= 20) /* the first errors say what went wrong; the counters say how much */
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, PROG ": ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* The wire header of message seq of connection c: frame header (framed) + message header.
 * Returns its length; the rest of the message is table[body_off(...)...]. */
static uint32_t msg_prefix(const run_t *r, uint32_t conn, uint64_t seq, uint8_t *p) {
    uint32_t n = 0;
    if (!r->o.raw) {
        put32(p, r->o.size);
        put32(p + 4, MSG_ID);
        n = FRAME_HDR;
    }
    put32(p + n, conn);
    put64(p + n + 4, seq);
    put32(p + n + 12, MSG_MAGIC);
    return n + MSG_HDR;
}

static const uint8_t *msg_body(const run_t *r, uint32_t conn, uint64_t seq) {
    return r->table + (mix64(((uint64_t)conn << 40) ^ seq) % TABLE_SPAN);
}

static void lat_record(run_t *r, uint64_t ns) {
    unsigned b;
    if (ns < (1u << HIST_SUB)) {
        b = (unsigned)ns;
    } else {
        unsigned e = 63u - (unsigned)__builtin_clzll(ns); /* ns >= 2^e, e >= HIST_SUB */
        b = ((e - HIST_SUB + 1) << HIST_SUB) |
            (unsigned)((ns >> (e - HIST_SUB)) & ((1u << HIST_SUB) - 1));
    }
    r->hist[b]++;
    if (ns > r->lat_max)
        r->lat_max = ns;
}

/* Upper bound of the bucket holding the pct-th percentile, in µs. */
static double lat_pct(const run_t *r, double pct) {
    uint64_t total = 0;
    for (unsigned b = 0; b < HIST_BUCKETS; b++)
        total += r->hist[b];
    if (!total)
        return 0;
    uint64_t want = (uint64_t)((double)total * pct / 100.0 + 0.5), seen = 0;
    if (want < 1)
        want = 1;
    for (unsigned b = 0; b < HIST_BUCKETS; b++) {
        seen += r->hist[b];
        if (seen >= want) {
            if (b < (1u << HIST_SUB))
                return (double)(b + 1) / 1000.0;
            unsigned e = (b >> HIST_SUB) + HIST_SUB - 1, m = b & ((1u << HIST_SUB) - 1);
            uint64_t hi = ((uint64_t)((1u << HIST_SUB) | m) + 1) << (e - HIST_SUB);
            double v = (double)hi / 1000.0, mx = (double)r->lat_max / 1000.0;
            return v < mx ? v : mx;
        }
    }
    return (double)r->lat_max / 1000.0;
}

/* The connection is finished: closed by us after an error, or by the server. */
static void conn_fail(run_t *r, conn_t *c) {
    if (c->state == C_OPEN)
        r->open--;
    if (c->state == C_CONNECTING)
        r->connecting--;
    c->state = C_DONE;
    close(c->fd); /* also removes it from the epoll set */
    c->fd = -1;
    r->errors++;
}

static int set_events(run_t *r, conn_t *c, uint32_t ev) {
    struct epoll_event e = {.events = ev, .data.ptr = c};
    return epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd, &e);
}

/* Write the pending bytes; 0 when all are out or the socket is full, -1 on error. */
static int flush_pending(run_t *r, conn_t *c) {
    while (c->pend_len) {
        ssize_t n = write(c->fd, c->pend + c->pend_off, c->pend_len);
        r->writes++;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            report(r, "connection %" PRIu32 ": write: %s", c->index, strerror(errno));
            return -1;
        }
        c->pend_off += (size_t)n;
        c->pend_len -= (size_t)n;
    }
    c->pend_off = 0;
    return set_events(r, c, EPOLLIN); /* nothing left: stop asking for EPOLLOUT */
}

/* Top the connection up to `depth` messages in flight: the whole batch is built in the shared
 * buffer and written with one write; what the socket does not take waits in c->pend. */
static int refill(run_t *r, conn_t *c, uint64_t now) {
    if (r->stopping || c->pend_len)
        return 0; /* pending bytes first; EPOLLOUT brings us back */
    uint64_t want = r->o.depth - (c->next_seq - c->expect);
    if (!want)
        return 0;
    const uint32_t body = r->o.size - MSG_HDR;
    uint8_t *p = r->wbuf;
    for (uint64_t k = 0; k < want; k++) {
        uint64_t seq = c->next_seq + k;
        p += msg_prefix(r, c->index, seq, p);
        memcpy(p, msg_body(r, c->index, seq), body);
        p += body;
        c->sent_ns[seq % r->o.depth] = now;
    }
    c->next_seq += want;
    r->sent += want;
    size_t len = (size_t)(p - r->wbuf), off = 0;
    while (off < len) {
        ssize_t n = write(c->fd, r->wbuf + off, len - off);
        r->writes++;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            report(r, "connection %" PRIu32 ": write: %s", c->index, strerror(errno));
            return -1;
        }
        off += (size_t)n;
    }
    if (off == len)
        return 0;
    if (c->pend_cap < len - off) {
        uint8_t *np = realloc(c->pend, len - off);
        if (!np) {
            report(r, "connection %" PRIu32 ": out of memory", c->index);
            return -1;
        }
        c->pend = np;
        c->pend_cap = len - off;
    }
    memcpy(c->pend, r->wbuf + off, len - off);
    c->pend_off = 0;
    c->pend_len = len - off;
    return set_events(r, c, EPOLLIN | EPOLLOUT);
}

/* Compare n echoed bytes with the stream expected at the connection's position. */
static int verify(run_t *r, conn_t *c, const uint8_t *p, size_t n, uint64_t now) {
    uint8_t pre[FRAME_HDR + MSG_HDR];
    while (n) {
        if (c->expect >= c->next_seq) {
            report(r,
                   "connection %" PRIu32
                   ": %zu bytes echoed beyond what was sent (after message %" PRIu64 ")",
                   c->index, n, c->expect);
            r->mismatched++;
            return -1;
        }
        uint32_t plen = msg_prefix(r, c->index, c->expect, pre);
        const uint8_t *body = msg_body(r, c->index, c->expect);
        size_t take = r->unit - c->rpos;
        if (take > n)
            take = n;
        /* The message is the prefix then the table slice: compare the overlap with each. */
        size_t pos = c->rpos, end = pos + take, done = 0;
        if (pos < plen) {
            size_t k = (end < plen ? end : plen) - pos;
            if (memcmp(p, pre + pos, k) != 0)
                goto bad;
            done = k;
        }
        if (pos + done < end && memcmp(p + done, body + (pos + done - plen), end - pos - done) != 0)
            goto bad;
        c->rpos += (uint32_t)take;
        p += take;
        n -= take;
        if (c->rpos == r->unit) {
            uint64_t t = c->sent_ns[c->expect % r->o.depth];
            lat_record(r, now > t ? now - t : 0);
            c->expect++;
            c->rpos = 0;
            r->received++;
        }
        continue;
    bad:
        for (size_t i = 0; i < take; i++) {
            size_t at = c->rpos + i;
            uint8_t want = at < plen ? pre[at] : body[at - plen];
            if (p[i] != want) {
                report(r,
                       "connection %" PRIu32 ": message %" PRIu64 " differs at byte %zu of %" PRIu32
                       " (got 0x%02x, expected 0x%02x)",
                       c->index, c->expect, at, r->unit, p[i], want);
                break;
            }
        }
        r->mismatched++;
        return -1;
    }
    return 0;
}

static void on_readable(run_t *r, conn_t *c) {
    ssize_t n = read(c->fd, r->rbuf, READ_SIZE);
    r->reads++;
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return;
        report(r, "connection %" PRIu32 ": read: %s", c->index, strerror(errno));
        conn_fail(r, c);
        return;
    }
    if (n == 0) {
        report(r, "connection %" PRIu32 ": closed by the server (%" PRIu64 " echoes awaited)",
               c->index, c->next_seq - c->expect);
        conn_fail(r, c);
        return;
    }
    uint64_t now = now_ns();
    if (verify(r, c, r->rbuf, (size_t)n, now) != 0 || refill(r, c, now) != 0)
        conn_fail(r, c);
}

static int start_connect(run_t *r, conn_t *c) {
    c->fd = socket(r->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        report(r, "connection %" PRIu32 ": socket: %s", c->index, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&r->addr, r->addrlen) != 0 && errno != EINPROGRESS) {
        report(r, "connection %" PRIu32 ": connect: %s", c->index, strerror(errno));
        close(c->fd);
        return -1;
    }
    struct epoll_event e = {.events = EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(r->ep, EPOLL_CTL_ADD, c->fd, &e) != 0) {
        report(r, "connection %" PRIu32 ": epoll_ctl: %s", c->index, strerror(errno));
        close(c->fd);
        return -1;
    }
    c->state = C_CONNECTING;
    r->connecting++;
    return 0;
}

static void connect_more(run_t *r) {
    while (r->connecting < CONNECTING && r->next_connect < r->o.conns) {
        conn_t *c = &r->c[r->next_connect++];
        if (start_connect(r, c) != 0) {
            c->state = C_DONE;
            c->fd = -1;
            r->errors++;
        }
    }
}

static void on_connected(run_t *r, conn_t *c) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        report(r, "connection %" PRIu32 ": connect: %s", c->index, strerror(err));
        conn_fail(r, c);
        return;
    }
    r->connecting--;
    r->connected++;
    r->open++;
    c->state = C_OPEN;
    if (set_events(r, c, EPOLLIN) != 0)
        conn_fail(r, c);
}

/* One epoll round: at most one read per readable connection. */
static void poll_once(run_t *r, int timeout_ms, uint64_t *now) {
    struct epoll_event ev[MAX_EVENTS];
    int n = epoll_wait(r->ep, ev, MAX_EVENTS, timeout_ms);
    r->polls++;
    for (int i = 0; i < n; i++) {
        conn_t *c = ev[i].data.ptr;
        if (c->state == C_CONNECTING) {
            on_connected(r, c);
            continue;
        }
        if (c->state != C_OPEN)
            continue; /* failed earlier in this round */
        if ((ev[i].events & (EPOLLOUT | EPOLLERR)) && c->pend_len) {
            if (flush_pending(r, c) != 0 || refill(r, c, now_ns()) != 0) {
                conn_fail(r, c);
                continue;
            }
        }
        if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            on_readable(r, c);
    }
    *now = now_ns();
}

static int ms_until(uint64_t now, uint64_t t) {
    return t > now ? (int)((t - now + 999999u) / 1000000u) : 0;
}

static uint64_t in_flight(const run_t *r) {
    uint64_t n = 0;
    for (uint32_t i = 0; i < r->o.conns; i++)
        if (r->c[i].state == C_OPEN)
            n += r->c[i].next_seq - r->c[i].expect;
    return n;
}

static int usage(FILE *f) {
    fprintf(f,
            "usage: " PROG " [options]\n"
            "  --host ADDR        numeric IPv4 or IPv6 address (default 127.0.0.1)\n"
            "  --port N           server port (default 7000)\n"
            "  --connections C    connections (default 100)\n"
            "  --size S           message bytes (frame body; raw: bytes per message), %u..%u "
            "(default 64)\n"
            "  --depth D          messages in flight per connection, 1..%u (default 16)\n"
            "  --duration SECS    sending time (default 5)\n"
            "  --drain SECS       longest wait for the echoes in flight at the end (default 5)\n"
            "  --framed           8-byte header + body, message id %u (default)\n"
            "  --raw              plain byte stream, no framing\n"
            "Prints one JSON line on stdout; errors on stderr. Exit 0 all verified, 1 failure, 2 "
            "usage.\n",
            MSG_HDR, SIZE_MAX_B, DEPTH_MAX, MSG_ID);
    return 2;
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

static int parse(int argc, char **argv, opts_t *o) {
    *o = (opts_t){.host = "127.0.0.1",
                  .port = 7000,
                  .conns = 100,
                  .size = 64,
                  .depth = 16,
                  .duration_s = 5,
                  .drain_s = 5};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint32_t port = 0;
        int bad = 0;
        if (!strcmp(a, "--raw") || !strcmp(a, "--framed")) {
            o->raw = !strcmp(a, "--raw");
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 1;
        }
        if (!v) {
            fprintf(stderr, PROG ": option %s needs a value (or is unknown)\n", a);
            return -1;
        }
        if (!strcmp(a, "--host"))
            o->host = v;
        else if (!strcmp(a, "--port")) {
            bad = parse_u32(v, 1, 65535, &port);
            o->port = (uint16_t)port;
        } else if (!strcmp(a, "--connections"))
            bad = parse_u32(v, 1, 1000000, &o->conns);
        else if (!strcmp(a, "--size"))
            bad = parse_u32(v, MSG_HDR, SIZE_MAX_B, &o->size);
        else if (!strcmp(a, "--depth"))
            bad = parse_u32(v, 1, DEPTH_MAX, &o->depth);
        else if (!strcmp(a, "--duration"))
            bad = parse_u32(v, 1, 86400, &o->duration_s);
        else if (!strcmp(a, "--drain"))
            bad = parse_u32(v, 1, 3600, &o->drain_s);
        else {
            fprintf(stderr, PROG ": unknown option %s (try --help)\n", a);
            return -1;
        }
        if (bad) {
            fprintf(stderr, PROG ": bad value '%s' for %s (try --help)\n", v, a);
            return -1;
        }
        i++;
    }
    if ((uint64_t)o->depth * (o->size + FRAME_HDR) > BATCH_MAX) {
        fprintf(stderr, PROG ": --depth x --size is over %u bytes\n", BATCH_MAX);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    run_t *r = calloc(1, sizeof *r);
    if (!r)
        return 1;
    int prc = parse(argc, argv, &r->o);
    if (prc != 0)
        return prc > 0 ? 0 : 2;
    const opts_t *o = &r->o;
    r->unit = o->size + (o->raw ? 0u : FRAME_HDR);

    struct sockaddr_in *a4 = (struct sockaddr_in *)&r->addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&r->addr;
    if (inet_pton(AF_INET, o->host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(o->port);
        r->addrlen = sizeof *a4;
    } else if (inet_pton(AF_INET6, o->host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(o->port);
        r->addrlen = sizeof *a6;
    } else {
        fprintf(stderr, PROG ": --host '%s' is not a numeric IPv4 or IPv6 address\n", o->host);
        return 2;
    }

    r->c = calloc(o->conns, sizeof *r->c);
    r->table = malloc(TABLE_SPAN + o->size);
    r->wbuf = malloc((size_t)o->depth * r->unit);
    r->rbuf = malloc(READ_SIZE);
    uint64_t *ts = calloc((size_t)o->conns * o->depth, sizeof *ts);
    r->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!r->c || !r->table || !r->wbuf || !r->rbuf || !ts || r->ep < 0) {
        fprintf(stderr, PROG ": out of memory (or no epoll)\n");
        return 1;
    }
    uint64_t seed = 0x5eed;
    for (uint32_t i = 0; i < TABLE_SPAN + o->size; i += 8) {
        uint64_t w = mix64(seed++);
        memcpy(r->table + i, &w, TABLE_SPAN + o->size - i < 8 ? TABLE_SPAN + o->size - i : 8);
    }
    for (uint32_t i = 0; i < o->conns; i++) {
        r->c[i].index = i;
        r->c[i].fd = -1;
        r->c[i].sent_ns = ts + (size_t)i * o->depth;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* Connect everyone first (a bounded number at a time), then start every connection at once. */
    uint64_t now = now_ns();
    const uint64_t connect_end = now + CONNECT_NS;
    connect_more(r);
    while ((r->connecting || r->next_connect < o->conns) && now < connect_end && !g_stop) {
        poll_once(r, ms_until(now, connect_end), &now);
        connect_more(r);
    }
    for (uint32_t i = 0; i < o->conns; i++)
        if (r->c[i].state == C_CONNECTING) {
            report(r, "connection %" PRIu32 ": connect timed out", i);
            conn_fail(r, &r->c[i]);
        }
    if (r->connected < o->conns)
        fprintf(stderr, PROG ": %" PRIu32 " of %" PRIu32 " connections connected\n", r->connected,
                o->conns);

    const double cpu0 = cpu_s();
    const uint64_t t0 = now_ns();
    for (uint32_t i = 0; i < o->conns; i++)
        if (r->c[i].state == C_OPEN && refill(r, &r->c[i], t0) != 0)
            conn_fail(r, &r->c[i]);
    const uint64_t end = t0 + (uint64_t)o->duration_s * 1000000000u;
    now = t0;
    while (now < end && r->open && !g_stop)
        poll_once(r, ms_until(now, end), &now);

    /* Drain: nothing new; wait (bounded) for what is in flight, pending writes included. */
    r->stopping = 1;
    const uint64_t drain_end = now + (uint64_t)o->drain_s * 1000000000u;
    g_stop = 0;
    while (now < drain_end && r->open && in_flight(r) && !g_stop)
        poll_once(r, ms_until(now, drain_end) < 100 ? ms_until(now, drain_end) : 100, &now);
    const uint64_t t1 = now_ns();
    const double cpu1 = cpu_s();
    const double secs = (double)(t1 - t0) / 1e9;
    const uint64_t lost = r->sent - r->received;
    if (lost)
        fprintf(stderr, PROG ": %" PRIu64 " messages sent were never echoed back intact\n", lost);
    printf("{\"tool\":\"loadgen\",\"mode\":\"%s\",\"connections\":%" PRIu32
           ",\"connected\":%" PRIu32 ",\"size\":%" PRIu32 ",\"depth\":%" PRIu32 ",\"sent\":%" PRIu64
           ",\"received\":%" PRIu64 ",\"mismatched\":%" PRIu64 ",\"lost\":%" PRIu64
           ",\"errors\":%" PRIu64
           ",\"msgs_per_s\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f"
           ",\"duration_s\":%.3f,\"cpu_pct\":%.1f,\"reads\":%" PRIu64 ",\"writes\":%" PRIu64
           ",\"polls\":%" PRIu64 "}\n",
           o->raw ? "raw" : "framed", o->conns, r->connected, o->size, o->depth, r->sent,
           r->received, r->mismatched, lost, r->errors, secs > 0 ? (double)r->received / secs : 0,
           lat_pct(r, 50), lat_pct(r, 99), (double)r->lat_max / 1000.0, secs,
           secs > 0 ? (cpu1 - cpu0) / secs * 100.0 : 0, r->reads, r->writes, r->polls);
    fflush(stdout);
    int ok = r->connected == o->conns && !r->mismatched && !lost && !r->errors;
    for (uint32_t i = 0; i < o->conns; i++) {
        if (r->c[i].fd >= 0)
            close(r->c[i].fd);
        free(r->c[i].pend);
    }
    close(r->ep);
    free(ts);
    free(r->rbuf);
    free(r->wbuf);
    free(r->table);
    free(r->c);
    free(r);
    return ok ? 0 : 1;
}

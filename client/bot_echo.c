/* SPDX-License-Identifier: MIT */
/* gs-bot echo mode: every connection keeps K messages in flight against an echo server and checks
 * each echo (in order, intact, exactly once), recording the round trip in a histogram. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs/packet.h"

#include "bot.h"
#include "latency.h"

#define ECHO_MSG_ID   1u  /* message id of every frame in framed mode */
#define MSG_HDR_SIZE  24u /* conn u32, seq u64, send time u64, checksum u32 */
#define MSG_MAX_SIZE  (16u * 1024u * 1024u)
#define DEPTH_MAX     4096u
#define DRAIN_NS      (UINT64_C(5) * 1000000000u) /* how long the drain waits for echoes */
#define TICK_NS       UINT64_C(1000000000)        /* monitor period */
#define STOP_FLUSH_MS 1000u                       /* gs_net_stop flush: nothing left to send */

typedef struct echo_opts {
    uint32_t size;  /* payload bytes per message, header included */
    uint32_t depth; /* messages in flight per connection */
    int raw;        /* raw byte stream instead of frames */
} echo_opts_t;

/* ---------------------------------------------------------------------------------------------
 * Messages. Layout, little-endian: [0] connection index u32, [4] sequence u64, [12] send time ns
 * u64 (gs_now_ns), [20] header checksum u32, [24..size) the run's random pattern table read from
 * an offset derived from (connection, sequence).
 *
 * The checksum covers the 20 header bytes and the offset, so a damaged header is caught; the body
 * is compared whole with the pattern at its offset (memcmp), so any damaged body byte is caught,
 * and a body from another message (another offset) too, except for the 1 in PATTERN_SHIFTS
 * chance that two messages in flight share an offset, which a swap between them would need on
 * top. Filling and checking a body is one memcpy and one memcmp: the bot measures the server,
 * not its own generator (an earlier version regenerated a splitmix64 stream per message and
 * spent three quarters of its CPU there at 4 KiB).
 * ------------------------------------------------------------------------------------------- */
#define PATTERN_SHIFTS 4093u /* a prime: offsets of consecutive sequences spread over it */

static void put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_le32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Where in the pattern table the body of (conn, seq) starts. */
static uint32_t pattern_offset(uint32_t conn, uint64_t seq) {
    uint64_t s = ((uint64_t)conn << 40) ^ seq;
    return (uint32_t)(bot_splitmix64(&s) % PATTERN_SHIFTS);
}

/* Each step is a bijection of h for a fixed word and of the word for a fixed h, so changing any
 * one word always changes the 64-bit state; only the final fold to 32 bits can collide. */
static uint64_t sum_mix(uint64_t h, uint64_t w) {
    h ^= w;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    return h;
}

static uint32_t header_sum(const uint8_t *p, uint32_t size, uint32_t offset) {
    uint64_t h = UINT64_C(0x6a09e667f3bcc909) ^ size ^ ((uint64_t)offset << 32);
    h = sum_mix(h, get_le64(p));
    h = sum_mix(h, get_le64(p + 8));
    h = sum_mix(h, get_le32(p + 16));
    return (uint32_t)(h ^ (h >> 32));
}

/* The run's pattern table: size + PATTERN_SHIFTS random bytes, made once. */
static uint8_t *pattern_make(uint32_t size) {
    size_t n = (size_t)size + PATTERN_SHIFTS + 8;
    uint8_t *t = malloc(n);
    if (!t)
        return NULL;
    uint64_t st = UINT64_C(0x243f6a8885a308d3);
    for (size_t i = 0; i + 8 <= n; i += 8)
        put_le64(t + i, bot_splitmix64(&st));
    return t;
}

static void msg_fill(const uint8_t *pattern, uint8_t *p, uint32_t size, uint32_t conn, uint64_t seq,
                     uint64_t ts) {
    uint32_t off = pattern_offset(conn, seq);
    put_le32(p, conn);
    put_le64(p + 4, seq);
    put_le64(p + 12, ts);
    put_le32(p + 20, header_sum(p, size, off));
    memcpy(p + MSG_HDR_SIZE, pattern + off, size - MSG_HDR_SIZE);
}

/* 0 if the message is intact (header checksum and body); its header fields are returned. */
static int msg_check(const uint8_t *pattern, const uint8_t *p, uint32_t size, uint32_t *conn,
                     uint64_t *seq, uint64_t *ts) {
    if (size < MSG_HDR_SIZE)
        return -1;
    *conn = get_le32(p);
    *seq = get_le64(p + 4);
    *ts = get_le64(p + 12);
    uint32_t off = pattern_offset(*conn, *seq);
    if (get_le32(p + 20) != header_sum(p, size, off))
        return -1;
    return memcmp(p + MSG_HDR_SIZE, pattern + off, size - MSG_HDR_SIZE) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------------------------------------
 * Run state.
 * ------------------------------------------------------------------------------------------- */
/* One per connection, in an array indexed by connection number and passed as session_user. */
typedef struct echo_conn {
    /* Written only by the IO thread that owns the session, read by the main thread's monitor.
     * One writer, so a load and a store of the new value suffice (no atomic add). The
     * alignment keeps connections served by different IO threads off each other's lines. */
    _Alignas(GS_CACHELINE) _Atomic uint64_t sent; /* messages handed to gs_session_send */
    _Atomic uint64_t received;                    /* echoes accepted: intact and in order */
    /* Owned by the session's IO thread; the main thread reads them only after gs_net_stop
     * has joined the IO threads. */
    uint64_t next_seq;   /* sequence of the next message to send */
    uint64_t expect_seq; /* sequence of the next echo expected; in flight = next - expect */
    uint8_t *partial;    /* raw mode: one message being reassembled (allocated on first use) */
    uint32_t have;       /* raw mode: bytes of it so far */
    uint32_t index;
    int opened; /* on_open ran */
    int quiet;  /* counted out of run->active (see refill) */
    /* Main thread only. */
    gs_session_id_t id;
} echo_conn_t;

/* The monitor's view, main thread only. */
typedef struct echo_monitor {
    uint64_t last_ns, last_sent, last_received;
    int cur; /* which snap holds the latest snapshot */
    lat_hist_t snap[2];
    lat_hist_t delta;
} echo_monitor_t;

typedef struct echo_run {
    const bot_common_t *common;
    const echo_opts_t *opts;
    bot_ctl_t *ctl;
    gs_net_t *net;
    gs_pool_t *pool;  /* messages are pooled packets, freed by the IO thread after the send */
    uint8_t *pattern; /* message bodies are read from it (see msg_fill); read-only once made */
    echo_conn_t *conns;
    uint32_t n; /* connections */

    _Atomic int stopping;       /* main: send nothing new, only collect echoes */
    _Atomic int closing;        /* main: we are disconnecting, local/shutdown closes are ours */
    _Atomic uint32_t open;      /* gauge: sessions open */
    _Atomic uint32_t connected; /* sessions that opened at some point */
    _Atomic uint32_t live;      /* connections not yet closed (nor failed to start) */
    _Atomic uint32_t active;    /* connections that may still send or get an echo (see refill) */
    _Atomic uint64_t errors; /* failed connects and unexpected closes (a failed send ends in one) */
    _Atomic uint64_t mismatched, duplicated;
    _Atomic uint32_t reports; /* error lines printed */
    lat_shared_t lat;         /* round trips of accepted echoes, ns */
    echo_monitor_t mon;
} echo_run_t;

static void mark_quiet(echo_run_t *r, echo_conn_t *c) {
    c->quiet = 1;
    if (atomic_fetch_sub_explicit(&r->active, 1, memory_order_acq_rel) == 1)
        bot_ctl_wake(r->ctl);
}

/* ---------------------------------------------------------------------------------------------
 * IO thread side.
 * ------------------------------------------------------------------------------------------- */

static int send_msg(echo_run_t *r, echo_conn_t *c, gs_net_t *net, gs_session_id_t id,
                    uint64_t now) {
    const uint32_t size = r->opts->size;
    const int framed = !r->opts->raw;
    /* Built in place in a pooled packet: no copy of the payload. */
    gs_packet_t *b = gs_packet_alloc(r->pool, size);
    if (!b) {
        bot_report(&r->reports,
                   "connection %" PRIu32 ": out of memory for a message, disconnecting", c->index);
        gs_session_disconnect(net, id);
        return -1;
    }
    msg_fill(r->pattern, gs_packet_body(b), size, c->index, c->next_seq, now);
    if (framed)
        gs_packet_finish(b, ECHO_MSG_ID, size);
    else
        gs_packet_finish_raw(b, size);
    int rc = gs_session_send(net, id, &b->buf);
    /* gs_session_send took its own reference (or already dropped it on failure): ours goes. */
    gs_packet_unref(b);
    if (rc != 0) {
        /* GS_ESTALE / GS_ECLOSING: the session is going and on_close will say why. GS_ESENDQ:
         * the net disconnected it (send_queue_hard). Only GS_ENOMEM leaves it open. */
        if (rc == GS_ENOMEM) {
            bot_report(&r->reports, "connection %" PRIu32 ": send: %s, disconnecting", c->index,
                       gs_strerror(rc));
            gs_session_disconnect(net, id);
        }
        return -1;
    }
    c->next_seq++;
    atomic_store_explicit(&c->sent, c->next_seq, memory_order_relaxed);
    return 0;
}

/* Top the connection up to `depth` messages in flight, unless the run is stopping.
 * Every send of a connection happens here, on its IO thread, after reading `stopping`. So once
 * this thread has seen `stopping`, the connection never sends again, and when its last echo is
 * in, it is finished for good: it leaves run->active, and the main thread knows the drain is
 * complete when active reaches 0, without racing against a send decided just before the stop. */
static void refill(echo_run_t *r, echo_conn_t *c, gs_net_t *net, gs_session_id_t id) {
    if (atomic_load_explicit(&r->stopping, memory_order_acquire)) {
        if (!c->quiet && c->next_seq == c->expect_seq)
            mark_quiet(r, c);
        return;
    }
    uint64_t now = gs_now_ns();
    while (c->next_seq - c->expect_seq < r->opts->depth)
        if (send_msg(r, c, net, id, now) != 0)
            break;
}

static void mismatch(echo_run_t *r, echo_conn_t *c, const char *what, uint64_t seq) {
    atomic_fetch_add_explicit(&r->mismatched, 1, memory_order_relaxed);
    bot_report(&r->reports,
               "connection %" PRIu32 ": %s (got seq %" PRIu64 ", expected %" PRIu64 ")", c->index,
               what, seq, c->expect_seq);
}

/* A message that cannot be identified: count it against the echo expected next, so that the
 * window moves on and that message also shows as lost (it never came back intact). */
static void unidentified(echo_run_t *r, echo_conn_t *c, const char *what) {
    atomic_fetch_add_explicit(&r->mismatched, 1, memory_order_relaxed);
    bot_report(&r->reports, "connection %" PRIu32 ": %s (expected seq %" PRIu64 ")", c->index, what,
               c->expect_seq);
    if (c->expect_seq < c->next_seq)
        c->expect_seq++;
}

/* One whole echoed message. Accepted only if intact, ours and exactly the next sequence. */
static void on_echo(echo_run_t *r, echo_conn_t *c, const uint8_t *msg, uint32_t len, uint64_t now) {
    uint32_t conn;
    uint64_t seq, ts;
    if (len != r->opts->size) {
        unidentified(r, c, "echo of the wrong length");
        return;
    }
    if (msg_check(r->pattern, msg, len, &conn, &seq, &ts) != 0) {
        unidentified(r, c, "corrupt echo (checksum or pattern)");
        return;
    }
    if (conn != c->index) {
        unidentified(r, c, "echo of another connection's message");
        return;
    }
    if (seq >= c->next_seq) {
        mismatch(r, c, "echo of a message never sent", seq);
        if (c->expect_seq < c->next_seq)
            c->expect_seq++;
        return;
    }
    if (seq < c->expect_seq) {
        atomic_fetch_add_explicit(&r->duplicated, 1, memory_order_relaxed);
        bot_report(&r->reports,
                   "connection %" PRIu32 ": duplicate echo (seq %" PRIu64 ", expected %" PRIu64 ")",
                   c->index, seq, c->expect_seq);
        return;
    }
    if (seq > c->expect_seq) {
        /* Out of order: resynchronise on it. The skipped ones count as lost, and as duplicates
         * if they turn up later; either way the run fails. */
        mismatch(r, c, "echo out of order", seq);
        c->expect_seq = seq + 1;
        return;
    }
    c->expect_seq++;
    /* Release pairs with the monitor's acquire: whoever sees this count also sees the `sent`
     * store that preceded it, so sent - received never goes negative. */
    atomic_store_explicit(&c->received,
                          atomic_load_explicit(&c->received, memory_order_relaxed) + 1,
                          memory_order_release);
    lat_shared_record(&r->lat, now > ts ? now - ts : 0);
}

static void on_open(gs_net_t *net, gs_session_id_t id, void *session_user, void *user) {
    echo_run_t *r = user;
    echo_conn_t *c = session_user;
    c->opened = 1;
    atomic_fetch_add_explicit(&r->open, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->connected, 1, memory_order_relaxed);
    refill(r, c, net, id);
}

static void on_frame(gs_net_t *net, gs_session_id_t id, void *session_user, uint32_t msg_id,
                     const uint8_t *body, uint32_t len, void *user) {
    echo_run_t *r = user;
    echo_conn_t *c = session_user;
    if (msg_id != ECHO_MSG_ID)
        unidentified(r, c, "frame with an unexpected message id");
    else
        on_echo(r, c, body, len, gs_now_ns());
    refill(r, c, net, id);
}

/* Raw mode: the stream is a sequence of fixed-size messages cut anywhere by TCP. Whole messages
 * are checked in place; one that spans reads is collected in the connection's buffer. */
static void on_data(gs_net_t *net, gs_session_id_t id, void *session_user, const uint8_t *data,
                    size_t len, void *user) {
    echo_run_t *r = user;
    echo_conn_t *c = session_user;
    const uint32_t size = r->opts->size;
    uint64_t now = gs_now_ns();
    while (len > 0) {
        if (c->have == 0 && len >= size) {
            on_echo(r, c, data, size, now);
            data += size;
            len -= size;
            continue;
        }
        if (!c->partial) {
            c->partial = malloc(size);
            if (!c->partial) {
                bot_report(&r->reports,
                           "connection %" PRIu32 ": out of memory for reassembly, disconnecting",
                           c->index);
                gs_session_disconnect(net, id);
                return;
            }
        }
        size_t n = size - c->have;
        if (n > len)
            n = len;
        memcpy(c->partial + c->have, data, n);
        c->have += (uint32_t)n;
        data += n;
        len -= n;
        if (c->have == size) {
            on_echo(r, c, c->partial, size, now);
            c->have = 0;
        }
    }
    refill(r, c, net, id);
}

static void on_close(gs_net_t *net, gs_session_id_t id, void *session_user,
                     gs_close_reason_t reason, void *user) {
    (void)net;
    (void)id;
    echo_run_t *r = user;
    echo_conn_t *c = session_user;
    int ours = atomic_load_explicit(&r->closing, memory_order_acquire) &&
               (reason == GS_CLOSE_LOCAL || reason == GS_CLOSE_SHUTDOWN);
    if (c->opened)
        atomic_fetch_sub_explicit(&r->open, 1, memory_order_relaxed);
    if (!ours) {
        atomic_fetch_add_explicit(&r->errors, 1, memory_order_relaxed);
        if (!c->opened)
            bot_report(&r->reports, "connection %" PRIu32 ": did not connect (%s)", c->index,
                       gs_close_reason_name(reason));
        else
            bot_report(&r->reports, "connection %" PRIu32 ": closed during the run (%s)", c->index,
                       gs_close_reason_name(reason));
    }
    if (!c->quiet)
        mark_quiet(r, c);
    if (atomic_fetch_sub_explicit(&r->live, 1, memory_order_acq_rel) == 1)
        bot_ctl_wake(r->ctl);
}

/* ---------------------------------------------------------------------------------------------
 * Main thread side.
 * ------------------------------------------------------------------------------------------- */

static void sum_counts(echo_run_t *r, uint64_t *sent, uint64_t *received) {
    uint64_t s = 0, v = 0;
    for (uint32_t i = 0; i < r->n; i++) {
        /* received first, with acquire (see on_echo): the sent read after it is at least as
         * new, so each connection contributes sent >= received. */
        v += atomic_load_explicit(&r->conns[i].received, memory_order_acquire);
        s += atomic_load_explicit(&r->conns[i].sent, memory_order_relaxed);
    }
    *sent = s;
    *received = v;
}

static void monitor_line(echo_run_t *r, uint64_t now, uint64_t t0, const char *phase) {
    echo_monitor_t *m = &r->mon;
    uint64_t sent, received;
    sum_counts(r, &sent, &received);
    int next = m->cur ^ 1;
    lat_shared_snapshot(&r->lat, &m->snap[next]);
    lat_hist_delta(&m->delta, &m->snap[next], &m->snap[m->cur]);
    m->cur = next;
    double dt = (double)(now - m->last_ns) / 1e9;
    if (dt <= 0)
        dt = 1;
    double sent_s = (double)(sent - m->last_sent) / dt;
    double recv_s = (double)(received - m->last_received) / dt;
    m->last_ns = now;
    m->last_sent = sent;
    m->last_received = received;
    if (r->common->json_only)
        return;
    char p50[32], p99[32], extra[96] = "";
    lat_fmt_us(p50, sizeof p50, &m->delta, 50);
    lat_fmt_us(p99, sizeof p99, &m->delta, 99);
    uint64_t mism = atomic_load_explicit(&r->mismatched, memory_order_relaxed);
    uint64_t dup = atomic_load_explicit(&r->duplicated, memory_order_relaxed);
    if (mism || dup)
        snprintf(extra, sizeof extra, " mismatched %" PRIu64 " duplicated %" PRIu64, mism, dup);
    fprintf(stderr,
            "%s: %6.1fs %-5s open %" PRIu32 "/%" PRIu32 " sent/s %.0f recv/s %.0f"
            " awaiting %" PRIu64 " p50 %s p99 %s errors %" PRIu64 "%s\n",
            BOT_PROG, (double)(now - t0) / 1e9, phase,
            atomic_load_explicit(&r->open, memory_order_relaxed), r->n, sent_s, recv_s,
            sent - received, p50, p99, atomic_load_explicit(&r->errors, memory_order_relaxed),
            extra);
}

static void net_config(const bot_common_t *common, const echo_opts_t *o, echo_run_t *r,
                       gs_net_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->cb.on_open = on_open;
    cfg->cb.on_frame = on_frame;
    cfg->cb.on_data = on_data;
    cfg->cb.on_close = on_close;
    cfg->user = r;
    cfg->io_threads = common->io_threads;
    cfg->backend = common->backend;
    if (common->connections > 16384)
        cfg->max_sessions = common->connections;
    if (!o->raw && o->size > GS_FRAME_MAX_DEFAULT)
        cfg->max_frame = o->size;
    /* A connection queues at most `depth` messages; leave room for twice that so that the
     * net's send limits (sized for servers) never cut a bot that is behaving. */
    uint64_t need = 2u * (uint64_t)o->depth * (o->size + (o->raw ? 0u : GS_FRAME_HEADER_SIZE));
    if (need > UINT32_MAX - 1u)
        need = UINT32_MAX - 1u;
    if (need > 1024u * 1024u)
        cfg->send_hard_limit = (uint32_t)need;
    if (need > 256u * 1024u)
        cfg->send_soft_limit = (uint32_t)need;
}

static void echo_cleanup(echo_run_t *r) {
    gs_pool_destroy(r->pool);
    free(r->pattern);
    if (r->conns) {
        for (uint32_t i = 0; i < r->n; i++)
            free(r->conns[i].partial);
        gs_aligned_free(r->conns);
    }
    free(r);
}

static int echo_main(const bot_common_t *common, const void *opts_v, bot_ctl_t *ctl) {
    const echo_opts_t *o = opts_v;
    const uint32_t n = common->connections;

    echo_run_t *r = calloc(1, sizeof *r);
    if (!r) {
        fprintf(stderr, "%s: out of memory\n", BOT_PROG);
        return 1;
    }
    r->common = common;
    r->opts = o;
    r->ctl = ctl;
    r->n = n;
    atomic_init(&r->stopping, 0);
    atomic_init(&r->closing, 0);
    atomic_init(&r->open, 0);
    atomic_init(&r->connected, 0);
    atomic_init(&r->live, n);
    atomic_init(&r->active, n);
    atomic_init(&r->errors, 0);
    atomic_init(&r->mismatched, 0);
    atomic_init(&r->duplicated, 0);
    atomic_init(&r->reports, 0);
    lat_shared_init(&r->lat);
    r->pool = gs_pool_create(NULL);
    r->pattern = pattern_make(o->size);
    if (!r->pool || !r->pattern) {
        fprintf(stderr, "%s: out of memory for the packet pool\n", BOT_PROG);
        echo_cleanup(r);
        return 1;
    }
    r->conns = gs_aligned_alloc(_Alignof(echo_conn_t), (size_t)n * sizeof(echo_conn_t));
    if (!r->conns) {
        fprintf(stderr, "%s: out of memory for %" PRIu32 " connections\n", BOT_PROG, n);
        echo_cleanup(r);
        return 1;
    }
    memset(r->conns, 0, (size_t)n * sizeof(echo_conn_t));
    for (uint32_t i = 0; i < n; i++) {
        echo_conn_t *c = &r->conns[i];
        atomic_init(&c->sent, 0);
        atomic_init(&c->received, 0);
        c->index = i;
        c->id = GS_SESSION_NONE;
    }

    /* Everything above is written before gs_net_create starts any thread, so IO threads see it
     * initialised without further synchronisation. */
    gs_net_config_t cfg;
    net_config(common, o, r, &cfg);
    int rc = gs_net_create(&r->net, &cfg);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot create the network instance: %s\n", BOT_PROG, gs_strerror(rc));
        echo_cleanup(r);
        return 1;
    }
    rc = gs_net_start(r->net);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot start the network threads: %s\n", BOT_PROG, gs_strerror(rc));
        gs_net_destroy(r->net);
        echo_cleanup(r);
        return 1;
    }
    if (!common->json_only)
        fprintf(stderr,
                "%s: echo: %" PRIu32 " connections to %s:%u, %s, %" PRIu32 " bytes, depth %" PRIu32
                ", %" PRIu32 " IO threads, %" PRIu32 " s\n",
                BOT_PROG, n, common->host, (unsigned)common->port, o->raw ? "raw" : "framed",
                o->size, o->depth, common->io_threads, common->duration_s);

    const uint64_t t0 = gs_now_ns();
    r->mon.last_ns = t0;
    for (uint32_t i = 0; i < n; i++) {
        echo_conn_t *c = &r->conns[i];
        gs_connect_config_t cc = {
            .host = common->host, .port = common->port, .raw = o->raw, .session_user = c};
        rc = gs_net_connect(r->net, &cc, &c->id);
        if (rc != 0) {
            /* No callback will ever run for it: account for it here. */
            c->id = GS_SESSION_NONE;
            c->quiet = 1;
            atomic_fetch_add_explicit(&r->errors, 1, memory_order_relaxed);
            atomic_fetch_sub_explicit(&r->active, 1, memory_order_relaxed);
            atomic_fetch_sub_explicit(&r->live, 1, memory_order_relaxed);
            bot_report(&r->reports, "connection %" PRIu32 ": connect: %s", i, gs_strerror(rc));
        }
    }

    /* Run: sleep until the next monitor line or the end, whichever is first; signals and "every
     * connection is gone" cut it short. */
    const uint64_t end = t0 + (uint64_t)common->duration_s * 1000000000u;
    uint64_t tick = t0 + TICK_NS;
    const char *why = "time is up";
    for (;;) {
        if (atomic_load_explicit(&r->live, memory_order_acquire) == 0) {
            why = "every connection has closed";
            break;
        }
        bot_wait_t w = bot_ctl_wait(ctl, tick < end ? tick : end);
        uint64_t now = gs_now_ns();
        if (w == BOT_WAIT_SIGNAL) {
            why = "interrupted";
            break;
        }
        if (now >= tick) {
            monitor_line(r, now, t0, "run");
            tick = bot_next_tick(tick, now);
        }
        if (now >= end)
            break;
    }

    /* Drain: stop sending and wait, bounded, for every echo still awaited. */
    atomic_store_explicit(&r->stopping, 1, memory_order_release);
    if (!common->json_only)
        fprintf(stderr, "%s: %s: stopped sending, waiting up to %u s for the echoes in flight\n",
                BOT_PROG, why, (unsigned)(DRAIN_NS / 1000000000u));
    const uint64_t drain_end = gs_now_ns() + DRAIN_NS;
    while (atomic_load_explicit(&r->active, memory_order_acquire) > 0) {
        bot_wait_t w = bot_ctl_wait(ctl, tick < drain_end ? tick : drain_end);
        uint64_t now = gs_now_ns();
        if (w == BOT_WAIT_SIGNAL) {
            fprintf(stderr, "%s: interrupted again: not waiting for the remaining echoes\n",
                    BOT_PROG);
            break;
        }
        if (now >= tick) {
            monitor_line(r, now, t0, "drain");
            tick = bot_next_tick(tick, now);
        }
        if (now >= drain_end)
            break;
    }
    const uint64_t t_end = gs_now_ns();
    uint64_t sent, received;
    sum_counts(r, &sent, &received);
    const uint64_t awaiting = sent - received;

    /* Close: from here on, local and shutdown closes are ours, not errors. */
    atomic_store_explicit(&r->closing, 1, memory_order_release);
    for (uint32_t i = 0; i < n; i++)
        if (r->conns[i].id != GS_SESSION_NONE)
            (void)gs_session_disconnect(r->net, r->conns[i].id); /* GS_ESTALE: already gone */
    gs_net_stop(r->net, STOP_FLUSH_MS);

    /* The IO threads are joined: every counter is final and plain fields are readable. */
    sum_counts(r, &sent, &received);
    lat_hist_t *h = &r->mon.snap[0];
    lat_shared_snapshot(&r->lat, h);
    const uint64_t lost = sent - received;
    const uint64_t mism = atomic_load(&r->mismatched);
    const uint64_t dup = atomic_load(&r->duplicated);
    const uint64_t errors = atomic_load(&r->errors);
    const uint32_t connected = atomic_load(&r->connected);
    const double secs = (double)(t_end - t0) / 1e9;
    const double p50 = (double)lat_hist_percentile(h, 50) / 1000.0;
    const double p99 = (double)lat_hist_percentile(h, 99) / 1000.0;
    const double max = (double)h->max / 1000.0;

    if (connected < n)
        fprintf(stderr, "%s: %" PRIu32 " of %" PRIu32 " connections never connected\n", BOT_PROG,
                n - connected, n);
    if (lost)
        fprintf(stderr, "%s: %" PRIu64 " messages sent were never echoed back intact\n", BOT_PROG,
                lost);
    if (!common->json_only)
        fprintf(stderr,
                "%s: done: %" PRIu32 "/%" PRIu32 " connected, sent %" PRIu64 ", received %" PRIu64
                ", lost %" PRIu64 ", mismatched %" PRIu64 ", duplicated %" PRIu64
                ", errors %" PRIu64 ", p50 %.1fus p99 %.1fus max %.1fus\n",
                BOT_PROG, connected, n, sent, received, lost, mism, dup, errors, p50, p99, max);
    printf("{\"mode\":\"echo\",\"connections\":%" PRIu32 ",\"connected\":%" PRIu32
           ",\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"awaiting\":%" PRIu64
           ",\"lost\":%" PRIu64 ",\"mismatched\":%" PRIu64 ",\"duplicated\":%" PRIu64
           ",\"errors\":%" PRIu64 ",\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f"
           ",\"msgs_per_s\":%.1f,\"duration_s\":%.3f}\n",
           n, connected, sent, received, awaiting, lost, mism, dup, errors, p50, p99, max,
           secs > 0 ? (double)received / secs : 0.0, secs);
    fflush(stdout);

    gs_net_destroy(r->net);
    echo_cleanup(r);
    return (lost == 0 && mism == 0 && dup == 0 && errors == 0 && connected == n) ? 0 : 1;
}

/* ---------------------------------------------------------------------------------------------
 * Options and the mode table entry.
 * ------------------------------------------------------------------------------------------- */

static void echo_defaults(void *opts) {
    echo_opts_t *o = opts;
    o->size = 64;
    o->depth = 1;
    o->raw = 0;
}

static int echo_option(void *opts, cli_t *c) {
    echo_opts_t *o = opts;
    if (cli_is(c, "--size")) {
        if (cli_u32(c, 0, MSG_MAX_SIZE, &o->size) != 0)
            return -1;
        if (o->size < MSG_HDR_SIZE)
            return cli_error(c,
                             "option --size: at least %u bytes: each message starts with a "
                             "%u-byte header (connection, sequence, timestamp, checksum)",
                             MSG_HDR_SIZE, MSG_HDR_SIZE);
        return 1;
    }
    if (cli_is(c, "--depth"))
        return cli_u32(c, 1, DEPTH_MAX, &o->depth) != 0 ? -1 : 1;
    if (cli_is(c, "--raw"))
        return cli_flag(c, &o->raw) != 0 ? -1 : 1;
    return 0;
}

const bot_mode_t bot_mode_echo = {
    .name = "echo",
    .summary = "keep messages in flight against an echo server and verify every echo",
    .options_help = "  --size BYTES         message payload, at least 24 (default 64)\n"
                    "  --depth K            messages in flight per connection (default 1)\n"
                    "  --raw                raw byte stream of fixed-size messages instead of\n"
                    "                       frames (the server must run with --raw too)\n",
    .opts_size = sizeof(echo_opts_t),
    .defaults = echo_defaults,
    .option = echo_option,
    .check = NULL,
    .run = echo_main,
};

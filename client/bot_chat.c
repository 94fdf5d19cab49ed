/* SPDX-License-Identifier: MIT */
/* gs-bot chat mode: N bots log in to gs-chat-server, each joins one room, and once all have
 * joined they chat at a fixed rate while every bot verifies each delivery it gets (intact, from a
 * member of its room, in per-sender order, exactly once) and records send-to-delivery latency.
 * One room per bot keeps the audit exact: a sender's seq counts every chat it sends, and they all
 * go to its one room, so each receiver sees that sender's seqs contiguous from 1. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_proto.h"
#include "gs/packet.h"

#include "bot.h"
#include "latency.h"

#define TEXT_HDR_SIZE  24u            /* sender index: 8 hex digits, seq: 16 hex digits */
#define TEXT_MAX_SIZE  (60u * 1024u)  /* the server's own limit is usually far lower */
#define MAX_BODY       (256u * 1024u) /* frames and bodies: a JoinReply lists members */
#define MEMBERS_MAX    5000u          /* bots per room: receivers keep state per member */
#define NICK_MIN_CHARS 3u             /* the server's default nickname rules */
#define NICK_MAX_CHARS 16u
#define PREFIX_MAX     (NICK_MAX_CHARS - 1u) /* at least one base-36 digit follows */
#define RATE_MAX       1000u
#define DRAIN_MS_MAX   600000u
#define TICK_NS        UINT64_C(1000000000)         /* monitor period */
#define PACE_NS        UINT64_C(5000000)            /* the main thread's send pacing period */
#define POLL_NS        UINT64_C(10000000)           /* drain: how often awaiting is re-checked */
#define JOIN_NS        (UINT64_C(15) * 1000000000u) /* bound on connect + login + join of all */
#define SENDS_PER_PASS 8u    /* catch-up bound: a stalled main thread skips, it does not flood */
#define STOP_FLUSH_MS  1000u /* gs_net_stop flush: nothing left to send */
#define REQ_LOGIN      1u    /* request ids: login, join, then REQ_CHAT + seq for chats */
#define REQ_JOIN       2u
#define REQ_CHAT       2u

typedef struct chat_opts {
    uint32_t rooms;          /* bot i joins room-(i % rooms) */
    uint32_t rate;           /* chats per second per bot */
    uint32_t text_size;      /* bytes of every chat text */
    uint32_t drain_ms;       /* how long the end waits for deliveries still awaited */
    const char *nick_prefix; /* nickname = prefix + index in base 36 */
} chat_opts_t;

/* ---------------------------------------------------------------------------------------------
 * Chat text. TEXT_HDR_SIZE characters "%08x%016x" of (sender index, seq), then lower-case letters
 * drawn from a generator seeded with both, so a receiver can tell that the text is intact and
 * belongs to the (sender, seq) the delivery claims. ASCII only: valid UTF-8 without NUL, which
 * is what the server accepts.
 * ------------------------------------------------------------------------------------------- */
static uint64_t text_seed(uint32_t sender, uint64_t seq) {
    uint64_t s = sender;
    return bot_splitmix64(&s) ^ seq;
}

static const char hex_digits[] = "0123456789abcdef";

static void put_hex(char *out, uint64_t v, unsigned digits) {
    for (unsigned i = 0; i < digits; i++)
        out[digits - 1 - i] = hex_digits[(v >> (4 * i)) & 15u];
}

/* -1 unless out[0..digits) are lower-case hex digits. */
static int get_hex(const char *in, unsigned digits, uint64_t *v) {
    uint64_t x = 0;
    for (unsigned i = 0; i < digits; i++) {
        char c = in[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a') + 10u;
        else
            return -1;
        x = (x << 4) | d;
    }
    *v = x;
    return 0;
}

/* The letter at each position past the header; the same sequence for fill and check. */
typedef struct text_gen {
    uint64_t state, word;
    unsigned left; /* bytes of word not used yet */
} text_gen_t;

static char text_next(text_gen_t *g) {
    if (g->left == 0) {
        g->word = bot_splitmix64(&g->state);
        g->left = 8;
    }
    unsigned b = (unsigned)(g->word & 0xffu);
    g->word >>= 8;
    g->left--;
    return (char)('a' + b % 26u);
}

/* out holds size + 1 bytes; it is terminated. */
static void text_fill(char *out, uint32_t size, uint32_t sender, uint64_t seq) {
    put_hex(out, sender, 8);
    put_hex(out + 8, seq, 16);
    text_gen_t g = {.state = text_seed(sender, seq)};
    for (uint32_t i = TEXT_HDR_SIZE; i < size; i++)
        out[i] = text_next(&g);
    out[size] = '\0';
}

/* 0 if text is exactly what text_fill wrote for (sender, seq). */
static int text_check(const char *text, uint32_t size, uint32_t sender, uint64_t seq) {
    uint64_t s, q;
    if (strlen(text) != size || get_hex(text, 8, &s) != 0 || get_hex(text + 8, 16, &q) != 0 ||
        s != sender || q != seq)
        return -1;
    text_gen_t g = {.state = text_seed(sender, seq)};
    for (uint32_t i = TEXT_HDR_SIZE; i < size; i++)
        if (text[i] != text_next(&g))
            return -1;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Run state.
 * ------------------------------------------------------------------------------------------- */
typedef enum { ST_NEW = 0, ST_LOGIN, ST_JOIN, ST_JOINED, ST_FAILED } bot_state_t;

/* One per bot, in an array indexed by bot number and passed as session_user. */
typedef struct chat_bot {
    /* Written only by the IO thread that owns the session, read by the main thread: one writer,
     * so a load and a store suffice. Aligned so bots served by different IO threads do not
     * share a line. */
    _Alignas(GS_CACHELINE) _Atomic uint64_t delivered; /* deliveries accepted */
    /* Owned by the session's IO thread (the main thread reads them after gs_net_stop). */
    uint64_t *last_seq; /* per member of the room by position (index / rooms): last seq taken */
    gs_arena_t *arena;  /* decodes of this session, reset after each message */
    bot_state_t state;
    int opened;  /* on_open ran */
    int settled; /* counted in run->settled: joined or failed for good */
    /* Main thread only. */
    uint64_t sent;    /* chats handed to gs_session_send; also the last seq used */
    uint64_t next_ns; /* when the next chat is due */
    int dead;         /* a send found the session gone: it sends no more */
    gs_session_id_t id;
    /* Constant once the net starts. */
    uint32_t index, room;
    char nick[NICK_MAX_CHARS + 1];
} chat_bot_t;

typedef struct chat_monitor {
    uint64_t last_ns, last_sent, last_delivered;
    int cur; /* which snap holds the latest snapshot */
    lat_hist_t snap[2];
    lat_hist_t delta;
} chat_monitor_t;

typedef struct chat_run {
    const bot_common_t *common;
    const chat_opts_t *opts;
    bot_ctl_t *ctl;
    gs_net_t *net;
    gs_pool_t *pool;
    gs_msg_registry_t *reg;
    chat_bot_t *bots;
    uint64_t *seq_store; /* every bot's last_seq array, one allocation */
    uint32_t n;          /* bots */
    uint32_t rooms;      /* rooms with members: min(--rooms, n) */
    uint32_t *room_size; /* members of each room */
    char (*room_names)[16];
    uint32_t prefix_len, nick_digits;
    uint32_t id_login_reply, id_join_reply, id_delivery, id_error;

    _Atomic int closing;        /* main: we are disconnecting, local/shutdown closes are ours */
    _Atomic uint32_t open;      /* gauge: sessions open */
    _Atomic uint32_t connected; /* sessions that opened at some point */
    _Atomic uint32_t joined;    /* bots whose JoinReply came */
    _Atomic uint32_t settled;   /* bots joined or failed for good: the barrier waits for n */
    _Atomic uint32_t live;      /* bots not yet closed (nor failed to start) */
    _Atomic uint64_t errors; /* failed connects, unexpected closes, server errors, bad deliveries */
    _Atomic uint64_t duplicated, reordered;
    _Atomic uint64_t foreign; /* deliveries from senders that are not this run's bots */
    _Atomic uint32_t reports; /* error lines printed */
    lat_shared_t lat;         /* send-to-delivery latency, ns */

    /* Main thread only. */
    uint64_t sent;     /* chats sent, all bots */
    uint64_t expected; /* deliveries those chats owe: each one, once per member of its room */
    char *text;        /* text_size + 1 bytes: the chat being built */
    chat_monitor_t mon;
} chat_run_t;

static void count_error(chat_run_t *r) {
    atomic_fetch_add_explicit(&r->errors, 1, memory_order_relaxed);
}

/* Bot index of a nickname this run gave out, or -1. */
static int64_t nick_index(const chat_run_t *r, const char *nick) {
    if (strncmp(nick, r->opts->nick_prefix, r->prefix_len) != 0)
        return -1;
    const char *d = nick + r->prefix_len;
    if (strlen(d) != r->nick_digits)
        return -1;
    uint64_t v = 0;
    for (uint32_t i = 0; i < r->nick_digits; i++) {
        char c = d[i];
        unsigned x;
        if (c >= '0' && c <= '9')
            x = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'z')
            x = (unsigned)(c - 'a') + 10u;
        else
            return -1;
        v = v * 36u + x;
    }
    return v < r->n ? (int64_t)v : -1;
}

static void make_nick(char *out, const char *prefix, uint32_t prefix_len, uint32_t digits,
                      uint32_t index) {
    static const char b36[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    memcpy(out, prefix, prefix_len);
    for (uint32_t i = 0; i < digits; i++) {
        out[prefix_len + digits - 1 - i] = b36[index % 36u];
        index /= 36u;
    }
    out[prefix_len + digits] = '\0';
}

/* Base-36 digits for indexes 0..n-1, and at least enough for the server's shortest nickname. */
static uint32_t nick_digits_for(uint32_t n, uint32_t prefix_len) {
    uint32_t d = 1;
    for (uint64_t cap = 36; cap < n; cap *= 36u)
        d++;
    while (prefix_len + d < NICK_MIN_CHARS)
        d++;
    return d;
}

/* ---------------------------------------------------------------------------------------------
 * IO thread side.
 * ------------------------------------------------------------------------------------------- */

static void settle(chat_run_t *r, chat_bot_t *b, int joined) {
    if (b->settled)
        return;
    b->settled = 1;
    b->state = joined ? ST_JOINED : ST_FAILED;
    if (joined)
        atomic_fetch_add_explicit(&r->joined, 1, memory_order_relaxed);
    if (atomic_fetch_add_explicit(&r->settled, 1, memory_order_acq_rel) + 1 == r->n)
        bot_ctl_wake(r->ctl);
}

/* Encode and queue one message; 0 or a GS_E* code (already reported). Any thread. */
static int send_msg(chat_run_t *r, chat_bot_t *b, gs_session_id_t id, const ProtobufCMessage *m) {
    gs_packet_t *p;
    int rc = gs_msg_encode(r->reg, r->pool, m, &p);
    if (rc != 0) {
        bot_report(&r->reports, "bot %" PRIu32 " (%s): encode %s: %s", b->index, b->nick,
                   m->descriptor->name, gs_strerror(rc));
        return rc;
    }
    rc = gs_session_send(r->net, id, &p->buf);
    gs_packet_unref(p);
    /* GS_ESTALE / GS_ECLOSING: on_close says why. GS_ESENDQ: the net cut it. Only GS_ENOMEM
     * leaves the session open, so it is reported here. */
    if (rc == GS_ENOMEM)
        bot_report(&r->reports, "bot %" PRIu32 " (%s): send: %s", b->index, b->nick,
                   gs_strerror(rc));
    return rc;
}

static void fail_bot(chat_run_t *r, chat_bot_t *b, gs_session_id_t id) {
    count_error(r);
    settle(r, b, 0);
    gs_session_disconnect(r->net, id);
}

static void on_login_reply(chat_run_t *r, chat_bot_t *b, gs_session_id_t id,
                           const Chat__LoginReply *m) {
    if (b->state != ST_LOGIN || strcmp(m->nickname, b->nick) != 0) {
        bot_report(&r->reports, "bot %" PRIu32 " (%s): unexpected LoginReply for '%.20s'", b->index,
                   b->nick, m->nickname);
        fail_bot(r, b, id);
        return;
    }
    if (m->max_text_bytes != 0 && r->opts->text_size > m->max_text_bytes) {
        bot_report(&r->reports,
                   "bot %" PRIu32 ": --text-size %" PRIu32 " is over the server's limit %" PRIu32,
                   b->index, r->opts->text_size, m->max_text_bytes);
        fail_bot(r, b, id);
        return;
    }
    Chat__JoinRequest j = CHAT__JOIN_REQUEST__INIT;
    j.request_id = REQ_JOIN;
    j.room = r->room_names[b->room];
    b->state = ST_JOIN;
    if (send_msg(r, b, id, &j.base) != 0)
        fail_bot(r, b, id);
}

/* Members of the list that are this run's bots assigned to room: people (and other runs' bots)
 * may share a room with the bots, and are left out of the audit. */
static size_t bots_among(const chat_run_t *r, uint32_t room, char *const *members, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t s = nick_index(r, members[i]);
        k += s >= 0 && (uint32_t)s % r->rooms == room;
    }
    return k;
}

static void on_join_reply(chat_run_t *r, chat_bot_t *b, gs_session_id_t id,
                          const Chat__JoinReply *m) {
    size_t bots = b->state == ST_JOIN ? bots_among(r, b->room, m->members, m->n_members) : 0;
    if (b->state != ST_JOIN || strcmp(m->room, r->room_names[b->room]) != 0 ||
        bots > r->room_size[b->room]) {
        bot_report(&r->reports,
                   "bot %" PRIu32 " (%s): unexpected JoinReply for '%.40s' (%zu bots of this run"
                   " among %zu members, %" PRIu32 " expected at most)",
                   b->index, b->nick, m->room, bots, m->n_members, r->room_size[b->room]);
        fail_bot(r, b, id);
        return;
    }
    settle(r, b, 1);
}

static void on_error_msg(chat_run_t *r, chat_bot_t *b, gs_session_id_t id, const Chat__Error *m) {
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&chat__error_code__descriptor, (int)m->code);
    bot_report(&r->reports, "bot %" PRIu32 " (%s): server error %s for request %" PRIu32 ": %.80s",
               b->index, b->nick, v ? v->name : "?", m->request_id, m->detail);
    count_error(r);
    /* A refused login or join leaves the bot out of the chat for good. */
    if (!b->settled && (m->request_id == REQ_LOGIN || m->request_id == REQ_JOIN)) {
        settle(r, b, 0);
        gs_session_disconnect(r->net, id);
    }
}

static void bad_delivery(chat_run_t *r, chat_bot_t *b, const Chat__ChatDelivery *d,
                         const char *what) {
    count_error(r);
    bot_report(&r->reports,
               "bot %" PRIu32 " (%s): %s (room '%.32s', sender '%.20s', seq %" PRIu64 ")", b->index,
               b->nick, what, d->room, d->sender, d->seq);
}

/* One ChatDelivery: accepted (delivered, latency recorded) only if it is intact, from a member
 * of this bot's room, and the next seq of that sender. A seq past the next one is accepted too
 * but counts as reordered (the ones skipped then count as lost, or as duplicated if they come
 * later: a receiver keeps only the last seq per sender, so it cannot tell late from twice). */
static void on_delivery(chat_run_t *r, chat_bot_t *b, const Chat__ChatDelivery *d, uint64_t now) {
    if (b->state != ST_JOINED) {
        bad_delivery(r, b, d, "delivery before the join completed");
        return;
    }
    if (strcmp(d->room, r->room_names[b->room]) != 0) {
        bad_delivery(r, b, d, "delivery for another room");
        return;
    }
    int64_t s = nick_index(r, d->sender);
    if (s < 0) {
        /* A person (or another run's bot) in the room: not this run's traffic, not audited. */
        atomic_fetch_add_explicit(&r->foreign, 1, memory_order_relaxed);
        return;
    }
    if ((uint32_t)s % r->rooms != b->room) {
        bad_delivery(r, b, d, "delivery from a sender not in the room");
        return;
    }
    if (text_check(d->text, r->opts->text_size, (uint32_t)s, d->seq) != 0) {
        bad_delivery(r, b, d, "corrupt text");
        return;
    }
    uint64_t *last = &b->last_seq[(uint32_t)s / r->rooms];
    if (d->seq <= *last) {
        atomic_fetch_add_explicit(&r->duplicated, 1, memory_order_relaxed);
        bot_report(&r->reports,
                   "bot %" PRIu32 ": duplicate or late delivery from %s (seq %" PRIu64
                   ", last %" PRIu64 ")",
                   b->index, d->sender, d->seq, *last);
        return;
    }
    if (d->seq > *last + 1) {
        atomic_fetch_add_explicit(&r->reordered, 1, memory_order_relaxed);
        bot_report(&r->reports,
                   "bot %" PRIu32 ": delivery from %s out of order (seq %" PRIu64
                   ", expected %" PRIu64 ": %" PRIu64 " skipped)",
                   b->index, d->sender, d->seq, *last + 1, d->seq - *last - 1);
    }
    *last = d->seq;
    /* Release pairs with the monitor's acquire. */
    atomic_store_explicit(&b->delivered,
                          atomic_load_explicit(&b->delivered, memory_order_relaxed) + 1,
                          memory_order_release);
    uint64_t now_us = now / 1000u;
    lat_shared_record(&r->lat, now_us > d->sent_at_us ? (now_us - d->sent_at_us) * 1000u : 0);
}

static void on_open(gs_net_t *net, gs_session_id_t id, void *session_user, void *user) {
    (void)net;
    chat_run_t *r = user;
    chat_bot_t *b = session_user;
    b->opened = 1;
    atomic_fetch_add_explicit(&r->open, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->connected, 1, memory_order_relaxed);
    Chat__LoginRequest l = CHAT__LOGIN_REQUEST__INIT;
    l.request_id = REQ_LOGIN;
    l.nickname = b->nick;
    b->state = ST_LOGIN;
    if (send_msg(r, b, id, &l.base) != 0)
        fail_bot(r, b, id);
}

static void on_frame(gs_net_t *net, gs_session_id_t id, void *session_user, uint32_t msg_id,
                     const uint8_t *body, uint32_t len, void *user) {
    (void)net;
    chat_run_t *r = user;
    chat_bot_t *b = session_user;
    uint64_t now = gs_now_ns();
    if (!b->arena) {
        /* Per session, so no two threads ever share one; the first block fits a delivery. */
        b->arena = gs_arena_create(1024);
        if (!b->arena) {
            bot_report(&r->reports, "bot %" PRIu32 ": out of memory for a decode arena", b->index);
            fail_bot(r, b, id);
            return;
        }
    }
    ProtobufCMessage *m;
    int rc = gs_msg_decode(r->reg, b->arena, msg_id, body, len, &m);
    if (rc != 0) {
        count_error(r);
        bot_report(&r->reports,
                   "bot %" PRIu32 ": undecodable frame (id 0x%08" PRIx32 ", %" PRIu32 " bytes): %s",
                   b->index, msg_id, len, gs_strerror(rc));
        gs_arena_reset(b->arena);
        return;
    }
    if (msg_id == r->id_delivery)
        on_delivery(r, b, (const Chat__ChatDelivery *)m, now);
    else if (msg_id == r->id_login_reply)
        on_login_reply(r, b, id, (const Chat__LoginReply *)m);
    else if (msg_id == r->id_join_reply)
        on_join_reply(r, b, id, (const Chat__JoinReply *)m);
    else if (msg_id == r->id_error)
        on_error_msg(r, b, id, (const Chat__Error *)m);
    /* Anything else (RoomEvent, Pong) is information the bot does not need. */
    gs_arena_reset(b->arena);
}

static void on_close(gs_net_t *net, gs_session_id_t id, void *session_user,
                     gs_close_reason_t reason, void *user) {
    (void)net;
    (void)id;
    chat_run_t *r = user;
    chat_bot_t *b = session_user;
    int ours = atomic_load_explicit(&r->closing, memory_order_acquire) &&
               (reason == GS_CLOSE_LOCAL || reason == GS_CLOSE_SHUTDOWN);
    if (b->opened)
        atomic_fetch_sub_explicit(&r->open, 1, memory_order_relaxed);
    /* A bot that failed has been counted already; its own disconnect is no second error. */
    if (!ours && !(b->state == ST_FAILED && reason == GS_CLOSE_LOCAL)) {
        count_error(r);
        if (!b->opened)
            bot_report(&r->reports, "bot %" PRIu32 ": did not connect (%s)", b->index,
                       gs_close_reason_name(reason));
        else
            bot_report(&r->reports, "bot %" PRIu32 " (%s): closed during the run (%s)", b->index,
                       b->nick, gs_close_reason_name(reason));
    }
    settle(r, b, 0);
    if (atomic_fetch_sub_explicit(&r->live, 1, memory_order_acq_rel) == 1)
        bot_ctl_wake(r->ctl);
}

/* ---------------------------------------------------------------------------------------------
 * Main thread side.
 * ------------------------------------------------------------------------------------------- */

static uint64_t sum_delivered(chat_run_t *r) {
    uint64_t v = 0;
    for (uint32_t i = 0; i < r->n; i++)
        v += atomic_load_explicit(&r->bots[i].delivered, memory_order_acquire);
    return v;
}

static void send_chat(chat_run_t *r, chat_bot_t *b) {
    const uint64_t seq = b->sent + 1;
    text_fill(r->text, r->opts->text_size, b->index, seq);
    Chat__ChatSend c = CHAT__CHAT_SEND__INIT;
    c.request_id = REQ_CHAT + (uint32_t)seq;
    c.room = r->room_names[b->room];
    c.text = r->text;
    c.seq = seq;
    c.sent_at_us = gs_now_ns() / 1000u;
    int rc = send_msg(r, b, b->id, &c.base);
    if (rc != 0) {
        /* Gone or going (on_close counts it), or out of memory (reported): this bot is done. */
        b->dead = 1;
        if (rc == GS_ENOMEM)
            count_error(r);
        return;
    }
    b->sent = seq;
    r->sent++;
    r->expected += r->room_size[b->room];
}

/* Every bot sends the chats that are due. Bots' phases are spread over one interval, so the
 * sends of a pass are a slice of the bots, not all of them at once. */
static void send_due(chat_run_t *r, uint64_t now, uint64_t interval) {
    for (uint32_t i = 0; i < r->n; i++) {
        chat_bot_t *b = &r->bots[i];
        for (unsigned k = 0; k < SENDS_PER_PASS && !b->dead && b->next_ns <= now; k++) {
            send_chat(r, b);
            b->next_ns += interval;
        }
        /* After a stall, skip what was missed rather than flood the server's rate limit. */
        if (b->next_ns <= now)
            b->next_ns = now + interval;
    }
}

static void monitor_line(chat_run_t *r, uint64_t now, uint64_t t0, const char *phase) {
    chat_monitor_t *m = &r->mon;
    uint64_t delivered = sum_delivered(r);
    int next = m->cur ^ 1;
    lat_shared_snapshot(&r->lat, &m->snap[next]);
    lat_hist_delta(&m->delta, &m->snap[next], &m->snap[m->cur]);
    m->cur = next;
    double dt = (double)(now - m->last_ns) / 1e9;
    if (dt <= 0)
        dt = 1;
    double sent_s = (double)(r->sent - m->last_sent) / dt;
    double deliv_s = (double)(delivered - m->last_delivered) / dt;
    m->last_ns = now;
    m->last_sent = r->sent;
    m->last_delivered = delivered;
    if (r->common->json_only)
        return;
    char p50[32], p99[32], extra[96] = "";
    lat_fmt_us(p50, sizeof p50, &m->delta, 50);
    lat_fmt_us(p99, sizeof p99, &m->delta, 99);
    uint64_t dup = atomic_load_explicit(&r->duplicated, memory_order_relaxed);
    uint64_t reo = atomic_load_explicit(&r->reordered, memory_order_relaxed);
    if (dup || reo)
        snprintf(extra, sizeof extra, " duplicated %" PRIu64 " reordered %" PRIu64, dup, reo);
    fprintf(stderr,
            "%s: %6.1fs %-5s connected %" PRIu32 "/%" PRIu32 " joined %" PRIu32
            " sent/s %.0f deliveries/s %.0f awaiting %" PRIu64 " p50 %s p99 %s errors %" PRIu64
            "%s\n",
            BOT_PROG, (double)(now - t0) / 1e9, phase,
            atomic_load_explicit(&r->open, memory_order_relaxed), r->n,
            atomic_load_explicit(&r->joined, memory_order_relaxed), sent_s, deliv_s,
            r->expected - delivered, p50, p99,
            atomic_load_explicit(&r->errors, memory_order_relaxed), extra);
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

static void chat_cleanup(chat_run_t *r) {
    if (r->bots) {
        for (uint32_t i = 0; i < r->n; i++)
            gs_arena_destroy(r->bots[i].arena);
        gs_aligned_free(r->bots);
    }
    gs_pool_destroy(r->pool);
    gs_msg_registry_destroy(r->reg);
    free(r->seq_store);
    free(r->room_size);
    free(r->room_names);
    free(r->text);
    free(r);
}

/* Everything the IO threads read, set up before the net starts. 0 or -1 (message printed). */
static int chat_setup(chat_run_t *r) {
    const chat_opts_t *o = r->opts;
    r->reg = gs_msg_registry_create(MAX_BODY);
    r->pool = gs_pool_create(NULL);
    r->room_size = calloc(r->rooms, sizeof *r->room_size);
    r->room_names = calloc(r->rooms, sizeof *r->room_names);
    r->text = malloc((size_t)o->text_size + 1u);
    r->bots = gs_aligned_alloc(_Alignof(chat_bot_t), (size_t)r->n * sizeof(chat_bot_t));
    if (!r->reg || !r->pool || !r->room_size || !r->room_names || !r->text || !r->bots) {
        fprintf(stderr, "%s: out of memory\n", BOT_PROG);
        return -1;
    }
    memset(r->bots, 0, (size_t)r->n * sizeof(chat_bot_t));
    int rc = chat_proto_register(r->reg);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot register the chat protocol: %s\n", BOT_PROG, gs_strerror(rc));
        return -1;
    }
    r->id_login_reply = gs_msg_registry_id(r->reg, &chat__login_reply__descriptor);
    r->id_join_reply = gs_msg_registry_id(r->reg, &chat__join_reply__descriptor);
    r->id_delivery = gs_msg_registry_id(r->reg, &chat__chat_delivery__descriptor);
    r->id_error = gs_msg_registry_id(r->reg, &chat__error__descriptor);

    uint64_t cells = 0;
    for (uint32_t k = 0; k < r->rooms; k++) {
        r->room_size[k] = r->n / r->rooms + (k < r->n % r->rooms ? 1u : 0u);
        snprintf(r->room_names[k], sizeof r->room_names[k], "room-%" PRIu32, k);
    }
    for (uint32_t i = 0; i < r->n; i++)
        cells += r->room_size[i % r->rooms];
    r->seq_store = calloc((size_t)cells, sizeof *r->seq_store);
    if (!r->seq_store) {
        fprintf(stderr, "%s: out of memory for %" PRIu64 " sequence counters\n", BOT_PROG, cells);
        return -1;
    }
    uint64_t off = 0;
    for (uint32_t i = 0; i < r->n; i++) {
        chat_bot_t *b = &r->bots[i];
        atomic_init(&b->delivered, 0);
        b->index = i;
        b->room = i % r->rooms;
        b->id = GS_SESSION_NONE;
        b->last_seq = r->seq_store + off;
        off += r->room_size[b->room];
        make_nick(b->nick, o->nick_prefix, r->prefix_len, r->nick_digits, i);
    }
    return 0;
}

static int chat_main(const bot_common_t *common, const void *opts_v, bot_ctl_t *ctl) {
    const chat_opts_t *o = opts_v;
    const uint32_t n = common->connections;

    chat_run_t *r = calloc(1, sizeof *r);
    if (!r) {
        fprintf(stderr, "%s: out of memory\n", BOT_PROG);
        return 1;
    }
    r->common = common;
    r->opts = o;
    r->ctl = ctl;
    r->n = n;
    r->rooms = o->rooms < n ? o->rooms : n;
    r->prefix_len = (uint32_t)strlen(o->nick_prefix);
    r->nick_digits = nick_digits_for(n, r->prefix_len);
    atomic_init(&r->closing, 0);
    atomic_init(&r->open, 0);
    atomic_init(&r->connected, 0);
    atomic_init(&r->joined, 0);
    atomic_init(&r->settled, 0);
    atomic_init(&r->live, n);
    atomic_init(&r->errors, 0);
    atomic_init(&r->duplicated, 0);
    atomic_init(&r->foreign, 0);
    atomic_init(&r->reordered, 0);
    atomic_init(&r->reports, 0);
    lat_shared_init(&r->lat);
    if (chat_setup(r) != 0) {
        chat_cleanup(r);
        return 1;
    }

    /* Everything above is written before gs_net_create starts any thread. */
    gs_net_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.cb.on_open = on_open;
    cfg.cb.on_frame = on_frame;
    cfg.cb.on_close = on_close;
    cfg.user = r;
    cfg.io_threads = common->io_threads;
    cfg.backend = common->backend;
    cfg.max_frame = MAX_BODY;
    if (n > 16384)
        cfg.max_sessions = n;
    int rc = gs_net_create(&r->net, &cfg);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot create the network instance: %s\n", BOT_PROG, gs_strerror(rc));
        chat_cleanup(r);
        return 1;
    }
    rc = gs_net_start(r->net);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot start the network threads: %s\n", BOT_PROG, gs_strerror(rc));
        gs_net_destroy(r->net);
        chat_cleanup(r);
        return 1;
    }
    if (!common->json_only)
        fprintf(stderr,
                "%s: chat: %" PRIu32 " bots to %s:%u, %" PRIu32 " rooms, %" PRIu32
                " chats/s each, %" PRIu32 " bytes, nicknames %s..%s, %" PRIu32
                " IO threads, %" PRIu32 " s\n",
                BOT_PROG, n, common->host, (unsigned)common->port, r->rooms, o->rate, o->text_size,
                r->bots[0].nick, r->bots[n - 1].nick, common->io_threads, common->duration_s);

    const uint64_t t0 = gs_now_ns();
    r->mon.last_ns = t0;
    for (uint32_t i = 0; i < n; i++) {
        chat_bot_t *b = &r->bots[i];
        gs_connect_config_t cc = {.host = common->host, .port = common->port, .session_user = b};
        rc = gs_net_connect(r->net, &cc, &b->id);
        if (rc != 0) {
            /* No callback will ever run for it: account for it here. */
            b->id = GS_SESSION_NONE;
            b->dead = 1;
            count_error(r);
            settle(r, b, 0);
            atomic_fetch_sub_explicit(&r->live, 1, memory_order_relaxed);
            bot_report(&r->reports, "bot %" PRIu32 ": connect: %s", i, gs_strerror(rc));
        }
    }

    /* Barrier: chatting starts only when every bot is in its room, so membership is fixed for the
     * whole chat phase and every chat's deliveries are known exactly. */
    uint64_t tick = t0 + TICK_NS;
    const uint64_t join_end = t0 + JOIN_NS;
    const char *why = NULL;
    while (atomic_load_explicit(&r->settled, memory_order_acquire) < n) {
        bot_wait_t w = bot_ctl_wait(ctl, min_u64(tick, join_end));
        uint64_t now = gs_now_ns();
        if (w == BOT_WAIT_SIGNAL) {
            why = "interrupted before every bot had joined";
            break;
        }
        if (now >= tick) {
            monitor_line(r, now, t0, "join");
            tick = bot_next_tick(tick, now);
        }
        if (now >= join_end) {
            why = "timed out waiting for every bot to join";
            count_error(r);
            break;
        }
    }
    const uint32_t joined_all = atomic_load_explicit(&r->joined, memory_order_acquire);
    if (!why && joined_all < n)
        why = "some bots could not join";

    uint64_t t_chat = gs_now_ns(), t_end = t_chat;
    if (why) {
        fprintf(stderr, "%s: %s (%" PRIu32 " of %" PRIu32 " joined): not chatting\n", BOT_PROG, why,
                joined_all, n);
    } else {
        if (!common->json_only)
            fprintf(stderr, "%s: all %" PRIu32 " bots joined in %.3f s: chatting\n", BOT_PROG, n,
                    (double)(t_chat - t0) / 1e9);
        const uint64_t interval = TICK_NS / o->rate;
        for (uint32_t i = 0; i < n; i++)
            r->bots[i].next_ns = t_chat + interval * i / n;
        const uint64_t end = t_chat + (uint64_t)common->duration_s * 1000000000u;
        why = "time is up";
        for (;;) {
            if (atomic_load_explicit(&r->live, memory_order_acquire) == 0) {
                why = "every bot has closed";
                break;
            }
            uint64_t now = gs_now_ns();
            if (now >= end)
                break;
            send_due(r, now, interval);
            bot_wait_t w = bot_ctl_wait(ctl, min_u64(min_u64(now + PACE_NS, tick), end));
            now = gs_now_ns();
            if (w == BOT_WAIT_SIGNAL) {
                why = "interrupted";
                break;
            }
            if (now >= tick) {
                monitor_line(r, now, t0, "chat");
                tick = bot_next_tick(tick, now);
            }
        }

        /* Drain: nothing is sent any more, so `expected` is final; wait, bounded, for it. */
        if (!common->json_only)
            fprintf(stderr,
                    "%s: %s: stopped sending, waiting up to %" PRIu32
                    " ms for the deliveries in flight\n",
                    BOT_PROG, why, o->drain_ms);
        const uint64_t drain_end = gs_now_ns() + (uint64_t)o->drain_ms * 1000000u;
        while (sum_delivered(r) < r->expected &&
               atomic_load_explicit(&r->live, memory_order_acquire) > 0) {
            uint64_t now = gs_now_ns();
            if (now >= drain_end)
                break;
            bot_wait_t w = bot_ctl_wait(ctl, min_u64(min_u64(now + POLL_NS, tick), drain_end));
            now = gs_now_ns();
            if (w == BOT_WAIT_SIGNAL) {
                fprintf(stderr, "%s: interrupted again: not waiting for the remaining deliveries\n",
                        BOT_PROG);
                break;
            }
            if (now >= tick) {
                monitor_line(r, now, t0, "drain");
                tick = bot_next_tick(tick, now);
            }
        }
        t_end = gs_now_ns();
    }

    /* Close: from here on, local and shutdown closes are ours, not errors. */
    atomic_store_explicit(&r->closing, 1, memory_order_release);
    for (uint32_t i = 0; i < n; i++)
        if (r->bots[i].id != GS_SESSION_NONE)
            (void)gs_session_disconnect(r->net, r->bots[i].id); /* GS_ESTALE: already gone */
    gs_net_stop(r->net, STOP_FLUSH_MS);

    /* The IO threads are joined: every counter is final. */
    const uint64_t delivered = sum_delivered(r);
    const uint64_t lost = r->expected > delivered ? r->expected - delivered : 0;
    lat_hist_t *h = &r->mon.snap[0];
    lat_shared_snapshot(&r->lat, h);
    const uint64_t dup = atomic_load(&r->duplicated);
    const uint64_t reo = atomic_load(&r->reordered);
    const uint64_t errors = atomic_load(&r->errors);
    const uint32_t connected = atomic_load(&r->connected);
    const uint32_t joined = atomic_load(&r->joined);
    const double secs = (double)(t_end - t_chat) / 1e9;
    const double p50 = (double)lat_hist_percentile(h, 50) / 1000.0;
    const double p99 = (double)lat_hist_percentile(h, 99) / 1000.0;
    const double max = (double)h->max / 1000.0;

    if (connected < n)
        fprintf(stderr, "%s: %" PRIu32 " of %" PRIu32 " bots never connected\n", BOT_PROG,
                n - connected, n);
    if (lost)
        fprintf(stderr, "%s: %" PRIu64 " deliveries owed were never received intact\n", BOT_PROG,
                lost);
    if (!common->json_only)
        fprintf(stderr,
                "%s: done: %" PRIu32 "/%" PRIu32 " connected, %" PRIu32 " joined, sent %" PRIu64
                ", delivered %" PRIu64 " of %" PRIu64 ", lost %" PRIu64 ", duplicated %" PRIu64
                ", reordered %" PRIu64 ", errors %" PRIu64 ", p50 %.1fus p99 %.1fus max %.1fus\n",
                BOT_PROG, connected, n, joined, r->sent, delivered, r->expected, lost, dup, reo,
                errors, p50, p99, max);
    printf("{\"mode\":\"chat\",\"bots\":%" PRIu32 ",\"connected\":%" PRIu32 ",\"joined\":%" PRIu32
           ",\"rooms\":%" PRIu32 ",\"sent\":%" PRIu64 ",\"delivered\":%" PRIu64
           ",\"expected\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"duplicated\":%" PRIu64
           ",\"reordered\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"foreign\":%" PRIu64
           ",\"p50_us\":%.1f,\"p99_us\":%.1f,\"deliveries_per_s\":%.1f,\"duration_s\":%.3f}\n",
           n, connected, joined, r->rooms, r->sent, delivered, r->expected, lost, dup, reo, errors,
           (uint64_t)atomic_load(&r->foreign), p50, p99, secs > 0 ? (double)delivered / secs : 0.0,
           secs);
    fflush(stdout);

    gs_net_destroy(r->net);
    chat_cleanup(r);
    return (connected == n && joined == n && lost == 0 && dup == 0 && reo == 0 && errors == 0) ? 0
                                                                                               : 1;
}

/* ---------------------------------------------------------------------------------------------
 * Options and the mode table entry.
 * ------------------------------------------------------------------------------------------- */

static void chat_defaults(void *opts) {
    chat_opts_t *o = opts;
    o->rooms = 10;
    o->rate = 1;
    o->text_size = 40;
    o->drain_ms = 5000;
    o->nick_prefix = "b";
}

static int chat_option(void *opts, cli_t *c) {
    chat_opts_t *o = opts;
    if (cli_is(c, "--rooms"))
        return cli_u32(c, 1, 1000000, &o->rooms) != 0 ? -1 : 1;
    if (cli_is(c, "--rate"))
        return cli_u32(c, 1, RATE_MAX, &o->rate) != 0 ? -1 : 1;
    if (cli_is(c, "--text-size")) {
        if (cli_u32(c, 0, TEXT_MAX_SIZE, &o->text_size) != 0)
            return -1;
        if (o->text_size < TEXT_HDR_SIZE)
            return cli_error(c,
                             "option --text-size: at least %u bytes: each text starts with the "
                             "sender's index and sequence in hex",
                             TEXT_HDR_SIZE);
        return 1;
    }
    if (cli_is(c, "--drain-ms"))
        return cli_u32(c, 0, DRAIN_MS_MAX, &o->drain_ms) != 0 ? -1 : 1;
    if (cli_is(c, "--nick-prefix")) {
        if (cli_string(c, &o->nick_prefix) != 0)
            return -1;
        size_t len = strlen(o->nick_prefix);
        if (len == 0 || len > PREFIX_MAX)
            return cli_error(c, "option --nick-prefix: 1 to %u characters", PREFIX_MAX);
        for (size_t i = 0; i < len; i++) {
            unsigned char ch = (unsigned char)o->nick_prefix[i];
            if (ch <= 0x20 || ch >= 0x7f)
                return cli_error(c, "option --nick-prefix: printable ASCII without spaces only");
        }
        return 1;
    }
    return 0;
}

static int chat_check(void *opts, const bot_common_t *common) {
    const chat_opts_t *o = opts;
    const uint32_t n = common->connections;
    uint32_t prefix_len = (uint32_t)strlen(o->nick_prefix);
    uint32_t digits = nick_digits_for(n, prefix_len);
    if (prefix_len + digits > NICK_MAX_CHARS) {
        fprintf(stderr,
                "%s: --nick-prefix '%s' with %" PRIu32 " base-36 digits for %" PRIu32
                " bots makes nicknames longer than %u characters\n",
                BOT_PROG, o->nick_prefix, digits, n, NICK_MAX_CHARS);
        return -1;
    }
    uint32_t rooms = o->rooms < n ? o->rooms : n;
    uint32_t members = n / rooms + (n % rooms ? 1u : 0u);
    if (members > MEMBERS_MAX) {
        fprintf(stderr,
                "%s: %" PRIu32 " bots in %" PRIu32 " rooms is %" PRIu32
                " per room, over %u (and the server's default limit is 1000): use more --rooms\n",
                BOT_PROG, n, rooms, members, MEMBERS_MAX);
        return -1;
    }
    return 0;
}

const bot_mode_t bot_mode_chat = {
    .name = "chat",
    .summary = "log bots in to gs-chat-server, join rooms, chat and verify every delivery",
    .options_help =
        "  --rooms R            rooms; bot i joins room-(i % R) only (default 10)\n"
        "  --rate N             chats per second per bot, 1..1000 (default 1; the server\n"
        "                       allows 20/s with bursts of 40 by default)\n"
        "  --text-size BYTES    chat text, at least 24 (default 40)\n"
        "  --nick-prefix STR    nicknames are STR + bot index in base 36, 3..16 characters\n"
        "                       in all (default b)\n"
        "  --drain-ms MS        how long the end waits for deliveries in flight (default 5000)\n",
    .opts_size = sizeof(chat_opts_t),
    .defaults = chat_defaults,
    .option = chat_option,
    .check = chat_check,
    .run = chat_main,
};

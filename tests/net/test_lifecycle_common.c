/* SPDX-License-Identifier: MIT */
/* Helpers shared by the lifecycle tests (see test_lifecycle_common.h). */
#include "test_lifecycle_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>

#include <cmocka.h>

#include "th_os.h"

/* ---- the server ---------------------------------------------------------------------------- */

static void violation(lc_server_t *srv, const char *what, gs_session_id_t id) {
    atomic_fetch_add(&srv->violations, 1);
    int expected = 0;
    if (atomic_compare_exchange_strong(&srv->violation_set, &expected, 1))
        snprintf(srv->violation, sizeof(srv->violation), "%s (session %llx)", what,
                 (unsigned long long)id);
}

static lc_rec_t *live_rec(lc_server_t *srv, gs_session_id_t id) {
    uint32_t slot = gs_session_slot(id);
    if (slot >= LC_MAX_SESSIONS)
        return NULL;
    uint32_t r = atomic_load(&srv->slot_rec[slot]);
    if (r == 0)
        return NULL;
    lc_rec_t *rec = &srv->rec[r - 1];
    return atomic_load(&rec->id) == id ? rec : NULL;
}

static lc_rec_t *new_rec(lc_server_t *srv, gs_session_id_t id) {
    uint64_t idx = atomic_fetch_add(&srv->nrec, 1);
    if (idx >= LC_MAX_RECORDS) {
        violation(srv, "too many sessions for the recorder", id);
        return NULL;
    }
    lc_rec_t *rec = &srv->rec[idx];
    atomic_store(&rec->id, id);
    return rec;
}

static void cb_open(gs_net_t *net, gs_session_id_t id, void *su, void *user) {
    (void)net;
    lc_server_t *srv = user;
    uint32_t slot = gs_session_slot(id);
    if (id == GS_SESSION_NONE || slot >= LC_MAX_SESSIONS) {
        violation(srv, "on_open with an impossible id", id);
        return;
    }
    if (atomic_load(&srv->slot_rec[slot]) != 0)
        violation(srv, "on_open while the slot's previous session has not closed", id);
    lc_rec_t *rec = new_rec(srv, id);
    if (!rec)
        return;
    atomic_store(&rec->open_ns, gs_now_ns());
    atomic_fetch_add(&rec->opens, 1);
    atomic_store(&srv->slot_rec[slot], (uint32_t)(rec - srv->rec) + 1);
    atomic_fetch_add(&srv->opened, 1);
    if (srv->on_open)
        srv->on_open(srv, id, su);
}

static void cb_frame(gs_net_t *net, gs_session_id_t id, void *su, uint32_t msg_id,
                     const uint8_t *body, uint32_t len, void *user) {
    lc_server_t *srv = user;
    lc_rec_t *rec = live_rec(srv, id);
    if (!rec)
        violation(srv, "on_frame for a session that is not open", id);
    else
        atomic_fetch_add(&rec->frames, 1);
    atomic_fetch_add(&srv->frames, 1);
    if (srv->mode == TH_ECHO) {
        gs_buf_t *b = gs_buf_frame(msg_id, body, len);
        if (!b || gs_session_send(net, id, b) != 0)
            atomic_fetch_add(&srv->send_errors, 1);
        if (b)
            gs_buf_unref(b);
    }
    if (srv->on_frame)
        srv->on_frame(srv, id, su, msg_id, body, len);
}

static void cb_data(gs_net_t *net, gs_session_id_t id, void *su, const uint8_t *data, size_t len,
                    void *user) {
    (void)net;
    (void)su;
    (void)data;
    (void)len;
    violation(user, "on_data on a framed session", id);
}

static void cb_close(gs_net_t *net, gs_session_id_t id, void *su, gs_close_reason_t reason,
                     void *user) {
    lc_server_t *srv = user;
    uint64_t now = gs_now_ns();
    if ((unsigned)reason >= GS_CLOSE__COUNT || reason == GS_CLOSE_NONE) {
        violation(srv, "on_close with an impossible reason", id);
        reason = GS_CLOSE_NONE;
    }
    /* The id is already stale when on_close runs. */
    uint64_t q;
    if (gs_session_queued_bytes(net, id, &q) != GS_ESTALE)
        violation(srv, "id not stale inside on_close", id);
    lc_rec_t *rec = live_rec(srv, id);
    if (rec && reason == GS_CLOSE_CONNECT_FAILED)
        violation(srv, "connect_failed after on_open", id);
    if (!rec) {
        if (reason != GS_CLOSE_CONNECT_FAILED)
            violation(srv, "on_close without on_open (or twice)", id);
        rec = new_rec(srv, id);
    }
    if (srv->on_close)
        srv->on_close(srv, id, su, reason);
    if (rec) {
        atomic_store(&rec->reason, (uint32_t)reason);
        atomic_store(&rec->session_user, su);
        atomic_store(&rec->close_ns, now);
        if (atomic_fetch_add(&rec->closes, 1) != 0)
            violation(srv, "on_close twice", id);
        uint32_t slot = gs_session_slot(id);
        if (slot < LC_MAX_SESSIONS && atomic_load(&rec->opens) != 0)
            atomic_store(&srv->slot_rec[slot], 0);
    }
    atomic_fetch_add(&srv->close_reasons[reason], 1);
    atomic_fetch_add(&srv->closed, 1);
}

/* Servers not yet freed stay reachable from here: when an assertion ends a test early, the
 * running server is abandoned (its hooks may point into the failed test's stack, so it is not
 * stopped) and LeakSanitizer does not bury the failure under reports of its memory. */
#define LC_MAX_LIVE 16
static lc_server_t *g_live[LC_MAX_LIVE];

lc_server_t *lc_server_create(const gs_net_config_t *cfg, th_mode_t mode) {
    lc_server_t *srv = calloc(1, sizeof(*srv));
    assert_non_null(srv);
    for (int i = 0; i < LC_MAX_LIVE; i++) {
        if (!g_live[i]) {
            g_live[i] = srv;
            break;
        }
    }
    gs_net_config_t c;
    if (cfg)
        c = *cfg;
    else
        memset(&c, 0, sizeof(c));
    c.cb.on_open = cb_open;
    c.cb.on_frame = cb_frame;
    c.cb.on_data = cb_data;
    c.cb.on_close = cb_close;
    c.user = srv;
    c.max_sessions = LC_MAX_SESSIONS;
    srv->mode = mode;
    assert_int_equal(gs_net_create(&srv->net, &c), 0);
    return srv;
}

void lc_server_begin(lc_server_t *srv) {
    gs_listen_config_t lc = {.host = "127.0.0.1", .port = 0};
    assert_int_equal(gs_net_listen(srv->net, &lc), 0);
    srv->port = gs_net_listen_port(srv->net);
    assert_true(srv->port != 0);
    assert_int_equal(gs_net_start(srv->net), 0);
}

lc_server_t *lc_server_start(const gs_net_config_t *cfg, th_mode_t mode) {
    lc_server_t *srv = lc_server_create(cfg, mode);
    lc_server_begin(srv);
    return srv;
}

void lc_assert_no_violation(lc_server_t *srv) {
    if (atomic_load(&srv->violations) != 0)
        fail_msg("callback contract broken %llu time(s); first: %s",
                 (unsigned long long)atomic_load(&srv->violations), srv->violation);
}

uint64_t lc_server_stop(lc_server_t *srv, uint32_t flush_ms) {
    uint64_t unsent = gs_net_stop(srv->net, flush_ms);
    gs_net_stats_t st;
    gs_net_stats(srv->net, &st);
    assert_int_equal(st.io_in_flight, 0);
    assert_int_equal(st.sessions_open, 0);
    assert_int_equal(st.bufs_queued, 0);
    assert_int_equal(st.bytes_queued, 0);
    lc_assert_no_violation(srv);
    uint64_t n = atomic_load(&srv->nrec);
    if (n > LC_MAX_RECORDS)
        n = LC_MAX_RECORDS;
    uint64_t failed = 0, total_disc = 0;
    for (uint64_t i = 0; i < n; i++) {
        lc_rec_t *r = &srv->rec[i];
        if (atomic_load(&r->closes) != 1)
            fail_msg("session %llx closed %u times", (unsigned long long)atomic_load(&r->id),
                     atomic_load(&r->closes));
        uint32_t opens = atomic_load(&r->opens);
        assert_true(opens == 1 ||
                    (opens == 0 && atomic_load(&r->reason) == GS_CLOSE_CONNECT_FAILED));
        failed += opens == 0;
    }
    assert_int_equal(atomic_load(&srv->opened) + failed, atomic_load(&srv->closed));
    /* The server's counters agree with what the callbacks saw. */
    for (int r = 0; r < GS_CLOSE__COUNT; r++) {
        assert_int_equal(st.disconnects[r], atomic_load(&srv->close_reasons[r]));
        total_disc += st.disconnects[r];
    }
    assert_int_equal(total_disc, atomic_load(&srv->closed));
    assert_int_equal(st.sessions_total, atomic_load(&srv->opened));
    return unsent;
}

void lc_server_free(lc_server_t *srv) {
    if (!srv)
        return;
    for (int i = 0; i < LC_MAX_LIVE; i++)
        if (g_live[i] == srv)
            g_live[i] = NULL;
    gs_net_destroy(srv->net);
    free(srv);
}

lc_rec_t *lc_find(lc_server_t *srv, gs_session_id_t id) {
    uint64_t n = atomic_load(&srv->nrec);
    if (n > LC_MAX_RECORDS)
        n = LC_MAX_RECORDS;
    for (uint64_t i = n; i-- > 0;)
        if (atomic_load(&srv->rec[i].id) == id)
            return &srv->rec[i];
    return NULL;
}

gs_session_id_t lc_session(lc_server_t *srv, uint64_t n) {
    if (!th_wait_count(&srv->opened, n + 1, LC_WAIT_MS))
        fail_msg("session #%llu did not open", (unsigned long long)n);
    /* Records are created in open order for accepted sessions; skip failed connects. */
    uint64_t seen = 0, total = atomic_load(&srv->nrec);
    for (uint64_t i = 0; i < total && i < LC_MAX_RECORDS; i++) {
        lc_rec_t *r = &srv->rec[i];
        if (atomic_load(&r->opens) == 0)
            continue;
        if (seen++ == n)
            return atomic_load(&r->id);
    }
    fail_msg("session #%llu not recorded", (unsigned long long)n);
    return GS_SESSION_NONE;
}

int lc_wait_closed(lc_server_t *srv, uint64_t n, uint32_t timeout_ms) {
    return th_wait_count(&srv->closed, n, timeout_ms);
}

typedef struct {
    lc_server_t *srv;
    uint64_t value;
} in_flight_arg_t;

static int in_flight_is(void *arg) {
    in_flight_arg_t *a = arg;
    return lc_stats(a->srv).io_in_flight == a->value;
}

int lc_wait_in_flight(lc_server_t *srv, uint64_t value, uint32_t timeout_ms) {
    in_flight_arg_t a = {srv, value};
    return th_wait_until(in_flight_is, &a, timeout_ms);
}

gs_net_stats_t lc_stats(lc_server_t *srv) {
    gs_net_stats_t st;
    gs_net_stats(srv->net, &st);
    return st;
}

/* ---- counted buffers ------------------------------------------------------------------------ */

#define LC_BUF_LIVE 0x4c495645u
#define LC_BUF_DEAD 0xdeadbeefu

typedef struct lc_cbuf {
    _Atomic uint32_t magic;
    gs_buf_t buf;
    uint8_t bytes[];
} lc_cbuf_t;

static _Atomic uint64_t g_created, g_released, g_double;

static void lc_buf_release(gs_buf_t *b) {
    lc_cbuf_t *c = gs_container_of(b, lc_cbuf_t, buf);
    if (atomic_exchange(&c->magic, LC_BUF_DEAD) != LC_BUF_LIVE) {
        atomic_fetch_add(&g_double, 1);
        return;
    }
    atomic_fetch_add(&g_released, 1);
    free(c);
}

void lc_fill(uint8_t *body, uint32_t len, uint32_t seq) {
    uint32_t i = 0;
    if (len >= 4) {
        for (; i < 4; i++)
            body[i] = (uint8_t)(seq >> (8 * i));
    }
    uint32_t x = seq * 2654435761u + 12345u;
    for (; i < len; i++)
        body[i] = (uint8_t)(x + i * 7u + (i >> 8));
}

int lc_body_ok(const uint8_t *body, uint32_t len, uint32_t seq) {
    uint32_t i = 0;
    if (len >= 4) {
        for (; i < 4; i++)
            if (body[i] != (uint8_t)(seq >> (8 * i)))
                return 0;
    }
    uint32_t x = seq * 2654435761u + 12345u;
    for (; i < len; i++)
        if (body[i] != (uint8_t)(x + i * 7u + (i >> 8)))
            return 0;
    return 1;
}

gs_buf_t *lc_buf(uint32_t msg_id, uint32_t body_len, uint32_t seq) {
    uint32_t len = GS_FRAME_HEADER_SIZE + body_len;
    lc_cbuf_t *c = malloc(sizeof(*c) + len);
    if (!c)
        return NULL;
    atomic_init(&c->magic, LC_BUF_LIVE);
    gs_frame_header_write(c->bytes, body_len, msg_id);
    lc_fill(c->bytes + GS_FRAME_HEADER_SIZE, body_len, seq);
    gs_buf_init(&c->buf, c->bytes, len, lc_buf_release);
    atomic_fetch_add(&g_created, 1);
    return &c->buf;
}

uint64_t lc_bufs_created(void) { return atomic_load(&g_created); }
uint64_t lc_bufs_released(void) { return atomic_load(&g_released); }
uint64_t lc_bufs_double_released(void) { return atomic_load(&g_double); }

static int all_released(void *arg) {
    (void)arg;
    return atomic_load(&g_released) == atomic_load(&g_created);
}

int lc_wait_bufs_released(uint32_t timeout_ms) {
    return th_wait_until(all_released, NULL, timeout_ms);
}

/* ---- clients -------------------------------------------------------------------------------- */

int lc_connect_nofail(uint16_t port, int rcvbuf) { return th_try_connect(port, rcvbuf); }

int lc_connect(uint16_t port, int rcvbuf) {
    int fd = lc_connect_nofail(port, rcvbuf);
    if (fd < 0)
        fail_msg("connect to 127.0.0.1:%u failed", (unsigned)port);
    return fd;
}

void lc_close_rst(int fd) { th_os_abort(fd); }

int lc_drain_to_eof(int fd, uint32_t timeout_ms, uint64_t *drained) {
    uint64_t deadline = gs_now_ms() + timeout_ms, total = 0;
    static _Thread_local uint8_t sink[65536];
    int rc = -1;
    for (;;) {
        uint64_t now = gs_now_ms();
        if (now >= deadline)
            break;
        int pr = th_os_wait_readable(fd, (uint32_t)(deadline - now));
        if (pr < 0)
            break;
        if (pr == 0)
            continue;
        long n = th_os_recv(fd, sink, sizeof(sink), 1);
        if (n > 0) {
            total += (uint64_t)n;
            continue;
        }
        if (n == 0) {
            rc = 0;
            break;
        }
        if (n == -EAGAIN)
            continue;
        rc = 1;
        break;
    }
    if (drained)
        *drained = total;
    return rc;
}

int lc_write_all(int fd, const void *data, size_t len) {
    const uint8_t *p = data;
    while (len > 0) {
        long n = th_os_send(fd, p, len);
        if (n <= 0)
            return n < 0 ? (int)n : -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- stream checker -------------------------------------------------------------------------- */

void lc_stream_init(lc_stream_t *st, uint32_t first_seq) {
    memset(st, 0, sizeof(*st));
    st->next_seq = first_seq;
    st->body = malloc(LC_STREAM_MAX_BODY);
    if (!st->body)
        st->bad = 1;
}

void lc_stream_fini(lc_stream_t *st) {
    free(st->body);
    st->body = NULL;
}

void lc_stream_feed(lc_stream_t *st, const uint8_t *data, size_t len) {
    st->bytes += len;
    while (len > 0 && !st->bad) {
        if (st->hdr_have < GS_FRAME_HEADER_SIZE) {
            size_t take = GS_FRAME_HEADER_SIZE - st->hdr_have;
            if (take > len)
                take = len;
            memcpy(st->hdr + st->hdr_have, data, take);
            st->hdr_have += (uint32_t)take;
            data += take;
            len -= take;
            if (st->hdr_have < GS_FRAME_HEADER_SIZE)
                return;
            const uint8_t *h = st->hdr;
            st->body_len =
                (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
            st->msg_id =
                (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 24;
            st->body_have = 0;
            if (st->body_len > LC_STREAM_MAX_BODY) {
                st->bad = 1;
                return;
            }
        }
        size_t take = st->body_len - st->body_have;
        if (take > len)
            take = len;
        memcpy(st->body + st->body_have, data, take);
        st->body_have += (uint32_t)take;
        data += take;
        len -= take;
        if (st->body_have == st->body_len) {
            if (!lc_body_ok(st->body, st->body_len, st->next_seq))
                st->bad = 1;
            st->next_seq++;
            st->frames++;
            st->hdr_have = 0;
        }
    }
}

int lc_read_stream(int fd, lc_stream_t *st, uint64_t want, size_t chunk, uint32_t pause_ms,
                   uint32_t timeout_ms) {
    uint64_t deadline = gs_now_ms() + timeout_ms;
    static _Thread_local uint8_t buf[65536];
    if (chunk == 0 || chunk > sizeof(buf))
        chunk = sizeof(buf);
    for (;;) {
        if (want && st->bytes >= want)
            return 2;
        uint64_t now = gs_now_ms();
        if (now >= deadline)
            return -1;
        int pr = th_os_wait_readable(fd, (uint32_t)(deadline - now));
        if (pr < 0)
            return 1;
        if (pr == 0)
            continue;
        size_t n_want = chunk;
        if (want && want - st->bytes < n_want)
            n_want = (size_t)(want - st->bytes);
        long n = th_os_recv(fd, buf, n_want, 1);
        if (n > 0) {
            lc_stream_feed(st, buf, (size_t)n);
            if (pause_ms)
                gs_sleep_ms(pause_ms);
            continue;
        }
        if (n == 0)
            return 0;
        if (n == -EAGAIN)
            continue;
        return 1;
    }
}

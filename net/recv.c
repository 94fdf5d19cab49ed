/* SPDX-License-Identifier: MIT */
/* Receiving, on the session's loop thread: framing and delivery, the frame holds, the per-session
 * receive rate limits, and receive backpressure (a session whose replies are not read stops being
 * read; what it sent meanwhile waits in a bounded backlog, fed first when the pause ends). The
 * fairness rules are in docs/net.md "Fairness". */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void recv_feed(gs__session_t *s, const uint8_t *data, size_t len);

/* ---- receive rate limits (recv_rate_bytes, recv_rate_frames) ---------------------------- */

static uint64_t rate_cap(const gs_net_config_t *c, uint32_t rate) {
    return (uint64_t)rate * c->recv_rate_burst_ms;
}

void gs__recv_init(gs__session_t *s, uint64_t now_ms) {
    const gs_net_config_t *c = &s->net->cfg;
    s->rate_bytes_tokens = rate_cap(c, c->recv_rate_bytes);
    s->rate_frames_tokens = rate_cap(c, c->recv_rate_frames);
    s->rate_ms = now_ms;
}

static uint64_t refill(uint64_t tokens, uint64_t cap, uint64_t add) {
    return cap - tokens <= add ? cap : tokens + add;
}

static void rate_refill(gs__session_t *s) {
    const gs_net_config_t *c = &s->net->cfg;
    uint64_t now = s->loop->now_ms;
    if (now <= s->rate_ms)
        return;
    uint64_t ms = now - s->rate_ms;
    s->rate_ms = now;
    s->rate_bytes_tokens =
        refill(s->rate_bytes_tokens, rate_cap(c, c->recv_rate_bytes), ms * c->recv_rate_bytes);
    s->rate_frames_tokens =
        refill(s->rate_frames_tokens, rate_cap(c, c->recv_rate_frames), ms * c->recv_rate_frames);
}

/* Take n units (bytes or frames; each costs 1000 rate-milliseconds) from a bucket; 0 when it
 * does not hold them: the session is over its rate. */
static int rate_take(uint64_t *tokens, uint64_t n) {
    if (*tokens < n * 1000u)
        return 0;
    *tokens -= n * 1000u;
    return 1;
}

/* ---- receive backpressure (recv_pause_bytes) --------------------------------------------- */

/* Stop reading a session whose send queue is over recv_pause_bytes. Checked after each frame
 * (or raw delivery) and at each tick, for replies queued by other threads. */
void gs__recv_pressure_check(gs__session_t *s) {
    uint32_t limit = s->net->cfg.recv_pause_bytes;
    if (s->recv_paused || limit == UINT32_MAX || s->state != GS__S_OPEN ||
        atomic_load_explicit(&s->queued_bytes, memory_order_relaxed) <= limit)
        return;
    s->recv_paused = 1;
    gs__ctr_add(&s->loop->st.recv_pauses, 1);
    gs__ctr_add(&s->loop->st.recv_paused, 1);
    gs__port_recv_pause(s);
}

void gs__recv_pause_end(gs__session_t *s) {
    if (!s->recv_paused)
        return;
    s->recv_paused = 0;
    gs__ctr_add(&s->loop->st.recv_paused, (uint64_t)-1);
}

/* Read the session again once its queue is below half the pause limit (half, so that a queue
 * hovering at the limit does not pause and resume at every send). Called where buffers complete,
 * in the middle of send accounting: the backlog is fed at the batch end (gs__recv_resume_all),
 * not from here. */
void gs__recv_pressure_release(gs__session_t *s) {
    if (!s->recv_paused || s->state != GS__S_OPEN ||
        atomic_load_explicit(&s->queued_bytes, memory_order_relaxed) >
            s->net->cfg.recv_pause_bytes / 2)
        return;
    gs__recv_pause_end(s);
    if (s->resume_listed)
        return;
    s->resume_listed = 1;
    gs__session_ref(s); /* the resume list's */
    s->resume_next = s->loop->resume_head;
    s->loop->resume_head = s;
}

/* Keep bytes that cannot be fed now. The kernel stops receiving for the session soon after the
 * pause (at most recv_share_bytes more, docs/net.md), so this stays small; a peer that somehow
 * sends past the hard send limit while its replies wait is cut as if its queue had passed it. */
static int backlog_add(gs__session_t *s, const uint8_t *data, size_t len) {
    const gs_net_config_t *c = &s->net->cfg;
    uint64_t bound = c->send_hard_limit != UINT32_MAX ? c->send_hard_limit : 16u << 20;
    if (bound < c->recv_share_bytes + c->recv_buffer_size)
        bound = (uint64_t)c->recv_share_bytes + c->recv_buffer_size;
    if ((uint64_t)s->backlog_len + len > bound) {
        gs__session_close(s, GS_CLOSE_SEND_QUEUE_HARD);
        return -1;
    }
    uint32_t need = s->backlog_len + (uint32_t)len;
    if (need > s->backlog_cap) {
        uint32_t cap = s->backlog_cap ? s->backlog_cap : 4096;
        while (cap < need)
            cap *= 2;
        uint8_t *p = realloc(s->backlog, cap);
        if (!p) {
            gs__session_close(s, GS_CLOSE_NOMEM);
            return -1;
        }
        s->backlog = p;
        s->backlog_cap = cap;
    }
    memcpy(s->backlog + s->backlog_len, data, len);
    s->backlog_len = need;
    return 0;
}

void gs__recv_fini(gs__session_t *s) {
    free(s->backlog);
    s->backlog = NULL;
    s->backlog_len = s->backlog_cap = 0;
}

/* Feed the backlog of a session whose pause ended; it may pause again part way. Then, with the
 * backlog empty and the session still readable, the peer's deferred end or the receive itself. */
static void resume(gs__session_t *s) {
    if (s->state != GS__S_OPEN || s->recv_paused)
        return;
    if (s->backlog_len) {
        /* Detached while fed: a new pause puts what is left into a fresh backlog. */
        uint8_t *b = s->backlog;
        uint32_t n = s->backlog_len;
        s->backlog = NULL;
        s->backlog_len = s->backlog_cap = 0;
        if (!(s->peer_eof & GS__EOF_LOCAL))
            recv_feed(s, b, n);
        free(b);
        if (s->state != GS__S_OPEN || s->recv_paused || s->backlog_len)
            return;
    }
    if (s->eof_deferred) {
        s->eof_deferred = 0;
        gs__on_recv_end(s, 0);
        return;
    }
    if (s->recv_parked) {
        s->recv_parked = 0;
        if (gs__port_recv_start(s) != 0) {
            gs__on_recv_end(s, GS_ESYS);
            gs__session_put(s); /* the receive's reference */
        }
    }
}

void gs__recv_resume_all(gs__loop_t *loop) {
    while (loop->resume_head) {
        gs__session_t *s = loop->resume_head;
        loop->resume_head = s->resume_next;
        s->resume_listed = 0;
        resume(s);
        gs__session_put(s); /* the resume list's */
    }
}

/* ---- delivering -------------------------------------------------------------------------- */

static int deliver_frame(void *ctx, uint32_t msg_id, const uint8_t *body, uint32_t len) {
    gs__session_t *s = ctx;
    gs_net_t *net = s->net;
    gs__loop_t *loop = s->loop;
    if (net->cfg.recv_rate_frames && !rate_take(&s->rate_frames_tokens, 1)) {
        gs__session_close(s, GS_CLOSE_RECV_RATE);
        return 1;
    }
    gs__ctr_add(&loop->st.frames_in, 1);
    s->frames_this_feed++;
    if (atomic_load_explicit(&net->hist_on, memory_order_relaxed))
        gs_hist_observe(&loop->h_frame_bytes, len);
    if (net->cfg.cb.on_frame) {
        loop->cur_session = s;
        loop->cur_bytes = body;
        loop->cur_len = len;
        loop->cur_msg_id = msg_id;
        net->cfg.cb.on_frame(net, s->id, atomic_load_explicit(&s->user, memory_order_relaxed),
                             msg_id, body, len, net->cfg.user);
        loop->cur_session = NULL;
    }
    /* Stop delivering once the session was closed (or set to close once flushed) from the
     * callback. */
    if (s->state != GS__S_OPEN || (s->peer_eof & GS__EOF_LOCAL))
        return 1;
    /* Its replies are not being read: what follows this frame waits (backlog). */
    gs__recv_pressure_check(s);
    return s->recv_paused ? GS_FRAMER_PAUSE : 0;
}

/* Deliver bytes in stream order (the backlog is always fed before newer bytes). */
static void recv_feed(gs__session_t *s, const uint8_t *data, size_t len) {
    gs__loop_t *loop = s->loop;
    gs_net_t *net = s->net;
    if (s->raw) {
        if (net->cfg.cb.on_data) {
            loop->cur_session = s;
            loop->cur_bytes = data;
            loop->cur_len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
            net->cfg.cb.on_data(net, s->id, atomic_load_explicit(&s->user, memory_order_relaxed),
                                data, len, net->cfg.user);
            loop->cur_session = NULL;
        }
        gs__recv_pressure_check(s);
        return;
    }
    int was_partial = gs_framer_partial(&s->framer);
    s->frames_this_feed = 0;
    size_t used = 0;
    int rc = gs_framer_feed_some(&s->framer, data, len, deliver_frame, s, &used);
    if (rc == GS_FRAMER_PAUSE) {
        if (used < len && backlog_add(s, data + used, len - used) != 0)
            return;
        rc = 0;
    }
    if (rc == GS_ETOOBIG || rc == GS_EEMPTY) {
        gs_frame_reject_t why = rc == GS_ETOOBIG ? GS_REJECT_TOO_BIG : GS_REJECT_ZERO_LEN;
        gs__ctr_add(&loop->st.frames_rejected[why], 1);
        gs_log_limited(&net->log_reject, GS_LOG_WARN, GS__LOG, "session %llx: frame rejected (%s)",
                       (unsigned long long)s->id, gs_frame_reject_name(why));
        gs__session_close(s, GS_CLOSE_PROTOCOL);
        return;
    }
    if (rc == GS_ENOMEM) {
        gs__session_close(s, GS_CLOSE_NOMEM);
        return;
    }
    if (s->state != GS__S_OPEN || (s->peer_eof & GS__EOF_LOCAL))
        return; /* closed, or a callback asked to close once flushed: frame_start_ms is that
                 * deadline */
    /* Partial-frame deadline counts from the first byte of the frame now incomplete. */
    if (!gs_framer_partial(&s->framer))
        s->frame_start_ms = 0;
    else if (!was_partial || s->frames_this_feed > 0)
        s->frame_start_ms = loop->now_ms;
}

void gs__on_recv(gs__session_t *s, const uint8_t *data, size_t len) {
    gs__loop_t *loop = s->loop;
    gs_net_t *net = s->net;
    if (s->state != GS__S_OPEN)
        return; /* closing: late bytes are dropped */
    gs__ctr_add(&loop->st.bytes_in, len);
    if (s->peer_eof & GS__EOF_LOCAL)
        return; /* closing once flushed: input no longer matters */
    s->last_recv_ms = loop->now_ms;
    if (net->cfg.recv_rate_bytes | net->cfg.recv_rate_frames) {
        rate_refill(s);
        if (net->cfg.recv_rate_bytes && !rate_take(&s->rate_bytes_tokens, len)) {
            gs__session_close(s, GS_CLOSE_RECV_RATE);
            return;
        }
    }
    if (s->recv_paused || s->backlog_len) {
        backlog_add(s, data, len); /* behind what already waits */
        return;
    }
    recv_feed(s, data, len);
}

/* ---- frame holds ------------------------------------------------------------------------- */
/* gs_net_frame_hold / gs_net_data_hold: the loop running the caller, if it is inside on_frame
 * or on_data of this net. */
static gs__loop_t *delivering_loop(gs_net_t *net) {
    gs__loop_t *loop = gs__tls_loop;
    return loop && loop->net == net && loop->cur_session ? loop : NULL;
}

static gs_buf_t *held(gs__loop_t *loop, gs_buf_t *b) {
    gs__ctr_add(b ? &loop->st.frames_held : &loop->st.frames_hold_refused, 1);
    return b;
}

gs_buf_t *gs_net_frame_hold(gs_net_t *net) {
    gs__loop_t *loop = delivering_loop(net);
    if (!loop || loop->cur_session->raw)
        return NULL;
    gs_framer_t *fr = &loop->cur_session->framer;
    /* Reassembled by the framer: that buffer already holds the header and the body. */
    gs_buf_t *b = gs_framer_span(fr);
    if (b) {
        gs_buf_ref(b);
        return held(loop, b);
    }
    if (!fr->frame_start)
        return held(loop, NULL);
    return held(loop, gs__port_lend(loop, fr->frame_start, GS_FRAME_HEADER_SIZE + loop->cur_len));
}

gs_buf_t *gs_net_data_hold(gs_net_t *net) {
    gs__loop_t *loop = delivering_loop(net);
    if (!loop || !loop->cur_session->raw)
        return NULL;
    return held(loop, gs__port_lend(loop, loop->cur_bytes, loop->cur_len));
}

/* ---- the end of receiving ----------------------------------------------------------------- */

void gs__on_recv_end(gs__session_t *s, int err) {
    if (s->state != GS__S_OPEN)
        return;
    if (err != 0) {
        gs__session_close(s, GS_CLOSE_RESET);
        return;
    }
    if (s->backlog_len) {
        s->eof_deferred = 1; /* the frames it sent before its end come first (resume) */
        return;
    }
    /* Orderly end from the peer (it may only have shut down its write side): deliver what is
     * still queued for it, then close (libuv shutdown_eof semantics). */
    s->peer_eof |= GS__EOF_PEER;
    gs__session_close_when_flushed(s);
}

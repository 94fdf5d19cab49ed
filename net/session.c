/* SPDX-License-Identifier: MIT */
/* Session core: lifetime by reference count, the send flag and gathered sends, receive and
 * framing, close and release, the loop's inbox, deadline ticks and graceful stop. Everything
 * here that touches session state runs on the session's loop thread; other threads reach a
 * session only through its id (gs_session_* in net.c), a reference and the loop's inbox. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sock.h"

_Thread_local gs__loop_t *gs__tls_loop;

static void inbox_post(gs__session_t *s, uint32_t flag);

/* ---- references and release ------------------------------------------------------------- */

void gs__session_put(gs__session_t *s) {
    if (!gs__life_put(s->life))
        return;
    /* The last reference is gone. Release always runs from the loop's inbox, never inline:
     * the dropping thread may be a foreign thread, or the loop thread in the middle of a
     * callback or a list walk (redis frees clients asynchronously for the same reason). */
    /* Read the loop first: once the session is in the inbox the loop thread may release it
     * and reuse its slot (memset in gs__session_init) before this thread touches it again. */
    gs__loop_t *loop = s->loop;
    atomic_store_explicit(&s->pending, GS__P_RELEASE, memory_order_relaxed);
    gs_mpsc_push(&loop->inbox, &s->inbox_node);
    if (gs__tls_loop != loop)
        gs__port_wake(loop);
}

/* Post work for the loop thread. The caller holds a reference; the first flag posted takes
 * one more, held while the session sits in the inbox. */
static void inbox_post(gs__session_t *s, uint32_t flag) {
    uint32_t prev = atomic_fetch_or_explicit(&s->pending, flag, memory_order_acq_rel);
    if (prev != 0)
        return; /* already queued; the loop reads every flag when it pops the session */
    gs__session_ref(s);
    gs_mpsc_push(&s->loop->inbox, &s->inbox_node);
    gs__port_wake(s->loop);
}

/* Loop thread: n buffers that were charged `charged` to the session's queue are done with. */
static void release_bufs(gs__session_t *s, gs_buf_t **bufs, uint32_t n, uint64_t charged) {
    for (uint32_t i = 0; i < n; i++)
        gs_buf_unref(bufs[i]);
    atomic_fetch_sub_explicit(&s->queued_bytes, charged, memory_order_relaxed);
    gs__ctr_add(&s->loop->q.bufs_out, n);
    gs__ctr_add(&s->loop->q.bytes_out, charged);
    gs__recv_pressure_release(s);
}

void gs__session_release(gs__session_t *s) {
    gs__loop_t *loop = s->loop;
    gs_net_t *net = s->net;

    if (s->state != 0) {
        gs_list_remove(&s->link);
        loop->nsessions--;
    }
    gs_list_remove(&s->rearm_link);

    /* No reference is left, so no producer is inside gs_session_send for this session (they
     * push while holding one): the queue is quiescent and pop cannot miss a half-done push. */
    uint32_t dropped = 0;
    gs_mpsc_node_t *n;
    while ((n = gs_mpsc_pop(&s->sendq)) != NULL) {
        gs__send_node_t *node = gs_container_of(n, gs__send_node_t, link);
        gs_buf_t *buf = node->buf;
        uint64_t charged = gs__send_node_charge(node);
        gs__send_node_free(node); /* before the unref: an embedded link lives in the buffer */
        release_bufs(s, &buf, 1, charged);
        dropped++;
    }
    if (atomic_load_explicit(&net->stopping, memory_order_relaxed))
        atomic_fetch_add_explicit(&net->unsent, dropped, memory_order_relaxed);

    gs_framer_fini(&s->framer);
    gs__recv_fini(s);
    gs__port_session_release(s); /* closes the socket, frees backend data */

    gs_close_reason_t reason =
        (gs_close_reason_t)atomic_load_explicit(&s->close_reason, memory_order_relaxed);
    if (reason <= GS_CLOSE_NONE || reason >= GS_CLOSE__COUNT)
        reason = GS_CLOSE_LOCAL;
    gs__ctr_add(&loop->st.disconnects[reason], 1);
    gs__ctr_add(&loop->st.sessions_closed, 1);

    uint64_t id = s->id;
    void *user = atomic_load_explicit(&s->user, memory_order_relaxed);
    s->state = 0;
    if (s->addr_slot != GS__ADDR_SLOT_NONE)
        gs__addr_limit_release(&net->addr_limit, s->addr_slot, loop->now_ms);
    /* The count is 0, so the id is already stale for every caller; the slot goes back to the
     * free stack only after on_close, so a user indexing state by slot never sees the next
     * occupant's on_open before this on_close. */
    if (net->cfg.cb.on_close)
        net->cfg.cb.on_close(net, id, user, reason, net->cfg.user);
    gs__table_free(&net->table, s->slot);
}

/* ---- close ------------------------------------------------------------------------------- */

/* Reasons that say the peer misbehaved: closing for one puts its address a burst in debt. */
static int is_abuse(uint32_t reason) {
    switch (reason) {
    case GS_CLOSE_PROTOCOL:
    case GS_CLOSE_RECV_RATE:
    case GS_CLOSE_FRAME_TIMEOUT:
    case GS_CLOSE_SEND_QUEUE_HARD:
    case GS_CLOSE_SEND_QUEUE_SOFT:
    case GS_CLOSE_ABUSE:
        return 1;
    default:
        return 0;
    }
}

void gs__session_close(gs__session_t *s, gs_close_reason_t reason) {
    uint32_t expected = 0;
    atomic_compare_exchange_strong_explicit(&s->close_reason, &expected, (uint32_t)reason,
                                            memory_order_acq_rel, memory_order_acquire);
    if (s->state == GS__S_CLOSED || s->state == 0)
        return;
    if (s->addr_slot != GS__ADDR_SLOT_NONE &&
        is_abuse(atomic_load_explicit(&s->close_reason, memory_order_acquire)))
        gs__addr_limit_penalize(&s->net->addr_limit, s->addr_slot, s->loop->now_ms);
    if (reason == GS_CLOSE_PROTOCOL || reason == GS_CLOSE_SEND_QUEUE_HARD ||
        reason == GS_CLOSE_SEND_QUEUE_SOFT || reason == GS_CLOSE_FRAME_TIMEOUT ||
        reason == GS_CLOSE_IDLE_TIMEOUT || reason == GS_CLOSE_NOMEM || reason == GS_CLOSE_RECV_RATE)
        gs_log_limited(&s->net->log_close, GS_LOG_INFO, GS__LOG, "session %llx closed: %s",
                       (unsigned long long)s->id, gs_close_reason_name(reason));
    s->state = GS__S_CLOSED;
    /* Cancel pending IO; their completions drop their references and the last one releases. */
    gs__port_cancel(s);
    gs__recv_pause_end(s);
    if (s->recv_parked) {
        s->recv_parked = 0;
        gs__session_put(s); /* the parked receive's reference: no operation to cancel */
    }
    gs__session_put(s); /* the session's own "open" reference */
}

/* ---- sending ----------------------------------------------------------------------------- */

gs__send_req_t *gs__req_get(gs__loop_t *loop) {
    gs__send_req_t *r = loop->free_reqs;
    if (r) {
        loop->free_reqs = r->next_free;
    } else {
        uint32_t g = loop->net->cfg.gather_max;
        r = malloc(sizeof(*r) + g * (sizeof(gs_buf_t *) + sizeof(gs__iov_t)));
        if (!r)
            return NULL;
        r->iov = (gs__iov_t *)(r + 1);
        r->bufs = (gs_buf_t **)(r->iov + g);
    }
    r->next_free = NULL;
    return r;
}

void gs__req_put(gs__loop_t *loop, gs__send_req_t *r) {
    r->next_free = loop->free_reqs;
    loop->free_reqs = r;
}

void gs__loop_free_reqs(gs__loop_t *loop) {
    while (loop->free_reqs) {
        gs__send_req_t *r = loop->free_reqs;
        loop->free_reqs = r->next_free;
        free(r);
    }
}

/* Loop thread: append to the flush list (the list holds a reference per session). The first
 * session in an empty list sets when the list goes out: now, or send_delay_ms from now. */
static void flush_list_append(gs__loop_t *loop, gs__session_t *s) {
    s->flush_next = NULL;
    if (loop->flush_tail) {
        loop->flush_tail->flush_next = s;
    } else {
        loop->flush_head = s;
        loop->flush_at_ms = loop->now_ms + loop->net->cfg.send_delay_ms;
    }
    loop->flush_tail = s;
}

/* Loop thread, caller owns the send flag: put the session on the flush list. */
static void flush_add(gs__session_t *s) {
    gs__session_ref(s);
    flush_list_append(s->loop, s);
}

/* Whether the flush list waits for its send_delay_ms (and the inbox with it, see drain_inbox). */
static int flush_waiting(gs__loop_t *loop) {
    return loop->flush_head && !loop->stopping && loop->now_ms < loop->flush_at_ms;
}

/* Called by gs_session_send after queueing, on any thread: whoever flips the flag from 0 to 1
 * owns the single outstanding send and must get it posted. */
void gs__session_kick(gs__session_t *s) {
    if (atomic_exchange_explicit(&s->send_flag, 1, memory_order_seq_cst) != 0)
        return;
    if (gs__tls_loop == s->loop)
        flush_add(s);
    else
        inbox_post(s, GS__P_KICK);
}

static void maybe_close_after_flush(gs__session_t *s) {
    if (s->state == GS__S_OPEN && s->peer_eof)
        gs__session_close(s, s->peer_eof & GS__EOF_LOCAL ? GS_CLOSE_LOCAL : GS_CLOSE_PEER_CLOSE);
}

/* Loop thread: close once everything queued is out; if nothing is, now. */
void gs__session_close_when_flushed(gs__session_t *s) {
    if (atomic_load_explicit(&s->send_flag, memory_order_acquire) == 0 && gs_mpsc_empty(&s->sendq))
        gs__session_close(s, s->peer_eof & GS__EOF_LOCAL ? GS_CLOSE_LOCAL : GS_CLOSE_PEER_CLOSE);
    else if (atomic_exchange_explicit(&s->send_flag, 1, memory_order_seq_cst) == 0)
        flush_add(s); /* queue non-empty but nobody owns the flag: flush, then close */
}

/* Loop thread, caller owns the flag and has nothing in flight: give the flag up. Pairs with the
 * producer's push-then-exchange: either it sees our 0 and kicks, or we see its element after the
 * fence. Returns 1 when the flag was given up (and a close waiting for the flush may have run), 0
 * when an element showed up and the caller owns the flag again and must flush. */
static int send_flag_release(gs__session_t *s) {
    atomic_store_explicit(&s->send_flag, 0, memory_order_seq_cst);
    atomic_thread_fence(memory_order_seq_cst);
    if (gs_mpsc_empty(&s->sendq)) {
        maybe_close_after_flush(s);
        return 1;
    }
    /* Someone pushed meanwhile: whoever wins the flag back sends it. */
    return atomic_exchange_explicit(&s->send_flag, 1, memory_order_seq_cst) == 0 ? 0 : 1;
}

/* Loop thread, caller owns the flag. Gather up to gather_max queued buffers into one send. */
static void start_send(gs__session_t *s) {
    gs__loop_t *loop = s->loop;
    if (s->state == GS__S_CONNECTING) {
        s->send_parked = 1; /* keep the flag; the connect completion resumes */
        return;
    }
    if (s->state != GS__S_OPEN)
        return; /* keep the flag forever: release drops what is queued */

    gs__send_req_t *req = gs__req_get(loop);
    if (!req) {
        gs__session_close(s, GS_CLOSE_NOMEM);
        return;
    }
    uint32_t n = 0, max = loop->net->cfg.gather_max;
    uint64_t bytes = 0, charged = 0;
    gs_mpsc_node_t *mn;
    while (n < max && (mn = gs_mpsc_pop(&s->sendq)) != NULL) {
        gs__send_node_t *node = gs_container_of(mn, gs__send_node_t, link);
        gs_buf_t *b = node->buf;
        charged += gs__send_node_charge(node);
        gs__send_node_free(node);
        req->bufs[n] = b;
        req->iov[n].base = (void *)(uintptr_t)b->data;
        req->iov[n].len = b->len;
        bytes += b->len;
        n++;
    }
    if (n == 0) {
        gs__req_put(loop, req);
        if (!send_flag_release(s)) {
            /* Non-empty but nothing popped: a push still half done. Retry next pass. */
            gs__session_ref(s);
            s->flush_next = loop->deferred;
            loop->deferred = s;
        }
        return;
    }
    if (atomic_load_explicit(&loop->net->hist_on, memory_order_relaxed))
        gs_hist_observe(&loop->h_flush_bufs, n);
    req->session = s;
    req->nbufs = n;
    req->iov_first = 0;
    req->bytes = bytes;
    req->charged = charged;
    req->sent = 0;
    gs__ctr_add(&loop->st.sends, 1);
    if (n > 1)
        gs__ctr_add(&loop->st.gathers, 1);
    gs__session_ref(s); /* the operation's reference */
    int rc = gs__port_send(s, req);
    if (rc != 0) {
        release_bufs(s, req->bufs, n, charged);
        gs__req_put(loop, req);
        gs__session_close(s, rc == GS_ENOMEM ? GS_CLOSE_NOMEM : GS_CLOSE_RESET);
        gs__session_put(s);
    }
}

/* A send ended without all its bytes: buffers before iov_first went out whole in earlier
 * short sends (count them as sent); the rest never left (unsent, if stopping). */
static void send_failed_accounting(gs__session_t *s, gs__send_req_t *req) {
    gs_net_t *net = s->net;
    gs__ctr_add(&s->loop->st.frames_out, req->iov_first);
    if (atomic_load_explicit(&net->stopping, memory_order_relaxed))
        atomic_fetch_add_explicit(&net->unsent, req->nbufs - req->iov_first, memory_order_relaxed);
}

void gs__on_send_done(gs__session_t *s, gs__send_req_t *req, long result) {
    gs__loop_t *loop = s->loop;
    if (result < 0) {
        send_failed_accounting(s, req);
        release_bufs(s, req->bufs, req->nbufs, req->charged);
        gs__req_put(loop, req);
        gs__session_close(s, GS_CLOSE_RESET);
        return;
    }
    gs__ctr_add(&loop->st.bytes_out, (uint64_t)result);
    req->sent += (uint64_t)result;
    if (req->sent < req->bytes) {
        /* Short send: skip what went out and post the rest from the same request. */
        gs__ctr_add(&loop->st.short_sends, 1);
        uint64_t skip = (uint64_t)result;
        while (skip > 0) {
            gs__iov_t *v = &req->iov[req->iov_first];
            if (skip >= v->len) {
                skip -= v->len;
                req->iov_first++;
            } else {
                v->base = (char *)v->base + skip;
                v->len -= skip;
                skip = 0;
            }
        }
        if (s->state == GS__S_OPEN) {
            gs__session_ref(s);
            if (gs__port_send(s, req) == 0)
                return;
            gs__session_put(s);
        }
        /* Closed meanwhile, or the repost failed: the rest is dropped. */
        send_failed_accounting(s, req);
        release_bufs(s, req->bufs, req->nbufs, req->charged);
        gs__req_put(loop, req);
        gs__session_close(s, GS_CLOSE_RESET);
        return;
    }
    gs__ctr_add(&loop->st.frames_out, req->nbufs);
    release_bufs(s, req->bufs, req->nbufs, req->charged);
    gs__req_put(loop, req);
    /* Still own the flag: send what queued up meanwhile, at the end of this batch; or, when
     * nothing did (one message in flight, as a player's), give the flag up here rather than
     * through a flush pass that would find the queue empty. */
    if (!gs_mpsc_empty(&s->sendq) || !send_flag_release(s))
        flush_add(s);
}

static void flush_all(gs__loop_t *loop) {
    while (loop->flush_head) {
        gs__session_t *s = loop->flush_head;
        loop->flush_head = s->flush_next;
        if (!loop->flush_head)
            loop->flush_tail = NULL;
        start_send(s);
        gs__session_put(s);
    }
    /* Sessions whose queue was caught half-pushed go first in the next pass. */
    while (loop->deferred) {
        gs__session_t *s = loop->deferred;
        loop->deferred = s->flush_next;
        flush_list_append(loop, s);
    }
}

static void flush_if_due(gs__loop_t *loop) {
    if (loop->flush_head && !flush_waiting(loop))
        flush_all(loop);
}

void gs__loop_flush_now(gs__loop_t *loop) { flush_if_due(loop); }

/* Loop thread: gs_session_close_flushed. Input stops counting from now (frames that arrive are
 * dropped); the close comes when the queue is out, or at the deadline if the peer does not read.
 * The deadline lives in frame_start_ms, which no longer serves once input is dropped. */
static void close_flushed(gs__session_t *s) {
    /* Still connecting: session_opened comes back here once it is open (flush_closing is set),
     * so what was queued before the call goes out first; a failed connect just closes. */
    if (s->state != GS__S_OPEN || (s->peer_eof & GS__EOF_LOCAL))
        return;
    s->peer_eof |= GS__EOF_LOCAL;
    s->frame_start_ms = s->loop->now_ms + GS__CLOSE_FLUSH_MS;
    gs__session_close_when_flushed(s);
}

void gs__session_request_close_flushed(gs__session_t *s) {
    /* From now on sends are refused (GS_ECLOSING): what the caller queued before this call is
     * the last of it. */
    atomic_store_explicit(&s->flush_closing, 1, memory_order_release);
    if (gs__tls_loop == s->loop)
        close_flushed(s);
    else
        inbox_post(s, GS__P_CLOSE_FLUSHED);
}

/* ---- opening ----------------------------------------------------------------------------- */

void gs__session_init(gs__session_t *s, gs__loop_t *loop, uint64_t id, intptr_t fd, int raw,
                      void *user) {
    gs_net_t *net = loop->net;
    uint32_t slot = (uint32_t)id;
    memset(s, 0, sizeof(*s));
    s->life = &net->table.life[slot];
    s->net = net;
    s->loop = loop;
    atomic_init(&s->user, user);
    atomic_init(&s->pending, 0);
    atomic_init(&s->send_flag, 0);
    atomic_init(&s->close_reason, 0);
    atomic_init(&s->flush_closing, 0);
    atomic_init(&s->queued_bytes, 0);
    s->slot = slot;
    s->addr_slot = GS__ADDR_SLOT_NONE;
    s->fd = fd;
    s->raw = (uint8_t)(raw != 0);
    s->id = id;
    gs_mpsc_init(&s->sendq);
    gs_list_init(&s->link);
    gs_list_init(&s->rearm_link);
    /* loop->now_ms belongs to the loop thread; gs_net_connect runs on any thread. */
    s->last_recv_ms = gs__tls_loop == loop ? loop->now_ms : gs_now_ms();
    gs__recv_init(s, s->last_recv_ms);
    gs_framer_init(&s->framer, net->cfg.max_frame, net->cfg.reject_empty_frames);
}

/* Loop thread: the session is connected (accepted or connect completed). */
static void session_opened(gs__session_t *s) {
    gs_net_t *net = s->net;
    s->state = GS__S_OPEN;
    s->last_recv_ms = s->loop->now_ms;
    gs__recv_init(s, s->last_recv_ms);
    gs__session_ref(s); /* hold it across the callback */
    if (net->cfg.cb.on_open)
        net->cfg.cb.on_open(net, s->id, atomic_load_explicit(&s->user, memory_order_relaxed),
                            net->cfg.user);
    if (s->state == GS__S_OPEN) {
        gs__session_ref(s); /* the receive's reference */
        int rc = gs__port_recv_start(s);
        if (rc != 0) {
            gs__session_put(s);
            gs__session_close(s, rc == GS_ENOMEM ? GS_CLOSE_NOMEM : GS_CLOSE_RESET);
        }
        if (s->send_parked && s->state == GS__S_OPEN) {
            s->send_parked = 0;
            flush_add(s);
        }
        /* gs_session_close_flushed while it was connecting (or from on_open): now it can. */
        if (atomic_load_explicit(&s->flush_closing, memory_order_acquire))
            close_flushed(s);
    }
    gs__session_put(s);
}

/* Per-address accept limits (gs_net_config_t.addr_*): 1 if the peer of fd may open a session
 * (*slot: what it holds, to give back at release), 0 if it is over a limit (counted, logged at a
 * bounded rate). A peer whose address cannot be read is let in untracked: it is gone already,
 * and its receive will say so. */
static int addr_admit(gs__loop_t *loop, intptr_t fd, uint32_t *slot) {
    gs_net_t *net = loop->net;
    uint8_t raw[16];
    int family = gs__sock_peer(fd, raw);
    if (family == 0)
        return 1;
    gs__addr_key_t key;
    gs__addr_key_make(&key, family, raw);
    if (key.loopback && !net->cfg.addr_limit_loopback)
        return 1;
    gs__addr_verdict_t v = gs__addr_limit_acquire(&net->addr_limit, &key, loop->now_ms, slot);
    if (v == GS__ADDR_OK) {
        if (*slot == GS__ADDR_SLOT_NONE)
            gs__ctr_add(&loop->st.accept_addr_untracked, 1);
        return 1;
    }
    gs__ctr_add(
        v == GS__ADDR_TOO_MANY ? &loop->st.accept_addr_sessions : &loop->st.accept_addr_rate, 1);
    gs_log_limited(&net->log_reject, GS_LOG_INFO, GS__LOG,
                   "accept refused: an address %s (per-address limits, docs/net.md)",
                   v == GS__ADDR_TOO_MANY ? "holds addr_max_sessions already"
                                          : "connects faster than addr_accept_rate");
    return 0;
}

void gs__on_accept(gs__loop_t *loop, gs__listener_t *l, intptr_t fd) {
    gs_net_t *net = loop->net;
    if (loop->stopping) {
        gs__port_close_fd(loop, fd);
        return;
    }
    uint32_t addr_slot = GS__ADDR_SLOT_NONE;
    if (net->addr_limit_on && !addr_admit(loop, fd, &addr_slot)) {
        gs__port_close_fd(loop, fd);
        return;
    }
    uint64_t id = gs__table_alloc(&net->table);
    if (id == 0) {
        if (addr_slot != GS__ADDR_SLOT_NONE)
            gs__addr_limit_release(&net->addr_limit, addr_slot, loop->now_ms);
        gs__ctr_add(&loop->st.accept_refused, 1);
        if (gs__ctr_get(&loop->st.accept_refused) % 1000 == 1)
            gs_log(GS_LOG_WARN, GS__LOG, "session table full (%u): refusing connections",
                   net->cfg.max_sessions);
        gs__port_close_fd(loop, fd);
        return;
    }
    gs__session_t *s = &net->sessions[(uint32_t)id];
    gs__session_init(s, loop, id, fd, l->raw, NULL);
    s->addr_slot = addr_slot;
    gs_list_insert_tail(&loop->sessions, &s->link);
    loop->nsessions++;
    gs__ctr_add(&loop->st.accepts, 1);
    gs__ctr_add(&loop->st.sessions_total, 1);
    session_opened(s);
}

void gs__on_connect_done(gs__session_t *s, int err) {
    if (s->state != GS__S_CONNECTING) {
        return; /* closed while connecting: close already counted the reason */
    }
    if (err != 0) {
        gs__session_close(s, GS_CLOSE_CONNECT_FAILED);
        return;
    }
    gs__ctr_add(&s->loop->st.connects, 1);
    gs__ctr_add(&s->loop->st.sessions_total, 1);
    session_opened(s);
}

/* Any thread: hand a freshly initialised outgoing session to its loop. */
void gs__session_post_connect(gs__session_t *s) { inbox_post(s, GS__P_CONNECT); }

/* Any thread holding a reference: ask the loop to close the session. */
void gs__session_request_close(gs__session_t *s, gs_close_reason_t reason) {
    uint32_t expected = 0;
    atomic_compare_exchange_strong_explicit(&s->close_reason, &expected, (uint32_t)reason,
                                            memory_order_acq_rel, memory_order_acquire);
    if (gs__tls_loop == s->loop)
        gs__session_close(s, reason);
    else
        inbox_post(s, GS__P_CLOSE);
}

/* ---- the loop's batch end: inbox, flushes, ticks, stop ---------------------------------- */

static void drain_inbox(gs__loop_t *loop) {
    /* Clear before draining: a producer that pushes after this point wakes us again. Not while
     * the flush list waits out its send delay: the loop wakes at the flush time anyway and drains
     * then, so producers kicking more sessions meanwhile need not write the eventfd (one wake-up
     * per delay instead of one per batch of kicks). A close or release posted meanwhile waits at
     * most the delay. */
    if (!flush_waiting(loop))
        atomic_store_explicit(&loop->wake_pending, 0, memory_order_seq_cst);
    gs_mpsc_node_t *n;
    while ((n = gs_mpsc_pop(&loop->inbox)) != NULL) {
        gs__session_t *s = gs_container_of(n, gs__session_t, inbox_node);
        uint32_t f = atomic_exchange_explicit(&s->pending, 0, memory_order_acq_rel);
        if (f & GS__P_RELEASE) {
            gs__session_release(s);
            continue;
        }
        if (f & GS__P_CONNECT) {
            s->state = GS__S_CONNECTING;
            gs_list_insert_tail(&loop->sessions, &s->link);
            loop->nsessions++;
            int rc = GS_ESTATE;
            if (!loop->stopping) {
                gs__session_ref(s); /* the connect's reference */
                rc = gs__port_connect(s);
                if (rc != 0)
                    gs__session_put(s);
            }
            if (rc != 0)
                gs__session_close(s, GS_CLOSE_CONNECT_FAILED);
        }
        if (f & GS__P_CLOSE) {
            gs_close_reason_t r =
                (gs_close_reason_t)atomic_load_explicit(&s->close_reason, memory_order_acquire);
            gs__session_close(s, r ? r : GS_CLOSE_LOCAL);
        }
        if (f & GS__P_KICK)
            flush_add(s);
        if (f & GS__P_CLOSE_FLUSHED)
            close_flushed(s);
        gs__session_put(s); /* the inbox's reference */
    }
}

static void tick(gs__loop_t *loop) {
    const gs_net_config_t *cfg = &loop->net->cfg;
    uint64_t now = loop->now_ms;
    int shutting = loop->stopping;
    int force = shutting && (loop->closing_all || now >= loop->flush_deadline_ms);
    if (force)
        loop->closing_all = 1;
    for (gs_list_t *it = loop->sessions.next; it != &loop->sessions;) {
        gs__session_t *s = gs_container_of(it, gs__session_t, link);
        it = it->next; /* close never releases inline, so the next link stays valid */
        if (shutting && s->state == GS__S_CONNECTING) {
            gs__session_close(s, GS_CLOSE_SHUTDOWN);
            continue;
        }
        if (s->state != GS__S_OPEN)
            continue;
        gs__recv_pressure_check(s); /* replies queued by other threads since the last receive */
        uint64_t q = atomic_load_explicit(&s->queued_bytes, memory_order_relaxed);
        if (shutting) {
            if (force || (q == 0 && atomic_load_explicit(&s->send_flag, memory_order_acquire) == 0))
                gs__session_close(s, GS_CLOSE_SHUTDOWN);
            continue;
        }
        if (s->peer_eof & GS__EOF_LOCAL) {
            if (now >= s->frame_start_ms) /* the peer did not take its last bytes in time */
                gs__session_close(s, GS_CLOSE_LOCAL);
        } else if (cfg->idle_timeout_ms && now - s->last_recv_ms >= cfg->idle_timeout_ms) {
            gs__session_close(s, GS_CLOSE_IDLE_TIMEOUT);
        } else if (s->frame_start_ms && cfg->frame_timeout_ms != UINT32_MAX &&
                   now - s->frame_start_ms >= cfg->frame_timeout_ms) {
            gs__session_close(s, GS_CLOSE_FRAME_TIMEOUT);
        } else if (cfg->send_soft_limit != UINT32_MAX && q > cfg->send_soft_limit) {
            if (!s->soft_since_ms)
                s->soft_since_ms = now;
            else if (now - s->soft_since_ms >= cfg->send_soft_grace_ms)
                gs__session_close(s, GS_CLOSE_SEND_QUEUE_SOFT);
        } else {
            s->soft_since_ms = 0;
        }
    }
}

void gs__loop_after_batch(gs__loop_t *loop) {
    gs_net_t *net = loop->net;
    loop->now_ms = gs_now_ms();
    drain_inbox(loop);
    gs__recv_resume_all(loop); /* before the flush: what it feeds may reply at once */
    if (net->cfg.cb.on_pass)
        loop->pass_again = net->cfg.cb.on_pass(net, loop->index, net->cfg.user) != 0;
    if (!loop->stopping && atomic_load_explicit(&net->stopping, memory_order_acquire)) {
        loop->stopping = 1;
        loop->flush_deadline_ms = loop->now_ms + net->flush_ms;
        for (gs__listener_t *l = net->listeners; l; l = l->next)
            gs__port_accept_stop(loop, l);
        loop->next_tick_ms = 0; /* check sessions now */
    }
    flush_if_due(loop);
    if (loop->now_ms >= loop->next_tick_ms) {
        tick(loop);
        uint32_t period = net->cfg.tick_ms;
        loop->next_tick_ms = loop->now_ms + period;
        flush_if_due(loop); /* closes from the tick may have queued nothing, but be uniform */
    }
}

uint32_t gs__loop_next_timeout_ms(gs__loop_t *loop) {
    if (loop->pass_again)
        return 0;
    uint64_t wake_ms = loop->next_tick_ms;
    if (flush_waiting(loop)) {
        /* The inbox waits with the flush (drain_inbox left wake_pending set). */
        if (loop->flush_at_ms < wake_ms)
            wake_ms = loop->flush_at_ms;
    } else if (loop->flush_head || loop->deferred || !gs_mpsc_empty(&loop->inbox)) {
        /* The loop thread's own posts (releases, closes) do not wake it: look at the inbox. */
        return 0;
    }
    uint64_t now = gs_now_ms();
    if (now >= wake_ms)
        return 0;
    return (uint32_t)(wake_ms - now);
}

int gs__loop_done(gs__loop_t *loop) {
    /* Every loop stays up until no session is left anywhere: a connect posted to this loop's
     * inbox just before the stop must still be seen and closed here. */
    return loop->stopping && loop->nsessions == 0 && !loop->flush_head && !loop->deferred &&
           !loop->resume_head && gs__table_used(&loop->net->table) == 0 &&
           gs_mpsc_empty(&loop->inbox);
}

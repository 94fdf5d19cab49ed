/* SPDX-License-Identifier: MIT */
/* Public entry points of the net layer: lifecycle of an instance, listeners, outgoing connects,
 * the id-based session calls that any thread may make, and counters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sock.h"

static void apply_defaults(gs_net_config_t *c) {
#define DEF(field, value)                                                                          \
    if (c->field == 0)                                                                             \
    c->field = (value)
    DEF(io_threads, 1);
    DEF(max_sessions, 16384);
    DEF(max_frame, GS_FRAME_MAX_DEFAULT);
    DEF(gather_max, 64);
    DEF(send_soft_limit, 256u * 1024u);
    DEF(send_soft_grace_ms, 10000);
    DEF(send_hard_limit, 1024u * 1024u);
    DEF(frame_timeout_ms, 10000);
    DEF(tick_ms, 100);
    DEF(ring_entries, 1024);
    DEF(cq_entries, 2 * c->ring_entries);
    DEF(recv_buffers, 256);
    DEF(recv_buffer_size, 16u * 1024u);
    DEF(recv_rate_burst_ms, 2000);
    DEF(recv_share_bytes, 4 * c->recv_buffer_size);
    DEF(addr_accept_burst,
        c->addr_accept_rate > UINT32_MAX / 2 ? UINT32_MAX : 2 * c->addr_accept_rate);
#undef DEF
    if (c->recv_pause_bytes == 0) {
        /* Below the limit that cuts first, so a session that does not read is paused (costing
         * nothing) before a limit judges it, not cut while it still floods. */
        uint32_t pause = UINT32_MAX;
        if (c->send_soft_limit != UINT32_MAX)
            pause = c->send_soft_limit;
        if (c->send_hard_limit != UINT32_MAX && c->send_hard_limit / 2 < pause)
            pause = c->send_hard_limit / 2;
        c->recv_pause_bytes = pause;
    }
}

static const struct {
    const char *name;
    gs_net_backend_t kind;
} backend_names[] = {{"auto", GS_NET_BACKEND_AUTO},
                     {"io_uring", GS_NET_BACKEND_IO_URING},
                     {"epoll", GS_NET_BACKEND_EPOLL},
                     {"iocp", GS_NET_BACKEND_IOCP}};

int gs_net_backend_parse(const char *name, gs_net_backend_t *out) {
    for (size_t i = 0; name && i < sizeof backend_names / sizeof backend_names[0]; i++) {
        if (strcmp(name, backend_names[i].name) == 0) {
            *out = backend_names[i].kind;
            return 0;
        }
    }
    return GS_EINVAL;
}

/* The backend asked for: the config's, or with auto the environment's (GS_NET_BACKEND). */
static gs_net_backend_t wanted_backend(const gs_net_config_t *c) {
    if (c->backend != GS_NET_BACKEND_AUTO)
        return c->backend;
    const char *env = getenv("GS_NET_BACKEND");
    gs_net_backend_t b = GS_NET_BACKEND_AUTO;
    if (env && *env && gs_net_backend_parse(env, &b) != 0)
        gs_log(GS_LOG_WARN, GS__LOG,
               "GS_NET_BACKEND=%s: not auto, io_uring, epoll or iocp; "
               "ignored",
               env);
    return b;
}

/* Init every loop's backend state with ops; on failure nothing of it is left. */
static int init_loops(gs_net_t *net, const gs__port_ops_t *ops) {
    net->ops = ops;
    net->backend_refused[0] = '\0';
    for (uint32_t i = 0; i < net->nloops; i++) {
        int rc = ops->init(&net->loops[i]);
        if (rc) {
            for (uint32_t j = 0; j < i; j++)
                ops->fini(&net->loops[j]);
            net->ops = NULL;
            return rc;
        }
    }
    return 0;
}

/* Pick the backend (gs__port_backends: this build's, in auto's order of preference) and set up
 * every loop on it. With auto, a backend the host refuses (GS_ENOTSUP: a seccomp filter, a
 * sysctl, an old kernel) is logged once with the reason and the next one is tried. */
static int start_backend(gs_net_t *net) {
    gs_net_backend_t want = wanted_backend(&net->cfg);
    const gs_net_config_t asked = net->cfg; /* a backend may fill in what was left to it */
    int rc = GS_ENOTSUP;
    for (const gs__port_backend_t *b = gs__port_backends; b->ops; b++) {
        if (want != GS_NET_BACKEND_AUTO && want != b->kind)
            continue;
        net->cfg = asked;
        rc = init_loops(net, b->ops);
        if (rc == 0)
            break;
        if (rc != GS_ENOTSUP || want != GS_NET_BACKEND_AUTO) {
            gs_log(GS_LOG_ERROR, GS__LOG, "%s backend: %s", b->ops->name,
                   net->backend_refused[0] ? net->backend_refused : gs_strerror(rc));
            return rc;
        }
        if (b[1].ops)
            gs_log(GS_LOG_WARN, GS__LOG, "%s refused (%s): using %s", b->ops->name,
                   net->backend_refused[0] ? net->backend_refused : gs_strerror(rc),
                   b[1].ops->name);
        else
            gs_log(GS_LOG_ERROR, GS__LOG, "%s refused (%s)", b->ops->name,
                   net->backend_refused[0] ? net->backend_refused : gs_strerror(rc));
    }
    if (rc == GS_ENOTSUP && !net->ops && want != GS_NET_BACKEND_AUTO) {
        int built = 0;
        for (const gs__port_backend_t *b = gs__port_backends; b->ops; b++)
            built |= b->kind == want;
        if (!built)
            gs_log(GS_LOG_ERROR, GS__LOG, "backend %s is not in this build",
                   backend_names[want].name);
    }
    if (rc)
        return rc;
    /* A backend that carries fewer buffers per send gathers fewer, rather than splitting each
     * gather into "short" sends. */
    if (net->cfg.gather_max > net->ops->gather_limit)
        net->cfg.gather_max = net->ops->gather_limit;
    return 0;
}

int gs_net_create(gs_net_t **out, const gs_net_config_t *cfg) {
    *out = NULL;
    gs_net_t *net = calloc(1, sizeof(*net));
    if (!net)
        return GS_ENOMEM;
    net->cfg = *cfg;
    net->ring_defaulted = cfg->recv_buffers == 0 && cfg->recv_buffer_size == 0;
    apply_defaults(&net->cfg);
    const gs_net_config_t *c = &net->cfg;
    if (c->gather_max > GS__GATHER_LIMIT || c->io_threads > 256 ||
        (c->recv_buffers & (c->recv_buffers - 1)) != 0 || c->recv_buffers > 32768 ||
        c->max_sessions > (1u << 24) || c->max_frame > (1u << 30)) {
        free(net);
        return GS_EINVAL;
    }
    int rc = gs__sock_init();
    if (rc) {
        free(net);
        return rc;
    }
    rc = gs__table_init(&net->table, c->max_sessions);
    if (rc) {
        gs__sock_fini();
        free(net);
        return rc;
    }
    /* calloc: pages of slots never used are never touched, so a large table costs address
     * space, not memory. */
    net->sessions = calloc(c->max_sessions, sizeof(gs__session_t));
    if (c->addr_max_sessions || c->addr_accept_rate) {
        /* Room for every session's address, and for idle addresses whose burst is still
         * refilling; past that the oldest idle one is forgotten (addr_limit.h). */
        rc = gs__addr_limit_init(&net->addr_limit, c->max_sessions + 1024, c->addr_max_sessions,
                                 c->addr_accept_rate, c->addr_accept_burst);
        if (rc) {
            free(net->sessions);
            gs__table_fini(&net->table);
            gs__sock_fini();
            free(net);
            return rc;
        }
        net->addr_limit_on = 1;
    }
    net->nloops = c->io_threads;
    net->loops = calloc(net->nloops, sizeof(gs__loop_t));
    if (!net->sessions || !net->loops) {
        rc = GS_ENOMEM;
        goto fail;
    }
    for (uint32_t i = 0; i < net->nloops; i++) {
        gs__loop_t *loop = &net->loops[i];
        loop->net = net;
        loop->index = i;
        gs_list_init(&loop->sessions);
        gs_list_init(&loop->rearm_fifo);
        gs_mpsc_init(&loop->inbox);
        atomic_init(&loop->wake_pending, 0);
#define HIST_INIT(f, bounds, n, metric, help) gs_hist_init(&loop->h_##f, bounds, n);
        GS_NET_HIST_MAP(HIST_INIT)
#undef HIST_INIT
    }
    rc = start_backend(net);
    if (rc)
        goto fail;
    *out = net;
    return 0;
fail:
    if (net->addr_limit_on)
        gs__addr_limit_fini(&net->addr_limit);
    free(net->loops);
    free(net->sessions);
    gs__table_fini(&net->table);
    gs__sock_fini();
    free(net);
    return rc;
}

int gs_net_listen(gs_net_t *net, const gs_listen_config_t *lc) {
    if (atomic_load(&net->started))
        return GS_ESTATE;
    gs__addr_t addr;
    if (gs__addr_parse(lc->host, lc->port, &addr) != 0)
        return GS_EADDR;
    gs__listener_t *l = calloc(1, sizeof(*l));
    if (!l)
        return GS_ENOMEM;
    l->raw = lc->raw;
    l->fds = malloc(sizeof(intptr_t) * net->nloops);
    l->armed = calloc(net->nloops, 1);
    if (!l->fds || !l->armed) {
        free(l->fds);
        free(l->armed);
        free(l);
        return GS_ENOMEM;
    }
    int rc = gs__sock_listen(l, net->nloops, &addr, lc->backlog > 0 ? lc->backlog : 511);
    if (rc) {
        free(l->fds);
        free(l->armed);
        free(l);
        return rc;
    }
    l->next = net->listeners;
    net->listeners = l;
    return 0;
}

uint16_t gs_net_listen_port(gs_net_t *net) {
    gs__listener_t *l = net->listeners;
    while (l && l->next)
        l = l->next; /* the first one added is at the end of the list */
    return l ? l->port : 0;
}

static void loop_main(void *arg) {
    gs__loop_t *loop = arg;
    gs__tls_loop = loop;
    gs__loop_run(loop);
    gs__tls_loop = NULL;
}

int gs_net_start(gs_net_t *net) {
    if (atomic_exchange(&net->started, 1))
        return GS_ESTATE;
    for (uint32_t i = 0; i < net->nloops; i++) {
        char name[24];
        snprintf(name, sizeof(name), "gs-io-%u", i);
        int rc = gs_thread_start(&net->loops[i].thread, loop_main, &net->loops[i], name);
        if (rc) {
            /* Stop the ones already running. */
            atomic_store(&net->stopping, 1);
            for (uint32_t j = 0; j < i; j++) {
                gs__port_wake(&net->loops[j]);
                gs_thread_join(net->loops[j].thread);
                net->loops[j].thread = NULL;
            }
            net->stopped = 1;
            return rc;
        }
    }
    return 0;
}

/* Wake a loop even while it holds wake_pending set for a send delay (see drain_inbox), when
 * the wake-up must really be sent: a stop, gs_net_wake. */
static void wake_now(gs__loop_t *loop) {
    atomic_store_explicit(&loop->wake_pending, 0, memory_order_seq_cst);
    gs__port_wake(loop);
}

uint64_t gs_net_stop(gs_net_t *net, uint32_t flush_ms) {
    if (!atomic_load(&net->started) || net->stopped)
        return atomic_load(&net->unsent);
    net->flush_ms = flush_ms;
    atomic_store_explicit(&net->stopping, 1, memory_order_release);
    for (uint32_t i = 0; i < net->nloops; i++)
        wake_now(&net->loops[i]); /* not at the next tick */
    for (uint32_t i = 0; i < net->nloops; i++) {
        if (net->loops[i].thread) {
            gs_thread_join(net->loops[i].thread);
            net->loops[i].thread = NULL;
        }
    }
    net->stopped = 1;
    return atomic_load(&net->unsent);
}

void gs_net_destroy(gs_net_t *net) {
    if (!net)
        return;
    gs_net_stop(net, 0);
    for (uint32_t i = 0; i < net->nloops; i++) {
        gs__port_fini(&net->loops[i]);
        gs__loop_free_reqs(&net->loops[i]);
    }
    while (net->listeners) {
        gs__listener_t *l = net->listeners;
        net->listeners = l->next;
        gs__sock_listen_close(l);
        free(l->fds);
        free(l->armed);
        free(l);
    }
    free(net->loops);
    free(net->sessions);
    if (net->addr_limit_on)
        gs__addr_limit_fini(&net->addr_limit);
    gs__table_fini(&net->table);
    gs__sock_fini();
    free(net);
}

int gs_net_connect(gs_net_t *net, const gs_connect_config_t *cc, gs_session_id_t *out_id) {
    if (out_id)
        *out_id = GS_SESSION_NONE;
    if (!atomic_load(&net->started) || atomic_load(&net->stopping))
        return GS_ESTATE;
    gs__addr_t addr;
    if (gs__addr_parse(cc->host, cc->port, &addr) != 0)
        return GS_EADDR;
    uint32_t li = atomic_fetch_add(&net->next_loop, 1) % net->nloops;
    gs__loop_t *loop = &net->loops[li];
    uint64_t id = gs__table_alloc(&net->table);
    if (id == 0)
        return GS_EFULL;
    gs__session_t *s = &net->sessions[(uint32_t)id];
    intptr_t fd = gs__sock_stream(&addr);
    if (fd < 0) {
        gs__table_free(&net->table, (uint32_t)id);
        return GS_ESYS;
    }
    gs__session_init(s, loop, id, fd, cc->raw, cc->session_user);
    int rc = gs__port_connect_prepare(s, &addr);
    if (rc) {
        gs__port_session_release(s);
        gs__table_free(&net->table, (uint32_t)id);
        return rc;
    }
    if (out_id)
        *out_id = id;
    gs__session_post_connect(s);
    return 0;
}

/* ---- id-based calls: any thread ---------------------------------------------------------- */

static gs__session_t *acquire(gs_net_t *net, gs_session_id_t id) {
    int64_t slot = gs__table_acquire(&net->table, id);
    return slot < 0 ? NULL : &net->sessions[slot];
}

/* The checks of a send, in this order: the id, the session not closing, the hard limit with
 * buf's charge counted in its queue. Returns the session with a reference held, or NULL with the
 * error in *rc; buf is only read once the session is known, so a refused send never touches it. */
static gs__session_t *admit(gs_net_t *net, gs_session_id_t id, const gs_buf_t *buf, int *rc) {
    gs__session_t *s = acquire(net, id);
    if (!s) {
        *rc = GS_ESTALE;
        return NULL;
    }
    if (atomic_load_explicit(&s->close_reason, memory_order_acquire) != 0 ||
        atomic_load_explicit(&s->flush_closing, memory_order_acquire) != 0) {
        gs__session_put(s);
        *rc = GS_ECLOSING;
        return NULL;
    }
    uint64_t charge = buf->charge;
    uint64_t q = atomic_fetch_add_explicit(&s->queued_bytes, charge, memory_order_relaxed) + charge;
    if (net->cfg.send_hard_limit != UINT32_MAX && q > net->cfg.send_hard_limit) {
        atomic_fetch_sub_explicit(&s->queued_bytes, charge, memory_order_relaxed);
        gs__session_request_close(s, GS_CLOSE_SEND_QUEUE_HARD);
        gs__session_put(s);
        *rc = GS_ESENDQ;
        return NULL;
    }
    return s;
}

/* Queue node (its buffer reference and the gauges already taken) on an admitted session. */
static void enqueue(gs__session_t *s, gs__send_node_t *node) {
    gs_mpsc_push(&s->sendq, &node->link);
    gs__session_kick(s);
    gs__session_put(s);
}

/* The session's loop's queue gauges: any thread adds; its loop takes off (gs__loop_gauges_t). */
static void gauges_add(gs__session_t *s, uint64_t bufs, uint64_t bytes) {
    atomic_fetch_add_explicit(&s->loop->q.bufs_in, bufs, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->loop->q.bytes_in, bytes, memory_order_relaxed);
}

int gs_session_send(gs_net_t *net, gs_session_id_t id, gs_buf_t *buf) {
    int rc;
    gs__session_t *s = admit(net, id, buf, &rc);
    if (!s)
        return rc;
    gs__send_node_t *node;
    if (atomic_exchange_explicit(&buf->qlink_busy, 1, memory_order_acquire) == 0) {
        /* Acquire: pairs with the release in gs__send_node_free, so the previous queue's last
         * use of the link happens before this one. */
        node = &buf->qlink;
        node->kind = buf;
    } else {
        node = malloc(sizeof(*node));
        if (!node) {
            atomic_fetch_sub_explicit(&s->queued_bytes, buf->charge, memory_order_relaxed);
            gs__session_put(s);
            return GS_ENOMEM;
        }
        node->kind = NULL;
        /* The link is memory this queue holds too; it is not checked against the hard limit
         * (admit already was), only counted, and given back with the buffer. */
        atomic_fetch_add_explicit(&s->queued_bytes, sizeof(*node), memory_order_relaxed);
    }
    node->buf = buf;
    /* Reference and gauges before the push: the IO thread may send and release at once. */
    gs_buf_ref(buf);
    gauges_add(s, 1, gs__send_node_charge(node));
    enqueue(s, node);
    return 0;
}

int gs_session_send_many(gs_net_t *net, const gs_session_id_t *ids, size_t n, gs_buf_t *buf,
                         size_t *sent) {
    if (sent)
        *sent = 0;
    if (n == 0)
        return 0;
    if (n > UINT32_MAX / 2)
        return GS_EINVAL; /* the buffer's reference count is 32 bits */
    gs__node_block_t *block = malloc(sizeof(*block) + n * sizeof(gs__send_node_t));
    if (!block)
        return GS_ENOMEM;
    /* Every reference up front, as in gs_session_send; what a target refused is given back at
     * the end, when the caller's own reference still keeps the buffer alive. */
    atomic_init(&block->left, n);
    atomic_fetch_add_explicit(&buf->refs, (uint32_t)n, memory_order_relaxed);
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        int rc;
        gs__session_t *s = admit(net, ids[i], buf, &rc);
        if (!s)
            continue;
        gs__send_node_t *node = &block->nodes[ok++];
        node->buf = buf;
        node->kind = block;
        atomic_fetch_add_explicit(&s->queued_bytes, sizeof(*node), memory_order_relaxed);
        gauges_add(s, 1, gs__send_node_charge(node));
        enqueue(s, node);
    }
    size_t unused = n - ok;
    if (unused) {
        if (atomic_fetch_sub_explicit(&buf->refs, (uint32_t)unused, memory_order_acq_rel) == unused)
            buf->release(buf); /* only if the caller broke the rule and held no reference */
        if (atomic_fetch_sub_explicit(&block->left, unused, memory_order_acq_rel) == unused)
            free(block);
    }
    if (sent)
        *sent = ok;
    return 0;
}

int gs_session_disconnect(gs_net_t *net, gs_session_id_t id) {
    gs__session_t *s = acquire(net, id);
    if (!s)
        return GS_ESTALE;
    gs__session_request_close(s, GS_CLOSE_LOCAL);
    gs__session_put(s);
    return 0;
}

int gs_session_cut(gs_net_t *net, gs_session_id_t id, int flushed) {
    gs__session_t *s = acquire(net, id);
    if (!s)
        return GS_ESTALE;
    /* First reason wins: whichever path closes it later (the flush, its deadline, this close),
     * on_close and the counters say abuse, and the close penalises the address. */
    uint32_t expected = 0;
    atomic_compare_exchange_strong_explicit(&s->close_reason, &expected, GS_CLOSE_ABUSE,
                                            memory_order_acq_rel, memory_order_acquire);
    if (flushed)
        gs__session_request_close_flushed(s);
    else
        gs__session_request_close(s, GS_CLOSE_ABUSE);
    gs__session_put(s);
    return 0;
}

int gs_session_close_flushed(gs_net_t *net, gs_session_id_t id) {
    gs__session_t *s = acquire(net, id);
    if (!s)
        return GS_ESTALE;
    gs__session_request_close_flushed(s);
    gs__session_put(s);
    return 0;
}

int gs_session_set_user(gs_net_t *net, gs_session_id_t id, void *session_user) {
    gs__session_t *s = acquire(net, id);
    if (!s)
        return GS_ESTALE;
    atomic_store_explicit(&s->user, session_user, memory_order_relaxed);
    gs__session_put(s);
    return 0;
}

int gs_session_queued_bytes(gs_net_t *net, gs_session_id_t id, uint64_t *out) {
    gs__session_t *s = acquire(net, id);
    if (!s)
        return GS_ESTALE;
    *out = atomic_load_explicit(&s->queued_bytes, memory_order_relaxed);
    gs__session_put(s);
    return 0;
}

void gs_net_wake(gs_net_t *net, uint32_t io_thread) {
    if (io_thread >= net->nloops)
        return;
    gs__loop_t *loop = &net->loops[io_thread];
    if (gs__tls_loop == loop)
        return;     /* on_pass runs at the end of this pass anyway */
    wake_now(loop); /* work that should not wait for the flush */
}

int gs_net_io_thread(gs_net_t *net) {
    gs__loop_t *loop = gs__tls_loop;
    return loop && loop->net == net ? (int)loop->index : -1;
}

/* Add loop l's LOOP and PORT counters to out; generated from GS_NET_STATS_MAP. */
static void add_loop(gs__loop_t *l, gs_net_stats_t *out) {
    gs__loop_stats_t *st = &l->st;
    gs__port_stats_t ps;
    memset(&ps, 0, sizeof(ps));
    gs__port_stats(l, &ps);
#define ADD_LOOP(f) out->f += gs__ctr_get(&st->f);
#define ADD_PORT(f) out->f += ps.f;
#define ADD_CALC(f)
#define ADD(f, src, kind, metric, help) ADD_##src(f)
#define ADD_VEC_LOOP(f, n)                                                                         \
    for (int i = 0; i < (n); i++)                                                                  \
        out->f[i] += gs__ctr_get(&st->f[i]);
#define ADD_VEC_PORT(f, n)                                                                         \
    for (int i = 0; i < (n); i++)                                                                  \
        out->f[i] += ps.f[i];
#define ADD_VEC(f, src, n, label, fn, kind, metric, help) ADD_VEC_##src(f, n)
    GS_NET_STATS_MAP(ADD)
    GS_NET_STATS_VEC_MAP(ADD_VEC)
    gs_hist_snap_t one;
#define ADD_HIST(f, bounds, n, metric, help)                                                       \
    gs_hist_read(&l->h_##f, &one);                                                                 \
    gs_hist_snap_add(&out->f, &one);
    GS_NET_HIST_MAP(ADD_HIST)
#undef ADD_HIST
#undef ADD_LOOP
#undef ADD_PORT
#undef ADD_CALC
#undef ADD
#undef ADD_VEC_LOOP
#undef ADD_VEC_PORT
#undef ADD_VEC
}

/* Buffers per send: 1 .. the largest gather (GS__GATHER_LIMIT). */
const uint64_t gs_net_hist_bounds_bufs[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
const uint32_t gs_net_hist_bounds_bufs_count =
    sizeof gs_net_hist_bounds_bufs / sizeof gs_net_hist_bounds_bufs[0];

void gs_net_set_histograms(gs_net_t *net, int on) {
    atomic_store_explicit(&net->hist_on, on != 0, memory_order_relaxed);
}

/* The CALC entries over loops [first, first + n). */
static void finish(gs_net_t *net, uint32_t first, uint32_t n, gs_net_stats_t *out) {
    /* Failed connects are closed without having been counted as opened. */
    uint64_t failed = out->disconnects[GS_CLOSE_CONNECT_FAILED];
    uint64_t closed = out->sessions_closed;
    out->sessions_open =
        out->sessions_total + failed >= closed ? out->sessions_total + failed - closed : 0;
    /* Out before in, so that a snapshot under load errs high rather than low (a buffer is added
     * before it can be taken off); clamped at 0. Exact once traffic stops. */
    uint64_t bufs_out = 0, bytes_out = 0, bufs_in = 0, bytes_in = 0;
    for (uint32_t i = first; i < first + n; i++) {
        bufs_out += gs__ctr_get(&net->loops[i].q.bufs_out);
        bytes_out += gs__ctr_get(&net->loops[i].q.bytes_out);
    }
    atomic_thread_fence(memory_order_acquire);
    for (uint32_t i = first; i < first + n; i++) {
        bufs_in += atomic_load_explicit(&net->loops[i].q.bufs_in, memory_order_relaxed);
        bytes_in += atomic_load_explicit(&net->loops[i].q.bytes_in, memory_order_relaxed);
    }
    out->bufs_queued = bufs_in >= bufs_out ? bufs_in - bufs_out : 0;
    out->bytes_queued = bytes_in >= bytes_out ? bytes_in - bytes_out : 0;
}

void gs_net_stats(gs_net_t *net, gs_net_stats_t *out) {
    memset(out, 0, sizeof(*out));
    for (uint32_t i = 0; i < net->nloops; i++)
        add_loop(&net->loops[i], out);
    finish(net, 0, net->nloops, out);
}

int gs_net_io_stats(gs_net_t *net, uint32_t io_thread, gs_net_stats_t *out) {
    memset(out, 0, sizeof(*out));
    if (io_thread >= net->nloops)
        return GS_EINVAL;
    add_loop(&net->loops[io_thread], out);
    finish(net, io_thread, 1, out);
    return 0;
}

const char *gs_net_backend_name(const gs_net_t *net) { return net->ops->name; }

const gs_net_config_t *gs_net_config(gs_net_t *net) { return &net->cfg; }

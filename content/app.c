/* SPDX-License-Identifier: MIT */
/* The app: net callbacks turn sessions and frames into jobs on session actors; the dispatcher runs
 * jobs on workers (decode, handler, arena reset); send and broadcast encode once. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define WORKERS_DEFAULT  2u
#define MAX_JOBS_DEFAULT 65536u
/* A session's own share: deep enough for a client that pipelines a burst of requests behind a
 * slow one, small enough that a few hundred slow sessions cannot hold the whole budget. */
#define MAX_SESSION_JOBS_DEFAULT 256u
#define BATCH_DEFAULT            64u
/* Session-table stripes: lookups by id take the stripe's lock to take a reference safely. */
#define STRIPES 64u

typedef struct handler {
    uint32_t id; /* 0 = empty */
    gs_msg_handler_cb cb;
    void *user;
} handler_t;

typedef enum { APP_CREATED = 0, APP_STARTED, APP_STOPPED } app_state_t;

typedef _Atomic uint64_t ctr_t;
static inline void inc(ctr_t *c) { atomic_fetch_add_explicit(c, 1, memory_order_relaxed); }
static inline uint64_t rd(ctr_t *c) { return atomic_load_explicit(c, memory_order_relaxed); }

struct gs_app {
    gs_app_config_t cfg;
    /* Per-session lines a client can cause at will go through this rate limit. */
    gs_log_limit_t log_session;
    gs_net_t *net;
    gs_pool_t *pool;
    gs_msg_registry_t *reg;
    gs__sched_t *sched;
    gs__timers_t *timers;
    app_state_t state;

    handler_t *handlers; /* open addressing by message id, filled before start */
    size_t handlers_cap;
    gs_open_cb on_open;
    gs_close_cb on_close;
    void *session_user_cb;
    gs_bad_frame_cb on_bad_frame;
    void *bad_frame_user;

    gs_tls_key_t arena_key; /* one decode arena per worker thread */

    gs_actor_t **session_actors; /* by slot, under stripe locks */
    uint32_t max_sessions;
    gs_mutex_t stripes[STRIPES];

    _Alignas(GS_CACHELINE) _Atomic uint64_t frames_pending;
    _Atomic uint32_t sessions_open; /* sessions with an actor: the fair share's divisor */
    _Alignas(GS_CACHELINE) ctr_t frames_shed, session_shed, bad_id,
        decode_failed, bad_text, unhandled, messages;
    _Alignas(GS_CACHELINE) ctr_t encodes, broadcasts, sends, send_failed;
};

gs__sched_t *gs__app_sched(gs_app_t *app) { return app->sched; }
gs__timers_t *gs__app_timers(gs_app_t *app) { return app->timers; }
gs_msg_registry_t *gs_app_registry(gs_app_t *app) { return app->reg; }
gs_pool_t *gs_app_pool(gs_app_t *app) { return app->pool; }
void *gs_app_user(gs_app_t *app) { return app->cfg.user; }
gs_net_t *gs_app_net(gs_app_t *app) { return app->net; }

void gs_ctx_set_session_user(gs_ctx_t *ctx, void *session_user) {
    ctx->session_user = session_user;
    ctx->actor->session_user = session_user;
}

/* ---- handlers ----------------------------------------------------------------------------- */

static handler_t *handler_slot(handler_t *t, size_t cap, uint32_t id) {
    for (size_t i = (size_t)(id * 2654435761u) & (cap - 1);; i = (i + 1) & (cap - 1))
        if (t[i].id == id || t[i].id == 0)
            return &t[i];
}

static const handler_t *handler_find(const gs_app_t *app, uint32_t id) {
    if (id == 0 || !app->handlers)
        return NULL;
    const handler_t *h = handler_slot(app->handlers, app->handlers_cap, id);
    return h->id ? h : NULL;
}

int gs_app_on_message(gs_app_t *app, const ProtobufCMessageDescriptor *d, gs_msg_handler_cb cb,
                      void *user) {
    if (!app || !d || !cb)
        return GS_EINVAL;
    if (app->state != APP_CREATED)
        return GS_ESTATE;
    uint32_t id = gs_msg_registry_id(app->reg, d);
    if (id == 0)
        return GS_EBADID;
    if (handler_find(app, id))
        return GS_EEXIST;
    size_t count = 0;
    for (size_t i = 0; i < app->handlers_cap; i++)
        count += app->handlers[i].id != 0;
    if ((count + 1) * 2 > app->handlers_cap) {
        size_t cap = app->handlers_cap ? app->handlers_cap * 2 : 32;
        handler_t *t = calloc(cap, sizeof(*t));
        if (!t)
            return GS_ENOMEM;
        for (size_t i = 0; i < app->handlers_cap; i++)
            if (app->handlers[i].id)
                *handler_slot(t, cap, app->handlers[i].id) = app->handlers[i];
        free(app->handlers);
        app->handlers = t;
        app->handlers_cap = cap;
    }
    *handler_slot(app->handlers, app->handlers_cap, id) = (handler_t){id, cb, user};
    return 0;
}

int gs_app_on_session(gs_app_t *app, gs_open_cb on_open, gs_close_cb on_close, void *user) {
    if (!app)
        return GS_EINVAL;
    if (app->state != APP_CREATED)
        return GS_ESTATE;
    app->on_open = on_open;
    app->on_close = on_close;
    app->session_user_cb = user;
    return 0;
}

int gs_app_on_bad_frame(gs_app_t *app, gs_bad_frame_cb cb, void *user) {
    if (!app)
        return GS_EINVAL;
    if (app->state != APP_CREATED)
        return GS_ESTATE;
    app->on_bad_frame = cb;
    app->bad_frame_user = user;
    return 0;
}

/* ---- session table ------------------------------------------------------------------------ */

static gs_mutex_t *stripe(gs_app_t *app, uint32_t slot) { return &app->stripes[slot % STRIPES]; }

gs_actor_t *gs_app_session_actor(gs_app_t *app, gs_session_id_t id) {
    uint32_t slot = gs_session_slot(id);
    if (id == GS_SESSION_NONE || slot >= app->max_sessions)
        return NULL;
    gs_mutex_t *m = stripe(app, slot);
    gs_mutex_lock(m);
    gs_actor_t *a = app->session_actors[slot];
    if (a && a->session == id)
        gs_actor_ref(a);
    else
        a = NULL;
    gs_mutex_unlock(m);
    return a;
}

/* ---- IO thread callbacks ------------------------------------------------------------------ */

static void bad_frame(gs_app_t *app, gs_session_id_t id, const char *what, uint32_t msg_id,
                      int err) {
    if (app->cfg.bad_frame == GS_BAD_FRAME_DROP) {
        gs_log(GS_LOG_DEBUG, "content", "session %llx: %s (message id 0x%08x, %s): dropped",
               (unsigned long long)id, what, msg_id, gs_err_name(err));
        return;
    }
    gs_log_limited(&app->log_session, GS_LOG_WARN, "content",
                   "session %llx: %s (message id 0x%08x, %s): disconnecting",
                   (unsigned long long)id, what, msg_id, gs_err_name(err));
    gs_session_cut(app->net, id, 0);
}

static void io_open(gs_net_t *net, gs_session_id_t id, void *su, void *user) {
    (void)su;
    gs_app_t *app = user;
    gs_actor_t *a = gs__actor_new(app->sched, app, "session");
    gs__job_t *open = gs__job_alloc(app->sched, 0);
    gs__job_t *close = gs__job_alloc(app->sched, 0);
    if (!a || !open || !close) {
        gs_log(GS_LOG_ERROR, "content", "session %llx: out of memory for its actor: disconnecting",
               (unsigned long long)id);
        gs__job_free(open);
        gs__job_free(close);
        if (a)
            gs_actor_unref(a);
        gs_session_disconnect(net, id);
        return;
    }
    a->session = id;
    a->close_job = close;
    close->kind = GS__JOB_CLOSE;
    open->kind = GS__JOB_OPEN;
    /* The table keeps the creation reference until the close. */
    uint32_t slot = gs_session_slot(id);
    gs_mutex_lock(stripe(app, slot));
    app->session_actors[slot] = a;
    gs_mutex_unlock(stripe(app, slot));
    atomic_fetch_add_explicit(&app->sessions_open, 1, memory_order_relaxed);
    gs_session_set_user(net, id, a);
    gs__actor_push(a, open);
}

/* Whether the session may queue one more frame job: its own budget first, then the app's,
 * where only a session holding its fair share is refused, so that one slow session cannot make
 * the others' frames fail. Applies the overload policy when not. IO thread. */
static int admit(gs_app_t *app, gs_actor_t *a, gs_session_id_t id) {
    uint32_t mine = atomic_load_explicit(&a->frames_pending, memory_order_relaxed);
    int own = mine >= app->cfg.max_session_jobs;
    if (!own &&
        atomic_load_explicit(&app->frames_pending, memory_order_relaxed) < app->cfg.max_jobs)
        return 1;
    if (!own) {
        uint32_t open = atomic_load_explicit(&app->sessions_open, memory_order_relaxed);
        uint32_t share = app->cfg.max_jobs / (open ? open : 1);
        if (mine < (share ? share : 1))
            return 1;
    }
    inc(&app->frames_shed);
    if (own)
        inc(&app->session_shed);
    if (app->cfg.overload == GS_OVERLOAD_DISCONNECT) {
        gs_log_limited(&app->log_session, GS_LOG_WARN, "content",
                       "session %llx: %u frame jobs pending (%s): disconnecting",
                       (unsigned long long)id, mine,
                       own ? "max_session_jobs" : "its share of max_jobs");
        gs_session_cut(app->net, id, 0);
    }
    return 0;
}

/* Queue a frame job (a frame, or a bad frame for the hook) on the session's actor. */
static void push_frame(gs_app_t *app, gs_actor_t *a, gs_session_id_t id, uint32_t kind,
                       uint32_t msg_id, uintptr_t bad_kind, const uint8_t *body, uint32_t len) {
    if (!admit(app, a, id))
        return;
    gs__job_t *job = gs__job_alloc(app->sched, len);
    if (!job) {
        inc(&app->frames_shed);
        gs_log(GS_LOG_ERROR, "content", "session %llx: no memory for a frame job: disconnecting",
               (unsigned long long)id);
        gs_session_disconnect(app->net, id);
        return;
    }
    job->kind = kind;
    job->arg = msg_id;
    job->ptr = (void *)bad_kind;
    if (len)
        memcpy(job->data, body, len);
    atomic_fetch_add_explicit(&app->frames_pending, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->frames_pending, 1, memory_order_relaxed);
    gs__actor_push(a, job);
}

static void io_frame(gs_net_t *net, gs_session_id_t id, void *su, uint32_t msg_id,
                     const uint8_t *body, uint32_t len, void *user) {
    (void)net;
    gs_app_t *app = user;
    gs_actor_t *a = su;
    if (!a)
        return; /* its actor could not be made: the session is closing */
    /* The id and the handler are checked here, on the IO thread (both tables are read-only once
     * started), so that garbage never costs a job, unless the app asked to see it. */
    gs_bad_frame_kind_t bad = 0;
    if (!gs_msg_registry_find(app->reg, msg_id)) {
        inc(&app->bad_id);
        bad = GS_BAD_FRAME_UNKNOWN_ID;
    } else if (!handler_find(app, msg_id)) {
        inc(&app->unhandled);
        bad = GS_BAD_FRAME_UNHANDLED;
    }
    if (bad && !app->on_bad_frame) {
        bad_frame(app, id, bad == GS_BAD_FRAME_UNKNOWN_ID ? "unknown message id" : "no handler",
                  msg_id, GS_EBADID);
        return;
    }
    push_frame(app, a, id, bad ? GS__JOB_BAD_FRAME : GS__JOB_FRAME, msg_id, (uintptr_t)bad, body,
               len);
}

static void io_close(gs_net_t *net, gs_session_id_t id, void *su, gs_close_reason_t reason,
                     void *user) {
    (void)net;
    (void)id;
    gs_app_t *app = user;
    gs_actor_t *a = su;
    if (!a)
        return;
    uint32_t slot = gs_session_slot(a->session);
    gs_mutex_lock(stripe(app, slot));
    if (app->session_actors[slot] == a)
        app->session_actors[slot] = NULL;
    gs_mutex_unlock(stripe(app, slot));
    atomic_fetch_sub_explicit(&app->sessions_open, 1, memory_order_relaxed);
    gs__job_t *close = a->close_job;
    a->close_job = NULL;
    close->arg = (uint32_t)reason;
    gs__actor_push(a, close);
    gs_actor_unref(a); /* the table's reference; queued jobs hold their own */
}

/* ---- dispatcher (workers) ----------------------------------------------------------------- */

static void arena_free(void *value) { gs_arena_destroy(value); }

static gs_arena_t *worker_arena(gs_app_t *app) {
    gs_arena_t *a = gs_tls_get(&app->arena_key);
    if (!a) {
        a = gs_arena_create(0);
        if (a && gs_tls_set(&app->arena_key, a) != 0) {
            gs_arena_destroy(a);
            a = NULL;
        }
    }
    return a;
}

/* The app's hook decides (it may reply first); returns after applying its policy. */
static void run_bad_frame_hook(gs_app_t *app, gs_ctx_t *ctx, const gs_bad_frame_t *bf) {
    gs_bad_frame_policy_t p = app->on_bad_frame(ctx, bf, app->bad_frame_user);
    if (p == GS_BAD_FRAME_DROP)
        return;
    gs_log_limited(&app->log_session, GS_LOG_INFO, "content",
                   "session %llx: bad frame (message id 0x%08x, %s): closing",
                   (unsigned long long)ctx->session, bf->msg_id, gs_err_name(bf->err));
    ctx->actor->cut = 1;
    gs_session_cut(app->net, ctx->session, 1);
}

static void run_frame(gs_app_t *app, gs_ctx_t *ctx, gs__job_t *job) {
    atomic_fetch_sub_explicit(&app->frames_pending, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&ctx->actor->frames_pending, 1, memory_order_relaxed);
    if (ctx->actor->cut)
        return; /* a bad frame before this one closed the session */
    uint32_t msg_id = job->arg;
    if (job->kind == GS__JOB_BAD_FRAME) {
        gs_bad_frame_t bf = {.kind = (gs_bad_frame_kind_t)(uintptr_t)job->ptr,
                             .err = GS_EBADID,
                             .msg_id = msg_id,
                             .type = gs_msg_registry_find(app->reg, msg_id),
                             .body = job->data,
                             .len = (uint32_t)job->len};
        run_bad_frame_hook(app, ctx, &bf);
        return;
    }
    gs_arena_t *arena = worker_arena(app);
    if (!arena) {
        bad_frame(app, ctx->session, "no memory for a decode arena", msg_id, GS_ENOMEM);
        return;
    }
    ProtobufCMessage *m;
    int rc = gs_msg_decode(app->reg, arena, msg_id, job->data, (uint32_t)job->len, &m);
    if (rc != 0) {
        inc(&app->decode_failed);
        if (rc == GS_EBADTEXT)
            inc(&app->bad_text);
        if (app->on_bad_frame && rc != GS_ENOMEM) {
            gs_bad_frame_t bf = {.kind = GS_BAD_FRAME_UNDECODABLE,
                                 .err = rc,
                                 .msg_id = msg_id,
                                 .type = gs_msg_registry_find(app->reg, msg_id),
                                 .body = job->data,
                                 .len = (uint32_t)job->len};
            run_bad_frame_hook(app, ctx, &bf);
        } else {
            bad_frame(app, ctx->session, "undecodable body", msg_id, rc);
        }
    } else {
        const handler_t *h = handler_find(app, msg_id); /* checked on the IO thread */
        h->cb(ctx, m, h->user);
        inc(&app->messages);
    }
    gs_arena_reset(arena);
}

static void dispatch(gs__sched_t *s, gs_actor_t *a, gs__job_t *job, void *user) {
    (void)s;
    gs_app_t *app = user;
    gs_ctx_t ctx = {app, a, a->session, a->session_user};
    switch ((gs__job_kind_t)job->kind) {
    case GS__JOB_USER:
        job->fn(&ctx, job->data, job->len);
        break;
    case GS__JOB_OPEN:
        if (app->on_open)
            app->on_open(&ctx, app->session_user_cb);
        break;
    case GS__JOB_FRAME:
    case GS__JOB_BAD_FRAME:
        run_frame(app, &ctx, job);
        break;
    case GS__JOB_CLOSE:
        if (app->on_close)
            app->on_close(&ctx, (gs_close_reason_t)job->arg, app->session_user_cb);
        ctx.session_user = NULL;
        break;
    case GS__JOB_TIMER:
        gs__timer_run(app->timers, &ctx, job);
        break;
    }
    a->session_user = ctx.session_user;
}

/* ---- run_on_io_thread: the scheduler runs inside the IO thread's loop ---------------------- */

/* Actor trips per loop pass: enough to empty the run queue in one pass under normal load,
 * bounded so that a flood of jobs cannot keep the IO thread from its completions. */
#define PASS_ACTORS 256u

static int io_pass(gs_net_t *net, uint32_t io_thread, void *user) {
    (void)net;
    (void)io_thread;
    gs_app_t *app = user;
    return gs__sched_run_inline(app->sched, PASS_ACTORS);
}

/* A post from another thread (a timer, a user thread) made the run queue non-empty. */
static void io_wake(void *user) {
    gs_app_t *app = user;
    if (app->net)
        gs_net_wake(app->net, 0);
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

int gs_app_create(gs_app_t **out, const gs_app_config_t *cfg) {
    if (!out)
        return GS_EINVAL;
    *out = NULL;
    gs_app_t *app = calloc(1, sizeof(*app));
    if (!app)
        return GS_ENOMEM;
    app->cfg = cfg ? *cfg : (gs_app_config_t){0};
    gs_app_config_t *c = &app->cfg;
    if (!c->workers)
        c->workers = WORKERS_DEFAULT;
    if (!c->max_jobs)
        c->max_jobs = MAX_JOBS_DEFAULT;
    if (!c->max_session_jobs)
        c->max_session_jobs = MAX_SESSION_JOBS_DEFAULT;
    if (c->max_session_jobs > c->max_jobs)
        c->max_session_jobs = c->max_jobs;
    if (!c->actor_batch)
        c->actor_batch = BATCH_DEFAULT;
    if (!c->max_body)
        c->max_body = c->net.max_frame ? c->net.max_frame : GS_FRAME_MAX_DEFAULT;
    if (c->run_on_io_thread) {
        if (c->net.io_threads > 1) {
            free(app);
            return GS_EINVAL;
        }
        c->workers = 1; /* the scheduler's one pseudo-worker: the IO thread */
    }
    c->net.cb =
        (gs_net_callbacks_t){.on_open = io_open, .on_frame = io_frame, .on_close = io_close};
    if (c->run_on_io_thread)
        c->net.cb.on_pass = io_pass;
    c->net.user = app;
    app->max_sessions = c->net.max_sessions ? c->net.max_sessions : 16384;
    for (unsigned i = 0; i < STRIPES; i++)
        gs_mutex_init(&app->stripes[i]);

    int rc = GS_ENOMEM;
    app->pool = gs_pool_create(&c->pool);
    app->reg = gs_msg_registry_create(c->max_body);
    app->session_actors = calloc(app->max_sessions, sizeof(gs_actor_t *));
    if (!app->pool || !app->reg || !app->session_actors)
        goto fail;
    if ((rc = gs_tls_key_create(&app->arena_key, arena_free)) != 0)
        goto fail;
    if ((rc = gs__sched_create(&app->sched, c->workers, c->actor_batch, app->pool, dispatch,
                               app)) != 0)
        goto fail_key;
    if (c->run_on_io_thread)
        gs__sched_set_inline(app->sched, io_wake, app);
    if ((rc = gs__timers_create(&app->timers, app->sched)) != 0)
        goto fail_sched;
    if ((rc = gs_net_create(&app->net, &c->net)) != 0)
        goto fail_timers;
    *out = app;
    return 0;

fail_timers:
    gs__timers_destroy(app->timers);
fail_sched:
    gs__sched_destroy(app->sched);
fail_key:
    gs_tls_key_delete(&app->arena_key);
fail:
    free(app->session_actors);
    gs_msg_registry_destroy(app->reg);
    gs_pool_destroy(app->pool);
    for (unsigned i = 0; i < STRIPES; i++)
        gs_mutex_fini(&app->stripes[i]);
    free(app);
    return rc;
}

int gs_app_listen(gs_app_t *app, const gs_listen_config_t *lc) {
    return gs_net_listen(app->net, lc);
}

uint16_t gs_app_listen_port(gs_app_t *app) { return gs_net_listen_port(app->net); }

int gs_app_start(gs_app_t *app) {
    if (!app || app->state != APP_CREATED)
        return GS_ESTATE;
    int rc = gs__sched_start(app->sched);
    if (rc != 0)
        return rc;
    if ((rc = gs__timers_start(app->timers)) != 0) {
        gs__sched_stop(app->sched);
        return rc;
    }
    if ((rc = gs_net_start(app->net)) != 0) {
        gs__timers_stop(app->timers);
        gs__sched_stop(app->sched);
        return rc;
    }
    app->state = APP_STARTED;
    return 0;
}

uint64_t gs_app_stop(gs_app_t *app, uint32_t flush_ms) {
    if (!app || app->state != APP_STARTED)
        return 0;
    /* The net first: when it returns, every on_close has run, so every close job is posted. Then
     * no new timer run is posted; then every job (close handlers included) runs. */
    uint64_t unsent = gs_net_stop(app->net, flush_ms);
    gs__timers_stop(app->timers);
    gs__sched_stop(app->sched);
    app->state = APP_STOPPED;
    return unsent;
}

void gs_app_destroy(gs_app_t *app) {
    if (!app)
        return;
    if (app->state == APP_STARTED)
        gs_app_stop(app, 0);
    gs_net_destroy(app->net);
    gs__timers_destroy(app->timers);
    gs__sched_destroy(app->sched);
    gs_tls_key_delete(&app->arena_key);
    free(app->session_actors);
    free(app->handlers);
    gs_msg_registry_destroy(app->reg);
    gs_pool_destroy(app->pool);
    for (unsigned i = 0; i < STRIPES; i++)
        gs_mutex_fini(&app->stripes[i]);
    free(app);
}

/* ---- sending ------------------------------------------------------------------------------ */

static int encode(gs_app_t *app, const ProtobufCMessage *msg, gs_packet_t **out) {
    int rc = gs_msg_encode(app->reg, app->pool, msg, out);
    if (rc == 0)
        inc(&app->encodes);
    else
        gs_log(GS_LOG_ERROR, "content", "cannot encode %s: %s",
               msg && msg->descriptor ? msg->descriptor->name : "(null)", gs_err_name(rc));
    return rc;
}

int gs_app_encode(gs_app_t *app, const ProtobufCMessage *msg, gs_packet_t **out) {
    return encode(app, msg, out);
}

int gs_app_send_packet(gs_app_t *app, gs_session_id_t to, gs_packet_t *p) {
    int rc = gs_session_send(app->net, to, &p->buf);
    inc(rc == 0 ? &app->sends : &app->send_failed);
    return rc;
}

int gs_app_send(gs_app_t *app, gs_session_id_t to, const ProtobufCMessage *msg) {
    gs_packet_t *p;
    int rc = encode(app, msg, &p);
    if (rc != 0)
        return rc;
    rc = gs_app_send_packet(app, to, p);
    gs_packet_unref(p);
    return rc;
}

int gs_app_broadcast(gs_app_t *app, const gs_session_id_t *to, size_t n,
                     const ProtobufCMessage *msg, size_t *sent) {
    if (sent)
        *sent = 0;
    gs_packet_t *p;
    int rc = encode(app, msg, &p);
    if (rc != 0)
        return rc;
    inc(&app->broadcasts);
    size_t ok = 0;
    rc = gs_session_send_many(app->net, to, n, &p->buf, &ok);
    gs_packet_unref(p);
    if (rc != 0) {
        atomic_fetch_add_explicit(&app->send_failed, n, memory_order_relaxed);
        return rc;
    }
    /* Counted once per broadcast, not per member: these lines are shared by every worker. */
    atomic_fetch_add_explicit(&app->sends, ok, memory_order_relaxed);
    atomic_fetch_add_explicit(&app->send_failed, n - ok, memory_order_relaxed);
    if (sent)
        *sent = ok;
    return 0;
}

int gs_app_disconnect(gs_app_t *app, gs_session_id_t id) {
    return gs_session_disconnect(app->net, id);
}

int gs_app_cut(gs_app_t *app, gs_session_id_t id, int flushed) {
    return gs_session_cut(app->net, id, flushed);
}

int gs_app_close_flushed(gs_app_t *app, gs_session_id_t id) {
    return gs_session_close_flushed(app->net, id);
}

/* ---- counters ----------------------------------------------------------------------------- */

void gs_app_stats(gs_app_t *app, gs_app_stats_t *out) {
    memset(out, 0, sizeof(*out));
    gs__sched_stats_t ss;
    gs__sched_stats(app->sched, &ss);
    gs__timer_stats_t ts;
    gs__timers_stats(app->timers, &ts);
#define RD_APP(f)   out->f = rd(&app->f);
#define RD_SCHED(f) out->f = ss.f;
#define RD_CALC(f)
#define RD(f, src, kind, metric, help) RD_##src(f)
    GS_APP_STATS_MAP(RD)
#undef RD_APP
#undef RD_SCHED
#undef RD_CALC
#undef RD
    out->jobs_pending = atomic_load_explicit(&app->frames_pending, memory_order_relaxed);
    out->timers = ts.alive;
    out->timer_runs = ts.runs;
    out->handler_ns = ss.handler_ns;
    out->job_wait_ns = ss.job_wait_ns;
    out->timer_lag_ns = ts.lag_ns;
    gs_net_stats(app->net, &out->net);
    gs_pool_stats(app->pool, &out->pool);
}

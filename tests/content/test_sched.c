/* SPDX-License-Identifier: MIT */
/* Tests for the scheduler and actors (content/sched.c, content/actor.c): per-actor order and
 * serial execution under concurrent posters, parallelism across actors, batch fairness, drain
 * and stop with jobs that post jobs, reference counting, pool exhaustion, a slow actor beside a
 * busy one (E09), counters and lifecycle errors. Every wait has a deadline; workers never call
 * cmocka (failures are counted and asserted by the main thread). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gs_test.h"

#include "cpu_time.h"

#include "internal.h"

/* Generous: the tsan build on a loaded two-core machine is slow; a pass takes a fraction. */
#define DEADLINE_MS 30000u
#define MAGIC       0x5ca1ab1eu

/* ---------------------------------------------------------------------------------------------
 * The app as seen by actor.c: just its scheduler (app.c is not linked in).
 * ------------------------------------------------------------------------------------------- */
struct gs_app {
    gs__sched_t *sched;
};

gs__sched_t *gs__app_sched(gs_app_t *app) { return app->sched; }

/* ---------------------------------------------------------------------------------------------
 * Helpers.
 * ------------------------------------------------------------------------------------------- */

/* Counts up to a target; the thread that reaches it wakes the waiters. The count is an atomic
 * outside the mutex, so that jobs of different actors do not synchronise through the latch
 * (which could hide a race from ThreadSanitizer). */
typedef struct latch {
    gs_mutex_t lock;
    gs_cond_t cond;
    _Atomic uint64_t count;
    uint64_t target;
} latch_t;

static void latch_init(latch_t *l, uint64_t target) {
    gs_mutex_init(&l->lock);
    gs_cond_init(&l->cond);
    atomic_init(&l->count, 0);
    l->target = target;
}

static void latch_fini(latch_t *l) {
    gs_cond_fini(&l->cond);
    gs_mutex_fini(&l->lock);
}

static uint64_t latch_add(latch_t *l) {
    uint64_t now = atomic_fetch_add(&l->count, 1) + 1;
    if (now == l->target) {
        gs_mutex_lock(&l->lock);
        gs_cond_broadcast(&l->cond);
        gs_mutex_unlock(&l->lock);
    }
    return now;
}

/* 1 when the target was reached within ms. */
static int latch_wait(latch_t *l, uint32_t ms) {
    uint64_t deadline = gs_now_ms() + ms;
    int ok;

    gs_mutex_lock(&l->lock);
    for (;;) {
        uint64_t now = gs_now_ms();
        if (atomic_load(&l->count) >= l->target || now >= deadline)
            break;
        (void)gs_cond_timedwait_ms(&l->cond, &l->lock, (uint32_t)(deadline - now));
    }
    ok = atomic_load(&l->count) >= l->target;
    gs_mutex_unlock(&l->lock);
    return ok;
}

/* Run drain or stop on a helper thread with a deadline: a stranded job makes drain wait forever,
 * and the test must fail, not hang. On timeout the helper (and the scheduler it uses) are left
 * alone on purpose: the test fails and the process exits. */
typedef struct call {
    void (*fn)(gs__sched_t *s);
    gs__sched_t *s;
    gs_thread_t *thread;
    latch_t entered; /* the helper is about to call fn */
    latch_t done;
} call_t;

static void call_main(void *arg) {
    call_t *c = arg;
    latch_add(&c->entered);
    c->fn(c->s);
    latch_add(&c->done);
}

static call_t *call_start(void (*fn)(gs__sched_t *s), gs__sched_t *s) {
    call_t *c = malloc(sizeof *c);

    assert_non_null(c);
    c->fn = fn;
    c->s = s;
    latch_init(&c->entered, 1);
    latch_init(&c->done, 1);
    assert_int_equal(gs_thread_start(&c->thread, call_main, c, "gs-test-call"), 0);
    return c;
}

/* 1 when fn returned within ms (the helper is then joined and freed). */
static int call_finish(call_t *c, uint32_t ms) {
    if (!latch_wait(&c->done, ms))
        return 0;
    gs_thread_join(c->thread);
    latch_fini(&c->entered);
    latch_fini(&c->done);
    free(c);
    return 1;
}

static int call_within(void (*fn)(gs__sched_t *s), gs__sched_t *s, uint32_t ms) {
    return call_finish(call_start(fn, s), ms);
}

#define drain_within(s) call_within(gs__sched_drain, (s), DEADLINE_MS)
#define stop_within(s)  call_within(gs__sched_stop, (s), DEADLINE_MS)

/* The dispatcher: what app.c does for USER jobs. */
static void run_job(gs__sched_t *s, gs_actor_t *a, gs__job_t *job, void *user) {
    gs_ctx_t ctx = {
        .app = a->app, .actor = a, .session = a->session, .session_user = a->session_user};
    (void)s;
    (void)user;
    job->fn(&ctx, job->data, job->len);
}

typedef struct fx {
    gs_pool_t *pool;
    gs__sched_t *s;
} fx_t;

static void fx_init(fx_t *f, uint32_t workers, uint32_t batch, const gs_pool_config_t *pc) {
    f->pool = gs_pool_create(pc);
    assert_non_null(f->pool);
    assert_int_equal(gs__sched_create(&f->s, workers, batch, f->pool, run_job, NULL), 0);
}

/* Every job freed, every actor gone, then tear down. */
static void fx_fini(fx_t *f) {
    gs__sched_stats_t st;
    gs_pool_stats_t ps;

    assert_true(stop_within(f->s));
    gs__sched_stats(f->s, &st);
    assert_int_equal(st.jobs_queued, 0);
    assert_int_equal(st.jobs_posted, st.jobs_run);
    assert_int_equal(st.actors, 0);
    gs__sched_destroy(f->s);
    gs_pool_stats(f->pool, &ps);
    assert_int_equal(ps.in_use, 0);
    gs_pool_destroy(f->pool);
}

static gs__sched_stats_t stats(gs__sched_t *s) {
    gs__sched_stats_t st;
    gs__sched_stats(s, &st);
    return st;
}

/* Per-actor state that only the actor's own jobs touch (plain fields on purpose: a second job
 * of the same actor running at the same time is a data race ThreadSanitizer reports). */
#define POSTERS 4

typedef struct test test_t;
typedef struct astate {
    test_t *t;
    uint32_t magic;
    _Atomic int running;
    uint64_t plain;
    uint32_t last_seq[POSTERS];
} astate_t;

struct test {
    _Atomic uint64_t failures; /* counted by workers, asserted by the main thread */
    latch_t done;
};

static void failure(test_t *t) { atomic_fetch_add(&t->failures, 1); }

typedef struct msg {
    uint32_t poster;
    uint32_t seq; /* from 1, per poster per actor */
} msg_t;

/* Runs on the actor: FIFO per poster, never two jobs of the actor at once, data 16-aligned. */
static void order_job(gs_ctx_t *ctx, void *data, size_t len) {
    astate_t *st = gs_actor_user(ctx->actor);
    msg_t m;

    if (atomic_exchange(&st->running, 1) != 0)
        failure(st->t);
    if (len != sizeof m || ((uintptr_t)data & 15u) != 0) {
        failure(st->t);
    } else {
        memcpy(&m, data, sizeof m);
        if (m.poster >= POSTERS || m.seq <= st->last_seq[m.poster])
            failure(st->t);
        else
            st->last_seq[m.poster] = m.seq;
    }
    /* Read, maybe give the CPU away, write: a concurrent job of this actor loses an update. */
    uint64_t v = st->plain;
    if ((v & 255u) == 0)
        gs_thread_yield();
    st->plain = v + 1;
    if (atomic_exchange(&st->running, 0) != 1)
        failure(st->t);
    latch_add(&st->t->done);
}

typedef struct poster {
    gs_actor_t **actors;
    uint32_t nactors;
    uint32_t index;
    uint32_t njobs;
    uint32_t refused; /* posts that did not return 0 */
} poster_t;

static void poster_main(void *arg) {
    poster_t *p = arg;
    uint32_t *seq = calloc(p->nactors, sizeof *seq);

    if (seq == NULL) {
        p->refused = p->njobs;
        return;
    }
    for (uint32_t i = 0; i < p->njobs; i++) {
        /* Spread each poster over every actor, in a different order per poster. */
        uint32_t k = (i * 7u + p->index * 5u) % p->nactors;
        msg_t m = {.poster = p->index, .seq = ++seq[k]};
        if (gs_actor_post(p->actors[k], order_job, &m, sizeof m) != 0)
            p->refused++;
        if ((i & 4095u) == 0)
            gs_thread_yield(); /* let actors go idle now and then: more release races */
    }
    free(seq);
}

/* POSTERS threads post njobs each over nactors actors; checks order, exclusion, exact counts. */
static void order_run(uint32_t workers, uint32_t batch, uint32_t nactors, uint32_t njobs) {
    fx_t f;
    test_t t = {0};
    astate_t *st = calloc(nactors, sizeof *st);
    gs_actor_t **actors = calloc(nactors, sizeof *actors);
    poster_t p[POSTERS];
    gs_thread_t *th[POSTERS];
    uint64_t total = (uint64_t)POSTERS * njobs, sum = 0;

    assert_non_null(st);
    assert_non_null(actors);
    fx_init(&f, workers, batch, NULL);
    latch_init(&t.done, total);
    for (uint32_t i = 0; i < nactors; i++) {
        st[i].t = &t;
        actors[i] = gs__actor_new(f.s, NULL, "order");
        assert_non_null(actors[i]);
        gs_actor_set_user(actors[i], &st[i]);
    }
    assert_int_equal(gs__sched_start(f.s), 0);
    for (uint32_t i = 0; i < POSTERS; i++) {
        p[i] = (poster_t){.actors = actors, .nactors = nactors, .index = i, .njobs = njobs};
        assert_int_equal(gs_thread_start(&th[i], poster_main, &p[i], "gs-test-post"), 0);
    }
    for (uint32_t i = 0; i < POSTERS; i++) {
        gs_thread_join(th[i]);
        assert_int_equal(p[i].refused, 0);
    }
    /* Every job ran (a stranded job fails here instead of hanging drain). */
    assert_true(latch_wait(&t.done, DEADLINE_MS));
    assert_true(drain_within(f.s));
    assert_int_equal(atomic_load(&t.failures), 0);
    for (uint32_t i = 0; i < nactors; i++)
        sum += st[i].plain;
    assert_int_equal(sum, total);
    assert_int_equal(stats(f.s).jobs_run, total);
    assert_int_equal(stats(f.s).jobs_queued, 0);
    for (uint32_t i = 0; i < nactors; i++)
        gs_actor_unref(actors[i]);
    fx_fini(&f);
    latch_fini(&t.done);
    free(actors);
    free(st);
}

/* ---------------------------------------------------------------------------------------------
 * Tests.
 * ------------------------------------------------------------------------------------------- */

/* Per poster per actor, sequence numbers arrive strictly increasing: 4 x 50 000 jobs, 16 actors,
 * 4 workers, default batch. */
static void test_fifo_per_poster(void **state) {
    (void)state;
    order_run(4, 64, 16, 50000);
}

/* Serial execution under the most handovers: batch 1, so every job sends its actor through the
 * run queue and to whichever worker is free; the running flag and the plain counter catch any
 * overlap (and tsan reports the plain counter's race). */
static void test_serial_per_actor(void **state) {
    (void)state;
    order_run(4, 1, 8, 20000);
}

/* The release race head on: each poster owns an actor and posts job k + 1 the moment it sees
 * job k start, so the post lands while the worker finishes job k, finds the queue empty and
 * hands the actor back, the window in which a missing re-check strands the job. The poster's
 * wait is bounded: a stranded job fails the test. */
#define HANDOFF_POSTERS 4
#define HANDOFF_ROUNDS  30000u

typedef struct handoff {
    gs_actor_t *a;
    _Atomic uint32_t started; /* sequence of the last job that started */
    _Atomic uint64_t failures;
} handoff_t;

static void handoff_job(gs_ctx_t *ctx, void *data, size_t len) {
    handoff_t *h = gs_actor_user(ctx->actor);
    uint32_t seq;
    (void)len;
    memcpy(&seq, data, sizeof seq);
    if (seq != atomic_load(&h->started) + 1)
        atomic_fetch_add(&h->failures, 1);
    atomic_store(&h->started, seq);
    /* Linger a varying while (up to some microseconds): the poster reacts to the store above
     * and posts, and that post then lands anywhere from inside this job to after the release,
     * sweeping across the few instructions in between instead of landing at the same point
     * every time (without the linger nearly every post came after the release). */
    for (volatile uint32_t spin = (seq * 2654435761u) >> 19; spin > 0; spin--)
        ;
}

static void handoff_poster(void *arg) {
    handoff_t *h = arg;
    uint64_t deadline = gs_now_ms() + DEADLINE_MS;

    for (uint32_t k = 1; k <= HANDOFF_ROUNDS; k++) {
        if (gs_actor_post(h->a, handoff_job, &k, sizeof k) != 0) {
            atomic_fetch_add(&h->failures, 1);
            return;
        }
        /* A bounded busy wait on purpose: sleeping would let the worker finish the release
         * long before the next post, and the point is to post inside it. */
        for (uint32_t polls = 1; atomic_load(&h->started) < k; polls++) {
            /* Spin a little first to see the start as it happens; then check the deadline and
             * yield, for machines with fewer cores than threads. */
            if ((polls & 255u) != 0)
                continue;
            if (gs_now_ms() >= deadline) {
                atomic_fetch_add(&h->failures, 1);
                return;
            }
            gs_thread_yield();
        }
    }
}

static void handoff_run(uint32_t workers, int posters) {
    fx_t f;
    handoff_t h[HANDOFF_POSTERS];
    gs_thread_t *th[HANDOFF_POSTERS];

    fx_init(&f, workers, 64, NULL);
    for (int i = 0; i < posters; i++) {
        h[i].a = gs__actor_new(f.s, NULL, "handoff");
        assert_non_null(h[i].a);
        atomic_init(&h[i].started, 0);
        atomic_init(&h[i].failures, 0);
        gs_actor_set_user(h[i].a, &h[i]);
    }
    assert_int_equal(gs__sched_start(f.s), 0);
    for (int i = 0; i < posters; i++)
        assert_int_equal(gs_thread_start(&th[i], handoff_poster, &h[i], "gs-test-post"), 0);
    for (int i = 0; i < posters; i++)
        gs_thread_join(th[i]);
    assert_true(drain_within(f.s));
    for (int i = 0; i < posters; i++) {
        assert_int_equal(atomic_load(&h[i].failures), 0);
        assert_int_equal(atomic_load(&h[i].started), HANDOFF_ROUNDS);
        gs_actor_unref(h[i].a);
    }
    fx_fini(&f);
}

/* One poster against one worker is the tightest race (each on its own core when there are two);
 * then several of each, so that actors also move between workers. */
static void test_handoff_race(void **state) {
    (void)state;
    handoff_run(1, 1);
    handoff_run(2, HANDOFF_POSTERS);
}

/* Two actors run at the same time on two workers: each job waits (bounded) for the other to
 * have started, which only happens if both are running. */
typedef struct pair {
    latch_t started;
    _Atomic int saw_other;
} pair_t;

static void pair_job(gs_ctx_t *ctx, void *data, size_t len) {
    pair_t *p = *(pair_t **)data;
    (void)ctx;
    (void)len;
    latch_add(&p->started);
    if (latch_wait(&p->started, DEADLINE_MS))
        atomic_fetch_add(&p->saw_other, 1);
}

static void test_parallel_actors(void **state) {
    fx_t f;
    pair_t p;
    pair_t *pp = &p;
    gs_actor_t *x, *y;
    (void)state;

    fx_init(&f, 2, 64, NULL);
    latch_init(&p.started, 2);
    atomic_init(&p.saw_other, 0);
    x = gs__actor_new(f.s, NULL, "x");
    y = gs__actor_new(f.s, NULL, "y");
    assert_int_equal(gs__sched_start(f.s), 0);
    assert_int_equal(gs_actor_post(x, pair_job, &pp, sizeof pp), 0);
    assert_int_equal(gs_actor_post(y, pair_job, &pp, sizeof pp), 0);
    assert_true(drain_within(f.s));
    assert_int_equal(atomic_load(&p.saw_other), 2);
    gs_actor_unref(x);
    gs_actor_unref(y);
    fx_fini(&f);
    latch_fini(&p.started);
}

/* Fairness with one worker: A re-posts itself forever, B's job still runs, and at most one of
 * A's batches after B entered the run queue (A finishes the batch it is in, or runs the one it
 * was queued for ahead of B, then goes behind B); asserted with a margin of a second batch. */
#define FAIR_BATCH 8

typedef struct fair {
    gs_actor_t *a;
    _Atomic int stop;
    _Atomic uint64_t a_runs;
    _Atomic uint64_t a_runs_at_b;
    latch_t a_warm; /* A has run a while */
    latch_t b_done;
    _Atomic uint64_t failures;
} fair_t;

static void fair_a_job(gs_ctx_t *ctx, void *data, size_t len) {
    fair_t *fr = *(fair_t **)data;
    atomic_fetch_add(&fr->a_runs, 1);
    latch_add(&fr->a_warm);
    if (!atomic_load(&fr->stop) && gs_actor_post(ctx->actor, fair_a_job, data, len) != 0)
        atomic_fetch_add(&fr->failures, 1);
}

static void fair_b_job(gs_ctx_t *ctx, void *data, size_t len) {
    fair_t *fr = *(fair_t **)data;
    (void)ctx;
    (void)len;
    atomic_store(&fr->a_runs_at_b, atomic_load(&fr->a_runs));
    latch_add(&fr->b_done);
}

static void test_batch_fairness(void **state) {
    fx_t f;
    fair_t fr = {0};
    fair_t *pf = &fr;
    gs_actor_t *b;
    uint64_t before;
    int b_ran;
    (void)state;

    fx_init(&f, 1, FAIR_BATCH, NULL);
    latch_init(&fr.a_warm, 1000);
    latch_init(&fr.b_done, 1);
    fr.a = gs__actor_new(f.s, NULL, "busy");
    b = gs__actor_new(f.s, NULL, "other");
    assert_int_equal(gs__sched_start(f.s), 0);
    assert_int_equal(gs_actor_post(fr.a, fair_a_job, &pf, sizeof pf), 0);
    assert_true(latch_wait(&fr.a_warm, DEADLINE_MS));
    assert_int_equal(gs_actor_post(b, fair_b_job, &pf, sizeof pf), 0);
    /* Read after the post returned, so after B entered the run queue: this thread may lose the
     * CPU anywhere, and A runs on meanwhile, which only makes the bound below looser. */
    before = atomic_load(&fr.a_runs);
    b_ran = latch_wait(&fr.b_done, DEADLINE_MS);
    /* Stop A before asserting, so that a failure still leaves a scheduler that can drain. */
    atomic_store(&fr.stop, 1);
    assert_true(drain_within(f.s));
    assert_true(b_ran);
    assert_true(atomic_load(&fr.a_runs_at_b) <= before + 2u * FAIR_BATCH);
    assert_int_equal(atomic_load(&fr.failures), 0);
    gs_actor_unref(fr.a);
    gs_actor_unref(b);
    fx_fini(&f);
    latch_fini(&fr.a_warm);
    latch_fini(&fr.b_done);
}

/* A job that holds its worker until the test lets it go (bounded). */
typedef struct gate {
    latch_t entered;
    latch_t go;
    _Atomic uint64_t failures;
} gate_t;

static void gate_job(gs_ctx_t *ctx, void *data, size_t len) {
    gate_t *g = *(gate_t **)data;
    (void)ctx;
    (void)len;
    latch_add(&g->entered);
    if (!latch_wait(&g->go, DEADLINE_MS))
        atomic_fetch_add(&g->failures, 1);
}

/* drain returns only after a chain of 10 000 jobs, each posted by the previous one and hopping
 * between two actors, has run to its end. */
#define CHAIN 10000u

typedef struct chain {
    gs_actor_t *ab[2];
    _Atomic uint64_t runs;
    _Atomic uint64_t failures;
} chain_t;

typedef struct link_msg {
    chain_t *c;
    uint32_t left;
} link_msg_t;

static void chain_job(gs_ctx_t *ctx, void *data, size_t len) {
    link_msg_t m;
    (void)ctx;
    (void)len;
    memcpy(&m, data, sizeof m);
    atomic_fetch_add(&m.c->runs, 1);
    if (m.left-- > 1 && gs_actor_post(m.c->ab[m.left & 1u], chain_job, &m, sizeof m) != 0)
        atomic_fetch_add(&m.c->failures, 1);
}

static void test_drain_waits_for_chain(void **state) {
    fx_t f;
    chain_t c = {0};
    link_msg_t m = {.c = &c, .left = CHAIN};
    gate_t g;
    gate_t *pg = &g;
    call_t *drain;
    (void)state;

    latch_init(&g.entered, 1);
    latch_init(&g.go, 1);
    atomic_init(&g.failures, 0);
    fx_init(&f, 2, 64, NULL);
    c.ab[0] = gs__actor_new(f.s, NULL, "ping");
    c.ab[1] = gs__actor_new(f.s, NULL, "pong");
    assert_int_equal(gs__sched_start(f.s), 0);
    /* The chain starts behind a gate on the same actor, opened only once drain is being called:
     * a drain that does not wait sees nearly the whole chain still to run. */
    assert_int_equal(gs_actor_post(c.ab[0], gate_job, &pg, sizeof pg), 0);
    assert_int_equal(gs_actor_post(c.ab[0], chain_job, &m, sizeof m), 0);
    assert_true(latch_wait(&g.entered, DEADLINE_MS));
    drain = call_start(gs__sched_drain, f.s);
    assert_true(latch_wait(&drain->entered, DEADLINE_MS));
    latch_add(&g.go);
    assert_true(call_finish(drain, DEADLINE_MS));
    /* No other wait: drain alone must have covered the whole chain. */
    assert_int_equal(atomic_load(&c.runs), CHAIN);
    assert_int_equal(atomic_load(&c.failures), 0);
    assert_int_equal(atomic_load(&g.failures), 0);
    assert_int_equal(stats(f.s).jobs_run, CHAIN + 1);
    gs_actor_unref(c.ab[0]);
    gs_actor_unref(c.ab[1]);
    fx_fini(&f);
    latch_fini(&g.entered);
    latch_fini(&g.go);
}

/* References: actors whose creator unrefs right after posting live until their last job ran and
 * are then freed exactly once (alive count back to 0; asan reports a use after free or a double
 * free); an actor unref'd while its job runs is still alive until that job returns. */
#define RC_ACTORS 256
#define RC_JOBS   4

typedef struct rc {
    _Atomic uint64_t failures;
    latch_t release; /* lets the held job return */
    latch_t entered; /* the held job is running */
} rc_t;

static void rc_job(gs_ctx_t *ctx, void *data, size_t len) {
    astate_t *st = gs_actor_user(ctx->actor); /* reads actor memory: asan sees a freed actor */
    rc_t *r = *(rc_t **)data;
    (void)len;
    if (st->magic != MAGIC)
        atomic_fetch_add(&r->failures, 1);
    st->plain++;
}

static void rc_hold_job(gs_ctx_t *ctx, void *data, size_t len) {
    rc_t *r = *(rc_t **)data;
    (void)ctx;
    (void)len;
    latch_add(&r->entered);
    if (!latch_wait(&r->release, DEADLINE_MS))
        atomic_fetch_add(&r->failures, 1);
}

static void test_refcount_frees_after_last_job(void **state) {
    fx_t f;
    rc_t r;
    rc_t *pr = &r;
    astate_t *st = calloc(RC_ACTORS, sizeof *st);
    gs_actor_t *a;
    (void)state;

    assert_non_null(st);
    atomic_init(&r.failures, 0);
    latch_init(&r.release, 1);
    latch_init(&r.entered, 1);
    fx_init(&f, 2, 2, NULL);
    assert_int_equal(gs__sched_start(f.s), 0);
    for (uint32_t i = 0; i < RC_ACTORS; i++) {
        st[i].magic = MAGIC;
        a = gs__actor_new(f.s, NULL, "rc");
        assert_non_null(a);
        gs_actor_set_user(a, &st[i]);
        for (uint32_t j = 0; j < RC_JOBS; j++)
            assert_int_equal(gs_actor_post(a, rc_job, &pr, sizeof pr), 0);
        gs_actor_unref(a); /* early: the jobs keep it alive */
    }
    assert_true(drain_within(f.s));
    assert_int_equal(stats(f.s).actors, 0);
    for (uint32_t i = 0; i < RC_ACTORS; i++)
        assert_int_equal(st[i].plain, RC_JOBS);

    /* Unref'd while its job runs: alive until the job returns, freed by the worker after. */
    a = gs__actor_new(f.s, NULL, "held");
    assert_int_equal(gs_actor_post(a, rc_hold_job, &pr, sizeof pr), 0);
    assert_true(latch_wait(&r.entered, DEADLINE_MS));
    gs_actor_unref(a);
    assert_int_equal(stats(f.s).actors, 1);
    latch_add(&r.release);
    assert_true(drain_within(f.s));
    assert_int_equal(stats(f.s).actors, 0);

    /* A held actor outlives its jobs; the last unref (here, on this thread) frees it. */
    a = gs__actor_new(f.s, NULL, "kept");
    gs_actor_ref(a);
    gs_actor_set_user(a, &st[0]);
    assert_int_equal(gs_actor_post(a, rc_job, &pr, sizeof pr), 0);
    assert_true(drain_within(f.s));
    assert_int_equal(stats(f.s).actors, 1);
    gs_actor_unref(a);
    assert_int_equal(stats(f.s).actors, 1);
    gs_actor_unref(a);
    assert_int_equal(stats(f.s).actors, 0);

    assert_int_equal(atomic_load(&r.failures), 0);
    fx_fini(&f);
    latch_fini(&r.release);
    latch_fini(&r.entered);
    free(st);
}

/* workers = 1: every job of every actor runs, all on one thread. */
static _Thread_local char tl_marker;

typedef struct one {
    _Atomic uintptr_t thread; /* address of the first runner's tl_marker */
    _Atomic uint64_t runs;
    _Atomic uint64_t other_thread;
} one_t;

static void one_job(gs_ctx_t *ctx, void *data, size_t len) {
    one_t *o = *(one_t **)data;
    uintptr_t me = (uintptr_t)&tl_marker, expect = 0;
    (void)ctx;
    (void)len;
    if (!atomic_compare_exchange_strong(&o->thread, &expect, me) && expect != me)
        atomic_fetch_add(&o->other_thread, 1);
    atomic_fetch_add(&o->runs, 1);
}

static void test_one_worker(void **state) {
    fx_t f;
    one_t o = {0};
    one_t *po = &o;
    gs_actor_t *a[8];
    (void)state;

    fx_init(&f, 1, 64, NULL);
    for (int i = 0; i < 8; i++)
        a[i] = gs__actor_new(f.s, NULL, "one");
    assert_int_equal(gs__sched_start(f.s), 0);
    for (int j = 0; j < 1000; j++)
        for (int i = 0; i < 8; i++)
            assert_int_equal(gs_actor_post(a[i], one_job, &po, sizeof po), 0);
    assert_true(drain_within(f.s));
    assert_int_equal(atomic_load(&o.runs), 8000);
    assert_int_equal(atomic_load(&o.other_thread), 0);
    assert_true(atomic_load(&o.thread) != (uintptr_t)&tl_marker); /* not the test thread */
    for (int i = 0; i < 8; i++)
        gs_actor_unref(a[i]);
    fx_fini(&f);
}

/* stop runs every job already posted and the jobs those post while it waits. One worker is held
 * in a gate job until the stop is under way, with 1000 jobs and a chain of 10 000 hops queued
 * behind it: a stop that does not wait for them leaves most of the chain unrun. */
static void test_stop_runs_pending(void **state) {
    fx_t f;
    chain_t c = {0};
    link_msg_t m = {.c = &c, .left = CHAIN};
    one_t o = {0};
    one_t *po = &o;
    gate_t g;
    gate_t *pg = &g;
    gs_actor_t *a[10], *gate;
    call_t *stop;
    (void)state;

    latch_init(&g.entered, 1);
    latch_init(&g.go, 1);
    atomic_init(&g.failures, 0);
    fx_init(&f, 1, 4, NULL);
    gate = gs__actor_new(f.s, NULL, "gate");
    c.ab[0] = gs__actor_new(f.s, NULL, "ping");
    c.ab[1] = gs__actor_new(f.s, NULL, "pong");
    for (int i = 0; i < 10; i++)
        a[i] = gs__actor_new(f.s, NULL, "pending");
    assert_int_equal(gs_actor_post(gate, gate_job, &pg, sizeof pg), 0);
    for (int j = 0; j < 100; j++)
        for (int i = 0; i < 10; i++)
            assert_int_equal(gs_actor_post(a[i], one_job, &po, sizeof po), 0);
    assert_int_equal(gs_actor_post(c.ab[0], chain_job, &m, sizeof m), 0);
    /* Not started: drain has no worker to wait for and returns, nothing ran. */
    gs__sched_drain(f.s);
    assert_int_equal(stats(f.s).jobs_run, 0);
    assert_int_equal(stats(f.s).jobs_queued, 1002);
    for (int i = 0; i < 10; i++)
        gs_actor_unref(a[i]); /* the queued jobs keep them */
    gs_actor_unref(gate);
    assert_int_equal(gs__sched_start(f.s), 0);
    assert_true(latch_wait(&g.entered, DEADLINE_MS)); /* the only worker is in the gate */
    stop = call_start(gs__sched_stop, f.s);
    assert_true(latch_wait(&stop->entered, DEADLINE_MS));
    latch_add(&g.go);
    assert_true(call_finish(stop, DEADLINE_MS));
    assert_int_equal(atomic_load(&o.runs), 1000);
    assert_int_equal(atomic_load(&c.runs), CHAIN);
    assert_int_equal(atomic_load(&g.failures), 0);
    assert_int_equal(stats(f.s).jobs_queued, 0);
    assert_int_equal(stats(f.s).actors, 2);
    gs_actor_unref(c.ab[0]);
    gs_actor_unref(c.ab[1]);
    fx_fini(&f);
    latch_fini(&g.entered);
    latch_fini(&g.go);
}

/* A capped pool: posting fails with GS_ENOMEM once the pool refuses, the refused job never runs,
 * takes no reference and is not counted; the accepted ones all run. */
typedef struct cap {
    _Atomic uint64_t ok_runs;
    _Atomic uint64_t refused_runs;
} cap_t;

static void cap_ok_job(gs_ctx_t *ctx, void *data, size_t len) {
    (void)ctx;
    (void)len;
    atomic_fetch_add(&(*(cap_t **)data)->ok_runs, 1);
}

static void cap_refused_job(gs_ctx_t *ctx, void *data, size_t len) {
    (void)ctx;
    (void)len;
    atomic_fetch_add(&(*(cap_t **)data)->refused_runs, 1);
}

static void test_pool_exhaustion(void **state) {
    fx_t f;
    gs_pool_config_t pc = {.max_bytes = 64u * 1024u, .slab_bytes = 16u * 1024u};
    cap_t c = {0};
    cap_t *pc_ = &c;
    gs_actor_t *a;
    uint64_t accepted = 0;
    int rc = 0;
    static unsigned char big[256 * 1024];
    (void)state;

    fx_init(&f, 2, 64, &pc);
    a = gs__actor_new(f.s, NULL, "capped");
    /* Not started: jobs pile up until the pool refuses. */
    for (int i = 0; i < 100000 && rc == 0; i++) {
        rc = gs_actor_post(a, cap_ok_job, &pc_, sizeof pc_);
        if (rc == 0)
            accepted++;
    }
    assert_int_equal(rc, GS_ENOMEM);
    assert_true(accepted > 0);
    assert_int_equal(gs_actor_post(a, cap_refused_job, &pc_, sizeof pc_), GS_ENOMEM);
    /* Above the largest class: malloc fallback, still under the cap, still refused. */
    memcpy(big, &pc_, sizeof pc_);
    assert_int_equal(gs_actor_post(a, cap_refused_job, big, sizeof big), GS_ENOMEM);
    assert_int_equal(stats(f.s).jobs_posted, accepted);
    assert_int_equal(gs__sched_start(f.s), 0);
    assert_true(drain_within(f.s));
    assert_int_equal(atomic_load(&c.ok_runs), accepted);
    assert_int_equal(atomic_load(&c.refused_runs), 0);
    /* Memory is back: posting works again. */
    assert_int_equal(gs_actor_post(a, cap_ok_job, &pc_, sizeof pc_), 0);
    assert_true(drain_within(f.s));
    assert_int_equal(atomic_load(&c.ok_runs), accepted + 1);
    gs_actor_unref(a);
    fx_fini(&f);
}

/* E09 analogue: one actor's job sleeps 500 ms; another actor's 1000 jobs all run meanwhile. The
 * only timing assumed is that 1000 empty jobs take less than the sleep, by orders of magnitude. */
typedef struct slow {
    latch_t slow_started;
    latch_t fast_done;
    _Atomic int slow_finished;
    _Atomic int slow_finished_at_fast_end;
} slow_t;

static void slow_job(gs_ctx_t *ctx, void *data, size_t len) {
    slow_t *s = *(slow_t **)data;
    (void)ctx;
    (void)len;
    latch_add(&s->slow_started);
    gs_sleep_ms(500); /* the slow handler itself, not a wait for anything */
    atomic_store(&s->slow_finished, 1);
}

static void fast_job(gs_ctx_t *ctx, void *data, size_t len) {
    slow_t *s = *(slow_t **)data;
    (void)ctx;
    (void)len;
    if (latch_add(&s->fast_done) == 1000)
        atomic_store(&s->slow_finished_at_fast_end, atomic_load(&s->slow_finished));
}

static void test_slow_actor_does_not_block_others(void **state) {
    fx_t f;
    slow_t s;
    slow_t *ps = &s;
    gs_actor_t *slow, *fast;
    (void)state;

    latch_init(&s.slow_started, 1);
    latch_init(&s.fast_done, 1000);
    atomic_init(&s.slow_finished, 0);
    atomic_init(&s.slow_finished_at_fast_end, -1);
    fx_init(&f, 2, 64, NULL);
    slow = gs__actor_new(f.s, NULL, "slow");
    fast = gs__actor_new(f.s, NULL, "fast");
    assert_int_equal(gs__sched_start(f.s), 0);
    assert_int_equal(gs_actor_post(slow, slow_job, &ps, sizeof ps), 0);
    assert_true(latch_wait(&s.slow_started, DEADLINE_MS));
    for (int i = 0; i < 1000; i++)
        assert_int_equal(gs_actor_post(fast, fast_job, &ps, sizeof ps), 0);
    assert_true(latch_wait(&s.fast_done, DEADLINE_MS));
    assert_true(drain_within(f.s));
    assert_int_equal(atomic_load(&s.slow_finished_at_fast_end), 0);
    assert_int_equal(atomic_load(&s.slow_finished), 1);
    gs_actor_unref(slow);
    gs_actor_unref(fast);
    fx_fini(&f);
    latch_fini(&s.slow_started);
    latch_fini(&s.fast_done);
}

/* Idle workers sleep on the condition variable: four parked workers burn (next to) no CPU. */
static void test_idle_workers_sleep(void **state) {
    fx_t f;
    uint64_t t0;
    (void)state;

    fx_init(&f, 4, 64, NULL);
    assert_int_equal(gs__sched_start(f.s), 0);
    assert_true(drain_within(f.s)); /* all four parked */
    t0 = test_cpu_us();
    gs_sleep_ms(300); /* a measuring window, not a wait for an event */
    /* Spinning workers would use about 4 x 300 ms (or all the cores there are). */
    assert_true(test_cpu_us() - t0 < 100000u);
    fx_fini(&f);
}

/* Counters, and the batch limit seen through them: one worker, batch 4, 10 jobs on one actor
 * posted before start -> the actor enters the run queue once for the posts and twice more after
 * using up a batch with jobs left. */
static void count_job(gs_ctx_t *ctx, void *data, size_t len) {
    (void)ctx;
    (void)data;
    (void)len;
}

static void test_stats_and_batches(void **state) {
    fx_t f;
    gs_actor_t *a;
    gs__sched_stats_t st;
    (void)state;

    fx_init(&f, 1, 4, NULL);
    a = gs__actor_new(f.s, NULL, "counted");
    st = stats(f.s);
    assert_int_equal(st.actors, 1);
    assert_int_equal(st.jobs_posted, 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(gs_actor_post(a, count_job, NULL, 0), 0);
    st = stats(f.s);
    assert_int_equal(st.jobs_posted, 10);
    assert_int_equal(st.jobs_queued, 10);
    assert_int_equal(st.jobs_run, 0);
    assert_int_equal(st.schedules, 1);
    assert_int_equal(gs__sched_start(f.s), 0);
    assert_true(drain_within(f.s));
    st = stats(f.s);
    assert_int_equal(st.jobs_run, 10);
    assert_int_equal(st.jobs_queued, 0);
    assert_int_equal(st.schedules, 3);
    gs_actor_unref(a);
    fx_fini(&f);
}

/* Job timing (gs_app_set_timing): off, nothing is measured; on, 4 workers x 8 actors each count
 * every job in the run and wait histograms and add busy time, read while they run (TSan). */
static void test_timing(void **state) {
    fx_t f;
    gs_actor_t *a[8];
    gs__sched_stats_t st;
    (void)state;

    fx_init(&f, 4, 4, NULL);
    for (int i = 0; i < 8; i++)
        a[i] = gs__actor_new(f.s, NULL, "timed");
    assert_int_equal(gs__sched_start(f.s), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(gs_actor_post(a[i % 8], count_job, NULL, 0), 0);
    assert_true(drain_within(f.s));
    st = stats(f.s);
    assert_int_equal(st.handler_ns.count, 0);
    assert_int_equal(st.worker_busy_ns, 0);
    gs__sched_set_timing(f.s, 1);
    for (int i = 0; i < 4000; i++) {
        assert_int_equal(gs_actor_post(a[i % 8], count_job, NULL, 0), 0);
        if (i % 500 == 0)
            (void)stats(f.s); /* read while the workers write */
    }
    assert_true(drain_within(f.s));
    st = stats(f.s);
    assert_int_equal(st.handler_ns.count, 4000);
    assert_int_equal(st.job_wait_ns.count, 4000);
    assert_true(st.worker_busy_ns > 0);
    assert_int_equal(st.handler_ns.nbounds, gs_hist_bounds_ns_count);
    gs__sched_set_timing(f.s, 0);
    for (int i = 0; i < 8; i++)
        gs_actor_unref(a[i]);
    fx_fini(&f);
}

/* The public actor calls: create through the app, names, user state, what a job sees, data
 * copied at post time, argument errors. */
typedef struct seen {
    gs_app_t *app;
    gs_actor_t *actor;
    gs_session_id_t session;
    void *user;
    size_t len;
    unsigned char data[64];
    int aligned;
    int runs;
} seen_t;

static void seen_job(gs_ctx_t *ctx, void *data, size_t len) {
    seen_t *s = gs_actor_user(ctx->actor); /* plain writes: read after a drain */
    s->app = ctx->app;
    s->actor = ctx->actor;
    s->session = ctx->session;
    s->user = gs_actor_user(ctx->actor);
    s->len = len;
    s->aligned = ((uintptr_t)data & 15u) == 0;
    if (len > 0 && len <= sizeof s->data)
        memcpy(s->data, data, len);
    s->runs++;
}

static void test_actor_api(void **state) {
    fx_t f;
    struct gs_app app;
    seen_t seen = {0};
    gs_actor_t *a, *b;
    char buf[40];
    (void)state;

    fx_init(&f, 2, 64, NULL);
    app.sched = f.s;
    a = gs_actor_create(&app, "a-name-much-longer-than-thirty-one-bytes");
    assert_non_null(a);
    assert_int_equal(strlen(a->name), sizeof a->name - 1);
    assert_memory_equal(a->name, "a-name-much-longer-than-thirty-", sizeof a->name - 1);
    b = gs_actor_create(&app, NULL);
    assert_non_null(b);
    assert_string_equal(b->name, "");
    assert_null(gs_actor_user(a));
    gs_actor_set_user(a, &seen);
    assert_ptr_equal(gs_actor_user(a), &seen);

    assert_int_equal(gs_actor_post(a, NULL, NULL, 0), GS_EINVAL);
    assert_int_equal(gs_actor_post(NULL, seen_job, NULL, 0), GS_EINVAL);
    assert_int_equal(gs_actor_post(a, seen_job, NULL, 1), GS_EINVAL);
    assert_int_equal(stats(f.s).jobs_posted, 0);

    memset(buf, 'x', sizeof buf);
    assert_int_equal(gs_actor_post(a, seen_job, buf, sizeof buf), 0);
    memset(buf, 'y', sizeof buf); /* after the post: the job has its own copy */
    assert_int_equal(gs__sched_start(f.s), 0);
    assert_true(drain_within(f.s));
    assert_int_equal(seen.runs, 1);
    assert_ptr_equal(seen.app, &app);
    assert_ptr_equal(seen.actor, a);
    assert_int_equal(seen.session, GS_SESSION_NONE);
    assert_ptr_equal(seen.user, &seen);
    assert_int_equal(seen.len, sizeof buf);
    assert_true(seen.aligned);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(seen.data[i], 'x');

    assert_int_equal(gs_actor_post(a, seen_job, NULL, 0), 0); /* len 0, no data */
    assert_true(drain_within(f.s));
    assert_int_equal(seen.runs, 2);
    assert_int_equal(seen.len, 0);

    gs_actor_unref(a);
    gs_actor_unref(b);
    fx_fini(&f);
}

/* Lifecycle: argument and state errors, stop and destroy without start, destroy freeing actors
 * someone forgot (logged once, no leak under asan). */
typedef struct logged {
    int warnings;
} logged_t;

static void log_hook(gs_log_level_t level, const char *component, const char *message, void *user) {
    logged_t *l = user;
    if (level == GS_LOG_WARN && strcmp(component, "content") == 0 &&
        strstr(message, "1 actors alive and 3 jobs not run") != NULL)
        l->warnings++;
}

static void test_lifecycle(void **state) {
    gs_pool_t *pool = gs_pool_create(NULL);
    gs__sched_t *s = (gs__sched_t *)pool;
    logged_t l = {0};
    gs_actor_t *a;
    (void)state;

    assert_non_null(pool);
    assert_int_equal(gs__sched_create(&s, 0, 1, pool, run_job, NULL), GS_EINVAL);
    assert_null(s);
    assert_int_equal(gs__sched_create(&s, 1, 0, pool, run_job, NULL), GS_EINVAL);
    assert_int_equal(gs__sched_create(&s, 1, 1, NULL, run_job, NULL), GS_EINVAL);
    assert_int_equal(gs__sched_create(&s, 1, 1, pool, NULL, NULL), GS_EINVAL);
    assert_int_equal(gs__sched_create(NULL, 1, 1, pool, run_job, NULL), GS_EINVAL);

    /* Created, never started: stop is a no-op, destroy frees the leftovers and says so. */
    assert_int_equal(gs__sched_create(&s, 2, 8, pool, run_job, NULL), 0);
    a = gs__actor_new(s, NULL, "forgotten");
    for (int i = 0; i < 3; i++)
        assert_int_equal(gs_actor_post(a, count_job, NULL, 0), 0);
    gs__sched_stop(s);
    gs_log_set_hook(log_hook, &l);
    gs__sched_destroy(s);
    gs_log_set_hook(NULL, NULL);
    assert_int_equal(l.warnings, 1);

    /* start twice, start after stop. */
    assert_int_equal(gs__sched_create(&s, 2, 8, pool, run_job, NULL), 0);
    assert_int_equal(gs__sched_start(s), 0);
    assert_int_equal(gs__sched_start(s), GS_ESTATE);
    assert_true(stop_within(s));
    assert_int_equal(gs__sched_start(s), GS_ESTATE);
    gs__sched_stop(s); /* again: no-op */
    gs__sched_destroy(s);
    gs__sched_destroy(NULL);
    gs_pool_destroy(pool);
}

/* ---------------------------------------------------------------------------------------------
 * Inline mode (gs_app_config_t.run_on_io_thread): one runner thread plays the IO thread. It
 * runs the queue until run_inline says it is empty, then sleeps on a condition (no timeout:
 * a lost wake-up hangs it, and the latch's deadline fails the test) until the wake callback
 * says the queue became non-empty.
 * ------------------------------------------------------------------------------------------- */

typedef struct runner {
    gs__sched_t *s;
    gs_mutex_t lock;
    gs_cond_t cond;
    int woken, stop;
    _Atomic uint64_t wakes;
    gs_thread_t *thread;
} runner_t;

static _Thread_local int tl_in_runner;

static void runner_wake(void *arg) {
    runner_t *r = arg;
    atomic_fetch_add(&r->wakes, 1);
    gs_mutex_lock(&r->lock);
    r->woken = 1;
    gs_cond_signal(&r->cond);
    gs_mutex_unlock(&r->lock);
}

static void runner_main(void *arg) {
    runner_t *r = arg;
    tl_in_runner = 1;
    for (;;) {
        if (gs__sched_run_inline(r->s, 8))
            continue; /* more than one pass's budget: go again, as the net's loop does */
        gs_mutex_lock(&r->lock);
        while (!r->woken && !r->stop)
            gs_cond_wait(&r->cond, &r->lock);
        int stop = r->stop;
        r->woken = 0;
        gs_mutex_unlock(&r->lock);
        if (stop)
            return;
    }
}

/* order_job, and only ever on the runner thread. */
static void inline_job(gs_ctx_t *ctx, void *data, size_t len) {
    astate_t *st = gs_actor_user(ctx->actor);
    if (!tl_in_runner)
        failure(st->t);
    order_job(ctx, data, len);
}

static void inline_poster_main(void *arg) {
    poster_t *p = arg;
    uint32_t seq[4] = {0};
    for (uint32_t i = 0; i < p->njobs; i++) {
        uint32_t k = (i + p->index) % p->nactors;
        msg_t m = {.poster = p->index, .seq = ++seq[k]};
        if (gs_actor_post(p->actors[k], inline_job, &m, sizeof m) != 0)
            p->refused++;
        if ((i & 1023u) == 0)
            gs_thread_yield(); /* let the runner find the queue empty now and then */
    }
}

static void test_inline_mode(void **state) {
    enum { NACTORS = 4, NJOBS = 20000 };
    fx_t f;
    test_t t = {0};
    astate_t st[NACTORS];
    gs_actor_t *actors[NACTORS];
    poster_t p[POSTERS];
    gs_thread_t *th[POSTERS];
    runner_t r = {0};
    (void)state;

    memset(st, 0, sizeof st);
    fx_init(&f, 1, 16, NULL);
    r.s = f.s;
    gs_mutex_init(&r.lock);
    gs_cond_init(&r.cond);
    gs__sched_set_inline(f.s, runner_wake, &r);
    latch_init(&t.done, (uint64_t)POSTERS * NJOBS);
    for (uint32_t i = 0; i < NACTORS; i++) {
        st[i].t = &t;
        actors[i] = gs__actor_new(f.s, NULL, "inline");
        assert_non_null(actors[i]);
        gs_actor_set_user(actors[i], &st[i]);
    }
    assert_int_equal(gs__sched_start(f.s), 0);
    assert_int_equal(gs_thread_start(&r.thread, runner_main, &r, "gs-test-runner"), 0);
    for (uint32_t i = 0; i < POSTERS; i++) {
        p[i] = (poster_t){.actors = actors, .nactors = NACTORS, .index = i, .njobs = NJOBS};
        assert_int_equal(gs_thread_start(&th[i], inline_poster_main, &p[i], "gs-test-post"), 0);
    }
    for (uint32_t i = 0; i < POSTERS; i++) {
        gs_thread_join(th[i]);
        assert_int_equal(p[i].refused, 0);
    }
    assert_true(latch_wait(&t.done, DEADLINE_MS));
    assert_int_equal(atomic_load(&t.failures), 0);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < NACTORS; i++)
        sum += st[i].plain;
    assert_int_equal(sum, (uint64_t)POSTERS * NJOBS);
    /* The runner slept and was woken (every job ran on it, so each wake-up it needed came). */
    assert_true(atomic_load(&r.wakes) >= 1);
    gs_mutex_lock(&r.lock);
    r.stop = 1;
    gs_cond_signal(&r.cond);
    gs_mutex_unlock(&r.lock);
    gs_thread_join(r.thread);

    /* The runner is gone (the net has stopped): what is still queued runs on the stopping
     * thread, inside stop's drain. */
    for (int i = 0; i < 10; i++)
        assert_int_equal(gs_actor_post(actors[0], count_job, NULL, 0), 0);
    for (uint32_t i = 0; i < NACTORS; i++)
        gs_actor_unref(actors[i]);
    assert_int_equal(stats(f.s).jobs_queued, 10);
    fx_fini(&f); /* stop: runs the 10, then every actor is gone and every job freed */
    latch_fini(&t.done);
    gs_cond_fini(&r.cond);
    gs_mutex_fini(&r.lock);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inline_mode),
        cmocka_unit_test(test_actor_api),
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_stats_and_batches),
        cmocka_unit_test(test_timing),
        cmocka_unit_test(test_fifo_per_poster),
        cmocka_unit_test(test_serial_per_actor),
        cmocka_unit_test(test_handoff_race),
        cmocka_unit_test(test_parallel_actors),
        cmocka_unit_test(test_batch_fairness),
        cmocka_unit_test(test_drain_waits_for_chain),
        cmocka_unit_test(test_refcount_frees_after_last_job),
        cmocka_unit_test(test_one_worker),
        cmocka_unit_test(test_stop_runs_pending),
        cmocka_unit_test(test_pool_exhaustion),
        cmocka_unit_test(test_slow_actor_does_not_block_others),
        cmocka_unit_test(test_idle_workers_sleep),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

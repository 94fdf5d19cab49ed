/* SPDX-License-Identifier: MIT */
/* Tests for content/timer.c on a real scheduler (2 workers): deadline order per actor over 1 000
 * random timers, cancel before the run, while the job is queued, from the timer's own job and
 * racing from another thread, repeat counts, a slow repeating job that never overlaps nor piles
 * up, no catch-up burst after a late run, stale ids across slot reuse, data copies, timers added
 * before start, and stop with 10 000 pending timers or with a run in flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gs_test.h"

#include "internal.h"

#define NACT      4
#define NS_PER_MS 1000000u
/* Generous: sanitizer builds on a loaded machine are slow; waits end as soon as they can. */
#define WAIT_MS 20000u

typedef struct fixture {
    gs_pool_t *pool;
    gs__sched_t *s;
    gs__timers_t *t;
    gs_actor_t *a[NACT];
} fixture_t;

/* The app's dispatcher, reduced to what timers need: user jobs (for test plumbing) and timers. */
static void run_job(gs__sched_t *s, gs_actor_t *a, gs__job_t *job, void *user) {
    fixture_t *f = user;
    gs_ctx_t ctx = {NULL, a, GS_SESSION_NONE, NULL};
    (void)s;
    if (job->kind == GS__JOB_TIMER)
        gs__timer_run(f->t, &ctx, job);
    else if (job->kind == GS__JOB_USER)
        job->fn(&ctx, job->data, job->len);
}

/* timer.c calls these only from gs_app_timer*, which the tests do not use. */
gs__sched_t *gs__app_sched(gs_app_t *app) {
    (void)app;
    return NULL;
}
gs__timers_t *gs__app_timers(gs_app_t *app) {
    (void)app;
    return NULL;
}

static int setup(void **state) {
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->pool = gs_pool_create(NULL);
    assert_non_null(f->pool);
    assert_int_equal(gs__sched_create(&f->s, 2, 64, f->pool, run_job, f), 0);
    assert_int_equal(gs__timers_create(&f->t, f->s), 0);
    assert_int_equal(gs__sched_start(f->s), 0);
    assert_int_equal(gs__timers_start(f->t), 0);
    for (int i = 0; i < NACT; i++) {
        f->a[i] = gs__actor_new(f->s, NULL, "timer-test");
        assert_non_null(f->a[i]);
    }
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture_t *f = *state;
    gs__timer_stats_t ts;
    gs__sched_stats_t ss;

    for (int i = 0; i < NACT; i++)
        gs_actor_unref(f->a[i]);
    /* The app's order: no new timer run, then every posted job runs (and ends its timer). */
    gs__timers_stop(f->t);
    gs__sched_stop(f->s);
    gs__timers_stats(f->t, &ts);
    gs__sched_stats(f->s, &ss);
    assert_int_equal(ts.alive, 0);
    assert_int_equal(ss.actors, 0); /* every timer dropped its actor reference */
    gs__timers_destroy(f->t);
    gs__sched_destroy(f->s);
    gs_pool_destroy(f->pool);
    free(f);
    return 0;
}

static uint64_t timer_alive(fixture_t *f) {
    gs__timer_stats_t ts;
    gs__timers_stats(f->t, &ts);
    return ts.alive;
}

/* Poll until the alive count drops to want; fails the test at the deadline. */
static void wait_alive(fixture_t *f, uint64_t want) {
    uint64_t deadline = gs_now_ms() + WAIT_MS;
    while (timer_alive(f) != want) {
        assert_true(gs_now_ms() < deadline);
        gs_sleep_ms(1);
    }
}

static void wait_count(_Atomic int *c, int want) {
    uint64_t deadline = gs_now_ms() + WAIT_MS;
    while (atomic_load(c) < want) {
        assert_true(gs_now_ms() < deadline);
        gs_sleep_ms(1);
    }
}

/* Post a plain job to an actor, as gs_actor_post would. */
static void post(fixture_t *f, gs_actor_t *a, gs_job_cb fn, const void *data, size_t len) {
    gs__job_t *job = gs__job_alloc(f->s, len);
    assert_non_null(job);
    job->kind = GS__JOB_USER;
    job->fn = fn;
    job->len = len;
    memcpy(job->data, data, len);
    gs__actor_push(a, job);
}

static uint32_t lcg(uint32_t *x) {
    *x = *x * 1664525u + 1013904223u;
    return *x >> 8;
}

/* ---- deadline order ----------------------------------------------------------------------- */

#define N_ORDER 1000

typedef struct order {
    uint64_t lo[N_ORDER], hi[N_ORDER]; /* bounds of each timer's deadline (written before add) */
    uint64_t fired[N_ORDER];
    uint32_t seq[NACT][N_ORDER]; /* run order per actor: touched only by that actor's jobs */
    uint32_t nseq[NACT];
    gs_actor_t **actors;
    _Atomic int bad_actor;
    _Atomic int done;
} order_t;

typedef struct order_arg {
    order_t *o;
    uint32_t idx;
} order_arg_t;

static void order_fn(gs_ctx_t *ctx, void *data, size_t len) {
    order_arg_t arg;
    if (len != sizeof arg)
        abort(); /* no cmocka assert off the test thread */
    memcpy(&arg, data, sizeof arg);
    order_t *o = arg.o;
    uint32_t act = arg.idx % NACT;
    o->fired[arg.idx] = gs_now_ns();
    if (ctx->actor != o->actors[act])
        atomic_store(&o->bad_actor, 1);
    o->seq[act][o->nseq[act]++] = arg.idx;
    atomic_fetch_add_explicit(&o->done, 1, memory_order_release);
}

static void test_deadline_order(void **state) {
    fixture_t *f = *state;
    order_t *o = calloc(1, sizeof *o);
    uint32_t rng = 12345;
    assert_non_null(o);
    o->actors = f->a;

    for (uint32_t i = 0; i < N_ORDER; i++) {
        uint32_t delay = lcg(&rng) % 201;
        order_arg_t arg = {o, i};
        o->lo[i] = gs_now_ns() + (uint64_t)delay * NS_PER_MS;
        assert_int_not_equal(
            gs__timer_add(f->t, f->a[i % NACT], delay, 0, order_fn, &arg, sizeof arg), 0);
        o->hi[i] = gs_now_ns() + (uint64_t)delay * NS_PER_MS;
    }
    wait_count(&o->done, N_ORDER);
    wait_alive(f, 0);
    assert_int_equal(atomic_load_explicit(&o->done, memory_order_acquire), N_ORDER);
    assert_int_equal(atomic_load(&o->bad_actor), 0);

    uint32_t total = 0;
    for (int a = 0; a < NACT; a++) {
        total += o->nseq[a];
        for (uint32_t k = 0; k < o->nseq[a]; k++) {
            uint32_t cur = o->seq[a][k];
            /* Never early, across actors too. */
            assert_true(o->fired[cur] >= o->lo[cur]);
            if (k == 0)
                continue;
            uint32_t prev = o->seq[a][k - 1];
            /* Within an actor, runs follow deadlines: the earlier run's deadline cannot be later
             * than the next one's (the bounds absorb the time each add took). */
            assert_true(o->lo[prev] <= o->hi[cur]);
            assert_true(o->fired[prev] <= o->fired[cur]);
        }
    }
    assert_int_equal(total, N_ORDER);
    gs__timer_stats_t ts;
    gs__timers_stats(f->t, &ts);
    assert_int_equal(ts.runs, N_ORDER);
    /* Every run's lag (deadline to start) is counted once, and none is negative. */
    assert_int_equal(ts.lag_ns.count, N_ORDER);
    assert_int_equal(ts.lag_ns.nbounds, gs_hist_bounds_ns_count);
    free(o);
}

/* ---- data copy ---------------------------------------------------------------------------- */

typedef struct copy_state {
    _Atomic int runs;
    _Atomic int bad;
    gs_actor_t *actor;
} copy_state_t;

static void copy_fn(gs_ctx_t *ctx, void *data, size_t len) {
    copy_state_t *cs;
    unsigned char expect[37];
    if (len != sizeof cs + sizeof expect)
        abort();
    memcpy(&cs, data, sizeof cs);
    if ((uintptr_t)data % 16 != 0)
        atomic_store(&cs->bad, 1);
    for (unsigned i = 0; i < sizeof expect; i++)
        expect[i] = (unsigned char)(i * 7 + 1);
    if (memcmp((unsigned char *)data + sizeof cs, expect, sizeof expect) != 0 ||
        ctx->actor != cs->actor || ctx->session != GS_SESSION_NONE)
        atomic_store(&cs->bad, 1);
    atomic_fetch_add(&cs->runs, 1);
}

static void test_data_copied_and_aligned(void **state) {
    fixture_t *f = *state;
    copy_state_t cs = {.actor = f->a[1]};
    unsigned char buf[sizeof(copy_state_t *) + 37];
    copy_state_t *p = &cs;

    memcpy(buf, &p, sizeof p);
    for (unsigned i = 0; i < 37; i++)
        buf[sizeof p + i] = (unsigned char)(i * 7 + 1);
    assert_int_not_equal(gs__timer_add(f->t, f->a[1], 5, 0, copy_fn, buf, sizeof buf), 0);
    memset(buf + sizeof p, 0xEE, 37); /* the timer has its own copy */
    wait_count(&cs.runs, 1);
    wait_alive(f, 0);
    assert_int_equal(atomic_load(&cs.bad), 0);
    assert_int_equal(atomic_load(&cs.runs), 1);

    /* Zero-length data, and bad arguments (0: nothing will run). */
    assert_int_equal(gs__timer_add(f->t, f->a[1], 0, 0, NULL, NULL, 0), 0);
    assert_int_equal(gs__timer_add(f->t, NULL, 0, 0, copy_fn, NULL, 0), 0);
    assert_int_equal(gs__timer_add(f->t, f->a[1], 0, 0, copy_fn, NULL, 4), 0);
    assert_int_equal(gs__timer_cancel(f->t, 0), GS_ESTALE);
    assert_int_equal(gs__timer_cancel(f->t, 0xFFFFFFFFFFFFull), GS_ESTALE);
}

/* ---- cancel ------------------------------------------------------------------------------- */

typedef struct count_state {
    _Atomic int runs;
    _Atomic int late; /* a run that began after cancel returned */
    _Atomic int cancelled;
    _Atomic gs_timer_id_t id;
    gs__timers_t *t;
    _Atomic int self_cancel_at; /* cancel from the job at this run (0 = never) */
    _Atomic int self_rc, self_rc2;
} count_state_t;

static count_state_t *state_of(void *data, size_t len) {
    count_state_t *cs;
    if (len != sizeof cs)
        abort();
    memcpy(&cs, data, sizeof cs);
    return cs;
}

static void count_fn(gs_ctx_t *ctx, void *data, size_t len) {
    count_state_t *cs = state_of(data, len);
    (void)ctx;
    if (atomic_load(&cs->cancelled))
        atomic_store(&cs->late, 1);
    int n = atomic_fetch_add(&cs->runs, 1) + 1;
    if (n == atomic_load(&cs->self_cancel_at)) {
        /* The id is stored right after add returns; the first run is 5 ms later, but wait for
         * it rather than assume. */
        uint64_t deadline = gs_now_ms() + WAIT_MS;
        while (atomic_load(&cs->id) == 0 && gs_now_ms() < deadline)
            gs_sleep_ms(1);
        atomic_store(&cs->self_rc, gs__timer_cancel(cs->t, atomic_load(&cs->id)));
        atomic_store(&cs->self_rc2, gs__timer_cancel(cs->t, atomic_load(&cs->id)));
    }
}

static void test_cancel_before_fire(void **state) {
    fixture_t *f = *state;
    count_state_t cs = {.t = f->t};
    count_state_t *p = &cs;

    gs_timer_id_t one = gs__timer_add(f->t, f->a[0], 100, 0, count_fn, &p, sizeof p);
    gs_timer_id_t rep = gs__timer_add(f->t, f->a[0], 100, 10, count_fn, &p, sizeof p);
    assert_int_not_equal(one, 0);
    assert_int_not_equal(rep, 0);
    assert_int_not_equal(one, rep);
    assert_int_equal(timer_alive(f), 2);
    assert_int_equal(gs__timer_cancel(f->t, one), 0);
    assert_int_equal(gs__timer_cancel(f->t, rep), 0);
    atomic_store(&cs.cancelled, 1);
    assert_int_equal(gs__timer_cancel(f->t, one), GS_ESTALE);
    assert_int_equal(gs__timer_cancel(f->t, rep), GS_ESTALE);
    assert_int_equal(timer_alive(f), 0);

    /* A later timer on the same actor fires after the cancelled deadlines: they never ran. */
    count_state_t probe = {.t = f->t};
    count_state_t *pp = &probe;
    assert_int_not_equal(gs__timer_add(f->t, f->a[0], 150, 0, count_fn, &pp, sizeof pp), 0);
    wait_count(&probe.runs, 1);
    wait_alive(f, 0);
    assert_int_equal(atomic_load(&cs.runs), 0);
    gs__timer_stats_t ts;
    gs__timers_stats(f->t, &ts);
    assert_int_equal(ts.cancelled, 2);
    assert_int_equal(ts.runs, 1);
}

/* Blocks its actor until the gate opens, so that a timer job queues behind it. */
static void gate_fn(gs_ctx_t *ctx, void *data, size_t len) {
    _Atomic int *gate;
    (void)ctx;
    if (len != sizeof gate)
        abort();
    memcpy(&gate, data, sizeof gate);
    uint64_t deadline = gs_now_ms() + WAIT_MS;
    while (!atomic_load(gate) && gs_now_ms() < deadline)
        gs_sleep_ms(1);
}

static void test_cancel_while_queued(void **state) {
    fixture_t *f = *state;
    count_state_t cs = {.t = f->t};
    count_state_t *p = &cs;
    _Atomic int gate = 0;
    _Atomic int *g = &gate;
    gs__sched_stats_t ss;

    post(f, f->a[2], gate_fn, &g, sizeof g);
    gs__sched_stats(f->s, &ss);
    uint64_t posted = ss.jobs_posted;
    gs_timer_id_t id = gs__timer_add(f->t, f->a[2], 0, 5, count_fn, &p, sizeof p);
    assert_int_not_equal(id, 0);
    /* Wait until the timer thread posted the job: it now sits behind the gate, not running. */
    uint64_t deadline = gs_now_ms() + WAIT_MS;
    do {
        assert_true(gs_now_ms() < deadline);
        gs_sleep_ms(1);
        gs__sched_stats(f->s, &ss);
    } while (ss.jobs_posted < posted + 1);
    assert_int_equal(gs__timer_cancel(f->t, id), 0);
    atomic_store(&cs.cancelled, 1);
    assert_int_equal(gs__timer_cancel(f->t, id), GS_ESTALE);
    assert_int_equal(timer_alive(f), 1); /* the queued job still holds it */
    atomic_store(&gate, 1);
    wait_alive(f, 0);
    gs__sched_drain(f->s);
    assert_int_equal(atomic_load(&cs.runs), 0);
    assert_int_equal(atomic_load(&cs.late), 0);
    gs__sched_stats(f->s, &ss);
    assert_int_equal(ss.jobs_posted, posted + 1); /* never re-armed */
}

static void test_cancel_from_own_job(void **state) {
    fixture_t *f = *state;
    count_state_t cs = {.t = f->t, .self_cancel_at = 3};
    count_state_t *p = &cs;

    gs_timer_id_t id = gs__timer_add(f->t, f->a[3], 5, 5, count_fn, &p, sizeof p);
    assert_int_not_equal(id, 0);
    atomic_store(&cs.id, id);
    wait_count(&cs.runs, 3);
    wait_alive(f, 0);
    assert_int_equal(atomic_load(&cs.self_rc), 0);
    assert_int_equal(atomic_load(&cs.self_rc2), GS_ESTALE);
    assert_int_equal(gs__timer_cancel(f->t, id), GS_ESTALE);
    /* Ended: nothing is left that could run again. */
    gs__sched_drain(f->s);
    assert_int_equal(atomic_load(&cs.runs), 3);

    /* Ended by the job itself, not re-armed and left to expire: with a one-minute period the
     * timer must be gone well before the next deadline. */
    count_state_t once = {.t = f->t, .self_cancel_at = 1};
    count_state_t *po = &once;
    id = gs__timer_add(f->t, f->a[3], 0, 60000, count_fn, &po, sizeof po);
    assert_int_not_equal(id, 0);
    atomic_store(&once.id, id);
    wait_count(&once.runs, 1);
    wait_alive(f, 0);
    assert_int_equal(atomic_load(&once.self_rc), 0);
    assert_int_equal(atomic_load(&once.runs), 1);
}

static void spin_us(uint32_t us) {
    uint64_t end = gs_now_ns() + (uint64_t)us * 1000u;
    while (gs_now_ns() < end)
        gs_thread_yield();
}

static void test_cancel_racing_fire(void **state) {
    fixture_t *f = *state;
    uint32_t rng = 777;

    for (int i = 0; i < 300; i++) {
        count_state_t cs = {.t = f->t};
        count_state_t *p = &cs;
        int repeating = i & 1;
        gs_timer_id_t id = gs__timer_add(f->t, f->a[i % NACT], lcg(&rng) % 2, repeating ? 1 : 0,
                                         count_fn, &p, sizeof p);
        assert_int_not_equal(id, 0);
        spin_us(lcg(&rng) % 2500);
        int rc = gs__timer_cancel(f->t, id);
        atomic_store(&cs.cancelled, 1);
        int seen = atomic_load(&cs.runs);
        wait_alive(f, 0);
        gs__sched_drain(f->s);
        int runs = atomic_load(&cs.runs);
        if (repeating) {
            /* Alive until cancelled. At most the one run already decided on when cancel took
             * the lock may begin after it returned; nothing after that. */
            assert_int_equal(rc, 0);
            assert_true(runs <= seen + 1);
        } else {
            assert_true(rc == 0 || rc == GS_ESTALE);
            assert_true(runs <= 1);
            if (rc == GS_ESTALE)
                assert_int_equal(runs, 1); /* ended means it ran */
            assert_true(runs <= seen + 1);
        }
        assert_int_equal(gs__timer_cancel(f->t, id), GS_ESTALE);
    }
}

/* ---- repeating ---------------------------------------------------------------------------- */

static void test_repeat_count(void **state) {
    fixture_t *f = *state;
    count_state_t cs = {.t = f->t};
    count_state_t *p = &cs;

    uint64_t t0 = gs_now_ns();
    gs_timer_id_t id = gs__timer_add(f->t, f->a[0], 20, 20, count_fn, &p, sizeof p);
    assert_int_not_equal(id, 0);
    gs_sleep_ms(500);
    assert_int_equal(gs__timer_cancel(f->t, id), 0);
    uint64_t elapsed_ms = (gs_now_ns() - t0) / NS_PER_MS;
    wait_alive(f, 0);
    int runs = atomic_load(&cs.runs);
    /* Correctness, not timing: deadlines are 20 ms apart and never earlier, so no more than
     * elapsed/20 (+1 decided before cancel); at least a handful even on a slow machine. */
    assert_true(runs >= 5);
    assert_true((uint64_t)runs <= elapsed_ms / 20 + 2);
}

typedef struct slow_state {
    _Atomic int inside;
    _Atomic int overlap;
    _Atomic int runs;
    _Atomic uint64_t max_queued;
    gs__sched_t *s;
} slow_state_t;

static void slow_fn(gs_ctx_t *ctx, void *data, size_t len) {
    slow_state_t *ss;
    gs__sched_stats_t st;
    (void)ctx;
    if (len != sizeof ss)
        abort();
    memcpy(&ss, data, sizeof ss);
    if (atomic_exchange(&ss->inside, 1) != 0)
        atomic_store(&ss->overlap, 1);
    gs_sleep_ms(50);
    /* This job is the only one posted and not finished: a second run posted meanwhile would
     * show up here. */
    gs__sched_stats(ss->s, &st);
    if (st.jobs_queued > atomic_load(&ss->max_queued))
        atomic_store(&ss->max_queued, st.jobs_queued);
    atomic_store(&ss->inside, 0);
    atomic_fetch_add(&ss->runs, 1);
}

static void test_slow_repeating(void **state) {
    fixture_t *f = *state;
    slow_state_t ss = {.s = f->s};
    slow_state_t *p = &ss;

    uint64_t t0 = gs_now_ns();
    gs_timer_id_t id = gs__timer_add(f->t, f->a[1], 0, 10, slow_fn, &p, sizeof p);
    assert_int_not_equal(id, 0);
    wait_count(&ss.runs, 4);
    assert_true(atomic_load(&ss.max_queued) <= 1); /* already, before cancel */
    assert_int_equal(gs__timer_cancel(f->t, id), 0);
    uint64_t elapsed_ms = (gs_now_ns() - t0) / NS_PER_MS;
    wait_alive(f, 0);
    gs__sched_drain(f->s);
    int runs = atomic_load(&ss.runs);
    assert_int_equal(atomic_load(&ss.overlap), 0);
    assert_true(atomic_load(&ss.max_queued) <= 1);
    /* Back to back at best (no burst after a late run): one run per 50 ms, +1 in flight. */
    assert_true((uint64_t)runs <= elapsed_ms / 50 + 1);
    gs__sched_stats_t st;
    gs__sched_stats(f->s, &st);
    /* One job per run, plus at most the one cancel found queued. */
    assert_true(st.jobs_posted >= (uint64_t)runs && st.jobs_posted <= (uint64_t)runs + 1);
}

typedef struct late_state {
    uint64_t start[3], end0; /* touched only by the timer's own runs (one actor) */
    _Atomic int runs;
} late_state_t;

static void late_fn(gs_ctx_t *ctx, void *data, size_t len) {
    late_state_t *ls;
    (void)ctx;
    if (len != sizeof ls)
        abort();
    memcpy(&ls, data, sizeof ls);
    int n = atomic_load_explicit(&ls->runs, memory_order_relaxed);
    if (n < 3)
        ls->start[n] = gs_now_ns();
    if (n == 0) {
        gs_sleep_ms(100); /* ten periods late */
        ls->end0 = gs_now_ns();
    }
    atomic_fetch_add_explicit(&ls->runs, 1, memory_order_release);
}

/* After a run that overran ten periods, the timer runs once at once and then keeps its period:
 * no burst of catch-up runs. The third run's deadline is at least one period after the re-arm
 * that followed the slow run, whatever the machine's load, so this bound cannot flake. */
static void test_late_run_no_burst(void **state) {
    fixture_t *f = *state;
    late_state_t ls = {0};
    late_state_t *p = &ls;

    gs_timer_id_t id = gs__timer_add(f->t, f->a[3], 0, 10, late_fn, &p, sizeof p);
    assert_int_not_equal(id, 0);
    uint64_t deadline = gs_now_ms() + WAIT_MS;
    while (atomic_load_explicit(&ls.runs, memory_order_acquire) < 3) {
        assert_true(gs_now_ms() < deadline);
        gs_sleep_ms(1);
    }
    assert_int_equal(gs__timer_cancel(f->t, id), 0);
    wait_alive(f, 0);
    assert_true(ls.start[1] >= ls.end0);
    assert_true(ls.start[2] >= ls.end0 + 10u * NS_PER_MS);
}

/* ---- ids ---------------------------------------------------------------------------------- */

static void test_stale_id_and_slot_reuse(void **state) {
    fixture_t *f = *state;
    count_state_t a = {.t = f->t}, b = {.t = f->t};
    count_state_t *pa = &a, *pb = &b;

    gs_timer_id_t old = gs__timer_add(f->t, f->a[0], 0, 0, count_fn, &pa, sizeof pa);
    assert_int_not_equal(old, 0);
    wait_count(&a.runs, 1);
    wait_alive(f, 0);
    assert_int_equal(gs__timer_cancel(f->t, old), GS_ESTALE);

    gs_timer_id_t neu = gs__timer_add(f->t, f->a[0], 30, 0, count_fn, &pb, sizeof pb);
    assert_int_not_equal(neu, 0);
    assert_int_equal((uint32_t)neu, (uint32_t)old); /* the slot was reused... */
    assert_int_not_equal(neu, old);                 /* ...under a new generation */
    assert_int_equal(gs__timer_cancel(f->t, old), GS_ESTALE);
    wait_count(&b.runs, 1);
    wait_alive(f, 0);
    assert_int_equal(atomic_load(&a.runs), 1);
    assert_int_equal(gs__timer_cancel(f->t, neu), GS_ESTALE);
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

/* Timers added before start wait in the heap and fire once the thread starts. */
static void test_add_before_start(void **state) {
    fixture_t *f = *state;
    count_state_t cs = {.t = f->t};
    count_state_t *p = &cs;

    assert_int_equal(gs__timers_start(f->t), GS_ESTATE); /* already started */
    gs__timers_stop(f->t);
    assert_int_equal(gs__timers_start(f->t), GS_ESTATE); /* stopped for good */
    gs__timers_destroy(f->t);
    assert_int_equal(gs__timers_create(&f->t, f->s), 0);
    cs.t = f->t;

    assert_int_not_equal(gs__timer_add(f->t, f->a[0], 0, 0, count_fn, &p, sizeof p), 0);
    assert_int_not_equal(gs__timer_add(f->t, f->a[1], 5, 5, count_fn, &p, sizeof p), 0);
    gs_sleep_ms(30);
    assert_int_equal(atomic_load(&cs.runs), 0); /* no thread yet */
    assert_int_equal(timer_alive(f), 2);
    assert_int_equal(gs__timers_start(f->t), 0);
    wait_count(&cs.runs, 4);
    /* teardown stops the repeating one: its actor reference goes with it. */
}

/* ---- stop --------------------------------------------------------------------------------- */

static void test_stop_with_pending(void **state) {
    fixture_t *f = *state;
    count_state_t cs = {.t = f->t};
    count_state_t *p = &cs;
    unsigned char big[200];
    uint32_t rng = 99;

    memcpy(big, &p, sizeof p);
    for (int i = 0; i < 10000; i++) {
        size_t len = (i % 3 == 0) ? sizeof big : sizeof p; /* data of several sizes to leak-check */
        uint32_t delay = 30000 + lcg(&rng) % 30000;
        assert_int_not_equal(
            gs__timer_add(f->t, f->a[i % NACT], delay, (i & 1) ? 100 : 0, count_fn, big, len), 0);
    }
    assert_int_equal(timer_alive(f), 10000);
    gs__timers_stop(f->t);
    assert_int_equal(timer_alive(f), 0);
    gs__timer_stats_t ts;
    gs__timers_stats(f->t, &ts);
    assert_int_equal(ts.cancelled, 10000);
    assert_int_equal(ts.runs, 0);
    /* Stopped: nothing new is accepted (the callback will not run). */
    assert_int_equal(gs__timer_add(f->t, f->a[0], 0, 0, count_fn, &p, sizeof p), 0);
    gs__timers_stop(f->t); /* idempotent */
    gs__sched_drain(f->s);
    assert_int_equal(atomic_load(&cs.runs), 0);
    /* teardown: actors alive back to 0 once the test drops its own references. */
}

/* A repeating timer whose job is queued or running when stop comes ends with that job. */
static void test_stop_with_run_in_flight(void **state) {
    fixture_t *f = *state;
    slow_state_t ss = {.s = f->s};
    slow_state_t *p = &ss;

    assert_int_not_equal(gs__timer_add(f->t, f->a[2], 0, 1, slow_fn, &p, sizeof p), 0);
    uint64_t deadline = gs_now_ms() + WAIT_MS;
    while (!atomic_load(&ss.inside)) {
        assert_true(gs_now_ms() < deadline);
        gs_sleep_ms(1);
    }
    gs__timers_stop(f->t);
    gs__sched_drain(f->s);
    assert_int_equal(timer_alive(f), 0);
    assert_int_equal(atomic_load(&ss.runs), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deadline_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_data_copied_and_aligned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_before_fire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_while_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_from_own_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_racing_fire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeat_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_repeating, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_run_no_burst, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_id_and_slot_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_before_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_with_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_with_run_in_flight, setup, teardown),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

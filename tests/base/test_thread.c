/* SPDX-License-Identifier: MIT */
/* Tests for the thread, mutex and condition variable shim: start/join, names, mutual exclusion,
 * argument errors, wake-ups by signal and broadcast, timed waits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gs_test.h"

#include "gs/base.h"
#include "thread_name.h"

typedef struct {
    int ran;
    void *arg_seen;
    char name[32];
} run_t;

static void record(void *arg) {
    run_t *r = arg;
    r->ran++;
    r->arg_seen = arg;
    (void)test_thread_name(r->name, sizeof r->name);
}

static void test_start_join(void **state) {
    run_t r = {0};
    gs_thread_t *t = NULL;
    (void)state;

    assert_int_equal(gs_thread_start(&t, record, &r, "gs-test"), 0);
    assert_non_null(t);
    gs_thread_join(t);
    /* join waited for the thread: its writes are visible and it ran once. */
    assert_int_equal(r.ran, 1);
    assert_ptr_equal(r.arg_seen, &r);
    assert_string_equal(r.name, "gs-test");
}

static void test_long_name_truncated(void **state) {
    run_t r = {0};
    gs_thread_t *t = NULL;
    (void)state;

    assert_int_equal(gs_thread_start(&t, record, &r, "0123456789abcdefghij"), 0);
    gs_thread_join(t);
    assert_int_equal(r.ran, 1);
    assert_string_equal(r.name, "0123456789abcde");
}

static void test_no_name(void **state) {
    run_t r = {0};
    gs_thread_t *t = NULL;
    (void)state;

    assert_int_equal(gs_thread_start(&t, record, &r, NULL), 0);
    gs_thread_join(t);
    assert_int_equal(r.ran, 1);
}

static void test_bad_arguments(void **state) {
    run_t r = {0};
    gs_thread_t *t = (gs_thread_t *)&r;
    (void)state;

    assert_int_equal(gs_thread_start(&t, NULL, &r, "x"), GS_EINVAL);
    assert_null(t);
    assert_int_equal(gs_thread_start(NULL, record, &r, "x"), GS_EINVAL);
    assert_int_equal(r.ran, 0);
}

#define WORKERS 4
#define ROUNDS  100000

typedef struct {
    gs_mutex_t lock;
    uint64_t counter; /* plain on purpose: only the mutex keeps the increments whole */
} shared_t;

static void add_many(void *arg) {
    shared_t *s = arg;
    for (int i = 0; i < ROUNDS; i++) {
        gs_mutex_lock(&s->lock);
        /* Read, yield the CPU now and then, write: lost updates show up without the lock. */
        uint64_t v = s->counter;
        if ((i & 1023) == 0)
            gs_thread_yield();
        s->counter = v + 1;
        gs_mutex_unlock(&s->lock);
    }
}

static void test_mutex_excludes(void **state) {
    shared_t s = {.counter = 0};
    gs_thread_t *t[WORKERS];
    (void)state;

    gs_mutex_init(&s.lock);
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(gs_thread_start(&t[i], add_many, &s, "gs-mutex"), 0);
    for (int i = 0; i < WORKERS; i++)
        gs_thread_join(t[i]);
    gs_mutex_lock(&s.lock);
    assert_int_equal(s.counter, (uint64_t)WORKERS * ROUNDS);
    gs_mutex_unlock(&s.lock);
    gs_mutex_fini(&s.lock);
}

/* A flag guarded by a mutex, with a condition variable for its changes: the predicate loop every
 * gs_cond_t user writes. */
typedef struct {
    gs_mutex_t lock;
    gs_cond_t changed;
    int go;      /* set by the main thread */
    int waiting; /* threads inside the wait loop */
    int woken;   /* threads that saw go */
    int timeouts;
} gate_t;

#define GATE_DEADLINE_MS 10000u

/* Wait for go with a deadline, so that a lost wake-up fails the test instead of hanging it. */
static void gate_wait(void *arg) {
    gate_t *g = arg;
    uint64_t deadline = gs_now_ms() + GATE_DEADLINE_MS;

    gs_mutex_lock(&g->lock);
    g->waiting++;
    gs_cond_broadcast(&g->changed);
    while (!g->go) {
        uint64_t now = gs_now_ms();
        if (now >= deadline) {
            g->timeouts++;
            break;
        }
        (void)gs_cond_timedwait_ms(&g->changed, &g->lock, (uint32_t)(deadline - now));
    }
    if (g->go)
        g->woken++;
    gs_mutex_unlock(&g->lock);
}

/* Main side: wait until n threads are inside the loop (bounded). */
static int gate_wait_waiting(gate_t *g, int n) {
    uint64_t deadline = gs_now_ms() + GATE_DEADLINE_MS;
    int ok;

    gs_mutex_lock(&g->lock);
    while (g->waiting < n && gs_now_ms() < deadline)
        (void)gs_cond_timedwait_ms(&g->changed, &g->lock, 100);
    ok = g->waiting >= n;
    gs_mutex_unlock(&g->lock);
    return ok;
}

static void gate_init(gate_t *g) {
    memset(g, 0, sizeof *g);
    gs_mutex_init(&g->lock);
    gs_cond_init(&g->changed);
}

static void gate_fini(gate_t *g) {
    gs_cond_fini(&g->changed);
    gs_mutex_fini(&g->lock);
}

static void test_cond_signal_wakes_waiter(void **state) {
    gate_t g;
    gs_thread_t *t = NULL;
    (void)state;

    gate_init(&g);
    assert_int_equal(gs_thread_start(&t, gate_wait, &g, "gs-cond"), 0);
    assert_true(gate_wait_waiting(&g, 1));
    gs_mutex_lock(&g.lock);
    g.go = 1;
    gs_cond_signal(&g.changed);
    gs_mutex_unlock(&g.lock);
    gs_thread_join(t);
    assert_int_equal(g.woken, 1);
    assert_int_equal(g.timeouts, 0);
    gate_fini(&g);
}

#define COND_WAITERS 4

static void test_cond_broadcast_wakes_all(void **state) {
    gate_t g;
    gs_thread_t *t[COND_WAITERS];
    (void)state;

    gate_init(&g);
    for (int i = 0; i < COND_WAITERS; i++)
        assert_int_equal(gs_thread_start(&t[i], gate_wait, &g, "gs-cond"), 0);
    assert_true(gate_wait_waiting(&g, COND_WAITERS));
    /* Signalled outside the mutex on purpose: the header allows it, and the waiters' predicate
     * loop still cannot miss the store made under the mutex. */
    gs_mutex_lock(&g.lock);
    g.go = 1;
    gs_mutex_unlock(&g.lock);
    gs_cond_broadcast(&g.changed);
    for (int i = 0; i < COND_WAITERS; i++)
        gs_thread_join(t[i]);
    assert_int_equal(g.woken, COND_WAITERS);
    assert_int_equal(g.timeouts, 0);
    gate_fini(&g);
}

static void test_cond_timedwait_times_out(void **state) {
    gate_t g;
    uint64_t t0, waited;
    int rc;
    (void)state;

    gate_init(&g);
    gs_mutex_lock(&g.lock);
    /* Nobody signals: the wait ends by timeout (a spurious wake-up returns 0 early, so retry
     * until the timeout is reported), with the mutex held again, after at least the timeout. */
    t0 = gs_now_ms();
    do
        rc = gs_cond_timedwait_ms(&g.changed, &g.lock, 50);
    while (rc == 0 && gs_now_ms() - t0 < GATE_DEADLINE_MS);
    waited = gs_now_ms() - t0;
    assert_int_equal(rc, GS_ETIMEDOUT);
    assert_true(waited >= 49); /* gs_now_ms truncates: allow the partial millisecond */
    g.go = 1;                  /* we hold the mutex again: a plain write is fine */
    gs_mutex_unlock(&g.lock);
    /* A zero timeout returns at once. */
    gs_mutex_lock(&g.lock);
    rc = 0;
    for (int i = 0; i < 1000 && rc == 0; i++)
        rc = gs_cond_timedwait_ms(&g.changed, &g.lock, 0);
    assert_int_equal(rc, GS_ETIMEDOUT);
    gs_mutex_unlock(&g.lock);
    gate_fini(&g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_join),
        cmocka_unit_test(test_long_name_truncated),
        cmocka_unit_test(test_no_name),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_mutex_excludes),
        cmocka_unit_test(test_cond_signal_wakes_waiter),
        cmocka_unit_test(test_cond_broadcast_wakes_all),
        cmocka_unit_test(test_cond_timedwait_times_out),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

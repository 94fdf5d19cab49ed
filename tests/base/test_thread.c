/* SPDX-License-Identifier: MIT */
/* Tests for the thread and mutex shim: start/join, names, mutual exclusion, argument errors. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gs/base.h"

typedef struct {
    int ran;
    void *arg_seen;
    char name[32];
} run_t;

static void record(void *arg) {
    run_t *r = arg;
    r->ran++;
    r->arg_seen = arg;
    if (pthread_getname_np(pthread_self(), r->name, sizeof r->name) != 0)
        r->name[0] = '\0';
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
            sched_yield();
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_join),     cmocka_unit_test(test_long_name_truncated),
        cmocka_unit_test(test_no_name),        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_mutex_excludes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

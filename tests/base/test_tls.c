/* SPDX-License-Identifier: MIT */
/* Tests for thread-local keys (pthread keys on POSIX, fiber-local storage on Windows): values
 * per thread, the destructor at thread exit, and no destructor once the key is deleted, even for
 * a thread that still holds a value (FlsFree would run it: base/thread_win.c prevents that). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "gs_test.h"

#include "gs/base.h"

static atomic_int destroyed;
static atomic_uintptr_t last_destroyed;

static void count_destructor(void *value) {
    atomic_fetch_add(&destroyed, 1);
    atomic_store(&last_destroyed, (uintptr_t)value);
}

static int reset(void **state) {
    (void)state;
    atomic_store(&destroyed, 0);
    atomic_store(&last_destroyed, 0);
    return 0;
}

typedef struct {
    gs_tls_key_t *key;
    void *value;
    void *seen_before; /* what the thread read before setting its value */
    void *seen_after;
    int set_rc;
} setter_t;

static void set_and_exit(void *arg) {
    setter_t *s = arg;
    s->seen_before = gs_tls_get(s->key);
    s->set_rc = gs_tls_set(s->key, s->value);
    s->seen_after = gs_tls_get(s->key);
}

static void test_values_are_per_thread(void **state) {
    gs_tls_key_t key;
    int mine, theirs;
    setter_t s;
    gs_thread_t *t;
    (void)state;

    assert_int_equal(gs_tls_key_create(&key, count_destructor), 0);
    assert_null(gs_tls_get(&key));
    assert_int_equal(gs_tls_set(&key, &mine), 0);
    assert_ptr_equal(gs_tls_get(&key), &mine);

    s = (setter_t){.key = &key, .value = &theirs};
    assert_int_equal(gs_thread_start(&t, set_and_exit, &s, "gs-tls"), 0);
    gs_thread_join(t);
    assert_int_equal(s.set_rc, 0);
    assert_null(s.seen_before); /* a new thread starts with NULL, not this thread's value */
    assert_ptr_equal(s.seen_after, &theirs);
    assert_ptr_equal(gs_tls_get(&key), &mine); /* untouched by the other thread */

    /* The exiting thread's value went to the destructor, once. */
    assert_int_equal(atomic_load(&destroyed), 1);
    assert_int_equal(atomic_load(&last_destroyed), (uintptr_t)&theirs);

    /* Setting NULL again is allowed and reads back as NULL. */
    assert_int_equal(gs_tls_set(&key, NULL), 0);
    assert_null(gs_tls_get(&key));
    gs_tls_key_delete(&key);
    assert_int_equal(atomic_load(&destroyed), 1);
}

static void test_no_destructor_for_null(void **state) {
    gs_tls_key_t key;
    int v;
    setter_t s;
    gs_thread_t *t;
    (void)state;

    assert_int_equal(gs_tls_key_create(&key, count_destructor), 0);
    /* A thread that never sets a value, and one that sets a value and clears it. */
    s = (setter_t){.key = &key, .value = NULL};
    assert_int_equal(gs_thread_start(&t, set_and_exit, &s, "gs-tls"), 0);
    gs_thread_join(t);
    assert_int_equal(s.set_rc, 0);
    assert_int_equal(gs_tls_set(&key, &v), 0);
    assert_int_equal(gs_tls_set(&key, NULL), 0);
    gs_tls_key_delete(&key);
    assert_int_equal(atomic_load(&destroyed), 0);
}

/* A thread that sets its value, then waits until told to exit. */
typedef struct {
    gs_tls_key_t *key;
    gs_mutex_t lock;
    gs_cond_t changed;
    int has_value;
    int may_exit;
} parked_t;

static void park(void *arg) {
    parked_t *p = arg;
    int rc = gs_tls_set(p->key, p);

    gs_mutex_lock(&p->lock);
    p->has_value = rc == 0 ? 1 : -1;
    gs_cond_broadcast(&p->changed);
    while (!p->may_exit)
        gs_cond_wait(&p->changed, &p->lock);
    gs_mutex_unlock(&p->lock);
}

static void test_delete_runs_no_destructor(void **state) {
    gs_tls_key_t key;
    parked_t p = {0};
    gs_thread_t *t;
    int mine;
    uint64_t deadline;
    (void)state;

    assert_int_equal(gs_tls_key_create(&key, count_destructor), 0);
    gs_mutex_init(&p.lock);
    gs_cond_init(&p.changed);
    p.key = &key;
    assert_int_equal(gs_thread_start(&t, park, &p, "gs-tls-park"), 0);
    deadline = gs_now_ms() + 10000;
    gs_mutex_lock(&p.lock);
    while (p.has_value == 0 && gs_now_ms() < deadline)
        (void)gs_cond_timedwait_ms(&p.changed, &p.lock, 100);
    gs_mutex_unlock(&p.lock);
    assert_int_equal(p.has_value, 1);
    assert_int_equal(gs_tls_set(&key, &mine), 0);

    /* Both this thread and the parked one hold a value: neither reaches the destructor, now or
     * when the parked thread exits. */
    gs_tls_key_delete(&key);
    assert_int_equal(atomic_load(&destroyed), 0);
    gs_mutex_lock(&p.lock);
    p.may_exit = 1;
    gs_cond_broadcast(&p.changed);
    gs_mutex_unlock(&p.lock);
    gs_thread_join(t);
    assert_int_equal(atomic_load(&destroyed), 0);
    gs_cond_fini(&p.changed);
    gs_mutex_fini(&p.lock);
}

enum { KEYS = 3, THREADS = 8 };

/* One thread's setters, one per key. */
typedef struct {
    setter_t s[KEYS];
} multi_t;

static void set_all(void *arg) {
    multi_t *m = arg;
    for (int k = 0; k < KEYS; k++)
        set_and_exit(&m->s[k]);
}

static void test_many_threads_and_keys(void **state) {
    gs_tls_key_t keys[KEYS];
    multi_t m[THREADS];
    gs_thread_t *t[THREADS];
    (void)state;

    for (int k = 0; k < KEYS; k++)
        assert_int_equal(gs_tls_key_create(&keys[k], count_destructor), 0);
    for (int i = 0; i < THREADS; i++)
        for (int k = 0; k < KEYS; k++)
            m[i].s[k] = (setter_t){.key = &keys[k], .value = &m[i].s[k]};
    /* All threads at once: each sets one value per key and exits. */
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(gs_thread_start(&t[i], set_all, &m[i], "gs-tls"), 0);
    for (int i = 0; i < THREADS; i++)
        gs_thread_join(t[i]);
    for (int i = 0; i < THREADS; i++)
        for (int k = 0; k < KEYS; k++) {
            assert_int_equal(m[i].s[k].set_rc, 0);
            assert_null(m[i].s[k].seen_before);
            assert_ptr_equal(m[i].s[k].seen_after, &m[i].s[k]);
        }
    assert_int_equal(atomic_load(&destroyed), KEYS * THREADS);
    for (int k = 0; k < KEYS; k++)
        gs_tls_key_delete(&keys[k]);
    assert_int_equal(atomic_load(&destroyed), KEYS * THREADS);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_values_are_per_thread, reset),
        cmocka_unit_test_setup(test_no_destructor_for_null, reset),
        cmocka_unit_test_setup(test_delete_runs_no_destructor, reset),
        cmocka_unit_test_setup(test_many_threads_and_keys, reset),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

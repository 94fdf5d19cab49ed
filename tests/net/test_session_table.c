/* SPDX-License-Identifier: MIT */
/* Session table: slot allocation order, generations, stale ids, and the life word's
 * "release exactly once" rule under concurrent acquire/put. Pure: no sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "gs_test.h"

#include "session_table.h"

static void alloc_lowest_first_and_full(void **state) {
    (void)state;
    gs__session_table_t t;
    assert_int_equal(gs__table_init(&t, 3), 0);
    uint64_t a = gs__table_alloc(&t), b = gs__table_alloc(&t), c = gs__table_alloc(&t);
    assert_int_equal((uint32_t)a, 0);
    assert_int_equal((uint32_t)b, 1);
    assert_int_equal((uint32_t)c, 2);
    assert_true(a != 0);                      /* generation starts at 1: no id is 0 */
    assert_int_equal(gs__table_alloc(&t), 0); /* full */
    assert_int_equal(gs__table_used(&t), 3);
    gs__table_fini(&t);
}

static void stale_after_release_and_reuse(void **state) {
    (void)state;
    gs__session_table_t t;
    assert_int_equal(gs__table_init(&t, 1), 0);
    uint64_t x = gs__table_alloc(&t);
    assert_int_equal(gs__table_acquire(&t, x), 0);
    assert_false(gs__life_put(&t.life[0]));         /* back to the open reference */
    assert_true(gs__life_put(&t.life[0]));          /* last one: caller releases */
    assert_int_equal(gs__table_acquire(&t, x), -1); /* count 0: stale even before the free */
    gs__table_free(&t, 0);
    uint64_t y = gs__table_alloc(&t);
    assert_int_equal((uint32_t)y, (uint32_t)x); /* same slot */
    assert_true(y != x);                        /* new generation */
    assert_int_equal(gs__table_acquire(&t, x), -1);
    assert_int_equal(gs__table_acquire(&t, y), 0);
    gs__table_fini(&t);
}

static void out_of_range_slot_is_stale(void **state) {
    (void)state;
    gs__session_table_t t;
    assert_int_equal(gs__table_init(&t, 2), 0);
    assert_int_equal(gs__table_acquire(&t, ((uint64_t)1 << 32) | 7u), -1);
    assert_int_equal(gs__table_acquire(&t, 0), -1); /* free slot 0, generation 1, count 0 */
    assert_int_equal(gs__table_init(&t, 0), GS_EINVAL);
    gs__table_fini(&t);
}

static void churn_ids_never_repeat(void **state) {
    (void)state;
    gs__session_table_t t;
    assert_int_equal(gs__table_init(&t, 1), 0);
    uint64_t prev = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t id = gs__table_alloc(&t);
        assert_true(id != 0 && id != prev);
        assert_int_equal(gs__table_acquire(&t, prev), -1);
        assert_true(gs__life_put(&t.life[0]));
        gs__table_free(&t, 0);
        prev = id;
    }
    gs__table_fini(&t);
}

/* Four threads acquire and put the same id while the owner drops the open reference: exactly
 * one put reports "last", and no acquire succeeds after it. */
typedef struct {
    gs__session_table_t *t;
    uint64_t id;
    _Atomic int lasts;
    _Atomic int go;
} race_t;

static void racer(void *arg) {
    race_t *r = arg;
    while (!atomic_load(&r->go)) {
    }
    for (int i = 0; i < 20000; i++) {
        if (gs__table_acquire(r->t, r->id) < 0)
            break;
        if (gs__life_put(&r->t->life[(uint32_t)r->id]))
            atomic_fetch_add(&r->lasts, 1);
    }
}

static void release_exactly_once_under_race(void **state) {
    (void)state;
    for (int round = 0; round < 50; round++) {
        gs__session_table_t t;
        assert_int_equal(gs__table_init(&t, 4), 0);
        race_t r = {.t = &t};
        r.id = gs__table_alloc(&t);
        atomic_init(&r.lasts, 0);
        atomic_init(&r.go, 0);
        gs_thread_t *th[4];
        for (int i = 0; i < 4; i++)
            assert_int_equal(gs_thread_start(&th[i], racer, &r, "racer"), 0);
        atomic_store(&r.go, 1);
        if (gs__life_put(&t.life[(uint32_t)r.id])) /* the owner's open reference */
            atomic_fetch_add(&r.lasts, 1);
        for (int i = 0; i < 4; i++)
            gs_thread_join(th[i]);
        assert_int_equal(atomic_load(&r.lasts), 1);
        assert_int_equal(gs__table_acquire(&t, r.id), -1);
        gs__table_fini(&t);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(alloc_lowest_first_and_full),
        cmocka_unit_test(stale_after_release_and_reuse),
        cmocka_unit_test(out_of_range_slot_is_stale),
        cmocka_unit_test(churn_ids_never_repeat),
        cmocka_unit_test(release_exactly_once_under_race),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

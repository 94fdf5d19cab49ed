/* SPDX-License-Identifier: MIT */
/* Tests for the intrusive doubly linked list and gs_container_of. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "gs_test.h"

#include "gs/base.h"

typedef struct {
    int id;
    char pad[13]; /* puts the link at an odd offset, so container_of must subtract it */
    gs_list_t link;
} item_t;

/* Walks the list both ways and checks it holds exactly the ids in want, in order. */
static void check_list(gs_list_t *h, const int *want, size_t n) {
    size_t i = 0;
    gs_list_t *p;

    for (p = h->next; p != h; p = p->next) {
        assert_true(i < n);
        assert_ptr_equal(p->next->prev, p);
        assert_int_equal(gs_container_of(p, item_t, link)->id, want[i]);
        i++;
    }
    assert_int_equal(i, n);
    for (p = h->prev; p != h; p = p->prev) {
        assert_true(i > 0);
        i--;
        assert_int_equal(gs_container_of(p, item_t, link)->id, want[i]);
    }
    assert_int_equal(i, 0);
    assert_int_equal(gs_list_empty(h), n == 0);
}

static void test_container_of(void **state) {
    item_t it = {.id = 7};
    (void)state;
    assert_ptr_equal(gs_container_of(&it.link, item_t, link), &it);
    assert_int_equal(gs_container_of(&it.link, item_t, link)->id, 7);
}

static void test_empty(void **state) {
    gs_list_t h;
    (void)state;
    gs_list_init(&h);
    assert_true(gs_list_empty(&h));
    assert_ptr_equal(h.next, &h);
    assert_ptr_equal(h.prev, &h);
    check_list(&h, NULL, 0);
}

static void test_insert_tail_order(void **state) {
    item_t it[5];
    gs_list_t h;
    static const int want[] = {0, 1, 2, 3, 4};
    (void)state;

    gs_list_init(&h);
    for (int i = 0; i < 5; i++) {
        it[i].id = i;
        gs_list_insert_tail(&h, &it[i].link);
        assert_false(gs_list_empty(&h));
        check_list(&h, want, (size_t)i + 1);
    }
}

static void test_remove(void **state) {
    item_t it[5];
    gs_list_t h;
    (void)state;

    gs_list_init(&h);
    for (int i = 0; i < 5; i++) {
        it[i].id = i;
        gs_list_insert_tail(&h, &it[i].link);
    }

    gs_list_remove(&it[2].link); /* middle */
    check_list(&h, (const int[]){0, 1, 3, 4}, 4);
    /* A removed node points at itself, so removing it again is harmless. */
    assert_ptr_equal(it[2].link.next, &it[2].link);
    assert_ptr_equal(it[2].link.prev, &it[2].link);
    gs_list_remove(&it[2].link);
    check_list(&h, (const int[]){0, 1, 3, 4}, 4);

    gs_list_remove(&it[0].link); /* first */
    check_list(&h, (const int[]){1, 3, 4}, 3);
    gs_list_remove(&it[4].link); /* last */
    check_list(&h, (const int[]){1, 3}, 2);

    /* A removed node can go back in, at the tail. */
    gs_list_insert_tail(&h, &it[0].link);
    check_list(&h, (const int[]){1, 3, 0}, 3);

    gs_list_remove(&it[1].link);
    gs_list_remove(&it[3].link);
    gs_list_remove(&it[0].link);
    check_list(&h, NULL, 0);
    assert_ptr_equal(h.next, &h);
    assert_ptr_equal(h.prev, &h);
}

static void test_drain_while_iterating(void **state) {
    item_t it[4];
    gs_list_t h;
    int seen = 0;
    (void)state;

    gs_list_init(&h);
    for (int i = 0; i < 4; i++) {
        it[i].id = i;
        gs_list_insert_tail(&h, &it[i].link);
    }
    /* The usual consumer loop: take the first until empty. */
    while (!gs_list_empty(&h)) {
        gs_list_t *first = h.next;
        gs_list_remove(first);
        assert_int_equal(gs_container_of(first, item_t, link)->id, seen);
        seen++;
    }
    assert_int_equal(seen, 4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_container_of),          cmocka_unit_test(test_empty),
        cmocka_unit_test(test_insert_tail_order),     cmocka_unit_test(test_remove),
        cmocka_unit_test(test_drain_while_iterating),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

/* SPDX-License-Identifier: MIT */
/* Tests for the intrusive MPSC queue: FIFO order, empty and half-done states, and four producers
 * against one consumer with every element checked for loss, duplication and per-producer order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "gs_test.h"

#include "gs/base.h"

typedef struct {
    gs_mpsc_node_t node;
    uint32_t producer;
    uint32_t seq;
    int popped;
} item_t;

static item_t *pop_item(gs_mpsc_t *q) {
    gs_mpsc_node_t *n = gs_mpsc_pop(q);
    return n != NULL ? gs_container_of(n, item_t, node) : NULL;
}

static void test_layout(void **state) {
    (void)state;
    /* The header promises 24 unpadded bytes on 64-bit targets: one queue per session. */
    if (sizeof(void *) == 8)
        assert_int_equal(sizeof(gs_mpsc_t), 24);
}

static void test_empty_queue(void **state) {
    gs_mpsc_t q;
    (void)state;

    gs_mpsc_init(&q);
    assert_true(gs_mpsc_empty(&q));
    assert_null(gs_mpsc_pop(&q));
    assert_null(gs_mpsc_pop(&q));
    assert_true(gs_mpsc_empty(&q));
}

static void test_fifo_single_thread(void **state) {
    item_t it[10];
    gs_mpsc_t q;
    (void)state;

    gs_mpsc_init(&q);
    for (uint32_t i = 0; i < 10; i++) {
        it[i].seq = i;
        gs_mpsc_push(&q, &it[i].node);
        assert_false(gs_mpsc_empty(&q));
    }
    for (uint32_t i = 0; i < 10; i++) {
        item_t *p = pop_item(&q);
        assert_ptr_equal(p, &it[i]);
        assert_int_equal(p->seq, i);
    }
    assert_null(gs_mpsc_pop(&q));
    assert_true(gs_mpsc_empty(&q));
}

/* Pushes and pops interleaved with the queue running dry in between, so that the stub is skipped
 * and re-inserted many times, and nodes are reused right after they are popped. */
static void test_interleaved_reuse(void **state) {
    item_t it[4];
    gs_mpsc_t q;
    uint32_t next_seq = 0, want_seq = 0;
    (void)state;

    gs_mpsc_init(&q);
    for (int round = 0; round < 1000; round++) {
        int burst = round % 4 + 1;
        for (int i = 0; i < burst; i++) {
            it[i].seq = next_seq++;
            gs_mpsc_push(&q, &it[i].node);
        }
        /* Pop all but one, push nothing, then pop the last: the lone-element path. */
        for (int i = 0; i < burst; i++) {
            item_t *p = pop_item(&q);
            assert_ptr_equal(p, &it[i]);
            assert_int_equal(p->seq, want_seq++);
            if (i < burst - 1)
                assert_false(gs_mpsc_empty(&q));
        }
        assert_true(gs_mpsc_empty(&q));
        assert_null(gs_mpsc_pop(&q));
    }

    /* Single element pushed and popped repeatedly, node reused every time. */
    for (uint32_t i = 0; i < 100; i++) {
        it[0].seq = i;
        gs_mpsc_push(&q, &it[0].node);
        assert_false(gs_mpsc_empty(&q));
        assert_ptr_equal(pop_item(&q), &it[0]);
        assert_true(gs_mpsc_empty(&q));
    }
}

/* Reproduces a producer stopped between its exchange on head and its link, using the fields the
 * header exposes: pop must report NULL, not hand out an element whose successor is unknown, and
 * not lose anything once the push completes. */
static void test_push_half_done(void **state) {
    item_t a = {.seq = 1}, b = {.seq = 2};
    gs_mpsc_node_t *prev;
    gs_mpsc_t q;
    (void)state;

    gs_mpsc_init(&q);

    /* Half push into an empty queue. */
    atomic_store_explicit(&a.node.next, NULL, memory_order_relaxed);
    prev = atomic_exchange_explicit(&q.head, &a.node, memory_order_acq_rel);
    assert_ptr_equal(prev, &q.stub);
    assert_false(gs_mpsc_empty(&q));
    assert_null(gs_mpsc_pop(&q));
    assert_false(gs_mpsc_empty(&q));
    atomic_store_explicit(&prev->next, &a.node, memory_order_release);

    /* Half push behind a: a is linked but its successor is not yet. */
    atomic_store_explicit(&b.node.next, NULL, memory_order_relaxed);
    prev = atomic_exchange_explicit(&q.head, &b.node, memory_order_acq_rel);
    assert_ptr_equal(prev, &a.node);
    assert_null(gs_mpsc_pop(&q));
    assert_false(gs_mpsc_empty(&q));
    atomic_store_explicit(&prev->next, &b.node, memory_order_release);

    assert_ptr_equal(pop_item(&q), &a);
    assert_ptr_equal(pop_item(&q), &b);
    assert_null(gs_mpsc_pop(&q));
    assert_true(gs_mpsc_empty(&q));
}

#define PRODUCERS    4
#define PER_PRODUCER 200000u
#define DEADLINE_NS  (60ull * 1000000000ull)

typedef struct {
    gs_mpsc_t *q;
    item_t *items;
    uint32_t id;
    atomic_int *go;
} producer_t;

static void producer_main(void *arg) {
    producer_t *p = arg;

    /* Start together so that the pushes really overlap. Acquire pairs with the release store of
     * go; it only matters for the start, the queue itself publishes the items. */
    while (!atomic_load_explicit(p->go, memory_order_acquire))
        gs_thread_yield();
    for (uint32_t i = 0; i < PER_PRODUCER; i++) {
        item_t *it = &p->items[i];
        /* Written before the push and read by the consumer after its pop: a missing release or
         * acquire in the queue shows up here as a data race under TSAN or as a wrong value. */
        it->producer = p->id;
        it->seq = i;
        it->popped = 0;
        gs_mpsc_push(p->q, &it->node);
    }
}

static void test_four_producers_one_consumer(void **state) {
    static gs_mpsc_t q; /* static: 800000 pointers into it must outlive any early return */
    producer_t prod[PRODUCERS];
    gs_thread_t *threads[PRODUCERS];
    uint32_t expected[PRODUCERS] = {0};
    atomic_int go = 0;
    uint64_t got = 0, empty_pops = 0, deadline;
    const char *failure = NULL;
    unsigned bad_producer = 0, bad_seq = 0;
    (void)state;

    gs_mpsc_init(&q);
    for (uint32_t i = 0; i < PRODUCERS; i++) {
        prod[i].q = &q;
        prod[i].items = calloc(PER_PRODUCER, sizeof(item_t));
        assert_non_null(prod[i].items);
        prod[i].id = i;
        prod[i].go = &go;
    }
    for (uint32_t i = 0; i < PRODUCERS; i++)
        assert_int_equal(gs_thread_start(&threads[i], producer_main, &prod[i], "mpsc-producer"), 0);
    atomic_store_explicit(&go, 1, memory_order_release);

    deadline = gs_now_ns() + DEADLINE_NS;
    while (got < (uint64_t)PRODUCERS * PER_PRODUCER) {
        item_t *it = pop_item(&q);
        if (it == NULL) {
            /* Empty or a push half done: both resolve as the producers run. */
            empty_pops++;
            if ((empty_pops & 255) == 0) {
                if (gs_now_ns() > deadline) {
                    failure = "deadline passed before every element arrived";
                    break;
                }
                gs_thread_yield();
            }
            continue;
        }
        /* Record the first failure and stop consuming; producers never block, so they still
         * finish and can be joined before the test fails. */
        if (it->producer >= PRODUCERS) {
            failure = "element with a bad producer id";
        } else if (it->popped) {
            failure = "element popped twice";
        } else if (it->seq != expected[it->producer]) {
            failure = "element out of its producer's order (lost, duplicated or reordered)";
        } else if (it != &prod[it->producer].items[it->seq]) {
            failure = "element does not match its node";
        }
        if (failure != NULL) {
            bad_producer = it->producer;
            bad_seq = it->seq;
            break;
        }
        it->popped = 1;
        expected[it->producer]++;
        got++;
    }

    for (uint32_t i = 0; i < PRODUCERS; i++)
        gs_thread_join(threads[i]);
    /* All producers are joined: nothing is in flight, so the queue must be empty for good. */
    gs_mpsc_node_t *left = gs_mpsc_pop(&q);
    int empty = gs_mpsc_empty(&q);
    for (uint32_t i = 0; i < PRODUCERS; i++)
        free(prod[i].items);

    if (failure != NULL)
        fail_msg("%s (producer %u seq %u, %llu received)", failure, bad_producer, bad_seq,
                 (unsigned long long)got);
    for (uint32_t i = 0; i < PRODUCERS; i++)
        assert_int_equal(expected[i], PER_PRODUCER);
    assert_int_equal(got, (uint64_t)PRODUCERS * PER_PRODUCER);
    assert_null(left);
    assert_true(empty);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_empty_queue),
        cmocka_unit_test(test_fifo_single_thread),
        cmocka_unit_test(test_interleaved_reuse),
        cmocka_unit_test(test_push_half_done),
        cmocka_unit_test(test_four_producers_one_consumer),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

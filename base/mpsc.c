/* SPDX-License-Identifier: MIT */
/* Vyukov's intrusive non-blocking multi-producer single-consumer queue with a stub node.
 * See https://www.1024cores.net/home/lock-free-algorithms/queues/intrusive-mpsc-node-based-queue
 *
 * The queue is a singly linked list from tail (oldest, consumer side) to head (newest, producer
 * side), linked through each node's next. The stub node keeps the list non-empty, so a producer
 * never has to touch tail and the consumer never has to touch head except to re-insert the stub.
 * A push is two steps (swap head, then link the previous head to the new node); between them
 * the list is cut in two, and pop reports that "push half done" state as NULL. */
#include "gs/base.h"

void gs_mpsc_init(gs_mpsc_t *q) {
    /* Relaxed: initialisation happens before the queue is shared, and whatever shares it (thread
     * start, a mutex, a release store of the owner) publishes these stores. */
    atomic_store_explicit(&q->stub.next, NULL, memory_order_relaxed);
    atomic_store_explicit(&q->head, &q->stub, memory_order_relaxed);
    q->tail = &q->stub;
}

void gs_mpsc_push(gs_mpsc_t *q, gs_mpsc_node_t *n) {
    gs_mpsc_node_t *prev;

    /* Relaxed: n is not reachable by anyone yet. This store is published by the release half of
     * the exchange below (to the next producer, which links n) and by the release store of
     * prev->next (to the consumer, which reaches n through it). */
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    /* acq_rel. Release: the next producer, whose exchange reads n from head, must see n->next =
     * NULL before it stores n->next = its node, or our NULL could land after its link and cut the
     * list. Acquire: the symmetric case, prev's own "prev->next = NULL" by the producer that
     * pushed prev must happen before our store to prev->next below. */
    prev = atomic_exchange_explicit(&q->head, n, memory_order_acq_rel);
    /* Release: the consumer loads prev->next with acquire; this makes everything the caller
     * wrote into the element before pushing (its payload) and n->next = NULL visible to it. */
    atomic_store_explicit(&prev->next, n, memory_order_release);
}

gs_mpsc_node_t *gs_mpsc_pop(gs_mpsc_t *q) {
    gs_mpsc_node_t *tail = q->tail;
    /* Acquire on every load of a next pointer: it pairs with the release store in push, so the
     * node we reach through it has its payload and its own next initialised. */
    gs_mpsc_node_t *next = atomic_load_explicit(&tail->next, memory_order_acquire);
    gs_mpsc_node_t *head;

    if (tail == &q->stub) {
        if (next == NULL)
            return NULL; /* Empty, or the first push after empty is half done. */
        /* Skip the stub: it carries no element. */
        q->tail = next;
        tail = next;
        next = atomic_load_explicit(&tail->next, memory_order_acquire);
    }
    if (next != NULL) {
        /* tail has a successor, so no producer can still be linking to tail: hand it out. */
        q->tail = next;
        return tail;
    }

    /* tail is the last linked node. Relaxed: head is only compared, never dereferenced, and a
     * stale value is harmless (we either report NULL or re-insert the stub behind the newest
     * head, since the exchange in push always sees the latest head). */
    head = atomic_load_explicit(&q->head, memory_order_relaxed);
    if (tail != head)
        return NULL; /* A producer swapped head but has not linked tail->next yet. */

    /* tail is the only element. It cannot be handed out while head still points at it (the next
     * producer would write into its next after the caller reused it), so push the stub behind
     * it and hand tail out once it has a successor. */
    gs_mpsc_push(q, &q->stub);
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (next != NULL) {
        q->tail = next;
        return tail;
    }
    /* Another producer got between the head check and the stub push and is half done; its
     * element and the stub follow tail once it links. */
    return NULL;
}

int gs_mpsc_empty(gs_mpsc_t *q) {
    /* Only the consumer moves tail, and after the last element is popped tail is the stub again.
     * Relaxed on head: it is only compared, and a push that happened before this call (through
     * whatever wake-up told the consumer about it) is visible by coherence. head != stub while
     * tail is the stub means a push has swapped head but not linked yet: not empty. */
    return q->tail == &q->stub && atomic_load_explicit(&q->head, memory_order_relaxed) == &q->stub;
}

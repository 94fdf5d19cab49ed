/* SPDX-License-Identifier: MIT */
/* Session table: fixed-capacity slots, a stack of free slot indices, and the "life word" that
 * names a session by generation and counts its references. Pure: no IO; the slot payload is
 * opaque here (net/session.c stores gs__session_t). */
#ifndef GS_NET_SESSION_TABLE_H
#define GS_NET_SESSION_TABLE_H

#include <stdatomic.h>
#include <stdint.h>

#include "gs/base.h"

/* Life word of a slot: generation in the high 32 bits, reference count in the low 32.
 * - A free slot has count 0. Allocation sets count 1 (the session's own "open" reference).
 * - Acquire by id succeeds only while the generation matches and count > 0, so once the count
 *   has reached 0 nobody can revive it: the thread whose put reached 0 is the only releaser.
 * - Release bumps the generation (count stays 0), which makes every old id stale at once. */
typedef _Atomic uint64_t gs__life_t;

#define GS__LIFE_GEN(w)   ((uint32_t)((w) >> 32))
#define GS__LIFE_COUNT(w) ((uint32_t)(w))

/* Take a reference for generation gen. Returns 1 on success, 0 if stale or released. */
static inline int gs__life_acquire(gs__life_t *life, uint32_t gen) {
    uint64_t w = atomic_load_explicit(life, memory_order_acquire);
    for (;;) {
        if (GS__LIFE_GEN(w) != gen || GS__LIFE_COUNT(w) == 0)
            return 0;
        /* acquire on success: what the releaser will publish must not be read before it. */
        if (atomic_compare_exchange_weak_explicit(life, &w, w + 1, memory_order_acq_rel,
                                                  memory_order_acquire))
            return 1;
    }
}
/* Add a reference when one is already held (cannot fail). */
static inline void gs__life_ref(gs__life_t *life) {
    atomic_fetch_add_explicit(life, 1, memory_order_relaxed);
}
/* Drop a reference. Returns 1 if this was the last one: the caller must release the slot. */
static inline int gs__life_put(gs__life_t *life) {
    /* acq_rel: every write made under a reference happens-before the release. */
    uint64_t prev = atomic_fetch_sub_explicit(life, 1, memory_order_acq_rel);
    return GS__LIFE_COUNT(prev) == 1;
}

typedef struct gs__session_table {
    uint32_t capacity;
    uint32_t free_top; /* number of indices on the free stack */
    uint32_t *free;    /* stack of free slot indices; top = free[free_top - 1] */
    gs__life_t *life;  /* one life word per slot */
    gs_mutex_t lock;   /* guards free/free_top: allocation and release are not hot paths */
} gs__session_table_t;

/* Capacity must be >= 1. Slots are handed out lowest index first. Returns 0 or GS_ENOMEM. */
int gs__table_init(gs__session_table_t *t, uint32_t capacity);
void gs__table_fini(gs__session_table_t *t);

/* Pop a free slot and make it live with count 1. Returns the new id (generation << 32 | slot)
 * or 0 when full. Any thread. */
uint64_t gs__table_alloc(gs__session_table_t *t);
/* After the last put: bump the slot's generation and push it back. Any thread. */
void gs__table_free(gs__session_table_t *t, uint32_t slot);

/* Acquire by id: returns the slot index (>= 0) with a reference taken, or -1 if stale. */
static inline int64_t gs__table_acquire(gs__session_table_t *t, uint64_t id) {
    uint32_t slot = (uint32_t)id;
    if (slot >= t->capacity)
        return -1;
    return gs__life_acquire(&t->life[slot], (uint32_t)(id >> 32)) ? (int64_t)slot : -1;
}

/* Number of live slots. Any thread (takes the lock). */
uint32_t gs__table_used(gs__session_table_t *t);

#endif /* GS_NET_SESSION_TABLE_H */

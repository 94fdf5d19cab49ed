/* SPDX-License-Identifier: MIT */
/* Session table: free-index stack under a mutex plus per-slot life words (see the header). */
#include "session_table.h"

#include <stdlib.h>

int gs__table_init(gs__session_table_t *t, uint32_t capacity) {
    if (capacity == 0)
        return GS_EINVAL;
    t->capacity = capacity;
    t->free = malloc(sizeof(uint32_t) * capacity);
    t->life = malloc(sizeof(gs__life_t) * capacity);
    if (!t->free || !t->life) {
        free(t->free);
        free(t->life);
        return GS_ENOMEM;
    }
    /* Push in reverse so that the lowest index is on top: a small server touches few slots. */
    for (uint32_t i = 0; i < capacity; i++) {
        t->free[i] = capacity - 1 - i;
        /* Generation starts at 1 so that no id is ever 0 (GS_SESSION_NONE). */
        atomic_init(&t->life[i], (uint64_t)1 << 32);
    }
    t->free_top = capacity;
    gs_mutex_init(&t->lock);
    return 0;
}

void gs__table_fini(gs__session_table_t *t) {
    gs_mutex_fini(&t->lock);
    free(t->free);
    free(t->life);
    t->free = NULL;
    t->life = NULL;
}

uint64_t gs__table_alloc(gs__session_table_t *t) {
    gs_mutex_lock(&t->lock);
    if (t->free_top == 0) {
        gs_mutex_unlock(&t->lock);
        return 0;
    }
    uint32_t slot = t->free[--t->free_top];
    gs_mutex_unlock(&t->lock);
    uint64_t w = atomic_load_explicit(&t->life[slot], memory_order_relaxed);
    uint32_t gen = GS__LIFE_GEN(w);
    /* release: the caller initialises the session before publishing the id, and an acquirer
     * that sees count 1 must see that initialisation (the caller's stores come before its own
     * publication of the id, which is what orders them; this store just makes the slot live). */
    atomic_store_explicit(&t->life[slot], ((uint64_t)gen << 32) | 1u, memory_order_release);
    return ((uint64_t)gen << 32) | slot;
}

void gs__table_free(gs__session_table_t *t, uint32_t slot) {
    uint64_t w = atomic_load_explicit(&t->life[slot], memory_order_relaxed);
    uint32_t gen = GS__LIFE_GEN(w) + 1;
    if (gen == 0)
        gen = 1; /* wrapped: keep ids non-zero */
    atomic_store_explicit(&t->life[slot], (uint64_t)gen << 32, memory_order_release);
    gs_mutex_lock(&t->lock);
    t->free[t->free_top++] = slot;
    gs_mutex_unlock(&t->lock);
}

uint32_t gs__table_used(gs__session_table_t *t) {
    gs_mutex_lock(&t->lock);
    uint32_t used = t->capacity - t->free_top;
    gs_mutex_unlock(&t->lock);
    return used;
}

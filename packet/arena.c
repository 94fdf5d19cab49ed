/* SPDX-License-Identifier: MIT */
/* Bump arena for decoded messages: one block kept across resets, more blocks on demand, a limit
 * on what one decode may take. */
#include <stdlib.h>
#include <string.h>

#include "gs/packet.h"

#define FIRST_BLOCK_DEFAULT 4096u
#define ALIGN               16u

typedef struct block {
    struct block *next;
    size_t size; /* usable bytes after the header */
    _Alignas(16) unsigned char mem[];
} block_t;

struct gs_arena {
    ProtobufCAllocator pc; /* first: handed to protobuf-c */
    block_t *cur;          /* block being bumped */
    size_t used;           /* bytes used in cur */
    block_t *extra;        /* blocks after the first, newest first */
    size_t limit;          /* 0 = none */
    gs_arena_stats_t st;
    block_t *first;
};

static void *pc_alloc(void *data, size_t size) { return gs_arena_alloc(data, size); }
static void pc_free(void *data, void *ptr) {
    (void)data;
    (void)ptr; /* freed all at once by gs_arena_reset */
}

gs_arena_t *gs_arena_create(size_t first_block) {
    if (first_block == 0)
        first_block = FIRST_BLOCK_DEFAULT;
    gs_arena_t *a = calloc(1, sizeof(*a));
    block_t *b = malloc(sizeof(block_t) + first_block);
    if (!a || !b) {
        free(a);
        free(b);
        return NULL;
    }
    b->next = NULL;
    b->size = first_block;
    a->first = a->cur = b;
    a->pc.alloc = pc_alloc;
    a->pc.free = pc_free;
    a->pc.allocator_data = a;
    a->st.block_mallocs = 1;
    return a;
}

void gs_arena_destroy(gs_arena_t *a) {
    if (!a)
        return;
    gs_arena_reset(a);
    free(a->first);
    free(a);
}

void gs_arena_reset(gs_arena_t *a) {
    for (block_t *b = a->extra, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    a->extra = NULL;
    a->cur = a->first;
    a->used = 0;
    a->limit = 0;
    a->st.bytes = 0;
}

void gs_arena_set_limit(gs_arena_t *a, size_t limit) { a->limit = limit; }

void *gs_arena_alloc(gs_arena_t *a, size_t size) {
    if (size == 0)
        size = 1;
    size_t rounded = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (rounded < size ||
        (a->limit && (a->st.bytes > a->limit || rounded > a->limit - a->st.bytes))) {
        a->st.refusals++;
        return NULL;
    }
    if (rounded > a->cur->size - a->used) {
        /* Grow geometrically from the first block's size so that a big message takes few
         * mallocs; the new block becomes current (the tail of the old one is given up). */
        size_t want = a->cur->size <= SIZE_MAX / 4 ? a->cur->size * 2 : a->cur->size;
        if (want < rounded)
            want = rounded;
        block_t *b = want <= SIZE_MAX / 2 ? malloc(sizeof(block_t) + want) : NULL;
        if (!b) {
            a->st.failures++;
            return NULL;
        }
        b->size = want;
        b->next = a->extra;
        a->extra = b;
        a->cur = b;
        a->used = 0;
        a->st.block_mallocs++;
    }
    void *p = a->cur->mem + a->used;
    a->used += rounded;
    a->st.bytes += rounded;
    a->st.allocs++;
    return p;
}

ProtobufCAllocator *gs_arena_allocator(gs_arena_t *a) { return &a->pc; }

void gs_arena_stats(const gs_arena_t *a, gs_arena_stats_t *out) { *out = a->st; }

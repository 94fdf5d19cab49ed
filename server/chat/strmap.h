/* SPDX-License-Identifier: MIT */
/* A string-keyed hash map (open addressing, linear probing, backward-shift deletion) owning
 * copies of its keys. Single-threaded: each actor owns its maps. */
#ifndef GS_CHAT_STRMAP_H
#define GS_CHAT_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct strmap_entry {
    char *key; /* NULL = empty */
    uint64_t hash;
    void *value;
} strmap_entry_t;

typedef struct strmap {
    strmap_entry_t *slots;
    size_t cap; /* power of two, or 0 before the first insert */
    size_t count;
} strmap_t;

void strmap_init(strmap_t *m);
/* Frees the keys and the table, not the values. */
void strmap_fini(strmap_t *m);
/* The value for key, or NULL. */
void *strmap_get(const strmap_t *m, const char *key);
/* Insert or replace. Returns 0, or -1 when out of memory (the map is unchanged). */
int strmap_put(strmap_t *m, const char *key, void *value);
/* Remove key; returns its value, or NULL if absent. */
void *strmap_remove(strmap_t *m, const char *key);
/* Iterate: for (size_t i = 0; i < m->cap; i++) if (m->slots[i].key) ... */

#endif

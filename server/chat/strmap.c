/* SPDX-License-Identifier: MIT */
/* String-keyed hash map for the chat server's nickname and room directories (see strmap.h). */
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

static uint64_t hash_str(const char *s) {
    /* FNV-1a 64: short keys, no adversarial collisions worth a keyed hash at these sizes (the
     * maps hold at most max_sessions nicknames and max_rooms rooms). */
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

void strmap_init(strmap_t *m) { memset(m, 0, sizeof(*m)); }

void strmap_fini(strmap_t *m) {
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

static size_t find(const strmap_t *m, const char *key, uint64_t h) {
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        const strmap_entry_t *e = &m->slots[i];
        if (!e->key || (e->hash == h && strcmp(e->key, key) == 0))
            return i;
    }
}

void *strmap_get(const strmap_t *m, const char *key) {
    if (m->count == 0)
        return NULL;
    const strmap_entry_t *e = &m->slots[find(m, key, hash_str(key))];
    return e->key ? e->value : NULL;
}

static int grow(strmap_t *m) {
    size_t cap = m->cap ? m->cap * 2 : 16;
    strmap_entry_t *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return -1;
    strmap_t n = {slots, cap, m->count};
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            slots[find(&n, m->slots[i].key, m->slots[i].hash)] = m->slots[i];
    free(m->slots);
    *m = n;
    return 0;
}

int strmap_put(strmap_t *m, const char *key, void *value) {
    /* At most half full, so that probes stay short. */
    if ((m->count + 1) * 2 > m->cap && grow(m) != 0)
        return -1;
    uint64_t h = hash_str(key);
    strmap_entry_t *e = &m->slots[find(m, key, h)];
    if (e->key) {
        e->value = value;
        return 0;
    }
    char *copy = strdup(key);
    if (!copy)
        return -1;
    *e = (strmap_entry_t){copy, h, value};
    m->count++;
    return 0;
}

void *strmap_remove(strmap_t *m, const char *key) {
    if (m->count == 0)
        return NULL;
    size_t i = find(m, key, hash_str(key));
    if (!m->slots[i].key)
        return NULL;
    void *value = m->slots[i].value;
    free(m->slots[i].key);
    /* Backward-shift deletion: move later entries of the probe run into the hole, so lookups
     * never need tombstones. */
    size_t hole = i;
    for (size_t j = (i + 1) & (m->cap - 1); m->slots[j].key; j = (j + 1) & (m->cap - 1)) {
        size_t home = m->slots[j].hash & (m->cap - 1);
        /* Entry j may move to the hole if its home is not in (hole, j] cyclically. */
        int between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!between) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole] = (strmap_entry_t){0};
    m->count--;
    return value;
}

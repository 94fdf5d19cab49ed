/* SPDX-License-Identifier: MIT */
/* Message ids from full names (FNV-1a 32), and the id <-> descriptor registry: two open-addressing
 * tables, filled at start-up, read-only (hence lock-free) afterwards. */
#include <stdlib.h>
#include <string.h>

#include "gs/packet.h"

#define FNV_OFFSET 2166136261u
#define FNV_PRIME  16777619u

uint32_t gs_msg_id_of_name(const char *full_name) {
    uint32_t h = FNV_OFFSET;
    for (const unsigned char *p = (const unsigned char *)full_name; *p; p++) {
        h ^= *p;
        h *= FNV_PRIME;
    }
    return h;
}

typedef struct entry {
    uint32_t id; /* 0 = empty slot */
    const ProtobufCMessageDescriptor *desc;
} entry_t;

struct gs_msg_registry {
    entry_t *by_id;   /* keyed by id */
    entry_t *by_desc; /* keyed by descriptor address */
    size_t cap;       /* power of two, both tables */
    size_t count;
    uint32_t max_body;
};

static size_t mix_ptr(const void *p) {
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x;
}
/* Ids are already hashes, but explicit ids (add_as) may be small consecutive numbers. */
static size_t mix_id(uint32_t id) { return (size_t)(id * 2654435761u); }

static entry_t *find_id(entry_t *t, size_t cap, uint32_t id) {
    for (size_t i = mix_id(id) & (cap - 1);; i = (i + 1) & (cap - 1))
        if (t[i].id == id || t[i].id == 0)
            return &t[i];
}

static entry_t *find_desc(entry_t *t, size_t cap, const ProtobufCMessageDescriptor *d) {
    for (size_t i = mix_ptr(d) & (cap - 1);; i = (i + 1) & (cap - 1))
        if (t[i].desc == d || t[i].id == 0)
            return &t[i];
}

static int resize(gs_msg_registry_t *r, size_t cap) {
    entry_t *by_id = calloc(cap, sizeof(entry_t));
    entry_t *by_desc = calloc(cap, sizeof(entry_t));
    if (!by_id || !by_desc) {
        free(by_id);
        free(by_desc);
        return GS_ENOMEM;
    }
    for (size_t i = 0; i < r->cap; i++) {
        if (r->by_id[i].id)
            *find_id(by_id, cap, r->by_id[i].id) = r->by_id[i];
        if (r->by_desc[i].id)
            *find_desc(by_desc, cap, r->by_desc[i].desc) = r->by_desc[i];
    }
    free(r->by_id);
    free(r->by_desc);
    r->by_id = by_id;
    r->by_desc = by_desc;
    r->cap = cap;
    return 0;
}

gs_msg_registry_t *gs_msg_registry_create(uint32_t max_body) {
    gs_msg_registry_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->max_body = max_body ? max_body : GS_FRAME_MAX_DEFAULT;
    if (resize(r, 64) != 0) {
        free(r);
        return NULL;
    }
    return r;
}

void gs_msg_registry_destroy(gs_msg_registry_t *r) {
    if (!r)
        return;
    free(r->by_id);
    free(r->by_desc);
    free(r);
}

/* Depth-first search over the message types reachable from a root, to find a cycle: a type
 * that can contain itself, directly or through others. A type that merely reaches such a cycle
 * is refused too, since a hostile body could nest through it just as deep. */
typedef struct dfs {
    const ProtobufCMessageDescriptor **seen; /* every type visited */
    unsigned char *on_path;                  /* seen[i] is on the current path */
    size_t n, cap;
    const ProtobufCMessageDescriptor *cycle; /* a type on the cycle found */
    int oom;
} dfs_t;

static int dfs_visit(dfs_t *s, const ProtobufCMessageDescriptor *d) {
    for (size_t k = 0; k < s->n; k++) {
        if (s->seen[k] == d) {
            if (s->on_path[k])
                s->cycle = d;
            return s->on_path[k];
        }
    }
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 16;
        const ProtobufCMessageDescriptor **seen = realloc(s->seen, ncap * sizeof(*seen));
        if (seen)
            s->seen = seen;
        unsigned char *on_path = realloc(s->on_path, ncap);
        if (on_path)
            s->on_path = on_path;
        if (!seen || !on_path) {
            s->oom = 1;
            return 1;
        }
        s->cap = ncap;
    }
    size_t me = s->n++;
    s->seen[me] = d;
    s->on_path[me] = 1;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && dfs_visit(s, f->descriptor))
            return 1;
    }
    s->on_path[me] = 0;
    return 0;
}

static int check_not_recursive(const ProtobufCMessageDescriptor *d) {
    dfs_t s = {0};
    int found = dfs_visit(&s, d);
    free(s.seen);
    free(s.on_path);
    if (s.oom)
        return GS_ENOMEM;
    if (found) {
        gs_log(GS_LOG_ERROR, "packet",
               "message %s can contain itself or reaches %s, which can: refused, since decoding "
               "it could recurse without bound on hostile input",
               d->name, s.cycle->name);
        return GS_EINVAL;
    }
    return 0;
}

int gs_msg_registry_add_as(gs_msg_registry_t *r, const ProtobufCMessageDescriptor *d, uint32_t id) {
    if (!r || !d || d->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC || id == 0)
        return GS_EINVAL;
    entry_t *e = find_desc(r->by_desc, r->cap, d);
    if (e->id) {
        if (e->id == id)
            return 0;
        gs_log(GS_LOG_ERROR, "packet", "message %s is already registered as 0x%08x, not 0x%08x",
               d->name, e->id, id);
        return GS_EEXIST;
    }
    entry_t *ei = find_id(r->by_id, r->cap, id);
    if (ei->id) {
        gs_log(GS_LOG_ERROR, "packet", "message id 0x%08x of %s is already taken by %s", id,
               d->name, ei->desc->name);
        return GS_EEXIST;
    }
    /* Same full name, different descriptor: two copies of one generated file are linked in.
     * Linear, but registration is a start-up affair. */
    for (size_t i = 0; i < r->cap; i++) {
        if (r->by_id[i].id && strcmp(r->by_id[i].desc->name, d->name) == 0) {
            gs_log(GS_LOG_ERROR, "packet", "message %s is registered twice (two descriptors)",
                   d->name);
            return GS_EEXIST;
        }
    }
    int rc = check_not_recursive(d);
    if (rc != 0)
        return rc;
    /* Keep both tables at most half full. */
    if ((r->count + 1) * 2 > r->cap) {
        rc = resize(r, r->cap * 2);
        if (rc != 0)
            return rc;
    }
    entry_t ne = {id, d};
    *find_id(r->by_id, r->cap, id) = ne;
    *find_desc(r->by_desc, r->cap, d) = ne;
    r->count++;
    return 0;
}

int gs_msg_registry_add(gs_msg_registry_t *r, const ProtobufCMessageDescriptor *d) {
    if (!d || d->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
        return GS_EINVAL;
    uint32_t id = gs_msg_id_of_name(d->name);
    if (id == 0) {
        gs_log(GS_LOG_ERROR, "packet", "message %s hashes to id 0: rename it", d->name);
        return GS_EINVAL;
    }
    return gs_msg_registry_add_as(r, d, id);
}

int gs_msg_registry_add_all(gs_msg_registry_t *r, const ProtobufCMessageDescriptor *const *list,
                            size_t count) {
    for (size_t i = 0; i < count; i++) {
        int rc = gs_msg_registry_add(r, list[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

const ProtobufCMessageDescriptor *gs_msg_registry_find(const gs_msg_registry_t *r, uint32_t id) {
    if (id == 0)
        return NULL;
    entry_t *e = find_id(r->by_id, r->cap, id);
    return e->id ? e->desc : NULL;
}

uint32_t gs_msg_registry_id(const gs_msg_registry_t *r, const ProtobufCMessageDescriptor *d) {
    entry_t *e = find_desc(r->by_desc, r->cap, d);
    return e->id;
}

size_t gs_msg_registry_count(const gs_msg_registry_t *r) { return r->count; }
uint32_t gs_msg_registry_max_body(const gs_msg_registry_t *r) { return r->max_body; }

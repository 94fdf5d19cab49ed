/* SPDX-License-Identifier: MIT */
/* Per-address accept limits: a chained hash over a fixed pool of entries, a token bucket per
 * entry kept in thousandths of an accept (integer refill, no floating point), and a FIFO of
 * entries that hold no session, reaped from its head once their bucket has refilled. Every
 * operation is O(1) apart from the hash chain. See the header for the rules. */
#include "addr_limit.h"

#include <stdlib.h>
#include <string.h>

#define MILLI 1000u

struct gs__addr_entry {
    gs__addr_key_t key;
    uint32_t count;    /* sessions held now */
    uint32_t chain;    /* next entry in the hash bucket, index + 1 */
    uint32_t idle_prv; /* idle FIFO links, index + 1 (only while count == 0) */
    uint32_t idle_nxt;
    int64_t tokens;   /* thousandths of an accept, <= burst_milli; below 0 after a penalty */
    uint64_t last_ms; /* when tokens was last brought up to date */
};

void gs__addr_key_make(gs__addr_key_t *key, int family, const uint8_t *addr) {
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    memset(key, 0, sizeof *key);
    if (family == 6 && memcmp(addr, mapped, sizeof mapped) == 0) {
        family = 4; /* ::ffff:a.b.c.d is a.b.c.d, or dual-stack listeners would double limits */
        addr += 12;
    }
    if (family == 4) {
        key->b[0] = 4;
        memcpy(key->b + 1, addr, 4);
        key->loopback = addr[0] == 127;
    } else {
        key->b[0] = 6;
        memcpy(key->b + 1, addr, 8); /* the /64 a host is given */
        key->loopback = memcmp(addr, one, sizeof one) == 0;
    }
}

static uint32_t key_hash(const gs__addr_key_t *k) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < sizeof k->b; i++)
        h = (h ^ k->b[i]) * 16777619u;
    return h;
}

int gs__addr_limit_init(gs__addr_limit_t *al, uint32_t capacity, uint32_t max_sessions,
                        uint32_t rate, uint32_t burst) {
    if (capacity == 0 || capacity > (UINT32_MAX >> 2) || (rate && burst == 0))
        return GS_EINVAL;
    memset(al, 0, sizeof *al);
    uint32_t nb = 1;
    while (nb < capacity)
        nb <<= 1;
    al->entries = calloc(capacity, sizeof *al->entries);
    al->buckets = calloc(nb, sizeof *al->buckets);
    if (!al->entries || !al->buckets) {
        free(al->entries);
        free(al->buckets);
        return GS_ENOMEM;
    }
    al->capacity = capacity;
    al->nbuckets = nb;
    al->max_sessions = max_sessions;
    al->rate = rate;
    al->burst_milli = (uint64_t)burst * MILLI;
    for (uint32_t i = 0; i < capacity; i++) /* free list threaded through chain */
        al->entries[i].chain = i + 2 <= capacity ? i + 2 : 0;
    al->free_head = 1;
    gs_mutex_init(&al->mu);
    return 0;
}

void gs__addr_limit_fini(gs__addr_limit_t *al) {
    gs_mutex_fini(&al->mu);
    free(al->entries);
    free(al->buckets);
    al->entries = NULL;
    al->buckets = NULL;
}

static void refill(const gs__addr_limit_t *al, gs__addr_entry_t *e, uint64_t now_ms) {
    if (now_ms > e->last_ms) {
        uint64_t add = (now_ms - e->last_ms) * al->rate;     /* rate/s = rate thousandths per ms */
        int64_t room = (int64_t)al->burst_milli - e->tokens; /* > 0 unless full */
        e->tokens = add >= (uint64_t)room ? (int64_t)al->burst_milli : e->tokens + (int64_t)add;
        e->last_ms = now_ms;
    }
}

/* An entry without sessions is needed only while its bucket is below full (see the header). */
static int needed_idle(const gs__addr_limit_t *al, gs__addr_entry_t *e, uint64_t now_ms) {
    if (al->rate == 0)
        return 0;
    refill(al, e, now_ms);
    return e->tokens < (int64_t)al->burst_milli;
}

static void idle_push(gs__addr_limit_t *al, uint32_t i) {
    gs__addr_entry_t *e = &al->entries[i];
    e->idle_nxt = 0;
    e->idle_prv = al->idle_tail;
    if (al->idle_tail)
        al->entries[al->idle_tail - 1].idle_nxt = i + 1;
    else
        al->idle_head = i + 1;
    al->idle_tail = i + 1;
}

static void idle_unlink(gs__addr_limit_t *al, uint32_t i) {
    gs__addr_entry_t *e = &al->entries[i];
    if (e->idle_prv)
        al->entries[e->idle_prv - 1].idle_nxt = e->idle_nxt;
    else
        al->idle_head = e->idle_nxt;
    if (e->idle_nxt)
        al->entries[e->idle_nxt - 1].idle_prv = e->idle_prv;
    else
        al->idle_tail = e->idle_prv;
    e->idle_prv = e->idle_nxt = 0;
}

/* Take entry i out of its hash chain and back to the free list. */
static void entry_remove(gs__addr_limit_t *al, uint32_t i) {
    gs__addr_entry_t *e = &al->entries[i];
    uint32_t *link = &al->buckets[key_hash(&e->key) & (al->nbuckets - 1)];
    while (*link != i + 1)
        link = &al->entries[*link - 1].chain;
    *link = e->chain;
    e->chain = al->free_head;
    al->free_head = i + 1;
    al->live--;
}

/* Forget idle entries at the head of the FIFO that are no longer needed. Bounded per call, so
 * that one accept never walks the whole table; each call frees at least as many as it makes. */
static void reap(gs__addr_limit_t *al, uint64_t now_ms) {
    for (int n = 0; n < 2 && al->idle_head; n++) {
        uint32_t i = al->idle_head - 1;
        if (needed_idle(al, &al->entries[i], now_ms))
            return;
        idle_unlink(al, i);
        entry_remove(al, i);
    }
}

static uint32_t lookup(const gs__addr_limit_t *al, const gs__addr_key_t *key) {
    uint32_t j = al->buckets[key_hash(key) & (al->nbuckets - 1)];
    while (j && memcmp(al->entries[j - 1].key.b, key->b, sizeof key->b) != 0)
        j = al->entries[j - 1].chain;
    return j; /* index + 1, or 0 */
}

/* A new entry for key, full bucket; or 0 if every entry holds sessions. */
static uint32_t entry_new(gs__addr_limit_t *al, const gs__addr_key_t *key, uint64_t now_ms) {
    if (!al->free_head) {
        if (!al->idle_head)
            return 0;
        uint32_t old = al->idle_head - 1; /* the oldest idle entry gives up its place */
        if (needed_idle(al, &al->entries[old], now_ms))
            al->forgotten++;
        idle_unlink(al, old);
        entry_remove(al, old);
    }
    uint32_t i = al->free_head - 1;
    gs__addr_entry_t *e = &al->entries[i];
    al->free_head = e->chain;
    memset(e, 0, sizeof *e);
    e->key = *key;
    e->tokens = (int64_t)al->burst_milli;
    e->last_ms = now_ms;
    uint32_t *head = &al->buckets[key_hash(key) & (al->nbuckets - 1)];
    e->chain = *head;
    *head = i + 1;
    al->live++;
    return i + 1;
}

gs__addr_verdict_t gs__addr_limit_acquire(gs__addr_limit_t *al, const gs__addr_key_t *key,
                                          uint64_t now_ms, uint32_t *slot) {
    gs__addr_verdict_t v = GS__ADDR_OK;
    *slot = GS__ADDR_SLOT_NONE;
    gs_mutex_lock(&al->mu);
    reap(al, now_ms);
    uint32_t j = lookup(al, key);
    if (!j)
        j = entry_new(al, key, now_ms);
    if (j) {
        gs__addr_entry_t *e = &al->entries[j - 1];
        /* The rate counts attempts, refused ones too: an address at its session count that
         * retries at once would otherwise make the server accept and close as fast as it can
         * connect, never held to the rate. */
        if (al->rate) {
            refill(al, e, now_ms);
            if (e->tokens < MILLI)
                v = GS__ADDR_TOO_FAST;
            else
                e->tokens -= MILLI;
        }
        if (v == GS__ADDR_OK && al->max_sessions && e->count >= al->max_sessions)
            v = GS__ADDR_TOO_MANY;
        /* An entry with no session is on the idle FIFO (a new one has a full bucket and
         * max_sessions >= 1, so it is never refused): a refusal leaves it there. */
        if (v == GS__ADDR_OK) {
            if (e->count++ == 0 && (e->idle_prv || al->idle_head == j))
                idle_unlink(al, j - 1);
            *slot = j - 1;
        }
    }
    gs_mutex_unlock(&al->mu);
    return v;
}

void gs__addr_limit_release(gs__addr_limit_t *al, uint32_t slot, uint64_t now_ms) {
    if (slot == GS__ADDR_SLOT_NONE)
        return;
    gs_mutex_lock(&al->mu);
    gs__addr_entry_t *e = &al->entries[slot];
    if (--e->count == 0) {
        if (needed_idle(al, e, now_ms))
            idle_push(al, slot);
        else
            entry_remove(al, slot);
    }
    reap(al, now_ms);
    gs_mutex_unlock(&al->mu);
}

void gs__addr_limit_penalize(gs__addr_limit_t *al, uint32_t slot, uint64_t now_ms) {
    if (slot == GS__ADDR_SLOT_NONE)
        return;
    gs_mutex_lock(&al->mu);
    gs__addr_entry_t *e = &al->entries[slot];
    /* A debt of a whole burst: the address waits burst / rate seconds before its next accept,
     * however many of its sessions are cut meanwhile (each cut sets the debt, not adds to it). */
    e->tokens = -(int64_t)al->burst_milli;
    e->last_ms = now_ms;
    gs_mutex_unlock(&al->mu);
}

uint32_t gs__addr_limit_count(gs__addr_limit_t *al, const gs__addr_key_t *key) {
    gs_mutex_lock(&al->mu);
    uint32_t j = lookup(al, key);
    uint32_t n = j ? al->entries[j - 1].count : 0;
    gs_mutex_unlock(&al->mu);
    return n;
}

/* SPDX-License-Identifier: MIT */
/* Per-address accept limits: how many sessions one peer address may hold at once, and how fast
 * it may open new ones (a token bucket per address). Pure: no IO and no clock of its own (the
 * caller passes the time), so that the unit test drives it without sockets; net/session.c asks
 * it on every accept when the limits are on (docs/net.md "Fairness").
 *
 * Addresses are keyed by what one host usually holds: an IPv4 address, or the /64 prefix of an
 * IPv6 address (one host gets a whole /64, so counting full IPv6 addresses would let it open a
 * fresh address per connection). IPv4-mapped IPv6 addresses count as their IPv4 address.
 *
 * Memory is bounded: a fixed pool of entries (given at init), allocated once. An entry lives
 * while its address holds a session, and after its last session is gone until its bucket has
 * refilled (forgetting it earlier would give the address a fresh burst). When the pool is
 * exhausted the oldest such idle entry is forgotten; if every entry holds sessions (the pool is
 * smaller than the session count) the accept is allowed and not tracked (fail open, counted by
 * the caller), so a table sized at least max_sessions never refuses an honest peer for lack of
 * room.
 *
 * Threads: every call takes the instance's mutex, so the IO threads share one instance (they
 * accept on one listening socket, so one peer's sessions may land on any of them). */
#ifndef GS_NET_ADDR_LIMIT_H
#define GS_NET_ADDR_LIMIT_H

#include <stdint.h>

#include "gs/base.h"

/* The key of one peer: family tag in b[0] (4 or 6), then 4 (IPv4) or 8 (IPv6 /64) bytes, the
 * rest zero. loopback: 127.0.0.0/8 or ::1 (the caller may exempt these). */
typedef struct gs__addr_key {
    uint8_t b[12];
    uint8_t loopback;
} gs__addr_key_t;

/* Build a key from raw address bytes (network order): family 4 with 4 bytes, family 6 with 16. */
void gs__addr_key_make(gs__addr_key_t *key, int family, const uint8_t *addr);

typedef enum {
    GS__ADDR_OK = 0,       /* accepted; *slot names the entry to release */
    GS__ADDR_TOO_MANY = 1, /* the address holds max_sessions already */
    GS__ADDR_TOO_FAST = 2, /* its bucket is empty: more than rate attempts/s beyond the burst
                            * (every attempt takes a token, refused ones too; checked first) */
} gs__addr_verdict_t;

/* No entry: the accept was allowed untracked (pool full of live entries). */
#define GS__ADDR_SLOT_NONE UINT32_MAX

typedef struct gs__addr_entry gs__addr_entry_t;

typedef struct gs__addr_limit {
    gs_mutex_t mu;
    uint32_t capacity;     /* entries in the pool */
    uint32_t nbuckets;     /* hash buckets, power of 2 */
    uint32_t max_sessions; /* per address; 0 = no limit */
    uint32_t rate;         /* accepts per second per address; 0 = no limit */
    uint64_t burst_milli;  /* bucket size, in thousandths of an accept */
    gs__addr_entry_t *entries;
    uint32_t *buckets;  /* head entry index + 1 per bucket; 0 = empty */
    uint32_t free_head; /* free entries, index + 1 */
    uint32_t idle_head; /* entries with no session, oldest first (index + 1) */
    uint32_t idle_tail;
    uint32_t live;      /* entries in use (idle ones included) */
    uint64_t forgotten; /* idle entries evicted before their bucket had refilled */
} gs__addr_limit_t;

/* capacity: entries (> 0). max_sessions / rate: the limits, 0 = that one off. burst: accepts an
 * address may make at once before rate applies (>= 1 when rate is on). Returns 0, GS_EINVAL
 * (capacity 0, or a rate with burst 0) or GS_ENOMEM. */
int gs__addr_limit_init(gs__addr_limit_t *al, uint32_t capacity, uint32_t max_sessions,
                        uint32_t rate, uint32_t burst);
void gs__addr_limit_fini(gs__addr_limit_t *al);

/* One accept from key at now_ms (any monotonic clock in ms, never going back). On GS__ADDR_OK
 * *slot is an entry index (or GS__ADDR_SLOT_NONE) that the session keeps and hands to
 * gs__addr_limit_release when it is gone; on a refusal nothing is held. */
gs__addr_verdict_t gs__addr_limit_acquire(gs__addr_limit_t *al, const gs__addr_key_t *key,
                                          uint64_t now_ms, uint32_t *slot);
/* The session that holds slot is gone (slot GS__ADDR_SLOT_NONE: nothing to do). */
void gs__addr_limit_release(gs__addr_limit_t *al, uint32_t slot, uint64_t now_ms);
/* The session that holds slot was cut for abuse: the address's bucket goes a whole burst into
 * debt, so that it may not connect again for burst / rate seconds (a client that reconnects at
 * once after each cut gets one session per that time, not a burst of them). */
void gs__addr_limit_penalize(gs__addr_limit_t *al, uint32_t slot, uint64_t now_ms);
/* Sessions the address of key holds now (for tests). */
uint32_t gs__addr_limit_count(gs__addr_limit_t *al, const gs__addr_key_t *key);

#endif /* GS_NET_ADDR_LIMIT_H */

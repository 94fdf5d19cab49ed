/* SPDX-License-Identifier: MIT */
/* packet: pooled, reference-counted packets that the net layer sends without copying; protobuf-c
 * messages encoded straight into them and decoded out of frames into a bounded arena; message ids
 * derived from full message names; validation of untrusted text. See docs/packet.md. */
#ifndef GS_PACKET_H
#define GS_PACKET_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "gs/base.h"
#include "gs/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Pool: fixed-size blocks in a few size classes, carved from slabs. Each thread that touches a
 * pool gets its own cache per class; caches refill from and flush to a shared free list per class
 * in batches, so the shared list (and its lock) is touched once per batch, not per block.
 * A block may be allocated on one thread and freed on any other.
 * Requests larger than the largest class are served by malloc ("fallbacks", counted).
 * ------------------------------------------------------------------------------------------- */
typedef struct gs_pool gs_pool_t;

#define GS_POOL_CLASSES 5
/* Usable bytes of each class. The largest holds a packet with a 64 KiB body (the default maximum
 * frame) plus its header and descriptor. */
#define GS_POOL_CLASS_SIZES                                                                        \
    { 256u, 1024u, 4096u, 16384u, 65536u + 256u }

typedef struct gs_pool_config {
    size_t max_bytes;    /* cap on the memory the pool holds: slabs plus fallbacks [0 = none] */
    uint32_t cache_max;  /* blocks a thread caches per class [64]; moved in batches of half */
    uint32_t slab_bytes; /* memory a class grows by at a time [64 KiB, at least one block] */
} gs_pool_config_t;

/* The pool's counters, declared once: the lists generate the stats structs, the programs'
 * --stats lines and the Prometheus exposition (metrics/). X(field, kind, metric, help): kind
 * COUNTER (monotonic) or GAUGE; metric is the Prometheus name after "gs_pool_" (per class: one
 * sample per class, labelled class="<block_size>"). */
#define GS_POOL_CLASS_STATS_MAP(X)                                                                 \
    X(blocks_total, GAUGE, "class_blocks", "Blocks carved from slabs and not trimmed, by class.")  \
    X(in_use, GAUGE, "class_blocks_in_use", "Blocks allocated and not yet freed, by class.")       \
    X(high_water, GAUGE, "class_blocks_high_water",                                                \
      "Peak of blocks outside the shared list, by class.")                                         \
    X(allocs, COUNTER, "class_allocs_total", "Successful allocations, by class.")                  \
    X(cache_hits, COUNTER, "class_cache_hits_total",                                               \
      "Allocations served by the calling thread's cache, by class.")                               \
    X(refills, COUNTER, "class_refills_total", "Batches taken from the shared list, by class.")    \
    X(flushes, COUNTER, "class_flushes_total", "Batches given back to the shared list, by class.")

#define GS_POOL_STATS_MAP(X)                                                                       \
    X(bytes_total, GAUGE, "held_bytes", "Slab bytes plus fallback bytes held.")                    \
    X(blocks_total, GAUGE, "blocks", "Blocks carved from slabs (sum over classes).")               \
    X(in_use, GAUGE, "blocks_in_use", "Blocks in use, fallbacks included.")                        \
    X(blocks_cached, GAUGE, "blocks_cached",                                                       \
      "Carved blocks not in use: in threads' caches or the shared lists.")                         \
    X(high_water, GAUGE, "blocks_high_water", "Sum over classes of their high water marks.")       \
    X(allocs, COUNTER, "allocs_total", "Successful allocations, fallbacks included.")              \
    X(cache_hits, COUNTER, "cache_hits_total", "Allocations served by a thread's cache.")          \
    X(fallbacks, COUNTER, "fallback_allocs_total",                                                 \
      "Allocations above the largest class (served by malloc).")                                   \
    X(fallback_in_use, GAUGE, "fallback_blocks_in_use", "Fallback blocks not yet freed.")          \
    X(failures, COUNTER, "alloc_failures_total",                                                   \
      "Allocations refused: max_bytes reached, or malloc failed.")                                 \
    X(trimmed_bytes, COUNTER, "trimmed_bytes_total",                                               \
      "Slab bytes given back to the system by gs_pool_trim.")                                      \
    X(threads, GAUGE, "threads", "Threads with a cache on this pool.")

typedef struct gs_pool_class_stats {
    uint32_t block_size; /* usable bytes */
#define GS__PCS_FIELD(f, kind, metric, help) uint64_t f;
    GS_POOL_CLASS_STATS_MAP(GS__PCS_FIELD)
#undef GS__PCS_FIELD
} gs_pool_class_stats_t;

typedef struct gs_pool_stats {
    gs_pool_class_stats_t classes[GS_POOL_CLASSES];
#define GS__PS_FIELD(f, kind, metric, help) uint64_t f;
    GS_POOL_STATS_MAP(GS__PS_FIELD)
#undef GS__PS_FIELD
} gs_pool_stats_t;

/* Create a pool. cfg may be NULL (all defaults). Returns NULL when out of memory or when the
 * system has no thread-local key left. Any thread. */
gs_pool_t *gs_pool_create(const gs_pool_config_t *cfg);
/* Free the pool and all its memory. Every block must have been freed (a leak is logged), and no
 * other thread may use the pool any more; threads that used it may still be running (their
 * caches are reclaimed here, and they keep no reference to the pool). */
void gs_pool_destroy(gs_pool_t *pool);
/* A block of at least size bytes, 16-byte aligned, or NULL: max_bytes reached or out of memory
 * (counted in failures). Any thread. The caller owns the block until gs_pool_free. */
void *gs_pool_alloc(gs_pool_t *pool, size_t size);
/* Give a block back. Any thread (not only the one that allocated it). NULL is ignored. */
void gs_pool_free(void *block);
/* Usable bytes of a block (at least what was asked for). */
size_t gs_pool_block_size(const void *block);
/* The memory a block takes from the pool: its usable size plus the pool's header. What a queued
 * packet is charged against a session's send limits (gs_buf_t). Any thread. */
size_t gs_pool_block_footprint(const void *block);
/* Give back to the system every slab all of whose blocks are free on the shared lists (not in
 * use, not in a thread's cache), and return the bytes given back. The pool otherwise keeps what it
 * once carved, so a burst (say, never-reading clients filling their send queues) would hold its
 * peak for the life of the process; call this periodically, e.g. once a second from a control
 * thread, and the memory of a burst returns once its blocks are freed. Allocations on other
 * threads go on meanwhile (one of them may carve a new slab while the shared lists are being
 * sorted). Cost: O(free blocks × log) for the shared lists. Any thread. */
size_t gs_pool_trim(gs_pool_t *pool);
/* Return the calling thread's cached blocks to the shared lists. Also happens by itself when the
 * thread exits. Useful before reading stats, or before a thread goes idle for long. */
void gs_pool_thread_flush(gs_pool_t *pool);
/* Snapshot of the counters. Any thread; counters of other threads may lag by a few operations. */
void gs_pool_stats(gs_pool_t *pool, gs_pool_stats_t *out);

/* ---------------------------------------------------------------------------------------------
 * Packet: a pooled block holding a net buffer descriptor, then the 8-byte frame header, then the
 * body. gs_session_send(net, id, &pkt->buf) takes the packet directly, and a broadcast to K
 * sessions is K reference increments of one packet.
 * Ownership: gs_packet_alloc (and gs_msg_encode, gs_packet_frame) return one reference owned by
 * the caller. Every gs_session_send takes its own; the caller drops its own with gs_packet_unref.
 * The last reference, dropped on any thread, returns the block to its pool.
 * The body must not change once the packet has been handed to a send.
 * ------------------------------------------------------------------------------------------- */
typedef struct gs_packet {
    gs_buf_t buf;    /* net's descriptor: data = frame header, len = header + body */
    uint32_t cap;    /* bytes the body may hold */
    uint32_t msg_id; /* set by gs_packet_finish */
    uint8_t frame[]; /* GS_FRAME_HEADER_SIZE header bytes, then the body */
} gs_packet_t;

/* A packet whose body can hold body_cap bytes, one reference held by the caller; NULL when the
 * pool refuses (cap or out of memory). Any thread. */
gs_packet_t *gs_packet_alloc(gs_pool_t *pool, uint32_t body_cap);
static inline uint8_t *gs_packet_body(gs_packet_t *p) { return p->frame + GS_FRAME_HEADER_SIZE; }
/* Write the frame header for a body of body_len bytes (<= cap) and make buf cover header + body. */
void gs_packet_finish(gs_packet_t *p, uint32_t msg_id, uint32_t body_len);
/* For raw sessions (no framing): make buf cover only the first body_len body bytes, no header. */
void gs_packet_finish_raw(gs_packet_t *p, uint32_t body_len);
/* gs_packet_alloc + copy of body + gs_packet_finish. NULL when the pool refuses. */
gs_packet_t *gs_packet_frame(gs_pool_t *pool, uint32_t msg_id, const void *body, uint32_t body_len);
static inline void gs_packet_ref(gs_packet_t *p) { gs_buf_ref(&p->buf); }
static inline void gs_packet_unref(gs_packet_t *p) { gs_buf_unref(&p->buf); }
/* The packet that embeds a net buffer (only for buffers that came from this layer). */
static inline gs_packet_t *gs_packet_of_buf(gs_buf_t *b) {
    return gs_container_of(b, gs_packet_t, buf);
}

/* ---------------------------------------------------------------------------------------------
 * Message ids. The id of a message type is the 32-bit FNV-1a hash of its full protobuf name
 * (package + "." + message name, e.g. "chat.ChatSend"), as UTF-8 bytes without terminator. Any
 * language can compute it; reordering or adding messages never changes an id on the wire;
 * renaming a message (or its package) does. 0 is never a valid id. See docs/protocol.md.
 * ------------------------------------------------------------------------------------------- */
uint32_t gs_msg_id_of_name(const char *full_name);

/* id <-> descriptor. Register every type at start-up on one thread; after that, lookups are
 * read-only and safe from any number of threads without locks. */
typedef struct gs_msg_registry gs_msg_registry_t;

/* max_body: largest body gs_msg_encode produces and gs_msg_decode accepts [0 = 64 KiB]. */
gs_msg_registry_t *gs_msg_registry_create(uint32_t max_body);
void gs_msg_registry_destroy(gs_msg_registry_t *r);
/* Register a type under gs_msg_id_of_name(d->name). Registering the same descriptor again is a
 * no-op. Returns 0; GS_EEXIST when another type already has that id (a hash collision) or the
 * same full name (two copies of one generated file); GS_EINVAL when d is NULL, not a message
 * descriptor, or can contain itself or reach a type that can (directly or through other types:
 * decoding it would recurse without bound on hostile input); GS_ENOMEM. Errors are also logged with
 * both names. */
int gs_msg_registry_add(gs_msg_registry_t *r, const ProtobufCMessageDescriptor *d);
/* The same with an explicit id, for speaking an existing protocol whose ids are fixed numbers. */
int gs_msg_registry_add_as(gs_msg_registry_t *r, const ProtobufCMessageDescriptor *d, uint32_t id);
/* Register a generated list (see gs_add_proto); stops at the first error and returns it. */
int gs_msg_registry_add_all(gs_msg_registry_t *r, const ProtobufCMessageDescriptor *const *list,
                            size_t count);
/* NULL when id is unknown. */
const ProtobufCMessageDescriptor *gs_msg_registry_find(const gs_msg_registry_t *r, uint32_t id);
/* 0 when the type is not registered. */
uint32_t gs_msg_registry_id(const gs_msg_registry_t *r, const ProtobufCMessageDescriptor *d);
size_t gs_msg_registry_count(const gs_msg_registry_t *r);
uint32_t gs_msg_registry_max_body(const gs_msg_registry_t *r);

/* ---------------------------------------------------------------------------------------------
 * Arena: bump allocation for one decoded message, reset after its handler returns. The first
 * block is kept across resets, so steady-state decoding never calls malloc. A limit caps what one
 * message may allocate; past it, allocations fail (and the decode with them).
 * Single-threaded: one arena per decoding thread.
 * ------------------------------------------------------------------------------------------- */
typedef struct gs_arena gs_arena_t;

typedef struct gs_arena_stats {
    uint64_t allocs;        /* allocations served */
    uint64_t bytes;         /* bytes handed out since the last reset */
    uint64_t block_mallocs; /* blocks obtained from malloc, ever (the first one included) */
    uint64_t refusals;      /* allocations refused by the limit */
    uint64_t failures;      /* allocations that failed: malloc refused a new block */
} gs_arena_stats_t;

/* first_block: bytes of the block kept across resets [4 KiB]. Returns NULL when out of memory. */
gs_arena_t *gs_arena_create(size_t first_block);
void gs_arena_destroy(gs_arena_t *a);
/* Free everything allocated since the last reset (all of it: decoded messages become invalid).
 * Extra blocks go back to malloc; the first stays. The limit is cleared. */
void gs_arena_reset(gs_arena_t *a);
/* Maximum bytes handed out until the next reset [0 = none]. */
void gs_arena_set_limit(gs_arena_t *a, size_t limit);
/* 16-byte aligned memory, or NULL (limit reached or out of memory). */
void *gs_arena_alloc(gs_arena_t *a, size_t size);
/* A protobuf-c allocator over the arena (free is a no-op; reset frees). */
ProtobufCAllocator *gs_arena_allocator(gs_arena_t *a);
void gs_arena_stats(const gs_arena_t *a, gs_arena_stats_t *out);

/* ---------------------------------------------------------------------------------------------
 * Encode and decode.
 * ------------------------------------------------------------------------------------------- */
/* Bytes one decode may allocate: GS_DECODE_ALLOC_FACTOR x body length + GS_DECODE_ALLOC_BASE.
 * The factor covers what protobuf-c legitimately allocates per wire byte (see docs/packet.md for
 * the measured worst cases); a hostile body cannot make a decode allocate more. */
#define GS_DECODE_ALLOC_FACTOR 64u
#define GS_DECODE_ALLOC_BASE   4096u

/* Encode msg (a registered type) into a new pooled packet: sized with
 * protobuf_c_message_get_packed_size and packed in place behind the frame header, no other
 * buffer. *out gets one reference owned by the caller. Any thread (the registry is read-only).
 * Returns 0; GS_EBADID (type not registered); GS_ETOOBIG (body over the registry's max_body);
 * GS_ENOMEM (pool refused); GS_EINVAL. On error *out is NULL. */
int gs_msg_encode(const gs_msg_registry_t *r, gs_pool_t *pool, const ProtobufCMessage *msg,
                  gs_packet_t **out);

/* Decode a frame body of type msg_id into arena a, in one validating pass (packet/decoder.c):
 * the wire structure, and every string field (nested ones included) as valid UTF-8 (as proto3
 * requires) without a NUL byte, since C strings would silently shorten at one. The result is laid
 * out as protobuf-c's unpack lays it out, except that unknown fields are skipped, not kept. It is
 * borrowed from the arena: valid until gs_arena_reset, never freed on its own (never pass it to
 * protobuf_c_message_free_unpacked). The arena's limit is set for this decode (see
 * GS_DECODE_ALLOC_FACTOR); reset the arena after the handler returns.
 * Returns 0; GS_EBADID (unknown id); GS_ETOOBIG (body over max_body, or it would allocate past
 * the limit); GS_EBADTEXT (a string field is not valid UTF-8 or holds NUL); GS_EBADMSG (any
 * other malformed body, including a non-repeated message field that occurs twice); GS_ENOMEM
 * (malloc failed for a new arena block). On error *out is NULL and the arena holds nothing worth
 * keeping. */
int gs_msg_decode(const gs_msg_registry_t *r, gs_arena_t *a, uint32_t msg_id, const uint8_t *body,
                  uint32_t len, ProtobufCMessage **out);

/* ---------------------------------------------------------------------------------------------
 * Text validation for untrusted strings (nicknames, room names, chat text). Pure functions,
 * any thread.
 * ------------------------------------------------------------------------------------------- */
#define GS_TEXT_VERDICT_MAP(X)                                                                     \
    X(OK, "ok")                                                                                    \
    X(TOO_SHORT, "too_short")                                                                      \
    X(TOO_LONG, "too_long")                                                                        \
    X(BAD_UTF8, "bad_utf8")                                                                        \
    X(NUL, "embedded_nul")                                                                         \
    X(CONTROL, "control_char")                                                                     \
    X(INVISIBLE, "invisible_or_bidi_char")                                                         \
    X(NONCHAR, "noncharacter")

typedef enum {
#define GS__TV_ENUM(name, str) GS_TEXT_##name,
    GS_TEXT_VERDICT_MAP(GS__TV_ENUM)
#undef GS__TV_ENUM
        GS_TEXT__COUNT
} gs_text_verdict_t;

typedef struct gs_text_rules {
    uint32_t min_chars;  /* code points [0] */
    uint32_t max_chars;  /* code points [0 = no limit] */
    uint32_t max_bytes;  /* [0 = no limit] */
    int allow_control;   /* accept C0/C1 controls other than NUL (TAB, LF...) [no] */
    int allow_invisible; /* accept bidi overrides/isolates, zero-width and other invisible
                            format characters, line/paragraph separators [no] */
} gs_text_rules_t;

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF, no
 * truncated sequence. Returns 1 when valid. */
int gs_utf8_valid(const uint8_t *s, size_t len);
/* Check s[0..len) against rules (NULL = all defaults). Checks in a fixed order: bytes and
 * encoding first (TOO_LONG by bytes, BAD_UTF8, NUL), then characters (CONTROL, INVISIBLE,
 * NONCHAR), then counts (TOO_SHORT, TOO_LONG by characters). *chars (if not NULL) gets the
 * number of code points counted. */
gs_text_verdict_t gs_text_check(const char *s, size_t len, const gs_text_rules_t *rules,
                                uint32_t *chars);
const char *gs_text_verdict_name(gs_text_verdict_t v);
/* Copy s into out (cap bytes, always terminated) for logging: printable ASCII except backslash
 * as is, everything else as \xHH (so controls, bidi overrides and invalid bytes cannot rewrite a
 * log line, and a typed "\x0A" cannot pass for an escaped byte). Returns
 * the length written, cut at cap-1 with "..." when too long. */
size_t gs_text_escape(char *out, size_t cap, const char *s, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* GS_PACKET_H */

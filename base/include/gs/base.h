/* SPDX-License-Identifier: MIT */
/* base: errors, logging hook, clock, atomics, threads, intrusive list and MPSC queue shared by
 * every layer, so that no layer carries its own platform shim. */
#ifndef GS_BASE_H
#define GS_BASE_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Errors. Functions return 0 or a negative GS_E* code. One list generates the enum, the names
 * and the messages (libuv's UV_ERRNO_MAP pattern), so they cannot drift apart.
 * ------------------------------------------------------------------------------------------- */
#define GS_ERRNO_MAP(X)                                                                            \
    X(INVAL, 1, "invalid argument")                                                                \
    X(NOMEM, 2, "out of memory")                                                                   \
    X(STALE, 3, "stale session id: the session is gone or its slot was reused")                    \
    X(CLOSING, 4, "session is closing")                                                            \
    X(SENDQ, 5, "send queue over its hard limit")                                                  \
    X(FULL, 6, "capacity exhausted")                                                               \
    X(SYS, 7, "system call failed")                                                                \
    X(NOTSUP, 8, "not supported by this backend or kernel")                                        \
    X(STATE, 9, "call not allowed in the current state")                                           \
    X(TOOBIG, 10, "size over the configured maximum")                                              \
    X(EMPTY, 11, "empty frame rejected by configuration")                                          \
    X(ADDR, 12, "address could not be parsed or resolved")                                         \
    X(TIMEDOUT, 13, "operation timed out")                                                         \
    X(BADID, 14, "unknown message id")                                                             \
    X(BADMSG, 15, "malformed message body")                                                        \
    X(BADTEXT, 16, "string field is not valid UTF-8 or holds a NUL")                               \
    X(EXIST, 17, "already registered, or collides with a registered entry")                        \
    X(ADDRINUSE, 18, "address already in use by another socket")

enum {
#define GS__ERR_ENUM(name, num, msg) GS_E##name = -(num),
    GS_ERRNO_MAP(GS__ERR_ENUM)
#undef GS__ERR_ENUM
};

/* Human-readable message for a GS_E* code ("unknown error" for anything else). Any thread. */
const char *gs_strerror(int err);
/* Short symbolic name such as "GS_ESTALE". Any thread. */
const char *gs_err_name(int err);

/* ---------------------------------------------------------------------------------------------
 * Logging. One process-wide hook; the default writes "LEVEL component: message" to stderr.
 * gs_log may be called from any thread; the hook must be thread-safe.
 * ------------------------------------------------------------------------------------------- */
typedef enum {
    GS_LOG_DEBUG = 0,
    GS_LOG_INFO,
    GS_LOG_WARN,
    GS_LOG_ERROR,
    GS_LOG_OFF
} gs_log_level_t;

typedef void (*gs_log_cb)(gs_log_level_t level, const char *component, const char *message,
                          void *user);

/* Replace the hook (NULL restores the default) and set the minimum level that is formatted.
 * Call before starting threads; not synchronised with concurrent gs_log calls. */
void gs_log_set_hook(gs_log_cb cb, void *user);
void gs_log_set_level(gs_log_level_t level);
gs_log_level_t gs_log_get_level(void);

#if defined(__MINGW32__)
/* mingw-w64 checks "printf" against msvcrt's dialect (no %zu, %llu as %I64u); C11 builds use
 * its C99-conforming stdio (__USE_MINGW_ANSI_STDIO), which gnu_printf describes. */
#define GS_PRINTF(a, b) __attribute__((format(gnu_printf, a, b)))
#elif defined(__GNUC__)
#define GS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define GS_PRINTF(a, b)
#endif
void gs_log(gs_log_level_t level, const char *component, const char *fmt, ...) GS_PRINTF(3, 4);

/* A rate limit for one kind of line that a client can cause at will (a session cut, a rejected
 * frame): at most `burst` lines per `interval_ms` go out; the others are counted, and the first
 * line let through after them ends with "(N similar lines suppressed)". Embed one per kind in the
 * object that logs (a net, an app), zeroed and given burst and interval. Any thread: the counters
 * are atomics, so concurrent callers may let a line or two past the burst, never fewer. */
typedef struct gs_log_limit {
    uint32_t burst;              /* [10] */
    uint32_t interval_ms;        /* [1000] */
    _Atomic uint64_t window_ms;  /* start of the current window (gs_now_ms) */
    _Atomic uint32_t in_window;  /* lines let through in it */
    _Atomic uint64_t suppressed; /* not yet reported */
    _Atomic uint64_t suppressed_total;
} gs_log_limit_t;
/* gs_log through the limit. */
void gs_log_limited(gs_log_limit_t *limit, gs_log_level_t level, const char *component,
                    const char *fmt, ...) GS_PRINTF(4, 5);

/* ---------------------------------------------------------------------------------------------
 * Clock: monotonic time, for deadlines and latency. Any thread.
 * ------------------------------------------------------------------------------------------- */
uint64_t gs_now_ns(void);
static inline uint64_t gs_now_ms(void) { return gs_now_ns() / 1000000u; }
void gs_sleep_ms(uint32_t ms);
/* Give the CPU to another runnable thread (sched_yield / SwitchToThread). */
void gs_thread_yield(void);

/* ---------------------------------------------------------------------------------------------
 * Threads: a thin shim so that layers never include pthread.h or windows.h themselves.
 * ------------------------------------------------------------------------------------------- */
typedef struct gs_thread gs_thread_t; /* opaque */
typedef void (*gs_thread_fn)(void *arg);

/* Start a thread running fn(arg). Returns 0, GS_ENOMEM or GS_ESYS. */
int gs_thread_start(gs_thread_t **out, gs_thread_fn fn, void *arg, const char *name);
/* Wait for the thread to finish and free it. Must not be called from the thread itself. */
void gs_thread_join(gs_thread_t *t);

typedef struct gs_mutex {
    /* Large enough for pthread_mutex_t and SRWLOCK; aligned for both. */
    _Alignas(8) unsigned char opaque[64];
} gs_mutex_t;
void gs_mutex_init(gs_mutex_t *m);
void gs_mutex_fini(gs_mutex_t *m);
void gs_mutex_lock(gs_mutex_t *m);
void gs_mutex_unlock(gs_mutex_t *m);

/* Condition variable (pthread_cond_t / CONDITION_VARIABLE) used with a gs_mutex_t. Waits may
 * return spuriously, so callers re-check their predicate in a loop under the mutex. Timed waits
 * measure a relative timeout on the monotonic clock, so wall-clock jumps do not shorten or
 * stretch them. Any thread; signal and broadcast may be called with or without the mutex held. */
typedef struct gs_cond {
    /* Large enough for pthread_cond_t and CONDITION_VARIABLE; aligned for both. */
    _Alignas(8) unsigned char opaque[64];
} gs_cond_t;
void gs_cond_init(gs_cond_t *c);
void gs_cond_fini(gs_cond_t *c); /* no thread may be waiting */
/* Atomically release m (held by the caller) and sleep until woken; m is held again on return. */
void gs_cond_wait(gs_cond_t *c, gs_mutex_t *m);
/* As gs_cond_wait, for at most ms milliseconds. Returns 0 (woken, perhaps spuriously) or
 * GS_ETIMEDOUT; m is held again either way. */
int gs_cond_timedwait_ms(gs_cond_t *c, gs_mutex_t *m, uint32_t ms);
void gs_cond_signal(gs_cond_t *c);    /* wake at least one waiter, if any */
void gs_cond_broadcast(gs_cond_t *c); /* wake every waiter */

/* Thread-local slots with a destructor run at thread exit (pthread keys / FLS). A key is an
 * object, not a global: each user (e.g. each packet pool) creates its own. */
typedef struct gs_tls_key {
    _Alignas(8) unsigned char opaque[8];
} gs_tls_key_t;
/* destructor(value) runs in an exiting thread whose value is not NULL. Returns 0 or GS_ESYS. */
int gs_tls_key_create(gs_tls_key_t *key, void (*destructor)(void *value));
/* After this, no destructor runs for the key; values left in other threads are forgotten. */
void gs_tls_key_delete(gs_tls_key_t *key);
void *gs_tls_get(const gs_tls_key_t *key);
int gs_tls_set(gs_tls_key_t *key, void *value);

#define GS_CACHELINE 64

/* ---------------------------------------------------------------------------------------------
 * Aligned memory (C11 aligned_alloc is missing from the Windows C runtime, whose
 * _aligned_malloc blocks must be freed with _aligned_free, not free). Any thread.
 * ------------------------------------------------------------------------------------------- */
/* size bytes aligned to align (a power of two; smaller than a pointer means a pointer's); size
 * need not be a multiple of align. NULL when out of memory or align is not a power of two. Free
 * with gs_aligned_free. */
void *gs_aligned_alloc(size_t align, size_t size);
/* Frees a block from gs_aligned_alloc (NULL is ignored); never pass it to free(). */
void gs_aligned_free(void *p);
/* size bytes of zeroed pages straight from the operating system (mmap / VirtualAlloc), page
 * aligned, or NULL. For long-lived slabs that must go back to the system when freed, which
 * malloc does not promise for blocks in the middle of its heap. Any thread. */
void *gs_pages_alloc(size_t size);
/* Give pages from gs_pages_alloc back (size as allocated; NULL is ignored). Any thread. */
void gs_pages_free(void *p, size_t size);

/* ---------------------------------------------------------------------------------------------
 * container_of and an intrusive doubly linked list (the link lives inside the object).
 * Not thread-safe: the owner of the list serialises access.
 * ------------------------------------------------------------------------------------------- */
#define gs_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

typedef struct gs_list {
    struct gs_list *prev, *next;
} gs_list_t;

static inline void gs_list_init(gs_list_t *h) { h->prev = h->next = h; }
static inline int gs_list_empty(const gs_list_t *h) { return h->next == h; }
static inline void gs_list_insert_tail(gs_list_t *h, gs_list_t *n) {
    n->prev = h->prev;
    n->next = h;
    h->prev->next = n;
    h->prev = n;
}
static inline void gs_list_remove(gs_list_t *n) {
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

/* ---------------------------------------------------------------------------------------------
 * Intrusive multi-producer single-consumer queue (Vyukov's non-blocking MPSC with a stub node).
 * push: any thread, wait-free (one atomic exchange). pop: the single consumer only.
 * pop may return NULL while a push is half done ("transiently empty"); the pusher finishes in a
 * few instructions, and every pusher is expected to wake the consumer after pushing, so the
 * element is never stranded: the consumer sees it on its next pass.
 * ------------------------------------------------------------------------------------------- */
typedef struct gs_mpsc_node {
    _Atomic(struct gs_mpsc_node *) next;
} gs_mpsc_node_t;

/* 24 bytes and unpadded on purpose: one lives in every session. Pad the owner where producers
 * and the consumer would otherwise share a hot cache line. */
typedef struct gs_mpsc {
    _Atomic(gs_mpsc_node_t *) head; /* producers swap here */
    gs_mpsc_node_t *tail;           /* consumer reads here */
    gs_mpsc_node_t stub;
} gs_mpsc_t;

void gs_mpsc_init(gs_mpsc_t *q);
void gs_mpsc_push(gs_mpsc_t *q, gs_mpsc_node_t *n);
gs_mpsc_node_t *gs_mpsc_pop(gs_mpsc_t *q);
/* True when the queue holds no element and no push is in progress. Consumer only. */
int gs_mpsc_empty(gs_mpsc_t *q);

/* ---------------------------------------------------------------------------------------------
 * Histogram: fixed bucket bounds, counts read from any thread while any thread observes.
 * Observing is two relaxed atomic adds on the histogram's own lines (no lock); give each
 * writer thread its own histogram on a hot path and merge the snapshots (gs_hist_snap_add).
 * Values are integers in the unit of the bounds (nanoseconds, bytes, buffers).
 * ------------------------------------------------------------------------------------------- */
#define GS_HIST_MAX_BOUNDS 20

typedef struct gs_hist {
    uint32_t nbounds;
    uint64_t bounds[GS_HIST_MAX_BOUNDS]; /* ascending upper bounds (inclusive) */
    _Alignas(GS_CACHELINE) _Atomic uint64_t counts[GS_HIST_MAX_BOUNDS + 1]; /* last: above all */
    _Atomic uint64_t sum;
} gs_hist_t;

/* A snapshot: per-bucket (not cumulative) counts, their total and the sum of values. */
typedef struct gs_hist_snap {
    uint32_t nbounds;
    uint64_t bounds[GS_HIST_MAX_BOUNDS];
    uint64_t counts[GS_HIST_MAX_BOUNDS + 1];
    uint64_t count, sum;
} gs_hist_snap_t;

/* Bounds for durations in nanoseconds (1 us .. 10 s) and sizes in bytes (16 B .. 1 MiB). */
extern const uint64_t gs_hist_bounds_ns[];
extern const uint32_t gs_hist_bounds_ns_count;
extern const uint64_t gs_hist_bounds_bytes[];
extern const uint32_t gs_hist_bounds_bytes_count;

/* Set the bounds (at most GS_HIST_MAX_BOUNDS, ascending; more are ignored) and zero the counts.
 * Before any other thread uses it. */
void gs_hist_init(gs_hist_t *h, const uint64_t *bounds, uint32_t nbounds);
/* Count one value. Any thread. */
void gs_hist_observe(gs_hist_t *h, uint64_t v);
/* Read the counts (each exact, the set a near-simultaneous snapshot). Any thread. */
void gs_hist_read(const gs_hist_t *h, gs_hist_snap_t *out);
/* Add b's counts to a (same bounds; a zeroed snapshot takes b's bounds). */
void gs_hist_snap_add(gs_hist_snap_t *a, const gs_hist_snap_t *b);

#ifdef __cplusplus
}
#endif
#endif /* GS_BASE_H */

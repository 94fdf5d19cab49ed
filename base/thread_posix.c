/* SPDX-License-Identifier: MIT */
/* Thread, mutex, condition variable and thread-local key shim over POSIX threads, so that no
 * layer includes pthread.h itself. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gs/base.h"

/* Linux limits thread names to 16 bytes including the terminator (pthread_setname_np fails with
 * ERANGE beyond that), so longer names are cut rather than dropped. */
#define THREAD_NAME_MAX 16

struct gs_thread {
    pthread_t tid;
    gs_thread_fn fn;
    void *arg;
    char name[THREAD_NAME_MAX];
};

_Static_assert(sizeof(pthread_mutex_t) <= sizeof(((gs_mutex_t *)0)->opaque),
               "pthread_mutex_t does not fit in gs_mutex_t");
_Static_assert(_Alignof(pthread_mutex_t) <= _Alignof(gs_mutex_t),
               "gs_mutex_t is not aligned enough for pthread_mutex_t");

static pthread_mutex_t *native(gs_mutex_t *m) {
    /* The opaque array is only ever accessed as a pthread_mutex_t, never as bytes. */
    return (pthread_mutex_t *)(void *)m->opaque;
}

/* The mutex calls return void: a failure means a corrupted or misused mutex (EINVAL, EDEADLK,
 * EPERM), which no caller could recover from, so stop at the point of the bug. */
static void check(int rc, const char *what) {
    if (rc != 0) {
        fprintf(stderr, "gs: %s failed: %s\n", what, strerror(rc));
        abort();
    }
}

static void *thread_main(void *p) {
    gs_thread_t *t = p;

    /* Named from inside the thread: naming another thread needs it to still exist, and the name
     * is cosmetic, so a failure is ignored. */
    if (t->name[0] != '\0')
        (void)pthread_setname_np(pthread_self(), t->name);
    t->fn(t->arg);
    return NULL;
}

int gs_thread_start(gs_thread_t **out, gs_thread_fn fn, void *arg, const char *name) {
    gs_thread_t *t;
    int rc;

    if (out == NULL)
        return GS_EINVAL;
    *out = NULL;
    if (fn == NULL)
        return GS_EINVAL;
    t = calloc(1, sizeof *t);
    if (t == NULL)
        return GS_ENOMEM;
    t->fn = fn;
    t->arg = arg;
    if (name != NULL)
        snprintf(t->name, sizeof t->name, "%s", name);

    rc = pthread_create(&t->tid, NULL, thread_main, t);
    if (rc != 0) {
        free(t);
        /* EAGAIN means the system is out of threads or memory for a stack; EINVAL and EPERM
         * cannot happen with default attributes. All are failures of the system, not of the
         * caller's arguments, and the errno detail is lost in GS_ESYS, so log it here. */
        gs_log(GS_LOG_ERROR, "base", "pthread_create(%s): %s", name != NULL ? name : "",
               strerror(rc));
        return GS_ESYS;
    }
    *out = t;
    return 0;
}

void gs_thread_join(gs_thread_t *t) {
    if (t == NULL)
        return;
    /* EDEADLK (joining oneself) and EINVAL/ESRCH (a joined or foreign handle) are misuse. */
    check(pthread_join(t->tid, NULL), "pthread_join");
    free(t);
}

void gs_mutex_init(gs_mutex_t *m) {
    check(pthread_mutex_init(native(m), NULL), "pthread_mutex_init");
}

void gs_mutex_fini(gs_mutex_t *m) {
    check(pthread_mutex_destroy(native(m)), "pthread_mutex_destroy");
}

void gs_mutex_lock(gs_mutex_t *m) { check(pthread_mutex_lock(native(m)), "pthread_mutex_lock"); }

void gs_mutex_unlock(gs_mutex_t *m) {
    check(pthread_mutex_unlock(native(m)), "pthread_mutex_unlock");
}

_Static_assert(sizeof(pthread_cond_t) <= sizeof(((gs_cond_t *)0)->opaque),
               "pthread_cond_t does not fit in gs_cond_t");
_Static_assert(_Alignof(pthread_cond_t) <= _Alignof(gs_cond_t),
               "gs_cond_t is not aligned enough for pthread_cond_t");

static pthread_cond_t *native_cond(gs_cond_t *c) { return (pthread_cond_t *)(void *)c->opaque; }

void gs_cond_init(gs_cond_t *c) {
    pthread_condattr_t attr;

    /* Timed waits take an absolute deadline on the condition's clock, which is CLOCK_REALTIME
     * by default: a wall-clock step (NTP, an admin) would then cut a wait short or stretch it
     * without bound. CLOCK_MONOTONIC keeps gs_cond_timedwait_ms a true relative timeout. */
    check(pthread_condattr_init(&attr), "pthread_condattr_init");
    check(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC), "pthread_condattr_setclock");
    check(pthread_cond_init(native_cond(c), &attr), "pthread_cond_init");
    check(pthread_condattr_destroy(&attr), "pthread_condattr_destroy");
}

void gs_cond_fini(gs_cond_t *c) {
    check(pthread_cond_destroy(native_cond(c)), "pthread_cond_destroy");
}

void gs_cond_wait(gs_cond_t *c, gs_mutex_t *m) {
    check(pthread_cond_wait(native_cond(c), native(m)), "pthread_cond_wait");
}

int gs_cond_timedwait_ms(gs_cond_t *c, gs_mutex_t *m, uint32_t ms) {
    struct timespec ts;
    int rc;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000u);
    ts.tv_nsec += (long)(ms % 1000u) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    rc = pthread_cond_timedwait(native_cond(c), native(m), &ts);
    if (rc == ETIMEDOUT)
        return GS_ETIMEDOUT;
    check(rc, "pthread_cond_timedwait");
    return 0;
}

void gs_cond_signal(gs_cond_t *c) {
    check(pthread_cond_signal(native_cond(c)), "pthread_cond_signal");
}

void gs_cond_broadcast(gs_cond_t *c) {
    check(pthread_cond_broadcast(native_cond(c)), "pthread_cond_broadcast");
}

_Static_assert(sizeof(pthread_key_t) <= sizeof(((gs_tls_key_t *)0)->opaque),
               "pthread_key_t does not fit in gs_tls_key_t");

static pthread_key_t *native_key(gs_tls_key_t *k) { return (pthread_key_t *)(void *)k->opaque; }

int gs_tls_key_create(gs_tls_key_t *key, void (*destructor)(void *value)) {
    int rc = pthread_key_create(native_key(key), destructor);
    if (rc != 0) {
        /* EAGAIN: the process has used all PTHREAD_KEYS_MAX keys. */
        gs_log(GS_LOG_ERROR, "base", "pthread_key_create: %s", strerror(rc));
        return GS_ESYS;
    }
    return 0;
}

void gs_tls_key_delete(gs_tls_key_t *key) {
    check(pthread_key_delete(*native_key(key)), "pthread_key_delete");
}

void *gs_tls_get(const gs_tls_key_t *key) {
    return pthread_getspecific(*(const pthread_key_t *)(const void *)key->opaque);
}

int gs_tls_set(gs_tls_key_t *key, void *value) {
    return pthread_setspecific(*native_key(key), value) == 0 ? 0 : GS_ENOMEM;
}

void gs_thread_yield(void) { (void)sched_yield(); }

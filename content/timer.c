/* SPDX-License-Identifier: MIT */
/* Timers: a binary min-heap of deadlines under one mutex, and one thread that sleeps on a
 * condition variable until the earliest deadline and then posts GS__JOB_TIMER jobs to the timers'
 * actors. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define NS_PER_MS 1000000u
/* Entries the timer thread takes off the heap per pass, so the lock is not held while pushing. */
#define DUE_BATCH 64
/* When the pool refuses a timer job, the timer is put back with this delay (never dropped). */
#define RETRY_NS (10u * NS_PER_MS)
#define NO_SLOT  UINT32_MAX

/* Where a live timer is. Every state holds one actor reference; only the job ends a timer in
 * FLIGHT or RUNNING (cancel merely marks it), so the job's pointer to it stays valid. */
enum { T_HEAP, T_FLIGHT, T_RUNNING };

typedef struct entry {
    uint64_t deadline; /* gs_now_ns clock */
    uint64_t seq;      /* tie-break among equal deadlines: first armed runs first */
    gs_timer_id_t id;
    uint32_t heap_idx; /* valid in T_HEAP */
    uint32_t state;
    int cancelled; /* set by cancel (or stop) while FLIGHT or RUNNING */
    uint32_t repeat_ms;
    gs_actor_t *actor; /* referenced */
    gs_job_cb fn;
    size_t len;
    unsigned char *data; /* the copy of the caller's data, 16-byte aligned, in this allocation */
} entry_t;

typedef struct slot {
    entry_t *e;         /* NULL when free */
    uint32_t gen;       /* generation of the current (or next) timer in this slot, never 0 */
    uint32_t next_free; /* free list link */
} slot_t;

struct gs__timers {
    gs_mutex_t lock; /* everything below */
    gs_cond_t cond;  /* the thread waits here: earlier deadline added, or stop */
    gs__sched_t *sched;
    gs_thread_t *thread;
    int started, stopping;
    entry_t **heap;
    uint32_t heap_len, heap_cap;
    slot_t *slots;
    uint32_t slots_len, slots_cap, free_head;
    uint64_t seq;
    uint64_t alive, runs, cancelled;
    gs_hist_t lag_ns;  /* deadline to run start; observed under the lock, read without it */
    int alloc_failing; /* the last job allocation failed: log only the first of a series */
};

/* ---------------------------------------------------------------------------------------------
 * Heap, ordered by (deadline, seq). All under the lock.
 * ------------------------------------------------------------------------------------------- */
static int before(const entry_t *a, const entry_t *b) {
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_set(gs__timers_t *t, uint32_t i, entry_t *e) {
    t->heap[i] = e;
    e->heap_idx = i;
}

static void sift_up(gs__timers_t *t, uint32_t i) {
    entry_t *e = t->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!before(e, t->heap[parent]))
            break;
        heap_set(t, i, t->heap[parent]);
        i = parent;
    }
    heap_set(t, i, e);
}

static void sift_down(gs__timers_t *t, uint32_t i) {
    entry_t *e = t->heap[i];
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= t->heap_len)
            break;
        if (child + 1 < t->heap_len && before(t->heap[child + 1], t->heap[child]))
            child++;
        if (!before(t->heap[child], e))
            break;
        heap_set(t, i, t->heap[child]);
        i = child;
    }
    heap_set(t, i, e);
}

/* Capacity is reserved when a timer is added (one heap place per live timer), so pushing never
 * fails: re-arming a repeating timer from its job cannot run out of memory. */
static void heap_push(gs__timers_t *t, entry_t *e) {
    e->state = T_HEAP;
    t->heap[t->heap_len] = e;
    e->heap_idx = t->heap_len++;
    sift_up(t, e->heap_idx);
}

static void heap_remove(gs__timers_t *t, entry_t *e) {
    uint32_t i = e->heap_idx;
    entry_t *last = t->heap[--t->heap_len];
    if (i < t->heap_len) {
        heap_set(t, i, last);
        sift_down(t, i);
        sift_up(t, last->heap_idx);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Slots and the end of a timer.
 * ------------------------------------------------------------------------------------------- */
static int reserve(gs__timers_t *t) {
    if (t->alive + 1 > t->heap_cap) {
        if (t->heap_cap >= UINT32_MAX / 2)
            return GS_ENOMEM;
        uint32_t cap = t->heap_cap ? t->heap_cap * 2 : 64;
        entry_t **h = realloc(t->heap, sizeof *h * cap);
        if (!h)
            return GS_ENOMEM;
        t->heap = h;
        t->heap_cap = cap;
    }
    if (t->free_head == NO_SLOT && t->slots_len == t->slots_cap) {
        if (t->slots_cap >= UINT32_MAX / 2)
            return GS_ENOMEM;
        uint32_t cap = t->slots_cap ? t->slots_cap * 2 : 64;
        slot_t *s = realloc(t->slots, sizeof *s * cap);
        if (!s)
            return GS_ENOMEM;
        t->slots = s;
        t->slots_cap = cap;
    }
    return 0;
}

/* After reserve(). */
static gs_timer_id_t slot_take(gs__timers_t *t, entry_t *e) {
    uint32_t i;
    if (t->free_head != NO_SLOT) {
        i = t->free_head;
        t->free_head = t->slots[i].next_free;
    } else {
        i = t->slots_len++;
        /* Generation starts at 1 so that no id is ever 0. */
        t->slots[i].gen = 1;
    }
    t->slots[i].e = e;
    t->slots[i].next_free = NO_SLOT;
    return ((uint64_t)t->slots[i].gen << 32) | i;
}

static entry_t *lookup(gs__timers_t *t, gs_timer_id_t id) {
    uint32_t i = (uint32_t)id;
    if (i >= t->slots_len || t->slots[i].gen != (uint32_t)(id >> 32))
        return NULL;
    return t->slots[i].e;
}

/* Under the lock: forget the timer (its id becomes stale, its slot reusable). The caller then
 * calls release() without the lock. */
static void detach(gs__timers_t *t, entry_t *e) {
    slot_t *s = &t->slots[(uint32_t)e->id];
    s->e = NULL;
    if (++s->gen == 0)
        s->gen = 1; /* wrapped: keep ids non-zero */
    s->next_free = t->free_head;
    t->free_head = (uint32_t)e->id;
    t->alive--;
}

/* Without the lock: dropping the actor reference may free the actor, which must not happen under
 * the timer lock (the timer lock is a leaf: nothing of the scheduler is called under it). */
static void release(entry_t *e) {
    gs_actor_unref(e->actor);
    free(e);
}

/* ---------------------------------------------------------------------------------------------
 * The timer thread.
 * ------------------------------------------------------------------------------------------- */
static void post_due(gs__timers_t *t, entry_t **due, unsigned n) {
    unsigned failed = 0;
    /* Pushed in heap order from this one thread, so each actor runs its timers in deadline
     * order. After the push the job may already have run and ended the timer: e is not touched
     * again. */
    for (unsigned i = 0; i < n; i++) {
        gs__job_t *job = gs__job_alloc(t->sched, 0);
        if (!job) {
            due[failed++] = due[i];
            continue;
        }
        job->kind = GS__JOB_TIMER;
        job->ptr = due[i];
        gs__actor_push(due[i]->actor, job);
    }
    if (!failed) {
        t->alloc_failing = 0; /* only this thread reads and writes it */
        return;
    }
    if (!t->alloc_failing)
        gs_log(GS_LOG_WARN, "content", "timer jobs refused by the pool: %u timers retried later",
               failed);
    t->alloc_failing = 1;
    /* No job exists for these, so this thread still owns them: put them back (or end them). */
    unsigned ended = 0;
    gs_mutex_lock(&t->lock);
    uint64_t retry = gs_now_ns() + RETRY_NS;
    for (unsigned i = 0; i < failed; i++) {
        entry_t *e = due[i];
        if (e->cancelled || t->stopping) {
            detach(t, e);
            due[ended++] = e;
        } else {
            e->deadline = retry;
            e->seq = t->seq++;
            heap_push(t, e);
        }
    }
    gs_mutex_unlock(&t->lock);
    for (unsigned i = 0; i < ended; i++)
        release(due[i]);
}

static void timer_main(void *arg) {
    gs__timers_t *t = arg;
    entry_t *due[DUE_BATCH];

    gs_mutex_lock(&t->lock);
    while (!t->stopping) {
        if (t->heap_len == 0) {
            gs_cond_wait(&t->cond, &t->lock);
            continue;
        }
        uint64_t now = gs_now_ns();
        if (t->heap[0]->deadline > now) {
            /* Rounded up: waking a little late is fine, waking early would spin. Woken early by
             * an earlier timer or by stop; spurious wake-ups just loop. */
            uint64_t ms = (t->heap[0]->deadline - now + NS_PER_MS - 1) / NS_PER_MS;
            (void)gs_cond_timedwait_ms(&t->cond, &t->lock,
                                       ms < UINT32_MAX ? (uint32_t)ms : UINT32_MAX);
            continue;
        }
        unsigned n = 0;
        while (n < DUE_BATCH && t->heap_len > 0 && t->heap[0]->deadline <= now) {
            entry_t *e = t->heap[0];
            heap_remove(t, e);
            e->state = T_FLIGHT;
            due[n++] = e;
        }
        gs_mutex_unlock(&t->lock);
        post_due(t, due, n);
        gs_mutex_lock(&t->lock);
    }
    gs_mutex_unlock(&t->lock);
}

/* ---------------------------------------------------------------------------------------------
 * Interface.
 * ------------------------------------------------------------------------------------------- */
int gs__timers_create(gs__timers_t **out, gs__sched_t *s) {
    if (!out)
        return GS_EINVAL;
    *out = NULL;
    if (!s)
        return GS_EINVAL;
    gs__timers_t *t = calloc(1, sizeof *t);
    if (!t)
        return GS_ENOMEM;
    t->sched = s;
    t->free_head = NO_SLOT;
    gs_mutex_init(&t->lock);
    gs_cond_init(&t->cond);
    gs_hist_init(&t->lag_ns, gs_hist_bounds_ns, gs_hist_bounds_ns_count);
    *out = t;
    return 0;
}

int gs__timers_start(gs__timers_t *t) {
    if (!t || t->started || t->stopping)
        return GS_ESTATE;
    int rc = gs_thread_start(&t->thread, timer_main, t, "gs-timer");
    if (rc != 0)
        return rc;
    t->started = 1;
    return 0;
}

void gs__timers_stop(gs__timers_t *t) {
    if (!t)
        return;
    gs_mutex_lock(&t->lock);
    if (t->stopping) {
        gs_mutex_unlock(&t->lock);
        return;
    }
    /* From here on nothing is added or re-armed, and jobs in flight end their timers without
     * running them. The heap is taken whole: its timers end here. */
    t->stopping = 1;
    entry_t **heap = t->heap;
    uint32_t n = t->heap_len;
    t->heap = NULL;
    t->heap_len = t->heap_cap = 0;
    for (uint32_t i = 0; i < n; i++)
        detach(t, heap[i]);
    t->cancelled += n;
    gs_cond_signal(&t->cond);
    gs_mutex_unlock(&t->lock);

    if (t->started)
        gs_thread_join(t->thread);
    t->thread = NULL;
    for (uint32_t i = 0; i < n; i++)
        release(heap[i]);
    free(heap);
}

void gs__timers_destroy(gs__timers_t *t) {
    if (!t)
        return;
    gs__timers_stop(t);
    /* Timers still alive are in flight: their jobs were never run (the scheduler must have
     * drained, or be destroyed after this without running them). */
    if (t->alive)
        gs_log(GS_LOG_WARN, "content", "%llu timers in flight at destroy",
               (unsigned long long)t->alive);
    for (uint32_t i = 0; i < t->slots_len; i++)
        if (t->slots[i].e)
            release(t->slots[i].e);
    free(t->slots);
    gs_cond_fini(&t->cond);
    gs_mutex_fini(&t->lock);
    free(t);
}

gs_timer_id_t gs__timer_add(gs__timers_t *t, gs_actor_t *a, uint32_t delay_ms, uint32_t repeat_ms,
                            gs_job_cb fn, const void *data, size_t len) {
    if (!t || !a || !fn || (len && !data) || len > SIZE_MAX - sizeof(entry_t) - 16)
        return 0;
    entry_t *e = malloc(sizeof *e + 15 + len);
    if (!e)
        return 0;
    e->data = (unsigned char *)(((uintptr_t)(e + 1) + 15) & ~(uintptr_t)15);
    if (len)
        memcpy(e->data, data, len);
    e->len = len;
    e->fn = fn;
    e->actor = a;
    e->repeat_ms = repeat_ms;
    e->cancelled = 0;
    gs_actor_ref(a);

    gs_mutex_lock(&t->lock);
    if (t->stopping || reserve(t) != 0) {
        gs_mutex_unlock(&t->lock);
        release(e);
        return 0;
    }
    gs_timer_id_t id = e->id = slot_take(t, e);
    e->deadline = gs_now_ns() + (uint64_t)delay_ms * NS_PER_MS;
    e->seq = t->seq++;
    t->alive++;
    heap_push(t, e);
    if (e->heap_idx == 0)
        gs_cond_signal(&t->cond); /* the thread sleeps until a later deadline, or forever */
    gs_mutex_unlock(&t->lock);
    return id;
}

int gs__timer_cancel(gs__timers_t *t, gs_timer_id_t id) {
    if (!t)
        return GS_ESTALE;
    gs_mutex_lock(&t->lock);
    entry_t *e = lookup(t, id);
    /* After stop every timer counts as cancelled already. */
    if (!e || e->cancelled || t->stopping) {
        gs_mutex_unlock(&t->lock);
        return GS_ESTALE;
    }
    t->cancelled++;
    if (e->state != T_HEAP) {
        /* A job is posted or running: it sees the mark under this lock before it would start the
         * run, so no run starts after we return. */
        e->cancelled = 1;
        gs_mutex_unlock(&t->lock);
        return 0;
    }
    heap_remove(t, e);
    detach(t, e);
    gs_mutex_unlock(&t->lock);
    release(e);
    return 0;
}

void gs__timer_run(gs__timers_t *t, gs_ctx_t *ctx, gs__job_t *job) {
    entry_t *e = job->ptr;

    gs_mutex_lock(&t->lock);
    if (e->cancelled || t->stopping)
        goto end;
    e->state = T_RUNNING;
    t->runs++;
    uint64_t started = gs_now_ns();
    gs_hist_observe(&t->lag_ns, started > e->deadline ? started - e->deadline : 0);
    gs_mutex_unlock(&t->lock);

    e->fn(ctx, e->data, e->len);

    gs_mutex_lock(&t->lock);
    if (e->repeat_ms && !e->cancelled && !t->stopping) {
        /* The next deadline follows the schedule, but never lies in the past: a run that came
         * late (a busy actor) is followed by one run now, not by a burst of catch-up runs. */
        uint64_t now = gs_now_ns();
        uint64_t next = e->deadline + (uint64_t)e->repeat_ms * NS_PER_MS;
        e->deadline = next > now ? next : now;
        e->seq = t->seq++;
        heap_push(t, e);
        if (e->heap_idx == 0)
            gs_cond_signal(&t->cond);
        gs_mutex_unlock(&t->lock);
        return;
    }
end:
    detach(t, e);
    gs_mutex_unlock(&t->lock);
    release(e);
}

void gs__timers_stats(gs__timers_t *t, gs__timer_stats_t *out) {
    gs_mutex_lock(&t->lock);
    out->alive = t->alive;
    out->runs = t->runs;
    out->cancelled = t->cancelled;
    gs_mutex_unlock(&t->lock);
    gs_hist_read(&t->lag_ns, &out->lag_ns);
}

gs_timer_id_t gs_app_timer(gs_app_t *app, gs_actor_t *a, uint32_t delay_ms, uint32_t repeat_ms,
                           gs_job_cb fn, const void *data, size_t len) {
    if (!app)
        return 0;
    return gs__timer_add(gs__app_timers(app), a, delay_ms, repeat_ms, fn, data, len);
}

int gs_app_timer_cancel(gs_app_t *app, gs_timer_id_t id) {
    if (!app)
        return GS_ESTALE;
    return gs__timer_cancel(gs__app_timers(app), id);
}

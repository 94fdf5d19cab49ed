/* SPDX-License-Identifier: MIT */
/* Actors: creation, references, user state, and posting jobs, i.e. the producer side of the
 * scheduling handover whose worker side (and the argument that no job is stranded) is in
 * sched.c. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "sched_internal.h"

gs_actor_t *gs__actor_new(gs__sched_t *s, gs_app_t *app, const char *name) {
    gs_actor_t *a = gs__sched_actor_alloc(s);

    if (a == NULL)
        return NULL;
    /* Plain initialisation: whatever hands the pointer to another thread (a mutex, a queue, a
     * thread start) publishes it. */
    gs_mpsc_init(&a->q);
    atomic_init(&a->refs, 1);
    atomic_init(&a->scheduled, 0);
    a->sched = s;
    a->app = app;
    gs_list_init(&a->run_link);
    a->session = GS_SESSION_NONE;
    if (name != NULL)
        snprintf(a->name, sizeof a->name, "%s", name);
    return a;
}

gs_actor_t *gs_actor_create(gs_app_t *app, const char *name) {
    return gs__actor_new(gs__app_sched(app), app, name);
}

void gs_actor_ref(gs_actor_t *a) {
    /* Relaxed: the caller already holds a reference, so the count cannot reach 0 meanwhile, and
     * the new owner receives the pointer through its own synchronisation. */
    atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
}

void gs_actor_unref(gs_actor_t *a) {
    /* acq_rel: the release orders this owner's use of the actor before the free, the acquire
     * makes every other owner's use visible to the thread that frees. (The usual release
     * decrement plus acquire fence on the last one is not understood by ThreadSanitizer.) */
    if (atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) == 1) {
        /* After the last job (each queued job holds a reference): the state is no longer used. */
        if (a->finalizer)
            a->finalizer(a->user);
        gs__sched_actor_free(a);
    }
}

void gs_actor_set_user(gs_actor_t *a, void *user) { a->user = user; }

void *gs_actor_user(const gs_actor_t *a) { return a->user; }

void gs_actor_set_finalizer(gs_actor_t *a, void (*fn)(void *user)) { a->finalizer = fn; }

void gs__actor_push(gs_actor_t *a, gs__job_t *job) {
    /* The job's reference, taken before the job is visible: a worker may pop, run and unref it
     * before the push below even returns. */
    atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
    job->posted_ns = gs__sched_timing(a->sched) ? gs_now_ns() : 0;
    gs__sched_count_post(a->sched);
    /* P1 then P2 (see the top of sched.c): the push must come first. The other order leaves a
     * window where P2 reads 1, the worker then empties the queue and releases the actor, and
     * only then does the job arrive, with nobody left to schedule it. */
    gs_mpsc_push(&a->q, &job->link);
    if (atomic_exchange_explicit(&a->scheduled, 1, memory_order_acq_rel) == 0) {
        /* We flipped the flag: the run queue's reference is ours to take. The caller's own
         * reference keeps a alive until then. */
        atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
        gs__sched_enqueue(a->sched, a);
    }
}

int gs_actor_post2(gs_actor_t *a, gs_job_cb fn, const void *head, size_t head_len, const void *tail,
                   size_t tail_len) {
    gs__job_t *job;

    if (a == NULL || fn == NULL || (head == NULL && head_len > 0) ||
        (tail == NULL && tail_len > 0) || tail_len > SIZE_MAX - head_len)
        return GS_EINVAL;
    job = gs__job_alloc(a->sched, head_len + tail_len);
    if (job == NULL)
        return GS_ENOMEM; /* nothing queued, no reference taken: fn will not run */
    job->kind = GS__JOB_USER;
    job->fn = fn;
    job->len = head_len + tail_len;
    if (head_len > 0)
        memcpy(job->data, head, head_len);
    if (tail_len > 0)
        memcpy(job->data + head_len, tail, tail_len);
    gs__actor_push(a, job);
    return 0;
}

int gs_actor_post(gs_actor_t *a, gs_job_cb fn, const void *data, size_t len) {
    return gs_actor_post2(a, fn, data, len, NULL, 0);
}

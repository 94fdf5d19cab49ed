/* SPDX-License-Identifier: MIT */
/* The scheduler: a run queue of actors that have jobs, worker threads that run them a batch at a
 * time, pooled jobs, drain and stop, and the counters.
 *
 * Model (skynet's global queue of service queues, skynet-src/skynet_mq.c): each actor has its
 * own MPSC job queue (actor.c); the run queue holds actors, not jobs, and an actor is in it (or
 * on a worker) at most once, which is what makes an actor's jobs run one at a time. The flag
 * a->scheduled says "in the run queue or on a worker, or about to be": whoever flips it 0 -> 1
 * owns the one scheduling and puts the actor on the run queue with a reference of its own.
 *
 * Why a mutex and a condition variable for the run queue rather than a lock-free queue: idle
 * workers must sleep, not spin or poll, and a sleeping worker needs a wake-up that cannot be
 * lost, which is what a predicate checked under the mutex of a condition variable gives. The
 * lock is taken once per actor scheduling (not per job): jobs go through the lock-free actor
 * queues, and an actor with many jobs runs a batch of them per trip through the run queue.
 *
 * Handing an actor back (release), and why no job is ever stranded. A worker that has run a
 * batch and had gs_mpsc_pop return NULL does
 *     C0: drained = gs_mpsc_empty(&a->q)     (still the consumer: it may read the queue's tail)
 *     C1: exchange(a->scheduled, 0)          (from here on another worker may be the consumer)
 *     C2: if (!drained || head != &stub) re-take the flag with exchange(a->scheduled, 1)
 * while a poster (gs__actor_push) does
 *     P1: gs_mpsc_push(&a->q, job)           P2: if (exchange(a->scheduled, 1) == 0) enqueue a
 * C2 reads only the atomic head: after C1 the tail belongs to whichever worker runs the actor
 * next, so gs_mpsc_empty (which reads tail) would race with that worker's pops.
 * Both exchanges are read-modify-writes of one variable, so one of them comes first in its
 * modification order:
 *  - C1 before P2: P2 reads 0 (or the 1 of another poster or of C2, who then scheduled a), so
 *    a is scheduled again and the job runs on that next run.
 *  - P2 before C1: P2 read 1 and leaves the job to the worker. Every operation on scheduled is
 *    a read-modify-write, so C1 (an acquire) reads from the release sequence of P2 (a release)
 *    and synchronises with it: P1, sequenced before P2, happens before C2. If the queue was not
 *    drained at C0 (pop returned NULL on a push still half done: the "transiently empty" case),
 *    C2 re-takes the flag without looking. If it was drained, head was &stub at C0, and every
 *    element before the stub had been popped; the job of P1 is then either one of those (it
 *    ran), or P1 swapped head after the stub, and C2, reading head after P1 happened, sees a
 *    node that is not the stub. (head becomes &stub again only when a consumer pushes the stub
 *    back, and after C1 only a worker that re-took the flag consumes: that run owns the job.)
 *    C2's exchange may find the flag already taken by a poster: then the poster schedules and
 *    this worker drops its reference.
 * So every job is either popped by the run it was pushed during, or seen by C2, or its poster
 * schedules the actor. C1 is an exchange rather than a plain store because a store would not
 * synchronise with P2 (C11 gives no ordering between a store followed by a load of another
 * variable, the store-buffer pattern, without seq_cst fences on both sides); on x86 a seq_cst
 * store is an xchg anyway, so the read costs nothing.
 *
 * When the re-check finds a half-done push, the next run may pop NULL again until the poster
 * links its node: the actor then cycles through the run queue behind every other ready actor
 * for the few instructions that the poster takes, which is the price of a wait-free push.
 *
 * References: the run queue (including "on a worker") holds one reference, taken by whoever
 * flipped scheduled to 1 and dropped by the worker as the very last thing it does with the
 * actor; each queued job holds one, dropped after the job ran. A worker therefore never touches
 * an actor it holds no reference on, and an actor is freed (on whichever thread drops the last
 * reference) only when no job of it is queued and no worker is running it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched_internal.h"

/* A registered actor: the registry link is kept out of struct gs_actor so that destroy can free
 * actors that someone forgot to unref without a field in the shared layout. */
typedef struct actor_box {
    gs_list_t all; /* in s->actors, under s->actors_lock */
    gs_actor_t actor;
} actor_box_t;

/* One per worker thread, each on its own cache line: the jobs-run counter is written by its
 * worker alone (a plain add, no locked instruction) and summed when read. */
typedef struct worker {
    _Alignas(GS_CACHELINE) _Atomic uint64_t run;
    gs__sched_t *s;
    gs_thread_t *thread;
    /* With timing on; written by this worker alone (the inline runner is workers[0]). */
    _Atomic uint64_t busy_ns;
    gs_hist_t handler_ns, wait_ns;
} worker_t;

enum { STATE_CREATED = 0, STATE_RUNNING, STATE_STOPPED };

struct gs__sched {
    gs__run_cb run;
    void *user;
    gs_pool_t *pool;
    uint32_t nworkers;
    uint32_t batch;
    worker_t *workers;

    /* Written by every posting thread (one locked add per job): its own line. */
    _Alignas(GS_CACHELINE) _Atomic uint64_t posted;

    /* The run queue and everything the workers sleep on. */
    _Alignas(GS_CACHELINE) gs_mutex_t lock;
    gs_cond_t work;    /* workers wait here for the run queue to fill, or for stopping */
    gs_cond_t drained; /* drain waits here for the last worker to go idle */
    gs_list_t runq;    /* actors, through run_link */
    uint32_t idle;     /* workers waiting on work */
    uint32_t drainers; /* threads inside gs__sched_drain */
    int stopping;
    int state;            /* STATE_*, changed by the controlling thread under lock */
    void (*wake)(void *); /* inline mode (NULL: worker threads) */
    void *wake_user;
    _Atomic uint64_t schedules; /* written under lock, read without it */
    _Atomic int timing;         /* gs__sched_set_timing */

    /* Actor registry: touched on actor create and free only. */
    _Alignas(GS_CACHELINE) gs_mutex_t actors_lock;
    gs_list_t actors;
    _Atomic uint64_t alive;
};

/* ---------------------------------------------------------------------------------------------
 * Counters.
 * ------------------------------------------------------------------------------------------- */

static uint64_t runs_sum(gs__sched_t *s) {
    uint64_t sum = 0;

    /* Acquire pairs with the release in count_run: a job's post (and, for a job posted by a
     * running job, that post) happens before its run is counted, so a reader that sees the run
     * counted also sees the post. Reading runs before posted then keeps posted - run >= 0 and
     * lets drain trust "posted == run" for jobs that running jobs post. */
    for (uint32_t i = 0; i < s->nworkers; i++)
        sum += atomic_load_explicit(&s->workers[i].run, memory_order_acquire);
    return sum;
}

static uint64_t queued(gs__sched_t *s) {
    uint64_t run = runs_sum(s);
    uint64_t posted = atomic_load_explicit(&s->posted, memory_order_relaxed);
    return posted > run ? posted - run : 0;
}

static void count_run(worker_t *w) {
    /* Single writer: load + store instead of a locked add. */
    atomic_store_explicit(&w->run, atomic_load_explicit(&w->run, memory_order_relaxed) + 1,
                          memory_order_release);
}

void gs__sched_count_post(gs__sched_t *s) {
    atomic_fetch_add_explicit(&s->posted, 1, memory_order_relaxed);
}

void gs__sched_stats(gs__sched_t *s, gs__sched_stats_t *out) {
    uint64_t run = runs_sum(s);
    uint64_t posted = atomic_load_explicit(&s->posted, memory_order_relaxed);

    memset(out, 0, sizeof *out);
    out->jobs_posted = posted;
    out->jobs_run = run;
    out->jobs_queued = posted > run ? posted - run : 0;
    out->actors = atomic_load_explicit(&s->alive, memory_order_relaxed);
    out->schedules = atomic_load_explicit(&s->schedules, memory_order_relaxed);
    for (uint32_t i = 0; i < s->nworkers; i++) {
        worker_t *w = &s->workers[i];
        gs_hist_snap_t h;
        out->worker_busy_ns += atomic_load_explicit(&w->busy_ns, memory_order_relaxed);
        gs_hist_read(&w->handler_ns, &h);
        gs_hist_snap_add(&out->handler_ns, &h);
        gs_hist_read(&w->wait_ns, &h);
        gs_hist_snap_add(&out->job_wait_ns, &h);
    }
}

void gs__sched_set_timing(gs__sched_t *s, int on) {
    atomic_store_explicit(&s->timing, on != 0, memory_order_relaxed);
}

int gs__sched_timing(gs__sched_t *s) {
    return atomic_load_explicit(&s->timing, memory_order_relaxed);
}

/* One job with timing on: its wait since the post, its run time, the worker's busy time. */
static void run_timed(worker_t *w, gs_actor_t *a, gs__job_t *job) {
    gs__sched_t *s = w->s;
    uint64_t t0 = gs_now_ns();
    if (job->posted_ns != 0 && t0 >= job->posted_ns)
        gs_hist_observe(&w->wait_ns, t0 - job->posted_ns);
    s->run(s, a, job, s->user);
    uint64_t t1 = gs_now_ns();
    gs_hist_observe(&w->handler_ns, t1 - t0);
    atomic_store_explicit(&w->busy_ns,
                          atomic_load_explicit(&w->busy_ns, memory_order_relaxed) + (t1 - t0),
                          memory_order_relaxed);
}

/* ---------------------------------------------------------------------------------------------
 * Jobs.
 * ------------------------------------------------------------------------------------------- */

gs__job_t *gs__job_alloc(gs__sched_t *s, size_t len) {
    gs__job_t *job;

    if (len > SIZE_MAX - sizeof(gs__job_t))
        return NULL;
    job = gs_pool_alloc(s->pool, sizeof(gs__job_t) + len);
    if (job == NULL)
        return NULL;
    /* Only the header: the data is the caller's to fill. len is set to the room asked for, which
     * is what every caller stores there anyway. */
    memset(job, 0, sizeof *job);
    job->kind = GS__JOB_USER;
    job->len = len;
    return job;
}

void gs__job_free(gs__job_t *job) { gs_pool_free(job); }

/* ---------------------------------------------------------------------------------------------
 * Actor memory.
 * ------------------------------------------------------------------------------------------- */

gs_actor_t *gs__sched_actor_alloc(gs__sched_t *s) {
    actor_box_t *box = calloc(1, sizeof *box);

    if (box == NULL)
        return NULL;
    gs_mutex_lock(&s->actors_lock);
    gs_list_insert_tail(&s->actors, &box->all);
    gs_mutex_unlock(&s->actors_lock);
    atomic_fetch_add_explicit(&s->alive, 1, memory_order_relaxed);
    return &box->actor;
}

void gs__sched_actor_free(gs_actor_t *a) {
    gs__sched_t *s = a->sched;
    actor_box_t *box = gs_container_of(a, actor_box_t, actor);

    gs_mutex_lock(&s->actors_lock);
    gs_list_remove(&box->all);
    gs_mutex_unlock(&s->actors_lock);
    atomic_fetch_sub_explicit(&s->alive, 1, memory_order_relaxed);
    free(box);
}

/* ---------------------------------------------------------------------------------------------
 * Run queue and workers.
 * ------------------------------------------------------------------------------------------- */

void gs__sched_enqueue(gs__sched_t *s, gs_actor_t *a) {
    gs_mutex_lock(&s->lock);
    int was_empty = gs_list_empty(&s->runq);
    /* Tail: an actor that used up its batch goes behind every actor that became ready while it
     * ran, so a busy actor cannot starve the others. */
    gs_list_insert_tail(&s->runq, &a->run_link);
    atomic_store_explicit(&s->schedules,
                          atomic_load_explicit(&s->schedules, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    /* One actor needs one worker. Signalled under the lock so the idle count is exact; a worker
     * that is already awake takes the actor on its next pass without a signal. */
    if (s->idle > 0)
        gs_cond_signal(&s->work);
    gs_mutex_unlock(&s->lock);
    /* Inline mode: the running thread empties the queue before it sleeps (run_inline checks
     * under this lock), so only a queue that was empty needs its wake-up. */
    if (s->wake && was_empty)
        s->wake(s->wake_user);
}

/* Run up to batch jobs of a (the caller holds the run queue's reference), then hand a back. */
static void run_actor(worker_t *w, gs_actor_t *a) {
    gs__sched_t *s = w->s;
    uint32_t n;
    int drained;

    for (n = 0; n < s->batch; n++) {
        gs_mpsc_node_t *node = gs_mpsc_pop(&a->q);
        gs__job_t *job;

        if (node == NULL)
            break; /* empty, or a push half done: the release below sorts out which */
        job = gs_container_of(node, gs__job_t, link);
        /* One relaxed load per job when timing is off. */
        if (atomic_load_explicit(&s->timing, memory_order_relaxed))
            run_timed(w, a, job);
        else
            s->run(s, a, job, s->user);
        gs__job_free(job);
        /* Counted after the run returned, and before the job's reference goes: drain waits for
         * the count, and whatever the job posted was counted as posted before this. */
        count_run(w);
        /* The job's reference. Never the last one: the run queue's is still held. */
        gs_actor_unref(a);
    }

    /* Batch used up and more jobs ready: keep the flag and the reference, go to the back. */
    if (n == s->batch && !gs_mpsc_empty(&a->q)) {
        gs__sched_enqueue(s, a);
        return;
    }
    /* C0, C1 and C2 of the argument at the top of the file; acq_rel is all it needs. */
    drained = gs_mpsc_empty(&a->q);
    atomic_exchange_explicit(&a->scheduled, 0, memory_order_acq_rel);
    /* Relaxed: C1's acquire already ordered any push we must see before this load. */
    if ((!drained || atomic_load_explicit(&a->q.head, memory_order_relaxed) != &a->q.stub) &&
        atomic_exchange_explicit(&a->scheduled, 1, memory_order_acq_rel) == 0) {
        /* Re-taken: the reference we hold becomes the new scheduling's. */
        gs__sched_enqueue(s, a);
        return;
    }
    /* Last touch of a: after this unref it may be freed (here or on another thread). */
    gs_actor_unref(a);
}

static void worker_main(void *arg) {
    worker_t *w = arg;
    gs__sched_t *s = w->s;

    gs_mutex_lock(&s->lock);
    for (;;) {
        gs_list_t *link;

        while (gs_list_empty(&s->runq)) {
            /* Stop only with nothing runnable left, so that jobs posted during the stop (by
             * running jobs) still run. */
            if (s->stopping) {
                gs_mutex_unlock(&s->lock);
                return;
            }
            s->idle++;
            /* The last worker to go idle is the moment drain waits for (see gs__sched_drain). */
            if (s->idle == s->nworkers && s->drainers > 0)
                gs_cond_broadcast(&s->drained);
            gs_cond_wait(&s->work, &s->lock);
            s->idle--;
        }
        link = s->runq.next;
        gs_list_remove(link);
        gs_mutex_unlock(&s->lock);
        run_actor(w, gs_container_of(link, gs_actor_t, run_link));
        gs_mutex_lock(&s->lock);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Lifecycle.
 * ------------------------------------------------------------------------------------------- */

int gs__sched_create(gs__sched_t **out, uint32_t workers, uint32_t batch, gs_pool_t *pool,
                     gs__run_cb run, void *user) {
    gs__sched_t *s;
    size_t wbytes;

    if (out == NULL)
        return GS_EINVAL;
    *out = NULL;
    if (workers == 0 || batch == 0 || pool == NULL || run == NULL)
        return GS_EINVAL;
    /* Aligned: both structs carry cache-line-aligned members. */
    s = gs_aligned_alloc(GS_CACHELINE, sizeof *s);
    if (s == NULL)
        return GS_ENOMEM;
    memset(s, 0, sizeof *s);
#if SIZE_MAX < UINT64_MAX
    /* Only a 32-bit size_t can overflow here (the test would be always false elsewhere, which
     * -Wtype-limits rejects). */
    if (workers > SIZE_MAX / sizeof(worker_t)) {
        gs_aligned_free(s);
        return GS_ENOMEM;
    }
#endif
    wbytes = (size_t)workers * sizeof(worker_t);
    s->workers = gs_aligned_alloc(GS_CACHELINE, wbytes);
    if (s->workers == NULL) {
        gs_aligned_free(s);
        return GS_ENOMEM;
    }
    memset(s->workers, 0, wbytes);
    for (uint32_t i = 0; i < workers; i++) {
        atomic_init(&s->workers[i].run, 0);
        atomic_init(&s->workers[i].busy_ns, 0);
        gs_hist_init(&s->workers[i].handler_ns, gs_hist_bounds_ns, gs_hist_bounds_ns_count);
        gs_hist_init(&s->workers[i].wait_ns, gs_hist_bounds_ns, gs_hist_bounds_ns_count);
        s->workers[i].s = s;
    }
    s->run = run;
    s->user = user;
    s->pool = pool;
    s->nworkers = workers;
    s->batch = batch;
    atomic_init(&s->posted, 0);
    atomic_init(&s->schedules, 0);
    atomic_init(&s->timing, 0);
    atomic_init(&s->alive, 0);
    gs_mutex_init(&s->lock);
    gs_cond_init(&s->work);
    gs_cond_init(&s->drained);
    gs_list_init(&s->runq);
    gs_mutex_init(&s->actors_lock);
    gs_list_init(&s->actors);
    s->state = STATE_CREATED;
    *out = s;
    return 0;
}

/* Tell the workers to leave once the run queue is empty, and join them. */
static void join_workers(gs__sched_t *s, uint32_t started) {
    gs_mutex_lock(&s->lock);
    s->stopping = 1;
    gs_cond_broadcast(&s->work);
    gs_mutex_unlock(&s->lock);
    for (uint32_t i = 0; i < started; i++) {
        gs_thread_join(s->workers[i].thread);
        s->workers[i].thread = NULL;
    }
}

int gs__sched_start(gs__sched_t *s) {
    uint32_t i;
    int rc = 0;

    if (s->state != STATE_CREATED)
        return GS_ESTATE;
    /* Running before the threads exist, so that a worker sees a consistent state from its first
     * lock; a failure below puts it back. */
    gs_mutex_lock(&s->lock);
    s->state = STATE_RUNNING;
    gs_mutex_unlock(&s->lock);
    for (i = 0; i < s->nworkers && !s->wake; i++) {
        char name[32]; /* gs_thread_start keeps what the OS allows */

        snprintf(name, sizeof name, "gs-worker-%u", i);
        rc = gs_thread_start(&s->workers[i].thread, worker_main, &s->workers[i], name);
        if (rc != 0)
            break;
    }
    if (rc != 0) {
        /* Jobs those workers ran stay run; the rest wait for a later start. */
        join_workers(s, i);
        gs_mutex_lock(&s->lock);
        s->stopping = 0;
        s->state = STATE_CREATED;
        gs_mutex_unlock(&s->lock);
        return rc;
    }
    return 0;
}

void gs__sched_set_inline(gs__sched_t *s, void (*wake)(void *wake_user), void *wake_user) {
    s->wake = wake;
    s->wake_user = wake_user;
}

int gs__sched_run_inline(gs__sched_t *s, uint32_t max_actors) {
    for (uint32_t i = 0; i < max_actors; i++) {
        gs_mutex_lock(&s->lock);
        if (gs_list_empty(&s->runq)) {
            gs_mutex_unlock(&s->lock);
            return 0;
        }
        gs_list_t *link = s->runq.next;
        gs_list_remove(link);
        gs_mutex_unlock(&s->lock);
        /* The one pseudo-worker: its counter is written by one thread at a time. */
        run_actor(&s->workers[0], gs_container_of(link, gs_actor_t, run_link));
    }
    gs_mutex_lock(&s->lock);
    int more = !gs_list_empty(&s->runq);
    gs_mutex_unlock(&s->lock);
    return more;
}

/* Inline mode: the caller is the only thread running actors now, so it runs what is left. A
 * job counted as posted whose actor is not enqueued yet belongs to a poster between its count
 * and its enqueue (a user thread racing the stop): yield until it lands. */
static void drain_inline(gs__sched_t *s) {
    /* run_inline(UINT32_MAX) returns only with the run queue empty. */
    while (gs__sched_run_inline(s, UINT32_MAX) || queued(s) > 0)
        gs_thread_yield();
}

void gs__sched_drain(gs__sched_t *s) {
    if (s->wake) {
        if (s->state == STATE_RUNNING)
            drain_inline(s);
        return;
    }
    gs_mutex_lock(&s->lock);
    if (s->state != STATE_RUNNING) {
        gs_mutex_unlock(&s->lock);
        return; /* no worker could ever make progress */
    }
    s->drainers++;
    /* Stronger than "queued == 0": every worker is also parked with the run queue empty, so
     * each has dropped its references (actor counts are exact after a drain) and none touches
     * an actor any more. Once the jobs are all run the workers empty the run queue and park,
     * and the last one to park broadcasts. The condition can only become true at that moment:
     * while a worker is busy idle < nworkers, and queued only falls while a worker is busy.
     * A job counted as posted whose poster has not enqueued the actor yet keeps queued > 0,
     * and that enqueue wakes a worker, which parks again after running it. */
    while (!(s->idle == s->nworkers && gs_list_empty(&s->runq) && queued(s) == 0))
        gs_cond_wait(&s->drained, &s->lock);
    s->drainers--;
    gs_mutex_unlock(&s->lock);
}

void gs__sched_stop(gs__sched_t *s) {
    if (s->state != STATE_RUNNING)
        return;
    gs__sched_drain(s);
    join_workers(s, s->wake ? 0 : s->nworkers);
    gs_mutex_lock(&s->lock);
    s->state = STATE_STOPPED;
    gs_mutex_unlock(&s->lock);
}

void gs__sched_destroy(gs__sched_t *s) {
    uint64_t left = 0, jobs = 0;

    if (s == NULL)
        return;
    gs__sched_stop(s); /* a no-op unless the caller skipped it */
    /* Actors still registered: someone kept a reference, or jobs were posted after the stop (or
     * without a start). Nothing runs any more, so their jobs go without running; their
     * finalizers run so that their state is freed. */
    while (!gs_list_empty(&s->actors)) {
        actor_box_t *box = gs_container_of(s->actors.next, actor_box_t, all);
        gs_mpsc_node_t *node;

        /* No producer is left, so pop never sees a half-done push and NULL means empty. */
        while ((node = gs_mpsc_pop(&box->actor.q)) != NULL) {
            gs__job_free(gs_container_of(node, gs__job_t, link));
            jobs++;
        }
        gs_list_remove(&box->all);
        /* Its state would leak otherwise; the finalizer must not touch other actors. */
        if (box->actor.finalizer)
            box->actor.finalizer(box->actor.user);
        free(box);
        left++;
    }
    if (left > 0)
        gs_log(GS_LOG_WARN, "content",
               "scheduler destroyed with %llu actors alive and %llu jobs not run: freed",
               (unsigned long long)left, (unsigned long long)jobs);
    gs_mutex_fini(&s->actors_lock);
    gs_cond_fini(&s->drained);
    gs_cond_fini(&s->work);
    gs_mutex_fini(&s->lock);
    gs_aligned_free(s->workers);
    gs_aligned_free(s);
}

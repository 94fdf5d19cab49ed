/* SPDX-License-Identifier: MIT */
/* Internal to content/: jobs, actors, the scheduler (run queue + workers) and timers, shared by
 * sched.c, actor.c, timer.c and app.c. */
#ifndef GS_CONTENT_INTERNAL_H
#define GS_CONTENT_INTERNAL_H

#include "gs/content.h"

/* ---------------------------------------------------------------------------------------------
 * Jobs: one pooled block each, allocated by the poster, freed by the scheduler after the run.
 * ------------------------------------------------------------------------------------------- */
typedef enum {
    GS__JOB_USER = 0,  /* gs_actor_post: fn(ctx, data, len) */
    GS__JOB_OPEN,      /* session opened */
    GS__JOB_FRAME,     /* a received frame: msg_id + body in data */
    GS__JOB_CLOSE,     /* session closed: reason in arg */
    GS__JOB_TIMER,     /* a timer run: ptr = the timer */
    GS__JOB_BAD_FRAME, /* a frame refused on the IO thread, for the app's hook: msg id in arg,
                          the gs_bad_frame_kind_t in ptr (as an integer), body in data */
} gs__job_kind_t;

typedef struct gs__job {
    gs_mpsc_node_t link;
    uint32_t kind;      /* gs__job_kind_t */
    uint32_t arg;       /* FRAME: message id; CLOSE: close reason */
    gs_job_cb fn;       /* USER */
    void *ptr;          /* TIMER: the timer */
    size_t len;         /* bytes in data */
    uint64_t posted_ns; /* gs_now_ns at the post while timing is on (gs_app_set_timing), else 0 */
    _Alignas(16) unsigned char data[];
} gs__job_t;

/* ---------------------------------------------------------------------------------------------
 * Actors and the scheduler.
 * ------------------------------------------------------------------------------------------- */
typedef struct gs__sched gs__sched_t;

struct gs_actor {
    gs_mpsc_t q;           /* jobs; consumer = the one worker running the actor */
    _Atomic uint32_t refs; /* owners + one per queued job + one while scheduled */
    _Atomic int scheduled; /* in the run queue or running on a worker */
    gs__sched_t *sched;
    gs_app_t *app;                   /* NULL for actors made directly on a scheduler (tests) */
    gs_list_t run_link;              /* in the run queue, under its lock */
    void *user;                      /* gs_actor_set_user */
    gs_session_id_t session;         /* session actors: their session */
    void *session_user;              /* session actors: gs_ctx_set_session_user */
    gs__job_t *close_job;            /* session actors: allocated at open, so close cannot fail */
    _Atomic uint32_t frames_pending; /* session actors: frame jobs queued (max_session_jobs) */
    int cut; /* session actors: a bad frame closed it; its later frame jobs are skipped (only
                the actor's own jobs touch it) */
    void (*finalizer)(void *user); /* gs_actor_set_finalizer: runs when the actor is freed */
    char name[32];
};

/* Runs one job on a worker; the scheduler builds nothing else around it (the app's dispatcher
 * builds the gs_ctx_t). The scheduler frees the job after it returns. */
typedef void (*gs__run_cb)(gs__sched_t *s, gs_actor_t *a, gs__job_t *job, void *user);

/* workers >= 1, batch >= 1; jobs come from pool. Returns 0, GS_EINVAL, GS_ENOMEM. */
int gs__sched_create(gs__sched_t **out, uint32_t workers, uint32_t batch, gs_pool_t *pool,
                     gs__run_cb run, void *user);
/* Inline mode, instead of workers (call between create with workers = 1 and start): no worker
 * thread is started; the actors run on whichever one thread calls gs__sched_run_inline (the IO
 * thread, through the net's on_pass). wake(wake_user) is called, on the posting thread and
 * outside the lock, whenever the run queue goes from empty to non-empty. */
void gs__sched_set_inline(gs__sched_t *s, void (*wake)(void *wake_user), void *wake_user);
/* Inline mode: run up to max_actors trips through the run queue (each up to batch jobs of one
 * actor) on the calling thread. Returns 1 if actors are still waiting, else 0. One thread at a
 * time (the caller ensures it). */
int gs__sched_run_inline(gs__sched_t *s, uint32_t max_actors);
/* Start the worker threads. Returns 0, GS_ESTATE, GS_ENOMEM, GS_ESYS (threads already started
 * are stopped again). */
int gs__sched_start(gs__sched_t *s);
/* Wait until every posted job has run, jobs posted meanwhile included (not from a worker).
 * Inline mode: runs them on the calling thread, which must then be the only one running
 * actors (the app drains after its net has stopped). */
void gs__sched_drain(gs__sched_t *s);
/* Drain, then stop and join the workers. Posting afterwards is a bug. */
void gs__sched_stop(gs__sched_t *s);
/* After stop (or without start). Logs actors still alive (their memory is freed). */
void gs__sched_destroy(gs__sched_t *s);

/* A job with room for len bytes of data (kind USER, len set, everything else zero). NULL when the
 * pool refuses. Any thread. */
gs__job_t *gs__job_alloc(gs__sched_t *s, size_t len);
void gs__job_free(gs__job_t *job);
/* Queue a job on a (which gets a reference for it) and schedule a if it is idle. Any thread.
 * Jobs pushed by one thread run in push order. */
void gs__actor_push(gs_actor_t *a, gs__job_t *job);

/* A new actor with one reference (the caller's). NULL when out of memory. */
gs_actor_t *gs__actor_new(gs__sched_t *s, gs_app_t *app, const char *name);

/* Counters (relaxed reads). */
typedef struct gs__sched_stats {
    uint64_t jobs_posted, jobs_run, jobs_queued; /* queued = posted - run */
    uint64_t actors;                             /* alive */
    uint64_t schedules;                          /* times an actor entered the run queue */
    uint64_t worker_busy_ns;                     /* with timing on: time running jobs */
    gs_hist_snap_t handler_ns, job_wait_ns;      /* with timing on: per job */
} gs__sched_stats_t;
void gs__sched_stats(gs__sched_t *s, gs__sched_stats_t *out);
/* Timing of jobs on or off (gs_app_set_timing). Any thread. */
void gs__sched_set_timing(gs__sched_t *s, int on);
int gs__sched_timing(gs__sched_t *s);

/* ---------------------------------------------------------------------------------------------
 * Timers: a heap of deadlines and one thread that posts GS__JOB_TIMER jobs when they are due.
 * ------------------------------------------------------------------------------------------- */
typedef struct gs__timers gs__timers_t;

/* run(ctx, ...) of a timer job is done by gs__timer_run from the app's dispatcher. */
int gs__timers_create(gs__timers_t **out, gs__sched_t *s);
int gs__timers_start(gs__timers_t *t);
/* Cancel every timer (their actor references are dropped), stop and join the thread. Timer jobs
 * already posted still run (and see themselves cancelled: they do nothing). */
void gs__timers_stop(gs__timers_t *t);
void gs__timers_destroy(gs__timers_t *t);
gs_timer_id_t gs__timer_add(gs__timers_t *t, gs_actor_t *a, uint32_t delay_ms, uint32_t repeat_ms,
                            gs_job_cb fn, const void *data, size_t len);
int gs__timer_cancel(gs__timers_t *t, gs_timer_id_t id);
/* Run the timer job (called by the dispatcher for GS__JOB_TIMER with the job's ctx): calls the
 * timer's fn unless it was cancelled, then re-arms a repeating timer or ends it. */
void gs__timer_run(gs__timers_t *t, gs_ctx_t *ctx, gs__job_t *job);
typedef struct gs__timer_stats {
    uint64_t alive, runs, cancelled;
    gs_hist_snap_t lag_ns; /* deadline to run */
} gs__timer_stats_t;
void gs__timers_stats(gs__timers_t *t, gs__timer_stats_t *out);

/* ---------------------------------------------------------------------------------------------
 * App accessors for the files above.
 * ------------------------------------------------------------------------------------------- */
gs__sched_t *gs__app_sched(gs_app_t *app);
gs__timers_t *gs__app_timers(gs_app_t *app);

#endif /* GS_CONTENT_INTERNAL_H */

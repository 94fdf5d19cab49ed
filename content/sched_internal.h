/* SPDX-License-Identifier: MIT */
/* Between sched.c and actor.c only: the scheduler owns actor memory (so that destroy can free
 * what is left) and the run queue; actor.c owns references, the job queue and the handover. */
#ifndef GS_CONTENT_SCHED_INTERNAL_H
#define GS_CONTENT_SCHED_INTERNAL_H

#include "internal.h"

/* Zeroed memory for an actor, registered with s and counted alive until gs__sched_actor_free.
 * NULL when out of memory. Any thread. */
gs_actor_t *gs__sched_actor_alloc(gs__sched_t *s);
/* Unregister and free an actor whose last reference is gone (its queue is empty). Any thread. */
void gs__sched_actor_free(gs_actor_t *a);
/* Count a job as posted. Called before the job is pushed, so that posted - run never goes
 * below zero and a drain never misses a job that a running job posts. Any thread. */
void gs__sched_count_post(gs__sched_t *s);
/* Append a to the tail of the run queue and wake an idle worker. The caller hands over the
 * a->scheduled = 1 it won and one reference to a (the run queue's). Any thread. */
void gs__sched_enqueue(gs__sched_t *s, gs_actor_t *a);

#endif /* GS_CONTENT_SCHED_INTERNAL_H */

/* SPDX-License-Identifier: MIT */
/* content: where game code runs. Received frames become jobs on actors (serial queues) run by a
 * small pool of worker threads; handlers are registered per message type and get the session and
 * the decoded message; timers post delayed and repeating jobs; send and broadcast work from any
 * thread. See docs/content.md. */
#ifndef GS_CONTENT_H
#define GS_CONTENT_H

#include <stddef.h>
#include <stdint.h>

#include "gs/base.h"
#include "gs/net.h"
#include "gs/packet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Model.
 *
 * An actor is a serial queue of jobs: its jobs run one at a time, in the order they were posted
 * (per posting thread), on whichever worker is free, so the state an actor owns needs no lock.
 * Different actors run in parallel on `workers` threads. Every session has its own actor (its
 * open, frames and close run there, in order); game code creates more (a room, a match, the
 * world) and hops between them by posting jobs. With workers = 1 everything runs on one logic
 * thread.
 *
 * Threads: IO threads (net) only decode ids and copy frames into jobs; workers run every job;
 * one timer thread posts timer jobs. Nothing runs game code on an IO thread.
 * ------------------------------------------------------------------------------------------- */
typedef struct gs_app gs_app_t;
typedef struct gs_actor gs_actor_t;

/* What a job sees. Valid only during the call. */
typedef struct gs_ctx {
    gs_app_t *app;
    gs_actor_t *actor;       /* the actor running this job */
    gs_session_id_t session; /* the session of a session actor; GS_SESSION_NONE otherwise */
    void *session_user;      /* per-session state: set it in the open handler (gs_ctx_set_...),
                                free it in the close handler; only the session's actor sees it */
} gs_ctx_t;

/* Replace the per-session state of the session whose actor runs this job. */
void gs_ctx_set_session_user(gs_ctx_t *ctx, void *session_user);

/* A message handler: msg is borrowed (it lives in the worker's decode arena and is freed after
 * the handler returns); cast it to the generated type registered with it. */
typedef void (*gs_msg_handler_cb)(gs_ctx_t *ctx, const ProtobufCMessage *msg, void *user);
typedef void (*gs_open_cb)(gs_ctx_t *ctx, void *user);
typedef void (*gs_close_cb)(gs_ctx_t *ctx, gs_close_reason_t reason, void *user);
/* A posted or timer job: data is a copy of what was posted (len bytes, 16-byte aligned), valid
 * during the call: the job's own for a posted job, the timer's (shared by its runs) for a timer. */
typedef void (*gs_job_cb)(gs_ctx_t *ctx, void *data, size_t len);

/* What happens to a frame the app cannot hand to a handler. */
typedef enum {
    GS_BAD_FRAME_DISCONNECT = 0, /* close the session (reason protocol_error) [default] */
    GS_BAD_FRAME_DROP,           /* drop the frame, keep the session */
} gs_bad_frame_policy_t;

/* Why a frame could not be handed to a handler (gs_bad_frame_t.kind). */
typedef enum {
    GS_BAD_FRAME_UNKNOWN_ID = 1, /* message id not in the registry (err GS_EBADID) */
    GS_BAD_FRAME_UNHANDLED,      /* a registered type without a handler: out of place here, e.g.
                                    a server-to-client message sent by a client (err GS_EBADID) */
    GS_BAD_FRAME_UNDECODABLE,    /* the body did not decode: err GS_EBADTEXT (a string is not
                                    valid UTF-8 or holds NUL: the decoder validates text),
                                    GS_ETOOBIG or GS_EBADMSG (anything else malformed) */
} gs_bad_frame_kind_t;

/* A frame the app could not hand to a handler, as its on_bad_frame hook sees it. */
typedef struct gs_bad_frame {
    gs_bad_frame_kind_t kind;
    int err;                                /* the GS_E* code named with kind */
    uint32_t msg_id;                        /* from the frame header */
    const ProtobufCMessageDescriptor *type; /* the registered type; NULL for UNKNOWN_ID */
    const uint8_t *body;                    /* the frame's body, borrowed for the call */
    uint32_t len;
} gs_bad_frame_t;

/* The app's say on a bad frame: runs on the session's actor, in order with its other frames
 * (after the ones before it, before the ones after it), with ctx->session_user, so it may reply
 * (gs_app_send) knowing the session's state. It returns what happens next:
 * GS_BAD_FRAME_DISCONNECT closes the session once what is queued (the reply) has been sent
 * (gs_app_close_flushed), and its frames still queued are dropped without running;
 * GS_BAD_FRAME_DROP keeps the session. bf and its body are borrowed for the call. */
typedef gs_bad_frame_policy_t (*gs_bad_frame_cb)(gs_ctx_t *ctx, const gs_bad_frame_t *bf,
                                                 void *user);

/* What happens to a frame when its session already holds max_session_jobs pending frame jobs,
 * or when the app holds max_jobs and this session holds at least its fair share of them. */
typedef enum {
    GS_OVERLOAD_DISCONNECT = 0, /* close that session: the client sees it and may come back */
    GS_OVERLOAD_DROP,           /* drop the frame silently (counted) */
} gs_overload_policy_t;

typedef struct gs_app_config {
    gs_net_config_t net;   /* passed to the net layer; its callbacks and user are the
                              app's own and are overwritten */
    gs_pool_config_t pool; /* packets and jobs */
    uint32_t workers;      /* worker threads [2] */
    /* Run every job on the IO thread instead (workers is then ignored): one thread for IO and
     * game logic, no hand-off per message (muduo/redis style). Needs net.io_threads <= 1.
     * Actors keep their rules; jobs run after each batch of completions, before its sends are
     * flushed. The price is docs/testing.md E09: a slow handler stalls every session's IO. [0] */
    int run_on_io_thread;
    /* Pending frame jobs (received, not yet handled) before overload. A session is refused
     * (overload policy) when it holds max_session_jobs of them, or when the app holds max_jobs
     * and the session holds at least its fair share, max_jobs / sessions open: a session with a
     * slow handler fills only its own budget, and the frames of the others still go through
     * (so the app may hold up to 2 * max_jobs at worst, never more). */
    uint32_t max_jobs;               /* [65536] */
    uint32_t max_session_jobs;       /* per session [256, at most max_jobs] */
    uint32_t actor_batch;            /* jobs an actor runs before it yields its worker [64] */
    uint32_t max_body;               /* largest message body encoded/decoded [net max_frame] */
    gs_bad_frame_policy_t bad_frame; /* unknown id, undecodable body, no handler, when no
                                        on_bad_frame hook is set (gs_app_on_bad_frame) */
    gs_overload_policy_t overload;
    void *user; /* the game's own object: gs_app_user() from any job */
} gs_app_config_t;

/* ---------------------------------------------------------------------------------------------
 * Lifecycle: create -> register messages and handlers -> listen -> start -> ... -> stop ->
 * destroy, from one controlling thread (not from a job).
 * ------------------------------------------------------------------------------------------- */

/* Returns 0, GS_EINVAL, GS_ENOMEM or the net layer's errors; *out is NULL on error. */
int gs_app_create(gs_app_t **out, const gs_app_config_t *cfg);
/* The app's registry: register the protocol here before start (e.g. chat_proto_register). */
gs_msg_registry_t *gs_app_registry(gs_app_t *app);
gs_pool_t *gs_app_pool(gs_app_t *app);
void *gs_app_user(gs_app_t *app); /* gs_app_config_t.user */
gs_net_t *gs_app_net(gs_app_t *app);

/* Handle messages of type d (registered in the registry) with cb. Before start. Returns 0,
 * GS_EBADID (type not registered), GS_EEXIST (a handler is already set), GS_ESTATE. */
int gs_app_on_message(gs_app_t *app, const ProtobufCMessageDescriptor *d, gs_msg_handler_cb cb,
                      void *user);
/* Session open/close handlers (either may be NULL). Before start. Each runs on the session's
 * actor: open before any of its messages, close after all of them, exactly once per open. */
int gs_app_on_session(gs_app_t *app, gs_open_cb on_open, gs_close_cb on_close, void *user);

/* Let the app answer bad frames (gs_bad_frame_cb: an error reply in its own protocol, then
 * its choice of policy) instead of the config's bad_frame policy. Before start. With a hook, a
 * bad frame costs a job on the session's actor (counted against max_session_jobs like any
 * frame); without one it is decided on the IO thread and costs none. cb NULL removes it.
 * Returns 0, GS_EINVAL, GS_ESTATE. */
int gs_app_on_bad_frame(gs_app_t *app, gs_bad_frame_cb cb, void *user);

int gs_app_listen(gs_app_t *app, const gs_listen_config_t *lc); /* gs_net_listen */
uint16_t gs_app_listen_port(gs_app_t *app);

/* Start workers, the timer thread, then the net. Returns 0, GS_ESTATE, GS_ENOMEM, GS_ESYS. */
int gs_app_start(gs_app_t *app);
/* Stop accepting, flush sends for up to flush_ms and close every session (the net stop), run
 * every close handler and every job already posted, cancel timers, join the threads. Jobs posted
 * during the stop still run. Returns the net stop's unsent count. */
uint64_t gs_app_stop(gs_app_t *app, uint32_t flush_ms);
/* After stop (or instead of start). Frees every actor the app still holds. */
void gs_app_destroy(gs_app_t *app);

/* ---------------------------------------------------------------------------------------------
 * Actors. Any thread.
 * ------------------------------------------------------------------------------------------- */

/* A new actor, one reference held by the caller. name is for logs (copied, may be NULL).
 * NULL when out of memory. */
gs_actor_t *gs_actor_create(gs_app_t *app, const char *name);
void gs_actor_ref(gs_actor_t *a);
/* Drop a reference. The actor is freed once no reference is left and its queue is empty (jobs
 * already posted still run). */
void gs_actor_unref(gs_actor_t *a);
/* State owned by the actor: read and write it only from the actor's own jobs. */
void gs_actor_set_user(gs_actor_t *a, void *user);
void *gs_actor_user(const gs_actor_t *a);
/* fn(user) runs once when the actor is freed (on whichever thread drops the last reference,
 * after its last job): the place to free the state gs_actor_set_user points to. Set it before
 * the actor is shared. NULL: nothing runs. */
void gs_actor_set_finalizer(gs_actor_t *a, void (*fn)(void *user));

/* Post a job: fn(ctx, copy of data, len) will run on the actor after the jobs posted before it
 * (by the same thread). data is copied (len may be 0). Never shed. Returns 0 or GS_ENOMEM (the
 * pool refused: the job will not run). */
int gs_actor_post(gs_actor_t *a, gs_job_cb fn, const void *data, size_t len);
/* gs_actor_post with the data in two pieces, copied one after the other into the job (e.g. a
 * fixed header and a variable-length text): no staging buffer, one copy. Same returns. */
int gs_actor_post2(gs_actor_t *a, gs_job_cb fn, const void *head, size_t head_len, const void *tail,
                   size_t tail_len);

/* The actor of an open session, with a reference for the caller; NULL when the id is stale. */
gs_actor_t *gs_app_session_actor(gs_app_t *app, gs_session_id_t id);

/* ---------------------------------------------------------------------------------------------
 * Timers: delayed and repeating jobs. Any thread, after create.
 * ------------------------------------------------------------------------------------------- */
typedef uint64_t gs_timer_id_t; /* 0 is never a valid id */

/* After delay_ms, post fn(ctx, data, len) to actor a (which keeps a reference until the timer
 * ends); then every repeat_ms if repeat_ms > 0, until cancelled. A repeating timer does not
 * pile up: the next run is posted only after the previous one ran, at most one run is in flight,
 * and a late run is not followed by a burst of catch-up runs. data is copied once at creation;
 * every run of a repeating timer sees that one copy (changes made by fn persist). Returns the id,
 * or 0 when out of memory, on bad arguments, or once the app is stopping (fn never runs). */
gs_timer_id_t gs_app_timer(gs_app_t *app, gs_actor_t *a, uint32_t delay_ms, uint32_t repeat_ms,
                           gs_job_cb fn, const void *data, size_t len);
/* Cancel without waiting: no run of the timer starts after this returns. A run that has already
 * started on a worker (or is committed to start) may still finish after it returns; from the
 * timer's own job, that is the current run. Returns 0, or GS_ESTALE (already ended, already
 * cancelled, unknown id, or the app stopped). */
int gs_app_timer_cancel(gs_app_t *app, gs_timer_id_t id);

/* ---------------------------------------------------------------------------------------------
 * Sending. Any thread (jobs, timers, or threads of the user's own).
 * ------------------------------------------------------------------------------------------- */

/* Encode msg once and send it to one session. Returns 0 or the codec/net errors (GS_EBADID,
 * GS_ETOOBIG, GS_ENOMEM, GS_ESTALE, GS_ECLOSING, GS_ESENDQ). */
int gs_app_send(gs_app_t *app, gs_session_id_t to, const ProtobufCMessage *msg);
/* Encode msg once into a packet holding one reference for the caller, to send later or from
 * another actor (gs_app_send_packet), then gs_packet_unref. E.g. a reply built where the data is
 * (a room's member list) but sent by the actor whose state must change first (the session's), so
 * the client never sees the reply before the server acts on it. Returns 0 or the codec errors. */
int gs_app_encode(gs_app_t *app, const ProtobufCMessage *msg, gs_packet_t **out);
/* Send an encoded packet to one session. Takes its own reference: the caller keeps its. Returns
 * 0 or the net errors of gs_app_send. */
int gs_app_send_packet(gs_app_t *app, gs_session_id_t to, gs_packet_t *p);
/* Encode msg once and send one reference of the packet to each of the n sessions
 * (gs_session_send_many). Returns 0 if encoding and queueing succeeded (then *sent, if not
 * NULL, is the number of sessions that accepted it; stale or closing ones are skipped), or the
 * encoding error or GS_ENOMEM (nothing sent). */
int gs_app_broadcast(gs_app_t *app, const gs_session_id_t *to, size_t n,
                     const ProtobufCMessage *msg, size_t *sent);
/* Disconnect a session (gs_session_disconnect): queued sends are dropped; its close handler
 * runs later. */
int gs_app_disconnect(gs_app_t *app, gs_session_id_t id);
/* Close once what is queued has been sent (gs_session_close_flushed): for a last reply (an
 * error) before a cut. The session's frames that arrive meanwhile are dropped by the net (jobs
 * already queued still run). Its close handler runs later. */
int gs_app_close_flushed(gs_app_t *app, gs_session_id_t id);
/* Cut a session for misbehaviour (gs_session_cut): as gs_app_close_flushed when flushed is
 * non-zero, else as gs_app_disconnect; its close reason is abuse and, with the net's
 * per-address limits on, its address may not connect again for a while (gs_session_cut). The app's
 * own cuts (bad frames under GS_BAD_FRAME_DISCONNECT, a session over its job budget) go this way.
 */
int gs_app_cut(gs_app_t *app, gs_session_id_t id, int flushed);

/* ---------------------------------------------------------------------------------------------
 * Counters.
 * ------------------------------------------------------------------------------------------- */
/* The content counters, declared once: the list generates gs_app_stats_t, the merge in
 * gs_app_stats, the programs' --stats lines and the Prometheus exposition (metrics/).
 *   X(field, source, kind, metric, help)
 * source: APP (the app's own counter of that name), SCHED (the scheduler's), CALC (derived).
 * kind: COUNTER, GAUGE, or NS_COUNTER (nanoseconds, exported in seconds). metric: the Prometheus
 * name after "gs_content_". */
#define GS_APP_STATS_MAP(X)                                                                        \
    X(jobs_posted, SCHED, COUNTER, "jobs_posted_total", "Jobs posted to actors.")                  \
    X(jobs_run, SCHED, COUNTER, "jobs_run_total", "Jobs run.")                                     \
    X(jobs_queued, SCHED, GAUGE, "jobs_queued", "Jobs posted and not yet run.")                    \
    X(jobs_pending, CALC, GAUGE, "frame_jobs_pending",                                             \
      "Frame jobs posted and not yet run (bounded by max_jobs).")                                  \
    X(frames_shed, APP, COUNTER, "frames_shed_total",                                              \
      "Frames refused by overload (either budget: max_jobs or max_session_jobs).")                 \
    X(session_shed, APP, COUNTER, "frames_shed_session_total",                                     \
      "Frames refused by the session's own budget (max_session_jobs).")                            \
    X(bad_id, APP, COUNTER, "frames_bad_id_total", "Frames with an unregistered message id.")      \
    X(decode_failed, APP, COUNTER, "decode_failures_total", "Bodies that did not decode.")         \
    X(bad_text, APP, COUNTER, "decode_bad_text_total",                                             \
      "Bodies that did not decode: invalid UTF-8 or NUL in a string.")                             \
    X(unhandled, APP, COUNTER, "frames_unhandled_total", "Registered types without a handler.")    \
    X(messages, APP, COUNTER, "messages_handled_total", "Messages handled.")                       \
    X(encodes, APP, COUNTER, "encodes_total", "Messages encoded (one per send or broadcast).")     \
    X(broadcasts, APP, COUNTER, "broadcasts_total", "Broadcasts.")                                 \
    X(sends, APP, COUNTER, "sends_total", "Packet references handed to the net.")                  \
    X(send_failed, APP, COUNTER, "send_failures_total",                                            \
      "Sends refused by the net (stale, closing, queue full).")                                    \
    X(actors, SCHED, GAUGE, "actors", "Actors alive.")                                             \
    X(timers, CALC, GAUGE, "timers", "Timers alive.")                                              \
    X(timer_runs, CALC, COUNTER, "timer_runs_total", "Timer runs.")                                \
    X(worker_busy_ns, SCHED, NS_COUNTER, "worker_busy_seconds_total",                              \
      "Time workers spent running jobs (summed over workers; 0 unless timing is on).")

/* Histograms: X(field, metric, help), in nanoseconds, exported in seconds. Filled only while
 * gs_app_set_timing is on (two clock reads per job); timer lag always (one per timer run). */
#define GS_APP_HIST_MAP(X)                                                                         \
    X(handler_ns, "job_run_seconds", "Time one job (a handler, a timer, a posted job) ran.")       \
    X(job_wait_ns, "job_wait_seconds", "Time a job waited between its post and its run.")          \
    X(timer_lag_ns, "timer_lag_seconds", "Time from a timer's deadline to the start of its run.")

typedef struct gs_app_stats {
#define GS__AS_FIELD(f, src, kind, metric, help) uint64_t f;
#define GS__AS_HIST(f, metric, help)             gs_hist_snap_t f;
    GS_APP_STATS_MAP(GS__AS_FIELD)
    GS_APP_HIST_MAP(GS__AS_HIST)
#undef GS__AS_FIELD
#undef GS__AS_HIST
    gs_net_stats_t net;
    gs_pool_stats_t pool;
} gs_app_stats_t;

void gs_app_stats(gs_app_t *app, gs_app_stats_t *out);
/* Measure jobs: worker busy time, the job run time and job wait histograms (two clock reads per
 * job, so off by default; a metrics exporter turns it on). Any thread, any time; jobs posted
 * before it was turned on have no post time and are not counted in the wait histogram. */
void gs_app_set_timing(gs_app_t *app, int on);

#ifdef __cplusplus
}
#endif

#endif /* GS_CONTENT_H */

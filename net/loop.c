/* SPDX-License-Identifier: MIT */
/* The IO thread's loop, one for every backend (as libuv shares uv_run and each platform supplies
 * uv__io_poll): poll the backend for completions, run the core's batch end (inbox, flushes,
 * ticks), let the backend finish its batch, resume accepting after a descriptor shortage, and
 * stop once the loop has no session and no operation left. What differs between io_uring,
 * epoll and IOCP is behind gs__port_ops_t (port.h). */
#include "internal.h"

void gs__loop_accept_pause(gs__loop_t *loop, const char *why) {
    /* Re-arming now would fail again at once and spin a core (docs/testing.md B07): wait a tick;
     * connections wait in the backlog meanwhile. */
    uint32_t tick = loop->net->cfg.tick_ms;
    if (!loop->accept_resume_ms)
        loop->accept_resume_ms = loop->now_ms + tick;
    if (gs__ctr_get(&loop->st.accept_pauses) % 100 == 0)
        gs_log(GS_LOG_WARN, GS__LOG, "accept: %s: pausing accepts for %u ms", why, tick);
    gs__ctr_add(&loop->st.accept_pauses, 1);
}

static void resume_accepts(gs__loop_t *loop) {
    if (!loop->accept_resume_ms || loop->now_ms < loop->accept_resume_ms)
        return;
    loop->accept_resume_ms = 0;
    if (!loop->stopping)
        loop->net->ops->accept_resume(loop);
}

void gs__loop_run(gs__loop_t *loop) {
    const gs__port_ops_t *ops = loop->net->ops;
    ops->thread_start(loop);
    loop->now_ms = gs_now_ms();
    for (gs__listener_t *l = loop->net->listeners; l; l = l->next) {
        int rc = ops->accept_start(loop, l);
        if (rc)
            gs_log(GS_LOG_ERROR, GS__LOG, "cannot accept on port %u: %s", (unsigned)l->port,
                   gs_strerror(rc));
    }
    for (;;) {
        ops->poll(loop, gs__loop_next_timeout_ms(loop));
        gs__loop_after_batch(loop);
        ops->batch_end(loop);
        resume_accepts(loop);
        if (gs__loop_done(loop))
            break;
    }
    /* Every session is gone: stop accepting, then let the backend retire its own operations and
     * wait for them, so that io_in_flight is 0 when the thread ends. */
    for (gs__listener_t *l = loop->net->listeners; l; l = l->next)
        ops->accept_stop(loop, l);
    ops->thread_end(loop);
}

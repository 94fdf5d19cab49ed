/* SPDX-License-Identifier: MIT */
/* Stop signals for servers' main threads (see stop_signal.h). */
#include <signal.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include "gs/base.h"
#include "stop_signal.h"

/* Process-wide by nature: a signal handler has no user pointer to write through. */
static volatile sig_atomic_t stop_requested;
static sigset_t wait_mask;

static void on_stop_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

int stop_signal_init(void) {
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &stop, &old) != 0)
        return -1;
    wait_mask = old;
    sigdelset(&wait_mask, SIGINT);
    sigdelset(&wait_mask, SIGTERM);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_mask = stop;
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return -1;
    /* A peer that resets while we write must be an error code, not a dead server. */
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
    return 0;
}

int stop_signal_wait(uint64_t deadline_ns) {
    uint64_t now = gs_now_ns();
    if (stop_requested || now >= deadline_ns)
        return stop_requested;
    uint64_t d = deadline_ns - now;
    struct timespec ts = {.tv_sec = (time_t)(d / 1000000000u), .tv_nsec = (long)(d % 1000000000u)};
    /* pselect unblocks the stop signals only while it sleeps; EINTR is the normal way out. */
    (void)pselect(0, NULL, NULL, NULL, &ts, &wait_mask);
    return stop_requested;
}

int stop_signal_requested(void) { return stop_requested; }

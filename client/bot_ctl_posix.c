/* SPDX-License-Identifier: MIT */
/* gs-bot's stop requests and wake-ups on POSIX (bot_ctl.h): SIGINT/SIGTERM and a self-pipe,
 * waited on with pselect. The Windows twin is bot_ctl_win.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "bot.h"
#include "bot_ctl.h"

/* The one mutable global: a signal handler has no user pointer to write through. It counts stop
 * signals. The handler can only run inside the main thread's pselect (the signals are blocked
 * everywhere else, see ctl_init), so its read-modify-write cannot race with itself. */
static volatile sig_atomic_t stop_signals;

struct bot_ctl {
    int wake_rd, wake_wr; /* self-pipe: IO threads write a byte, bot_ctl_wait selects on it */
    sigset_t wait_mask;   /* the mask while waiting: the stop signals unblocked */
    sig_atomic_t signals_seen;
};

static void on_stop_signal(int sig) {
    (void)sig;
    if (stop_signals < 1000)
        stop_signals = stop_signals + 1;
}

static int set_pipe_flags(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0)
        return -1;
    return 0;
}

int bot_ctl_create(bot_ctl_t **out) {
    bot_ctl_t *ctl = calloc(1, sizeof *ctl);
    *out = ctl;
    if (!ctl) {
        fprintf(stderr, "%s: out of memory\n", BOT_PROG);
        return -1;
    }
    int fds[2];
    ctl->wake_rd = ctl->wake_wr = -1;
    ctl->signals_seen = 0;
    /* Created before any socket, so the descriptor is small enough for an fd_set. */
    if (pipe(fds) != 0) {
        fprintf(stderr, "%s: pipe: %s\n", BOT_PROG, strerror(errno));
        return -1;
    }
    ctl->wake_rd = fds[0];
    ctl->wake_wr = fds[1];
    if (set_pipe_flags(fds[0]) != 0 || set_pipe_flags(fds[1]) != 0 || fds[0] >= FD_SETSIZE) {
        fprintf(stderr, "%s: cannot set up the wake pipe\n", BOT_PROG);
        return -1;
    }

    /* Block the stop signals in this thread before the net starts its IO threads, which inherit
     * the mask: the signals then stay pending until the main thread unblocks them atomically in
     * pselect. That closes the classic race of a signal landing between "check the flag" and
     * "go to sleep", and keeps the handler off the IO threads. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigset_t old;
    if (pthread_sigmask(SIG_BLOCK, &stop, &old) != 0) {
        fprintf(stderr, "%s: cannot block signals\n", BOT_PROG);
        return -1;
    }
    ctl->wait_mask = old;
    sigdelset(&ctl->wait_mask, SIGINT);
    sigdelset(&ctl->wait_mask, SIGTERM);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_mask = stop;
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0) {
        fprintf(stderr, "%s: sigaction: %s\n", BOT_PROG, strerror(errno));
        return -1;
    }
    /* A peer that resets while we write must be an error code, not a dead process. */
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
    return 0;
}

void bot_ctl_destroy(bot_ctl_t *ctl) {
    if (!ctl)
        return;
    if (ctl->wake_rd >= 0)
        close(ctl->wake_rd);
    if (ctl->wake_wr >= 0)
        close(ctl->wake_wr);
    free(ctl);
}

bot_wait_t bot_ctl_wait(bot_ctl_t *ctl, uint64_t deadline_ns) {
    for (;;) {
        if (stop_signals != ctl->signals_seen) {
            ctl->signals_seen++;
            return BOT_WAIT_SIGNAL;
        }
        uint64_t now = gs_now_ns();
        if (now >= deadline_ns)
            return BOT_WAIT_TIMEOUT;
        uint64_t d = deadline_ns - now;
        if (d > UINT64_C(3600000000000))
            d = UINT64_C(3600000000000); /* keep tv_sec small; the loop goes round again */
        struct timespec ts = {.tv_sec = (time_t)(d / 1000000000u),
                              .tv_nsec = (long)(d % 1000000000u)};
        fd_set rd;
        FD_ZERO(&rd);
        FD_SET(ctl->wake_rd, &rd);
        int n = pselect(ctl->wake_rd + 1, &rd, NULL, NULL, &ts, &ctl->wait_mask);
        if (n > 0) {
            char buf[64];
            while (read(ctl->wake_rd, buf, sizeof buf) > 0) {
            }
            return BOT_WAIT_WOKEN;
        }
        if (n < 0 && errno != EINTR) {
            /* Cannot happen with a valid descriptor; sleep rather than spin if it does. */
            fprintf(stderr, "%s: pselect: %s\n", BOT_PROG, strerror(errno));
            gs_sleep_ms(d > 100000000u ? 100u : (uint32_t)(d / 1000000u) + 1u);
        }
    }
}

void bot_ctl_wake(bot_ctl_t *ctl) {
    char b = 1;
    if (write(ctl->wake_wr, &b, 1) < 0) {
        /* EAGAIN: the pipe is full, so a wake is already pending. Nothing else can happen on a
         * pipe whose reader lives as long as we do. */
    }
}

int bot_valid_host(const char *host) {
    unsigned char addr[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

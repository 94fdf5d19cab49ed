/* SPDX-License-Identifier: MIT */
/* gs-bot driver: picks the mode, reads the options common to every mode, turns SIGINT/SIGTERM
 * into stop requests the mode's main thread can wait on, and runs the mode. */
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

/* POSIX only (pselect, sigaction). A Windows port of the tools would use a console control
 * handler and an event here; nothing else in the modes depends on how the wait is done. */
static int ctl_init(bot_ctl_t *ctl) {
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

static void ctl_fini(bot_ctl_t *ctl) {
    if (ctl->wake_rd >= 0)
        close(ctl->wake_rd);
    if (ctl->wake_wr >= 0)
        close(ctl->wake_wr);
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

/* The modes, by name. Adding one (e.g. chat) is one line here and its own file. */
static const bot_mode_t *const bot_modes[] = {&bot_mode_echo, &bot_mode_chat};
#define BOT_MODE_COUNT (sizeof bot_modes / sizeof bot_modes[0])

static void usage(FILE *f) {
    fprintf(f, "usage: %s MODE [options]\n\nModes:\n", BOT_PROG);
    for (size_t i = 0; i < BOT_MODE_COUNT; i++)
        fprintf(f, "  %-8s %s\n", bot_modes[i]->name, bot_modes[i]->summary);
    fprintf(f, "\nCommon options:\n"
               "  --host ADDR          server address, numeric IPv4 or IPv6 (default 127.0.0.1)\n"
               "  --port N             server port (default 7000)\n"
               "  --connections N      connections to open (default 100)\n"
               "  --duration SECONDS   how long to run before draining (default 10)\n"
               "  --threads N          network IO threads (default 1)\n"
               "  --json-only          no monitor or progress lines on stderr, only the summary\n"
               "  --help               show this text\n");
    for (size_t i = 0; i < BOT_MODE_COUNT; i++)
        fprintf(f, "\nOptions of mode %s:\n%s", bot_modes[i]->name, bot_modes[i]->options_help);
    fprintf(f, "\nPrints a live monitor line on stderr each second and one line of JSON on stdout\n"
               "at the end. SIGINT or SIGTERM ends the run early (a second one skips the drain).\n"
               "Exit status: 0 all verified, 1 a failure was found, 2 usage error.\n");
}

static const bot_mode_t *find_mode(const char *name) {
    for (size_t i = 0; i < BOT_MODE_COUNT; i++)
        if (strcmp(bot_modes[i]->name, name) == 0)
            return bot_modes[i];
    return NULL;
}

static int valid_host(const char *host) {
    unsigned char addr[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

/* Reads the common options and hands the others to the mode. 0, 1 for --help, -1 on error. */
static int parse_options(cli_t *c, bot_common_t *common, const bot_mode_t *mode, void *opts) {
    for (;;) {
        int k = cli_next(c);
        if (k == CLI_END)
            return 0;
        if (k == CLI_ERROR)
            return -1;
        if (k == CLI_POSITIONAL)
            return cli_error(c, "unexpected argument '%s' (try --help)", c->arg);
        int rc;
        if (cli_is(c, "--help") || cli_is(c, "-h")) {
            return 1;
        } else if (cli_is(c, "--host")) {
            rc = cli_string(c, &common->host);
            if (rc == 0 && !valid_host(common->host))
                rc = cli_error(c, "option --host: '%s' is not a numeric IPv4 or IPv6 address",
                               common->host);
        } else if (cli_is(c, "--port")) {
            rc = cli_port(c, 0, &common->port);
        } else if (cli_is(c, "--connections")) {
            rc = cli_u32(c, 1, 1000000, &common->connections);
        } else if (cli_is(c, "--duration")) {
            rc = cli_u32(c, 1, 7 * 24 * 3600, &common->duration_s);
        } else if (cli_is(c, "--threads")) {
            rc = cli_u32(c, 1, 64, &common->io_threads);
        } else if (cli_is(c, "--json-only")) {
            rc = cli_flag(c, &common->json_only);
        } else {
            int took = mode->option(opts, c);
            if (took == 0)
                return cli_error(c, "unknown option '%s' for mode %s (try --help)", c->name,
                                 mode->name);
            rc = took < 0 ? -1 : 0;
        }
        if (rc != 0)
            return -1;
    }
}

int main(int argc, char **argv) {
    cli_t c;
    cli_init(&c, BOT_PROG, argc, argv, 1);
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE_EXIT;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (argv[1][0] == '-') {
        cli_error(&c, "the first argument must be a mode (echo, chat), not '%s' (try --help)",
                  argv[1]);
        return CLI_USAGE_EXIT;
    }
    const bot_mode_t *mode = find_mode(argv[1]);
    if (!mode) {
        cli_error(&c, "unknown mode '%s' (try --help)", argv[1]);
        return CLI_USAGE_EXIT;
    }

    void *opts = calloc(1, mode->opts_size ? mode->opts_size : 1);
    if (!opts) {
        fprintf(stderr, "%s: out of memory\n", BOT_PROG);
        return 1;
    }
    mode->defaults(opts);
    bot_common_t common = {
        .host = "127.0.0.1",
        .port = 7000,
        .connections = 100,
        .duration_s = 10,
        .io_threads = 1,
        .json_only = 0,
    };
    cli_init(&c, BOT_PROG, argc, argv, 2);
    int rc = parse_options(&c, &common, mode, opts);
    if (rc == 0 && mode->check)
        rc = mode->check(opts, &common);
    if (rc != 0) {
        free(opts);
        if (rc > 0) {
            usage(stdout);
            return 0;
        }
        return CLI_USAGE_EXIT;
    }

    bot_ctl_t ctl;
    int status = 1;
    if (ctl_init(&ctl) == 0)
        status = mode->run(&common, opts, &ctl);
    ctl_fini(&ctl);
    free(opts);
    return status;
}

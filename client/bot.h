/* SPDX-License-Identifier: MIT */
/* gs-bot: the contract between the mode-independent driver (bot_main.c: options common to every
 * mode, signals, waiting) and each mode (bot_echo.c, later bot_chat.c). */
#ifndef GS_CLIENT_BOT_H
#define GS_CLIENT_BOT_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "gs/net.h"

#define BOT_PROG "gs-bot"

/* Options every mode understands. */
typedef struct bot_common {
    const char *host;         /* server address, numeric IPv4 or IPv6 ["127.0.0.1"] */
    uint16_t port;            /* [7000] */
    uint32_t connections;     /* [100] */
    uint32_t duration_s;      /* run length before the drain [10] */
    uint32_t io_threads;      /* net IO threads [1] */
    gs_net_backend_t backend; /* [auto] */
    int json_only;            /* no monitor or progress lines on stderr: only the JSON summary */
} bot_common_t;

/* Services the driver gives a mode's main thread: stop requests from signals and a way for IO
 * threads to wake the main thread early. Opaque; one per run. */
typedef struct bot_ctl bot_ctl_t;

typedef enum {
    BOT_WAIT_TIMEOUT = 0, /* the deadline passed */
    BOT_WAIT_SIGNAL,      /* SIGINT or SIGTERM arrived since the previous bot_ctl_wait */
    BOT_WAIT_WOKEN,       /* some thread called bot_ctl_wake */
} bot_wait_t;

/* Sleep until gs_now_ns() >= deadline_ns, a stop signal, or a wake, whichever comes first.
 * Main thread only. Every signal is reported once, so a mode can treat the first one as "stop"
 * and a second one as "stop now". */
bot_wait_t bot_ctl_wait(bot_ctl_t *ctl, uint64_t deadline_ns);
/* Make the current or next bot_ctl_wait return BOT_WAIT_WOKEN. Any thread, never blocks;
 * wakes that arrive together may be reported as one. */
void bot_ctl_wake(bot_ctl_t *ctl);

/* One mode of gs-bot. The driver reads the mode name, then offers every option it does not know
 * itself to `option`, then calls `run`. The table is constant: all state lives in what `run`
 * allocates. */
typedef struct bot_mode {
    const char *name;
    const char *summary;      /* one line for the usage text */
    const char *options_help; /* the mode's own options, preformatted lines for --help */
    size_t opts_size;         /* bytes the driver allocates (zeroed) for the mode's options */
    /* Fill in the defaults of the options. */
    void (*defaults)(void *opts);
    /* The current option of c is not a common one: 1 if the mode took it (value read through
     * cli_*), 0 if unknown, -1 if its value was bad (message already printed). */
    int (*option)(void *opts, cli_t *c);
    /* Cross-check after all options are read: 0, or -1 with a message printed. May be NULL. */
    int (*check)(void *opts, const bot_common_t *common);
    /* Run the mode on the calling (main) thread. Returns the exit status: 0 on success, 1 when
     * the run found a failure. Prints the one-line JSON summary to stdout. */
    int (*run)(const bot_common_t *common, const void *opts, bot_ctl_t *ctl);
} bot_mode_t;

/* ---- helpers shared by the modes (bot_util.c) -------------------------------------------- */

/* Error lines printed per run; beyond that they are only counted. */
#define BOT_REPORTS_MAX 20u

/* Print "gs-bot: <message>" on stderr, one fprintf per line (lines from several IO threads do
 * not interleave), for the first BOT_REPORTS_MAX calls on *reports; then say once that further
 * errors are only counted. Any thread. */
void bot_report(_Atomic uint32_t *reports, const char *fmt, ...) GS_PRINTF(2, 3);
/* splitmix64: a small, good generator for payload patterns that a receiver can recompute. */
uint64_t bot_splitmix64(uint64_t *state);
/* The next once-a-second monitor tick after tick; after a long stall, skips the missed ones. */
uint64_t bot_next_tick(uint64_t tick, uint64_t now);

extern const bot_mode_t bot_mode_echo;
extern const bot_mode_t bot_mode_chat;

#endif /* GS_CLIENT_BOT_H */

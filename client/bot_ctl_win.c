/* SPDX-License-Identifier: MIT */
/* gs-bot's stop requests and wake-ups on Windows (bot_ctl.h): a console control handler counts
 * Ctrl-C/Ctrl-Break/close (wine turns SIGINT into Ctrl-C) and sets an event; IO threads set
 * another; the main thread waits for either. The POSIX twin is bot_ctl_posix.c. */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>

#include "bot.h"
#include "bot_ctl.h"

/* Process-wide by nature: a control handler has no user pointer to write through. The handler
 * runs on a thread of its own, so the count is interlocked; stop_event tells the waiting main
 * thread to look at it. */
static volatile LONG stop_signals;
static HANDLE stop_event;

struct bot_ctl {
    HANDLE wake; /* auto-reset: IO threads set it, bot_ctl_wait consumes it */
    LONG signals_seen;
};

static BOOL WINAPI on_control(DWORD type) {
    switch (type) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
    case CTRL_CLOSE_EVENT:
        if (InterlockedCompareExchange(&stop_signals, 0, 0) < 1000)
            InterlockedIncrement(&stop_signals);
        (void)SetEvent(stop_event);
        return TRUE;
    default:
        return FALSE;
    }
}

int bot_ctl_create(bot_ctl_t **out) {
    bot_ctl_t *ctl = calloc(1, sizeof *ctl);
    *out = ctl;
    if (!ctl) {
        fprintf(stderr, "%s: out of memory\n", BOT_PROG);
        return -1;
    }
    ctl->wake = CreateEventW(NULL, FALSE, FALSE, NULL);
    if (ctl->wake == NULL) {
        fprintf(stderr, "%s: CreateEvent: error %lu\n", BOT_PROG, (unsigned long)GetLastError());
        return -1;
    }
    /* Auto-reset too: each signal sets it once, and the count, not the event, says how many. */
    if (stop_event == NULL && (stop_event = CreateEventW(NULL, FALSE, FALSE, NULL)) == NULL) {
        fprintf(stderr, "%s: CreateEvent: error %lu\n", BOT_PROG, (unsigned long)GetLastError());
        return -1;
    }
    if (!SetConsoleCtrlHandler(on_control, TRUE)) {
        fprintf(stderr, "%s: SetConsoleCtrlHandler: error %lu\n", BOT_PROG,
                (unsigned long)GetLastError());
        return -1;
    }
    return 0;
}

void bot_ctl_destroy(bot_ctl_t *ctl) {
    if (!ctl)
        return;
    if (ctl->wake != NULL)
        CloseHandle(ctl->wake);
    free(ctl);
}

bot_wait_t bot_ctl_wait(bot_ctl_t *ctl, uint64_t deadline_ns) {
    for (;;) {
        /* The handler counts before it sets stop_event: a signal counted after this check still
         * ends the wait below. */
        if (InterlockedCompareExchange(&stop_signals, 0, 0) != ctl->signals_seen) {
            ctl->signals_seen++;
            return BOT_WAIT_SIGNAL;
        }
        uint64_t now = gs_now_ns();
        if (now >= deadline_ns)
            return BOT_WAIT_TIMEOUT;
        /* Rounded up so that the wait never ends before the deadline and spins; at most an hour
         * per round (the loop goes round again). */
        uint64_t ms = (deadline_ns - now + 999999u) / 1000000u;
        if (ms > 3600000u)
            ms = 3600000u;
        HANDLE h[2] = {ctl->wake, stop_event};
        DWORD r = WaitForMultipleObjects(2, h, FALSE, (DWORD)ms);
        if (r == WAIT_OBJECT_0)
            return BOT_WAIT_WOKEN;
        if (r == WAIT_FAILED) {
            /* Cannot happen with valid handles; sleep rather than spin if it does. */
            fprintf(stderr, "%s: WaitForMultipleObjects: error %lu\n", BOT_PROG,
                    (unsigned long)GetLastError());
            gs_sleep_ms(ms > 100u ? 100u : (uint32_t)ms);
        }
        /* stop_event or the timeout: the checks at the top decide. */
    }
}

void bot_ctl_wake(bot_ctl_t *ctl) { (void)SetEvent(ctl->wake); }

int bot_valid_host(const char *host) {
    unsigned char addr[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

/* SPDX-License-Identifier: MIT */
/* SIGINT/SIGTERM as a stop request for a server's main thread: the signals are blocked in every
 * thread and only taken while the main thread waits, so none is lost between a check and a
 * sleep (stop_signal.c). On Windows, Ctrl-C, Ctrl-Break and console close/log-off/shutdown do the
 * same through a console control handler and an event (stop_signal_win.c). */
#ifndef GS_TOOLS_STOP_SIGNAL_H
#define GS_TOOLS_STOP_SIGNAL_H

#include <stdint.h>

/* Call first in main, before any thread starts (threads inherit the blocked mask). Also ignores
 * SIGPIPE (Windows has none). Returns 0 or -1. */
int stop_signal_init(void);
/* Sleep until gs_now_ns() >= deadline_ns or a stop signal. Returns 1 once a stop was asked. */
int stop_signal_wait(uint64_t deadline_ns);
/* Whether a stop was asked. */
int stop_signal_requested(void);

#endif

/* SPDX-License-Identifier: MIT */
/* Stop requests for servers' main threads on Windows (see stop_signal.h): a console control
 * handler (Ctrl-C, Ctrl-Break, console closed, log-off, shutdown; wine turns SIGINT into Ctrl-C)
 * sets a manual-reset event that the main thread waits on. The POSIX twin is stop_signal.c. */
#include <windows.h>

#include "gs/base.h"
#include "stop_signal.h"

/* Process-wide by nature: a control handler has no user pointer to write through. */
static volatile LONG stop_requested;
static HANDLE stop_event;

/* Runs on a thread the system creates for the event. Returning TRUE for close, log-off and
 * shutdown only buys the few seconds Windows allows before it ends the process; the main thread
 * uses them to stop the server. */
static BOOL WINAPI on_control(DWORD type) {
    switch (type) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
    case CTRL_CLOSE_EVENT:
    case CTRL_LOGOFF_EVENT:
    case CTRL_SHUTDOWN_EVENT:
        InterlockedExchange(&stop_requested, 1);
        (void)SetEvent(stop_event);
        return TRUE;
    default:
        return FALSE;
    }
}

int stop_signal_init(void) {
    /* Manual reset: once asked, every later wait returns at once, like the POSIX flag. */
    stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (stop_event == NULL)
        return -1;
    if (!SetConsoleCtrlHandler(on_control, TRUE)) {
        CloseHandle(stop_event);
        stop_event = NULL;
        return -1;
    }
    /* Windows has no SIGPIPE: a write to a reset connection is already an error code. */
    return 0;
}

int stop_signal_wait(uint64_t deadline_ns) {
    uint64_t now = gs_now_ns();
    if (stop_signal_requested() || now >= deadline_ns)
        return stop_signal_requested();
    /* Rounded up, so that a wait never ends before the deadline and spins. */
    uint64_t ms = (deadline_ns - now + 999999u) / 1000000u;
    (void)WaitForSingleObject(stop_event, ms >= INFINITE ? INFINITE - 1 : (DWORD)ms);
    return stop_signal_requested();
}

int stop_signal_requested(void) { return InterlockedCompareExchange(&stop_requested, 0, 0) != 0; }

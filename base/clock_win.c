/* SPDX-License-Identifier: MIT */
/* Monotonic clock and sleep over Win32 (QueryPerformanceCounter, Sleep); the POSIX twin is
 * clock.c. */
#include <windows.h>

#include "gs/base.h"

uint64_t gs_now_ns(void) {
    LARGE_INTEGER now, freq;

    /* Both calls always succeed on Windows XP and later (documented), and the frequency is
     * fixed at boot; it is read each time rather than cached to keep this file free of state. */
    (void)QueryPerformanceFrequency(&freq);
    (void)QueryPerformanceCounter(&now);
    /* Seconds and remainder apart, so that the multiplication cannot overflow for uptimes of
     * centuries at any frequency. */
    uint64_t f = (uint64_t)freq.QuadPart;
    uint64_t t = (uint64_t)now.QuadPart;
    return t / f * 1000000000u + t % f * 1000000000u / f;
}

void gs_sleep_ms(uint32_t ms) {
    uint64_t deadline = gs_now_ns() + (uint64_t)ms * 1000000u;
    uint64_t now;

    /* Sleep may return up to a timer tick early (its documentation says so for short sleeps),
     * and the header promises at least ms: sleep again for what is left, rounded up. */
    while ((now = gs_now_ns()) < deadline) {
        uint64_t left = (deadline - now + 999999u) / 1000000u;
        /* INFINITE (0xFFFFFFFF) would never return. */
        Sleep(left >= INFINITE ? INFINITE - 1 : (DWORD)left);
    }
}

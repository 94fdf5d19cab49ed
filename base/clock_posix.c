/* SPDX-License-Identifier: MIT */
/* Monotonic clock and sleep over POSIX clock_gettime and nanosleep; the Windows twin is
 * clock_win.c. */
#include <errno.h>
#include <time.h>

#include "gs/base.h"

uint64_t gs_now_ns(void) {
    struct timespec ts;

    /* CLOCK_MONOTONIC cannot fail with a valid pointer on any supported system, and the
     * signature has no error path, so the return value is deliberately not checked. */
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void gs_sleep_ms(uint32_t ms) {
    struct timespec req = {.tv_sec = (time_t)(ms / 1000u),
                           .tv_nsec = (long)(ms % 1000u) * 1000000L};
    struct timespec rem;

    /* A signal handler interrupts nanosleep with EINTR and leaves the unslept time in rem;
     * resume with it so the caller always sleeps at least ms. Any other error (EINVAL cannot
     * happen with the values built above) ends the sleep rather than spinning. */
    while (nanosleep(&req, &rem) != 0 && errno == EINTR)
        req = rem;
}

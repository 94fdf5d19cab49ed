/* SPDX-License-Identifier: MIT */
/* test_cpu_us over GetProcessTimes (100-nanosecond units). */
#include <windows.h>

#include <stdlib.h>

#include "cpu_time.h"

static uint64_t ticks(FILETIME t) {
    return (uint64_t)t.dwHighDateTime << 32 | (uint64_t)t.dwLowDateTime;
}

uint64_t test_cpu_us(void) {
    FILETIME created, exited, kernel, user;
    if (!GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel, &user))
        abort();
    return (ticks(kernel) + ticks(user)) / 10u;
}

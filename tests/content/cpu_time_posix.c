/* SPDX-License-Identifier: MIT */
/* test_cpu_us over getrusage. */
#include <sys/resource.h>

#include <stdlib.h>

#include "cpu_time.h"

uint64_t test_cpu_us(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        abort();
    return (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
           (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
}

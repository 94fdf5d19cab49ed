/* SPDX-License-Identifier: MIT */
/* CPU time (user + system) used so far by this process, for tests that prove threads sleep
 * (cpu_time_posix.c: getrusage; cpu_time_win.c: GetProcessTimes; CMake picks one). */
#ifndef GS_TESTS_CPU_TIME_H
#define GS_TESTS_CPU_TIME_H

#include <stdint.h>

/* Microseconds. Aborts (failing the test) if the system cannot tell, so that a broken reading
 * can never pass as "no CPU used". */
uint64_t test_cpu_us(void);

#endif

/* SPDX-License-Identifier: MIT */
/* Helpers shared by gs-bot's modes (see bot.h). */
#include <stdarg.h>
#include <stdio.h>

#include "bot.h"

void bot_report(_Atomic uint32_t *reports, const char *fmt, ...) {
    uint32_t n = atomic_fetch_add_explicit(reports, 1, memory_order_relaxed);
    if (n > BOT_REPORTS_MAX)
        return;
    if (n == BOT_REPORTS_MAX) {
        fprintf(stderr, "%s: further errors are counted but not printed\n", BOT_PROG);
        return;
    }
    char line[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One fprintf per line: stdio locks the stream per call, so lines from several IO threads
     * do not interleave. */
    fprintf(stderr, "%s: %s\n", BOT_PROG, line);
}

uint64_t bot_splitmix64(uint64_t *state) {
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

uint64_t bot_next_tick(uint64_t tick, uint64_t now) {
    const uint64_t second = UINT64_C(1000000000);
    tick += second;
    return tick > now ? tick : now + second;
}

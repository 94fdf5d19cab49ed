/* SPDX-License-Identifier: MIT */
/* Counted skips and the exit status of a cmocka test binary (gs_test.h). */
#include "gs_test.h"

#include <stdio.h>

/* Only the thread running the cases touches it (gs_test.h). */
static int skips;

void gs_test_note_skip(void) { skips++; }

void gs_test_say_skip(const char *file, int line, const char *why) {
    gs_test_note_skip();
    printf("SKIP: %s (%s:%d)\n", why, file, line);
    fflush(stdout);
}

int gs_test_status(int failed) {
    /* A failure count is not passed through: 77 failed cases would read as "skipped", and an
     * exit status keeps only 8 bits (256 failures would read as 0). */
    if (failed != 0)
        return 1;
    return skips > 0 ? GS_TEST_SKIPPED : 0;
}

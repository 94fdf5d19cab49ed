/* SPDX-License-Identifier: MIT */
/* What every cmocka test includes instead of <cmocka.h>: cmocka with its prerequisites, a skip
 * that is counted, and the exit status that tells CTest "skipped" apart from "passed".
 *
 * cmocka 1.1's cmocka_run_group_tests returns the number of failed cases only, so a binary whose
 * cases skipped exits 0 and CTest reports it "Passed". Here skip() also counts the skip, and
 * gs_test_status() turns the failure count into the exit status: 1 if any case failed (whatever
 * skipped), 77 (SKIP_RETURN_CODE of gs_add_test) if none failed and at least one skipped, else 0.
 * docs/testing.md ("Skipped tests") says why this and not CTest's SKIP_REGULAR_EXPRESSION.
 *
 *   int main(void) {
 *       const struct CMUnitTest tests[] = {...};
 *       return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
 *   }
 *
 * Call these from the thread that runs the cases (cmocka's own state is not thread-safe). */
#ifndef GS_TEST_H
#define GS_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* The exit status of a binary whose cases skipped and none failed. */
#define GS_TEST_SKIPPED 77

/* Records that the running case skips; the skip itself is cmocka's (_skip). */
void gs_test_note_skip(void);

/* The process exit status for FAILED failed cases (the sum of cmocka_run_group_tests results). */
int gs_test_status(int failed);

/* Skips the running case and says why on stdout ("SKIP: <why>"), before cmocka's own line. */
void gs_test_say_skip(const char *file, int line, const char *why);
#define gs_test_skip(why) (gs_test_say_skip(__FILE__, __LINE__, (why)), _skip(__FILE__, __LINE__))

/* cmocka's skip(), counted; prefer gs_test_skip(), which also says why. */
#undef skip
#define skip() (gs_test_note_skip(), _skip(__FILE__, __LINE__))

#endif

/* SPDX-License-Identifier: MIT */
/* The three outcomes of a cmocka test binary, for tests/support/skip_status.cmake: "pass" (two
 * cases pass: exit 0), "skip" (one passes, one skips: exit 77), "fail" (one skips, one fails,
 * one passes: exit 1, the skip does not hide the failure). */
#include <stdio.h>
#include <string.h>

#include "gs_test.h"

static void passes(void **state) {
    (void)state;
    assert_int_equal(1 + 1, 2);
}

static void skips(void **state) {
    (void)state;
    gs_test_skip("the self-test's deliberate skip");
}

static void skips_bare(void **state) {
    (void)state;
    skip(); /* cmocka's macro, counted through gs_test.h */
}

static void fails(void **state) {
    (void)state;
    fail_msg("the self-test's deliberate failure");
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "pass") == 0) {
        const struct CMUnitTest tests[] = {cmocka_unit_test(passes), cmocka_unit_test(passes)};
        return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
    }
    if (strcmp(mode, "skip") == 0) {
        const struct CMUnitTest tests[] = {cmocka_unit_test(passes), cmocka_unit_test(skips)};
        return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
    }
    if (strcmp(mode, "skip_bare") == 0) {
        const struct CMUnitTest tests[] = {cmocka_unit_test(skips_bare), cmocka_unit_test(passes)};
        return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
    }
    if (strcmp(mode, "fail") == 0) {
        const struct CMUnitTest tests[] = {cmocka_unit_test(skips), cmocka_unit_test(fails),
                                           cmocka_unit_test(passes)};
        return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
    }
    fprintf(stderr, "usage: skip_selftest pass|skip|skip_bare|fail\n");
    return 2;
}

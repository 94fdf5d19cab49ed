/* SPDX-License-Identifier: MIT */
/* Tests for the error list: every code has its own name and message, unknown codes are safe. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gs_test.h"

#include "gs/base.h"

typedef struct {
    int code;
    const char *name;
    const char *msg;
} expected_t;

/* Built from the same list as the library, but compared against strings the library returns,
 * so a missing or misrouted case in error.c fails. */
static const expected_t all[] = {
#define X(name, num, msg) {GS_E##name, "GS_E" #name, msg},
    GS_ERRNO_MAP(X)
#undef X
};
#define N_CODES (sizeof all / sizeof all[0])

static void test_every_code_named(void **state) {
    (void)state;
    for (size_t i = 0; i < N_CODES; i++) {
        assert_true(all[i].code < 0);
        assert_string_equal(gs_err_name(all[i].code), all[i].name);
        assert_string_equal(gs_strerror(all[i].code), all[i].msg);
        assert_string_not_equal(gs_err_name(all[i].code), "GS_E?");
        assert_string_not_equal(gs_strerror(all[i].code), "unknown error");
    }
}

static void test_names_and_messages_distinct(void **state) {
    (void)state;
    for (size_t i = 0; i < N_CODES; i++) {
        for (size_t j = i + 1; j < N_CODES; j++) {
            assert_int_not_equal(all[i].code, all[j].code);
            assert_string_not_equal(gs_err_name(all[i].code), gs_err_name(all[j].code));
            assert_string_not_equal(gs_strerror(all[i].code), gs_strerror(all[j].code));
        }
    }
}

static void test_spot_values(void **state) {
    (void)state;
    /* Hard-coded so that a change to the list itself is noticed too. */
    assert_int_equal(N_CODES, 18);
    assert_int_equal(GS_EINVAL, -1);
    assert_int_equal(GS_ETIMEDOUT, -13);
    assert_string_equal(gs_err_name(GS_ESTALE), "GS_ESTALE");
    assert_string_equal(gs_strerror(GS_ENOMEM), "out of memory");
    assert_string_equal(gs_err_name(-13), "GS_ETIMEDOUT");
    assert_string_equal(gs_strerror(GS_ETIMEDOUT), "operation timed out");
    assert_int_equal(GS_EEXIST, -17);
    assert_string_equal(gs_err_name(-17), "GS_EEXIST");
    assert_int_equal(GS_EADDRINUSE, -18);
    assert_string_equal(gs_err_name(-18), "GS_EADDRINUSE");
}

static void test_unknown_codes(void **state) {
    static const int unknown[] = {0, 1, 17, 18, -19, -100, INT_MIN, INT_MAX};
    (void)state;
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_string_equal(gs_strerror(unknown[i]), "unknown error");
        assert_string_equal(gs_err_name(unknown[i]), "GS_E?");
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_named),
        cmocka_unit_test(test_names_and_messages_distinct),
        cmocka_unit_test(test_spot_values),
        cmocka_unit_test(test_unknown_codes),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

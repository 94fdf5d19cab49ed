/* SPDX-License-Identifier: MIT */
/* Tests for the monotonic clock and for gs_sleep_ms (the sleep interrupted by a signal is in
 * test_clock_signal.c: POSIX only). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "gs_test.h"

#include "gs/base.h"

static void test_monotonic(void **state) {
    uint64_t prev = gs_now_ns();
    (void)state;

    assert_true(prev > 0);
    for (int i = 0; i < 100000; i++) {
        uint64_t now = gs_now_ns();
        assert_true(now >= prev);
        prev = now;
    }
    /* gs_now_ms is the same clock in coarser units. */
    uint64_t ns = gs_now_ns();
    uint64_t ms = gs_now_ms();
    assert_true(ms >= ns / 1000000u);
    assert_true(ms - ns / 1000000u < 1000u);
}

static void test_sleep(void **state) {
    (void)state;
    uint64_t t0 = gs_now_ns();
    gs_sleep_ms(30);
    uint64_t dt = gs_now_ns() - t0;
    assert_true(dt >= 30u * 1000000u);
    assert_true(dt < 5000u * 1000000u); /* generous: loaded CI machines and sanitizers */

    t0 = gs_now_ns();
    gs_sleep_ms(0);
    assert_true(gs_now_ns() - t0 < 1000u * 1000000u);

    /* Whole seconds and the millisecond remainder both count. */
    t0 = gs_now_ns();
    gs_sleep_ms(1005);
    assert_true(gs_now_ns() - t0 >= 1005u * 1000000u);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_monotonic),
        cmocka_unit_test(test_sleep),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

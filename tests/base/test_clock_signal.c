/* SPDX-License-Identifier: MIT */
/* gs_sleep_ms interrupted by signals (POSIX only: Windows has no signal that cuts a Sleep short,
 * so the Windows build does not build this file). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/time.h>

#include "gs_test.h"

#include "gs/base.h"

static volatile sig_atomic_t alarms;

static void on_alarm(int sig) {
    (void)sig;
    alarms++;
}

static void test_sleep_survives_signals(void **state) {
    struct sigaction sa, old_sa;
    struct itimerval every_5ms = {{0, 5000}, {0, 5000}}, off = {{0, 0}, {0, 0}};
    (void)state;

    /* No SA_RESTART: nanosleep returns EINTR on every alarm, and gs_sleep_ms must resume. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, &old_sa), 0);
    assert_int_equal(setitimer(ITIMER_REAL, &every_5ms, NULL), 0);

    uint64_t t0 = gs_now_ns();
    gs_sleep_ms(100);
    uint64_t dt = gs_now_ns() - t0;

    assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
    assert_int_equal(sigaction(SIGALRM, &old_sa, NULL), 0);
    assert_true(alarms >= 2); /* the sleep really was interrupted */
    assert_true(dt >= 100u * 1000000u);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sleep_survives_signals),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

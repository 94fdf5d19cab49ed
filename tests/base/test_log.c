/* SPDX-License-Identifier: MIT */
/* Tests for the log hook, level filter, truncation and the default line format (GS_LOG_LEVEL is
 * tested in test_log_env.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gs_test.h"

#include "gs/base.h"

typedef struct {
    int calls;
    gs_log_level_t level;
    char component[64];
    char message[4096];
    size_t len;
    void *user;
} capture_t;

static capture_t cap;

static void capture_cb(gs_log_level_t level, const char *component, const char *message,
                       void *user) {
    cap.calls++;
    cap.level = level;
    snprintf(cap.component, sizeof cap.component, "%s", component);
    cap.len = strlen(message);
    snprintf(cap.message, sizeof cap.message, "%s", message);
    cap.user = user;
}

/* Installs the capturing hook. Does not touch the level, so the first test still sees the level
 * unread and can check GS_LOG_LEVEL. */
static int setup(void **state) {
    (void)state;
    memset(&cap, 0, sizeof cap);
    gs_log_set_hook(capture_cb, &cap);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    gs_log_set_hook(NULL, NULL);
    return 0;
}

static void test_hook_receives_fields(void **state) {
    int marker;
    (void)state;

    gs_log_set_hook(capture_cb, &marker);
    gs_log_set_level(GS_LOG_DEBUG);
    gs_log(GS_LOG_WARN, "net", "x=%d %s", 42, "y");
    assert_int_equal(cap.calls, 1);
    assert_int_equal(cap.level, GS_LOG_WARN);
    assert_string_equal(cap.component, "net");
    assert_string_equal(cap.message, "x=42 y");
    assert_ptr_equal(cap.user, &marker);

    gs_log(GS_LOG_DEBUG, "server", "%s", "");
    assert_int_equal(cap.calls, 2);
    assert_int_equal(cap.level, GS_LOG_DEBUG);
    assert_string_equal(cap.component, "server");
    assert_string_equal(cap.message, "");

    gs_log(GS_LOG_ERROR, NULL, "no component");
    assert_int_equal(cap.calls, 3);
    assert_string_equal(cap.component, "-");
    assert_string_equal(cap.message, "no component");
}

static void test_level_filter(void **state) {
    (void)state;

    gs_log_set_level(GS_LOG_WARN);
    assert_int_equal(gs_log_get_level(), GS_LOG_WARN);
    gs_log(GS_LOG_DEBUG, "t", "d");
    gs_log(GS_LOG_INFO, "t", "i");
    assert_int_equal(cap.calls, 0);
    gs_log(GS_LOG_WARN, "t", "w");
    assert_int_equal(cap.calls, 1);
    assert_string_equal(cap.message, "w");
    gs_log(GS_LOG_ERROR, "t", "e");
    assert_int_equal(cap.calls, 2);
    assert_string_equal(cap.message, "e");

    gs_log_set_level(GS_LOG_OFF);
    gs_log(GS_LOG_ERROR, "t", "e");
    assert_int_equal(cap.calls, 2);

    /* OFF and out-of-range values are not message levels, whatever the filter. */
    gs_log_set_level(GS_LOG_DEBUG);
    gs_log(GS_LOG_OFF, "t", "off");
    gs_log((gs_log_level_t)42, "t", "bogus");
    gs_log((gs_log_level_t)-1, "t", "bogus");
    assert_int_equal(cap.calls, 2);

    /* An out-of-range filter is ignored. */
    gs_log_set_level((gs_log_level_t)42);
    assert_int_equal(gs_log_get_level(), GS_LOG_DEBUG);
    gs_log(GS_LOG_DEBUG, "t", "d");
    assert_int_equal(cap.calls, 3);
}

static void test_truncation(void **state) {
    static char big[5001];
    (void)state;

    for (size_t i = 0; i < 5000; i++)
        big[i] = (char)('a' + i % 26);
    big[5000] = '\0';
    gs_log_set_level(GS_LOG_DEBUG);

    gs_log(GS_LOG_INFO, "t", "%s", big);
    assert_int_equal(cap.calls, 1);
    assert_int_equal(cap.len, 1023);
    assert_memory_equal(cap.message, big, 1020);
    assert_string_equal(cap.message + 1020, "...");

    /* The longest message that fits is delivered whole. */
    big[1023] = '\0';
    gs_log(GS_LOG_INFO, "t", "%s", big);
    assert_int_equal(cap.calls, 2);
    assert_int_equal(cap.len, 1023);
    assert_string_equal(cap.message, big);

    /* One byte more is cut. */
    big[1023] = (char)('a' + 1023 % 26);
    big[1024] = '\0';
    gs_log(GS_LOG_INFO, "t", "%s", big);
    assert_int_equal(cap.calls, 3);
    assert_int_equal(cap.len, 1023);
    assert_string_equal(cap.message + 1020, "...");
}

/* Runs the default hook with fd 2 pointed at a temporary file and returns what it wrote, with
 * each "\r\n" read back as "\n": stderr is a text stream, which the Windows C runtime writes
 * with CRLF line ends (a lone '\r' is kept and would fail the comparisons). */
static size_t capture_stderr(char *out, size_t cap_out, void (*fn)(void)) {
    FILE *tmp = tmpfile();
    int saved;
    size_t n;

    assert_non_null(tmp);
    fflush(stderr);
    saved = dup(2);
    assert_true(saved >= 0);
    /* dup2 returns the new descriptor on POSIX and 0 on Windows: only -1 is a failure. */
    assert_true(dup2(fileno(tmp), 2) != -1);
    fn();
    fflush(stderr);
    assert_true(dup2(saved, 2) != -1);
    close(saved);
    rewind(tmp);
    n = fread(out, 1, cap_out - 1, tmp);
    fclose(tmp);
    size_t w = 0;
    for (size_t r = 0; r < n; r++)
        if (!(out[r] == '\r' && r + 1 < n && out[r + 1] == '\n'))
            out[w++] = out[r];
    out[w] = '\0';
    return w;
}

static void log_two_lines(void) {
    gs_log(GS_LOG_WARN, "net", "hello %d", 42);
    gs_log(GS_LOG_DEBUG, "net", "filtered");
    gs_log(GS_LOG_ERROR, "server", "bye");
}

static void log_long_line(void) {
    char big[3000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    gs_log(GS_LOG_INFO, "c", "%s", big);
}

static void test_default_hook_format(void **state) {
    char out[4096];
    char want[4096];
    size_t n;
    (void)state;

    gs_log_set_hook(NULL, NULL);
    gs_log_set_level(GS_LOG_INFO);
    n = capture_stderr(out, sizeof out, log_two_lines);
    assert_string_equal(out, "WARN net: hello 42\nERROR server: bye\n");
    assert_int_equal(n, strlen("WARN net: hello 42\nERROR server: bye\n"));
    assert_int_equal(cap.calls, 0); /* NULL restored the default: the old hook is not called */

    n = capture_stderr(out, sizeof out, log_long_line);
    memcpy(want, "INFO c: ", 8);
    memset(want + 8, 'z', 1020);
    memcpy(want + 8 + 1020, "...\n", 5);
    assert_int_equal(n, 8 + 1023 + 1);
    assert_string_equal(out, want);
}

/* gs_log_limited: a burst per window goes out, the rest is counted, and the first line of a later
 * window reports how many were suppressed. The window is a minute, so the tight loop stays in one
 * whatever the scheduler does; the test then moves the window's start back by hand. */
static void test_rate_limited(void **state) {
    (void)state;
    gs_log_set_level(GS_LOG_INFO);
    gs_log_limit_t lim = {.burst = 3, .interval_ms = 60000};
    for (int i = 0; i < 100; i++)
        gs_log_limited(&lim, GS_LOG_WARN, "net", "session %d: frame rejected", i);
    assert_int_equal(cap.calls, 3);
    assert_string_equal(cap.message, "session 2: frame rejected");
    assert_int_equal(atomic_load(&lim.suppressed), 97);
    assert_int_equal(atomic_load(&lim.suppressed_total), 97);
    /* Below the level: neither logged nor counted. */
    gs_log_limited(&lim, GS_LOG_DEBUG, "net", "debug");
    assert_int_equal(atomic_load(&lim.suppressed_total), 97);

    atomic_store(&lim.window_ms, gs_now_ms() - 60000);
    gs_log_limited(&lim, GS_LOG_WARN, "net", "session %d: frame rejected", 100);
    assert_int_equal(cap.calls, 4);
    assert_string_equal(cap.message, "session 100: frame rejected (97 similar lines suppressed)");
    assert_int_equal(atomic_load(&lim.suppressed), 0);
    gs_log_limited(&lim, GS_LOG_WARN, "net", "again");
    assert_int_equal(cap.calls, 5);
    assert_string_equal(cap.message, "again");

    /* All-zero limits mean 10 lines a second. */
    gs_log_limit_t dflt = {0};
    cap.calls = 0;
    uint64_t t0 = gs_now_ms();
    for (int i = 0; i < 50; i++)
        gs_log_limited(&dflt, GS_LOG_WARN, "net", "x");
    uint64_t windows = (gs_now_ms() - t0) / 1000 + 1; /* windows the loop reached into */
    assert_true(cap.calls >= 10);
    assert_true((uint64_t)cap.calls <= 10 * windows);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hook_receives_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_hook_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limited, setup, teardown),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

/* SPDX-License-Identifier: MIT */
/* Tests for the log hook, level filter, GS_LOG_LEVEL, truncation and the default line format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

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

/* In a child forked before this process has read the level: set GS_LOG_LEVEL to env (or unset
 * it), and exit 0 if the level read is want, with a warning logged exactly when warn is set. */
static int level_in_child(const char *env, gs_log_level_t want, int warn) {
    int status;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        int ok;
        if (env != NULL)
            setenv("GS_LOG_LEVEL", env, 1);
        else
            unsetenv("GS_LOG_LEVEL");
        ok = gs_log_get_level() == want;
        ok = ok && (warn ? cap.calls == 1 && cap.level == GS_LOG_WARN &&
                               strstr(cap.message, "GS_LOG_LEVEL") != NULL
                         : cap.calls == 0);
        _exit(ok ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Must run first: it needs a process that has not yet read the level. */
static void test_env_level_read_once(void **state) {
    (void)state;
    assert_int_equal(level_in_child(NULL, GS_LOG_INFO, 0), 0);
    assert_int_equal(level_in_child("debug", GS_LOG_DEBUG, 0), 0);
    assert_int_equal(level_in_child("info", GS_LOG_INFO, 0), 0);
    assert_int_equal(level_in_child("WARN", GS_LOG_WARN, 0), 0);
    assert_int_equal(level_in_child("error", GS_LOG_ERROR, 0), 0);
    assert_int_equal(level_in_child("off", GS_LOG_OFF, 0), 0);
    assert_int_equal(level_in_child("loud", GS_LOG_INFO, 1), 0);
    /* The checks in the child are real: a wrong expectation fails. */
    assert_int_equal(level_in_child("debug", GS_LOG_ERROR, 0), 1);

    /* In this process: read on first use, then never again. */
    setenv("GS_LOG_LEVEL", "error", 1);
    assert_int_equal(gs_log_get_level(), GS_LOG_ERROR);
    setenv("GS_LOG_LEVEL", "debug", 1);
    assert_int_equal(gs_log_get_level(), GS_LOG_ERROR);
    gs_log(GS_LOG_WARN, "t", "filtered by the environment's level");
    assert_int_equal(cap.calls, 0);
    unsetenv("GS_LOG_LEVEL");
    /* An explicit level overrides the environment. */
    gs_log_set_level(GS_LOG_DEBUG);
    assert_int_equal(gs_log_get_level(), GS_LOG_DEBUG);
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

/* Runs the default hook with fd 2 pointed at a temporary file and returns what it wrote. */
static size_t capture_stderr(char *out, size_t cap_out, void (*fn)(void)) {
    FILE *tmp = tmpfile();
    int saved;
    size_t n;

    assert_non_null(tmp);
    fflush(stderr);
    saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fileno(tmp), 2), 2);
    fn();
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    rewind(tmp);
    n = fread(out, 1, cap_out - 1, tmp);
    out[n] = '\0';
    fclose(tmp);
    return n;
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_env_level_read_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_receives_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_hook_format, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

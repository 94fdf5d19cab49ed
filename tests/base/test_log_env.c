/* SPDX-License-Identifier: MIT */
/* GS_LOG_LEVEL: read once, on first use, in a fresh process (POSIX only: each case runs in a
 * child made by fork, which Windows lacks; the Windows build does not build this file). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gs_test.h"

#include "gs/base.h"

static struct {
    int calls;
    gs_log_level_t level;
    char message[4096];
} cap;

static void capture_cb(gs_log_level_t level, const char *component, const char *message,
                       void *user) {
    (void)component;
    (void)user;
    cap.calls++;
    cap.level = level;
    snprintf(cap.message, sizeof cap.message, "%s", message);
}

/* Installs the capturing hook without touching the level, which must stay unread. */
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_env_level_read_once, setup, teardown),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

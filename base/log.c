/* SPDX-License-Identifier: MIT */
/* Process-wide log hook and level filter; the default hook writes one line per message. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gs/base.h"

/* Formatted messages longer than this (terminator included) are cut and end in "...". */
#define LOG_MSG_MAX 1024
/* Room for the level, the component and the separators around a full message. */
#define LOG_LINE_MAX (LOG_MSG_MAX + 128)
/* min_level before the first use has read GS_LOG_LEVEL. */
#define LEVEL_UNSET (-1)

static void default_hook(gs_log_level_t level, const char *component, const char *message,
                         void *user);

/* The hook is documented as set before threads start, so plain variables are enough. */
static gs_log_cb hook = default_hook;
static void *hook_user;
/* Atomic because the first gs_log calls of several threads may race to initialise it from the
 * environment. Every access is relaxed: the level is a lone value that publishes no other data. */
static atomic_int min_level = LEVEL_UNSET;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};

static int level_valid(gs_log_level_t level) {
    return (int)level >= (int)GS_LOG_DEBUG && (int)level <= (int)GS_LOG_OFF;
}

static void default_hook(gs_log_level_t level, const char *component, const char *message,
                         void *user) {
    char line[LOG_LINE_MAX];
    int n;

    (void)user;
    n = snprintf(line, sizeof line, "%s %s: %s\n", level_names[level], component, message);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line) {
        /* Only an oversized component gets here; keep the line terminated. */
        line[sizeof line - 2] = '\n';
        n = (int)sizeof line - 1;
    }
    /* One call per line: stdio holds the stream lock for the whole fwrite, and stderr is
     * unbuffered so glibc hands the line to a single write(2). Lines logged by several threads
     * therefore never interleave. A failed write to stderr has nowhere to be reported. */
    (void)fwrite(line, 1, (size_t)n, stderr);
}

void gs_log_set_hook(gs_log_cb cb, void *user) {
    hook = cb != NULL ? cb : default_hook;
    hook_user = cb != NULL ? user : NULL;
}

void gs_log_set_level(gs_log_level_t level) {
    if (!level_valid(level))
        return;
    /* An explicit level always wins, including over a GS_LOG_LEVEL not read yet. */
    atomic_store_explicit(&min_level, (int)level, memory_order_relaxed);
}

gs_log_level_t gs_log_get_level(void) {
    static const struct {
        const char *name;
        gs_log_level_t level;
    } env_names[] = {
        {"debug", GS_LOG_DEBUG}, {"info", GS_LOG_INFO}, {"warn", GS_LOG_WARN},
        {"error", GS_LOG_ERROR}, {"off", GS_LOG_OFF},
    };
    int level = atomic_load_explicit(&min_level, memory_order_relaxed);
    int expected = LEVEL_UNSET;
    const char *env;
    int known = 0;
    size_t i;

    if (level != LEVEL_UNSET)
        return (gs_log_level_t)level;

    /* First use: read GS_LOG_LEVEL. Concurrent first callers may all read the environment (getenv
     * is safe against other getenv calls); only the first compare-exchange stores its result and
     * the others adopt it, so the variable is read once as far as anyone can observe, and a
     * gs_log_set_level that got in first is kept. */
    env = getenv("GS_LOG_LEVEL");
    level = GS_LOG_INFO;
    for (i = 0; env != NULL && i < sizeof env_names / sizeof env_names[0]; i++) {
        if (strcasecmp(env, env_names[i].name) == 0) {
            level = (int)env_names[i].level;
            known = 1;
            break;
        }
    }
    if (!atomic_compare_exchange_strong_explicit(&min_level, &expected, level, memory_order_relaxed,
                                                 memory_order_relaxed))
        return (gs_log_level_t)expected;
    if (env != NULL && !known)
        gs_log(GS_LOG_WARN, "base", "GS_LOG_LEVEL=%s not recognised, using info", env);
    return (gs_log_level_t)level;
}

static int level_passes(gs_log_level_t level) {
    /* GS_LOG_OFF is a filter setting, not a level a message can have. */
    return level_valid(level) && level != GS_LOG_OFF && level >= gs_log_get_level();
}

/* Format and hand to the hook; `suffix` (may be empty) is appended. */
static void log_v(gs_log_level_t level, const char *component, const char *suffix, const char *fmt,
                  va_list ap) {
    char msg[LOG_MSG_MAX];
    gs_log_cb cb = hook;
    void *user = hook_user;
    int n = 0;

    if (fmt == NULL) {
        msg[0] = '\0';
    } else {
        n = vsnprintf(msg, sizeof msg, fmt, ap);
        if (n < 0) {
            snprintf(msg, sizeof msg, "(log message could not be formatted: \"%s\")", fmt);
            n = (int)strlen(msg);
        }
    }
    if (n >= 0 && (size_t)n < sizeof msg && suffix[0] != '\0')
        n += snprintf(msg + n, sizeof msg - (size_t)n, "%s", suffix);
    if (n >= 0 && (size_t)n >= sizeof msg)
        /* vsnprintf stopped at sizeof msg - 1 bytes; mark the cut so nobody reads a truncated
         * message as complete. */
        memcpy(msg + sizeof msg - 4, "...", 4);
    cb(level, component != NULL ? component : "-", msg, user);
}

void gs_log(gs_log_level_t level, const char *component, const char *fmt, ...) {
    va_list ap;
    if (!level_passes(level))
        return;
    va_start(ap, fmt);
    log_v(level, component, "", fmt, ap);
    va_end(ap);
}

void gs_log_limited(gs_log_limit_t *l, gs_log_level_t level, const char *component, const char *fmt,
                    ...) {
    if (!level_passes(level))
        return;
    uint32_t burst = l->burst ? l->burst : 10;
    uint64_t interval = l->interval_ms ? l->interval_ms : 1000;
    uint64_t now = gs_now_ms();
    uint64_t start = atomic_load_explicit(&l->window_ms, memory_order_relaxed);
    /* A new window: whoever moves it resets the count (a racing caller may count into the old
     * window meanwhile: a line more, never one fewer). */
    if (now - start >= interval &&
        atomic_compare_exchange_strong_explicit(&l->window_ms, &start, now, memory_order_relaxed,
                                                memory_order_relaxed))
        atomic_store_explicit(&l->in_window, 0, memory_order_relaxed);
    if (atomic_fetch_add_explicit(&l->in_window, 1, memory_order_relaxed) >= burst) {
        atomic_fetch_add_explicit(&l->suppressed, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&l->suppressed_total, 1, memory_order_relaxed);
        return;
    }
    char suffix[64] = "";
    uint64_t gone = atomic_exchange_explicit(&l->suppressed, 0, memory_order_relaxed);
    if (gone)
        snprintf(suffix, sizeof suffix, " (%llu similar lines suppressed)",
                 (unsigned long long)gone);
    va_list ap;
    va_start(ap, fmt);
    log_v(level, component, suffix, fmt, ap);
    va_end(ap);
}

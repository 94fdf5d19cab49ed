/* SPDX-License-Identifier: MIT */
/* Command-line reading for the programs (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs/version.h"

void cli_init(cli_t *c, const char *prog, int argc, char **argv, int first) {
    memset(c, 0, sizeof *c);
    c->prog = prog;
    c->argc = argc;
    c->argv = argv;
    c->next = first;
}

int cli_error(const cli_t *c, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s: ", c->prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

int cli_next(cli_t *c) {
    if (c->next >= c->argc)
        return CLI_END;
    const char *a = c->argv[c->next++];
    c->arg = a;
    c->name = NULL;
    c->inline_value = NULL;
    if (a[0] != '-' || a[1] == '\0')
        return CLI_POSITIONAL; /* "-" alone is a word, as for most tools */
    if (strcmp(a, "--") == 0) {
        /* Everything after "--" is positional: hand them out one by one from here. */
        if (c->next >= c->argc)
            return CLI_END;
        c->arg = c->argv[c->next++];
        return CLI_POSITIONAL;
    }
    const char *eq = strchr(a, '=');
    if (!eq) {
        c->name = a;
        return CLI_OPTION;
    }
    size_t n = (size_t)(eq - a);
    if (n >= sizeof c->name_buf)
        return cli_error(c, "unknown option '%s' (try --help)", a);
    memcpy(c->name_buf, a, n);
    c->name_buf[n] = '\0';
    c->name = c->name_buf;
    c->inline_value = eq + 1;
    return CLI_OPTION;
}

int cli_is(const cli_t *c, const char *name) { return c->name && strcmp(c->name, name) == 0; }

int cli_string(cli_t *c, const char **out) {
    if (c->inline_value) {
        *out = c->inline_value;
        return 0;
    }
    if (c->next >= c->argc)
        return cli_error(c, "option %s needs a value", c->name);
    *out = c->argv[c->next++];
    return 0;
}

int cli_u32(cli_t *c, uint32_t min, uint32_t max, uint32_t *out) {
    const char *s = NULL; /* set by cli_string on success; gcc -O2 cannot see that */
    if (cli_string(c, &s) != 0)
        return -1;
    /* strtoull accepts leading blanks and a minus sign (and then wraps), so insist on digits. */
    if (s[0] < '0' || s[0] > '9')
        return cli_error(c, "option %s: '%s' is not a number", c->name, s);
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0')
        return cli_error(c, "option %s: '%s' is not a number", c->name, s);
    if (errno == ERANGE || v < min || v > max)
        return cli_error(c, "option %s: %s is out of range [%lu, %lu]", c->name, s,
                         (unsigned long)min, (unsigned long)max);
    *out = (uint32_t)v;
    return 0;
}

int cli_port(cli_t *c, int allow_zero, uint16_t *out) {
    uint32_t v = 0;
    if (cli_u32(c, allow_zero ? 0 : 1, 65535, &v) != 0)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

int cli_flag(cli_t *c, int *out) {
    if (c->inline_value)
        return cli_error(c, "option %s takes no value", c->name);
    *out = 1;
    return 0;
}

int cli_version(const char *prog, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "--version") == 0) {
            printf("%s %s\n", prog, GS_VERSION_STRING);
            return 1;
        }
    }
    return 0;
}

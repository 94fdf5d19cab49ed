/* SPDX-License-Identifier: MIT */
/* A tiny command-line reader for the programs (gs-bot, gs-chat-server, gs-chat): "--name value" and
 * "--name=value" options, positional words, and number parsing with range checks, so that each mode
 * parses its own options. */
#ifndef GS_TOOLS_CLI_H
#define GS_TOOLS_CLI_H

#include <stdint.h>

#include "gs/base.h"

/* Exit status for usage errors. */
#define CLI_USAGE_EXIT 2

typedef struct cli {
    const char *prog; /* program name used in messages */
    int argc;
    char **argv;
    int next;                 /* index of the next argument to read */
    const char *arg;          /* the current argument as given */
    const char *name;         /* option: its name with the dashes, without any "=value" */
    const char *inline_value; /* option: the text after '=', or NULL */
    char name_buf[64];
} cli_t;

enum { CLI_END = 0, CLI_OPTION = 1, CLI_POSITIONAL = 2, CLI_ERROR = -1 };

void cli_init(cli_t *c, const char *prog, int argc, char **argv, int first);
/* Read the next argument: CLI_OPTION (c->name set), CLI_POSITIONAL (c->arg set), CLI_END, or
 * CLI_ERROR (message printed) for an option name too long to be one of ours. A lone "--" ends
 * the options: everything after it is positional. */
int cli_next(cli_t *c);
/* True if the current option is `name` (e.g. "--port"). */
int cli_is(const cli_t *c, const char *name);

/* These read the current option's value (inline or the next argument). On a missing or bad
 * value they print "PROG: ..." to stderr and return -1; else 0. */
int cli_string(cli_t *c, const char **out);
int cli_u32(cli_t *c, uint32_t min, uint32_t max, uint32_t *out);
int cli_port(cli_t *c, int allow_zero, uint16_t *out);
/* A flag takes no value: "--raw=1" is an error. */
int cli_flag(cli_t *c, int *out);

/* The programs' shared --version: if an argument before any "--" is exactly "--version", prints
 * "PROG VERSION" (GS_VERSION_STRING) on stdout and returns 1, and the program exits 0; else
 * returns 0. Called first in main, so it works before a mode word (gs-bot) and beside any
 * other option. */
int cli_version(const char *prog, int argc, char **argv);

/* Print "PROG: " + message + newline to stderr; returns -1. */
int cli_error(const cli_t *c, const char *fmt, ...) GS_PRINTF(2, 3);

#endif /* GS_TOOLS_CLI_H */

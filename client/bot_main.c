/* SPDX-License-Identifier: MIT */
/* gs-bot driver: picks the mode, reads the options common to every mode, and runs the mode with
 * the stop requests and wake-ups of bot_ctl_posix.c or bot_ctl_win.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "bot_ctl.h"

/* The modes, by name. Adding one (e.g. chat) is one line here and its own file. */
static const bot_mode_t *const bot_modes[] = {&bot_mode_echo, &bot_mode_chat};
#define BOT_MODE_COUNT (sizeof bot_modes / sizeof bot_modes[0])

static void usage(FILE *f) {
    fprintf(f, "usage: %s MODE [options]\n\nModes:\n", BOT_PROG);
    for (size_t i = 0; i < BOT_MODE_COUNT; i++)
        fprintf(f, "  %-8s %s\n", bot_modes[i]->name, bot_modes[i]->summary);
    fprintf(f, "\nCommon options:\n"
               "  --host ADDR          server address, numeric IPv4 or IPv6 (default 127.0.0.1)\n"
               "  --port N             server port (default 7000)\n"
               "  --connections N      connections to open (default 100)\n"
               "  --duration SECONDS   how long to run before draining (default 10)\n"
               "  --threads N          network IO threads (default 1)\n"
               "  --backend NAME       auto, io_uring or epoll (default auto; GS_NET_BACKEND\n"
               "                       overrides auto)\n"
               "  --json-only          no monitor or progress lines on stderr, only the summary\n"
               "  --help               show this text\n"
               "  --version            print the version and exit\n");
    for (size_t i = 0; i < BOT_MODE_COUNT; i++)
        fprintf(f, "\nOptions of mode %s:\n%s", bot_modes[i]->name, bot_modes[i]->options_help);
    fprintf(f, "\nPrints a live monitor line on stderr each second and one line of JSON on stdout\n"
               "at the end. SIGINT or SIGTERM ends the run early (a second one skips the drain).\n"
               "Exit status: 0 all verified, 1 a failure was found, 2 usage error.\n");
}

static const bot_mode_t *find_mode(const char *name) {
    for (size_t i = 0; i < BOT_MODE_COUNT; i++)
        if (strcmp(bot_modes[i]->name, name) == 0)
            return bot_modes[i];
    return NULL;
}

/* Reads the common options and hands the others to the mode. 0, 1 for --help, -1 on error. */
static int parse_options(cli_t *c, bot_common_t *common, const bot_mode_t *mode, void *opts) {
    for (;;) {
        int k = cli_next(c);
        if (k == CLI_END)
            return 0;
        if (k == CLI_ERROR)
            return -1;
        if (k == CLI_POSITIONAL)
            return cli_error(c, "unexpected argument '%s' (try --help)", c->arg);
        int rc;
        if (cli_is(c, "--help") || cli_is(c, "-h")) {
            return 1;
        } else if (cli_is(c, "--host")) {
            rc = cli_string(c, &common->host);
            if (rc == 0 && !bot_valid_host(common->host))
                rc = cli_error(c, "option --host: '%s' is not a numeric IPv4 or IPv6 address",
                               common->host);
        } else if (cli_is(c, "--port")) {
            rc = cli_port(c, 0, &common->port);
        } else if (cli_is(c, "--connections")) {
            rc = cli_u32(c, 1, 1000000, &common->connections);
        } else if (cli_is(c, "--duration")) {
            rc = cli_u32(c, 1, 7 * 24 * 3600, &common->duration_s);
        } else if (cli_is(c, "--threads")) {
            rc = cli_u32(c, 1, 64, &common->io_threads);
        } else if (cli_is(c, "--backend")) {
            const char *name = NULL;
            rc = cli_string(c, &name);
            if (rc == 0 && gs_net_backend_parse(name, &common->backend) != 0)
                rc = cli_error(c, "option --backend: '%s' is not auto, io_uring or epoll", name);
        } else if (cli_is(c, "--json-only")) {
            rc = cli_flag(c, &common->json_only);
        } else {
            int took = mode->option(opts, c);
            if (took == 0)
                return cli_error(c, "unknown option '%s' for mode %s (try --help)", c->name,
                                 mode->name);
            rc = took < 0 ? -1 : 0;
        }
        if (rc != 0)
            return -1;
    }
}

int main(int argc, char **argv) {
    if (cli_version(BOT_PROG, argc, argv))
        return 0;
    cli_t c;
    cli_init(&c, BOT_PROG, argc, argv, 1);
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE_EXIT;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (argv[1][0] == '-') {
        cli_error(&c, "the first argument must be a mode (echo, chat), not '%s' (try --help)",
                  argv[1]);
        return CLI_USAGE_EXIT;
    }
    const bot_mode_t *mode = find_mode(argv[1]);
    if (!mode) {
        cli_error(&c, "unknown mode '%s' (try --help)", argv[1]);
        return CLI_USAGE_EXIT;
    }

    void *opts = calloc(1, mode->opts_size ? mode->opts_size : 1);
    if (!opts) {
        fprintf(stderr, "%s: out of memory\n", BOT_PROG);
        return 1;
    }
    mode->defaults(opts);
    bot_common_t common = {
        .host = "127.0.0.1",
        .port = 7000,
        .connections = 100,
        .duration_s = 10,
        .io_threads = 1,
        .json_only = 0,
    };
    cli_init(&c, BOT_PROG, argc, argv, 2);
    int rc = parse_options(&c, &common, mode, opts);
    if (rc == 0 && mode->check)
        rc = mode->check(opts, &common);
    if (rc != 0) {
        free(opts);
        if (rc > 0) {
            usage(stdout);
            return 0;
        }
        return CLI_USAGE_EXIT;
    }

    bot_ctl_t *ctl = NULL;
    int status = 1;
    if (bot_ctl_create(&ctl) == 0)
        status = mode->run(&common, opts, ctl);
    bot_ctl_destroy(ctl);
    free(opts);
    return status;
}

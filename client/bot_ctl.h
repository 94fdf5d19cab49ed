/* SPDX-License-Identifier: MIT */
/* The driver's side of bot_ctl_t (bot.h): creating it, and the checks that need the system's
 * headers. One implementation per system: bot_ctl_posix.c (signals, self-pipe, pselect) and
 * bot_ctl_win.c (console control handler, events); CMake builds one. */
#ifndef GS_CLIENT_BOT_CTL_H
#define GS_CLIENT_BOT_CTL_H

#include "bot.h"

/* Call in main before any thread starts (on POSIX the stop signals are blocked in the threads
 * the net starts later). Sets *out even on failure (then to something bot_ctl_destroy frees, or
 * NULL) and returns 0 or -1 after printing why. */
int bot_ctl_create(bot_ctl_t **out);
/* Frees what bot_ctl_create made; NULL is ignored. Main thread, after the mode returned. */
void bot_ctl_destroy(bot_ctl_t *ctl);
/* Whether host is a numeric IPv4 or IPv6 address. */
int bot_valid_host(const char *host);

#endif

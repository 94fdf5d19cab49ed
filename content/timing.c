/* SPDX-License-Identifier: MIT */
/* gs_app_set_timing: job timing for the exporters, kept out of app.c (content.h). */
#include "gs/content.h"
#include "internal.h"

void gs_app_set_timing(gs_app_t *app, int on) { gs__sched_set_timing(gs__app_sched(app), on); }

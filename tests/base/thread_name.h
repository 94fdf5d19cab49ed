/* SPDX-License-Identifier: MIT */
/* The calling thread's name as the system sees it, for the tests of gs_thread_start's names
 * (thread_name_posix.c or thread_name_win.c, picked by CMake). */
#ifndef GS_TESTS_THREAD_NAME_H
#define GS_TESTS_THREAD_NAME_H

#include <stddef.h>

/* Writes the name (UTF-8, terminated) into buf; returns 0, or -1 with buf = "" when the system
 * cannot tell. */
int test_thread_name(char *buf, size_t len);

#endif

/* SPDX-License-Identifier: MIT */
/* test_thread_name over pthread_getname_np. */
#include <pthread.h>

#include "thread_name.h"

int test_thread_name(char *buf, size_t len) {
    if (pthread_getname_np(pthread_self(), buf, len) != 0) {
        buf[0] = '\0';
        return -1;
    }
    return 0;
}

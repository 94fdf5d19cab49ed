/* SPDX-License-Identifier: MIT */
/* A thread-local value still set when the process exits gets no destructor call, as with pthread
 * keys and exit(). On Windows the FLS callback does run at process exit, after the other threads
 * were killed (perhaps holding a lock the destructor needs): base/thread_win.c skips it. The
 * destructor prints a line that CTest's FAIL_REGULAR_EXPRESSION looks for. */
#include <stdio.h>

#include "gs/base.h"

static void report(void *value) {
    (void)value;
    fputs("tls destructor ran at process exit\n", stderr);
    fflush(stderr);
}

int main(void) {
    static gs_tls_key_t key;
    static int value;

    if (gs_tls_key_create(&key, report) != 0 || gs_tls_set(&key, &value) != 0) {
        fputs("cannot create or set the key\n", stderr);
        return 1;
    }
    if (gs_tls_get(&key) != &value) {
        fputs("the value did not read back\n", stderr);
        return 1;
    }
    puts("returning from main with the value set");
    return 0;
}

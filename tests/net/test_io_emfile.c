/* SPDX-License-Identifier: MIT */
/* docs/testing.md B07/E07: accept runs out of descriptors (EMFILE). The server must pause accepting
 * instead of re-arming in a tight loop, keep serving its sessions, and accept the waiting
 * connections once descriptors are free again. */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gs_test.h"

#include "support/net_harness.h"

#define CLIENTS 20

static int highest_open_fd(void) {
    int hi = -1;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        if (fd > hi)
            hi = fd;
    }
    closedir(d);
    return hi;
}

static uint64_t cpu_ms(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000u +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000u;
}

static int paused(void *arg) { return th_stats(arg).accept_pauses > 0; }

static void accept_pauses_on_emfile_and_resumes(void **state) {
    (void)state;
    /* Client sockets first, while descriptors are plentiful; connect needs none. */
    int fds[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fds[i] >= 0);
    }
    /* Lower the limit before the server starts: io_uring reads RLIMIT_NOFILE when it prepares
     * the accept (io_accept_prep stores it), so a multishot accept armed earlier would keep
     * the old, higher limit and never see EMFILE. */
    struct rlimit saved, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    low = saved;
    low.rlim_cur = (rlim_t)highest_open_fd() + 64;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    th_server_t srv;
    memset(&srv, 0, sizeof(srv));
    gs_net_config_t cfg = {.tick_ms = 50};
    th_server_start(&srv, &cfg, TH_ECHO, 0);
    /* Its accept is armed once the IO thread runs: a first connection proves it. */
    int probe = th_connect(srv.port);
    assert_true(th_wait_count(&srv.opened, 1, 5000));
    close(probe);
    assert_true(th_wait_count(&srv.closed, 1, 5000));
    /* Descriptor numbers have holes below the highest: fill every free one, then give back two,
     * so the server can accept exactly two connections before EMFILE. */
    int *fill = malloc(sizeof(int) * (size_t)low.rlim_cur);
    assert_non_null(fill);
    int nfill = 0;
    for (int fd; (fd = dup(0)) >= 0;)
        fill[nfill++] = fd;
    assert_true(nfill >= 2);
    close(fill[--nfill]);
    close(fill[--nfill]);

    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(srv.port);
    a.sin_addr.s_addr = htonl(0x7f000001);
    for (int i = 0; i < CLIENTS; i++) /* completes in the backlog even if never accepted */
        assert_int_equal(connect(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);

    int was_paused = th_wait_until(paused, &srv, 5000);
    uint64_t pauses_before = th_stats(&srv).accept_pauses;
    uint64_t opened_while_low = atomic_load(&srv.opened) - 1; /* minus the probe */
    /* While descriptors are short the IO thread must not spin: over 500 ms this process may use
     * a fraction of one core (a re-arm loop uses all of it). */
    uint64_t c0 = cpu_ms(), t0 = gs_now_ms();
    while (gs_now_ms() - t0 < 500)
        gs_sleep_ms(10);
    uint64_t used = cpu_ms() - c0;
    uint64_t pauses_after = th_stats(&srv).accept_pauses;

    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
    for (int i = 0; i < nfill; i++)
        close(fill[i]);
    free(fill);
    assert_true(was_paused);
    assert_true(opened_while_low <= 2);
    print_message("accepted while short: %llu, pauses %llu -> %llu, cpu %llu ms / 500 ms\n",
                  (unsigned long long)opened_while_low, (unsigned long long)pauses_before,
                  (unsigned long long)pauses_after, (unsigned long long)used);
    assert_true(used < 250);
    /* Paused, then retried once per tick: about 10 retries in 500 ms, not thousands. */
    assert_true(pauses_after - pauses_before <= 20);

    /* Descriptors are back: every waiting connection becomes a working session. */
    assert_true(th_wait_count(&srv.opened, CLIENTS + 1, 5000));
    for (int i = 0; i < CLIENTS; i++) {
        struct timeval tv = {.tv_sec = 5};
        setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        uint32_t v = (uint32_t)i, back = 0, id = 0;
        th_write_frame(fds[i], 9, &v, sizeof(v));
        assert_int_equal(th_read_frame(fds[i], &id, &back, sizeof(back), 5000), (long)sizeof(v));
        assert_int_equal(id, 9);
        assert_int_equal(back, v);
    }
    for (int i = 0; i < CLIENTS; i++)
        close(fds[i]);
    assert_true(th_wait_count(&srv.closed, CLIENTS + 1, 5000));
    th_server_stop(&srv, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accept_pauses_on_emfile_and_resumes),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

/* SPDX-License-Identifier: MIT */
/* bad-echo: a deliberately faulty raw echo server for tests/programs/loadgen_echo.sh, which checks
 * that bench/loadgen notices each fault. Every connection's stream is echoed unchanged except:
 *   --flip N         byte N of each connection's stream is sent back with its bits inverted
 *   --close-after N  each connection is closed once N bytes have been echoed
 *   --stall-after N  each connection stops echoing (but stays open) after N bytes
 * Being a byte-stream echo, it serves loadgen's framed and raw modes alike. Not for production:
 * writes block on the one connection being served. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FD 4096

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static uint64_t g_pos[MAX_FD]; /* bytes of each connection's stream echoed or swallowed */

/* Write all of p, waiting for the socket when it is full. -1 if the peer went away. */
static int write_all(int fd, const uint8_t *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            poll(&pf, 1, 1000);
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv) {
    long long flip = -1, close_after = -1, stall_after = -1;
    int port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        long long v = atoll(argv[i + 1]);
        if (!strcmp(argv[i], "--port"))
            port = (int)v;
        else if (!strcmp(argv[i], "--flip"))
            flip = v;
        else if (!strcmp(argv[i], "--close-after"))
            close_after = v;
        else if (!strcmp(argv[i], "--stall-after"))
            stall_after = v;
        else
            argc = -1;
    }
    if (argc < 0 || argc % 2 == 0) {
        fprintf(stderr,
                "usage: bad-echo [--port N] [--flip N | --close-after N | --stall-after N]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 511) != 0 ||
        getsockname(ls, (struct sockaddr *)&a, &alen) != 0) {
        perror("bad-echo: listen");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event e = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &e);
    printf("bad-echo: listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
    fflush(stdout);
    static uint8_t buf[65536];
    while (!g_stop) {
        struct epoll_event ev[64];
        int n = epoll_wait(ep, ev, 64, 200);
        for (int i = 0; i < n; i++) {
            int fd = ev[i].data.fd;
            if (fd == ls) {
                int c;
                while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (c >= MAX_FD) {
                        close(c);
                        continue;
                    }
                    g_pos[c] = 0;
                    struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                }
                continue;
            }
            ssize_t r = read(fd, buf, sizeof buf);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r <= 0) {
                close(fd);
                continue;
            }
            uint64_t pos = g_pos[fd], len = (uint64_t)r;
            g_pos[fd] += len;
            if (stall_after >= 0 && pos + len > (uint64_t)stall_after)
                len = pos >= (uint64_t)stall_after ? 0 : (uint64_t)stall_after - pos;
            if (close_after >= 0 && pos + len >= (uint64_t)close_after)
                len = pos >= (uint64_t)close_after ? 0 : (uint64_t)close_after - pos;
            if (flip >= 0 && (uint64_t)flip >= pos && (uint64_t)flip < pos + len)
                buf[flip - (long long)pos] ^= 0xff;
            int gone = len && write_all(fd, buf, (size_t)len) != 0;
            if (gone || (close_after >= 0 && g_pos[fd] >= (uint64_t)close_after))
                close(fd);
        }
    }
    printf("bad-echo: stopped\n");
    return 0;
}

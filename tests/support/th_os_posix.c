/* SPDX-License-Identifier: MIT */
/* POSIX client sockets for the test support (see th_os.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "th_os.h"

int th_os_connect(uint16_t port, int rcvbuf) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (rcvbuf > 0) /* before connect, so the window is negotiated with it */
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

void th_os_close(int fd) { close(fd); }

int th_os_shutdown_wr(int fd) { return shutdown(fd, SHUT_WR) == 0 ? 0 : -1; }

void th_os_abort(int fd) {
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}

static long os_error(void) {
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return -EAGAIN;
    return -(long)errno;
}

long th_os_send(int fd, const void *data, size_t len) {
    for (;;) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n >= 0)
            return (long)n;
        if (errno != EINTR)
            return os_error();
    }
}

long th_os_recv(int fd, void *buf, size_t len, int dontwait) {
    for (;;) {
        ssize_t n = recv(fd, buf, len, dontwait ? MSG_DONTWAIT : 0);
        if (n >= 0)
            return (long)n;
        if (errno != EINTR)
            return os_error();
    }
}

int th_os_set_nonblocking(int fd, int on) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, fl) == 0 ? 0 : -1;
}

int th_os_poll(int fd, int events, uint32_t timeout_ms) {
    struct pollfd pfd = {.fd = fd, .events = 0};
    if (events & TH_POLL_IN)
        pfd.events |= POLLIN;
    if (events & TH_POLL_OUT)
        pfd.events |= POLLOUT;
    int rc = poll(&pfd, 1, (int)timeout_ms);
    if (rc < 0)
        return errno == EINTR ? 0 : -1;
    if (rc == 0)
        return 0;
    return (pfd.revents & POLLIN ? TH_POLL_IN : 0) | (pfd.revents & POLLOUT ? TH_POLL_OUT : 0) |
           (pfd.revents & POLLHUP ? TH_POLL_HUP : 0) | (pfd.revents & POLLERR ? TH_POLL_ERR : 0);
}

int th_os_wait_readable(int fd, uint32_t timeout_ms) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int rc = poll(&pfd, 1, (int)timeout_ms);
    if (rc < 0)
        return errno == EINTR ? 0 : -1;
    return rc > 0;
}

int th_os_bound_unlistened(uint16_t *port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    socklen_t al = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

uint64_t th_os_idle_in_flight(uint32_t io_threads, uint32_t listeners) {
    return (uint64_t)io_threads * (1u + listeners);
}

int th_os_sends_complete_short(void) { return 1; }

uint32_t th_os_io_time_scale(void) { return 1; }

uint64_t th_os_rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long size = 0, rss = 0;
    if (fscanf(f, "%lu %lu", &size, &rss) != 2)
        rss = 0;
    fclose(f);
    return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

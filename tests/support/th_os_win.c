/* SPDX-License-Identifier: MIT */
/* Winsock client sockets for the test support (see th_os.h). */
#include <winsock2.h>
#include <ws2tcpip.h>
/* windows.h after winsock2.h; psapi for the working set. */
#include <windows.h>
#include <psapi.h>

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "th_os.h"

/* Client sockets may outlive every net instance (whose WSAStartup/WSACleanup pairs bracket
 * only their own lifetime), so the test process takes one Winsock reference of its own, once,
 * and keeps it until exit. */
static void startup(void) {
    static atomic_int done;
    if (atomic_load(&done))
        return;
    WSADATA wsa;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) == 0 && atomic_exchange(&done, 1))
        WSACleanup(); /* another thread got there first: keep one reference only */
}

int th_os_connect(uint16_t port, int rcvbuf) {
    startup();
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET)
        return -1;
    if (rcvbuf > 0)
        setsockopt(s, SOL_SOCKET, SO_RCVBUF, (const char *)&rcvbuf, sizeof(rcvbuf));
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
        closesocket(s);
        return -1;
    }
    BOOL one = TRUE;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof(one));
    DWORD ms = 10000; /* Winsock takes milliseconds, not a timeval */
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (const char *)&ms, sizeof(ms));
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, (const char *)&ms, sizeof(ms));
    return (int)s;
}

void th_os_close(int fd) { closesocket((SOCKET)fd); }

int th_os_shutdown_wr(int fd) { return shutdown((SOCKET)fd, SD_SEND) == 0 ? 0 : -1; }

void th_os_abort(int fd) {
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt((SOCKET)fd, SOL_SOCKET, SO_LINGER, (const char *)&lg, sizeof(lg));
    closesocket((SOCKET)fd);
}

static long os_error(void) {
    switch (WSAGetLastError()) {
    case WSAEWOULDBLOCK:
    case WSAETIMEDOUT:
        return -EAGAIN;
    case WSAECONNRESET:
        return -ECONNRESET;
    case WSAECONNABORTED:
    case WSAESHUTDOWN:
        return -EPIPE;
    default:
        return -EIO;
    }
}

long th_os_send(int fd, const void *data, size_t len) {
    int n = send((SOCKET)fd, data, len > INT32_MAX ? INT32_MAX : (int)len, 0);
    return n == SOCKET_ERROR ? os_error() : (long)n;
}

long th_os_recv(int fd, void *buf, size_t len, int dontwait) {
    if (dontwait) {
        /* Winsock has no MSG_DONTWAIT: ask whether anything is ready first. */
        WSAPOLLFD pfd = {.fd = (SOCKET)fd, .events = POLLRDNORM};
        int rc = WSAPoll(&pfd, 1, 0);
        if (rc == 0)
            return -EAGAIN;
        if (rc < 0)
            return os_error();
    }
    int n = recv((SOCKET)fd, buf, len > INT32_MAX ? INT32_MAX : (int)len, 0);
    return n == SOCKET_ERROR ? os_error() : (long)n;
}

int th_os_set_nonblocking(int fd, int on) {
    u_long mode = on ? 1 : 0;
    return ioctlsocket((SOCKET)fd, FIONBIO, &mode) == 0 ? 0 : -1;
}

int th_os_poll(int fd, int events, uint32_t timeout_ms) {
    WSAPOLLFD pfd = {.fd = (SOCKET)fd, .events = 0};
    if (events & TH_POLL_IN)
        pfd.events |= POLLRDNORM;
    if (events & TH_POLL_OUT)
        pfd.events |= POLLWRNORM;
    int rc = WSAPoll(&pfd, 1, (INT)timeout_ms);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return 0;
    return (pfd.revents & POLLRDNORM ? TH_POLL_IN : 0) |
           (pfd.revents & POLLWRNORM ? TH_POLL_OUT : 0) |
           (pfd.revents & POLLHUP ? TH_POLL_HUP : 0) | (pfd.revents & POLLERR ? TH_POLL_ERR : 0);
}

int th_os_wait_readable(int fd, uint32_t timeout_ms) {
    WSAPOLLFD pfd = {.fd = (SOCKET)fd, .events = POLLRDNORM};
    int rc = WSAPoll(&pfd, 1, (INT)timeout_ms);
    if (rc < 0)
        return -1;
    return rc > 0;
}

int th_os_bound_unlistened(uint16_t *port) {
    startup();
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int al = sizeof(a);
    if (bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &al) != 0) {
        closesocket(s);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return (int)s;
}

uint64_t th_os_idle_in_flight(uint32_t io_threads, uint32_t listeners) {
    (void)io_threads;
    return 16u * listeners; /* ACCEPT_DEPTH in net/port_iocp.c */
}

int th_os_sends_complete_short(void) { return 0; }

uint32_t th_os_io_time_scale(void) { return 10; }

uint64_t th_os_rss_bytes(void) {
    PROCESS_MEMORY_COUNTERS pmc;
    if (!GetProcessMemoryInfo(GetCurrentProcess(), &pmc, sizeof(pmc)))
        return 0;
    return (uint64_t)pmc.WorkingSetSize;
}

/* SPDX-License-Identifier: MIT */
/* POSIX socket shim (see sock.h): address parsing, one listening socket that every IO thread
 * accepts on, stream sockets for outgoing connects. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "sock.h"

_Static_assert(sizeof(struct sockaddr_storage) <= sizeof(((gs__addr_t *)0)->bytes),
               "gs__addr_t must hold a sockaddr_storage");

int gs__sock_init(void) { return 0; }
void gs__sock_fini(void) {}

int gs__addr_parse(const char *host, uint16_t port, gs__addr_t *out) {
    memset(out, 0, sizeof(*out));
    if (!host)
        host = "127.0.0.1";
    struct sockaddr_in *v4 = (struct sockaddr_in *)(void *)out->bytes;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)(void *)out->bytes;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        out->len = sizeof(*v4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        out->len = sizeof(*v6);
        return 0;
    }
    return GS_EADDR;
}

/* How long a bind that finds the port in use is retried: a server restarted right after a
 * kill -9 finds its predecessor's listening socket still open for a few milliseconds, while the
 * kernel tears the dead process's io_uring down (it holds the socket until then). A live server
 * on the port still fails, after this long. */
#define BIND_RETRY_MS 500u
#define BIND_STEP_MS  10u

int gs__sock_listen(gs__listener_t *l, uint32_t nloops, const gs__addr_t *addr, int backlog) {
    (void)nloops;
    const struct sockaddr *sa = (const struct sockaddr *)(const void *)addr->bytes;
    unsigned port =
        (unsigned)ntohs(((const struct sockaddr_in *)(const void *)addr->bytes)->sin_port);
    l->nfds = 0;
    /* One socket, without SO_REUSEPORT, that every IO thread's ring accepts on (each keeps the
     * sessions it accepts, so no accepted descriptor crosses threads). SO_REUSEPORT on a socket
     * per thread spread connections as well, but let a second server process of the same user
     * bind the same port and silently take half the connections. */
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        gs_log(GS_LOG_ERROR, GS__LOG, "listen on port %u: socket: %s", port, strerror(errno));
        return GS_ESYS;
    }
    l->fds[l->nfds++] = fd;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)); /* TIME_WAIT does not block */
    int rc = bind(fd, sa, (socklen_t)addr->len);
    for (uint32_t waited = 0; rc != 0 && errno == EADDRINUSE && waited < BIND_RETRY_MS;
         waited += BIND_STEP_MS) {
        if (waited == 0)
            gs_log(GS_LOG_INFO, GS__LOG, "port %u in use: retrying for up to %u ms", port,
                   BIND_RETRY_MS);
        gs_sleep_ms(BIND_STEP_MS);
        rc = bind(fd, sa, (socklen_t)addr->len);
    }
    if (rc != 0 || listen(fd, backlog) != 0) {
        int err = errno;
        gs_log(GS_LOG_ERROR, GS__LOG, "listen on port %u failed: %s", port, strerror(err));
        gs__sock_listen_close(l);
        return err == EADDRINUSE ? GS_EADDRINUSE : GS_ESYS;
    }
    struct sockaddr_storage bound;
    socklen_t bl = sizeof(bound);
    getsockname(fd, (struct sockaddr *)&bound, &bl);
    l->port = ntohs(((struct sockaddr_in *)&bound)->sin_port); /* same offset in v6 */
    return 0;
}

void gs__sock_listen_close(gs__listener_t *l) {
    for (uint32_t i = 0; i < l->nfds; i++)
        close((int)l->fds[i]);
    l->nfds = 0;
}

intptr_t gs__sock_stream(const gs__addr_t *addr) {
    const struct sockaddr *sa = (const struct sockaddr *)(const void *)addr->bytes;
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        gs_log(GS_LOG_ERROR, GS__LOG, "socket: %s", strerror(errno));
    return fd;
}

void gs__sock_close(intptr_t fd) { close((int)fd); }

int gs__sock_peer(intptr_t fd, uint8_t out[16]) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getpeername((int)fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET) {
        memcpy(out, &((struct sockaddr_in *)(void *)&ss)->sin_addr, 4);
        return 4;
    }
    if (ss.ss_family == AF_INET6) {
        memcpy(out, &((struct sockaddr_in6 *)(void *)&ss)->sin6_addr, 16);
        return 6;
    }
    return 0;
}

/* SPDX-License-Identifier: MIT */
/* POSIX socket shim (see sock.h): address parsing, one SO_REUSEPORT listening socket per IO
 * thread, stream sockets for outgoing connects. */
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

int gs__sock_listen(gs__listener_t *l, uint32_t nloops, const gs__addr_t *addr, int backlog) {
    gs__addr_t a = *addr;
    struct sockaddr *sa = (struct sockaddr *)(void *)a.bytes;
    l->nfds = 0;
    /* One socket per IO thread on the same port (SO_REUSEPORT): each ring accepts on its own
     * socket and keeps the sessions it accepts, so no accepted fd crosses threads. */
    for (uint32_t i = 0; i < nloops; i++) {
        int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            goto fail;
        l->fds[l->nfds++] = fd;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (nloops > 1)
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
        if (i > 0) {
            /* Port 0 picked a port for the first socket: the others must use the same. */
            ((struct sockaddr_in *)(void *)a.bytes)->sin_port = htons(l->port); /* v6: same */
        }
        if (bind(fd, sa, (socklen_t)a.len) != 0 || listen(fd, backlog) != 0)
            goto fail;
        if (i == 0) {
            struct sockaddr_storage bound;
            socklen_t bl = sizeof(bound);
            getsockname(fd, (struct sockaddr *)&bound, &bl);
            l->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
        }
    }
    return 0;
fail:
    gs_log(GS_LOG_ERROR, GS__LOG, "listen on port %u failed: %s",
           (unsigned)ntohs(((struct sockaddr_in *)(void *)addr->bytes)->sin_port), strerror(errno));
    gs__sock_listen_close(l);
    return GS_ESYS;
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

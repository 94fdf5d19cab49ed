/* SPDX-License-Identifier: MIT */
/* Winsock socket shim (see sock.h): WSAStartup per net instance, address parsing, one
 * exclusive listening socket shared by the IOCP backend, overlapped stream sockets. */
#include <winsock2.h>
#include <ws2tcpip.h>

#include <string.h>

#include "internal.h"
#include "sock.h"

_Static_assert(sizeof(SOCKADDR_STORAGE) <= sizeof(((gs__addr_t *)0)->bytes),
               "gs__addr_t must hold a SOCKADDR_STORAGE");
_Static_assert(sizeof(SOCKET) <= sizeof(intptr_t), "a SOCKET must fit the session's fd");

int gs__sock_init(void) {
    /* Winsock counts WSAStartup calls and tears down at the matching last WSACleanup, so one
     * pair per net instance is the refcount: instances may be created and destroyed in any
     * order, from any thread, alongside other Winsock users in the process. */
    WSADATA wsa;
    int rc = WSAStartup(MAKEWORD(2, 2), &wsa);
    if (rc != 0) {
        gs_log(GS_LOG_ERROR, GS__LOG, "WSAStartup: error %d", rc);
        return GS_ESYS;
    }
    return 0;
}

void gs__sock_fini(void) { WSACleanup(); }

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
    (void)nloops; /* one socket whatever the loop count: AcceptEx runs on the first loop */
    const struct sockaddr *sa = (const struct sockaddr *)(const void *)addr->bytes;
    l->nfds = 0;
    SOCKET s = WSASocketW(sa->sa_family, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                          WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET)
        goto fail;
    l->fds[l->nfds++] = (intptr_t)s;
    /* Windows has no SO_REUSEPORT, and SO_REUSEADDR there lets another process steal the port:
     * take it exclusively instead. TIME_WAIT does not block a rebind on Windows. */
    BOOL one = TRUE;
    setsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *)&one, sizeof(one));
    /* The same bounded retry as on POSIX (sock_posix.c), so that gs_net_listen keeps one
     * contract: a port held by a socket that is going away is taken once it has gone. */
    int rc = bind(s, sa, (int)addr->len);
    for (uint32_t waited = 0; rc != 0 && WSAGetLastError() == WSAEADDRINUSE && waited < 500;
         waited += 10) {
        gs_sleep_ms(10);
        rc = bind(s, sa, (int)addr->len);
    }
    if (rc != 0 || listen(s, backlog) != 0)
        goto fail;
    SOCKADDR_STORAGE bound;
    int bl = sizeof(bound);
    if (getsockname(s, (struct sockaddr *)&bound, &bl) != 0)
        goto fail;
    l->port = ntohs(((struct sockaddr_in *)&bound)->sin_port); /* same offset in v6 */
    return 0;
fail : {
    int err = WSAGetLastError();
    gs_log(GS_LOG_ERROR, GS__LOG, "listen on port %u failed: WSA error %d",
           (unsigned)ntohs(((const struct sockaddr_in *)(const void *)addr->bytes)->sin_port), err);
    gs__sock_listen_close(l);
    return err == WSAEADDRINUSE || err == WSAEACCES ? GS_EADDRINUSE : GS_ESYS;
}
}

void gs__sock_listen_close(gs__listener_t *l) {
    for (uint32_t i = 0; i < l->nfds; i++)
        closesocket((SOCKET)l->fds[i]);
    l->nfds = 0;
}

intptr_t gs__sock_stream(const gs__addr_t *addr) {
    const struct sockaddr *sa = (const struct sockaddr *)(const void *)addr->bytes;
    SOCKET s = WSASocketW(sa->sa_family, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                          WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET) {
        gs_log(GS_LOG_ERROR, GS__LOG, "WSASocket: WSA error %d", WSAGetLastError());
        return -1;
    }
    return (intptr_t)s;
}

void gs__sock_close(intptr_t fd) { closesocket((SOCKET)fd); }

int gs__sock_peer(intptr_t fd, uint8_t out[16]) {
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (getpeername((SOCKET)fd, (struct sockaddr *)&ss, &len) != 0)
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

/* SPDX-License-Identifier: MIT */
/* The socket calls the platform-neutral core (net.c) makes, behind one small interface with one
 * file per platform (sock_posix.c, sock_win.c), so that net.c, session.c, the framer and the
 * session table include no platform header and carry no #ifdef. The completion-port work itself
 * lives in the backends (port_uring.c, port_epoll.c, port_iocp.c). */
#ifndef GS_NET_SOCK_H
#define GS_NET_SOCK_H

#include <stdint.h>

typedef struct gs__listener gs__listener_t;

/* A socket address of either family, opaque to the core: the platform files cast it to their
 * sockaddr types (128 bytes and 8-byte alignment hold sockaddr_storage on both). */
typedef struct gs__addr {
    _Alignas(8) unsigned char bytes[128];
    uint32_t len; /* bytes used */
} gs__addr_t;

/* Once per net instance, from gs_net_create / gs_net_destroy (Windows: WSAStartup/WSACleanup,
 * which Winsock counts itself, so instances may come and go in any order; POSIX: nothing).
 * Returns 0 or GS_ESYS. */
int gs__sock_init(void);
void gs__sock_fini(void);

/* Parse a numeric IPv4 or IPv6 host (NULL means 127.0.0.1) and a port. Returns 0 or GS_EADDR. */
int gs__addr_parse(const char *host, uint16_t port, gs__addr_t *out);

/* Open the listening socket of l: fills l->fds[0] (nfds = 1: one socket that every loop accepts
 * on; on Windows the IOCP backend accepts on loop 0 and hands sockets out) and l->port (the bound
 * port, which port 0 picks). The port is taken exclusively: another socket already on it makes
 * this fail with GS_EADDRINUSE (after a retry of up to 500 ms, for a predecessor still dying).
 * Returns 0, GS_EADDRINUSE or GS_ESYS (logged); on failure nothing stays open. Controlling
 * thread. */
int gs__sock_listen(gs__listener_t *l, uint32_t nloops, const gs__addr_t *addr, int backlog);
/* Close the listening sockets opened by gs__sock_listen. */
void gs__sock_listen_close(gs__listener_t *l);

/* A stream socket of addr's family for an outgoing connect (non-inheritable; on Windows
 * overlapped-capable). Returns the socket or -1 (logged). Any thread. */
intptr_t gs__sock_stream(const gs__addr_t *addr);
/* Close a socket that no backend knows about yet. */
void gs__sock_close(intptr_t fd);
/* The peer address of a connected socket, as raw bytes in network order: returns 4 (IPv4, 4
 * bytes in out) or 6 (IPv6, 16 bytes), or 0 if it cannot be read (the peer is already gone).
 * For the per-address accept limits. Loop thread. */
int gs__sock_peer(intptr_t fd, uint8_t out[16]);

#endif /* GS_NET_SOCK_H */

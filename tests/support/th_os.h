/* SPDX-License-Identifier: MIT */
/* The few client-socket calls the test support needs, one file per platform (th_os_posix.c,
 * th_os_win.c), so that test bodies and net_harness.c carry no platform #ifdef. Client sockets
 * are plain blocking sockets named by an int (a Winsock SOCKET fits one in practice). */
#ifndef GS_TEST_TH_OS_H
#define GS_TEST_TH_OS_H

#include <stddef.h>
#include <stdint.h>

/* A blocking TCP socket connected to 127.0.0.1:port with TCP_NODELAY and 10 s send/receive
 * timeouts; rcvbuf > 0 sets SO_RCVBUF before connecting. Returns the socket or -1. */
int th_os_connect(uint16_t port, int rcvbuf);
void th_os_close(int fd);
/* Shut down the sending side (the peer reads EOF). Returns 0 or -1. */
int th_os_shutdown_wr(int fd);
/* Close with a reset (SO_LINGER 0): the peer's pending operations fail. */
void th_os_abort(int fd);
/* One send / recv call. Returns the bytes moved, 0 for EOF (recv), or a negative errno value
 * (-EAGAIN when nothing is ready for a non-blocking call or the timeout passed, -EPIPE,
 * -ECONNRESET, other codes as -EIO on Windows). dontwait makes the call non-blocking. */
long th_os_send(int fd, const void *data, size_t len);
long th_os_recv(int fd, void *buf, size_t len, int dontwait);
/* Switch the socket between non-blocking (sends and receives return -EAGAIN instead of
 * waiting) and blocking. Returns 0 or -1. */
int th_os_set_nonblocking(int fd, int on);
/* poll() on one socket: events and the returned mask are TH_POLL_* bits. Returns the mask
 * (0 on timeout) or -1 on error. */
enum { TH_POLL_IN = 1, TH_POLL_OUT = 2, TH_POLL_HUP = 4, TH_POLL_ERR = 8 };
int th_os_poll(int fd, int events, uint32_t timeout_ms);
/* Wait until fd is readable (data or EOF/reset). Returns 1, 0 on timeout, -1 on error. */
int th_os_wait_readable(int fd, uint32_t timeout_ms);
/* A TCP socket bound to 127.0.0.1 on a free port but not listening: connects to *port are
 * refused while it stays open. Returns the socket or -1. */
int th_os_bound_unlistened(uint16_t *port);
/* Operations an idle net instance keeps posted with io_threads loops and listeners listeners:
 * io_uring, per loop a wake-up read and a multishot accept per listener; IOCP, 16 AcceptEx per
 * listener on the first loop (the wake-up is a posted packet, not an operation). */
uint64_t th_os_idle_in_flight(uint32_t io_threads, uint32_t listeners);
/* 1 if the backend's sends to a peer that stopped reading complete short with what the kernel
 * took (io_uring's non-blocking send/sendmsg), 0 if a send stays pending until the stack took
 * all of it (an overlapped WSASend on IOCP). Tests that measure the kernel's share through short
 * sends or a queue level that settles skip themselves when it is 0. */
int th_os_sends_complete_short(void);
/* How much slower socket IO is here than on Linux, for windows of time that a test's client
 * must fill (not for deadlines the server must meet): 1 on POSIX; 10 on Windows, whose tests run
 * under wine, where every client and server socket call goes through wineserver. */
uint32_t th_os_io_time_scale(void);
/* Resident set size of this process in bytes, 0 where unknown. */
uint64_t th_os_rss_bytes(void);

#endif

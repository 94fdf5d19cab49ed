/* SPDX-License-Identifier: MIT */
/* never-readers: opens N connections to a framed echo server and sends small frames on each
 * without ever reading, until the server cuts every one (its send queues pass their limit) or
 * the time runs out. The attacker of tests/programs/never_readers_rss.sh (issue: memory that the
 * limits bound). Prints one line: "never-readers: connections N cut K frames F". Exit 0 when
 * every connection was cut, 1 otherwise, 2 on a usage or setup error.
 * With --reconnect (the attacker of issue "fairness under abuse", item 1), each connection that is
 * cut is opened again at once, until the time runs out: then N counts every connection opened,
 * and the exit status is 0 unless a connect failed. With --source ADDR, every connection is made
 * from that local IPv4 address (127.0.0.2, say: a peer of its own for the per-address limits). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FRAME     24 /* 8-byte header + 16-byte body: the smallest echo, the worst charge ratio */
#define BATCH     256
#define MAX_CONNS 1000

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A blocking connect to 127.0.0.1:port with a small receive window, so the server's echoes back
 * up into its own queue sooner. Returns the socket, or -1 (logged). */
static struct in_addr source; /* --source, 0: the kernel's choice */

static int open_conn(int port) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 && source.s_addr) {
        struct sockaddr_in local = {.sin_family = AF_INET, .sin_addr = source};
        if (bind(fd, (struct sockaddr *)&local, sizeof(local)) != 0) {
            fprintf(stderr, "never-readers: bind: %s\n", strerror(errno));
            close(fd);
            return -1;
        }
    }
    /* A small send buffer too: the attacker's own copies into the kernel stay cheap, since on a
     * 2-core machine its CPU is taken from the honest client it runs beside. */
    int rcv = 4096, snd = 16384, one = 1;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        fprintf(stderr, "never-readers: connect: %s\n", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv) {
    int reconnect = 0, bad = argc < 4;
    for (int i = 4; i < argc && !bad; i++) {
        if (strcmp(argv[i], "--reconnect") == 0)
            reconnect = 1;
        else if (strcmp(argv[i], "--source") == 0 && i + 1 < argc)
            bad = inet_pton(AF_INET, argv[++i], &source) != 1;
        else
            bad = 1;
    }
    if (bad) {
        fprintf(stderr,
                "usage: never-readers PORT CONNECTIONS SECONDS [--reconnect] [--source ADDR]\n");
        return 2;
    }
    int port = atoi(argv[1]), n = atoi(argv[2]), secs = atoi(argv[3]);
    if (port <= 0 || port > 65535 || n <= 0 || n > MAX_CONNS || secs <= 0) {
        fprintf(stderr, "never-readers: bad arguments\n");
        return 2;
    }
    static uint8_t batch[BATCH * FRAME];
    for (int i = 0; i < BATCH; i++) {
        uint8_t *f = batch + i * FRAME;
        f[0] = FRAME - 8; /* body length 16, little-endian */
        f[4] = 1;         /* message id 1 */
        memset(f + 8, 'x', FRAME - 8);
    }
    static struct pollfd pfd[MAX_CONNS];
    static size_t off[MAX_CONNS]; /* where each connection is in the batch: a short send resumes
                                   * mid-frame, so the stream stays a sequence of whole frames */
    for (int i = 0; i < n; i++) {
        if ((pfd[i].fd = open_conn(port)) < 0)
            return 2;
        pfd[i].events = POLLOUT;
    }
    uint64_t frames = 0, opened = (uint64_t)n, cut = 0,
             deadline = now_ms() + (uint64_t)secs * 1000u;
    while ((reconnect || cut < (uint64_t)n) && now_ms() < deadline) {
        if (poll(pfd, (nfds_t)n, 100) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            if (pfd[i].fd < 0 || !pfd[i].revents)
                continue;
            /* A cut shows as an error or hang-up, or as a send that fails. */
            ssize_t w = (pfd[i].revents & (POLLERR | POLLHUP))
                            ? -1
                            : send(pfd[i].fd, batch + off[i], sizeof(batch) - off[i],
                                   MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0) {
                frames += (off[i] + (size_t)w) / FRAME - off[i] / FRAME;
                off[i] = (off[i] + (size_t)w) % sizeof(batch);
                continue;
            }
            if (w < 0 && (errno == EAGAIN || errno == EINTR) &&
                !(pfd[i].revents & (POLLERR | POLLHUP)))
                continue;
            close(pfd[i].fd);
            pfd[i].fd = -1;
            cut++;
            if (reconnect) {
                if ((pfd[i].fd = open_conn(port)) < 0)
                    return 2;
                off[i] = 0;
                opened++;
            }
        }
    }
    printf("never-readers: connections %llu cut %llu frames %llu\n", (unsigned long long)opened,
           (unsigned long long)cut, (unsigned long long)frames);
    for (int i = 0; i < n; i++)
        if (pfd[i].fd >= 0)
            close(pfd[i].fd);
    return reconnect || cut == (uint64_t)n ? 0 : 1;
}

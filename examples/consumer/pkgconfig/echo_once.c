/* SPDX-License-Identifier: MIT */
/* A one-file server built with a plain Makefile and pkg-config (examples/consumer/pkgconfig): a
 * framed echo server on the net layer, listening on a free loopback port, and, on the main
 * thread, a small blocking client that sends one frame and checks the echo. Exits 0 when the
 * echo came back intact within 5 s, 1 otherwise; prints the port and the result. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "gs/net.h"
#include "gs/version.h"

#define MSG_ID 42u

/* IO thread: send the frame straight back. gs_session_send takes its own reference. */
static void on_frame(gs_net_t *net, gs_session_id_t id, void *session_user, uint32_t msg_id,
                     const uint8_t *body, uint32_t len, void *user) {
    (void)session_user;
    (void)user;
    gs_buf_t *b = gs_buf_frame(msg_id, body, len);
    if (!b)
        return;
    gs_session_send(net, id, b);
    gs_buf_unref(b);
}

static int read_all(int fd, uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r <= 0)
            return -1; /* closed, error or the 5 s SO_RCVTIMEO */
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int client(uint16_t port) {
    static const char text[] = "hello from a pkg-config consumer";
    const uint32_t len = sizeof text - 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    uint8_t out[8 + sizeof text], in[8 + sizeof text];
    for (int i = 0; i < 4; i++) { /* header: body length, message id, little-endian */
        out[i] = (uint8_t)(len >> (8 * i));
        out[4 + i] = (uint8_t)(MSG_ID >> (8 * i));
    }
    memcpy(out + 8, text, len);
    int rc = -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        send(fd, out, 8 + len, 0) == (ssize_t)(8 + len) && read_all(fd, in, 8 + len) == 0 &&
        memcmp(in, out, 8 + len) == 0)
        rc = 0;
    close(fd);
    return rc;
}

int main(void) {
    gs_net_t *net;
    gs_net_config_t cfg = {.cb = {.on_frame = on_frame}};
    if (gs_net_create(&net, &cfg) != 0) {
        fprintf(stderr, "echo_once: gs_net_create failed\n");
        return 1;
    }
    if (gs_net_listen(net, &(gs_listen_config_t){.port = 0}) != 0 || gs_net_start(net) != 0) {
        fprintf(stderr, "echo_once: cannot listen\n");
        gs_net_destroy(net);
        return 1;
    }
    uint16_t port = gs_net_listen_port(net);
    int rc = client(port);
    gs_net_stop(net, 1000);
    gs_net_destroy(net);
    printf("echo_once (gameserver %s): %s on 127.0.0.1:%u\n", GS_VERSION_STRING,
           rc == 0 ? "one frame echoed intact" : "FAILED", (unsigned)port);
    return rc == 0 ? 0 : 1;
}

/* SPDX-License-Identifier: MIT */
/* Opens N idle TCP connections to 127.0.0.1:PORT and holds them until SIGINT/SIGTERM, for
 * measuring a server's memory per idle connection. Prints "connected N" when all are up. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_sig(int sig) {
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: idle-clients PORT N\n");
        return 2;
    }
    int port = atoi(argv[1]), n = atoi(argv[2]);
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int *fds = calloc((size_t)n, sizeof(int));
    for (int i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&a, sizeof(a)) != 0) {
            perror("idle-clients: connect");
            return 1;
        }
    }
    printf("connected %d\n", n);
    fflush(stdout);
    while (!stop)
        pause();
    for (int i = 0; i < n; i++)
        close(fds[i]);
    free(fds);
    return 0;
}

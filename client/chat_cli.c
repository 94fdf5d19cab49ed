/* SPDX-License-Identifier: MIT */
/* gs-chat: an interactive line client for gs-chat-server, for a person at a terminal (or a
 * script on stdin). One blocking socket and poll(): this is a tool, not a load generator. */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "chat_proto.h"
#include "cli.h"

#define PROG           "gs-chat"
#define LINE_MAX_BYTES 4096
#define RECV_MAX       (64u * 1024u + GS_FRAME_HEADER_SIZE)
#define QUIT_WAIT_MS   2000u
#define ANSWER_WAIT_MS 5000u

typedef struct client {
    int fd;
    gs_msg_registry_t *reg;
    gs_arena_t *arena;
    uint32_t next_req;
    uint64_t seq;
    char nick[80];
    char room[160];        /* where plain lines go: the last room joined */
    uint32_t pending;      /* requests and own chats not answered yet */
    uint32_t heartbeat_ms; /* from LoginReply: ping at half of it */
    uint64_t next_ping_ms;
    uint8_t rbuf[RECV_MAX];
    size_t rlen;
} client_t;

/* ---- output: untrusted text is shown, never interpreted by the terminal ------------------- */

/* Print s with control, bidi and invisible characters as \u{XXXX}: another player's text cannot
 * move the cursor, recolour the terminal or reverse the line (docs/testing.md A16). The decoder has
 * already refused invalid UTF-8. */
static void put_text(FILE *f, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = *p < 0x80 ? 1 : *p < 0xE0 ? 2 : *p < 0xF0 ? 3 : 4;
        uint32_t chars = 0;
        gs_text_verdict_t v = gs_text_check((const char *)p, n, NULL, &chars);
        if (v == GS_TEXT_OK) {
            fwrite(p, 1, n, f);
        } else {
            uint32_t cp = n == 1   ? p[0]
                          : n == 2 ? (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F)
                          : n == 3 ? (uint32_t)(p[0] & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 |
                                         (p[2] & 0x3F)
                                   : (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3F) << 12 |
                                         (uint32_t)(p[2] & 0x3F) << 6 | (p[3] & 0x3F);
            fprintf(f, "\\u{%04" PRIX32 "}", cp);
        }
        p += n;
    }
}

static const char *code_name(Chat__ErrorCode c) {
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&chat__error_code__descriptor, (int)c);
    return v ? v->name : "ERROR_?";
}

/* ---- sending ------------------------------------------------------------------------------ */

static int send_msg(client_t *c, const ProtobufCMessage *m) {
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(GS_FRAME_HEADER_SIZE + n);
    if (!buf)
        return -1;
    gs_frame_header_write(buf, (uint32_t)n, gs_msg_id_of_name(m->descriptor->name));
    protobuf_c_message_pack(m, buf + GS_FRAME_HEADER_SIZE);
    size_t off = 0, total = GS_FRAME_HEADER_SIZE + n;
    while (off < total) {
        ssize_t w = send(c->fd, buf + off, total - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            free(buf);
            return -1;
        }
        off += (size_t)w;
    }
    free(buf);
    return 0;
}

/* ---- commands ----------------------------------------------------------------------------- */

static void help(void) {
    printf("* commands: /nick NAME, /rooms, /join ROOM, /leave [ROOM], /w NICK TEXT, /ping, "
           "/quit; any other line is said in the current room\n");
}

/* The word after the command, and the rest of the line after it. */
static char *next_word(char **rest) {
    char *p = *rest;
    while (*p == ' ')
        p++;
    if (!*p)
        return NULL;
    char *w = p;
    while (*p && *p != ' ')
        p++;
    if (*p)
        *p++ = '\0';
    while (*p == ' ')
        p++;
    *rest = p;
    return w;
}

/* Returns 1 to quit, -1 when the connection is gone, 0 otherwise. */
static int command(client_t *c, char *line) {
    if (line[0] != '/') {
        if (!line[0])
            return 0;
        if (!c->room[0]) {
            printf("* join a room first (/join ROOM)\n");
            return 0;
        }
        Chat__ChatSend m = CHAT__CHAT_SEND__INIT;
        m.request_id = c->next_req++;
        m.room = c->room;
        m.text = line;
        m.seq = ++c->seq;
        m.sent_at_us = gs_now_ns() / 1000;
        c->pending++; /* answered by our own delivery (or an error) */
        return send_msg(c, &m.base) ? -1 : 0;
    }
    char *rest = line + 1;
    char *cmd = next_word(&rest);
    if (!cmd)
        return 0;
    char *arg = next_word(&rest);
    if (strcmp(cmd, "quit") == 0 || strcmp(cmd, "q") == 0)
        return 1;
    if (strcmp(cmd, "help") == 0) {
        help();
        return 0;
    }
    if (strcmp(cmd, "rooms") == 0) {
        Chat__RoomListRequest m = CHAT__ROOM_LIST_REQUEST__INIT;
        m.request_id = c->next_req++;
        c->pending++;
        return send_msg(c, &m.base) ? -1 : 0;
    }
    if (strcmp(cmd, "ping") == 0) {
        Chat__Ping m = CHAT__PING__INIT;
        m.request_id = c->next_req++;
        m.client_time_us = gs_now_ns() / 1000;
        c->pending++;
        return send_msg(c, &m.base) ? -1 : 0;
    }
    if (strcmp(cmd, "leave") == 0 && !arg && !c->room[0]) {
        printf("* not in a room\n");
        return 0;
    }
    if (strcmp(cmd, "nick") == 0 || strcmp(cmd, "join") == 0 || strcmp(cmd, "leave") == 0) {
        if (!arg && strcmp(cmd, "leave") != 0) {
            printf("* usage: /%s NAME\n", cmd);
            return 0;
        }
        c->pending++;
        if (cmd[0] == 'n') {
            Chat__LoginRequest m = CHAT__LOGIN_REQUEST__INIT;
            m.request_id = c->next_req++;
            m.nickname = arg;
            return send_msg(c, &m.base) ? -1 : 0;
        }
        if (cmd[0] == 'j') {
            Chat__JoinRequest m = CHAT__JOIN_REQUEST__INIT;
            m.request_id = c->next_req++;
            m.room = arg;
            return send_msg(c, &m.base) ? -1 : 0;
        }
        Chat__LeaveRequest m = CHAT__LEAVE_REQUEST__INIT;
        m.request_id = c->next_req++;
        m.room = arg ? arg : c->room;
        return send_msg(c, &m.base) ? -1 : 0;
    }
    if (strcmp(cmd, "w") == 0 || strcmp(cmd, "whisper") == 0) {
        if (!arg || !*rest) {
            printf("* usage: /w NICK TEXT\n");
            return 0;
        }
        Chat__WhisperSend m = CHAT__WHISPER_SEND__INIT;
        m.request_id = c->next_req++;
        m.to = arg;
        m.text = rest;
        m.seq = ++c->seq;
        m.sent_at_us = gs_now_ns() / 1000;
        c->pending++;
        return send_msg(c, &m.base) ? -1 : 0;
    }
    printf("* unknown command /%s (try /help)\n", cmd);
    return 0;
}

/* ---- receiving ---------------------------------------------------------------------------- */

static void done_one(client_t *c) {
    if (c->pending)
        c->pending--;
}

static void show(client_t *c, const ProtobufCMessage *m) {
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (d == &chat__login_reply__descriptor) {
        const Chat__LoginReply *r = (const Chat__LoginReply *)m;
        snprintf(c->nick, sizeof(c->nick), "%s", r->nickname);
        c->heartbeat_ms = r->heartbeat_ms;
        c->next_ping_ms = gs_now_ms() + r->heartbeat_ms / 2;
        printf("* logged in as ");
        put_text(stdout, r->nickname);
        printf("\n");
        done_one(c);
    } else if (d == &chat__join_reply__descriptor) {
        const Chat__JoinReply *r = (const Chat__JoinReply *)m;
        snprintf(c->room, sizeof(c->room), "%s", r->room);
        printf("* joined ");
        put_text(stdout, r->room);
        printf(" (members:");
        for (size_t i = 0; i < r->n_members; i++) {
            printf(i ? ", " : " ");
            put_text(stdout, r->members[i]);
        }
        printf(")\n");
        done_one(c);
    } else if (d == &chat__leave_reply__descriptor) {
        const Chat__LeaveReply *r = (const Chat__LeaveReply *)m;
        if (strcmp(c->room, r->room) == 0)
            c->room[0] = '\0';
        printf("* left ");
        put_text(stdout, r->room);
        printf("\n");
        done_one(c);
    } else if (d == &chat__room_list__descriptor) {
        const Chat__RoomList *r = (const Chat__RoomList *)m;
        printf("* rooms:");
        for (size_t i = 0; i < r->n_rooms; i++) {
            printf(i ? ", " : " ");
            put_text(stdout, r->rooms[i]->name);
            printf(" (%" PRIu32 ")", r->rooms[i]->members);
        }
        printf(r->n_rooms ? "\n" : " none\n");
        /* The list comes in pages: ask for the next one, still answering this command. */
        Chat__RoomListRequest more = CHAT__ROOM_LIST_REQUEST__INIT;
        more.request_id = c->next_req++;
        more.after = r->next;
        if (r->next[0] && send_msg(c, &more.base) == 0)
            return;
        done_one(c);
    } else if (d == &chat__chat_delivery__descriptor) {
        const Chat__ChatDelivery *r = (const Chat__ChatDelivery *)m;
        printf("[");
        put_text(stdout, r->room);
        printf("] <");
        put_text(stdout, r->sender);
        printf("> ");
        put_text(stdout, r->text);
        printf("\n");
        if (strcmp(r->sender, c->nick) == 0)
            done_one(c); /* our own chat came back: it was delivered */
    } else if (d == &chat__whisper_delivery__descriptor) {
        const Chat__WhisperDelivery *r = (const Chat__WhisperDelivery *)m;
        printf("* whisper from ");
        put_text(stdout, r->sender);
        printf(": ");
        put_text(stdout, r->text);
        printf("\n");
    } else if (d == &chat__whisper_reply__descriptor) {
        const Chat__WhisperReply *r = (const Chat__WhisperReply *)m;
        printf("* whisper to ");
        put_text(stdout, r->to);
        printf(" delivered\n");
        done_one(c);
    } else if (d == &chat__room_event__descriptor) {
        const Chat__RoomEvent *r = (const Chat__RoomEvent *)m;
        printf("* ");
        put_text(stdout, r->nickname);
        printf(r->kind == CHAT__ROOM_EVENT__KIND__KIND_JOINED ? " joined " : " left ");
        put_text(stdout, r->room);
        printf("\n");
    } else if (d == &chat__pong__descriptor) {
        const Chat__Pong *r = (const Chat__Pong *)m;
        uint64_t now = gs_now_ns() / 1000;
        if (r->request_id != 0) { /* 0: the automatic heartbeat */
            printf("* pong in %.1f ms\n", (double)(now - r->client_time_us) / 1000.0);
            done_one(c);
        }
    } else if (d == &chat__error__descriptor) {
        const Chat__Error *r = (const Chat__Error *)m;
        printf("! %s: ", code_name(r->code));
        put_text(stdout, r->detail);
        printf("\n");
        done_one(c);
    } else {
        printf("* (%s)\n", d->name);
    }
}

/* Read what is there; print every whole frame. Returns -1 when the server closed. */
static int receive(client_t *c) {
    ssize_t n = recv(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0)
        return -1;
    c->rlen += (size_t)n;
    size_t off = 0;
    while (c->rlen - off >= GS_FRAME_HEADER_SIZE) {
        const uint8_t *h = c->rbuf + off;
        uint32_t len =
            (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
        uint32_t id =
            (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 24;
        if (len > RECV_MAX - GS_FRAME_HEADER_SIZE) {
            fprintf(stderr, "%s: the server sent a frame of %" PRIu32 " bytes: giving up\n", PROG,
                    len);
            return -1;
        }
        if (c->rlen - off < GS_FRAME_HEADER_SIZE + len)
            break;
        ProtobufCMessage *m;
        int rc = gs_msg_decode(c->reg, c->arena, id, h + GS_FRAME_HEADER_SIZE, len, &m);
        if (rc == 0)
            show(c, m);
        else
            fprintf(stderr, "%s: undecodable message 0x%08" PRIx32 " from the server: %s\n", PROG,
                    id, gs_strerror(rc));
        gs_arena_reset(c->arena);
        off += GS_FRAME_HEADER_SIZE + len;
    }
    memmove(c->rbuf, c->rbuf + off, c->rlen - off);
    c->rlen -= off;
    fflush(stdout);
    return 0;
}

/* ---- main --------------------------------------------------------------------------------- */

static int connect_to(const char *host, uint16_t port) {
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    memset(&a4, 0, sizeof(a4));
    memset(&a6, 0, sizeof(a6));
    int v6 = strchr(host, ':') != NULL;
    if (v6 ? inet_pton(AF_INET6, host, &a6.sin6_addr) != 1
           : inet_pton(AF_INET, host, &a4.sin_addr) != 1)
        return -2;
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    a4.sin_family = AF_INET;
    a4.sin_port = htons(port);
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons(port);
    int rc = v6 ? connect(fd, (struct sockaddr *)&a6, sizeof(a6))
                : connect(fd, (struct sockaddr *)&a4, sizeof(a4));
    if (rc != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: %s [--host ADDR] [--port N] [--nick NAME] [--version]\n"
            "\n"
            "Interactive client for gs-chat-server. Reads lines from stdin: /nick NAME, /rooms,\n"
            "/join ROOM, /leave [ROOM], /w NICK TEXT, /ping, /quit, /help; any other line is\n"
            "said in the last room joined. At the end of input it waits (up to 2 s) for the\n"
            "answers to what it sent, then quits, so it can be driven by a script.\n"
            "Control, bidi and invisible characters in what others send are shown as \\u{XXXX}.\n"
            "\n"
            "Exit status: 0 on /quit or end of input, 1 if the connection failed or was lost,\n"
            "2 usage error.\n",
            PROG);
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *nick = NULL;
    uint16_t port = 7000;
    if (cli_version(PROG, argc, argv))
        return 0;
    cli_t cl;
    cli_init(&cl, PROG, argc, argv, 1);
    for (int k; (k = cli_next(&cl)) != CLI_END;) {
        int rc;
        if (k == CLI_ERROR)
            return CLI_USAGE_EXIT;
        if (k == CLI_POSITIONAL) {
            cli_error(&cl, "unexpected argument '%s' (try --help)", cl.arg);
            return CLI_USAGE_EXIT;
        }
        if (cli_is(&cl, "--help") || cli_is(&cl, "-h")) {
            usage(stdout);
            return 0;
        } else if (cli_is(&cl, "--host")) {
            rc = cli_string(&cl, &host);
        } else if (cli_is(&cl, "--port")) {
            rc = cli_port(&cl, 0, &port);
        } else if (cli_is(&cl, "--nick")) {
            rc = cli_string(&cl, &nick);
        } else {
            cli_error(&cl, "unknown option '%s' (try --help)", cl.name);
            return CLI_USAGE_EXIT;
        }
        if (rc != 0)
            return CLI_USAGE_EXIT;
    }

    static client_t c;
    c.next_req = 1;
    c.reg = gs_msg_registry_create(0);
    c.arena = gs_arena_create(0);
    if (!c.reg || !c.arena || chat_proto_register(c.reg) != 0) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        return 1;
    }
    c.fd = connect_to(host, port);
    if (c.fd < 0) {
        fprintf(stderr, "%s: cannot connect to %s port %u: %s\n", PROG, host, (unsigned)port,
                c.fd == -2 ? "not a numeric address" : strerror(errno));
        return 1;
    }
    printf("* connected to %s:%u (/help for commands)\n", host, (unsigned)port);
    fflush(stdout);

    char line[LINE_MAX_BYTES];
    if (nick) {
        snprintf(line, sizeof(line), "/nick %s", nick);
        if (command(&c, line) < 0)
            goto lost;
    }
    /* Lines are taken one at a time, and the next only once the previous one's answer came
     * (or after ANSWER_WAIT_MS): a person waits for the reply before typing on, and a script on
     * stdin must not log in and join in the same breath. */
    size_t have = 0;
    int input_open = 1, input_done = 0;
    uint64_t quit_by = 0, answer_by = 0;
    for (;;) {
        uint64_t now = gs_now_ms();
        if (c.pending == 0)
            answer_by = 0;
        else if (answer_by && now >= answer_by) {
            printf("* no answer from the server yet\n");
            c.pending = 0;
        }
        /* Run the buffered lines that may run now. */
        char *nl;
        while (!input_done && c.pending == 0 && (nl = memchr(line, '\n', have)) != NULL) {
            *nl = '\0';
            if (nl > line && nl[-1] == '\r')
                nl[-1] = '\0';
            int r = command(&c, line);
            have -= (size_t)(nl + 1 - line);
            memmove(line, nl + 1, have);
            if (r < 0)
                goto lost;
            if (r > 0)
                input_done = 1; /* /quit: like the end of input */
            if (c.pending)
                answer_by = gs_now_ms() + ANSWER_WAIT_MS;
            fflush(stdout);
        }
        if (!input_open && !memchr(line, '\n', have))
            input_done = 1;
        if (input_done) {
            if (!quit_by)
                quit_by = now + QUIT_WAIT_MS;
            if (c.pending == 0 || now >= quit_by)
                break;
        }
        if (c.heartbeat_ms && now >= c.next_ping_ms) {
            Chat__Ping p = CHAT__PING__INIT; /* request_id 0: not shown */
            p.client_time_us = gs_now_ns() / 1000;
            if (send_msg(&c, &p.base) != 0)
                goto lost;
            c.next_ping_ms = now + c.heartbeat_ms / 2;
        }
        int want_input = input_open && !input_done && !memchr(line, '\n', have);
        struct pollfd pf[2] = {{.fd = c.fd, .events = POLLIN},
                               {.fd = want_input ? 0 : -1, .events = POLLIN}};
        int rc = poll(pf, 2, 100);
        if (rc < 0 && errno != EINTR)
            break;
        if (pf[0].revents & (POLLIN | POLLHUP | POLLERR))
            if (receive(&c) < 0)
                goto lost;
        if (want_input && (pf[1].revents & (POLLIN | POLLHUP))) {
            ssize_t n = read(0, line + have, sizeof(line) - 1 - have);
            if (n <= 0) {
                input_open = 0;
                if (have && !memchr(line, '\n', have))
                    line[have++] = '\n'; /* a last line without its newline */
                continue;
            }
            have += (size_t)n;
            if (have == sizeof(line) - 1 && !memchr(line, '\n', have)) {
                printf("* line too long: dropped\n");
                have = 0;
            }
        }
    }
    close(c.fd);
    gs_arena_destroy(c.arena);
    gs_msg_registry_destroy(c.reg);
    return 0;
lost:
    fprintf(stderr, "%s: the connection was closed\n", PROG);
    close(c.fd);
    gs_arena_destroy(c.arena);
    gs_msg_registry_destroy(c.reg);
    return 1;
}

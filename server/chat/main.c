/* SPDX-License-Identifier: MIT */
/* gs-chat-server: the sample chat server. Options, start-up, the live counters line and a clean
 * stop; the chat itself is in session.c, lobby.c and room.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "chat_metrics.h"
#include "cli.h"
#include "stop_signal.h"

#define PROG          "gs-chat-server"
#define STOP_FLUSH_MS 2000u
#define TICK_NS       UINT64_C(1000000000)

typedef struct opts {
    const char *host;
    uint16_t port;
    uint32_t io_threads, workers, max_sessions, send_delay_ms;
    chat_addr_limits_t addr;
    gs_net_backend_t backend;
    int stats;
    const char *metrics; /* --metrics [HOST:]PORT, NULL: off */
    chat_limits_t lim;
} opts_t;

static void usage(FILE *f) {
    fprintf(f,
            "usage: %s [options]\n"
            "\n"
            "The sample chat server: login, rooms, room chat, whispers, ping (proto/chat.proto).\n"
            "Prints \"%s: listening on HOST:PORT\" on stdout when ready; SIGINT or SIGTERM\n"
            "stops it cleanly.\n"
            "\n"
            "Options:\n"
            "  --host ADDR             numeric IPv4 or IPv6 address to bind (default 127.0.0.1)\n"
            "  --port N                port (default 7000; 0 picks a free one and prints it)\n"
            "  --io-threads N          net IO threads (default 1)\n"
            "  --backend NAME          auto, io_uring or epoll (default auto: io_uring, or epoll\n"
            "                          where io_uring is refused; GS_NET_BACKEND overrides auto)\n"
            "  --workers N             worker threads running handlers (default 2); 0 runs\n"
            "                          them on the IO thread (needs --io-threads 1): no\n"
            "                          hand-off per message, but a slow handler stalls IO\n"
            "  --max-sessions N        connections at once (default 16384)\n"
            "  --send-delay-ms MS      hold sends up to MS so that each goes out gathered with\n"
            "                          what queues meanwhile: fewer syscalls, more latency\n"
            "                          (default 0: send at once)\n"
            "  --nick-min N            nickname length in characters, at least (default 3)\n"
            "  --nick-max N            nickname length in characters, at most (default 16)\n"
            "  --room-max N            room name length in characters, at most (default 32)\n"
            "  --max-text BYTES        chat and whisper text (default 1024)\n"
            "  --max-rooms-per-user N  rooms one session may be in (default 10)\n"
            "  --max-members N         members per room (default 900: a JoinReply listing that\n"
            "                          many 16-character nicknames must fit 64 KiB; checked)\n"
            "  --max-rooms N           rooms on the server (default 10000)\n"
            "  --rate N                request budget per second per session (default 20); a\n"
            "                          chat, whisper or ping costs 1, a login, join or leave 2,\n"
            "                          a room list 4\n"
            "  --burst N               budget usable at once above the rate (default 40)\n"
            "  --abuse-strikes N       refused requests that cut a session (default 40)\n"
            "  --strike-leak N         refusals forgiven per second (default --rate / 4)\n"
            "  --heartbeat-ms MS       silence that closes a session (default 30000)\n"
            "  --login-timeout-ms MS   connect to logged in, or the session is cut\n"
            "                          (default 10000)\n"
            "  --addr-max-sessions N   sessions one peer address (IPv4, IPv6 /64) may hold\n"
            "                          (default 64; 0: off)\n"
            "  --addr-accept-rate N    connections per second one address may open beyond\n"
            "                          its burst (default 20; 0: off); after a cut for\n"
            "                          abuse it waits burst / rate seconds\n"
            "  --addr-accept-burst N   connections an address may open at once (default 2 x\n"
            "                          the rate)\n"
            "  --addr-limit-loopback   apply the per-address limits to 127.0.0.0/8 and ::1 too\n"
            "                          (exempt by default)\n"
            "  --stats                 print counters to stderr once a second\n"
            "  --metrics [HOST:]PORT   serve Prometheus /metrics and /healthz there (off;\n"
            "                          HOST defaults to 127.0.0.1; port 0 picks one)\n"
            "  --help                  show this text\n"
            "  --version               print the version and exit\n"
            "\n"
            "Exit status: 0 after a clean stop, 1 if it could not start, 2 usage error.\n",
            PROG, PROG);
}

static void defaults(opts_t *o) {
    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->port = 7000;
    o->io_threads = 1;
    o->workers = 2;
    o->max_sessions = 16384;
    o->addr.max_sessions = 64; /* per-address accept limits: see --help and docs/net.md */
    o->addr.accept_rate = 20;
    chat_limits_default(&o->lim);
}

/* 0, 1 for --help, -1 on a usage error (printed). */
static int parse(int argc, char **argv, opts_t *o) {
    cli_t c;
    cli_init(&c, PROG, argc, argv, 1);
    chat_limits_t *l = &o->lim;
    for (int k; (k = cli_next(&c)) != CLI_END;) {
        if (k == CLI_ERROR)
            return -1;
        if (k == CLI_POSITIONAL)
            return cli_error(&c, "unexpected argument '%s' (try --help)", c.arg);
        int rc;
        if (cli_is(&c, "--help") || cli_is(&c, "-h"))
            return 1;
        else if (cli_is(&c, "--host"))
            rc = cli_string(&c, &o->host);
        else if (cli_is(&c, "--port"))
            rc = cli_port(&c, 1, &o->port);
        else if (cli_is(&c, "--io-threads"))
            rc = cli_u32(&c, 1, 64, &o->io_threads);
        else if (cli_is(&c, "--workers"))
            rc = cli_u32(&c, 0, 256, &o->workers);
        else if (cli_is(&c, "--max-sessions"))
            rc = cli_u32(&c, 1, 1u << 24, &o->max_sessions);
        else if (cli_is(&c, "--send-delay-ms"))
            rc = cli_u32(&c, 0, 1000, &o->send_delay_ms);
        else if (cli_is(&c, "--nick-min"))
            rc = cli_u32(&c, 1, 16, &l->nick_min_chars);
        else if (cli_is(&c, "--nick-max"))
            rc = cli_u32(&c, 1, 16, &l->nick_max_chars);
        else if (cli_is(&c, "--room-max"))
            rc = cli_u32(&c, 1, 32, &l->room_max_chars);
        else if (cli_is(&c, "--max-text"))
            rc = cli_u32(&c, 1, 60000, &l->max_text_bytes);
        else if (cli_is(&c, "--max-rooms-per-user"))
            rc = cli_u32(&c, 1, 1000, &l->max_rooms_per_user);
        else if (cli_is(&c, "--max-members"))
            rc = cli_u32(&c, 1, 1u << 20, &l->max_members_per_room);
        else if (cli_is(&c, "--max-rooms"))
            rc = cli_u32(&c, 1, 1u << 20, &l->max_rooms);
        else if (cli_is(&c, "--rate"))
            rc = cli_u32(&c, 1, 1000000, &l->rate_per_s);
        else if (cli_is(&c, "--burst"))
            rc = cli_u32(&c, 1, 1000000, &l->burst);
        else if (cli_is(&c, "--abuse-strikes"))
            rc = cli_u32(&c, 1, 1000000, &l->abuse_strikes);
        else if (cli_is(&c, "--strike-leak"))
            rc = cli_u32(&c, 1, 1000000, &l->strike_leak_per_s);
        else if (cli_is(&c, "--login-timeout-ms"))
            rc = cli_u32(&c, 100, 3600000, &l->login_timeout_ms);
        else if (cli_is(&c, "--heartbeat-ms"))
            rc = cli_u32(&c, 100, 3600000, &l->heartbeat_ms);
        else if (cli_is(&c, "--backend")) {
            const char *name = NULL;
            rc = cli_string(&c, &name);
            if (rc == 0 && gs_net_backend_parse(name, &o->backend) != 0)
                return cli_error(&c, "option --backend: '%s' is not auto, io_uring or epoll", name);
        } else if (cli_is(&c, "--addr-max-sessions"))
            rc = cli_u32(&c, 0, UINT32_MAX - 1u, &o->addr.max_sessions);
        else if (cli_is(&c, "--addr-accept-rate"))
            rc = cli_u32(&c, 0, 1000000, &o->addr.accept_rate);
        else if (cli_is(&c, "--addr-accept-burst"))
            rc = cli_u32(&c, 1, 1000000, &o->addr.accept_burst);
        else if (cli_is(&c, "--addr-limit-loopback"))
            rc = cli_flag(&c, &o->addr.limit_loopback);
        else if (cli_is(&c, "--stats"))
            rc = cli_flag(&c, &o->stats);
        else if (cli_is(&c, "--metrics"))
            rc = cli_string(&c, &o->metrics);
        else
            return cli_error(&c, "unknown option '%s' (try --help)", c.name);
        if (rc != 0)
            return -1;
    }
    if (o->workers == 0 && o->io_threads != 1)
        return cli_error(&c, "--workers 0 runs handlers on the IO thread: needs --io-threads 1");
    if (l->nick_min_chars > l->nick_max_chars)
        return cli_error(&c, "--nick-min %u is above --nick-max %u", l->nick_min_chars,
                         l->nick_max_chars);
    return 0;
}

static uint64_t ld(_Atomic uint64_t *c) { return atomic_load_explicit(c, memory_order_relaxed); }

static void stats_line(chat_server_t *s, uint64_t *prev_chats, uint64_t *prev_deliv, double dt) {
    gs_app_stats_t st;
    gs_app_stats(s->app, &st);
    uint64_t chats = ld(&s->ctr.chats), deliv = ld(&s->ctr.deliveries);
    fprintf(stderr,
            "%s: sessions %" PRIu64 " logins %" PRIu64 " rooms %" PRIu64
            " chats/s %.0f deliveries/s %.0f whispers %" PRIu64 " rate_limited %" PRIu64
            " errors %" PRIu64 " jobs_pending %" PRIu64 " actors %" PRIu64 " pool_in_use %" PRIu64
            "\n",
            PROG, st.net.sessions_open, ld(&s->ctr.logins), ld(&s->ctr.rooms),
            (double)(chats - *prev_chats) / dt, (double)(deliv - *prev_deliv) / dt,
            ld(&s->ctr.whispers), ld(&s->ctr.rate_limited), ld(&s->ctr.errors_sent),
            st.jobs_pending, st.actors, st.pool.in_use);
    *prev_chats = chats;
    *prev_deliv = deliv;
}

/* Every counter of the chat, content, net and pool lists (CHAT_COUNTERS_MAP and the layers'). */
static void final_line(chat_server_t *s, uint64_t unsent) {
    gs_app_stats_t st;
    gs_app_stats(s->app, &st);
    static char buf[16384];
    gs_expo_t w;
    gs_expo_init(&w, buf, sizeof buf);
    chat_metrics_line(&w, s);
    gs_metrics_line_app(&w, &st);
    gs_metrics_line_net(&w, &st.net);
    gs_metrics_line_pool(&w, &st.pool);
    fprintf(stderr, "%s: total sessions %" PRIu64 " unsent %" PRIu64 "%s\n", PROG,
            st.net.sessions_total, unsent, buf);
}

int main(int argc, char **argv) {
    if (cli_version(PROG, argc, argv))
        return 0;
    opts_t o;
    defaults(&o);
    int prc = parse(argc, argv, &o);
    if (prc == 1) {
        usage(stdout);
        return 0;
    }
    if (prc < 0)
        return CLI_USAGE_EXIT;
    if (stop_signal_init() != 0) {
        fprintf(stderr, "%s: cannot set up signal handling: %s\n", PROG, strerror(errno));
        return 1;
    }

    chat_server_t s;
    chat_server_config_t cfg = {.host = o.host,
                                .port = o.port,
                                .io_threads = o.io_threads,
                                .workers = o.workers,
                                .on_io_thread = o.workers == 0,
                                .max_sessions = o.max_sessions,
                                .send_delay_ms = o.send_delay_ms,
                                .addr = o.addr,
                                .backend = o.backend,
                                .lim = o.lim};
    int rc = chat_server_start(&s, &cfg);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot start on %s port %u: %s\n", PROG, o.host, (unsigned)o.port,
                gs_strerror(rc));
        return 1;
    }
    int v6 = strchr(o.host, ':') != NULL;
    char workers[48];
    if (o.workers == 0)
        snprintf(workers, sizeof(workers), "handlers on the IO thread");
    else
        snprintf(workers, sizeof(workers), "%" PRIu32 " workers", o.workers);
    gs_metrics_server_t *metrics = NULL;
    if (o.metrics) {
        char mhost[64];
        uint16_t mport;
        rc = gs_metrics_parse_addr(o.metrics, mhost, sizeof mhost, &mport);
        gs_metrics_config_t mc = {
            .host = mhost, .port = mport, .write = chat_metrics_write, .user = &s};
        if (rc == 0)
            rc = gs_metrics_server_start(&metrics, &mc);
        if (rc != 0) {
            fprintf(stderr, "%s: cannot serve metrics on %s: %s\n", PROG, o.metrics,
                    gs_strerror(rc));
            gs_app_stop(s.app, 0);
            chat_server_stop(&s, 0);
            return 1;
        }
        /* Job run time, job wait and busy time: two clock reads per job, only when exported. */
        gs_app_set_timing(s.app, 1);
        gs_net_set_histograms(gs_app_net(s.app), 1);
        int mv6 = strchr(mhost, ':') != NULL;
        printf("%s: metrics on %s%s%s:%u\n", PROG, mv6 ? "[" : "", mhost, mv6 ? "]" : "",
               (unsigned)gs_metrics_server_port(metrics));
    }
    printf("%s: listening on %s%s%s:%u (%s, %" PRIu32 " IO threads, %s)\n", PROG, v6 ? "[" : "",
           o.host, v6 ? "]" : "", (unsigned)gs_app_listen_port(s.app),
           gs_net_backend_name(gs_app_net(s.app)), o.io_threads, workers);
    fflush(stdout);

    uint64_t prev_ns = gs_now_ns(), tick = prev_ns + TICK_NS;
    uint64_t prev_chats = 0, prev_deliv = 0;
    while (!stop_signal_wait(tick)) {
        uint64_t now = gs_now_ns();
        if (now < tick)
            continue;
        if (o.stats)
            stats_line(&s, &prev_chats, &prev_deliv, (double)(now - prev_ns) / 1e9);
        prev_ns = now;
        tick += TICK_NS;
        if (tick <= now)
            tick = now + TICK_NS;
    }
    fprintf(stderr, "%s: stopping (flushing for up to %u ms)\n", PROG, STOP_FLUSH_MS);
    /* The final counters are read between the stop and the free. */
    /* /healthz says 503 while the sends flush; scrapes go on until the app has stopped. */
    if (metrics)
        gs_metrics_server_set_draining(metrics, 1);
    uint64_t unsent = gs_app_stop(s.app, STOP_FLUSH_MS);
    gs_metrics_server_stop(metrics);
    final_line(&s, unsent);
    chat_server_stop(&s, 0);
    printf("%s: stopped\n", PROG);
    fflush(stdout);
    return 0;
}

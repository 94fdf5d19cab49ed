/* SPDX-License-Identifier: MIT */
/* gs-echo-server: sends every frame (or, with --raw, every byte) back to its sender; the peer that
 * gs-bot's echo mode, the benchmarks and the end-to-end tests run against. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gs/metrics.h"
#include "gs/net.h"
#include "gs/packet.h"
#include "cli.h"
#include "stop_signal.h"

#define PROG          "gs-echo-server"
#define USAGE_EXIT    2
#define STOP_FLUSH_MS 2000u
#define TICK_NS       UINT64_C(1000000000)
/* Idle connections are closed by default: each holds a session slot, and enough idle ones
 * would lock every other client out. A minute is far above any echo client's gap between
 * frames (nginx keepalive_timeout is 75 s); benchmarks that want none pass 0. */
#define IDLE_TIMEOUT_MS_DEFAULT 60000u
/* Per-address accept limits: generous for people behind one NAT, tight for a reconnect flood;
 * loopback is exempt unless --addr-limit-loopback (docs/net.md "Fairness"). */
#define ADDR_MAX_SESSIONS_DEFAULT 64u
#define ADDR_ACCEPT_RATE_DEFAULT  20u

typedef struct server_opts {
    const char *host;
    uint16_t port;
    uint32_t threads;
    int raw;
    int stats;
    uint32_t max_sessions;                      /* 0: net default */
    uint32_t max_frame;                         /* 0: net default */
    uint32_t send_hard_limit;                   /* 0: net default; UINT32_MAX: off */
    uint32_t send_soft_limit;                   /* 0: net default; UINT32_MAX: off */
    uint32_t recv_pause_bytes;                  /* 0: net default; UINT32_MAX: off */
    uint32_t recv_rate_bytes, recv_rate_frames; /* 0: off */
    uint32_t idle_timeout_ms;                   /* [IDLE_TIMEOUT_MS_DEFAULT]; 0: off */
    uint32_t addr_max_sessions, addr_accept_rate, addr_accept_burst; /* 0: off / net default */
    gs_net_backend_t backend;                                        /* [auto] */
    int addr_limit_loopback;
    const char *metrics; /* --metrics HOST:PORT, NULL: off */
} server_opts_t;

typedef struct echo_server {
    gs_net_t *net;
    gs_pool_t *pool; /* echoes are pooled packets: allocated on the IO thread, freed after send */
    /* Echoes not queued although the session was alive: out of memory, or the send queue over
     * its hard limit (the net then disconnects the session). Any IO thread adds to it. */
    _Atomic uint64_t echo_failed;
    /* Set once a second by the main thread: each IO thread gives its cached pool blocks back at
     * its next pass, so that the main thread's gs_pool_trim can return whole slabs. Blocks sit
     * in the cache of the thread that freed them, the IO thread, and pin their slabs there. */
    _Atomic uint32_t flush_caches;
    /* With --metrics: body sizes of echoed frames, one histogram per IO thread (its only
     * writer), so observing touches no line another thread writes. NULL when off. */
    gs_hist_t *frame_size;
    uint32_t threads;
} echo_server_t;

/* ---------------------------------------------------------------------------------------------
 * IO thread callbacks.
 * ------------------------------------------------------------------------------------------- */

/* Queue buf on the session and drop our reference. On failure the session is either already
 * closing (nothing to do), was cut by the net (send queue over the hard limit), or hit an
 * allocation failure, in which case we close it: an echo server that silently skips a message
 * would make the client report a loss that the server hid. */
static void echo_send(echo_server_t *s, gs_net_t *net, gs_session_id_t id, gs_buf_t *buf) {
    int rc = gs_session_send(net, id, buf);
    /* gs_session_send took its own reference (or already released it on failure). */
    gs_buf_unref(buf);
    if (rc == 0 || rc == GS_ESTALE || rc == GS_ECLOSING)
        return;
    atomic_fetch_add_explicit(&s->echo_failed, 1, memory_order_relaxed);
    if (rc == GS_ENOMEM)
        gs_session_disconnect(net, id);
}

static void no_memory(echo_server_t *s, gs_net_t *net, gs_session_id_t id) {
    atomic_fetch_add_explicit(&s->echo_failed, 1, memory_order_relaxed);
    gs_session_disconnect(net, id);
}

static void on_open(gs_net_t *net, gs_session_id_t id, void *session_user, void *user) {
    (void)net;
    (void)id;
    (void)session_user;
    (void)user;
}

static void on_frame(gs_net_t *net, gs_session_id_t id, void *session_user, uint32_t msg_id,
                     const uint8_t *body, uint32_t len, void *user) {
    (void)session_user;
    echo_server_t *s = user;
    if (s->frame_size) {
        int t = gs_net_io_thread(net);
        if (t >= 0)
            gs_hist_observe(&s->frame_size[t], len);
    }
    /* The frame as it came, without a copy where the net can lend it (gs_net_frame_hold);
     * otherwise body is only valid during this call: copy it into a pooled packet. */
    gs_buf_t *frame = gs_net_frame_hold(net);
    if (frame) {
        echo_send(s, net, id, frame);
        return;
    }
    gs_packet_t *pkt = gs_packet_frame(s->pool, msg_id, body, len);
    if (!pkt) {
        no_memory(s, net, id);
        return;
    }
    echo_send(s, net, id, &pkt->buf);
}

static void on_data(gs_net_t *net, gs_session_id_t id, void *session_user, const uint8_t *data,
                    size_t len, void *user) {
    (void)session_user;
    echo_server_t *s = user;
    if (len == 0)
        return;
    gs_buf_t *bytes = gs_net_data_hold(net);
    if (bytes) {
        echo_send(s, net, id, bytes);
        return;
    }
    /* A receive is at most one receive buffer, far below 4 GiB; refuse rather than truncate. */
    gs_packet_t *pkt = len <= UINT32_MAX ? gs_packet_alloc(s->pool, (uint32_t)len) : NULL;
    if (!pkt) {
        no_memory(s, net, id);
        return;
    }
    memcpy(gs_packet_body(pkt), data, len);
    gs_packet_finish_raw(pkt, (uint32_t)len);
    echo_send(s, net, id, &pkt->buf);
}

static int on_pass(gs_net_t *net, uint32_t io_thread, void *user) {
    (void)net;
    echo_server_t *s = user;
    uint32_t bit = 1u << (io_thread % 32);
    if (atomic_load_explicit(&s->flush_caches, memory_order_relaxed) & bit) {
        atomic_fetch_and_explicit(&s->flush_caches, ~bit, memory_order_relaxed);
        gs_pool_thread_flush(s->pool);
    }
    return 0;
}

static void on_close(gs_net_t *net, gs_session_id_t id, void *session_user,
                     gs_close_reason_t reason, void *user) {
    /* Disconnects are counted by the net per reason (gs_net_stats); nothing is held per session. */
    (void)net;
    (void)id;
    (void)session_user;
    (void)reason;
    (void)user;
}

/* ---------------------------------------------------------------------------------------------
 * Statistics (main thread).
 * ------------------------------------------------------------------------------------------- */

static uint64_t disconnects_total(const gs_net_stats_t *st) {
    uint64_t n = 0;
    for (int i = 0; i < GS_CLOSE__COUNT; i++)
        n += st->disconnects[i];
    return n;
}

static void stats_line(echo_server_t *s, const gs_net_stats_t *cur, const gs_net_stats_t *prev,
                       double dt) {
    if (dt <= 0)
        dt = 1;
    gs_pool_stats_t ps;
    gs_pool_stats(s->pool, &ps);
    fprintf(stderr,
            "%s: open %" PRIu64 " accepts %" PRIu64 " frames/s in %.0f out %.0f"
            " bytes/s in %.0f out %.0f queued %" PRIu64 " disconnects %" PRIu64
            " pool in_use %" PRIu64 " blocks %" PRIu64 " bytes %" PRIu64 "\n",
            PROG, cur->sessions_open, cur->accepts, (double)(cur->frames_in - prev->frames_in) / dt,
            (double)(cur->frames_out - prev->frames_out) / dt,
            (double)(cur->bytes_in - prev->bytes_in) / dt,
            (double)(cur->bytes_out - prev->bytes_out) / dt, cur->bufs_queued,
            disconnects_total(cur), ps.in_use, ps.blocks_total, ps.bytes_total);
}

/* Every counter of the net and pool lists (GS_NET_STATS_MAP, GS_POOL_STATS_MAP), then ours. */
static void final_line(echo_server_t *s, const gs_net_stats_t *st, uint64_t unsent) {
    gs_pool_stats_t ps;
    gs_pool_stats(s->pool, &ps);
    char buf[8192];
    gs_expo_t w;
    gs_expo_init(&w, buf, sizeof buf);
    gs_metrics_line_net(&w, st);
    gs_expo_printf(&w, " echo_failed %" PRIu64 " unsent %" PRIu64,
                   atomic_load_explicit(&s->echo_failed, memory_order_relaxed), unsent);
    gs_metrics_line_pool(&w, &ps);
    fprintf(stderr, "%s: total%s\n", PROG, buf);
}

/* The exposition at each scrape, on the metrics thread. */
static void write_metrics(gs_expo_t *w, void *user) {
    echo_server_t *s = user;
    gs_metrics_write_net(w, s->net);
    gs_pool_stats_t ps;
    gs_pool_stats(s->pool, &ps);
    gs_metrics_write_pool(w, &ps);
    gs_expo_family(w, "gs_echo_failed_total", GS_METRIC_COUNTER,
                   "Echoes not queued although the session was alive (no memory, queue full).");
    gs_expo_sample(w, "gs_echo_failed_total", NULL, 0,
                   atomic_load_explicit(&s->echo_failed, memory_order_relaxed));
    gs_hist_snap_t h, one;
    memset(&h, 0, sizeof h);
    for (uint32_t i = 0; i < s->threads; i++) {
        gs_hist_read(&s->frame_size[i], &one);
        gs_hist_snap_add(&h, &one);
    }
    gs_expo_family(w, "gs_echo_frame_size_bytes", GS_METRIC_HISTOGRAM,
                   "Body sizes of the frames echoed.");
    gs_expo_histogram(w, "gs_echo_frame_size_bytes", NULL, 0, &h, 1.0);
}

/* ---------------------------------------------------------------------------------------------
 * Options.
 * ------------------------------------------------------------------------------------------- */

static void usage(FILE *f) {
    fprintf(f,
            "usage: %s [options]\n"
            "\n"
            "Echoes every frame back with the same message id and body (or, with --raw, every\n"
            "byte). Prints \"%s: listening on HOST:PORT (framed|raw, BACKEND, N threads, idle\n"
            "timeout MS ms)\" on stdout when ready; SIGINT or SIGTERM stops it cleanly.\n"
            "\n"
            "Options:\n"
            "  --host ADDR              numeric IPv4 or IPv6 address to bind (default 127.0.0.1)\n"
            "  --port N                 port (default 7000; 0 picks a free one and prints it)\n"
            "  --threads N              IO threads (default 1)\n"
            "  --backend NAME           auto, io_uring or epoll (default auto: io_uring, or epoll\n"
            "                           where io_uring is refused; GS_NET_BACKEND overrides auto)\n"
            "  --raw                    echo raw bytes instead of frames\n"
            "  --max-sessions N         session table capacity (default: net default, 16384)\n"
            "  --max-frame BYTES        largest frame body accepted (default 65536)\n"
            "  --stats                  print counters to stderr once a second\n"
            "  --metrics [HOST:]PORT    serve Prometheus /metrics and /healthz there (off;\n"
            "                           HOST defaults to 127.0.0.1; port 0 picks one)\n"
            "  --send-hard-limit BYTES  queued bytes that cut a session at once (default 1 MiB;\n"
            "                           'off' disables)\n"
            "  --send-soft-limit BYTES  queued bytes that cut a session after a grace period\n"
            "                           (default 256 KiB; 'off' disables)\n"
            "  --recv-pause-bytes BYTES stop reading a session whose queued replies pass this\n"
            "                           until they drain to half (default: the soft limit or half\n"
            "                           the hard one, whichever is lower; 'off' disables)\n"
            "  --recv-rate-bytes N      cut a session receiving more than N bytes/s (2 s\n"
            "                           burst; default off)\n"
            "  --recv-rate-frames N     cut a session receiving more than N frames/s (2 s\n"
            "                           burst; default off)\n"
            "  --idle-timeout-ms MS     close sessions silent for this long (default 60000;\n"
            "                           0: off)\n"
            "  --addr-max-sessions N    sessions one peer address (IPv4, IPv6 /64) may hold\n"
            "                           (default 64; 0: off)\n"
            "  --addr-accept-rate N     connections per second one address may open beyond\n"
            "                           its burst (default 20; 0: off); after a cut for\n"
            "                           abuse it waits burst / rate seconds\n"
            "  --addr-accept-burst N    connections an address may open at once (default 2 x\n"
            "                           the rate)\n"
            "  --addr-limit-loopback    apply the per-address limits to 127.0.0.0/8 and ::1 too\n"
            "                           (exempt by default)\n"

            "  --help                   show this text\n"
            "  --version                print the version and exit\n"
            "\n"
            "Exit status: 0 after a clean stop, 1 if it could not start, 2 usage error.\n",
            PROG, PROG);
}

static int opt_error(const char *fmt, ...) GS_PRINTF(1, 2);
static int opt_error(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s: ", PROG);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

/* The value of option `name`: the text after '=' if given inline, else the next argument. */
static int opt_value(int argc, char **argv, int *i, const char *name, const char *inl,
                     const char **out) {
    if (inl) {
        *out = inl;
        return 0;
    }
    if (*i + 1 >= argc)
        return opt_error("option %s needs a value", name);
    *out = argv[++*i];
    return 0;
}

static int parse_u32(const char *name, const char *s, uint32_t min, uint32_t max, uint32_t *out) {
    /* strtoull takes blanks and a minus sign (and then wraps): insist on digits. */
    if (s[0] < '0' || s[0] > '9')
        return opt_error("option %s: '%s' is not a number", name, s);
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0')
        return opt_error("option %s: '%s' is not a number", name, s);
    if (errno == ERANGE || v < min || v > max)
        return opt_error("option %s: %s is out of range [%lu, %lu]", name, s, (unsigned long)min,
                         (unsigned long)max);
    *out = (uint32_t)v;
    return 0;
}

/* 0 on success, 1 for --help, -1 on a usage error (message printed). */
static int parse_options(int argc, char **argv, server_opts_t *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == '\0')
            return opt_error("unexpected argument '%s' (try --help)", a);
        char name[64];
        const char *inl = NULL;
        const char *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - a) : strlen(a);
        if (n >= sizeof name)
            return opt_error("unknown option '%s' (try --help)", a);
        memcpy(name, a, n);
        name[n] = '\0';
        if (eq)
            inl = eq + 1;

        static const char *const flags[] = {"--help", "-h", "--raw", "--stats",
                                            "--addr-limit-loopback"};
        static const char *const valued[] = {"--host",
                                             "--port",
                                             "--threads",
                                             "--max-sessions",
                                             "--max-frame",
                                             "--send-hard-limit",
                                             "--send-soft-limit",
                                             "--recv-pause-bytes",
                                             "--recv-rate-bytes",
                                             "--recv-rate-frames",
                                             "--idle-timeout-ms",
                                             "--addr-max-sessions",
                                             "--backend",
                                             "--addr-accept-rate",
                                             "--addr-accept-burst",
                                             "--metrics"};
        int flag = 0, known = 0;
        for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++)
            if (strcmp(name, flags[k]) == 0)
                flag = known = 1;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
            if (strcmp(name, valued[k]) == 0)
                known = 1;
        if (!known)
            return opt_error("unknown option '%s' (try --help)", name);

        const char *v = NULL;
        uint32_t u = 0;
        if (flag) {
            if (inl)
                return opt_error("option %s takes no value", name);
        } else if (opt_value(argc, argv, &i, name, inl, &v) != 0) {
            return -1;
        }

        if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
            return 1;
        } else if (strcmp(name, "--raw") == 0) {
            o->raw = 1;
        } else if (strcmp(name, "--stats") == 0) {
            o->stats = 1;
        } else if (strcmp(name, "--backend") == 0) {
            if (gs_net_backend_parse(v, &o->backend) != 0)
                return opt_error("option --backend: '%s' is not auto, io_uring or epoll", v);
        } else if (strcmp(name, "--addr-limit-loopback") == 0) {
            o->addr_limit_loopback = 1;
        } else if (strcmp(name, "--addr-max-sessions") == 0) {
            if (parse_u32(name, v, 0, UINT32_MAX - 1u, &o->addr_max_sessions) != 0)
                return -1;
        } else if (strcmp(name, "--addr-accept-rate") == 0) {
            if (parse_u32(name, v, 0, 1000000, &o->addr_accept_rate) != 0)
                return -1;
        } else if (strcmp(name, "--addr-accept-burst") == 0) {
            if (parse_u32(name, v, 1, 1000000, &o->addr_accept_burst) != 0)
                return -1;
        } else if (strcmp(name, "--host") == 0) {
            /* Checked by gs_net_listen (GS_EADDR: not a numeric IPv4 or IPv6 address), as in
             * gs-chat-server, so that this file needs no socket header. */
            o->host = v;
        } else if (strcmp(name, "--port") == 0) {
            if (parse_u32(name, v, 0, 65535, &u) != 0)
                return -1;
            o->port = (uint16_t)u;
        } else if (strcmp(name, "--threads") == 0) {
            if (parse_u32(name, v, 1, 64, &o->threads) != 0)
                return -1;
        } else if (strcmp(name, "--max-sessions") == 0) {
            if (parse_u32(name, v, 1, 16u * 1024u * 1024u, &o->max_sessions) != 0)
                return -1;
        } else if (strcmp(name, "--max-frame") == 0) {
            if (parse_u32(name, v, 1, 1024u * 1024u * 1024u, &o->max_frame) != 0)
                return -1;
        } else if (strcmp(name, "--send-hard-limit") == 0 ||
                   strcmp(name, "--send-soft-limit") == 0) {
            if (strcmp(v, "off") == 0)
                u = UINT32_MAX;
            else if (parse_u32(name, v, 1, UINT32_MAX - 1u, &u) != 0)
                return -1;
            if (strcmp(name, "--send-hard-limit") == 0)
                o->send_hard_limit = u;
            else
                o->send_soft_limit = u;
        } else if (strcmp(name, "--recv-pause-bytes") == 0) {
            if (strcmp(v, "off") == 0)
                o->recv_pause_bytes = UINT32_MAX;
            else if (parse_u32(name, v, 1, UINT32_MAX - 1u, &o->recv_pause_bytes) != 0)
                return -1;
        } else if (strcmp(name, "--recv-rate-bytes") == 0) {
            if (parse_u32(name, v, 1, UINT32_MAX - 1u, &o->recv_rate_bytes) != 0)
                return -1;
        } else if (strcmp(name, "--recv-rate-frames") == 0) {
            if (parse_u32(name, v, 1, UINT32_MAX - 1u, &o->recv_rate_frames) != 0)
                return -1;
        } else if (strcmp(name, "--metrics") == 0) {
            o->metrics = v;
        } else if (strcmp(name, "--idle-timeout-ms") == 0) {
            if (parse_u32(name, v, 0, UINT32_MAX - 1u, &o->idle_timeout_ms) != 0)
                return -1;
        } else {
            return opt_error("unknown option '%s' (try --help)", name);
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Main.
 * ------------------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    if (cli_version(PROG, argc, argv))
        return 0;
    server_opts_t o = {.host = "127.0.0.1",
                       .port = 7000,
                       .threads = 1,
                       .idle_timeout_ms = IDLE_TIMEOUT_MS_DEFAULT,
                       .addr_max_sessions = ADDR_MAX_SESSIONS_DEFAULT,
                       .addr_accept_rate = ADDR_ACCEPT_RATE_DEFAULT};
    int prc = parse_options(argc, argv, &o);
    if (prc > 0) {
        usage(stdout);
        return 0;
    }
    if (prc < 0)
        return USAGE_EXIT;

    if (stop_signal_init() != 0) {
        fprintf(stderr, "%s: cannot set up signal handling: %s\n", PROG, strerror(errno));
        return 1;
    }

    echo_server_t srv;
    memset(&srv, 0, sizeof srv);
    atomic_init(&srv.echo_failed, 0);

    gs_net_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.cb.on_open = on_open;
    cfg.cb.on_frame = on_frame;
    cfg.cb.on_data = on_data;
    cfg.cb.on_close = on_close;
    cfg.cb.on_pass = on_pass;
    cfg.user = &srv;
    cfg.io_threads = o.threads;
    cfg.max_sessions = o.max_sessions;
    cfg.max_frame = o.max_frame;
    cfg.send_hard_limit = o.send_hard_limit;
    cfg.send_soft_limit = o.send_soft_limit;
    cfg.recv_pause_bytes = o.recv_pause_bytes;
    cfg.recv_rate_bytes = o.recv_rate_bytes;
    cfg.recv_rate_frames = o.recv_rate_frames;
    cfg.idle_timeout_ms = o.idle_timeout_ms;
    cfg.addr_max_sessions = o.addr_max_sessions;
    cfg.addr_accept_rate = o.addr_accept_rate;
    cfg.addr_accept_burst = o.addr_accept_burst;
    cfg.addr_limit_loopback = o.addr_limit_loopback;
    cfg.backend = o.backend;

    srv.pool = gs_pool_create(NULL);
    if (!srv.pool) {
        fprintf(stderr, "%s: cannot create the packet pool: out of memory\n", PROG);
        return 1;
    }
    int rc = gs_net_create(&srv.net, &cfg);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot create the network instance: %s\n", PROG, gs_strerror(rc));
        gs_pool_destroy(srv.pool);
        return 1;
    }
    gs_listen_config_t lc = {.host = o.host, .port = o.port, .raw = o.raw};
    rc = gs_net_listen(srv.net, &lc);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot listen on %s port %u: %s\n", PROG, o.host, (unsigned)o.port,
                gs_strerror(rc));
        gs_net_destroy(srv.net);
        gs_pool_destroy(srv.pool);
        return 1;
    }
    rc = gs_net_start(srv.net);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot start the IO threads: %s\n", PROG, gs_strerror(rc));
        gs_net_destroy(srv.net);
        gs_pool_destroy(srv.pool);
        return 1;
    }

    gs_metrics_server_t *metrics = NULL;
    if (o.metrics) {
        char mhost[64];
        uint16_t mport;
        rc = gs_metrics_parse_addr(o.metrics, mhost, sizeof mhost, &mport);
        srv.threads = o.threads;
        srv.frame_size = rc == 0 ? calloc(o.threads, sizeof *srv.frame_size) : NULL;
        for (uint32_t i = 0; srv.frame_size && i < o.threads; i++)
            gs_hist_init(&srv.frame_size[i], gs_hist_bounds_bytes, gs_hist_bounds_bytes_count);
        if (rc == 0 && !srv.frame_size)
            rc = GS_ENOMEM;
        gs_metrics_config_t mc = {
            .host = mhost, .port = mport, .write = write_metrics, .user = &srv};
        if (rc == 0)
            rc = gs_metrics_server_start(&metrics, &mc);
        if (rc != 0) {
            fprintf(stderr, "%s: cannot serve metrics on %s: %s\n", PROG, o.metrics,
                    gs_strerror(rc));
            gs_net_stop(srv.net, 0);
            gs_net_destroy(srv.net);
            gs_pool_destroy(srv.pool);
            free(srv.frame_size);
            return 1;
        }
        /* The net's frame-size and flush-depth histograms: only when exported. */
        gs_net_set_histograms(srv.net, 1);
        int mv6 = strchr(mhost, ':') != NULL;
        printf("%s: metrics on %s%s%s:%u\n", PROG, mv6 ? "[" : "", mhost, mv6 ? "]" : "",
               (unsigned)gs_metrics_server_port(metrics));
    }

    /* Tests wait for this exact line, so it goes out (and is flushed) only once accepting. */
    int v6 = strchr(o.host, ':') != NULL;
    printf("%s: listening on %s%s%s:%u (%s, %s, %" PRIu32 " threads, idle timeout %" PRIu32
           " ms)\n",
           PROG, v6 ? "[" : "", o.host, v6 ? "]" : "", (unsigned)gs_net_listen_port(srv.net),
           o.raw ? "raw" : "framed", gs_net_backend_name(srv.net), o.threads, o.idle_timeout_ms);
    fflush(stdout);

    gs_net_stats_t prev, cur;
    gs_net_stats(srv.net, &prev);
    uint64_t prev_ns = gs_now_ns();
    uint64_t tick = prev_ns + TICK_NS;
    while (!stop_signal_requested()) {
        /* Without --stats there is nothing to do until a signal; still wake once a second so
         * that a signal taken by a thread that does not block it (which should not exist) is
         * noticed anyway. */
        stop_signal_wait(tick);
        uint64_t now = gs_now_ns();
        if (now < tick)
            continue;
        /* Slabs whose blocks all came back (a burst of queued echoes was sent or its session
         * cut) go back to the system, so RSS follows what is held, not the peak. */
        gs_pool_trim(srv.pool);
        atomic_store_explicit(&srv.flush_caches, UINT32_MAX, memory_order_relaxed);
        if (o.stats) {
            gs_net_stats(srv.net, &cur);
            stats_line(&srv, &cur, &prev, (double)(now - prev_ns) / 1e9);
            prev = cur;
            prev_ns = now;
        }
        tick += TICK_NS;
        if (tick <= now)
            tick = now + TICK_NS; /* skip ticks missed during a stall */
    }

    fprintf(stderr, "%s: stopping (flushing for up to %u ms)\n", PROG, STOP_FLUSH_MS);
    /* /healthz says 503 while the sends flush; the scrapes go on until the net is stopped. */
    if (metrics)
        gs_metrics_server_set_draining(metrics, 1);
    uint64_t unsent = gs_net_stop(srv.net, STOP_FLUSH_MS);
    gs_metrics_server_stop(metrics);
    gs_net_stats(srv.net, &cur);
    final_line(&srv, &cur, unsent);
    gs_net_destroy(srv.net);
    free(srv.frame_size);
    /* After the IO threads are joined: every packet has been released. */
    gs_pool_destroy(srv.pool);
    printf("%s: stopped\n", PROG);
    fflush(stdout);
    return 0;
}

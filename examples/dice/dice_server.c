/* SPDX-License-Identifier: MIT */
/* The tutorial's game server (docs/tutorial.md): one table actor owns the players and the round;
 * session handlers forward to it; a repeating timer ends each round. Usage:
 *   dice-server [PORT [IDLE_MS]]   (0 picks a free port; prints "dice-server: listening on PORT
 *                                   (idle timeout IDLE_MS ms)"; IDLE_MS 0 turns it off) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dice_proto.h"
#include "gs/content.h"

#define MAX_PLAYERS 64
#define ROUND_MS    1000
#define NAME_BYTES  32 /* with the terminator */
/* A player who sends nothing (not even a roll) for this long loses the seat: without it, idle
 * connections would keep seats and session slots for ever. A game client rolls every round. */
#define IDLE_MS_DEFAULT 30000u
#define SESSIONS        1024u /* a table seats 64: spare slots for spectators and reconnects */

/* ---- the table: an actor, so its state needs no lock ------------------------------------- */

typedef struct table {
    gs_session_id_t ids[MAX_PLAYERS];
    char names[MAX_PLAYERS][NAME_BYTES];
    uint32_t count, round;
    uint32_t best; /* highest roll this round (0: none yet) */
    char winner[NAME_BYTES];
    uint64_t rng;
} table_t;

typedef struct join_job {
    gs_session_id_t session;
    char name[NAME_BYTES];
} join_job_t;

/* Copy at most cap - 1 bytes of the UTF-8 string src, never cutting a character in two (the
 * decoder has checked that src is valid UTF-8; a cut character would not be). */
static void copy_utf8(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--; /* src[n] continues a character: cut before that character starts */
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int seat_of(const table_t *t, gs_session_id_t who) {
    for (uint32_t i = 0; i < t->count; i++)
        if (t->ids[i] == who)
            return (int)i;
    return -1;
}

static gs_actor_t *table_actor; /* created in main before start, read-only afterwards */

static void table_join(gs_ctx_t *ctx, void *data, size_t len) {
    (void)len;
    join_job_t *j = data;
    table_t *t = gs_actor_user(ctx->actor);
    int seat = seat_of(t, j->session);
    if (seat >= 0) {
        /* Joining again renames the player: one session, one seat. */
        memcpy(t->names[seat], j->name, sizeof(t->names[0]));
    } else if (t->count == MAX_PLAYERS) {
        gs_app_disconnect(ctx->app, j->session); /* a full table; a real game would reply */
        return;
    } else {
        t->ids[t->count] = j->session;
        memcpy(t->names[t->count], j->name, sizeof(t->names[0]));
        t->count++;
    }
    Dice__Welcome w = DICE__WELCOME__INIT;
    w.players = t->count;
    w.round_ms = ROUND_MS;
    gs_app_send(ctx->app, j->session, &w.base);
}

static void table_roll(gs_ctx_t *ctx, void *data, size_t len) {
    (void)len;
    gs_session_id_t who = *(gs_session_id_t *)data;
    table_t *t = gs_actor_user(ctx->actor);
    for (uint32_t i = 0; i < t->count; i++) {
        if (t->ids[i] != who)
            continue;
        t->rng = t->rng * 6364136223846793005ull + 1442695040888963407ull;
        Dice__Rolled r = DICE__ROLLED__INIT;
        r.name = t->names[i];
        r.value = (uint32_t)(t->rng >> 33) % 6 + 1;
        r.round = t->round;
        if (r.value > t->best) {
            t->best = r.value;
            memcpy(t->winner, t->names[i], sizeof(t->winner));
        }
        /* One encode, one reference per player. */
        gs_app_broadcast(ctx->app, t->ids, t->count, &r.base, NULL);
    }
}

static void table_leave(gs_ctx_t *ctx, void *data, size_t len) {
    (void)len;
    gs_session_id_t who = *(gs_session_id_t *)data;
    table_t *t = gs_actor_user(ctx->actor);
    for (uint32_t i = 0; i < t->count; i++) {
        if (t->ids[i] == who) {
            t->count--;
            t->ids[i] = t->ids[t->count];
            memcpy(t->names[i], t->names[t->count], sizeof(t->names[0]));
            break;
        }
    }
}

/* The repeating timer: a job on the table actor, in line with joins and rolls. */
static void table_tick(gs_ctx_t *ctx, void *data, size_t len) {
    (void)data;
    (void)len;
    table_t *t = gs_actor_user(ctx->actor);
    if (t->best) {
        Dice__RoundOver o = DICE__ROUND_OVER__INIT;
        o.round = t->round;
        o.winner = t->winner;
        o.value = t->best;
        gs_app_broadcast(ctx->app, t->ids, t->count, &o.base, NULL);
    }
    t->round++;
    t->best = 0;
}

/* ---- session handlers: run on each session's own actor ------------------------------------ */

static void on_join(gs_ctx_t *ctx, const ProtobufCMessage *msg, void *user) {
    (void)user;
    const Dice__Join *j = (const Dice__Join *)msg;
    join_job_t job = {.session = ctx->session};
    copy_utf8(job.name, sizeof(job.name), j->name);
    gs_actor_post(table_actor, table_join, &job, sizeof(job));
}

static void on_roll(gs_ctx_t *ctx, const ProtobufCMessage *msg, void *user) {
    (void)msg;
    (void)user;
    gs_actor_post(table_actor, table_roll, &ctx->session, sizeof(ctx->session));
}

static void on_close(gs_ctx_t *ctx, gs_close_reason_t reason, void *user) {
    (void)reason;
    (void)user;
    gs_actor_post(table_actor, table_leave, &ctx->session, sizeof(ctx->session));
}

/* ---- main ---------------------------------------------------------------------------------- */

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv) {
    uint16_t port = argc > 1 ? (uint16_t)atoi(argv[1]) : 7100;
    uint32_t idle_ms = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : IDLE_MS_DEFAULT;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    gs_app_t *app;
    gs_app_config_t cfg = {.workers = 2};
    cfg.net.idle_timeout_ms = idle_ms;
    cfg.net.max_sessions = SESSIONS;
    if (gs_app_create(&app, &cfg) != 0)
        return 1;
    dice_proto_register(gs_app_registry(app)); /* every message of dice.proto, ids from names */
    gs_app_on_message(app, &dice__join__descriptor, on_join, NULL);
    gs_app_on_message(app, &dice__roll__descriptor, on_roll, NULL);
    gs_app_on_session(app, NULL, on_close, NULL);

    static table_t table = {.rng = 42};
    table_actor = gs_actor_create(app, "table");
    gs_actor_set_user(table_actor, &table);
    gs_app_timer(app, table_actor, ROUND_MS, ROUND_MS, table_tick, NULL, 0);

    if (gs_app_listen(app, &(gs_listen_config_t){.port = port}) != 0 || gs_app_start(app) != 0) {
        fprintf(stderr, "dice-server: cannot listen on port %u\n", (unsigned)port);
        return 1;
    }
    printf("dice-server: listening on %u (idle timeout %u ms)\n", (unsigned)gs_app_listen_port(app),
           (unsigned)idle_ms);
    fflush(stdout);
    while (!stop)
        gs_sleep_ms(50); /* a game loop would live here; everything else runs on the workers */

    gs_app_stop(app, 1000); /* close sessions, run their close jobs, cancel the timer */
    gs_actor_unref(table_actor);
    gs_app_destroy(app);
    printf("dice-server: stopped\n");
    return 0;
}

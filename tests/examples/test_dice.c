/* SPDX-License-Identifier: MIT */
/* The tutorial's dice server as a user would run it: the built binary in a child process, three
 * bots speaking dice.proto over sockets: join, roll, see every roll, see the round's winner. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <unistd.h>

#include "gs_test.h"

#include "dice_proto.h"
#include "net_harness.h"
#include "pb_client.h"

enum { BOTS = 3 };

typedef struct server {
    pid_t pid;
    FILE *out;
    unsigned port;
    char line[128]; /* the rest of the "listening on" line */
} server_t;

/* Run the built dice-server on a free port; idle_ms NULL: its default. */
static void server_start(server_t *sv, const char *idle_ms) {
    int out[2];
    assert_int_equal(pipe(out), 0);
    sv->pid = fork();
    assert_true(sv->pid >= 0);
    if (sv->pid == 0) {
#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test leaves no server behind */
#endif
        dup2(out[1], 1);
        close(out[0]);
        execl(DICE_SERVER, DICE_SERVER, "0", idle_ms, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    sv->out = fdopen(out[0], "r");
    assert_int_equal(fscanf(sv->out, "dice-server: listening on %u", &sv->port), 1);
    assert_non_null(fgets(sv->line, sizeof(sv->line), sv->out));
}

/* SIGINT: a clean stop. */
static void server_stop(server_t *sv) {
    kill(sv->pid, SIGINT);
    int status = 0;
    assert_int_equal(waitpid(sv->pid, &status, 0), sv->pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    char line[128] = "";
    while (fgets(line, sizeof(line), sv->out) && strstr(line, "stopped") == NULL)
        ;
    assert_non_null(strstr(line, "dice-server: stopped"));
    fclose(sv->out);
}

static uint32_t join_as(int fd, gs_msg_registry_t *reg, const char *name) {
    Dice__Join j = DICE__JOIN__INIT;
    j.name = (char *)(uintptr_t)name;
    tc_send(fd, &j.base);
    Dice__Welcome *w = (Dice__Welcome *)tc_expect(fd, reg, &dice__welcome__descriptor);
    uint32_t players = w->players;
    protobuf_c_message_free_unpacked(&w->base, NULL);
    return players;
}

static void test_bots_play_a_round(void **state) {
    (void)state;
    server_t sv;
    server_start(&sv, NULL);
    /* Item 6 of issue 11: idle connections are cut by default. */
    assert_non_null(strstr(sv.line, "(idle timeout 30000 ms)"));
    unsigned port = sv.port;

    gs_msg_registry_t *reg = gs_msg_registry_create(0);
    assert_int_equal(dice_proto_register(reg), 0);
    int fd[BOTS];
    const char *names[BOTS] = {"ann", "bob", "cy"};
    for (int i = 0; i < BOTS; i++) {
        fd[i] = th_connect((uint16_t)port);
        Dice__Join j = DICE__JOIN__INIT;
        j.name = (char *)(uintptr_t)names[i];
        tc_send(fd[i], &j.base);
        Dice__Welcome *w = (Dice__Welcome *)tc_expect(fd[i], reg, &dice__welcome__descriptor);
        assert_int_equal(w->players, i + 1);
        protobuf_c_message_free_unpacked(&w->base, NULL);
    }
    for (int i = 0; i < BOTS; i++) {
        Dice__Roll r = DICE__ROLL__INIT;
        tc_send(fd[i], &r.base);
    }
    /* Every bot sees the three rolls (in the table's order, the same for all), then the round's
     * end naming the highest roll. A round may end between the rolls: then the rolls span two
     * rounds, and the first RoundOver names the best of those before it. */
    uint32_t values[BOTS][BOTS];
    for (int i = 0; i < BOTS; i++) {
        int rolls = 0;
        uint32_t best = 0;
        while (rolls < BOTS) {
            ProtobufCMessage *m = tc_recv(fd[i], reg);
            if (m->descriptor == &dice__rolled__descriptor) {
                Dice__Rolled *r = (Dice__Rolled *)m;
                assert_true(r->value >= 1 && r->value <= 6);
                values[i][rolls++] = r->value;
                if (r->value > best)
                    best = r->value;
            } else {
                assert_ptr_equal(m->descriptor, &dice__round_over__descriptor);
                best = 0; /* a round boundary fell between the rolls */
            }
            protobuf_c_message_free_unpacked(m, NULL);
        }
        Dice__RoundOver *o =
            (Dice__RoundOver *)tc_expect(fd[i], reg, &dice__round_over__descriptor);
        assert_int_equal(o->value, best);
        protobuf_c_message_free_unpacked(&o->base, NULL);
        if (i > 0)
            assert_memory_equal(values[i], values[0], sizeof(values[0]));
    }
    for (int i = 0; i < BOTS; i++)
        close(fd[i]);
    gs_msg_registry_destroy(reg);
    server_stop(&sv);
}

/* Item 13 of issue 11: a repeated Join keeps one seat (it used to add one each time, so one
 * client filled the table with ghosts and the next player was turned away). */
static void test_rejoin_keeps_one_seat(void **state) {
    (void)state;
    server_t sv;
    server_start(&sv, NULL);
    gs_msg_registry_t *reg = gs_msg_registry_create(0);
    assert_int_equal(dice_proto_register(reg), 0);
    int a = th_connect((uint16_t)sv.port);
    for (int i = 0; i < 70; i++)
        assert_int_equal(join_as(a, reg, "ann"), 1);
    int b = th_connect((uint16_t)sv.port);
    assert_int_equal(join_as(b, reg, "bob"), 2);
    close(a);
    close(b);
    gs_msg_registry_destroy(reg);
    server_stop(&sv);
}

/* Item 13 of issue 11: a name longer than a seat's is cut on a character boundary (snprintf
 * cut "é" in two, and every roll then carried invalid UTF-8). */
static void test_long_name_cut_on_a_character(void **state) {
    (void)state;
    server_t sv;
    server_start(&sv, NULL);
    gs_msg_registry_t *reg = gs_msg_registry_create(0);
    assert_int_equal(dice_proto_register(reg), 0);
    int a = th_connect((uint16_t)sv.port);
    char name[41] = "";
    for (int i = 0; i < 20; i++)
        strcat(name, "\xC3\xA9"); /* 40 bytes; a seat holds 31 */
    assert_int_equal(join_as(a, reg, name), 1);
    Dice__Roll r = DICE__ROLL__INIT;
    tc_send(a, &r.base);
    ProtobufCMessage *m;
    while ((m = tc_recv(a, reg))->descriptor != &dice__rolled__descriptor)
        protobuf_c_message_free_unpacked(m, NULL); /* a RoundOver of an earlier round */
    const char *got = ((Dice__Rolled *)m)->name;
    assert_int_equal(strlen(got), 30);
    assert_true(gs_utf8_valid((const uint8_t *)got, strlen(got)));
    assert_memory_equal(got, name, 30);
    protobuf_c_message_free_unpacked(m, NULL);
    close(a);
    gs_msg_registry_destroy(reg);
    server_stop(&sv);
}

/* Item 6 of issue 11: an idle connection is cut (here after 300 ms instead of the default
 * 30 s), so idle connections cannot fill the session table. */
static void test_idle_connection_cut(void **state) {
    (void)state;
    server_t sv;
    server_start(&sv, "300");
    assert_non_null(strstr(sv.line, "(idle timeout 300 ms)"));
    int a = th_connect((uint16_t)sv.port);
    assert_int_equal(th_wait_eof(a, 5000), 0);
    close(a);
    server_stop(&sv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bots_play_a_round),
        cmocka_unit_test(test_rejoin_keeps_one_seat),
        cmocka_unit_test(test_long_name_cut_on_a_character),
        cmocka_unit_test(test_idle_connection_cut),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

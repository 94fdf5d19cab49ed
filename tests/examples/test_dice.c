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
#include <unistd.h>

#include <cmocka.h>

#include "dice_proto.h"
#include "net_harness.h"
#include "pb_client.h"

enum { BOTS = 3 };

static void test_bots_play_a_round(void **state) {
    (void)state;
    int out[2];
    assert_int_equal(pipe(out), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        execl(DICE_SERVER, DICE_SERVER, "0", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    FILE *f = fdopen(out[0], "r");
    unsigned port = 0;
    assert_int_equal(fscanf(f, "dice-server: listening on %u", &port), 1);

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

    kill(pid, SIGINT);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    char line[128] = "";
    while (fgets(line, sizeof(line), f) && strstr(line, "stopped") == NULL)
        ;
    assert_non_null(strstr(line, "dice-server: stopped"));
    fclose(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bots_play_a_round),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

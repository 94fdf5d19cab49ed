/* SPDX-License-Identifier: MIT */
/* The chat server's string map: insert, replace, lookup, removal with backward shifting (every
 * remaining key still found after every removal), growth, against a plain array as reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gs_test.h"

#include "strmap.h"

static void test_basic(void **state) {
    (void)state;
    strmap_t m;
    strmap_init(&m);
    assert_null(strmap_get(&m, "a"));
    assert_null(strmap_remove(&m, "a"));
    int x = 1, y = 2;
    assert_int_equal(strmap_put(&m, "alice", &x), 0);
    assert_ptr_equal(strmap_get(&m, "alice"), &x);
    assert_int_equal(strmap_put(&m, "alice", &y), 0); /* replace */
    assert_ptr_equal(strmap_get(&m, "alice"), &y);
    assert_int_equal(m.count, 1);
    assert_null(strmap_get(&m, "alic"));
    assert_null(strmap_get(&m, "alicee"));
    assert_ptr_equal(strmap_remove(&m, "alice"), &y);
    assert_int_equal(m.count, 0);
    assert_null(strmap_get(&m, "alice"));
    strmap_fini(&m);
}

/* 3000 keys inserted, then removed in a scrambled order; after every removal every remaining
 * key is found and every removed one is not (this catches a wrong backward shift, which leaves
 * keys unreachable behind a hole). */
enum { N = 3000 };

static void test_churn_against_reference(void **state) {
    (void)state;
    static char keys[N][16];
    static int present[N];
    strmap_t m;
    strmap_init(&m);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i * 7919 % 100003);
        assert_int_equal(strmap_put(&m, keys[i], keys[i]), 0);
        present[i] = 1;
    }
    assert_int_equal(m.count, N);
    uint64_t rng = 12345;
    for (int step = 0; step < N; step++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        int i = (int)((rng >> 33) % N);
        while (!present[i])
            i = (i + 1) % N;
        assert_ptr_equal(strmap_remove(&m, keys[i]), keys[i]);
        present[i] = 0;
        if (step % 97 == 0 || N - step < 50) {
            for (int k = 0; k < N; k++)
                assert_ptr_equal(strmap_get(&m, keys[k]), present[k] ? keys[k] : NULL);
        }
    }
    assert_int_equal(m.count, 0);
    strmap_fini(&m);
}

/* Small tables, many random key sets: probe runs that wrap from the last slot to the first are
 * common here, and removal must shift across the wrap correctly. */
static void test_wraparound(void **state) {
    (void)state;
    uint64_t rng = 99;
    for (int trial = 0; trial < 2000; trial++) {
        char keys[7][16];
        int present[7];
        strmap_t m;
        strmap_init(&m);
        for (int i = 0; i < 7; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            snprintf(keys[i], sizeof(keys[i]), "w%d-%u", i, (unsigned)(rng >> 40));
            assert_int_equal(strmap_put(&m, keys[i], keys[i]), 0);
            present[i] = 1;
        }
        assert_int_equal(m.cap, 16);
        for (int step = 0; step < 7; step++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            int i = (int)((rng >> 33) % 7);
            while (!present[i])
                i = (i + 1) % 7;
            assert_ptr_equal(strmap_remove(&m, keys[i]), keys[i]);
            present[i] = 0;
            for (int k = 0; k < 7; k++)
                assert_ptr_equal(strmap_get(&m, keys[k]), present[k] ? keys[k] : NULL);
        }
        strmap_fini(&m);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_churn_against_reference),
        cmocka_unit_test(test_wraparound),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

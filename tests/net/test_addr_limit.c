/* SPDX-License-Identifier: MIT */
/* Per-address accept limits (net/addr_limit.c): keys (IPv4, IPv6 /64, mapped, loopback), the
 * session count, the token bucket and its refill, the penalty after an abuse cut, idle entries
 * forgotten only after their bucket refilled or when the pool needs room, fail-open when every
 * entry holds sessions, and concurrent acquire/release from several threads. Pure: no sockets
 * (tests/net/test_addr_limits.c drives the same limits over real connections). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gs_test.h"

#include "addr_limit.h"

static gs__addr_key_t v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    uint8_t raw[4] = {a, b, c, d};
    gs__addr_key_t k;
    gs__addr_key_make(&k, 4, raw);
    return k;
}

static gs__addr_key_t v6(const char *hex32) { /* 32 hex digits */
    uint8_t raw[16];
    for (int i = 0; i < 16; i++) {
        unsigned x = 0;
        for (int j = 0; j < 2; j++) {
            char ch = hex32[2 * i + j];
            x = x * 16 + (unsigned)(ch <= '9' ? ch - '0' : ch - 'a' + 10);
        }
        raw[i] = (uint8_t)x;
    }
    gs__addr_key_t k;
    gs__addr_key_make(&k, 6, raw);
    return k;
}

static void keys(void **state) {
    (void)state;
    gs__addr_key_t a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2), lo = v4(127, 0, 0, 2);
    assert_memory_not_equal(a.b, b.b, sizeof a.b);
    assert_false(a.loopback);
    assert_true(lo.loopback);
    /* one /64: the same key, whatever the interface id */
    gs__addr_key_t p = v6("20010db8000000010000000000000001");
    gs__addr_key_t q = v6("20010db800000001ffffffffffffffff");
    gs__addr_key_t r = v6("20010db8000000020000000000000001");
    assert_memory_equal(p.b, q.b, sizeof p.b);
    assert_memory_not_equal(p.b, r.b, sizeof p.b);
    assert_false(p.loopback);
    /* ::ffff:10.0.0.1 is 10.0.0.1; ::1 is loopback; ::ffff:127.0.0.1 too */
    gs__addr_key_t m = v6("00000000000000000000ffff0a000001");
    assert_memory_equal(m.b, a.b, sizeof a.b);
    assert_true(v6("00000000000000000000000000000001").loopback);
    assert_true(v6("00000000000000000000ffff7f000001").loopback);
    /* an IPv4 key never equals an IPv6 one with the same leading bytes */
    gs__addr_key_t x = v6("0a000001000000000000000000000000");
    assert_memory_not_equal(x.b, a.b, sizeof a.b);
}

static void session_count_per_address(void **state) {
    (void)state;
    gs__addr_limit_t al;
    assert_int_equal(gs__addr_limit_init(&al, 16, 2, 0, 0), 0);
    gs__addr_key_t a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2);
    uint32_t s1, s2, s3, s4;
    assert_int_equal(gs__addr_limit_acquire(&al, &a, 0, &s1), GS__ADDR_OK);
    assert_int_equal(gs__addr_limit_acquire(&al, &a, 0, &s2), GS__ADDR_OK);
    assert_int_equal(s1, s2); /* one entry per address */
    assert_int_equal(gs__addr_limit_acquire(&al, &a, 0, &s3), GS__ADDR_TOO_MANY);
    assert_int_equal(gs__addr_limit_acquire(&al, &b, 0, &s4), GS__ADDR_OK); /* others unaffected */
    assert_int_equal(gs__addr_limit_count(&al, &a), 2);
    gs__addr_limit_release(&al, s1, 1);
    assert_int_equal(gs__addr_limit_count(&al, &a), 1);
    assert_int_equal(gs__addr_limit_acquire(&al, &a, 1, &s3), GS__ADDR_OK); /* room again */
    gs__addr_limit_release(&al, s2, 2);
    gs__addr_limit_release(&al, s3, 2);
    gs__addr_limit_release(&al, s4, 2);
    assert_int_equal(gs__addr_limit_count(&al, &a), 0);
    assert_int_equal(al.live, 0);                       /* no bucket to keep: entries go at once */
    gs__addr_limit_release(&al, GS__ADDR_SLOT_NONE, 3); /* a no-op */
    gs__addr_limit_fini(&al);
}

static void rate_and_refill(void **state) {
    (void)state;
    gs__addr_limit_t al;
    /* 10 accepts/s, burst 3 */
    assert_int_equal(gs__addr_limit_init(&al, 16, 0, 10, 3), 0);
    gs__addr_key_t a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2);
    uint32_t s;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(gs__addr_limit_acquire(&al, &a, 1000, &s), GS__ADDR_OK);
        gs__addr_limit_release(&al, s, 1000);
    }
    assert_int_equal(gs__addr_limit_acquire(&al, &a, 1000, &s), GS__ADDR_TOO_FAST);
    assert_int_equal(gs__addr_limit_acquire(&al, &b, 1000, &s), GS__ADDR_OK);
    gs__addr_limit_release(&al, s, 1000);
    /* 99 ms: 0.99 of a token, still refused; 100 ms: one */
    assert_int_equal(gs__addr_limit_acquire(&al, &a, 1099, &s), GS__ADDR_TOO_FAST);
    assert_int_equal(gs__addr_limit_acquire(&al, &a, 1100, &s), GS__ADDR_OK);
    gs__addr_limit_release(&al, s, 1100);
    assert_int_equal(gs__addr_limit_acquire(&al, &a, 1100, &s), GS__ADDR_TOO_FAST);
    /* a long pause refills to the burst, never beyond */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(gs__addr_limit_acquire(&al, &a, 100000, &s), GS__ADDR_OK);
        gs__addr_limit_release(&al, s, 100000);
    }
    assert_int_equal(gs__addr_limit_acquire(&al, &a, 100000, &s), GS__ADDR_TOO_FAST);
    gs__addr_limit_fini(&al);
}

static void idle_entry_kept_until_refilled(void **state) {
    (void)state;
    gs__addr_limit_t al;
    assert_int_equal(gs__addr_limit_init(&al, 4, 0, 10, 2), 0);
    gs__addr_key_t a = v4(10, 0, 0, 1);
    uint32_t s;
    assert_int_equal(gs__addr_limit_acquire(&al, &a, 0, &s), GS__ADDR_OK);
    gs__addr_limit_release(&al, s, 0);
    assert_int_equal(gs__addr_limit_acquire(&al, &a, 0, &s), GS__ADDR_OK);
    gs__addr_limit_release(&al, s, 0);
    /* no session, bucket empty: the entry must stay, or the next accept gets a fresh burst */
    assert_int_equal(al.live, 1);
    assert_int_equal(gs__addr_limit_acquire(&al, &a, 0, &s), GS__ADDR_TOO_FAST);
    /* once the bucket has refilled, the entry is no longer needed and is reaped on a later call */
    gs__addr_key_t b = v4(10, 0, 0, 2);
    assert_int_equal(gs__addr_limit_acquire(&al, &b, 250, &s), GS__ADDR_OK);
    gs__addr_limit_release(&al, s, 250);
    assert_int_equal(al.live, 1); /* a reaped at 250 ms (full at 200), b kept (1 of 2 tokens) */
    assert_int_equal(gs__addr_limit_count(&al, &a), 0);
    gs__addr_limit_fini(&al);
}

static void pool_full_forgets_oldest_idle_then_fails_open(void **state) {
    (void)state;
    gs__addr_limit_t al;
    assert_int_equal(gs__addr_limit_init(&al, 2, 0, 1, 1), 0);
    gs__addr_key_t a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2), c = v4(10, 0, 0, 3);
    uint32_t sa, sb, sc;
    assert_int_equal(gs__addr_limit_acquire(&al, &a, 0, &sa), GS__ADDR_OK);
    gs__addr_limit_release(&al, sa, 0); /* idle, empty bucket */
    assert_int_equal(gs__addr_limit_acquire(&al, &b, 0, &sb), GS__ADDR_OK);
    /* pool full (a idle, b live): c takes a's entry, a is forgotten */
    assert_int_equal(gs__addr_limit_acquire(&al, &c, 0, &sc), GS__ADDR_OK);
    assert_int_equal(al.forgotten, 1);
    assert_int_not_equal(sc, GS__ADDR_SLOT_NONE);
    /* both entries hold sessions now: a new address is allowed, untracked */
    uint32_t sd;
    assert_int_equal(gs__addr_limit_acquire(&al, &a, 0, &sd), GS__ADDR_OK);
    assert_int_equal(sd, GS__ADDR_SLOT_NONE);
    gs__addr_limit_release(&al, sd, 0);
    gs__addr_limit_release(&al, sb, 0);
    gs__addr_limit_release(&al, sc, 0);
    gs__addr_limit_fini(&al);
}

static void penalty_is_a_burst_of_debt(void **state) {
    (void)state;
    gs__addr_limit_t al;
    assert_int_equal(gs__addr_limit_init(&al, 8, 0, 10, 5), 0);
    gs__addr_key_t a = v4(10, 0, 0, 1);
    uint32_t s, t;
    assert_int_equal(gs__addr_limit_acquire(&al, &a, 0, &s), GS__ADDR_OK); /* 4 tokens left */
    gs__addr_limit_penalize(&al, s, 0);
    gs__addr_limit_penalize(&al, s, 0); /* a second cut sets the debt again, it does not add */
    gs__addr_limit_release(&al, s, 0);
    /* a burst of debt (5 tokens at 10/s): 600 ms until the first token */
    assert_int_equal(gs__addr_limit_acquire(&al, &a, 0, &t), GS__ADDR_TOO_FAST);
    assert_int_equal(gs__addr_limit_acquire(&al, &a, 599, &t), GS__ADDR_TOO_FAST);
    assert_int_equal(al.live, 1); /* kept while in debt, or forgetting it would forgive it */
    assert_int_equal(gs__addr_limit_acquire(&al, &a, 600, &t), GS__ADDR_OK);
    gs__addr_limit_release(&al, t, 600);
    assert_int_equal(gs__addr_limit_acquire(&al, &a, 600, &t), GS__ADDR_TOO_FAST);
    gs__addr_limit_penalize(&al, GS__ADDR_SLOT_NONE, 100); /* a no-op */
    gs__addr_limit_fini(&al);
}

static void both_limits(void **state) {
    (void)state;
    gs__addr_limit_t al;
    assert_int_equal(gs__addr_limit_init(&al, 8, 1, 1000, 10), 0);
    gs__addr_key_t a = v4(10, 0, 0, 1);
    uint32_t s, t;
    assert_int_equal(gs__addr_limit_acquire(&al, &a, 0, &s), GS__ADDR_OK);
    /* refused for the count, each attempt still takes a token: retrying at once is held to
     * the rate too */
    for (int i = 0; i < 9; i++)
        assert_int_equal(gs__addr_limit_acquire(&al, &a, 0, &t), GS__ADDR_TOO_MANY);
    assert_int_equal(gs__addr_limit_acquire(&al, &a, 0, &t), GS__ADDR_TOO_FAST);
    gs__addr_limit_release(&al, s, 0);
    assert_int_equal(gs__addr_limit_acquire(&al, &a, 0, &s), GS__ADDR_TOO_FAST);
    assert_int_equal(gs__addr_limit_acquire(&al, &a, 1, &s), GS__ADDR_OK); /* 1 ms: 1 token */
    gs__addr_limit_release(&al, s, 1);
    gs__addr_limit_fini(&al);
}

static void bad_init(void **state) {
    (void)state;
    gs__addr_limit_t al;
    assert_int_equal(gs__addr_limit_init(&al, 0, 1, 0, 0), GS_EINVAL);
    assert_int_equal(gs__addr_limit_init(&al, 4, 0, 10, 0), GS_EINVAL); /* rate with no burst */
}

/* Many threads acquire and release over a handful of addresses: the counts come back to 0 and
 * the per-address limit is never exceeded (TSan checks the locking). */
#define THREADS 4
#define ROUNDS  20000
static gs__addr_limit_t shared;
static _Atomic int over_limit;

static void hammer(void *arg) {
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < ROUNDS; i++) {
        seed = seed * 1103515245u + 12345u;
        gs__addr_key_t k = v4(10, 0, 0, (uint8_t)((seed >> 16) % 5));
        uint32_t s;
        if (gs__addr_limit_acquire(&shared, &k, 0, &s) == GS__ADDR_OK) {
            if (gs__addr_limit_count(&shared, &k) > 3)
                over_limit = 1;
            gs__addr_limit_release(&shared, s, 0);
        }
    }
}

static void concurrent(void **state) {
    (void)state;
    assert_int_equal(gs__addr_limit_init(&shared, 64, 3, 0, 0), 0);
    gs_thread_t *th[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        assert_int_equal(gs_thread_start(&th[i], hammer, (void *)(i + 1), "hammer"), 0);
    for (int i = 0; i < THREADS; i++)
        gs_thread_join(th[i]);
    assert_int_equal(over_limit, 0);
    assert_int_equal(shared.live, 0);
    gs__addr_limit_fini(&shared);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keys),
        cmocka_unit_test(session_count_per_address),
        cmocka_unit_test(rate_and_refill),
        cmocka_unit_test(idle_entry_kept_until_refilled),
        cmocka_unit_test(pool_full_forgets_oldest_idle_then_fails_open),
        cmocka_unit_test(penalty_is_a_burst_of_debt),
        cmocka_unit_test(both_limits),
        cmocka_unit_test(bad_init),
        cmocka_unit_test(concurrent),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

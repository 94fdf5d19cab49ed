/* SPDX-License-Identifier: MIT */
/* The bounded HTTP/1.1 request parser, edge by edge, and the --metrics address parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gs_test.h"

#include "gs/metrics.h"

static int parse(const char *s) {
    gs_http_request_t r;
    return gs_http_parse(s, strlen(s), &r);
}

static void test_valid(void **state) {
    (void)state;
    const char *s = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: text/plain;q=0.5 \r\n\r\n"
                    "GARBAGE";
    gs_http_request_t r;
    assert_int_equal(gs_http_parse(s, strlen(s), &r), 200);
    assert_int_equal(r.path_len, 8);
    assert_memory_equal(r.path, "/metrics", 8);
    assert_int_equal(r.consumed, strlen(s) - strlen("GARBAGE"));
    assert_int_equal(r.minor, 1);
    assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n"), 200);
    assert_int_equal(parse("GET /healthz HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), 200);
}

/* Every proper prefix of a valid request asks for more, never errs. */
static void test_prefixes(void **state) {
    (void)state;
    const char *s = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9\r\nUser-Agent: p/2\r\n\r\n";
    size_t n = strlen(s);
    gs_http_request_t r;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(gs_http_parse(s, i, &r), 0);
    assert_int_equal(gs_http_parse(s, n, &r), 200);
}

static void test_bad(void **state) {
    (void)state;
    assert_int_equal(parse("POST /metrics HTTP/1.1\r\n\r\n"), 405);
    assert_int_equal(parse("get /metrics HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(parse("GET /metrics HTTP/2.0\r\n\r\n"), 505);
    assert_int_equal(parse("GET /metrics HTTP/1.1 \r\n\r\n"), 400);
    assert_int_equal(parse("GET metrics HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(parse("GET  /metrics HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(parse("GET /met\x01rics HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(parse("GET /metrics HTTP/1.1\n\n"), 400);          /* bare LF */
    assert_int_equal(parse("GET /metrics HTTP/1.1\rX"), 400);           /* bare CR */
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nA\r\n\r\n"), 400); /* no colon */
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\n: v\r\n\r\n"), 400);
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nA b: v\r\n\r\n"), 400);
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nA: v\x7f\r\n\r\n"), 400);
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nA: v\r\n folded\r\n\r\n"), 400);
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"), 400);
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\ncontent-length: 0x\r\n\r\n"), 400);
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
    assert_int_equal(parse("\r\nGET / HTTP/1.1\r\n\r\n"), 400);
    gs_http_request_t r;
    assert_int_equal(gs_http_parse("\x16\x03\x01\x02\x00\x01", 6, &r), 400); /* TLS hello */
    assert_int_equal(parse("SSH-2.0-OpenSSH"), 400); /* before any line end */
    assert_int_equal(parse("GE"), 0);
    assert_int_equal(gs_http_parse("GET /\0 HTTP/1.1", 15, &r), 400);
}

static void test_limits(void **state) {
    (void)state;
    gs_http_request_t r;
    char *b = malloc(GS_HTTP_REQUEST_MAX + 64);
    assert_non_null(b);
    /* Request line of exactly the limit (CRLF included) passes; one more byte is 414, already
     * before the line ends. */
    size_t target = GS_HTTP_LINE_MAX - strlen("GET  HTTP/1.1\r\n");
    memcpy(b, "GET /", 5);
    memset(b + 5, 'a', target - 1);
    strcpy(b + 4 + target, " HTTP/1.1\r\n\r\n");
    assert_int_equal(gs_http_parse(b, strlen(b), &r), 200);
    memset(b, 'A', GS_HTTP_LINE_MAX);
    memcpy(b, "GET /", 5);
    assert_int_equal(gs_http_parse(b, GS_HTTP_LINE_MAX - 1, &r), 0);
    assert_int_equal(gs_http_parse(b, GS_HTTP_LINE_MAX, &r), 414);
    /* Headers: many small ones up to the byte limit, then 431. */
    strcpy(b, "GET / HTTP/1.1\r\n");
    size_t n = strlen(b);
    while (n < GS_HTTP_LINE_MAX + GS_HTTP_HEADERS_MAX)
        b[n++] = 'x'; /* one endless header line */
    assert_int_equal(gs_http_parse(b, 16 + GS_HTTP_HEADERS_MAX - 1, &r), 0);
    assert_int_equal(gs_http_parse(b, 16 + GS_HTTP_HEADERS_MAX, &r), 431);
    /* Too many header lines. */
    strcpy(b, "GET / HTTP/1.1\r\n");
    for (unsigned i = 0; i <= GS_HTTP_HEADER_COUNT; i++)
        strcat(b, "a: b\r\n");
    strcat(b, "\r\n");
    assert_int_equal(gs_http_parse(b, strlen(b), &r), 431);
    free(b);
}

/* Random bytes and random mutations of a valid request never crash and never read past len:
 * the fuzz target does more of this; here a fixed seed in every build. */
static void test_random(void **state) {
    (void)state;
    const char *ok = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    char b[128];
    uint32_t x = 12345;
    gs_http_request_t r;
    for (int i = 0; i < 100000; i++) {
        size_t n = strlen(ok);
        memcpy(b, ok, n);
        for (int k = 0; k < 3; k++) {
            x = x * 1103515245u + 12345u;
            b[(x >> 8) % n] = (char)(x >> 20);
        }
        x = x * 1103515245u + 12345u;
        size_t len = (x >> 10) % (n + 1);
        char *heap = malloc(len ? len : 1); /* exact size: ASan catches any overread */
        memcpy(heap, b, len);
        int st = gs_http_parse(heap, len, &r);
        assert_true(st == 0 || st == 200 || st == 400 || st == 405 || st == 414 || st == 431 ||
                    st == 505);
        if (st == 200)
            assert_true(r.consumed <= len);
        free(heap);
    }
}

static void test_addr(void **state) {
    (void)state;
    char h[64];
    uint16_t p;
    assert_int_equal(gs_metrics_parse_addr("9100", h, sizeof h, &p), 0);
    assert_string_equal(h, "127.0.0.1");
    assert_int_equal(p, 9100);
    assert_int_equal(gs_metrics_parse_addr("0.0.0.0:0", h, sizeof h, &p), 0);
    assert_string_equal(h, "0.0.0.0");
    assert_int_equal(p, 0);
    assert_int_equal(gs_metrics_parse_addr("[::1]:80", h, sizeof h, &p), 0);
    assert_string_equal(h, "::1");
    assert_int_equal(gs_metrics_parse_addr("::1:80", h, sizeof h, &p), GS_EADDR);
    assert_int_equal(gs_metrics_parse_addr("host:", h, sizeof h, &p), GS_EADDR);
    assert_int_equal(gs_metrics_parse_addr("65536", h, sizeof h, &p), GS_EADDR);
    assert_int_equal(gs_metrics_parse_addr("-1", h, sizeof h, &p), GS_EADDR);
    assert_int_equal(gs_metrics_parse_addr("", h, sizeof h, &p), GS_EADDR);
    assert_int_equal(gs_metrics_parse_addr(":80", h, sizeof h, &p), GS_EADDR);
    assert_int_equal(gs_metrics_parse_addr("1.2.3.4:80x", h, sizeof h, &p), GS_EADDR);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),  cmocka_unit_test(test_prefixes), cmocka_unit_test(test_bad),
        cmocka_unit_test(test_limits), cmocka_unit_test(test_random),   cmocka_unit_test(test_addr),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

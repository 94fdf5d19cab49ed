/* SPDX-License-Identifier: MIT */
/* Unit tests of the WebSocket handshake (net/ws_handshake.c, net/sha1.c): SHA-1 against FIPS 180
 * vectors, base64, the RFC 6455 accept example, refusals, Origin lists, pipelined bytes, the
 * size bound and a client request/response round trip. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_test.h"

#include "sha1.h"
#include "ws_handshake.h"

static void hex(const uint8_t *d, char *out) {
    for (int i = 0; i < GS_SHA1_SIZE; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_sha1_vectors(void **state) {
    (void)state;
    uint8_t d[GS_SHA1_SIZE];
    char h[41];
    gs_sha1("abc", 3, d);
    hex(d, h);
    assert_string_equal(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
    gs_sha1("", 0, d);
    hex(d, h);
    assert_string_equal(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    gs_sha1(m448, strlen(m448), d);
    hex(d, h);
    assert_string_equal(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    /* A million 'a', in uneven pieces so that the block buffering is exercised. */
    gs_sha1_t s;
    gs_sha1_init(&s);
    char a[997];
    memset(a, 'a', sizeof(a));
    size_t left = 1000000;
    while (left > 0) {
        size_t n = left < sizeof(a) ? left : sizeof(a);
        gs_sha1_update(&s, a, n);
        left -= n;
    }
    gs_sha1_final(&s, d);
    hex(d, h);
    assert_string_equal(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

static void test_base64(void **state) {
    (void)state;
    static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char out[16];
        size_t n = gs_base64_encode(out, (const uint8_t *)plain[i], strlen(plain[i]));
        assert_int_equal(n, gs_base64_len(strlen(plain[i])));
        assert_string_equal(out, enc[i]);
        uint8_t back[8];
        assert_int_equal(gs_base64_decode(back, sizeof(back), enc[i], strlen(enc[i])),
                         (int)strlen(plain[i]));
        assert_memory_equal(back, plain[i], strlen(plain[i]));
    }
    uint8_t b[8];
    assert_int_equal(gs_base64_decode(b, 8, "Zg=", 3), GS_EBADMSG);
    assert_int_equal(gs_base64_decode(b, 8, "Z===", 4), GS_EBADMSG);
    assert_int_equal(gs_base64_decode(b, 8, "Zh==", 4), GS_EBADMSG); /* unused bits set */
    assert_int_equal(gs_base64_decode(b, 8, "Zg==Zg==", 8), GS_EBADMSG);
    assert_int_equal(gs_base64_decode(b, 8, "Zm 9", 4), GS_EBADMSG);
    assert_int_equal(gs_base64_decode(b, 2, "Zm9v", 4), GS_ETOOBIG);
}

/* RFC 6455 section 1.3's example (computed independently with Python's hashlib too). */
static void test_rfc_accept(void **state) {
    (void)state;
    char acc[GS_WS_ACCEPT_LEN + 1];
    gs_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", 24, acc);
    assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    char out[GS_WS_RESPONSE_MAX];
    size_t n = gs_ws_response_101(out, sizeof(out), "dGhlIHNhbXBsZSBub25jZQ==", 24);
    assert_true(n > 0);
    assert_non_null(strstr(out, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert_int_equal(gs_ws_response_101(out, 20, "dGhlIHNhbXBsZSBub25jZQ==", 24), 0);
}

#define REQ_HEAD "GET /chat HTTP/1.1\r\nHost: server.example.com\r\n"
#define REQ_WS                                                                                     \
    "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"                                    \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"

static int parse(const char *s, gs_ws_request_t *req) {
    return gs_ws_request_parse(s, strlen(s), req);
}

static void test_request_valid(void **state) {
    (void)state;
    const char *r = REQ_HEAD REQ_WS "Origin: http://example.com\r\n\r\n\x82\x80";
    gs_ws_request_t req;
    assert_int_equal(parse(r, &req), 101);
    assert_int_equal(req.consumed, strlen(r) - 2); /* the pipelined frame bytes are left */
    assert_int_equal(req.path_len, 5);
    assert_memory_equal(req.path, "/chat", 5);
    assert_memory_equal(req.key, "dGhlIHNhbXBsZSBub25jZQ==", GS_WS_KEY_LEN);
    assert_int_equal(req.origin_len, strlen("http://example.com"));
    assert_memory_equal(req.host, "server.example.com", req.host_len);
    /* Every prefix is incomplete. */
    for (size_t n = 0; n < req.consumed; n++)
        assert_int_equal(gs_ws_request_parse(r, n, &req), 0);
    /* A plain GET. */
    assert_int_equal(parse(REQ_HEAD "Accept: */*\r\n\r\n", &req), 200);
    assert_int_equal(parse(REQ_HEAD "Upgrade: h2c\r\nConnection: Upgrade\r\n\r\n", &req), 200);
    assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &req), 200);
    assert_int_equal(parse("POST / HTTP/1.1\r\nHost: a\r\n\r\n", &req), 405);
}

static void test_request_refusals(void **state) {
    (void)state;
    static const struct {
        const char *r;
        int want;
    } v[] = {
        {REQ_HEAD "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
         426},
        {REQ_HEAD "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
         400},
        {REQ_HEAD
         "Upgrade: websocket\r\nConnection: close\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
         400},
        {REQ_HEAD
         "Connection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
         400},
        {REQ_HEAD "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\nSec-WebSocket-Version: 13\r\n\r\n",
         400},
        {REQ_HEAD
         "Upgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
         400},
        {"GET /chat HTTP/1.1\r\n" REQ_WS "\r\n", 400}, /* no Host */
        {"GET /chat HTTP/1.0\r\nHost: a\r\n" REQ_WS "\r\n", 400},
        {"POST /chat HTTP/1.1\r\nHost: a\r\n" REQ_WS "\r\n", 400},
        {REQ_HEAD REQ_WS "Content-Length: 5\r\n\r\n", 400},
        {REQ_HEAD REQ_WS "Transfer-Encoding: chunked\r\n\r\n", 400},
        {REQ_HEAD " folded\r\n\r\n", 400},
        {REQ_HEAD "Bad\nHeader: x\r\n\r\n", 400}, /* bare LF */
        {REQ_HEAD "Bad\rHeader: x\r\n\r\n", 400}, /* bare CR */
        {"GET /chat HTTP/2.0\r\n", 505},
        {"\x16\x03\x01", 400}, /* TLS hello: refused at once */
        {"GET chat HTTP/1.1\r\n", 400},
        {REQ_HEAD "Origin: a\r\nOrigin: b\r\n\r\n", 400},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        gs_ws_request_t req;
        int st = parse(v[i].r, &req);
        if (st != v[i].want)
            fail_msg("case %zu: %d, want %d", i, st, v[i].want);
    }
}

static void test_request_too_long(void **state) {
    (void)state;
    static char b[GS_WS_REQUEST_MAX + 100];
    size_t n = (size_t)snprintf(b, sizeof(b), "%s", REQ_HEAD);
    while (n < sizeof(b) - 20)
        n += (size_t)snprintf(b + n, sizeof(b) - n, "X-Pad: 0123456789abcdef\r\n");
    gs_ws_request_t req;
    assert_int_equal(gs_ws_request_parse(b, GS_WS_REQUEST_MAX - 1, &req), 0);
    assert_int_equal(gs_ws_request_parse(b, GS_WS_REQUEST_MAX, &req), 431);
    assert_int_equal(gs_ws_request_parse(b, n, &req), 431);
}

static void test_origin(void **state) {
    (void)state;
    assert_true(gs_ws_origin_allowed(NULL, "http://x", 8));
    assert_true(gs_ws_origin_allowed("", "http://x", 8));
    assert_true(gs_ws_origin_allowed("http://a", NULL, 0));
    assert_true(gs_ws_origin_allowed("http://a, HTTP://X ", "http://x", 8));
    assert_true(gs_ws_origin_allowed("http://a,*", "http://x", 8));
    assert_false(gs_ws_origin_allowed("http://a, http://xy", "http://x", 8));
    assert_false(gs_ws_origin_allowed("http://x:80", "http://x", 8));
}

static void test_responses(void **state) {
    (void)state;
    char out[GS_WS_RESPONSE_MAX];
    static const int st[] = {400, 403, 404, 405, 426, 431, 500, 503, 505};
    for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
        size_t n = gs_ws_response_error(out, sizeof(out), st[i]);
        assert_true(n > 0);
        assert_non_null(strstr(out, "Connection: close\r\n"));
        const char *body = strstr(out, "\r\n\r\n") + 4;
        char cl[64];
        snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", strlen(body));
        assert_non_null(strstr(out, cl));
        assert_true((strstr(out, "Sec-WebSocket-Version: 13\r\n") != NULL) == (st[i] == 426));
    }
    assert_int_equal(gs_ws_response_error(out, sizeof(out), 418), 0);
    assert_true(gs_ws_response_200(out, sizeof(out), "text/html", 1234) > 0);
    assert_non_null(strstr(out, "Content-Length: 1234\r\n"));
    assert_int_equal(gs_ws_response_200(out, sizeof(out), "text/html\r\nX: y", 1), 0);
}

static void test_client_round_trip(void **state) {
    (void)state;
    uint8_t nonce[16];
    for (int i = 0; i < 16; i++)
        nonce[i] = (uint8_t)(i * 17 + 3);
    char req[512], key[GS_WS_KEY_LEN + 1];
    size_t n = gs_ws_client_request(req, sizeof(req), "localhost:7001", "/ws", nonce, key);
    assert_true(n > 0);
    gs_ws_request_t r;
    assert_int_equal(gs_ws_request_parse(req, n, &r), 101);
    assert_int_equal(r.consumed, n);
    assert_memory_equal(r.key, key, GS_WS_KEY_LEN);
    char resp[GS_WS_RESPONSE_MAX + 4];
    size_t rn = gs_ws_response_101(resp, GS_WS_RESPONSE_MAX, r.key, GS_WS_KEY_LEN);
    memcpy(resp + rn, "\x82\x00", 2); /* a first frame in the same read */
    size_t used;
    for (size_t k = 0; k < rn; k++)
        assert_int_equal(gs_ws_client_response_parse(resp, k, key, &used), 0);
    assert_int_equal(gs_ws_client_response_parse(resp, rn + 2, key, &used), 101);
    assert_int_equal(used, rn);
    /* A wrong key's accept, a refusal, garbage. */
    assert_int_equal(gs_ws_client_response_parse(resp, rn, "dGhlIHNhbXBsZSBub25jZQ==", &used),
                     GS_EBADMSG);
    char e[GS_WS_RESPONSE_MAX];
    size_t en = gs_ws_response_error(e, sizeof(e), 403);
    assert_int_equal(gs_ws_client_response_parse(e, en, key, &used), 403);
    assert_int_equal(gs_ws_client_response_parse("SSH-2.0", 7, key, &used), GS_EBADMSG);
    assert_int_equal(gs_ws_client_request(req, sizeof(req), "a b", "/", nonce, key), 0);
    assert_int_equal(gs_ws_client_request(req, sizeof(req), "a", "ws", nonce, key), 0);
    assert_int_equal(gs_ws_client_request(req, 30, "a", "/", nonce, key), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha1_vectors),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_rfc_accept),
        cmocka_unit_test(test_request_valid),
        cmocka_unit_test(test_request_refusals),
        cmocka_unit_test(test_request_too_long),
        cmocka_unit_test(test_origin),
        cmocka_unit_test(test_responses),
        cmocka_unit_test(test_client_round_trip),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

/* SPDX-License-Identifier: MIT */
/* Unit tests of the RFC 6455 frame codec (net/ws_frame.c) without sockets: every length class,
 * fragmentation with control frames between fragments, every cut of a stream against the whole
 * stream, every error with its close code, the message bound at header time, masking phases and
 * the header and close-payload writers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_test.h"

#include "ws_frame.h"

static const uint8_t KEY[4] = {0x37, 0xfa, 0x21, 0x3d};

/* ---------------------------------------------------------------------------------------------
 * A recorder of deliveries, and a stream builder.
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    uint8_t *data; /* every data byte, in order */
    size_t n, cap;
    size_t chunks, empty_chunks;
    size_t messages;    /* chunks with message_end */
    size_t msg_len[16]; /* length of each completed message (first 16) */
    size_t cur_len;     /* bytes of the open message */
    char events[256];   /* 'd' chunk, 'D' last chunk, 'c' close, 'p' ping, 'o' pong */
    size_t nevents;
    uint8_t ctl[8][GS_WS_CONTROL_MAX];
    size_t ctl_len[8];
    size_t controls;
    size_t stop_data_at; /* return 5 at this data chunk (1-based), 0: never */
} rec_t;

static int on_data(void *ctx, const uint8_t *p, size_t n, int end) {
    rec_t *r = ctx;
    assert_non_null(p);
    if (r->n + n > r->cap) {
        size_t c = r->cap ? r->cap : 1024;
        while (c < r->n + n)
            c *= 2;
        r->data = realloc(r->data, c);
        assert_non_null(r->data);
        r->cap = c;
    }
    if (n > 0)
        memcpy(r->data + r->n, p, n);
    r->n += n;
    r->chunks++;
    if (n == 0)
        r->empty_chunks++;
    r->cur_len += n;
    if (end) {
        if (r->messages < 16)
            r->msg_len[r->messages] = r->cur_len;
        r->messages++;
        r->cur_len = 0;
    }
    if (r->nevents < sizeof(r->events) - 1)
        r->events[r->nevents++] = end ? 'D' : 'd';
    return r->stop_data_at != 0 && r->chunks == r->stop_data_at ? 5 : 0;
}

static int on_control(void *ctx, int op, const uint8_t *p, size_t n) {
    rec_t *r = ctx;
    assert_true(n <= GS_WS_CONTROL_MAX);
    if (r->controls < 8) {
        memcpy(r->ctl[r->controls], p, n);
        r->ctl_len[r->controls] = n;
    }
    r->controls++;
    char e = op == GS_WS_OP_CLOSE ? 'c' : op == GS_WS_OP_PING ? 'p' : 'o';
    assert_true(op == GS_WS_OP_CLOSE || op == GS_WS_OP_PING || op == GS_WS_OP_PONG);
    if (r->nevents < sizeof(r->events) - 1)
        r->events[r->nevents++] = e;
    return 0;
}

static void rec_free(rec_t *r) { free(r->data); }

typedef struct {
    uint8_t *b;
    size_t n, cap;
} stream_t;

static void put(stream_t *s, const void *p, size_t n) {
    if (s->n + n > s->cap) {
        size_t c = s->cap ? s->cap : 1024;
        while (c < s->n + n)
            c *= 2;
        s->b = realloc(s->b, c);
        assert_non_null(s->b);
        s->cap = c;
    }
    memcpy(s->b + s->n, p, n);
    s->n += n;
}

/* Appends a frame; masked with KEY when mask is set. */
static void frame(stream_t *s, int op, int fin, const uint8_t *payload, size_t n, int mask) {
    uint8_t h[GS_WS_HEADER_MAX];
    size_t hn = gs_ws_header_write(h, op, fin, n, mask ? KEY : NULL);
    assert_int_equal(hn, gs_ws_header_size(n, mask));
    put(s, h, hn);
    size_t at = s->n;
    if (n > 0)
        put(s, payload, n);
    if (mask)
        gs_ws_mask(s->b + at, n, KEY, 0);
}

static uint8_t *pattern(size_t n, unsigned seed) {
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 31u + seed + (i >> 8));
    return p;
}

/* Feeds a copy of the stream cut at the given offsets (ascending); returns the first non-zero
 * result, and checks that later feeds return it too. */
static int feed_cuts(const stream_t *s, const size_t *cuts, size_t ncuts, int is_client,
                     uint64_t max, rec_t *r) {
    uint8_t *copy = malloc(s->n ? s->n : 1);
    assert_non_null(copy);
    if (s->n)
        memcpy(copy, s->b, s->n);
    gs_ws_decoder_t d;
    gs_ws_decoder_init(&d, is_client, max, on_data, on_control, r);
    size_t prev = 0;
    int first = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : s->n;
        int rc = gs_ws_decoder_feed(&d, copy + prev, end - prev);
        if (first != 0)
            assert_int_equal(rc, first);
        else
            first = rc;
        prev = end;
    }
    if (first != 0) {
        size_t before = r->chunks + r->controls;
        uint8_t junk[4] = {0x82, 0x80, 0, 0};
        assert_int_equal(gs_ws_decoder_feed(&d, junk, sizeof(junk)), first);
        assert_int_equal(r->chunks + r->controls, before);
    }
    free(copy);
    return first;
}

static int feed_whole(const stream_t *s, int is_client, uint64_t max, rec_t *r) {
    return feed_cuts(s, NULL, 0, is_client, max, r);
}

static int feed_bytewise(const stream_t *s, int is_client, uint64_t max, rec_t *r) {
    size_t *cuts = malloc((s->n ? s->n : 1) * sizeof(*cuts));
    assert_non_null(cuts);
    for (size_t i = 0; i + 1 < s->n; i++)
        cuts[i] = i + 1;
    int rc = feed_cuts(s, cuts, s->n ? s->n - 1 : 0, is_client, max, r);
    free(cuts);
    return rc;
}

/* The deliveries two recorders saw are the same message bytes, messages and events (chunk
 * boundaries may differ). */
static void same_messages(const rec_t *a, const rec_t *b) {
    assert_int_equal(a->n, b->n);
    if (a->n)
        assert_memory_equal(a->data, b->data, a->n);
    assert_int_equal(a->messages, b->messages);
    for (size_t i = 0; i < a->messages && i < 16; i++)
        assert_int_equal(a->msg_len[i], b->msg_len[i]);
    assert_int_equal(a->controls, b->controls);
    for (size_t i = 0; i < a->controls && i < 8; i++) {
        assert_int_equal(a->ctl_len[i], b->ctl_len[i]);
        assert_memory_equal(a->ctl[i], b->ctl[i], a->ctl_len[i]);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Tests.
 * ------------------------------------------------------------------------------------------- */
static void test_length_classes(void **state) {
    (void)state;
    static const size_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 70001};
    static const size_t hsize[] = {2, 2, 2, 4, 4, 4, 10, 10};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        for (int client = 0; client <= 1; client++) {
            uint8_t *p = pattern(lens[i], (unsigned)i);
            stream_t s = {0};
            frame(&s, GS_WS_OP_BINARY, 1, p, lens[i], !client);
            assert_int_equal(s.n, hsize[i] + (client ? 0 : 4) + lens[i]);
            rec_t r = {0};
            assert_int_equal(feed_whole(&s, client, 1u << 20, &r), 0);
            assert_int_equal(r.messages, 1);
            assert_int_equal(r.chunks, 1); /* one feed, one chunk, also when empty */
            assert_int_equal(r.n, lens[i]);
            if (lens[i])
                assert_memory_equal(r.data, p, lens[i]);
            rec_t rb = {0};
            assert_int_equal(feed_bytewise(&s, client, 1u << 20, &rb), 0);
            same_messages(&r, &rb);
            assert_int_equal(rb.empty_chunks, lens[i] == 0 ? 1 : 0);
            rec_free(&r);
            rec_free(&rb);
            free(s.b);
            free(p);
        }
    }
}

static void test_header_sizes(void **state) {
    (void)state;
    assert_int_equal(gs_ws_header_size(0, 0), 2);
    assert_int_equal(gs_ws_header_size(125, 0), 2);
    assert_int_equal(gs_ws_header_size(126, 0), 4);
    assert_int_equal(gs_ws_header_size(65535, 0), 4);
    assert_int_equal(gs_ws_header_size(65536, 0), 10);
    assert_int_equal(gs_ws_header_size(65536, 1), 14);
    assert_int_equal(gs_ws_header_size(0, 1), 6);

    uint8_t h[GS_WS_HEADER_MAX];
    assert_int_equal(gs_ws_header_write(h, GS_WS_OP_BINARY, 1, 5, NULL), 2);
    assert_int_equal(h[0], 0x82);
    assert_int_equal(h[1], 5);
    assert_int_equal(gs_ws_header_write(h, GS_WS_OP_BINARY, 0, 300, NULL), 4);
    assert_int_equal(h[0], 0x02);
    assert_int_equal(h[1], 126);
    assert_int_equal(h[2], 1);
    assert_int_equal(h[3], 44);
    assert_int_equal(gs_ws_header_write(h, GS_WS_OP_CONT, 1, 0x0102030405ull, KEY), 14);
    static const uint8_t want[14] = {0x80, 0xFF, 0, 0, 0, 1, 2, 3, 4, 5, 0x37, 0xfa, 0x21, 0x3d};
    assert_memory_equal(h, want, 14);
    assert_int_equal(gs_ws_header_write(h, GS_WS_OP_PING, 1, 125, NULL), 2);
    /* Arguments no valid frame has. */
    assert_int_equal(gs_ws_header_write(h, GS_WS_OP_TEXT, 1, 1, NULL), 0);
    assert_int_equal(gs_ws_header_write(h, 3, 1, 1, NULL), 0);
    assert_int_equal(gs_ws_header_write(h, GS_WS_OP_PING, 0, 1, NULL), 0);
    assert_int_equal(gs_ws_header_write(h, GS_WS_OP_CLOSE, 1, 126, NULL), 0);
    assert_int_equal(gs_ws_header_write(h, GS_WS_OP_BINARY, 1, 1ull << 63, NULL), 0);
}

static void test_fragmentation(void **state) {
    (void)state;
    uint8_t *p = pattern(1000, 7);
    stream_t s = {0};
    frame(&s, GS_WS_OP_BINARY, 0, p, 300, 1);
    frame(&s, GS_WS_OP_CONT, 0, p + 300, 0, 1); /* empty middle fragment: delivers nothing */
    frame(&s, GS_WS_OP_CONT, 0, p + 300, 200, 1);
    frame(&s, GS_WS_OP_CONT, 1, p + 500, 500, 1);
    frame(&s, GS_WS_OP_BINARY, 0, p, 10, 1);
    frame(&s, GS_WS_OP_CONT, 1, p, 0, 1); /* empty final fragment: one empty chunk, end */
    rec_t r = {0};
    assert_int_equal(feed_whole(&s, 0, 1000, &r), 0);
    assert_int_equal(r.messages, 2);
    assert_int_equal(r.msg_len[0], 1000);
    assert_int_equal(r.msg_len[1], 10);
    assert_memory_equal(r.data, p, 1000);
    assert_string_equal(r.events, "ddDdD");
    assert_int_equal(r.empty_chunks, 1);
    rec_free(&r);
    free(s.b);
    free(p);
}

static void test_control_between_fragments(void **state) {
    (void)state;
    uint8_t *p = pattern(200, 3);
    uint8_t close[GS_WS_CONTROL_MAX];
    size_t cn = gs_ws_close_payload(close, GS_WS_CLOSE_NORMAL, "bye", 3);
    stream_t s = {0};
    frame(&s, GS_WS_OP_BINARY, 0, p, 100, 1);
    frame(&s, GS_WS_OP_PING, 1, (const uint8_t *)"hello", 5, 1);
    frame(&s, GS_WS_OP_PONG, 1, NULL, 0, 1);
    frame(&s, GS_WS_OP_CONT, 0, p + 100, 50, 1);
    frame(&s, GS_WS_OP_PING, 1, p, GS_WS_CONTROL_MAX, 1);
    frame(&s, GS_WS_OP_CONT, 1, p + 150, 50, 1);
    frame(&s, GS_WS_OP_CLOSE, 1, close, cn, 1);
    frame(&s, GS_WS_OP_BINARY, 1, p, 10, 1); /* after the close: dropped */
    rec_t r = {0};
    assert_int_equal(feed_whole(&s, 0, 200, &r), 0);
    assert_string_equal(r.events, "dpodpDc");
    assert_int_equal(r.messages, 1);
    assert_memory_equal(r.data, p, 200);
    assert_int_equal(r.ctl_len[0], 5);
    assert_memory_equal(r.ctl[0], "hello", 5);
    assert_int_equal(r.ctl_len[1], 0);
    assert_int_equal(r.ctl_len[2], GS_WS_CONTROL_MAX);
    assert_memory_equal(r.ctl[2], p, GS_WS_CONTROL_MAX);
    assert_int_equal(r.ctl_len[3], 5);
    assert_memory_equal(r.ctl[3],
                        "\x03\xe8"
                        "bye",
                        5);
    rec_t rb = {0};
    assert_int_equal(feed_bytewise(&s, 0, 200, &rb), 0);
    same_messages(&r, &rb);
    rec_free(&r);
    rec_free(&rb);
    free(s.b);
    free(p);
}

/* One stream of every kind of frame, cut once at every offset (but inside a long payload), and cut
 * at every offset pair in its first 40 bytes: always the same messages as fed whole. */
static void test_every_cut(void **state) {
    (void)state;
    uint8_t *p = pattern(70000, 11);
    for (int client = 0; client <= 1; client++) {
        stream_t s = {0};
        frame(&s, GS_WS_OP_BINARY, 1, p, 0, !client);
        frame(&s, GS_WS_OP_BINARY, 1, p, 5, !client);
        frame(&s, GS_WS_OP_BINARY, 0, p, 130, !client);
        frame(&s, GS_WS_OP_PING, 1, p + 7, 20, !client);
        frame(&s, GS_WS_OP_CONT, 1, p + 130, 70, !client);
        size_t big = s.n; /* cuts go everywhere up to here and through the next header */
        frame(&s, GS_WS_OP_BINARY, 1, p, 70000, !client);
        size_t tail = s.n;
        frame(&s, GS_WS_OP_PONG, 1, p, 3, !client);
        rec_t whole = {0};
        assert_int_equal(feed_whole(&s, client, 70000, &whole), 0);
        assert_int_equal(whole.messages, 4);
        assert_int_equal(whole.controls, 2);
        for (size_t c = 0; c <= s.n; c++) {
            if (c == big + GS_WS_HEADER_MAX + 2)
                c = tail - 2; /* skip the big payload's middle: any cut there is alike */
            rec_t r = {0};
            assert_int_equal(feed_cuts(&s, &c, 1, client, 70000, &r), 0);
            same_messages(&whole, &r);
            rec_free(&r);
        }
        for (size_t a = 0; a < 40; a++) {
            for (size_t b = a; b < 40; b++) {
                size_t cuts[2] = {a, b};
                rec_t r = {0};
                assert_int_equal(feed_cuts(&s, cuts, 2, client, 70000, &r), 0);
                same_messages(&whole, &r);
                rec_free(&r);
            }
        }
        rec_free(&whole);
        free(s.b);
    }
    free(p);
}

typedef struct {
    const char *name;
    uint8_t bytes[16];
    size_t n;
    int is_client;
    int want;
} bad_t;

/* Raw frames, unmasked key 0 where masked (masking does not matter to any of these). */
static const bad_t bad[] = {
    {"rsv1", {0xC2, 0x80, 0, 0, 0, 0}, 6, 0, GS_WS_EPROTO},
    {"rsv2", {0xA2, 0x80, 0, 0, 0, 0}, 6, 0, GS_WS_EPROTO},
    {"rsv3", {0x92, 0x80, 0, 0, 0, 0}, 6, 0, GS_WS_EPROTO},
    {"opcode 3", {0x83, 0x80, 0, 0, 0, 0}, 6, 0, GS_WS_EPROTO},
    {"opcode 7", {0x87, 0x80, 0, 0, 0, 0}, 6, 0, GS_WS_EPROTO},
    {"opcode 11", {0x8B, 0x80, 0, 0, 0, 0}, 6, 0, GS_WS_EPROTO},
    {"opcode 15", {0x8F, 0x80, 0, 0, 0, 0}, 6, 0, GS_WS_EPROTO},
    {"text", {0x81, 0x80, 0, 0, 0, 0}, 6, 0, GS_WS_ETEXT},
    {"text fragment", {0x01, 0x80, 0, 0, 0, 0}, 6, 0, GS_WS_ETEXT},
    {"unmasked to server", {0x82, 0x00}, 2, 0, GS_WS_EPROTO},
    {"masked to client", {0x82, 0x80, 0, 0, 0, 0}, 6, 1, GS_WS_EPROTO},
    {"ping not fin", {0x09, 0x80, 0, 0, 0, 0}, 6, 0, GS_WS_EPROTO},
    {"close not fin", {0x08, 0x80, 0, 0, 0, 0}, 6, 0, GS_WS_EPROTO},
    {"ping 126", {0x89, 0xFE, 0, 126, 0, 0, 0, 0}, 8, 0, GS_WS_EPROTO},
    {"pong 127", {0x8A, 0xFF, 0, 0, 0, 0, 0, 0, 0, 200, 0, 0, 0, 0}, 14, 0, GS_WS_EPROTO},
    {"continuation first", {0x80, 0x80, 0, 0, 0, 0}, 6, 0, GS_WS_EPROTO},
    {"continuation first client", {0x00, 0x00}, 2, 1, GS_WS_EPROTO},
    {"binary inside message",
     {0x02, 0x80, 0, 0, 0, 0, 0x82, 0x80, 0, 0, 0, 0},
     12,
     0,
     GS_WS_EPROTO},
    {"len 64 top bit", {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 14, 0, GS_WS_EPROTO},
    {"len 16 not minimal", {0x82, 0xFE, 0, 125, 0, 0, 0, 0}, 8, 0, GS_WS_EPROTO},
    {"len 16 zero", {0x82, 0x7E, 0, 0}, 4, 1, GS_WS_EPROTO},
    {"len 64 not minimal",
     {0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0},
     14,
     0,
     GS_WS_EPROTO},
    {"close 1 byte", {0x88, 0x81, 0, 0, 0, 0, 3}, 7, 0, GS_WS_EPROTO},
    {"close 999", {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE7}, 8, 0, GS_WS_EPROTO},
    {"close 1004", {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xEC}, 8, 0, GS_WS_EPROTO},
    {"close 1005", {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xED}, 8, 0, GS_WS_EPROTO},
    {"close 1006", {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xEE}, 8, 0, GS_WS_EPROTO},
    {"close 1015", {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xF7}, 8, 0, GS_WS_EPROTO},
    {"close 2999", {0x88, 0x82, 0, 0, 0, 0, 0x0B, 0xB7}, 8, 0, GS_WS_EPROTO},
    {"close 5000", {0x88, 0x82, 0, 0, 0, 0, 0x13, 0x88}, 8, 0, GS_WS_EPROTO},
    {"close bad utf8", {0x88, 0x84, 0, 0, 0, 0, 0x03, 0xE8, 0xC0, 0x80}, 10, 0, GS_WS_EUTF8},
    {"close cut utf8", {0x88, 0x83, 0, 0, 0, 0, 0x03, 0xE8, 0xE2}, 9, 0, GS_WS_EUTF8},
    {"close surrogate", {0x88, 0x05, 0x03, 0xE8, 0xED, 0xA0, 0x80}, 7, 1, GS_WS_EUTF8},
};

static void test_errors(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        stream_t s = {0};
        put(&s, bad[i].bytes, bad[i].n);
        rec_t r = {0}, rb = {0};
        int rc = feed_whole(&s, bad[i].is_client, 1000, &r);
        int rcb = feed_bytewise(&s, bad[i].is_client, 1000, &rb);
        if (rc != bad[i].want || rcb != bad[i].want)
            fail_msg("%s: whole %d, bytewise %d, want %d", bad[i].name, rc, rcb, bad[i].want);
        assert_int_equal(r.chunks + r.controls, 0);
        assert_int_equal(rb.chunks + rb.controls, 0);
        rec_free(&r);
        rec_free(&rb);
        free(s.b);
    }
    assert_int_equal(gs_ws_close_code(GS_WS_EPROTO), 1002);
    assert_int_equal(gs_ws_close_code(GS_WS_ETEXT), 1003);
    assert_int_equal(gs_ws_close_code(GS_WS_EUTF8), 1007);
    assert_int_equal(gs_ws_close_code(GS_WS_ETOOBIG), 1009);
    assert_int_equal(gs_ws_close_code(0), 0);
    assert_int_equal(gs_ws_close_code(5), 0);
    assert_int_equal(gs_ws_close_code(-1), 0);
}

/* An error inside the first bytes shows at the byte that makes it one: feeding only up to that
 * byte already fails. */
static void test_errors_early(void **state) {
    (void)state;
    static const struct {
        uint8_t b[10];
        size_t n;
    } early[] = {
        {{0xC2}, 1},                                  /* RSV at byte 0 */
        {{0x81}, 1},                                  /* text at byte 0 */
        {{0x80}, 1},                                  /* continuation at byte 0 */
        {{0x82, 0x05}, 2},                            /* unmasked at byte 1 */
        {{0x89, 0xFE}, 2},                            /* long ping at byte 1 */
        {{0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0}, 10} /* top bit, before the mask key */
    };
    for (size_t i = 0; i < sizeof(early) / sizeof(early[0]); i++) {
        uint8_t b[10];
        memcpy(b, early[i].b, early[i].n);
        rec_t r = {0};
        gs_ws_decoder_t d;
        gs_ws_decoder_init(&d, 0, 1000, on_data, on_control, &r);
        int rc = gs_ws_decoder_feed(&d, b, early[i].n);
        assert_true(rc < 0);
        assert_int_not_equal(gs_ws_close_code(rc), 0);
    }
}

static void test_too_big_at_header(void **state) {
    (void)state;
    uint8_t *p = pattern(65536, 5);
    /* One frame over the bound: only its header is fed, and it fails. */
    for (size_t hn = 2; hn <= 14; hn += 12) {
        stream_t s = {0};
        frame(&s, GS_WS_OP_BINARY, 1, p, hn == 2 ? 101 : 65536, 1);
        size_t header = gs_ws_header_size(hn == 2 ? 101 : 65536, 1);
        s.n = header; /* no payload byte at all */
        rec_t r = {0};
        assert_int_equal(feed_bytewise(&s, 0, 100, &r), GS_WS_ETOOBIG);
        assert_int_equal(r.chunks, 0);
        rec_free(&r);
        free(s.b);
    }
    /* The bound is on the sum of the fragments: 60 + 40 fit, then 1 more does not, and none of
     * the third fragment's bytes is delivered. */
    stream_t s = {0};
    frame(&s, GS_WS_OP_BINARY, 0, p, 60, 1);
    frame(&s, GS_WS_OP_CONT, 0, p + 60, 40, 1);
    frame(&s, GS_WS_OP_CONT, 1, p + 100, 1, 1);
    rec_t r = {0};
    assert_int_equal(feed_whole(&s, 0, 100, &r), GS_WS_ETOOBIG);
    assert_int_equal(r.n, 100);
    assert_int_equal(r.messages, 0);
    rec_free(&r);
    /* Exactly at the bound it passes, and the bound resets per message. */
    stream_t t = {0};
    frame(&t, GS_WS_OP_BINARY, 0, p, 60, 1);
    frame(&t, GS_WS_OP_CONT, 1, p + 60, 40, 1);
    frame(&t, GS_WS_OP_BINARY, 1, p, 100, 1);
    frame(&t, GS_WS_OP_PING, 1, p, 125, 1); /* control frames are not counted */
    rec_t rt = {0};
    assert_int_equal(feed_whole(&t, 0, 100, &rt), 0);
    assert_int_equal(rt.messages, 2);
    rec_free(&rt);
    /* max_message 0 accepts only empty messages. */
    stream_t z = {0};
    frame(&z, GS_WS_OP_BINARY, 1, p, 0, 1);
    frame(&z, GS_WS_OP_BINARY, 1, p, 1, 1);
    rec_t rz = {0};
    assert_int_equal(feed_whole(&z, 0, 0, &rz), GS_WS_ETOOBIG);
    assert_int_equal(rz.messages, 1);
    rec_free(&rz);
    /* A 2^63 - 1 length against the largest bound does not wrap anything. */
    stream_t h = {0};
    static const uint8_t huge[] = {0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF,
                                   0xFF, 0xFF, 0xFF, 0,    0,    0,    0};
    put(&h, huge, sizeof(huge));
    rec_t rh = {0};
    gs_ws_decoder_t d;
    gs_ws_decoder_init(&d, 0, UINT64_MAX, on_data, on_control, &rh);
    assert_int_equal(gs_ws_decoder_feed(&d, h.b, h.n), 0);
    assert_true(gs_ws_decoder_partial(&d));
    assert_int_equal(rh.chunks, 0);
    rec_free(&rh);
    free(h.b);
    free(z.b);
    free(t.b);
    free(s.b);
    free(p);
}

static void test_mask_offsets(void **state) {
    (void)state;
    uint8_t *orig = pattern(1000, 9);
    uint8_t whole[1000], pieces[1000];
    memcpy(whole, orig, 1000);
    memcpy(pieces, orig, 1000);
    gs_ws_mask(whole, 1000, KEY, 0);
    for (size_t i = 0; i < 1000; i++)
        assert_int_equal(whole[i], orig[i] ^ KEY[i & 3]);
    /* In pieces of every size 1..17, continuing the phase. */
    size_t at = 0, k = 1;
    while (at < 1000) {
        size_t n = k < 1000 - at ? k : 1000 - at;
        gs_ws_mask(pieces + at, n, KEY, at);
        at += n;
        k = k % 17 + 1;
    }
    assert_memory_equal(whole, pieces, 1000);
    /* Misaligned starts and a large offset. */
    uint8_t m[40];
    memcpy(m, orig, 40);
    gs_ws_mask(m + 3, 37, KEY, (1ull << 40) + 3);
    for (size_t i = 3; i < 40; i++)
        assert_int_equal(m[i], orig[i] ^ KEY[i & 3]);
    gs_ws_mask(m + 3, 37, KEY, 3);
    assert_memory_equal(m, orig, 40);
    gs_ws_mask(whole, 1000, KEY, 0);
    assert_memory_equal(whole, orig, 1000);
    free(orig);
}

static void test_callback_stop(void **state) {
    (void)state;
    uint8_t *p = pattern(100, 1);
    stream_t s = {0};
    frame(&s, GS_WS_OP_BINARY, 1, p, 10, 1);
    frame(&s, GS_WS_OP_BINARY, 1, p, 20, 1);
    frame(&s, GS_WS_OP_BINARY, 1, p, 30, 1);
    rec_t r = {.stop_data_at = 2};
    assert_int_equal(feed_whole(&s, 0, 100, &r), 5);
    assert_int_equal(r.messages, 2);
    assert_int_equal(gs_ws_close_code(5), 0);
    rec_free(&r);
    free(s.b);
    free(p);
}

static void test_close_payload(void **state) {
    (void)state;
    uint8_t out[GS_WS_CONTROL_MAX];
    uint16_t code = 0;
    assert_int_equal(gs_ws_close_payload(out, 0, "ignored", 7), 0);
    assert_int_equal(gs_ws_close_parse(out, 0, &code), 0);
    assert_int_equal(code, 1005);
    size_t n = gs_ws_close_payload(out, GS_WS_CLOSE_TOO_BIG, "too big", 7);
    assert_int_equal(n, 9);
    assert_int_equal(gs_ws_close_parse(out, n, &code), 0);
    assert_int_equal(code, 1009);
    assert_int_equal(gs_ws_close_payload(out, 4000, NULL, 0), 2);
    assert_int_equal(gs_ws_close_parse(out, 2, &code), 0);
    assert_int_equal(code, 4000);
    /* A long reason is cut to 123 bytes at a character boundary: 61 two-byte characters and a
     * three-byte one straddling 123 leave 122. */
    char reason[200];
    size_t rn = 0;
    for (int i = 0; i < 61; i++) {
        reason[rn++] = (char)0xC3;
        reason[rn++] = (char)0xA9;
    }
    reason[rn++] = (char)0xE2;
    reason[rn++] = (char)0x82;
    reason[rn++] = (char)0xAC;
    n = gs_ws_close_payload(out, 1000, reason, rn);
    assert_int_equal(n, 2 + 122);
    assert_int_equal(gs_ws_close_parse(out, n, &code), 0);
    memset(reason, 'a', sizeof(reason));
    assert_int_equal(gs_ws_close_payload(out, 1000, reason, sizeof(reason)), GS_WS_CONTROL_MAX);
    /* Codes at the edges of the valid ranges. */
    static const uint16_t okc[] = {1000, 1003, 1007, 1011, 1014, 3000, 4999};
    static const uint16_t badc[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof(okc) / sizeof(okc[0]); i++) {
        uint8_t b[2] = {(uint8_t)(okc[i] >> 8), (uint8_t)okc[i]};
        assert_int_equal(gs_ws_close_parse(b, 2, &code), 0);
        assert_int_equal(code, okc[i]);
    }
    for (size_t i = 0; i < sizeof(badc) / sizeof(badc[0]); i++) {
        uint8_t b[2] = {(uint8_t)(badc[i] >> 8), (uint8_t)badc[i]};
        assert_int_equal(gs_ws_close_parse(b, 2, &code), GS_WS_EPROTO);
    }
}

static void test_utf8(void **state) {
    (void)state;
    static const struct {
        const char *s;
        int ok;
    } v[] = {
        {"", 1},
        {"plain ascii", 1},
        {"\xC3\xA9", 1},
        {"\xE2\x82\xAC", 1},
        {"\xF0\x9F\x98\x80", 1},
        {"\xF4\x8F\xBF\xBF", 1}, /* U+10FFFF */
        {"\xEF\xBF\xBF", 1},     /* U+FFFF */
        {"\xC0\xAF", 0},         /* overlong '/' */
        {"\xC1\xBF", 0},         /* overlong */
        {"\xE0\x9F\xBF", 0},     /* overlong 3-byte */
        {"\xF0\x8F\xBF\xBF", 0}, /* overlong 4-byte */
        {"\xED\xA0\x80", 0},     /* U+D800 */
        {"\xED\xBF\xBF", 0},     /* U+DFFF */
        {"\xF4\x90\x80\x80", 0}, /* U+110000 */
        {"\xF5\x80\x80\x80", 0}, /* lead byte too high */
        {"\x80", 0},             /* lone continuation */
        {"\xC3", 0},             /* cut */
        {"\xE2\x82", 0},         /* cut */
        {"\xE2\x28\xA1", 0},     /* bad continuation */
        {"\xF0\x9F\x98\x28", 0}, /* bad last continuation */
        {"a\xFF", 0},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        if (gs_ws_utf8_valid((const uint8_t *)v[i].s, strlen(v[i].s)) != v[i].ok)
            fail_msg("utf8 case %zu", i);
    }
}

static void test_empty_feed_and_partial(void **state) {
    (void)state;
    rec_t r = {0};
    gs_ws_decoder_t d;
    gs_ws_decoder_init(&d, 0, 100, on_data, on_control, &r);
    assert_int_equal(gs_ws_decoder_feed(&d, NULL, 0), 0);
    assert_false(gs_ws_decoder_partial(&d));
    uint8_t b[8] = {0x82, 0x82, 1, 2, 3, 4, 0, 0};
    assert_int_equal(gs_ws_decoder_feed(&d, b, 1), 0);
    assert_true(gs_ws_decoder_partial(&d));
    assert_int_equal(gs_ws_decoder_feed(&d, b + 1, 6), 0);
    assert_true(gs_ws_decoder_partial(&d));
    assert_int_equal(r.chunks, 1);
    assert_int_equal(gs_ws_decoder_feed(&d, b + 7, 1), 0);
    assert_false(gs_ws_decoder_partial(&d));
    assert_int_equal(r.messages, 1);
    assert_false(gs_ws_decoder_closed(&d));
    rec_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_length_classes),
        cmocka_unit_test(test_header_sizes),
        cmocka_unit_test(test_fragmentation),
        cmocka_unit_test(test_control_between_fragments),
        cmocka_unit_test(test_every_cut),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_errors_early),
        cmocka_unit_test(test_too_big_at_header),
        cmocka_unit_test(test_mask_offsets),
        cmocka_unit_test(test_callback_stop),
        cmocka_unit_test(test_close_payload),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_empty_feed_and_partial),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

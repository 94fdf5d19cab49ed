/* SPDX-License-Identifier: MIT */
/* Unit tests of packet/text.c: strict UTF-8 against an independent reference decoder (every 1-,
 * 2- and 3-byte input, the 4-byte boundaries), every code point's class, verdict order, length
 * limits by bytes and code points, log escaping; docs/testing.md A14, A15, A16. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include "gs_test.h"

#include "gs/packet.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------------------------------------
 * Reference model, written from RFC 3629 and the class lists, not from text.c.
 * ------------------------------------------------------------------------------------------- */

/* Decodes by bit pattern, then rejects what the value forbids: overlong, surrogate, too big. */
static int ref_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        size_t k;
        uint32_t cp, min;
        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xE0) == 0xC0) {
            k = 2, cp = b & 0x1Fu, min = 0x80;
        } else if ((b & 0xF0) == 0xE0) {
            k = 3, cp = b & 0x0Fu, min = 0x800;
        } else if ((b & 0xF8) == 0xF0) {
            k = 4, cp = b & 0x07u, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i < k)
            return 0;
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + j] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k;
    }
    return 1;
}

static size_t encode(uint32_t cp, uint8_t *out) {
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

typedef struct range {
    uint32_t lo, hi;
} range_t;

static const range_t controls[] = {{0x01, 0x1F}, {0x7F, 0x7F}, {0x80, 0x9F}};
static const range_t invisibles[] = {
    {0x061C, 0x061C}, {0x200E, 0x200F}, {0x2028, 0x2029}, {0x202A, 0x202E},
    {0x2066, 0x2069}, {0x200B, 0x200D}, {0x2060, 0x2064}, {0xFEFF, 0xFEFF},
    {0x180E, 0x180E}, {0x00AD, 0x00AD}, {0x034F, 0x034F}, {0x115F, 0x115F},
    {0x1160, 0x1160}, {0x3164, 0x3164}, {0xFFA0, 0xFFA0}, {0xE0000, 0xE007F},
};

static int in_ranges(uint32_t cp, const range_t *r, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (cp >= r[i].lo && cp <= r[i].hi)
            return 1;
    return 0;
}

static int ref_nonchar(uint32_t cp) {
    if (cp >= 0xFDD0 && cp <= 0xFDEF)
        return 1;
    for (uint32_t plane = 0; plane <= 0x10; plane++)
        if (cp == plane * 0x10000 + 0xFFFE || cp == plane * 0x10000 + 0xFFFF)
            return 1;
    return 0;
}

/* The verdict of a text made of the single code point cp. */
static gs_text_verdict_t ref_class(uint32_t cp, int allow_control, int allow_invisible) {
    if (cp == 0)
        return GS_TEXT_NUL;
    if (in_ranges(cp, controls, ARRAY_LEN(controls)))
        return allow_control ? GS_TEXT_OK : GS_TEXT_CONTROL;
    if (in_ranges(cp, invisibles, ARRAY_LEN(invisibles)))
        return allow_invisible ? GS_TEXT_OK : GS_TEXT_INVISIBLE;
    if (ref_nonchar(cp))
        return GS_TEXT_NONCHAR;
    return GS_TEXT_OK;
}

static int valid(const char *s, size_t n) { return gs_utf8_valid((const uint8_t *)s, n); }

static gs_text_verdict_t check(const char *s, size_t n, const gs_text_rules_t *rules) {
    return gs_text_check(s, n, rules, NULL);
}

#define S(lit) (lit), (sizeof(lit) - 1)

/* ---------------------------------------------------------------------------------------------
 * UTF-8.
 * ------------------------------------------------------------------------------------------- */

typedef struct seq {
    const char *bytes;
    size_t len;
    int valid;
} seq_t;

/* The last valid and first invalid sequence on each side of every range of RFC 3629's table. */
static const seq_t boundaries[] = {
    {S("\x7F"), 1},
    {S("\x80"), 0}, /* stray continuation */
    {S("\xBF"), 0},
    {S("\xC0\x80"), 0}, /* overlong U+0000 */
    {S("\xC1\xBF"), 0}, /* overlong U+007F */
    {S("\xC2\x80"), 1}, /* U+0080 */
    {S("\xC2\x7F"), 0},
    {S("\xC2\xC0"), 0},
    {S("\xDF\xBF"), 1},     /* U+07FF */
    {S("\xE0\x9F\xBF"), 0}, /* overlong U+07FF */
    {S("\xE0\xA0\x80"), 1}, /* U+0800 */
    {S("\xE0\xA0\x7F"), 0},
    {S("\xE0\xA0\xC0"), 0},
    {S("\xE0\xC0\x80"), 0},
    {S("\xE1\x80\x80"), 1},
    {S("\xE1\x7F\x80"), 0},
    {S("\xEC\xBF\xBF"), 1},
    {S("\xED\x80\x80"), 1},
    {S("\xED\x9F\xBF"), 1},             /* U+D7FF */
    {S("\xED\xA0\x80"), 0},             /* U+D800, first surrogate */
    {S("\xED\xBF\xBF"), 0},             /* U+DFFF, last surrogate */
    {S("\xED\xA0\x80\xED\xB0\x80"), 0}, /* CESU-8 pair */
    {S("\xEE\x80\x80"), 1},             /* U+E000 */
    {S("\xEF\xBF\xBF"), 1},             /* U+FFFF: valid UTF-8, a noncharacter */
    {S("\xEF\xC0\xBF"), 0},
    {S("\xF0\x8F\xBF\xBF"), 0}, /* overlong U+FFFF */
    {S("\xF0\x90\x80\x80"), 1}, /* U+10000 */
    {S("\xF0\x90\x80\x7F"), 0},
    {S("\xF0\x90\x80\xC0"), 0},
    {S("\xF0\x90\x7F\x80"), 0},
    {S("\xF1\x80\x80\x80"), 1},
    {S("\xF3\xBF\xBF\xBF"), 1},
    {S("\xF4\x80\x80\x80"), 1},
    {S("\xF4\x8F\xBF\xBF"), 1}, /* U+10FFFF */
    {S("\xF4\x90\x80\x80"), 0}, /* U+110000 */
    {S("\xF4\xBF\xBF\xBF"), 0},
    {S("\xF5\x80\x80\x80"), 0},
    {S("\xF7\xBF\xBF\xBF"), 0},
    {S("\xF8\x88\x80\x80\x80"), 0}, /* old 5-byte form */
    {S("\xFC\x84\x80\x80\x80\x80"), 0},
    {S("\xFE"), 0},
    {S("\xFF"), 0},
};

static void test_utf8_boundaries(void **state) {
    (void)state;
    uint8_t buf[64];
    for (size_t i = 0; i < ARRAY_LEN(boundaries); i++) {
        const seq_t *t = &boundaries[i];
        assert_int_equal(ref_valid((const uint8_t *)t->bytes, t->len), t->valid);
        assert_int_equal(valid(t->bytes, t->len), t->valid);
        assert_int_equal(check(t->bytes, t->len, NULL) == GS_TEXT_BAD_UTF8, !t->valid);
        /* Behind a run of ASCII long enough for the fast path, and followed by ASCII. */
        for (size_t pre = 0; pre <= 17; pre++) {
            memset(buf, 'a', sizeof(buf));
            memcpy(buf + pre, t->bytes, t->len);
            assert_int_equal(gs_utf8_valid(buf, pre + t->len), t->valid);
            assert_int_equal(gs_utf8_valid(buf, pre + t->len + 9), t->valid);
            assert_int_equal(check((const char *)buf, pre + t->len + 9, NULL) == GS_TEXT_BAD_UTF8,
                             !t->valid);
        }
    }
}

/* Every valid boundary sequence cut at each position is invalid, at the end of the input (with
 * the rest of the sequence still in memory just past it, so that reading beyond len would make
 * it look valid) or followed by ASCII. */
static void test_utf8_truncated(void **state) {
    (void)state;
    uint8_t buf[64];
    for (size_t i = 0; i < ARRAY_LEN(boundaries); i++) {
        const seq_t *t = &boundaries[i];
        if (!t->valid || t->len < 2)
            continue;
        for (size_t cut = 1; cut < t->len; cut++) {
            for (size_t pre = 0; pre <= 9; pre += 9) {
                memset(buf, 'a', sizeof(buf));
                memcpy(buf + pre, t->bytes, t->len);
                assert_false(gs_utf8_valid(buf, pre + cut));
                assert_int_equal(check((const char *)buf, pre + cut, NULL), GS_TEXT_BAD_UTF8);
                memset(buf + pre + cut, 'a', t->len - cut);
                assert_false(gs_utf8_valid(buf, pre + cut + 1));
                assert_false(gs_utf8_valid(buf, pre + cut + 20));
                uint32_t chars = 99;
                assert_int_equal(gs_text_check((const char *)buf, pre + cut, NULL, &chars),
                                 GS_TEXT_BAD_UTF8);
                assert_int_equal(chars, pre); /* code points before the bad sequence */
            }
        }
    }
}

static void test_utf8_exhaustive_1_2_3_bytes(void **state) {
    (void)state;
    uint8_t b[3];
    for (unsigned x = 0; x < 0x100; x++) {
        b[0] = (uint8_t)x;
        assert_int_equal(gs_utf8_valid(b, 1), x < 0x80);
    }
    for (unsigned x = 0; x < 0x10000; x++) {
        b[0] = (uint8_t)(x >> 8), b[1] = (uint8_t)x;
        int want = ref_valid(b, 2);
        if (gs_utf8_valid(b, 2) != want)
            fail_msg("%02X %02X: want %d", b[0], b[1], want);
        assert_int_equal(check((const char *)b, 2, NULL) == GS_TEXT_BAD_UTF8, !want);
    }
    /* A lead byte below 80 reduces to the 2-byte case above. */
    for (unsigned x = 0x800000; x < 0x1000000; x++) {
        b[0] = (uint8_t)(x >> 16), b[1] = (uint8_t)(x >> 8), b[2] = (uint8_t)x;
        int want = ref_valid(b, 3);
        if (gs_utf8_valid(b, 3) != want)
            fail_msg("%02X %02X %02X: want %d", b[0], b[1], b[2], want);
    }
}

static void test_utf8_four_byte_edges(void **state) {
    (void)state;
    static const uint8_t tails[] = {0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF};
    uint8_t b[4];
    for (unsigned lead = 0xF0; lead <= 0xFF; lead++) {
        for (unsigned second = 0; second < 0x100; second++) {
            for (size_t i = 0; i < ARRAY_LEN(tails); i++) {
                for (size_t j = 0; j < ARRAY_LEN(tails); j++) {
                    b[0] = (uint8_t)lead, b[1] = (uint8_t)second, b[2] = tails[i], b[3] = tails[j];
                    int want = ref_valid(b, 4);
                    if (gs_utf8_valid(b, 4) != want)
                        fail_msg("%02X %02X %02X %02X: want %d", b[0], b[1], b[2], b[3], want);
                }
            }
        }
    }
}

/* One bad byte at every position of an ASCII text, so that the fast path must stop on it. */
static void test_utf8_bad_byte_at_every_position(void **state) {
    (void)state;
    uint8_t buf[40];
    for (size_t len = 1; len <= sizeof(buf); len++) {
        for (size_t pos = 0; pos < len; pos++) {
            memset(buf, 'x', sizeof(buf));
            buf[pos] = 0x80;
            assert_false(gs_utf8_valid(buf, len));
            buf[pos] = 0xFF;
            assert_false(gs_utf8_valid(buf, len));
            buf[pos] = 0x7F;
            assert_true(gs_utf8_valid(buf, len));
        }
        /* A valid 2-byte character at every position, the last one cut short. */
        for (size_t pos = 0; pos + 2 <= len; pos++) {
            memset(buf, 'x', sizeof(buf));
            memcpy(buf + pos, "\xC3\xA9", 2);
            assert_true(gs_utf8_valid(buf, len));
            uint32_t chars = 0;
            assert_int_equal(gs_text_check((const char *)buf, len, NULL, &chars), GS_TEXT_OK);
            assert_int_equal(chars, len - 1);
        }
        memset(buf, 'x', sizeof(buf));
        buf[len - 1] = 0xC3;
        assert_false(gs_utf8_valid(buf, len));
    }
    assert_true(gs_utf8_valid(NULL, 0));
    assert_true(gs_utf8_valid((const uint8_t *)"", 0));
}

/* A14: overlong, surrogate, FF, truncated: bad_utf8 in a nickname; noncharacters are valid UTF-8
 * that the text check still refuses. */
static void test_a14_invalid_utf8_text(void **state) {
    (void)state;
    gs_text_rules_t nick = {.min_chars = 3, .max_chars = 16};
    static const seq_t bad[] = {
        {S("ab\xC0\xAF"), 0},  {S("ab\xED\xA0\x80"), 0},  {S("abc\xFF"), 0},
        {S("abc\xE2\x82"), 0}, {S("abc\xF0\x9F\x98"), 0}, {S("\xE2\x82zzz"), 0},
        {S("abc\xC3"), 0},     {S("abc\xBF"), 0},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        assert_false(valid(bad[i].bytes, bad[i].len));
        assert_int_equal(check(bad[i].bytes, bad[i].len, &nick), GS_TEXT_BAD_UTF8);
        assert_int_equal(check(bad[i].bytes, bad[i].len, NULL), GS_TEXT_BAD_UTF8);
    }
    static const seq_t nonchars[] = {
        {S("ab\xEF\xB7\x90"), 1},     /* U+FDD0 */
        {S("ab\xEF\xB7\xAF"), 1},     /* U+FDEF */
        {S("ab\xEF\xBF\xBE"), 1},     /* U+FFFE */
        {S("ab\xEF\xBF\xBF"), 1},     /* U+FFFF */
        {S("ab\xF0\x9F\xBF\xBE"), 1}, /* U+1FFFE */
        {S("ab\xF4\x8F\xBF\xBF"), 1}, /* U+10FFFF */
    };
    for (size_t i = 0; i < ARRAY_LEN(nonchars); i++) {
        assert_true(valid(nonchars[i].bytes, nonchars[i].len));
        assert_int_equal(check(nonchars[i].bytes, nonchars[i].len, &nick), GS_TEXT_NONCHAR);
        gs_text_rules_t lax = {.allow_control = 1, .allow_invisible = 1};
        assert_int_equal(check(nonchars[i].bytes, nonchars[i].len, &lax), GS_TEXT_NONCHAR);
    }
    /* Neighbours of the noncharacter ranges are fine. */
    assert_int_equal(check(S("ab\xEF\xB7\x8F"), &nick), GS_TEXT_OK); /* U+FDCF */
    assert_int_equal(check(S("ab\xEF\xB7\xB0"), &nick), GS_TEXT_OK); /* U+FDF0 */
    assert_int_equal(check(S("ab\xEF\xBF\xBD"), &nick), GS_TEXT_OK); /* U+FFFD */
}

/* A15: a NUL inside the text is never shortened away, even where controls are allowed. */
static void test_a15_embedded_nul(void **state) {
    (void)state;
    uint32_t chars = 0;
    assert_true(valid(S("ab\0cd"))); /* U+0000 is valid UTF-8: the text check refuses it */
    assert_int_equal(gs_text_check(S("ab\0cd"), NULL, &chars), GS_TEXT_NUL);
    assert_int_equal(chars, 5);
    gs_text_rules_t lax = {.allow_control = 1, .allow_invisible = 1};
    assert_int_equal(check(S("ab\0cd"), &lax), GS_TEXT_NUL);
    assert_int_equal(check(S("\0"), &lax), GS_TEXT_NUL);
    assert_int_equal(check(S("abcdefghijklmnop\0"), &lax), GS_TEXT_NUL);
    char buf[32];
    for (size_t pos = 0; pos < sizeof(buf); pos++) {
        memset(buf, 'n', sizeof(buf));
        buf[pos] = '\0';
        assert_int_equal(check(buf, sizeof(buf), NULL), GS_TEXT_NUL);
    }
    assert_string_equal(gs_text_verdict_name(GS_TEXT_NUL), "embedded_nul");
}

/* A16: CR, LF, ESC, NUL, U+202E, U+200B in a nickname or room name are refused; allowed
 * where the rules say so; escaped for logs. */
static void test_a16_control_and_bidi_chars(void **state) {
    (void)state;
    gs_text_rules_t nick = {.min_chars = 3, .max_chars = 16};
    assert_int_equal(check(S("bob\r"), &nick), GS_TEXT_CONTROL);
    assert_int_equal(check(S("bob\nadmin"), &nick), GS_TEXT_CONTROL);
    assert_int_equal(check(S("\x1b[31mbob"), &nick), GS_TEXT_CONTROL);
    assert_int_equal(check(S("bob\0"), &nick), GS_TEXT_NUL);
    assert_int_equal(check(S("bob\xE2\x80\xAE"), &nick), GS_TEXT_INVISIBLE);
    assert_int_equal(check(S("b\xE2\x80\x8B"
                             "ob"),
                           &nick),
                     GS_TEXT_INVISIBLE);
    assert_int_equal(check(S("bob"), &nick), GS_TEXT_OK);

    gs_text_rules_t chat = {.max_bytes = 512, .allow_control = 1, .allow_invisible = 1};
    assert_int_equal(check(S("line\r\nnext\x1b[2J"), &chat), GS_TEXT_OK);
    assert_int_equal(check(S("abc\xE2\x80\xAE"
                             "cba\xE2\x80\x8B"),
                           &chat),
                     GS_TEXT_OK);
    assert_int_equal(check(S("a\0b"), &chat), GS_TEXT_NUL);

    char out[128];
    size_t n = gs_text_escape(out, sizeof(out), S("hi\r\n\x1b[2J\xE2\x80\xAEok\xE2\x80\x8B"));
    assert_string_equal(out, "hi\\x0D\\x0A\\x1B[2J\\xE2\\x80\\xAEok\\xE2\\x80\\x8B");
    assert_int_equal(n, strlen(out));
}

/* ---------------------------------------------------------------------------------------------
 * Character classes and verdicts.
 * ------------------------------------------------------------------------------------------- */

static void test_every_code_point(void **state) {
    (void)state;
    static const gs_text_rules_t rules[4] = {{0},
                                             {.allow_control = 1},
                                             {.allow_invisible = 1},
                                             {.allow_control = 1, .allow_invisible = 1}};
    uint8_t b[8];
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        size_t n = encode(cp, b);
        assert_true(gs_utf8_valid(b, n));
        for (int r = 0; r < 4; r++) {
            uint32_t chars = 0;
            gs_text_verdict_t want =
                ref_class(cp, rules[r].allow_control, rules[r].allow_invisible);
            gs_text_verdict_t got = gs_text_check((const char *)b, n, &rules[r], &chars);
            if (got != want)
                fail_msg("U+%04X rules %d: got %s, want %s", (unsigned)cp, r,
                         gs_text_verdict_name(got), gs_text_verdict_name(want));
            assert_int_equal(chars, 1);
        }
    }
}

/* Every ASCII byte at every position of a text long enough for the fast path. */
static void test_ascii_byte_at_every_position(void **state) {
    (void)state;
    char buf[24];
    for (unsigned c = 0; c < 0x80; c++) {
        for (size_t pos = 0; pos < sizeof(buf); pos++) {
            memset(buf, 'q', sizeof(buf));
            buf[pos] = (char)c;
            uint32_t chars = 0;
            assert_int_equal(gs_text_check(buf, sizeof(buf), NULL, &chars), ref_class(c, 0, 0));
            assert_int_equal(chars, sizeof(buf));
        }
    }
}

/* Bytes and encoding, then characters, then counts, wherever each problem sits in the text. */
static void test_verdict_order(void **state) {
    (void)state;
    gs_text_rules_t r = {.min_chars = 3, .max_chars = 4, .max_bytes = 8};
    assert_int_equal(check(S("\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF"), &r), GS_TEXT_TOO_LONG);
    assert_int_equal(check(S("\0\x01\xE2\x80\xAE\xFF"), &r), GS_TEXT_BAD_UTF8);
    assert_int_equal(check(S("\x01\xE2\x80\xAE\0"), &r), GS_TEXT_NUL);
    assert_int_equal(check(S("\xEF\xBF\xBF\xE2\x80\xAE\x01"), &r), GS_TEXT_CONTROL);
    assert_int_equal(check(S("\xEF\xBF\xBF\xE2\x80\xAE"), &r), GS_TEXT_INVISIBLE);
    assert_int_equal(check(S("\xEF\xBF\xBF"), &r), GS_TEXT_NONCHAR); /* 1 char: short too */
    assert_int_equal(check(S("\x01"), &r), GS_TEXT_CONTROL);
    assert_int_equal(check(S("ab"), &r), GS_TEXT_TOO_SHORT);
    assert_int_equal(check(S("abcde"), &r), GS_TEXT_TOO_LONG);
    assert_int_equal(check(S("abcd"), &r), GS_TEXT_OK);
    /* Later problems of a higher rank win over earlier ones of a lower rank. */
    assert_int_equal(check(S("\xE2\x80\xAE"
                             "abcdefghijk\x7F"),
                           NULL),
                     GS_TEXT_CONTROL);
    assert_int_equal(check(S("\xEF\xBF\xBE"
                             "abcdefghijk\xC2\xAD"),
                           NULL),
                     GS_TEXT_INVISIBLE);
    assert_int_equal(check(S("\x01"
                             "abcdefghijk\0"),
                           NULL),
                     GS_TEXT_NUL);
    assert_int_equal(check(S("\0"
                             "abcdefghijk\xC0\x80"),
                           NULL),
                     GS_TEXT_BAD_UTF8);
    /* The flags only lift their own class. */
    gs_text_rules_t ctl = {.allow_control = 1};
    assert_int_equal(check(S("\x01\xE2\x80\xAE"), &ctl), GS_TEXT_INVISIBLE);
    gs_text_rules_t inv = {.allow_invisible = 1};
    assert_int_equal(check(S("\xE2\x80\xAE\x01"), &inv), GS_TEXT_CONTROL);
    assert_int_equal(check(S("\xE2\x80\xAE\xEF\xBF\xBF"), &inv), GS_TEXT_NONCHAR);
}

static void test_length_limits(void **state) {
    (void)state;
    uint32_t chars = 0;
    /* Bytes. */
    gs_text_rules_t b5 = {.max_bytes = 5};
    assert_int_equal(check(S("abcde"), &b5), GS_TEXT_OK);
    assert_int_equal(check(S("abcdef"), &b5), GS_TEXT_TOO_LONG);
    assert_int_equal(check(S("\xC3\xA9\xC3\xA9"
                             "a"),
                           &b5),
                     GS_TEXT_OK);
    assert_int_equal(check(S("\xC3\xA9\xC3\xA9\xC3\xA9"), &b5), GS_TEXT_TOO_LONG); /* 3 chars */
    assert_int_equal(gs_text_check(S("abcdefgh"), &b5, &chars), GS_TEXT_TOO_LONG);
    assert_int_equal(chars, 0); /* refused before counting */

    /* Code points, not bytes: U+00E9 is 2 bytes, U+20AC 3, U+1F600 4. */
    gs_text_rules_t c3 = {.min_chars = 3, .max_chars = 3};
    assert_int_equal(gs_text_check(S("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"), &c3, &chars),
                     GS_TEXT_OK);
    assert_int_equal(chars, 3);
    assert_int_equal(gs_text_check(S("\xF0\x9F\x98\x80\xF0\x9F\x98\x80"), &c3, &chars),
                     GS_TEXT_TOO_SHORT); /* 8 bytes, 2 chars */
    assert_int_equal(chars, 2);
    assert_int_equal(check(S("abcd"), &c3), GS_TEXT_TOO_LONG);
    assert_int_equal(check(S("ab"), &c3), GS_TEXT_TOO_SHORT);
    assert_int_equal(check(S("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"), &c3), GS_TEXT_TOO_LONG);

    gs_text_rules_t one = {.min_chars = 1};
    assert_int_equal(check("", 0, &one), GS_TEXT_TOO_SHORT);
    assert_int_equal(check("", 0, NULL), GS_TEXT_OK);
    assert_int_equal(gs_text_check(NULL, 0, NULL, &chars), GS_TEXT_OK);
    assert_int_equal(chars, 0);

    /* ASCII counted through the fast path, at every length around the nickname limit. */
    gs_text_rules_t nick = {.min_chars = 3, .max_chars = 16};
    char buf[64];
    memset(buf, 'z', sizeof(buf));
    for (size_t n = 0; n <= sizeof(buf); n++) {
        gs_text_verdict_t want = n < 3 ? GS_TEXT_TOO_SHORT : n > 16 ? GS_TEXT_TOO_LONG : GS_TEXT_OK;
        assert_int_equal(gs_text_check(buf, n, &nick, &chars), want);
        assert_int_equal(chars, n);
    }
    /* Mixed: 2-byte characters behind ASCII runs. */
    for (size_t n = 0; n + 2 <= sizeof(buf); n++) {
        memset(buf, 'z', sizeof(buf));
        memcpy(buf + n, "\xC3\xA9", 2);
        assert_int_equal(gs_text_check(buf, sizeof(buf), NULL, &chars), GS_TEXT_OK);
        assert_int_equal(chars, sizeof(buf) - 1);
    }
    /* max_chars 0 means no limit. */
    char big[3000];
    memset(big, 'k', sizeof(big));
    assert_int_equal(gs_text_check(big, sizeof(big), NULL, &chars), GS_TEXT_OK);
    assert_int_equal(chars, sizeof(big));
}

static void test_verdict_names(void **state) {
    (void)state;
    static const char *const want[GS_TEXT__COUNT] = {
        "ok",
        "too_short",
        "too_long",
        "bad_utf8",
        "embedded_nul",
        "control_char",
        "invisible_or_bidi_char",
        "noncharacter",
    };
    assert_int_equal(GS_TEXT__COUNT, 8);
    for (int v = 0; v < GS_TEXT__COUNT; v++)
        assert_string_equal(gs_text_verdict_name((gs_text_verdict_t)v), want[v]);
    assert_string_equal(gs_text_verdict_name(GS_TEXT__COUNT), "unknown");
    assert_string_equal(gs_text_verdict_name((gs_text_verdict_t)-1), "unknown");
}

/* ---------------------------------------------------------------------------------------------
 * Escaping.
 * ------------------------------------------------------------------------------------------- */

static void test_escape_exact(void **state) {
    (void)state;
    char out[256];
    assert_int_equal(gs_text_escape(out, sizeof(out), S("Hello, world! ~{}[]\\")), 23);
    assert_string_equal(out, "Hello, world! ~{}[]\\x5C");
    assert_int_equal(gs_text_escape(out, sizeof(out), S("\x00\x1F\x20\x7E\x7F\x80\xFF")), 22);
    assert_string_equal(out, "\\x00\\x1F ~\\x7F\\x80\\xFF");
    assert_int_equal(gs_text_escape(out, sizeof(out), S("caf\xC3\xA9")), 11);
    assert_string_equal(out, "caf\\xC3\\xA9");
    assert_int_equal(gs_text_escape(out, sizeof(out), S("bad\xC0\xAF")), 11);
    assert_string_equal(out, "bad\\xC0\\xAF");
    memset(out, 'Z', sizeof(out));
    assert_int_equal(gs_text_escape(out, sizeof(out), "", 0), 0);
    assert_string_equal(out, "");
    /* Every byte: printable ASCII as is, the rest as four characters. */
    for (unsigned c = 0; c < 0x100; c++) {
        char in = (char)c;
        size_t n = gs_text_escape(out, sizeof(out), &in, 1);
        if (c >= 0x20 && c <= 0x7E && c != '\\') {
            assert_int_equal(n, 1);
            assert_int_equal((unsigned char)out[0], c);
        } else {
            char want[8];
            snprintf(want, sizeof(want), "\\x%02X", c);
            assert_int_equal(n, 4);
            assert_string_equal(out, want);
        }
    }
}

static void test_escape_truncation(void **state) {
    (void)state;
    char out[16];
    memset(out, 'Z', sizeof(out));
    assert_int_equal(gs_text_escape(out, 7, S("abcdef")), 6); /* fits exactly */
    assert_string_equal(out, "abcdef");
    assert_int_equal(gs_text_escape(out, 6, S("abcdef")), 5);
    assert_string_equal(out, "ab...");
    assert_int_equal(gs_text_escape(out, 5, S("abcdef")), 4);
    assert_string_equal(out, "a...");
    assert_int_equal(gs_text_escape(out, 4, S("abcdef")), 3);
    assert_string_equal(out, "...");
    assert_int_equal(gs_text_escape(out, 3, S("abcdef")), 2);
    assert_string_equal(out, "..");
    assert_int_equal(gs_text_escape(out, 2, S("abcdef")), 1);
    assert_string_equal(out, ".");
    assert_int_equal(gs_text_escape(out, 1, S("abcdef")), 0);
    assert_string_equal(out, "");
    assert_int_equal(gs_text_escape(NULL, 0, S("abcdef")), 0);
    /* An escape is never cut in half. */
    assert_int_equal(gs_text_escape(out, 7,
                                    S("a\x01"
                                      "b")),
                     6);
    assert_string_equal(out, "a\\x01b");
    assert_int_equal(gs_text_escape(out, 6,
                                    S("a\x01"
                                      "b")),
                     4);
    assert_string_equal(out, "a...");
    assert_int_equal(gs_text_escape(out, 11,
                                    S("a\x01\x02"
                                      "b")),
                     10); /* fits exactly */
    assert_string_equal(out, "a\\x01\\x02b");
    memset(out, 'Z', sizeof(out));
    assert_int_equal(gs_text_escape(out, 10,
                                    S("a\x01\x02"
                                      "b")),
                     8);
    assert_string_equal(out, "a\\x01...");
    assert_int_equal(gs_text_escape(out, 8,
                                    S("a\x01\x02"
                                      "b")),
                     4);
    assert_string_equal(out, "a...");
    for (size_t i = 10; i < sizeof(out); i++)
        assert_int_equal(out[i], 'Z'); /* nothing written past cap */
}

/* Every cap for a mixed text: the output is the longest whole-unit prefix of the full escape
 * that leaves room for "...", then the dots, never past cap. */
static void test_escape_every_cap(void **state) {
    (void)state;
    static const char in[] = "ab\x01\xE2\x80\xAE"
                             "cd\x7F"
                             "e";
    const size_t len = sizeof(in) - 1;
    /* Unit boundaries of the full escape. */
    char full[128];
    size_t full_len = gs_text_escape(full, sizeof(full), in, len);
    assert_string_equal(full, "ab\\x01\\xE2\\x80\\xAEcd\\x7Fe");
    size_t ends[16], nends = 0, o = 0;
    ends[nends++] = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        o += (c >= 0x20 && c < 0x7F) ? 1 : 4;
        ends[nends++] = o;
    }
    assert_int_equal(o, full_len);
    char out[64];
    for (size_t cap = 0; cap <= full_len + 2; cap++) {
        memset(out, 'Z', sizeof(out));
        size_t n = gs_text_escape(cap ? out : NULL, cap, in, len);
        if (cap == 0) {
            assert_int_equal(n, 0);
            continue;
        }
        assert_int_equal(out[n], '\0');
        assert_int_equal(strlen(out), n);
        assert_true(n <= cap - 1);
        for (size_t i = cap; i < sizeof(out); i++)
            assert_int_equal(out[i], 'Z');
        if (full_len <= cap - 1) {
            assert_int_equal(n, full_len);
            assert_string_equal(out, full);
            continue;
        }
        size_t budget = cap - 1 >= 3 ? cap - 1 - 3 : 0, keep = 0;
        for (size_t k = 0; k < nends; k++)
            if (ends[k] <= budget)
                keep = ends[k];
        size_t dots = cap - 1 < 3 ? cap - 1 : 3;
        assert_int_equal(n, keep + dots);
        assert_memory_equal(out, full, keep);
        assert_memory_equal(out + keep, "...", dots);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_boundaries),
        cmocka_unit_test(test_utf8_truncated),
        cmocka_unit_test(test_utf8_exhaustive_1_2_3_bytes),
        cmocka_unit_test(test_utf8_four_byte_edges),
        cmocka_unit_test(test_utf8_bad_byte_at_every_position),
        cmocka_unit_test(test_a14_invalid_utf8_text),
        cmocka_unit_test(test_a15_embedded_nul),
        cmocka_unit_test(test_a16_control_and_bidi_chars),
        cmocka_unit_test(test_every_code_point),
        cmocka_unit_test(test_ascii_byte_at_every_position),
        cmocka_unit_test(test_verdict_order),
        cmocka_unit_test(test_length_limits),
        cmocka_unit_test(test_verdict_names),
        cmocka_unit_test(test_escape_exact),
        cmocka_unit_test(test_escape_truncation),
        cmocka_unit_test(test_escape_every_cap),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

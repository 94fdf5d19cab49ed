/* SPDX-License-Identifier: MIT */
/* Validation of untrusted text: strict UTF-8, character classes that must not reach other
 * players (controls, invisible and bidi characters, noncharacters), and escaping for logs. */
#include <string.h>

#include "gs/packet.h"

#define ONES  0x0101010101010101u
#define HIGHS 0x8080808080808080u

/* Decode the sequence at s[0..n), n >= 1. Returns its length (1-4) and the code point, or 0 when
 * it is not strict UTF-8 (RFC 3629 section 4): a stray continuation byte, an overlong form
 * (C0, C1, E0 80-9F, F0 80-8F), a surrogate (ED A0-BF), a value above U+10FFFF (F4 90-BF,
 * F5-FF), a bad continuation byte or a sequence cut by the end of the input. */
static size_t decode(const uint8_t *s, size_t n, uint32_t *cp) {
    uint32_t c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c < 0xC2)
        return 0;
    if (c < 0xE0) {
        if (n < 2 || (s[1] & 0xC0) != 0x80)
            return 0;
        *cp = ((c & 0x1F) << 6) | (s[1] & 0x3Fu);
        return 2;
    }
    /* The second byte's range depends on the lead byte; later bytes are always 80-BF. */
    uint8_t lo = 0x80, hi = 0xBF;
    if (c < 0xF0) {
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
        if (n < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80)
            return 0;
        *cp = ((c & 0x0F) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
        return 3;
    }
    if (c > 0xF4)
        return 0;
    if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (n < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
        return 0;
    *cp = ((c & 0x07) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
    return 4;
}

static uint64_t load8(const uint8_t *s) {
    uint64_t w;
    memcpy(&w, s, sizeof(w));
    return w;
}

int gs_utf8_valid(const uint8_t *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        /* Most text is ASCII: skip it eight bytes at a time. */
        while (len - i >= 8 && (load8(s + i) & HIGHS) == 0)
            i += 8;
        if (i == len)
            break;
        uint32_t cp;
        size_t n = decode(s + i, len - i, &cp);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

static int is_control(uint32_t c) { return c < 0x20 || c == 0x7F || (c >= 0x80 && c <= 0x9F); }

static int is_invisible(uint32_t c) {
    if (c < 0xAD)
        return 0;
    return c == 0x00AD                        /* soft hyphen */
           || c == 0x034F                     /* combining grapheme joiner */
           || c == 0x061C                     /* Arabic letter mark */
           || c == 0x115F || c == 0x1160      /* Hangul choseong/jungseong fillers */
           || c == 0x180E                     /* Mongolian vowel separator */
           || (c >= 0x200B && c <= 0x200F)    /* ZWSP, ZWNJ, ZWJ, LRM, RLM */
           || (c >= 0x2028 && c <= 0x2029)    /* line and paragraph separators */
           || (c >= 0x202A && c <= 0x202E)    /* bidi embeddings and overrides */
           || (c >= 0x2060 && c <= 0x2064)    /* word joiner, invisible operators */
           || (c >= 0x2066 && c <= 0x2069)    /* bidi isolates */
           || c == 0x3164                     /* Hangul filler */
           || c == 0xFEFF                     /* zero-width no-break space (BOM) */
           || c == 0xFFA0                     /* halfwidth Hangul filler */
           || (c >= 0xE0000 && c <= 0xE007F); /* tags */
}

static int is_nonchar(uint32_t c) { return (c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE; }

gs_text_verdict_t gs_text_check(const char *s, size_t len, const gs_text_rules_t *rules,
                                uint32_t *chars) {
    static const gs_text_rules_t defaults;
    if (!rules)
        rules = &defaults;
    if (chars)
        *chars = 0;
    if (rules->max_bytes != 0 && len > rules->max_bytes)
        return GS_TEXT_TOO_LONG;

    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0, count = 0;
    int nul = 0;
    /* The worst character verdict seen so far. The whole input is scanned even after one is
     * found, because an encoding error anywhere outranks it. */
    gs_text_verdict_t bad = GS_TEXT_OK;
    while (i < len) {
        /* Fast path: eight printable ASCII bytes (20-7E). A byte is not one when its high bit is
         * set, when adding 1 sets it (7F), or when subtracting 20 borrows (00-1F); with no high
         * bit set, neither operation carries across bytes, and a borrow caused by an earlier
         * byte only ever flags a word that already holds a byte below 20. */
        while (len - i >= 8) {
            uint64_t w = load8(u + i);
            if (((w | (w + ONES) | ((w - 0x20 * ONES) & ~w)) & HIGHS) != 0)
                break;
            i += 8;
            count += 8;
        }
        if (i == len)
            break;
        uint32_t cp;
        size_t n = decode(u + i, len - i, &cp);
        if (n == 0) {
            if (chars)
                *chars = count > UINT32_MAX ? UINT32_MAX : (uint32_t)count;
            return GS_TEXT_BAD_UTF8;
        }
        i += n;
        count++;
        gs_text_verdict_t v = GS_TEXT_OK;
        if (cp == 0)
            nul = 1;
        else if (is_control(cp))
            v = rules->allow_control ? GS_TEXT_OK : GS_TEXT_CONTROL;
        else if (is_invisible(cp))
            v = rules->allow_invisible ? GS_TEXT_OK : GS_TEXT_INVISIBLE;
        else if (is_nonchar(cp))
            v = GS_TEXT_NONCHAR;
        if (v != GS_TEXT_OK && (bad == GS_TEXT_OK || v < bad))
            bad = v;
    }
    if (chars)
        *chars = count > UINT32_MAX ? UINT32_MAX : (uint32_t)count;
    if (nul)
        return GS_TEXT_NUL;
    if (bad != GS_TEXT_OK)
        return bad;
    if (count < rules->min_chars)
        return GS_TEXT_TOO_SHORT;
    if (rules->max_chars != 0 && count > rules->max_chars)
        return GS_TEXT_TOO_LONG;
    return GS_TEXT_OK;
}

const char *gs_text_verdict_name(gs_text_verdict_t v) {
    static const char *const names[] = {
#define GS__TV_NAME(name, str) str,
        GS_TEXT_VERDICT_MAP(GS__TV_NAME)
#undef GS__TV_NAME
    };
    if ((unsigned)v >= GS_TEXT__COUNT)
        return "unknown";
    return names[v];
}

/* Backslash is escaped too, so that a player who types a literal "\x0A" cannot pass it off as
 * an escaped byte in the log. */
static int printable(uint8_t c) { return c >= 0x20 && c < 0x7F && c != '\\'; }

size_t gs_text_escape(char *out, size_t cap, const char *s, size_t len) {
    static const char hex[] = "0123456789ABCDEF";
    if (cap == 0)
        return 0;
    const uint8_t *u = (const uint8_t *)s;
    size_t room = cap - 1, need = 0;
    for (size_t i = 0; i < len && need <= room; i++)
        need += printable(u[i]) ? 1 : 4;
    /* When the whole escaped text does not fit, keep whole characters (never half of a \xHH)
     * and leave room for "...", or for as many of its dots as fit in a tiny buffer. */
    int cut = need > room;
    size_t budget = !cut ? room : room > 3 ? room - 3 : 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = u[i];
        size_t w = printable(c) ? 1 : 4;
        if (o + w > budget)
            break;
        if (w == 1) {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 0xF];
        }
    }
    if (cut) {
        size_t end = o + 3 < room ? o + 3 : room;
        while (o < end)
            out[o++] = '.';
    }
    out[o] = '\0';
    return o;
}

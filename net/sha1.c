/* SPDX-License-Identifier: MIT */
/* SHA-1 (see sha1.h), straight from FIPS 180-4 section 6.1: no tables, no unrolling, since it
 * hashes 60 bytes once per WebSocket handshake. */
#include "sha1.h"

#include <string.h>

static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void block(gs_sha1_t *s, const uint8_t *b) {
    uint32_t w[80];
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)b[4 * t] << 24 | (uint32_t)b[4 * t + 1] << 16 |
               (uint32_t)b[4 * t + 2] << 8 | b[4 * t + 3];
    for (int t = 16; t < 80; t++)
        w[t] = rol(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    uint32_t a = s->h[0], bb = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];
    for (int t = 0; t < 80; t++) {
        uint32_t f, k;
        if (t < 20) {
            f = (bb & c) | (~bb & d);
            k = 0x5A827999;
        } else if (t < 40) {
            f = bb ^ c ^ d;
            k = 0x6ED9EBA1;
        } else if (t < 60) {
            f = (bb & c) | (bb & d) | (c & d);
            k = 0x8F1BBCDC;
        } else {
            f = bb ^ c ^ d;
            k = 0xCA62C1D6;
        }
        uint32_t tmp = rol(a, 5) + f + e + k + w[t];
        e = d;
        d = c;
        c = rol(bb, 30);
        bb = a;
        a = tmp;
    }
    s->h[0] += a;
    s->h[1] += bb;
    s->h[2] += c;
    s->h[3] += d;
    s->h[4] += e;
}

void gs_sha1_init(gs_sha1_t *s) {
    static const uint32_t h0[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    memcpy(s->h, h0, sizeof(h0));
    s->bytes = 0;
    s->have = 0;
}

void gs_sha1_update(gs_sha1_t *s, const void *p, size_t n) {
    const uint8_t *b = p;
    s->bytes += n;
    while (n > 0) {
        if (s->have == 0 && n >= 64) {
            block(s, b);
            b += 64;
            n -= 64;
            continue;
        }
        size_t take = 64 - s->have < n ? 64 - s->have : n;
        memcpy(s->block + s->have, b, take);
        s->have += take;
        b += take;
        n -= take;
        if (s->have == 64) {
            block(s, s->block);
            s->have = 0;
        }
    }
}

void gs_sha1_final(gs_sha1_t *s, uint8_t out[GS_SHA1_SIZE]) {
    uint64_t bits = s->bytes * 8;
    /* Padding: 0x80, zeros up to 56 mod 64, then the bit length big-endian. */
    s->block[s->have++] = 0x80;
    if (s->have > 56) {
        memset(s->block + s->have, 0, 64 - s->have);
        block(s, s->block);
        s->have = 0;
    }
    memset(s->block + s->have, 0, 56 - s->have);
    for (int i = 0; i < 8; i++)
        s->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    block(s, s->block);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

void gs_sha1(const void *p, size_t n, uint8_t out[GS_SHA1_SIZE]) {
    gs_sha1_t s;
    gs_sha1_init(&s);
    gs_sha1_update(&s, p, n);
    gs_sha1_final(&s, out);
}

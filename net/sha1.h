/* SPDX-License-Identifier: MIT */
/* SHA-1 (FIPS 180-4), for the WebSocket handshake's Sec-WebSocket-Accept only: SHA-1 is broken
 * for collisions and must not be used where that matters. Pure; any thread, one context each. */
#ifndef GS_NET_SHA1_H
#define GS_NET_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define GS_SHA1_SIZE 20

typedef struct gs_sha1 {
    uint32_t h[5];
    uint64_t bytes; /* message length so far */
    uint8_t block[64];
    size_t have; /* bytes in block */
} gs_sha1_t;

void gs_sha1_init(gs_sha1_t *s);
/* Adds n bytes (p may be NULL when n is 0). */
void gs_sha1_update(gs_sha1_t *s, const void *p, size_t n);
/* Writes the digest; the context must be re-initialised before further use. */
void gs_sha1_final(gs_sha1_t *s, uint8_t out[GS_SHA1_SIZE]);
/* The digest of n bytes in one call. */
void gs_sha1(const void *p, size_t n, uint8_t out[GS_SHA1_SIZE]);

#endif /* GS_NET_SHA1_H */

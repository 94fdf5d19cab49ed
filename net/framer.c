/* SPDX-License-Identifier: MIT */
/* Frame reassembler (see framer.h): splits a byte stream cut at arbitrary points into frames,
 * zero-copy for every body that lies whole inside one feed. */
#include "framer.h"

#include <stdlib.h>
#include <string.h>

/* State, in the fields of gs_framer_t:
 *   hdr_have 0..7          collecting a header (its bytes so far in hdr); body_have == 0;
 *   hdr_have 8             header complete, body spans feeds: body holds body_len bytes of
 *                          which body_have are filled (body_len > 0, body != NULL);
 *   hdr_have 0, body_have == FAILED
 *                          a feed returned non-zero; the code is kept in hdr (memcpy).
 * The failed state fits in the existing fields so that the public struct stays as declared;
 * it reads as "no partial frame, nothing buffered". */
#define FAILED UINT32_MAX

_Static_assert(sizeof(int) <= GS_FRAME_HEADER_SIZE, "the failed state keeps an int in hdr");

static uint32_t rd32le(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void reset(gs_framer_t *fr) {
    fr->hdr_have = 0;
    fr->body_len = 0;
    fr->body_have = 0;
    fr->body = NULL;
}

void gs_framer_init(gs_framer_t *fr, uint32_t max_frame, int reject_empty) {
    memset(fr, 0, sizeof(*fr));
    fr->max_frame = max_frame;
    fr->reject_empty = reject_empty != 0;
    reset(fr);
}

void gs_framer_fini(gs_framer_t *fr) {
    free(fr->body);
    reset(fr);
}

static int failed(const gs_framer_t *fr) { return fr->hdr_have == 0 && fr->body_have == FAILED; }

/* Enters the failed state: frees any partial body and remembers rc for later feeds. */
static int fail(gs_framer_t *fr, int rc) {
    free(fr->body);
    reset(fr);
    fr->body_have = FAILED;
    memcpy(fr->hdr, &rc, sizeof(rc));
    return rc;
}

/* The only length checks. Pure comparisons of the announced u32 with the limit: no sum is
 * formed, so no length can wrap (len + header is never computed in 32 bits). */
static int check_len(const gs_framer_t *fr, uint32_t len) {
    if (len > fr->max_frame)
        return GS_ETOOBIG;
    if (len == 0 && fr->reject_empty)
        return GS_EEMPTY;
    return 0;
}

int gs_framer_feed(gs_framer_t *fr, const uint8_t *data, size_t len, gs_framer_frame_cb cb,
                   void *ctx) {
    if (failed(fr)) {
        int rc;
        memcpy(&rc, fr->hdr, sizeof(rc));
        return rc;
    }

    size_t pos = 0;
    while (pos < len) {
        size_t avail = len - pos;

        if (fr->hdr_have == GS_FRAME_HEADER_SIZE) {
            /* Continuing a body that spans feeds. body_have < body_len here. */
            size_t need = fr->body_len - fr->body_have;
            size_t take = avail < need ? avail : need;
            memcpy(fr->body + fr->body_have, data + pos, take);
            fr->body_have += (uint32_t)take;
            pos += take;
            if (fr->body_have < fr->body_len)
                return 0; /* every byte consumed, the body still incomplete */

            /* Detach the buffer before the callback so that the framer is consistent whatever
             * the callback returns; free it after, since body is borrowed only for the call. */
            uint8_t *body = fr->body;
            uint32_t blen = fr->body_len;
            uint32_t id = rd32le(fr->hdr + 4);
            reset(fr);
            int rc = cb(ctx, id, body, blen);
            free(body);
            if (rc != 0)
                return fail(fr, rc);
            continue;
        }

        /* At a header, or inside one. When a whole header is at hand, read it from the input
         * (the common case); otherwise collect bytes into hdr, keeping partial headers down to a
         * single byte. */
        const uint8_t *hdr;
        if (fr->hdr_have == 0 && avail >= GS_FRAME_HEADER_SIZE) {
            hdr = data + pos;
            pos += GS_FRAME_HEADER_SIZE;
        } else {
            size_t need = GS_FRAME_HEADER_SIZE - fr->hdr_have;
            size_t take = avail < need ? avail : need;
            memcpy(fr->hdr + fr->hdr_have, data + pos, take);
            fr->hdr_have += (uint32_t)take;
            pos += take;
            if (fr->hdr_have < GS_FRAME_HEADER_SIZE)
                return 0;
            hdr = fr->hdr;
        }

        uint32_t blen = rd32le(hdr);
        uint32_t id = rd32le(hdr + 4);
        int rc = check_len(fr, blen);
        if (rc != 0)
            return fail(fr, rc); /* before any body byte is looked at or any allocation */

        fr->hdr_have = 0;
        avail = len - pos;

        if (blen <= avail) {
            /* The body lies whole in this feed: deliver it in place. For blen == 0 this points
             * at the end of the header, possibly one past the fed bytes: never NULL. */
            rc = cb(ctx, id, data + pos, blen);
            pos += blen;
            if (rc != 0)
                return fail(fr, rc);
            continue;
        }

        /* The body spans feeds (so blen > avail >= 0): copy it. The header is kept in hdr for
         * the id, and hdr_have == 8 marks the state. */
        uint8_t *body = malloc(blen);
        if (body == NULL)
            return fail(fr, GS_ENOMEM);
        if (hdr != fr->hdr)
            memcpy(fr->hdr, hdr, GS_FRAME_HEADER_SIZE);
        memcpy(body, data + pos, avail);
        fr->hdr_have = GS_FRAME_HEADER_SIZE;
        fr->body = body;
        fr->body_len = blen;
        fr->body_have = (uint32_t)avail;
        return 0;
    }
    return 0;
}

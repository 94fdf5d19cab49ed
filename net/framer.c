/* SPDX-License-Identifier: MIT */
/* Frame reassembler (see framer.h): splits a byte stream cut at arbitrary points into frames,
 * zero-copy for every body that lies whole inside one feed. */
#include "framer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* State, in the fields of gs_framer_t:
 *   hdr_have 0..7          collecting a header (its bytes so far in hdr); body_have == 0;
 *   hdr_have 8             header complete, body spans feeds: span holds the header and then
 *                          body_len bytes at body, of which body_have are filled (body_len > 0,
 *                          body != NULL);
 *   hdr_have 0, body_have == FAILED
 *                          a feed returned non-zero; the code is kept in hdr (memcpy).
 * The failed state fits in the existing fields so that the public struct stays as declared;
 * it reads as "no partial frame, nothing buffered". */
#define FAILED UINT32_MAX

_Static_assert(sizeof(int) <= GS_FRAME_HEADER_SIZE, "the failed state keeps an int in hdr");

static uint32_t rd32le(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A spanning frame's buffer: a net buffer descriptor, then the header and the body, in one
 * malloc, so that a frame reassembled here can be handed on (sent) without another copy. */
typedef struct span {
    gs_buf_t buf;
    uint8_t bytes[];
} span_t;

static void span_release(gs_buf_t *b) { free((span_t *)(void *)b); }

_Static_assert(sizeof(span_t) + GS_FRAME_HEADER_SIZE == GS_FRAMER_SPAN_OVERHEAD,
               "framer.h states the span's overhead");

static gs_buf_t *span_alloc(const uint8_t hdr[GS_FRAME_HEADER_SIZE], uint32_t body_len) {
#if SIZE_MAX <= UINT32_MAX
    /* Where size_t is 32 bits a body near 4 GiB plus the overhead would wrap. */
    if ((size_t)body_len > SIZE_MAX - GS_FRAMER_SPAN_OVERHEAD)
        return NULL;
#endif
    size_t held = GS_FRAMER_SPAN_OVERHEAD + (size_t)body_len;
    span_t *sp = malloc(held);
    if (!sp)
        return NULL;
    memcpy(sp->bytes, hdr, GS_FRAME_HEADER_SIZE);
    sp->buf.data = sp->bytes;
    sp->buf.len = GS_FRAME_HEADER_SIZE + body_len;
    sp->buf.charge = held > UINT32_MAX ? UINT32_MAX : (uint32_t)held;
    atomic_init(&sp->buf.refs, 1);
    atomic_init(&sp->buf.qlink_busy, 0);
    sp->buf.release = span_release;
    return &sp->buf;
}

static void reset(gs_framer_t *fr) {
    fr->hdr_have = 0;
    fr->body_len = 0;
    fr->body_have = 0;
    fr->body = NULL;
    fr->span = NULL;
    fr->cur_span = NULL;
    fr->frame_start = NULL;
}

static void drop_span(gs_framer_t *fr) {
    if (fr->span)
        gs_buf_unref(fr->span);
}

void gs_framer_init(gs_framer_t *fr, uint32_t max_frame, int reject_empty) {
    memset(fr, 0, sizeof(*fr));
    fr->max_frame = max_frame;
    fr->reject_empty = reject_empty != 0;
    reset(fr);
}

void gs_framer_fini(gs_framer_t *fr) {
    drop_span(fr);
    reset(fr);
}

static int failed(const gs_framer_t *fr) { return fr->hdr_have == 0 && fr->body_have == FAILED; }

/* Enters the failed state: frees any partial body and remembers rc for later feeds. */
static int fail(gs_framer_t *fr, int rc) {
    drop_span(fr);
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
    size_t used;
    int rc = gs_framer_feed_some(fr, data, len, cb, ctx, &used);
    return rc == GS_FRAMER_PAUSE ? fail(fr, rc) : rc;
}

int gs_framer_feed_some(gs_framer_t *fr, const uint8_t *data, size_t len, gs_framer_frame_cb cb,
                        void *ctx, size_t *used) {
    *used = 0;
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
            if (fr->body_have < fr->body_len) {
                *used = len;
                return 0; /* every byte consumed, the body still incomplete */
            }

            /* Detach the buffer before the callback so that the framer is consistent whatever
             * the callback returns; drop our reference after, since body is borrowed only for
             * the call (the callback may have taken its own through gs_framer_span). */
            uint8_t *body = fr->body;
            gs_buf_t *span = fr->span;
            uint32_t blen = fr->body_len;
            uint32_t id = rd32le(fr->hdr + 4);
            reset(fr);
            fr->cur_span = span;
            fr->frame_start = span->data;
            int rc = cb(ctx, id, body, blen);
            fr->cur_span = NULL;
            fr->frame_start = NULL;
            gs_buf_unref(span);
            if (rc == GS_FRAMER_PAUSE) {
                *used = pos;
                return rc; /* at a frame boundary: the state is consistent */
            }
            if (rc != 0)
                return fail(fr, rc);
            continue;
        }

        /* At a header, or inside one. When a whole header is at hand, read it from the input
         * (the common case); otherwise collect bytes into hdr, keeping partial headers down to a
         * single byte. */
        const uint8_t *hdr;
        int hdr_in_feed = fr->hdr_have == 0 && avail >= GS_FRAME_HEADER_SIZE;
        if (hdr_in_feed) {
            hdr = data + pos;
            pos += GS_FRAME_HEADER_SIZE;
        } else {
            size_t need = GS_FRAME_HEADER_SIZE - fr->hdr_have;
            size_t take = avail < need ? avail : need;
            memcpy(fr->hdr + fr->hdr_have, data + pos, take);
            fr->hdr_have += (uint32_t)take;
            pos += take;
            if (fr->hdr_have < GS_FRAME_HEADER_SIZE) {
                *used = len;
                return 0;
            }
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
            fr->frame_start = hdr_in_feed ? hdr : NULL;
            rc = cb(ctx, id, data + pos, blen);
            fr->frame_start = NULL;
            pos += blen;
            if (rc == GS_FRAMER_PAUSE) {
                *used = pos;
                return rc;
            }
            if (rc != 0)
                return fail(fr, rc);
            continue;
        }

        /* The body spans feeds (so blen > avail >= 0): copy it, behind a copy of its header,
         * into one buffer that can be sent on as it is. The header is also kept in hdr for the
         * id, and hdr_have == 8 marks the state. */
        gs_buf_t *span = span_alloc(hdr, blen);
        if (span == NULL)
            return fail(fr, GS_ENOMEM);
        if (hdr != fr->hdr)
            memcpy(fr->hdr, hdr, GS_FRAME_HEADER_SIZE);
        uint8_t *body = gs_buf_bytes(span) + GS_FRAME_HEADER_SIZE;
        memcpy(body, data + pos, avail);
        fr->hdr_have = GS_FRAME_HEADER_SIZE;
        fr->span = span;
        fr->body = body;
        fr->body_len = blen;
        fr->body_have = (uint32_t)avail;
        *used = len;
        return 0;
    }
    *used = len;
    return 0;
}

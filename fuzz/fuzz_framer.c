/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the frame reassembler (docs/testing.md F05): the stream fed in pieces
 * chosen by the input and the same stream fed whole must give the same frames, result and final
 * state, and both must agree with a straight-line reference parser. Aborts on any difference. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framer.h"

/* Input layout:
 *   byte 0   bit 0: reject_empty; bits 1-2: max_frame, one of 0, 16, 300, GS_FRAME_MAX_DEFAULT;
 *            bit 3: repeat the piece list until the stream ends (pieces of 0 count as 1), else
 *            the rest of the stream goes in one last feed; bits 4-7: the callback stops
 *            (returns STOP_RC) at that delivery, 1-based (0: never).
 *   byte 1   number of pieces, modulo 32.
 *   then     one byte per piece: its size, 0..255 (0 is an empty feed).
 *   rest     the stream. */
#define STOP_RC 7

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t max_frames[4] = {0, 16, 300, GS_FRAME_MAX_DEFAULT};

typedef struct {
    uint32_t id, len;
} rec_t;

typedef struct {
    rec_t *recs; /* deliveries, in order */
    size_t n, cap;
    uint8_t *bytes; /* their bodies, concatenated */
    size_t nbytes, bcap;
    size_t stop_at;
    uint32_t max_frame;
    int reject_empty;
    int delivering_allowed; /* cleared once a feed has failed */
} log_t;

static void die(const char *what) {
    fprintf(stderr, "fuzz_framer: invariant broken: %s\n", what);
    abort();
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap)
        return p;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *np = realloc(p, c * elem);
    if (np == NULL)
        die("out of memory in the harness");
    *cap = c;
    return np;
}

/* Appends a frame; returns what a callback with this log's stop rule returns. */
static int log_add(log_t *lg, uint32_t id, const uint8_t *body, uint32_t len) {
    lg->recs = grow(lg->recs, &lg->cap, lg->n + 1, sizeof(*lg->recs));
    lg->recs[lg->n++] = (rec_t){.id = id, .len = len};
    lg->bytes = grow(lg->bytes, &lg->bcap, lg->nbytes + len, 1);
    if (len > 0)
        memcpy(lg->bytes + lg->nbytes, body, len);
    lg->nbytes += len;
    return (lg->stop_at != 0 && lg->n == lg->stop_at) ? STOP_RC : 0;
}

static int frame_cb(void *ctx, uint32_t id, const uint8_t *body, uint32_t len) {
    log_t *lg = ctx;
    if (!lg->delivering_allowed)
        die("delivery after a failed feed");
    if (body == NULL)
        die("NULL body");
    if (len > lg->max_frame)
        die("delivered a body over max_frame");
    if (len == 0 && lg->reject_empty)
        die("delivered an empty body with reject_empty");
    return log_add(lg, id, body, len);
}

static void log_free(log_t *lg) {
    free(lg->recs);
    free(lg->bytes);
}

static void log_same(const log_t *a, const log_t *b, const char *what) {
    int same = a->n == b->n && a->nbytes == b->nbytes;
    for (size_t i = 0; same && i < a->n; i++)
        same = a->recs[i].id == b->recs[i].id && a->recs[i].len == b->recs[i].len;
    if (same && a->nbytes > 0)
        same = memcmp(a->bytes, b->bytes, a->nbytes) == 0;
    if (!same) {
        fprintf(stderr, "fuzz_framer: %s: %zu vs %zu frames\n", what, a->n, b->n);
        die("deliveries differ");
    }
}

static uint32_t rd32le(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The reference: whole stream, no state. Returns the result; *partial and *buffered get the
 * state a framer should be left in. */
static int reference(const uint8_t *s, size_t n, log_t *lg, int *partial, size_t *buffered) {
    size_t pos = 0;
    *partial = 0;
    *buffered = 0;
    while (n - pos >= GS_FRAME_HEADER_SIZE) {
        uint32_t len = rd32le(s + pos), id = rd32le(s + pos + 4);
        if (len > lg->max_frame)
            return GS_ETOOBIG;
        if (len == 0 && lg->reject_empty)
            return GS_EEMPTY;
        if (len > n - pos - GS_FRAME_HEADER_SIZE) {
            *partial = 1;
            *buffered = len;
            return 0;
        }
        int rc = log_add(lg, id, s + pos + GS_FRAME_HEADER_SIZE, len);
        if (rc != 0)
            return rc;
        pos += GS_FRAME_HEADER_SIZE + len;
    }
    *partial = pos < n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    uint8_t cfg = data[0];
    size_t npieces = data[1] % 32u;
    if (size < 2 + npieces)
        return 0;
    const uint8_t *pieces = data + 2;
    const uint8_t *s = data + 2 + npieces;
    size_t n = size - 2 - npieces;

    log_t proto = {.max_frame = max_frames[(cfg >> 1) & 3u],
                   .reject_empty = cfg & 1u,
                   .stop_at = cfg >> 4,
                   .delivering_allowed = 1};
    int cyclic = (cfg >> 3) & 1u;
    log_t whole = proto, cut = proto, ref = proto;

    /* Whole, in one feed. */
    gs_framer_t fw;
    gs_framer_init(&fw, whole.max_frame, whole.reject_empty);
    int rc_whole = gs_framer_feed(&fw, s, n, frame_cb, &whole);

    /* In pieces. After a failure keep feeding: every later feed must fail the same way and
     * deliver nothing. */
    gs_framer_t fc;
    gs_framer_init(&fc, cut.max_frame, cut.reject_empty);
    int rc_cut = 0;
    size_t pos = 0, i = 0;
    while (pos < n) {
        size_t k;
        if (i < npieces || (cyclic && npieces > 0)) {
            k = pieces[i % npieces];
            if (cyclic && k == 0)
                k = 1;
            i++;
        } else {
            k = n - pos;
        }
        if (k > n - pos)
            k = n - pos;
        int rc = gs_framer_feed(&fc, s + pos, k, frame_cb, &cut);
        pos += k;
        if (rc_cut != 0 && rc != rc_cut)
            die("a failed framer changed its result");
        if (rc != 0) {
            rc_cut = rc;
            cut.delivering_allowed = 0;
            if (gs_framer_partial(&fc) || gs_framer_buffered(&fc) != 0)
                die("a failed framer holds a partial frame");
        }
    }

    int ref_partial;
    size_t ref_buffered;
    int rc_ref = reference(s, n, &ref, &ref_partial, &ref_buffered);

    if (rc_whole != rc_cut || rc_whole != rc_ref) {
        fprintf(stderr, "fuzz_framer: results whole %d, pieces %d, reference %d\n", rc_whole,
                rc_cut, rc_ref);
        die("results differ");
    }
    log_same(&whole, &cut, "whole vs pieces");
    log_same(&whole, &ref, "whole vs reference");
    int want_partial = rc_ref == 0 ? ref_partial : 0;
    size_t want_buffered = rc_ref == 0 ? ref_buffered : 0;
    if (gs_framer_partial(&fw) != want_partial || gs_framer_partial(&fc) != want_partial)
        die("partial flags differ");
    if (gs_framer_buffered(&fw) != want_buffered || gs_framer_buffered(&fc) != want_buffered)
        die("buffered sizes differ");

    /* A failed framer stays failed, whole feeds included. */
    if (rc_whole != 0) {
        whole.delivering_allowed = 0;
        if (gs_framer_feed(&fw, s, n, frame_cb, &whole) != rc_whole)
            die("a failed framer changed its result");
    }

    gs_framer_fini(&fw);
    gs_framer_fini(&fc);
    log_free(&whole);
    log_free(&cut);
    log_free(&ref);
    return 0;
}

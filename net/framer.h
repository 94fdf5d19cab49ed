/* SPDX-License-Identifier: MIT */
/* Frame reassembler: turns a byte stream cut at arbitrary points into whole frames. Pure: no IO,
 * no clock, no threads. One per framed session, used only by the session's IO thread. */
#ifndef GS_NET_FRAMER_H
#define GS_NET_FRAMER_H

#include <stddef.h>
#include <stdint.h>

#include "gs/net.h"

/* Called for each complete frame, in stream order. body is borrowed, valid only during the call:
 * it points into the fed bytes when the body lies whole inside one feed (even if its header was
 * split), else into the framer's own buffer (see gs_framer_span), dropped after the call. body is
 * never NULL, also when len is 0 (then it may point one past the fed bytes: do not dereference
 * it).
 * Return 0 to continue, non-zero to stop feeding (the value is returned by gs_framer_feed).
 * The callback must not feed or fini the framer that calls it. */
typedef int (*gs_framer_frame_cb)(void *ctx, uint32_t msg_id, const uint8_t *body, uint32_t len);

typedef struct gs_framer {
    uint32_t max_frame; /* bodies longer than this are rejected at header time */
    int reject_empty;   /* body length 0 is rejected instead of delivered */
    uint32_t hdr_have;  /* header bytes collected so far (0..GS_FRAME_HEADER_SIZE) */
    uint8_t hdr[GS_FRAME_HEADER_SIZE];
    uint32_t body_len;  /* once the header is complete: announced body length */
    uint32_t body_have; /* body bytes collected into body (failed state: see framer.c) */
    uint8_t *body;      /* into span's bytes, only while a body spans feeds; NULL otherwise */
    gs_buf_t *span;     /* while a body spans feeds: one malloc holding header + body */
    gs_buf_t *cur_span; /* during a callback: the span of the frame delivered, or NULL */
    /* During a callback only: the frame's 8 header bytes followed by its body, contiguous (in
     * the feed, or the span), or NULL when its header was split across feeds and its body was
     * not (then only the body is contiguous). For handing the frame on without a copy. */
    const uint8_t *frame_start;
} gs_framer_t;

/* Set up an empty framer. Holds no memory until a frame's body spans two feeds. max_frame is
 * taken as given (0 accepts only empty bodies); callers apply their own defaults. */
void gs_framer_init(gs_framer_t *fr, uint32_t max_frame, int reject_empty);
/* Free any partial frame. The framer may be re-initialised afterwards. Calling it twice is
 * harmless. */
void gs_framer_fini(gs_framer_t *fr);

/* Feed len bytes. Delivers every frame they complete. Returns:
 *   0                 all bytes consumed;
 *   GS_ETOOBIG        a header announced more than max_frame (checked before any body byte is
 *                     buffered, so no allocation happens for it);
 *   GS_EEMPTY         a header announced 0 with reject_empty set;
 *   GS_ENOMEM         the partial-body buffer could not be allocated;
 *   the callback's non-zero value, if it stopped the feed.
 * After any non-zero return the stream is unusable: later feeds deliver nothing and return the
 * same value (until fini + init); the caller closes the session (and the first two map to
 * gs_frame_reject_t reasons too_big and zero_len). Frames completed before the failing point
 * in the same feed have been delivered. */
int gs_framer_feed(gs_framer_t *fr, const uint8_t *data, size_t len, gs_framer_frame_cb cb,
                   void *ctx);

/* A callback's return value that stops the feed without failing it: the framer stays usable,
 * and gs_framer_feed_some reports how many bytes it consumed (up to the end of the frame whose
 * callback paused); the caller keeps the rest and feeds it later (receive backpressure). Through
 * gs_framer_feed it is returned like any other stop and fails the stream. */
#define GS_FRAMER_PAUSE 0x7fff0001

/* gs_framer_feed, except that a callback returning GS_FRAMER_PAUSE stops it and leaves the stream
 * usable: returns GS_FRAMER_PAUSE with *used = the bytes consumed (the next feed must start with
 * data + *used). Otherwise the same returns as gs_framer_feed, with *used = len on 0. */
int gs_framer_feed_some(gs_framer_t *fr, const uint8_t *data, size_t len, gs_framer_frame_cb cb,
                        void *ctx, size_t *used);

/* True while a frame has started (at least one header byte) but is not complete: the session
 * uses it for the partial-frame deadline. */
static inline int gs_framer_partial(const gs_framer_t *fr) { return fr->hdr_have != 0; }

/* Bytes of memory held for a partial body (0 when none). */
static inline size_t gs_framer_buffered(const gs_framer_t *fr) {
    return fr->body ? fr->body_len : 0;
}

/* What the framer mallocs for a body that spans feeds, beyond the body itself: the buffer
 * descriptor and a copy of the header. */
#define GS_FRAMER_SPAN_OVERHEAD (sizeof(gs_buf_t) + GS_FRAME_HEADER_SIZE)

/* During a callback for a frame whose body spanned feeds: the buffer holding its header and
 * body (data = header, len = header + body, one reference held by the framer and dropped after
 * the callback; charge = its malloc). Take a reference (gs_buf_ref) to keep it, e.g. to send the
 * frame on without a copy. NULL for a frame delivered in place, and outside callbacks. */
static inline gs_buf_t *gs_framer_span(const gs_framer_t *fr) { return fr->cur_span; }

#endif /* GS_NET_FRAMER_H */

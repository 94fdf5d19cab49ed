/* SPDX-License-Identifier: MIT */
/* malloc-backed send buffers for tools and tests (servers use the packet layer's pool), and
 * the name tables of close and reject reasons. */
#include <stdlib.h>
#include <string.h>

#include "gs/net.h"

typedef struct heap_buf {
    gs_buf_t buf;
    uint8_t bytes[];
} heap_buf_t;

static void heap_release(gs_buf_t *b) { free(gs_container_of(b, heap_buf_t, buf)); }

gs_buf_t *gs_buf_alloc(uint32_t len) {
    heap_buf_t *h = malloc(sizeof(*h) + (len ? len : 1));
    if (!h)
        return NULL;
    /* Not gs_buf_init: gcc 12 takes its const pointer to the bytes not yet written for a read
     * of uninitialised memory (-Wmaybe-uninitialized). */
    h->buf.data = h->bytes;
    h->buf.len = len;
    atomic_init(&h->buf.refs, 1);
    atomic_init(&h->buf.qlink_busy, 0);
    h->buf.release = heap_release;
    /* What malloc was asked for. */
    size_t held = sizeof(*h) + (len ? len : 1);
    h->buf.charge = held > UINT32_MAX ? UINT32_MAX : (uint32_t)held;
    return &h->buf;
}

gs_buf_t *gs_buf_frame(uint32_t msg_id, const void *body, uint32_t body_len) {
    if (body_len > UINT32_MAX - GS_FRAME_HEADER_SIZE)
        return NULL;
    gs_buf_t *b = gs_buf_alloc(GS_FRAME_HEADER_SIZE + body_len);
    if (!b)
        return NULL;
    uint8_t *p = gs_buf_bytes(b);
    gs_frame_header_write(p, body_len, msg_id);
    if (body_len)
        memcpy(p + GS_FRAME_HEADER_SIZE, body, body_len);
    return b;
}

const char *gs_close_reason_name(gs_close_reason_t r) {
    static const char *const names[] = {
#define GS__CR_NAME(name, str) str,
        GS_CLOSE_REASON_MAP(GS__CR_NAME)
#undef GS__CR_NAME
    };
    return (unsigned)r < GS_CLOSE__COUNT ? names[r] : "unknown";
}

const char *gs_frame_reject_name(gs_frame_reject_t r) {
    static const char *const names[] = {
#define GS__FR_NAME(name, str) str,
        GS_FRAME_REJECT_MAP(GS__FR_NAME)
#undef GS__FR_NAME
    };
    return (unsigned)r < GS_REJECT__COUNT ? names[r] : "unknown";
}

const char *gs_io_error_name(gs_io_error_t e) {
    static const char *const names[] = {
#define GS__IE_NAME(name, str) str,
        GS_IO_ERROR_MAP(GS__IE_NAME)
#undef GS__IE_NAME
    };
    return (unsigned)e < GS_IOERR__COUNT ? names[e] : "unknown";
}

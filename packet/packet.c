/* SPDX-License-Identifier: MIT */
/* Packets: a net buffer descriptor, the frame header and the body in one pooled block. */
#include <stdlib.h>
#include <string.h>

#include "gs/packet.h"

/* The last reference, on whatever thread drops it (often an IO thread after the send). */
static void packet_release(gs_buf_t *b) { gs_pool_free(gs_packet_of_buf(b)); }

gs_packet_t *gs_packet_alloc(gs_pool_t *pool, uint32_t body_cap) {
    size_t need = sizeof(gs_packet_t) + GS_FRAME_HEADER_SIZE + (size_t)body_cap;
    gs_packet_t *p = gs_pool_alloc(pool, need);
    if (!p)
        return NULL;
    /* The class may be larger than asked: let the body use all of it. */
    size_t room = gs_pool_block_size(p) - sizeof(gs_packet_t) - GS_FRAME_HEADER_SIZE;
    p->cap = room > UINT32_MAX ? UINT32_MAX : (uint32_t)room;
    p->msg_id = 0;
    gs_buf_init(&p->buf, p->frame, GS_FRAME_HEADER_SIZE, packet_release);
    /* A queued packet holds its whole block, whatever its length (gs_buf_t: charge). */
    size_t held = gs_pool_block_footprint(p);
    p->buf.charge = held > UINT32_MAX ? UINT32_MAX : (uint32_t)held;
    gs_frame_header_write(p->frame, 0, 0);
    return p;
}

/* Writing past cap has already corrupted the pool: stop at the bug. */
static void check_cap(const gs_packet_t *p, uint32_t body_len) {
    if (body_len > p->cap) {
        gs_log(GS_LOG_ERROR, "packet", "packet body %u over capacity %u", body_len, p->cap);
        abort();
    }
}

void gs_packet_finish(gs_packet_t *p, uint32_t msg_id, uint32_t body_len) {
    check_cap(p, body_len);
    p->msg_id = msg_id;
    gs_frame_header_write(p->frame, body_len, msg_id);
    p->buf.len = GS_FRAME_HEADER_SIZE + body_len;
}

void gs_packet_finish_raw(gs_packet_t *p, uint32_t body_len) {
    check_cap(p, body_len);
    p->msg_id = 0;
    p->buf.data = gs_packet_body(p);
    p->buf.len = body_len;
}

gs_packet_t *gs_packet_frame(gs_pool_t *pool, uint32_t msg_id, const void *body,
                             uint32_t body_len) {
    gs_packet_t *p = gs_packet_alloc(pool, body_len);
    if (!p)
        return NULL;
    if (body_len)
        memcpy(gs_packet_body(p), body, body_len);
    gs_packet_finish(p, msg_id, body_len);
    return p;
}

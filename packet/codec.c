/* SPDX-License-Identifier: MIT */
/* Encode protobuf-c messages into pooled packets; decode frame bodies into a bounded arena with
 * the single-pass validating decoder (decoder.c). */
#include "gs/packet.h"
#include "decoder.h"

int gs_msg_encode(const gs_msg_registry_t *r, gs_pool_t *pool, const ProtobufCMessage *msg,
                  gs_packet_t **out) {
    if (!out)
        return GS_EINVAL;
    *out = NULL;
    if (!r || !pool || !msg || !msg->descriptor)
        return GS_EINVAL;
    uint32_t id = gs_msg_registry_id(r, msg->descriptor);
    if (id == 0)
        return GS_EBADID;
    size_t size = protobuf_c_message_get_packed_size(msg);
    if (size > gs_msg_registry_max_body(r))
        return GS_ETOOBIG;
    gs_packet_t *p = gs_packet_alloc(pool, (uint32_t)size);
    if (!p)
        return GS_ENOMEM;
    size_t packed = protobuf_c_message_pack(msg, gs_packet_body(p));
    if (packed != size) {
        /* Only possible if another thread changed msg between the two calls. */
        gs_packet_unref(p);
        return GS_EINVAL;
    }
    gs_packet_finish(p, id, (uint32_t)size);
    *out = p;
    return 0;
}

int gs_msg_decode(const gs_msg_registry_t *r, gs_arena_t *a, uint32_t msg_id, const uint8_t *body,
                  uint32_t len, ProtobufCMessage **out) {
    if (!out)
        return GS_EINVAL;
    *out = NULL;
    if (!r || !a || (!body && len))
        return GS_EINVAL;
    const ProtobufCMessageDescriptor *d = gs_msg_registry_find(r, msg_id);
    if (!d)
        return GS_EBADID;
    if (len > gs_msg_registry_max_body(r))
        return GS_ETOOBIG;
    /* One pass: structure, text and allocation checked while the message is built. */
    gs_arena_stats_t before;
    gs_arena_stats(a, &before);
    gs_arena_set_limit(a,
                       before.bytes + (size_t)GS_DECODE_ALLOC_FACTOR * len + GS_DECODE_ALLOC_BASE);
    int rc = gs__decode(d, a, body, len, out);
    gs_arena_set_limit(a, 0);
    return rc;
}

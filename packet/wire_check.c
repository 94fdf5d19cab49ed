/* SPDX-License-Identifier: MIT */
/* Wire-format pre-pass: rejects malformed bodies and bad text before protobuf-c allocates
 * anything (see wire_check.h). */
#include <string.h>

#include "gs/packet.h"
#include "wire_check.h"

enum { WT_VARINT = 0, WT_64BIT = 1, WT_LEN = 2, WT_32BIT = 5 };

/* A varint of at most 10 bytes at *p; 0 when it is cut by end or longer. Bits past 64 are
 * dropped, as every protobuf decoder does. */
static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
    const uint8_t *q = *p;
    uint64_t v = 0;
    for (unsigned i = 0; i < 10 && q < end; i++) {
        uint8_t b = *q++;
        v |= (uint64_t)(b & 0x7F) << (7 * i);
        if ((b & 0x80) == 0) {
            *p = q;
            *out = v;
            return 1;
        }
    }
    return 0;
}

/* A tag: a varint of at most 5 bytes whose value fits in 32 bits (so the fifth byte is at most
 * 0F), with a field number other than 0. Refusing larger tags here also keeps them away from
 * protobuf-c 1.4.1's tag parser, whose shift overflows on them (upstream PR #794). */
static int read_tag(const uint8_t **p, const uint8_t *end, uint32_t *field, unsigned *wire_type) {
    const uint8_t *q = *p;
    uint32_t v = 0;
    for (unsigned i = 0; i < 5 && q < end; i++) {
        uint8_t b = *q++;
        if (i == 4 && b > 0x0F)
            return 0;
        v |= (uint32_t)(b & 0x7F) << (7 * i);
        if ((b & 0x80) == 0) {
            if ((v >> 3) == 0)
                return 0;
            *p = q;
            *field = v >> 3;
            *wire_type = v & 7;
            return 1;
        }
    }
    return 0;
}

/* The wire type a non-packed value of type t arrives with. */
static unsigned scalar_wire_type(ProtobufCType t) {
    switch (t) {
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return WT_32BIT;
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return WT_64BIT;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE:
        return WT_LEN;
    default:
        return WT_VARINT;
    }
}

/* The payload of a packed repeated field: whole elements, nothing left over. */
static int packed_ok(unsigned wire_type, const uint8_t *p, const uint8_t *end) {
    size_t n = (size_t)(end - p);
    if (wire_type == WT_32BIT)
        return n % 4 == 0;
    if (wire_type == WT_64BIT)
        return n % 8 == 0;
    uint64_t v;
    while (p < end)
        if (!read_varint(&p, end, &v))
            return 0;
    return 1;
}

static int text_ok(const uint8_t *s, size_t n) {
    return (n == 0 || memchr(s, 0, n) == NULL) && gs_utf8_valid(s, n);
}

static int walk(const ProtobufCMessageDescriptor *d, const uint8_t *p, const uint8_t *end,
                unsigned depth) {
    /* A text error is remembered, not returned, so that a structural error later in the body
     * still classifies it as malformed. */
    int text = 0;
    while (p < end) {
        uint32_t num;
        unsigned wt;
        uint64_t v;
        if (!read_tag(&p, end, &num, &wt))
            return GS_EBADMSG;
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, num);
        unsigned want = f ? scalar_wire_type(f->type) : wt;
        switch (wt) {
        case WT_VARINT:
            if (want != wt || !read_varint(&p, end, &v))
                return GS_EBADMSG;
            break;
        case WT_64BIT:
        case WT_32BIT: {
            size_t n = wt == WT_64BIT ? 8 : 4;
            if (want != wt || (size_t)(end - p) < n)
                return GS_EBADMSG;
            p += n;
            break;
        }
        case WT_LEN: {
            if (!read_varint(&p, end, &v) || v > (uint64_t)(end - p))
                return GS_EBADMSG;
            const uint8_t *s = p;
            p += (size_t)v;
            if (!f)
                break;
            if (f->type == PROTOBUF_C_TYPE_STRING) {
                if (!text_ok(s, (size_t)v))
                    text = GS_EBADTEXT;
            } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (depth >= GS__WIRE_MAX_DEPTH)
                    return GS_EBADMSG;
                int rc = walk(f->descriptor, s, p, depth + 1);
                if (rc == GS_EBADMSG)
                    return rc;
                if (rc != 0)
                    text = rc;
            } else if (f->type != PROTOBUF_C_TYPE_BYTES) {
                /* A scalar: only a repeated one may arrive packed. */
                if (f->label != PROTOBUF_C_LABEL_REPEATED || !packed_ok(want, s, p))
                    return GS_EBADMSG;
            }
            break;
        }
        default:
            /* 3 and 4 are groups, which protobuf-c does not support; 6 and 7 do not exist. */
            return GS_EBADMSG;
        }
    }
    return text;
}

int gs__wire_check(const ProtobufCMessageDescriptor *d, const uint8_t *body, size_t len) {
    if (!d)
        return GS_EINVAL;
    if (len == 0)
        return 0;
    if (!body)
        return GS_EINVAL;
    return walk(d, body, body + len, 0);
}

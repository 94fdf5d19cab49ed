/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the single-pass decoder (packet/decoder.c), checked against protobuf-c's
 * own unpack: a message type chosen by the input (the decoder test types, then the chat
 * protocol) and a body go through gs__decode, gs__wire_check and protobuf_c_message_unpack, and
 * their verdicts and results must agree (see dd_check). Aborts on any disagreement.
 * tests/packet/test_decoder.c links this file and runs dd_check over generated and mutated
 * bodies, so the oracle is one piece of code. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_proto.h"
#include "decoder.h"
#include "gs/packet.h"
#include "packet_decoder_test_proto.h"
#include "pb_walk.h"
#include "wire_check.h"

/* Input layout:
 *   byte 0   index of the message type: packet_decoder_test_proto_messages, then
 *            chat_proto_messages, modulo their total count.
 *   rest     the body. */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Outcomes of dd_check, shared with test_decoder.c. */
enum {
    DD_BOTH_OK,     /* both decode it, to the same message */
    DD_BAD_WIRE,    /* the wire check and gs__decode refuse it: GS_EBADMSG */
    DD_BAD_TEXT,    /* the wire check and gs__decode refuse it: GS_EBADTEXT */
    DD_BOTH_REFUSE, /* well formed on the wire, but protobuf-c refuses it, and so does gs */
    DD_DUP_REFUSED, /* protobuf-c merges a repeated singular sub-message; gs refuses it */
    DD_TOO_BIG,     /* gs__decode hit the allocation bound */
    DD__COUNT
};
int dd_check(const ProtobufCMessageDescriptor *d, gs_arena_t *a, const uint8_t *body, size_t len);
const ProtobufCMessageDescriptor *dd_type(size_t i);
size_t dd_type_count(void);

static void die(const char *what, const ProtobufCMessageDescriptor *d, size_t len, int rc) {
    fprintf(stderr,
            "fuzz_decoder_diff: invariant broken: %s (type %s, body %zu bytes, result %d)\n", what,
            d ? d->name : "?", len, rc);
    abort();
}

#define MEMBER(m, off) ((const void *)((const char *)(m) + (off)))

/* ---------------------------------------------------------------------------------------------
 * Comparison of two decoded messages, field by field, by their descriptor.
 * ------------------------------------------------------------------------------------------- */
static int msg_equal(const ProtobufCMessage *a, const ProtobufCMessage *b);

static size_t value_size(ProtobufCType t) {
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    default:
        return 4;
    }
}

static int value_equal(const ProtobufCFieldDescriptor *f, const void *x, const void *y) {
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)x, *t = *(const char *const *)y;
        return (s == NULL) == (t == NULL) && (s == NULL || strcmp(s, t) == 0);
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *s = x, *t = y;
        return s->len == t->len && (s->data == NULL) == (t->data == NULL) &&
               (s->len == 0 || memcmp(s->data, t->data, s->len) == 0);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *s = *(const ProtobufCMessage *const *)x;
        const ProtobufCMessage *t = *(const ProtobufCMessage *const *)y;
        return (s == NULL) == (t == NULL) && (s == NULL || msg_equal(s, t));
    }
    default:
        return memcmp(x, y, value_size(f->type)) == 0;
    }
}

static int msg_equal(const ProtobufCMessage *a, const ProtobufCMessage *b) {
    const ProtobufCMessageDescriptor *d = a->descriptor;
    if (b->descriptor != d)
        return 0;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)MEMBER(a, f->quantifier_offset);
            if (n != *(const size_t *)MEMBER(b, f->quantifier_offset))
                return 0;
            const char *xa = *(const char *const *)MEMBER(a, f->offset);
            const char *xb = *(const char *const *)MEMBER(b, f->offset);
            if (n && (!xa || !xb))
                return 0;
            for (size_t k = 0; k < n; k++)
                if (!value_equal(f, xa + k * value_size(f->type), xb + k * value_size(f->type)))
                    return 0;
            continue;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t ca = *(const uint32_t *)MEMBER(a, f->quantifier_offset);
            if (ca != *(const uint32_t *)MEMBER(b, f->quantifier_offset))
                return 0;
            if (ca != f->id)
                continue;
        } else if (f->quantifier_offset != 0 && f->label == PROTOBUF_C_LABEL_OPTIONAL) {
            if (*(const protobuf_c_boolean *)MEMBER(a, f->quantifier_offset) !=
                *(const protobuf_c_boolean *)MEMBER(b, f->quantifier_offset))
                return 0;
        }
        if (!value_equal(f, MEMBER(a, f->offset), MEMBER(b, f->offset)))
            return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------------------------------------
 * protobuf-c's side.
 * ------------------------------------------------------------------------------------------- */

/* Drop the unknown fields protobuf-c kept (gs__decode skips them), all the way down. */
static void strip_unknown(ProtobufCMessage *m) {
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        free(m->unknown_fields[i].data);
    free(m->unknown_fields);
    m->unknown_fields = NULL;
    m->n_unknown_fields = 0;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)MEMBER(m, f->quantifier_offset) != f->id)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)MEMBER(m, f->quantifier_offset);
            ProtobufCMessage *const *items =
                *(ProtobufCMessage *const *const *)MEMBER(m, f->offset);
            for (size_t k = 0; k < n; k++)
                strip_unknown(items[k]);
        } else {
            ProtobufCMessage *sub = *(ProtobufCMessage *const *)MEMBER(m, f->offset);
            if (sub && sub != f->default_value)
                strip_unknown(sub);
        }
    }
}

/* Whether a singular (not repeated, not oneof) message field occurs twice in one message
 * anywhere in a body that gs__wire_check accepted: protobuf-c merges those, gs__decode refuses
 * them. Written apart from both decoders. */
static int has_duplicate(const ProtobufCMessageDescriptor *d, const uint8_t *p,
                         const uint8_t *end) {
    unsigned char *seen = calloc(d->n_fields + 1, 1);
    if (!seen)
        die("out of memory in the harness", d, 0, 0);
    int dup = 0;
    while (p < end && !dup) {
        uint64_t key = 0, v = 0;
        for (unsigned sh = 0; p < end && sh < 64; sh += 7) {
            key |= (uint64_t)(*p & 0x7F) << sh;
            if (*p++ < 0x80)
                break;
        }
        unsigned wt = key & 7;
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3));
        if (wt == 1 || wt == 5) {
            size_t n = wt == 1 ? 8 : 4;
            p += (size_t)(end - p) < n ? (size_t)(end - p) : n;
            continue;
        }
        for (unsigned sh = 0; p < end && sh < 70; sh += 7) {
            v |= sh < 64 ? (uint64_t)(*p & 0x7F) << sh : 0;
            if (*p++ < 0x80)
                break;
        }
        if (wt != 2)
            continue;
        if (v > (uint64_t)(end - p))
            v = (uint64_t)(end - p);
        const uint8_t *payload = p;
        p += v;
        if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->label != PROTOBUF_C_LABEL_REPEATED && !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            seen[f - d->fields]++)
            dup = 1;
        else
            dup = has_duplicate(f->descriptor, payload, p);
    }
    free(seen);
    return dup;
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *n) {
    *n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(*n ? *n : 1);
    if (!buf)
        die("out of memory in the harness", m->descriptor, *n, 0);
    if (protobuf_c_message_pack(m, buf) != *n)
        die("pack wrote a size other than get_packed_size", m->descriptor, *n, 0);
    return buf;
}

static uint64_t arena_bytes(const gs_arena_t *a) {
    gs_arena_stats_t st;
    gs_arena_stats(a, &st);
    return st.bytes;
}

/* gs__decode into a (reset first) with gs_msg_decode's allocation limit; checks what every call
 * must satisfy. */
static int decode(const ProtobufCMessageDescriptor *d, gs_arena_t *a, const uint8_t *body,
                  size_t len, ProtobufCMessage **out) {
    uint64_t bound = (uint64_t)GS_DECODE_ALLOC_FACTOR * len + GS_DECODE_ALLOC_BASE;
    ProtobufCMessage poison;
    ProtobufCMessage *m = &poison;
    gs_arena_reset(a);
    gs_arena_set_limit(a, (size_t)bound);
    int rc = gs__decode(d, a, body, len, &m);
    gs_arena_set_limit(a, 0);
    if (arena_bytes(a) > bound)
        die("allocated past the bound", d, len, rc);
    if (rc == 0 && (m == NULL || m == &poison || m->descriptor != d || m->n_unknown_fields != 0))
        die("success without a proper message", d, len, rc);
    if (rc != 0 && m != NULL)
        die("error with a message", d, len, rc);
    *out = m;
    return rc;
}

/* The differential check of one body of type d (body may be NULL when len is 0), decoded into
 * arena a (reset here). Returns the DD_* outcome; aborts when:
 *   - gs__decode's code differs from gs__wire_check's whenever the latter refuses the body;
 *   - gs__decode accepts a body protobuf-c refuses, or decodes it to another message (compared
 *     field by field, and by re-packing both: the bytes must be identical);
 *   - gs__decode refuses a well-formed body that protobuf-c accepts, unless the body repeats a
 *     singular sub-message (the one documented refusal protobuf-c does not share);
 *   - a decoded message holds a string that is not UTF-8, does not survive pack -> decode ->
 *     pack, or the decode allocated past GS_DECODE_ALLOC_FACTOR x len + GS_DECODE_ALLOC_BASE.
 * protobuf-c is consulted only on bodies the wire check finds well formed (0 or GS_EBADTEXT):
 * on the others protobuf-c 1.4.1 itself can overflow (tag shifts, 5-byte lengths past 32 bits),
 * and the verdict there is the wire check's, which its own tests hold against protobuf-c. */
int dd_check(const ProtobufCMessageDescriptor *d, gs_arena_t *a, const uint8_t *body, size_t len) {
    static const uint8_t empty[1];
    if (len == 0)
        body = empty;
    int wc = gs__wire_check(d, body, len);
    ProtobufCMessage *m;
    int rc = decode(d, a, body, len, &m);
    if (wc != 0) {
        if (rc != wc)
            die("gs__decode and gs__wire_check classify the body differently", d, len, rc);
        if (wc == GS_EBADMSG)
            return DD_BAD_WIRE;
    }
    ProtobufCMessage *ref = protobuf_c_message_unpack(d, NULL, len, body);
    int outcome;
    if (wc == GS_EBADTEXT) {
        outcome = DD_BAD_TEXT;
    } else if (rc == 0) {
        if (!ref)
            die("gs__decode accepts a body protobuf-c refuses", d, len, rc);
        strip_unknown(ref);
        if (!msg_equal(m, ref))
            die("gs__decode and protobuf-c decode different messages", d, len, rc);
        if (!tp_strings_ok(m, tp_utf8_reference))
            die("decoded a string that is not UTF-8", d, len, rc);
        size_t n1, n2;
        uint8_t *p1 = pack(m, &n1), *p2 = pack(ref, &n2);
        if (n1 != n2 || memcmp(p1, p2, n1) != 0)
            die("re-packs of gs__decode and protobuf-c differ", d, len, rc);
        /* What we decode we can pack, decode again, and pack to the same bytes. */
        ProtobufCMessage *m2;
        if (decode(d, a, p1, n1, &m2) != 0)
            die("re-packed message does not decode", d, n1, rc);
        uint8_t *p3 = pack(m2, &n2);
        if (n1 != n2 || memcmp(p1, p3, n1) != 0)
            die("pack(decode(pack(m))) differs from pack(m)", d, n1, rc);
        free(p1);
        free(p2);
        free(p3);
        outcome = DD_BOTH_OK;
    } else if (rc == GS_ETOOBIG) {
        outcome = DD_TOO_BIG;
    } else if (rc != GS_EBADMSG) {
        die("unexpected result", d, len, rc);
        outcome = DD__COUNT;
    } else if (!ref) {
        outcome = DD_BOTH_REFUSE;
    } else {
        if (!has_duplicate(d, body, body + len))
            die("gs__decode refuses a well-formed body protobuf-c accepts", d, len, rc);
        outcome = DD_DUP_REFUSED;
    }
    protobuf_c_message_free_unpacked(ref, NULL);
    gs_arena_reset(a);
    return outcome;
}

size_t dd_type_count(void) {
    return packet_decoder_test_proto_messages_count + chat_proto_messages_count;
}

const ProtobufCMessageDescriptor *dd_type(size_t i) {
    i %= dd_type_count();
    return i < packet_decoder_test_proto_messages_count
               ? packet_decoder_test_proto_messages[i]
               : chat_proto_messages[i - packet_decoder_test_proto_messages_count];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* Built on the first input and kept for the process, as in fuzz_decode.c. */
    static gs_arena_t *arena;
    if (size < 1)
        return 0;
    if (!arena && !(arena = gs_arena_create(0)))
        die("set-up failed", NULL, 0, 0);
    dd_check(dd_type(data[0]), arena, data + 1, size - 1);
    return 0;
}

/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the message decoder (docs/testing.md F06): a chat message type chosen by the
 * input and a frame body go through gs_msg_decode into one reused arena. A decoded message must
 * hold only strict UTF-8, stay within the allocation bound, and survive pack -> decode -> pack
 * unchanged (protobuf-c's OSS-Fuzz invariant). Aborts on any broken invariant. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_proto.h"
#include "gs/packet.h"
#include "pb_walk.h"

/* Input layout:
 *   byte 0   index of the message type in chat_proto_messages, modulo their count.
 *   rest     the frame body. */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const ProtobufCMessageDescriptor *d, size_t len, int rc) {
    fprintf(stderr, "fuzz_decode: invariant broken: %s (type %s, body %zu bytes, result %d)\n",
            what, d ? d->name : "?", len, rc);
    abort();
}

typedef struct {
    gs_msg_registry_t *reg;
    gs_arena_t *arena;
} harness_t;

/* Built on the first input and kept for the process: one arena reused across inputs, reset
 * after each, as a server's decoding thread does. Still reachable at exit, so not a leak. */
static harness_t *harness(void) {
    static harness_t h;
    if (h.reg == NULL) {
        h.reg = gs_msg_registry_create(0);
        h.arena = gs_arena_create(0);
        if (h.reg == NULL || h.arena == NULL || chat_proto_register(h.reg) != 0)
            die("set-up failed", NULL, 0, 0);
    }
    return &h;
}

static uint64_t arena_bytes(const gs_arena_t *a) {
    gs_arena_stats_t st;
    gs_arena_stats(a, &st);
    return st.bytes;
}

/* pack(m) into a new buffer; *n gets its size. */
static uint8_t *pack(const ProtobufCMessage *m, size_t *n) {
    *n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(*n ? *n : 1);
    if (buf == NULL)
        die("out of memory in the harness", m->descriptor, *n, 0);
    if (protobuf_c_message_pack(m, buf) != *n)
        die("pack wrote a size other than get_packed_size", m->descriptor, *n, 0);
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size - 1 > UINT32_MAX)
        return 0;
    harness_t *h = harness();
    const ProtobufCMessageDescriptor *d = chat_proto_messages[data[0] % chat_proto_messages_count];
    uint32_t id = gs_msg_registry_id(h->reg, d);
    const uint8_t *body = data + 1;
    size_t len = size - 1;
    uint32_t max_body = gs_msg_registry_max_body(h->reg);

    ProtobufCMessage *m = NULL;
    int rc = gs_msg_decode(h->reg, h->arena, id, body, (uint32_t)len, &m);
    if (arena_bytes(h->arena) > (uint64_t)GS_DECODE_ALLOC_FACTOR * len + GS_DECODE_ALLOC_BASE)
        die("allocated past the bound", d, len, rc);
    switch (rc) {
    case 0:
        if (m == NULL || m->descriptor != d)
            die("success without the message", d, len, rc);
        break;
    case GS_ETOOBIG:
        /* The chat types allocate at most 24 bytes per body byte (tests/packet/test_codec.c,
         * A12), far under the bound's 64, so it refuses only bodies over max_body. */
        if (len <= max_body)
            die("a body within max_body refused by the allocation bound", d, len, rc);
        /* fallthrough */
    case GS_EBADMSG:
    case GS_EBADTEXT:
        if (m != NULL)
            die("error with a message", d, len, rc);
        break;
    default:
        die("unexpected result", d, len, rc);
    }
    if (rc == 0 && len > max_body)
        die("a body over max_body decoded", d, len, rc);

    if (rc == 0) {
        if (!tp_strings_ok(m, tp_utf8_reference))
            die("decoded a string that is not UTF-8", d, len, rc);
        /* Round trip: what we decode we can pack, decode again, and pack to the same bytes. */
        size_t n1, n2;
        uint8_t *p1 = pack(m, &n1);
        if (n1 <= max_body) {
            ProtobufCMessage *m2 = NULL;
            uint64_t before = arena_bytes(h->arena);
            int rc2 = gs_msg_decode(h->reg, h->arena, id, p1, (uint32_t)n1, &m2);
            if (rc2 != 0 || m2 == NULL)
                die("re-encoded message does not decode", d, n1, rc2);
            if (arena_bytes(h->arena) - before >
                (uint64_t)GS_DECODE_ALLOC_FACTOR * n1 + GS_DECODE_ALLOC_BASE)
                die("re-decode allocated past the bound", d, n1, rc2);
            uint8_t *p2 = pack(m2, &n2);
            if (n2 != n1 || (n1 > 0 && memcmp(p1, p2, n1) != 0))
                die("pack(decode(pack(m))) differs from pack(m)", d, n1, rc2);
            free(p2);
        }
        free(p1);
    }
    gs_arena_reset(h->arena);
    return 0;
}

/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the message decoder (TESTPLAN F06): a chat message type chosen by the
 * input and a frame body go through gs_msg_decode into one reused arena. A decoded message must
 * hold only strict UTF-8, stay within the allocation bound, and survive pack -> decode -> pack
 * unchanged (protobuf-c's OSS-Fuzz invariant). Aborts on any broken invariant. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_proto.h"
#include "gs/packet.h"

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

/* Strict UTF-8 (RFC 3629), independent of packet/text.c. */
static int utf8_ok(const uint8_t *s, size_t n) {
    static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
    size_t i = 0;
    while (i < n) {
        uint32_t c = s[i], cp;
        size_t k;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0)
            k = 1, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0)
            k = 2, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0)
            k = 3, cp = c & 0x07;
        else
            return 0;
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3Fu);
        }
        if (cp < min_cp[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* Every string of m, nested and repeated ones included, is strict UTF-8; reads all of them. */
static int strings_ok(const ProtobufCMessage *m) {
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        size_t n = 1;
        void *const *items = (void *const *)(base + f->offset);
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(const size_t *)(base + f->quantifier_offset);
            items = *(void *const *const *)(base + f->offset);
        }
        for (size_t k = 0; k < n; k++) {
            if (items[k] == NULL)
                continue;
            if (f->type == PROTOBUF_C_TYPE_STRING) {
                const char *s = items[k];
                if (!utf8_ok((const uint8_t *)s, strlen(s)))
                    return 0;
            } else if (!strings_ok(items[k])) {
                return 0;
            }
        }
    }
    return 1;
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
        /* The chat types allocate at most 60 bytes per body byte (tests/packet/test_codec.c,
         * A12), so the bound refuses only bodies over max_body. */
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
        if (!strings_ok(m))
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

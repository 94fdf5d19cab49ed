/* SPDX-License-Identifier: MIT */
/* Tests of packet/decoder.c, the single-pass decoder: differential runs against protobuf-c's
 * unpack over thousands of generated messages of every field shape (decoder_test.proto,
 * decoder_test2.proto, the chat protocol) and their mutations, through the oracle of
 * fuzz/fuzz_decoder_diff.c; the hostile inputs of test_wire_check.c classified as the wire check
 * classifies them; and the semantics one by one: proto2 defaults and has_ flags, required
 * fields, oneofs, duplicates, packed and unpacked repeated fields, scalar edge values, unknown
 * fields, depth, text, allocation. Every body is copied into a heap block of its exact size, so
 * that the sanitizer build catches any read past its end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_test.h"

#include "wire_nest.h"

#include "chat_proto.h"
#include "decoder.h"
#include "gs/packet.h"
#include "packet_codec_test_proto.h"
#include "packet_decoder_test_proto.h"
#include "wire_check.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* A hand-made body: pointer and length of a byte list. */
#define BODY(...)      (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})
#define MEMBER(m, off) ((void *)((char *)(m) + (off)))

/* The differential oracle, in fuzz/fuzz_decoder_diff.c. */
enum {
    DD_BOTH_OK,
    DD_BAD_WIRE,
    DD_BAD_TEXT,
    DD_BOTH_REFUSE,
    DD_DUP_REFUSED,
    DD_TOO_BIG,
    DD__COUNT
};
int dd_check(const ProtobufCMessageDescriptor *d, gs_arena_t *a, const uint8_t *body, size_t len);
const ProtobufCMessageDescriptor *dd_type(size_t i);
size_t dd_type_count(void);

static const char *const dd_names[DD__COUNT] = {"both decode", "bad wire",    "bad text",
                                                "both refuse", "dup refused", "too big"};

/* One arena for the whole file, reset by every decode. */
static gs_arena_t *arena;

static int group_setup(void **state) {
    (void)state;
    arena = gs_arena_create(0);
    return arena ? 0 : -1;
}

static int group_teardown(void **state) {
    (void)state;
    gs_arena_destroy(arena);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Helpers.
 * ------------------------------------------------------------------------------------------- */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint64_t rnd64(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static uint32_t rnd(void) { return (uint32_t)(rnd64() >> 32); }

static uint8_t *copy_of(const uint8_t *b, size_t n) {
    uint8_t *c = malloc(n ? n : 1);
    assert_non_null(c);
    if (n)
        memcpy(c, b, n);
    return c;
}

/* gs__decode of an exact-size heap copy of b into the file's arena (reset first), with
 * gs_msg_decode's limit. The copy is freed before returning: the message must not borrow it. */
static int gd(const ProtobufCMessageDescriptor *d, const uint8_t *b, size_t n,
              ProtobufCMessage **out) {
    uint8_t *copy = copy_of(b, n);
    ProtobufCMessage poison;
    ProtobufCMessage *m = &poison;
    gs_arena_reset(arena);
    gs_arena_set_limit(arena, GS_DECODE_ALLOC_FACTOR * n + GS_DECODE_ALLOC_BASE);
    int rc = gs__decode(d, arena, n ? copy : NULL, n, &m);
    gs_arena_set_limit(arena, 0);
    memset(copy, 0xA5, n);
    free(copy);
    if (rc == 0) {
        assert_non_null(m);
        assert_ptr_not_equal(m, &poison);
        assert_ptr_equal(m->descriptor, d);
        assert_int_equal(m->n_unknown_fields, 0);
    } else {
        assert_null(m);
    }
    if (out)
        *out = m;
    return rc;
}

/* gs__wire_check of an exact-size heap copy. */
static int wc(const ProtobufCMessageDescriptor *d, const uint8_t *b, size_t n) {
    uint8_t *copy = copy_of(b, n);
    int rc = gs__wire_check(d, n ? copy : NULL, n);
    free(copy);
    return rc;
}

/* protobuf-c's unpack of an exact-size heap copy (NULL when it refuses); free with
 * protobuf_c_message_free_unpacked(m, NULL). */
static ProtobufCMessage *pc(const ProtobufCMessageDescriptor *d, const uint8_t *b, size_t n) {
    uint8_t *copy = copy_of(b, n);
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, n, copy);
    free(copy);
    return m;
}

/* dd_check of an exact-size heap copy. */
static int dd(const ProtobufCMessageDescriptor *d, const uint8_t *b, size_t n) {
    uint8_t *copy = copy_of(b, n);
    int rc = dd_check(d, arena, n ? copy : NULL, n);
    free(copy);
    return rc;
}

/* Whether m packs to exactly b[0..n). */
static int packs_to(const ProtobufCMessage *m, const uint8_t *b, size_t n) {
    size_t size = protobuf_c_message_get_packed_size(m);
    if (size != n)
        return 0;
    uint8_t *out = malloc(size ? size : 1);
    assert_non_null(out);
    assert_int_equal(protobuf_c_message_pack(m, out), size);
    int same = size == 0 || memcmp(out, b, size) == 0;
    free(out);
    return same;
}

typedef struct wbuf {
    uint8_t b[1024];
    size_t n;
} wbuf_t;

static void wb_byte(wbuf_t *w, uint8_t x) {
    assert_true(w->n < sizeof(w->b));
    w->b[w->n++] = x;
}
static void wb_varint(wbuf_t *w, uint64_t v) {
    while (v >= 0x80) {
        wb_byte(w, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    wb_byte(w, (uint8_t)v);
}
static void wb_tag(wbuf_t *w, uint32_t field, unsigned wt) {
    wb_varint(w, (uint64_t)field << 3 | wt);
}
static void wb_raw(wbuf_t *w, const void *p, size_t n) {
    assert_true(n <= sizeof(w->b) - w->n);
    if (n)
        memcpy(w->b + w->n, p, n);
    w->n += n;
}
static void wb_len(wbuf_t *w, uint32_t field, const void *p, size_t n) {
    wb_tag(w, field, 2);
    wb_varint(w, n);
    wb_raw(w, p, n);
}

/* ---------------------------------------------------------------------------------------------
 * Random messages, built with malloc as protobuf-c's unpack builds them, so that
 * protobuf_c_message_free_unpacked(m, NULL) frees them.
 * ------------------------------------------------------------------------------------------- */
static ProtobufCMessage *gen(const ProtobufCMessageDescriptor *d, unsigned depth);

static size_t value_size(ProtobufCType t) {
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
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

/* Integers of every varint length, and the edges. */
static uint64_t gen_int(void) {
    static const uint64_t edges[] = {0,
                                     1,
                                     UINT64_MAX,
                                     0x7F,
                                     0x80,
                                     0x3FFF,
                                     0x4000,
                                     0x7FFFFFFF,
                                     0x80000000u,
                                     0xFFFFFFFFu,
                                     0x100000000ull,
                                     0x8000000000000000ull,
                                     0x7FFFFFFFFFFFFFFFull,
                                     (uint64_t)-2};
    if (rnd() % 3 == 0)
        return edges[rnd() % ARRAY_LEN(edges)];
    return rnd64() >> (rnd() % 64);
}

/* Valid UTF-8 without NUL: ASCII runs (long enough for the word-at-a-time check) and 2, 3
 * and 4-byte characters. */
static char *gen_text(void) {
    size_t cap = 80, n = 0;
    char *s = malloc(cap + 5);
    assert_non_null(s);
    size_t want = rnd() % 4 == 0 ? 0 : rnd() % cap;
    int ascii_only = rnd() % 2;
    while (n < want) {
        unsigned kind = ascii_only ? 0 : rnd() % 5;
        if (kind <= 1) {
            s[n++] = (char)(0x01 + rnd() % 0x7F);
        } else if (kind == 2) {
            uint32_t cp = 0x80 + rnd() % (0x800 - 0x80);
            s[n++] = (char)(0xC0 | cp >> 6);
            s[n++] = (char)(0x80 | (cp & 0x3F));
        } else if (kind == 3) {
            uint32_t cp = 0x800 + rnd() % (0x10000 - 0x800);
            if (cp >= 0xD800 && cp <= 0xDFFF)
                cp = 0xE000;
            s[n++] = (char)(0xE0 | cp >> 12);
            s[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            s[n++] = (char)(0x80 | (cp & 0x3F));
        } else {
            uint32_t cp = 0x10000 + rnd() % (0x110000 - 0x10000);
            s[n++] = (char)(0xF0 | cp >> 18);
            s[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
            s[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            s[n++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    s[n] = '\0';
    return s;
}

static void gen_value(const ProtobufCFieldDescriptor *f, void *dst, unsigned depth) {
    switch (f->type) {
    case PROTOBUF_C_TYPE_BOOL: {
        protobuf_c_boolean b = (protobuf_c_boolean)(rnd() & 1);
        memcpy(dst, &b, sizeof(b));
        break;
    }
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *e = f->descriptor;
        int32_t v = rnd() % 4 ? e->values[rnd() % e->n_values].value : (int32_t)gen_int();
        memcpy(dst, &v, 4);
        break;
    }
    case PROTOBUF_C_TYPE_STRING:
        *(char **)dst = gen_text();
        break;
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *bd = dst;
        bd->len = rnd() % 3 == 0 ? 0 : rnd() % 40;
        bd->data = NULL;
        if (bd->len) {
            bd->data = malloc(bd->len);
            assert_non_null(bd->data);
            for (size_t i = 0; i < bd->len; i++)
                bd->data[i] = (uint8_t)rnd();
        }
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        *(ProtobufCMessage **)dst = gen(f->descriptor, depth + 1);
        break;
    default: {
        uint64_t v = gen_int();
        if (value_size(f->type) == 4) {
            uint32_t x = (uint32_t)v;
            memcpy(dst, &x, 4);
        } else {
            memcpy(dst, &v, 8);
        }
        break;
    }
    }
}

/* Whether field i is the first member of its oneof (members share the quantifier offset). */
static int first_of_oneof(const ProtobufCMessageDescriptor *d, unsigned i) {
    for (unsigned j = 0; j < i; j++)
        if ((d->fields[j].flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            d->fields[j].quantifier_offset == d->fields[i].quantifier_offset)
            return 0;
    return 1;
}

static ProtobufCMessage *gen(const ProtobufCMessageDescriptor *d, unsigned depth) {
    ProtobufCMessage *m = calloc(1, d->sizeof_message);
    assert_non_null(m);
    d->message_init(m);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        void *member = MEMBER(m, f->offset);
        /* Sub-messages thin out with depth (T contains itself). */
        int deep = f->type == PROTOBUF_C_TYPE_MESSAGE && depth >= 3;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (!first_of_oneof(d, i))
                continue;
            const ProtobufCFieldDescriptor *members[16];
            unsigned k = 0;
            for (unsigned j = i; j < d->n_fields && k < ARRAY_LEN(members); j++)
                if ((d->fields[j].flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
                    d->fields[j].quantifier_offset == f->quantifier_offset)
                    members[k++] = &d->fields[j];
            unsigned pick = rnd() % (k + 1);
            if (pick == k || (members[pick]->type == PROTOBUF_C_TYPE_MESSAGE && depth >= 3))
                continue;
            gen_value(members[pick], MEMBER(m, members[pick]->offset), depth);
            *(uint32_t *)MEMBER(m, f->quantifier_offset) = members[pick]->id;
        } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = rnd() % 3 == 0 ? 0 : rnd() % 6;
            if (rnd() % 50 == 0)
                n = 20 + rnd() % 60;
            if (deep)
                n = 0;
            *(size_t *)MEMBER(m, f->quantifier_offset) = n;
            if (n == 0)
                continue;
            size_t size = value_size(f->type);
            char *arr = calloc(n, size);
            assert_non_null(arr);
            for (size_t k = 0; k < n; k++)
                gen_value(f, arr + k * size, depth);
            *(void **)member = arr;
        } else if (f->label == PROTOBUF_C_LABEL_REQUIRED || (!deep && rnd() % 2)) {
            gen_value(f, member, depth);
            if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset)
                *(protobuf_c_boolean *)MEMBER(m, f->quantifier_offset) = 1;
        }
    }
    return m;
}

/* A body of a generated message of type d, in a malloc block. */
static uint8_t *gen_body(const ProtobufCMessageDescriptor *d, size_t *n) {
    ProtobufCMessage *m = gen(d, 0);
    *n = protobuf_c_message_get_packed_size(m);
    uint8_t *b = malloc(*n ? *n : 1);
    assert_non_null(b);
    assert_int_equal(protobuf_c_message_pack(m, b), *n);
    protobuf_c_message_free_unpacked(m, NULL);
    return b;
}

/* ---------------------------------------------------------------------------------------------
 * Descriptors: what the decoder's field lookup relies on.
 * ------------------------------------------------------------------------------------------- */
static void test_descriptors_sorted_by_id(void **state) {
    (void)state;
    for (size_t t = 0; t < dd_type_count(); t++) {
        const ProtobufCMessageDescriptor *d = dd_type(t);
        uint32_t max = 0;
        for (unsigned i = 0; i < d->n_fields; i++) {
            /* protoc-c emits fields sorted by number, which the declaration-order hint and the
             * range search both assume. */
            if (i > 0)
                assert_true(d->fields[i].id > d->fields[i - 1].id);
            max = d->fields[i].id;
        }
        for (uint32_t id = 0; id <= max + 2; id++) {
            const ProtobufCFieldDescriptor *want = NULL;
            for (unsigned i = 0; i < d->n_fields; i++)
                if (d->fields[i].id == id)
                    want = &d->fields[i];
            assert_ptr_equal(protobuf_c_message_descriptor_get_field(d, id), want);
            if (id > 1000 && id < 99999)
                id = 99999; /* the sparse tail of gsdec.All */
            else if (id > 100001 && id < max - 2)
                id = max - 3;
        }
    }
    /* The shapes these tests need are there. */
    assert_true(dd_type_count() >= 16 + chat_proto_messages_count);
    assert_ptr_equal(dd_type(1), &gsdec__all__descriptor);
    assert_ptr_equal(dd_type(7), &gsdec__t__descriptor);
}

/* ---------------------------------------------------------------------------------------------
 * Differential: generated messages, then their mutations.
 * ------------------------------------------------------------------------------------------- */
enum { GENERATED = 6000, MUTATED = 60000 };

static void test_generated_messages(void **state) {
    (void)state;
    gs_arena_t *pc_arena = gs_arena_create(0);
    assert_non_null(pc_arena);
    uint64_t ours_total = 0, theirs_total = 0, body_total = 0;
    double worst = 0;
    for (int iter = 0; iter < GENERATED; iter++) {
        const ProtobufCMessageDescriptor *d = dd_type((size_t)iter);
        size_t n;
        uint8_t *b = gen_body(d, &n);
        /* Valid bodies: both decode, to the same message (field by field and re-packed). */
        int outcome = dd(d, b, n);
        if (outcome != DD_BOTH_OK)
            fail_msg("iteration %d (%s, %zu bytes): outcome %s", iter, d->name, n,
                     dd_names[outcome]);
        /* Re-packing gives back exactly the body protobuf-c packed. */
        ProtobufCMessage *m;
        assert_int_equal(gd(d, b, n, &m), 0);
        assert_true(packs_to(m, b, n));
        gs_arena_stats_t st;
        gs_arena_stats(arena, &st);
        /* What protobuf-c's unpack takes from an arena for the same body. */
        gs_arena_reset(pc_arena);
        ProtobufCMessage *ref = protobuf_c_message_unpack(d, gs_arena_allocator(pc_arena), n, b);
        assert_non_null(ref);
        gs_arena_stats_t pst;
        gs_arena_stats(pc_arena, &pst);
        ours_total += st.bytes;
        theirs_total += pst.bytes;
        body_total += n;
        if (n >= 64 && (double)st.bytes / (double)n > worst)
            worst = (double)st.bytes / (double)n;
        free(b);
    }
    printf("generated: %d messages, %llu body bytes; arena bytes gs__decode %llu, protobuf-c %llu "
           "(%.2fx); worst %.1f bytes per body byte (bodies >= 64 bytes)\n",
           GENERATED, (unsigned long long)body_total, (unsigned long long)ours_total,
           (unsigned long long)theirs_total, (double)ours_total / (double)theirs_total, worst);
    assert_true(ours_total < theirs_total);
    gs_arena_destroy(pc_arena);
}

static const uint8_t interesting[] = {0x00, 0x01, 0x02, 0x7F, 0x80, 0xC0, 0xED, 0xF4, 0xFF,
                                      0x0B, 0x0F, 0x12, 0x1A, 0x08, 0x3F, 0x0A, 0x22, 0x8A};

/* 1 to 4 edits of b[0..*n) (capacity cap): bit flips, byte writes, deletions, insertions, a
 * copy of a chunk spliced in (which repeats fields, sub-messages included), truncation. */
static void mutate(uint8_t *b, size_t *n, size_t cap) {
    for (unsigned k = 1 + rnd() % 4; k > 0; k--) {
        size_t len = *n;
        size_t at = len ? rnd() % len : 0;
        switch (rnd() % 8) {
        case 0:
            if (len)
                b[at] ^= (uint8_t)(1u << (rnd() % 8));
            break;
        case 1:
            if (len)
                b[at] = rnd() % 2 ? (uint8_t)rnd() : interesting[rnd() % ARRAY_LEN(interesting)];
            break;
        case 2:
            if (len) {
                memmove(b + at, b + at + 1, len - at - 1);
                *n = len - 1;
            }
            break;
        case 3:
            if (len < cap) {
                memmove(b + at + 1, b + at, len - at);
                b[at] = interesting[rnd() % ARRAY_LEN(interesting)];
                *n = len + 1;
            }
            break;
        case 4:
        case 5: {
            /* Splice a copy of b[from, from+span) in at `at`. */
            if (!len)
                break;
            size_t from = rnd() % len, span = 1 + rnd() % (len - from);
            if (span > cap - len)
                break;
            uint8_t tmp[2048];
            memcpy(tmp, b + from, span);
            memmove(b + at + span, b + at, len - at);
            memcpy(b + at, tmp, span);
            *n = len + span;
            break;
        }
        case 6:
            *n = at;
            break;
        default:
            /* The whole body again behind itself: every singular sub-message twice. */
            if (len && 2 * len <= cap) {
                memcpy(b + len, b, len);
                *n = 2 * len;
            }
            break;
        }
    }
}

static void test_mutated_messages(void **state) {
    (void)state;
    unsigned counts[DD__COUNT] = {0};
    for (int iter = 0; iter < MUTATED; iter++) {
        const ProtobufCMessageDescriptor *d = dd_type(rnd());
        uint8_t b[2048];
        size_t n;
        if (rnd() % 10 == 0) {
            /* Random bytes. */
            n = rnd() % 48;
            for (size_t i = 0; i < n; i++)
                b[i] = rnd() % 3 ? (uint8_t)rnd() : interesting[rnd() % ARRAY_LEN(interesting)];
        } else {
            uint8_t *g = gen_body(d, &n);
            if (n > sizeof(b) / 2) {
                free(g);
                continue;
            }
            memcpy(b, g, n);
            free(g);
            mutate(b, &n, sizeof(b));
        }
        counts[dd(d, b, n)]++;
    }
    printf("mutated: %d bodies:", MUTATED);
    for (int i = 0; i < DD__COUNT; i++)
        printf(" %s %u%s", dd_names[i], counts[i], i + 1 < DD__COUNT ? "," : "\n");
    /* Every outcome is reached, and the allocation bound never refuses these types. */
    assert_true(counts[DD_BOTH_OK] > 1000);
    assert_true(counts[DD_BAD_WIRE] > 1000);
    assert_true(counts[DD_BAD_TEXT] > 100);
    assert_true(counts[DD_BOTH_REFUSE] > 10);
    assert_true(counts[DD_DUP_REFUSED] > 100);
    assert_int_equal(counts[DD_TOO_BIG], 0);
}

/* ---------------------------------------------------------------------------------------------
 * The hostile inputs of test_wire_check.c: gs__decode classifies them as the wire check does.
 * ------------------------------------------------------------------------------------------- */
typedef struct input {
    const ProtobufCMessageDescriptor *d;
    const uint8_t *b;
    size_t n;
} input_t;

static void test_wire_check_inputs(void **state) {
    (void)state;
    const ProtobufCMessageDescriptor *cs = &chat__chat_send__descriptor;
    const ProtobufCMessageDescriptor *rl = &chat__room_list__descriptor;
    const ProtobufCMessageDescriptor *jr = &chat__join_reply__descriptor;
    const ProtobufCMessageDescriptor *t = &gsdec__t__descriptor;
    static const uint8_t unknown[] = {
        0x08, 0x05, 0xA0, 0x06, 0x96, 0x01, 0xA9, 0x06, 1, 2, 3, 4, 5,    6,    7,   8,
        0xB2, 0x06, 0x03, 0xFF, 0x00, 0xC0, 0xBD, 0x06, 1, 2, 3, 4, 0x1A, 0x02, 'h', 'i'};
    const input_t in[] = {
        /* Text (A14, A15). */
        {rl, BODY(0x08, 0x07, 0x12, 0x09, 0x0A, 0x05, 'l', 'o', 'b', 'b', 'y', 0x10, 0x03, 0x12,
                  0x06, 0x0A, 0x02, 0xC0, 0xAF, 0x10, 0x01)},
        {rl, BODY(0x12, 0x05, 0x0A, 0x03, 0xED, 0xA0, 0x80, 0x12, 0x03, 0x0A, 0x01, 'a')},
        {rl, BODY(0x12, 0x06, 0x0A, 0x04, 0xF4, 0x90, 0x80, 0x80)},
        {cs, BODY(0x1A, 0x05, 'a', 'b', 0x00, 'c', 'd')},
        {cs, BODY(0x1A, 0x05, 'a', 'b', 0x01, 'c', 'd')},
        {cs, BODY(0x12, 0x01, 0x00)},
        {cs, BODY(0x12, 0x02, 'r', 0x00, 0x08, 0x01)},
        {cs, BODY(0x1A, 0x11, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n',
                  'o', 'p', 0x00)},
        {jr, BODY(0x12, 0x01, 'r', 0x1A, 0x05, 'a', 'l', 'i', 'c', 'e', 0x1A, 0x01, 0xC2)},
        {jr, BODY(0x1A, 0x01, 0xFE, 0x1A, 0x01, 'b')},
        /* A11 wrong wire types. */
        {cs, BODY(0x10, 0x05)},
        {cs, BODY(0x15, 'a', 'b', 'c', 'd')},
        {cs, BODY(0x11, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h')},
        {cs, BODY(0x0A, 0x01, 0x05)},
        {cs, BODY(0x0D, 0x01, 0x00, 0x00, 0x00)},
        {cs, BODY(0x21, 1, 2, 3, 4, 5, 6, 7, 8)},
        {cs, BODY(0x22, 0x01, 0x01)},
        {rl, BODY(0x10, 0x01)},
        {jr, BODY(0x18, 0x01)},
        {rl, BODY(0x12, 0x02, 0x08, 0x01)},
        {rl, BODY(0x12, 0x03, 0x12, 0x01, 0x01)},
        {cs, BODY(0x08, 0x05, 0x12, 0x01, 'r', 0x20, 0x01)},
        /* A10 truncated varints and tags; tag and varint lengths. */
        {cs, BODY(0x80, 0x80, 0x80)},
        {cs, BODY(0x08, 0x80, 0x80, 0x80)},
        {cs, BODY(0x08)},
        {cs, BODY(0x12)},
        {cs, BODY(0x12, 0x81)},
        {cs, BODY(0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01)},
        {cs, BODY(0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x81, 0x00)},
        {cs, BODY(0xA0, 0x06, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00)},
        {cs, BODY(0xF8, 0xFF, 0xFF, 0xFF, 0x0F, 0x00)},
        {cs, BODY(0x88, 0x80, 0x80, 0x80, 0x00, 0x01)},
        {cs, BODY(0xF8, 0xFF, 0xFF, 0xFF, 0x1F, 0x00)},
        {cs, BODY(0xF8, 0xFF, 0xFF, 0xFF, 0x7F, 0x00)},
        {cs, BODY(0x88, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01)},
        {cs, BODY(0x88, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01)},
        {cs, BODY(0x00, 0x00)},
        {cs, BODY(0x02, 0x00)},
        {cs, BODY(0x80, 0x00, 0x00)},
        {cs, BODY(0x08, 0x01, 0x00, 0x00)},
        {rl, BODY(0x12, 0x02, 0x10, 0x80)},
        /* Lengths past the end. */
        {cs, BODY(0x12, 0x05, 'a', 'b')},
        {cs, BODY(0x12, 0x03, 'a', 'b', 'c')},
        {cs, BODY(0xA2, 0x06, 0x04, 'a', 'b', 'c')},
        {rl, BODY(0x12, 0x05, 0x0A, 0x01, 'a')},
        {rl, BODY(0x12, 0x04, 0x0A, 0x05, 'a', 'b', 0x08, 0x07, 0x08, 0x07)},
        {rl, BODY(0x12, 0x04, 0x0A, 0x02, 'a', 'b', 0x08, 0x07, 0x08, 0x07)},
        {cs, BODY(0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 'a')},
        {cs, BODY(0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 'a')},
        {cs, BODY(0x12, 0x80, 0x80, 0x80, 0x80, 0x10, 'a')},
        {cs, BODY(0xA1, 0x06, 1, 2, 3, 4, 5, 6, 7)},
        {cs, BODY(0xA5, 0x06, 1, 2, 3)},
        {rl, BODY(0x12, 0x04, 0x25, 1, 2, 3, 4)},
        /* Groups and reserved wire types. */
        {cs, BODY(0x0B, 0x0C)},
        {cs, BODY(0x0B)},
        {cs, BODY(0x0E, 0x00)},
        {cs, BODY(0x0F, 0x00)},
        {cs, BODY(0xA3, 0x06, 0x00)},
        {cs, BODY(0xA7, 0x06)},
        {rl, BODY(0x12, 0x02, 0x1B, 0x1C)},
        /* Unknown fields, and GS_EBADMSG winning over GS_EBADTEXT. */
        {cs, unknown, sizeof(unknown)},
        {rl, BODY(0x32, 0x02, 0xC0, 0xAF)},
        {rl, BODY(0x12, 0x04, 0x32, 0x02, 0xC0, 0xAF)},
        {rl, BODY(0x12, 0x04, 0x0A, 0x02, 0xC0, 0xAF)},
        {cs, BODY(0x1A, 0x01, 0xFF, 0x08, 0x80)},
        {cs, BODY(0x1A, 0x01, 0xFF, 0x0F)},
        {rl, BODY(0x12, 0x03, 0x0A, 0x01, 0xFF, 0x12, 0x05)},
        {rl, BODY(0x12, 0x04, 0x0A, 0x01, 0xFF, 0x10)},
        {rl, BODY(0x12, 0x03, 0x0A, 0x01, 0xFF, 0x08, 0x01)},
        /* T: packed repeated scalars, singular scalars' wire types, maps. */
        {t, BODY(0x0A, 0x03, 0x01, 0x96, 0x01)},
        {t, BODY(0x08, 0x01, 0x08, 0x96, 0x01)},
        {t, BODY(0x0A, 0x00)},
        {t, BODY(0x0A, 0x02, 0x01, 0x96)},
        {t, BODY(0x0A, 0x0B, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00)},
        {t, BODY(0x0A, 0x0A, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00)},
        {t, BODY(0x12, 0x08, 1, 2, 3, 4, 5, 6, 7, 8)},
        {t, BODY(0x12, 0x06, 1, 2, 3, 4, 5, 6)},
        {t, BODY(0x15, 1, 2, 3, 4)},
        {t, BODY(0x10, 0x01)},
        {t, BODY(0x11, 1, 2, 3, 4, 5, 6, 7, 8)},
        {t, BODY(0x1A, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8)},
        {t, BODY(0x1A, 0x0C, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4)},
        {t, BODY(0x1A, 0x04, 1, 2, 3, 4)},
        {t, BODY(0x19, 1, 2, 3, 4, 5, 6, 7, 8)},
        {t, BODY(0x1D, 1, 2, 3, 4)},
        {t, BODY(0x22, 0x02, 0x03, 0x04)},
        {t, BODY(0x20, 0x03, 0x20, 0x04)},
        {t, BODY(0x42, 0x02, 0x01, 0x02)},
        {t, BODY(0x42, 0x01, 0x81)},
        {t, BODY(0x4D, 0, 0, 0x80, 0x3F)},
        {t, BODY(0x4A, 0x04, 0, 0, 0x80, 0x3F)},
        {t, BODY(0x49, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F)},
        {t, BODY(0x51, 1, 2, 3, 4, 5, 6, 7, 8)},
        {t, BODY(0x55, 1, 2, 3, 4)},
        {t, BODY(0x60, 0x01)},
        {t, BODY(0x62, 0x01, 0x01)},
        {t, BODY(0xA0, 0x01, 0x7F)},
        {t, BODY(0xA2, 0x01, 0x01, 0x01)},
        {t, BODY(0x3A, 0x03, 0xFF, 0x00, 0xC0)},
        {t, BODY(0x38, 0x01)},
        {t, BODY(0x32, 0x01, 'a', 0x32, 0x02, 0xC0, 0x80)},
        {t, BODY(0x5A, 0x06, 0x0A, 0x01, 'k', 0x12, 0x01, 'v')},
        {t, BODY(0x5A, 0x06, 0x0A, 0x01, 'k', 0x12, 0x01, 0xFF)},
        {t, BODY(0x5A, 0x06, 0x0A, 0x01, 0xC1, 0x12, 0x01, 'v')},
        {t, BODY(0x5A, 0x06, 0x0A, 0x01, 'k', 0x12, 0x01, 0x00)},
        {t, BODY(0x5A, 0x03, 0x0A, 0x01, 'k', 0x5A, 0x03, 0x12, 0x01, 0x80)},
        {t, BODY(0x5A, 0x02, 0x08, 0x01)},
    };
    unsigned codes[3] = {0, 0, 0};
    for (size_t i = 0; i < ARRAY_LEN(in); i++) {
        int w = wc(in[i].d, in[i].b, in[i].n);
        int g = gd(in[i].d, in[i].b, in[i].n, NULL);
        if (g != w)
            fail_msg("input %zu (%s): gs__decode %d, gs__wire_check %d", i, in[i].d->name, g, w);
        codes[w == 0 ? 0 : w == GS_EBADMSG ? 1 : 2]++;
        dd(in[i].d, in[i].b, in[i].n); /* and protobuf-c agrees where it is consulted */
    }
    assert_true(codes[0] > 10 && codes[1] > 40 && codes[2] > 10);

    /* The depth limit: 32 levels below the top one. */
    uint8_t b[256];
    size_t n;
    for (unsigned levels = 0; levels <= GS__WIRE_MAX_DEPTH; levels++) {
        n = nest(b, sizeof(b), levels, (const uint8_t *)"ok", 2);
        assert_int_equal(gd(t, b, n, NULL), 0);
        assert_int_equal(dd(t, b, n), DD_BOTH_OK);
        n = nest(b, sizeof(b), levels, (const uint8_t *)"\xFF", 1);
        assert_int_equal(gd(t, b, n, NULL), GS_EBADTEXT);
    }
    n = nest(b, sizeof(b), GS__WIRE_MAX_DEPTH + 1, NULL, 0);
    assert_int_equal(gd(t, b, n, NULL), GS_EBADMSG);
    n = nest(b, sizeof(b), GS__WIRE_MAX_DEPTH + 1, (const uint8_t *)"\xFF", 1);
    assert_int_equal(gd(t, b, n, NULL), GS_EBADMSG);
    n = nest(b, sizeof(b), 60, NULL, 0);
    assert_int_equal(gd(t, b, n, NULL), GS_EBADMSG);
    n = nest(b, sizeof(b), 10, (const uint8_t *)"ok", 2);
    b[n - 3] = 0x05; /* the names length now runs past its message */
    assert_int_equal(gd(t, b, n, NULL), GS_EBADMSG);

    /* Every truncation of generated bodies of every type. */
    for (size_t ty = 0; ty < dd_type_count(); ty++) {
        const ProtobufCMessageDescriptor *d = dd_type(ty);
        size_t len;
        uint8_t *g = gen_body(d, &len);
        for (size_t cut = 0; cut <= len; cut++) {
            int w = wc(d, g, cut);
            if (w != 0)
                assert_int_equal(gd(d, g, cut, NULL), w);
            dd(d, g, cut);
        }
        free(g);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Semantics, one by one.
 * ------------------------------------------------------------------------------------------- */
static void test_proto2_defaults_and_has(void **state) {
    (void)state;
    ProtobufCMessage *m;
    assert_int_equal(gd(&gsdec2__opt__descriptor, NULL, 0, &m), 0);
    Gsdec2__Opt *o = (Gsdec2__Opt *)m;
    /* message_init's defaults, nothing present. */
    assert_false(o->has_i32);
    assert_int_equal(o->i32, -5);
    assert_int_equal(o->s64, -10);
    assert_true(o->fl == 1.5f);
    assert_true(o->b);
    assert_int_equal(o->k, GSDEC2__COLOR__BLUE);
    assert_ptr_equal(o->s, gsdec2__opt__descriptor.fields[14].default_value);
    assert_int_equal(o->by.len, 3);
    assert_null(o->leaf);
    assert_null(o->s_nodef);
    assert_int_equal(o->choice_case, GSDEC2__OPT__CHOICE__NOT_SET);
    /* A real (empty) buffer, not NULL: once packs_to is inlined at -O3, gcc cannot tell that
     * its memcmp is unreachable for n == 0 and warns -Wnonnull about a NULL argument. */
    static const uint8_t nothing[1];
    assert_true(packs_to(m, nothing, 0));

    /* Present fields set their has_ flag, also when equal to the default or zero. */
    wbuf_t w = {.n = 0};
    wb_tag(&w, 1, 0), wb_varint(&w, (uint64_t)-5);        /* i32 = -5, the default */
    wb_tag(&w, 13, 0), wb_varint(&w, 0);                  /* b = false */
    wb_len(&w, 15, "", 0);                                /* s = "" */
    wb_len(&w, 16, "", 0);                                /* by = empty */
    wb_tag(&w, 20, 0), wb_varint(&w, 0);                  /* i32_nodef = 0 */
    wb_tag(&w, 11, 5), wb_raw(&w, "\x00\x00\x20\x40", 4); /* fl = 2.5 */
    assert_int_equal(gd(&gsdec2__opt__descriptor, w.b, w.n, &m), 0);
    o = (Gsdec2__Opt *)m;
    assert_true(o->has_i32 && o->i32 == -5);
    assert_true(o->has_b && !o->b);
    assert_string_equal(o->s, "");
    assert_true(o->has_by && o->by.len == 0 && o->by.data == NULL);
    assert_true(o->has_i32_nodef && o->i32_nodef == 0);
    assert_true(o->has_fl && o->fl == 2.5f);
    assert_false(o->has_u32);
    assert_int_equal(o->u32, 7);
    assert_int_equal(dd(&gsdec2__opt__descriptor, w.b, w.n), DD_BOTH_OK);
}

static void test_required_fields(void **state) {
    (void)state;
    const ProtobufCMessageDescriptor *req = &gsdec2__req__descriptor;
    ProtobufCMessage *m;
    /* a, b, c, f present; d (required, default 99) absent: protobuf-c accepts that. */
    wbuf_t w = {.n = 0};
    wb_tag(&w, 1, 0), wb_varint(&w, 1);
    wb_len(&w, 2, "bee", 3);
    wb_len(&w, 3, "", 0);
    wb_len(&w, 6, "\x00", 1);
    assert_int_equal(gd(req, w.b, w.n, &m), 0);
    Gsdec2__Req *r = (Gsdec2__Req *)m;
    assert_int_equal(r->a, 1);
    assert_string_equal(r->b, "bee");
    assert_non_null(r->c);
    assert_int_equal(r->d, 99);
    assert_int_equal(r->f.len, 1);
    assert_int_equal(dd(req, w.b, w.n), DD_BOTH_OK);
    /* Without each of a, b, c, f in turn. */
    static const uint32_t fields[] = {1, 2, 3, 6};
    for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
        wbuf_t v = {.n = 0};
        if (fields[i] != 1)
            wb_tag(&v, 1, 0), wb_varint(&v, 1);
        if (fields[i] != 2)
            wb_len(&v, 2, "bee", 3);
        if (fields[i] != 3)
            wb_len(&v, 3, "", 0);
        if (fields[i] != 6)
            wb_len(&v, 6, "", 0);
        assert_int_equal(gd(req, v.b, v.n, NULL), GS_EBADMSG);
        assert_int_equal(dd(req, v.b, v.n), DD_BOTH_REFUSE);
    }
    /* A required field missing in a repeated sub-message (Kid.x), and in a nested one. */
    wbuf_t v = w;
    wb_len(&v, 7, "\x08\x01", 2);  /* kids {x: -1} */
    wb_len(&v, 7, "\x12\x01k", 3); /* kids {name: "k"} */
    assert_int_equal(gd(req, v.b, v.n, NULL), GS_EBADMSG);
    assert_int_equal(dd(req, v.b, v.n), DD_BOTH_REFUSE);
    v = w;
    wb_len(&v, 8, "\x0A\x00", 2); /* r2 {kid {}} */
    assert_int_equal(gd(req, v.b, v.n, NULL), GS_EBADMSG);
    v = w;
    wb_len(&v, 8, "\x0A\x02\x08\x03", 4); /* r2 {kid {x: -2}} */
    assert_int_equal(gd(req, v.b, v.n, &m), 0);
    assert_int_equal(((Gsdec2__Req *)m)->r2->kid->x, -2);
    /* Wide: required fields at indices 0, 64 and 69 (past a 64-bit set). */
    const ProtobufCMessageDescriptor *wide = &gsdec2__wide__descriptor;
    for (int drop = -1; drop < 3; drop++) {
        wbuf_t x = {.n = 0};
        if (drop != 0)
            wb_tag(&x, 1, 0), wb_varint(&x, 5);
        wb_tag(&x, 63, 5), wb_raw(&x, "abcd", 4);
        if (drop != 1)
            wb_tag(&x, 65, 0), wb_varint(&x, 6);
        if (drop != 2)
            wb_len(&x, 70, "seventy", 7);
        wb_tag(&x, 66, 5), wb_raw(&x, "wxyz", 4);
        assert_int_equal(gd(wide, x.b, x.n, &m), drop < 0 ? 0 : GS_EBADMSG);
        assert_int_equal(dd(wide, x.b, x.n), drop < 0 ? DD_BOTH_OK : DD_BOTH_REFUSE);
        if (drop < 0) {
            Gsdec2__Wide *wd = (Gsdec2__Wide *)m;
            assert_int_equal(wd->f1, 5);
            assert_int_equal(wd->f65, 6);
            assert_string_equal(wd->f70, "seventy");
            assert_true(wd->has_f66 && wd->f66 == 0x7A797877u);
        }
    }
}

static void test_oneof(void **state) {
    (void)state;
    const ProtobufCMessageDescriptor *all = &gsdec__all__descriptor;
    ProtobufCMessage *m;
    /* A later member replaces an earlier one, whatever their types. */
    wbuf_t w = {.n = 0};
    wb_len(&w, 71, "string member", 13);
    wb_len(&w, 73, "\x08\x07", 2);         /* o_leaf {v: 7} */
    wb_tag(&w, 70, 0), wb_varint(&w, 300); /* o_i32 */
    assert_int_equal(gd(all, w.b, w.n, &m), 0);
    Gsdec__All *a = (Gsdec__All *)m;
    assert_int_equal(a->choice_case, GSDEC__ALL__CHOICE_O_I32);
    assert_int_equal(a->o_i32, 300);
    assert_int_equal(dd(all, w.b, w.n), DD_BOTH_OK);
    /* The same message member twice: replaced, not merged (as protobuf-c does). */
    w.n = 0;
    wb_len(&w, 73, "\x08\x07", 2);
    wb_len(&w, 73, "\x12\x01x", 3);
    assert_int_equal(gd(all, w.b, w.n, &m), 0);
    a = (Gsdec__All *)m;
    assert_int_equal(a->choice_case, GSDEC__ALL__CHOICE_O_LEAF);
    assert_int_equal(a->o_leaf->v, 0);
    assert_string_equal(a->o_leaf->s, "x");
    assert_int_equal(dd(all, w.b, w.n), DD_BOTH_OK);
    /* bytes, then a double, then empty bytes. */
    w.n = 0;
    wb_len(&w, 72, "\x01\x02\x03", 3);
    wb_tag(&w, 74, 1), wb_raw(&w, "\0\0\0\0\0\0\xF0\x3F", 8);
    assert_int_equal(gd(all, w.b, w.n, &m), 0);
    assert_true(((Gsdec__All *)m)->o_db == 1.0);
    wb_len(&w, 72, "", 0);
    assert_int_equal(gd(all, w.b, w.n, &m), 0);
    a = (Gsdec__All *)m;
    assert_int_equal(a->choice_case, GSDEC__ALL__CHOICE_O_BY);
    assert_true(a->o_by.len == 0 && a->o_by.data == NULL);
    assert_int_equal(dd(all, w.b, w.n), DD_BOTH_OK);
    /* proto2: a oneof string member with a default. */
    w.n = 0;
    wb_tag(&w, 70, 0), wb_varint(&w, 3); /* o_s64 = -2 */
    wb_len(&w, 71, "one", 3);
    assert_int_equal(gd(&gsdec2__opt__descriptor, w.b, w.n, &m), 0);
    assert_string_equal(((Gsdec2__Opt *)m)->o_s, "one");
    assert_int_equal(dd(&gsdec2__opt__descriptor, w.b, w.n), DD_BOTH_OK);
}

static void test_duplicates(void **state) {
    (void)state;
    const ProtobufCMessageDescriptor *all = &gsdec__all__descriptor;
    ProtobufCMessage *m;
    /* Scalars, strings and bytes: the last occurrence wins. */
    wbuf_t w = {.n = 0};
    wb_tag(&w, 1, 0), wb_varint(&w, 1);
    wb_len(&w, 15, "first", 5);
    wb_len(&w, 16, "ab", 2);
    wb_tag(&w, 1, 0), wb_varint(&w, 2);
    wb_len(&w, 15, "second", 6);
    wb_len(&w, 16, "", 0);
    wb_tag(&w, 7, 5), wb_raw(&w, "\1\0\0\0", 4);
    wb_tag(&w, 7, 5), wb_raw(&w, "\2\0\0\0", 4);
    assert_int_equal(gd(all, w.b, w.n, &m), 0);
    Gsdec__All *a = (Gsdec__All *)m;
    assert_int_equal(a->i32, 2);
    assert_string_equal(a->s, "second");
    assert_true(a->by.len == 0 && a->by.data == NULL);
    assert_int_equal(a->f32, 2);
    assert_int_equal(dd(all, w.b, w.n), DD_BOTH_OK);
    /* A singular sub-message twice: protobuf-c merges, gs__decode refuses (decoder.h). */
    w.n = 0;
    wb_len(&w, 17, "\x08\x05", 2);
    wb_len(&w, 17, "\x12\x01x", 3);
    assert_int_equal(gd(all, w.b, w.n, NULL), GS_EBADMSG);
    assert_int_equal(dd(all, w.b, w.n), DD_DUP_REFUSED);
    ProtobufCMessage *ref = pc(all, w.b, w.n);
    assert_non_null(ref);
    protobuf_c_message_free_unpacked(ref, NULL);
    /* ... also one nested in a repeated element, and a required one (Req.c). */
    w.n = 0;
    wb_len(&w, 62, "\x1A\x00", 2); /* r_leaf [{r: []}]: a packed empty list, no message */
    assert_int_equal(gd(all, w.b, w.n, NULL), 0);
    w.n = 0;
    wb_tag(&w, 1, 0), wb_varint(&w, 1);
    wb_len(&w, 2, "b", 1);
    wb_len(&w, 3, "", 0);
    wb_len(&w, 3, "", 0);
    wb_len(&w, 6, "", 0);
    assert_int_equal(gd(&gsdec2__req__descriptor, w.b, w.n, NULL), GS_EBADMSG);
    assert_int_equal(dd(&gsdec2__req__descriptor, w.b, w.n), DD_DUP_REFUSED);
    /* Repeated sub-messages and map entries are appended, never merged. */
    w.n = 0;
    wb_len(&w, 62, "\x08\x01", 2);
    wb_len(&w, 62, "\x08\x02", 2);
    wb_len(&w, 63, "\x0A\x01k\x12\x01v", 6);
    wb_len(&w, 63, "\x0A\x01k\x12\x01w", 6);
    assert_int_equal(gd(all, w.b, w.n, &m), 0);
    a = (Gsdec__All *)m;
    assert_int_equal(a->n_r_leaf, 2);
    assert_int_equal(a->r_leaf[1]->v, 2);
    assert_int_equal(a->n_m_ss, 2);
    assert_string_equal(a->m_ss[1]->value, "w");
    assert_int_equal(dd(all, w.b, w.n), DD_BOTH_OK);
}

static void test_repeated_packed_and_unpacked(void **state) {
    (void)state;
    const ProtobufCMessageDescriptor *all = &gsdec__all__descriptor;
    ProtobufCMessage *m;
    /* p_i32 (21, packed by default) one by one, packed, one by one again, between others. */
    wbuf_t w = {.n = 0};
    wb_tag(&w, 21, 0), wb_varint(&w, 1);
    wb_len(&w, 60, "s0", 2);
    wb_len(&w, 21, "\x02\x03\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\x01", 12); /* 2, 3, -1 */
    wb_tag(&w, 1, 0), wb_varint(&w, 9);
    wb_tag(&w, 21, 0), wb_varint(&w, 4);
    wb_len(&w, 21, "", 0);
    wb_len(&w, 60, "s1", 2);
    /* u_f64 (48, unpacked by declaration) packed, and p_sf32 (29) one by one. */
    wb_len(&w, 48, "\1\0\0\0\0\0\0\0\2\0\0\0\0\0\0\0", 16);
    wb_tag(&w, 48, 1), wb_raw(&w, "\3\0\0\0\0\0\0\0", 8);
    wb_tag(&w, 29, 5), wb_raw(&w, "\xFF\xFF\xFF\xFF", 4);
    /* p_b (33): packed bools are varints too, any payload bit is true. */
    wb_len(&w, 33, "\x00\x01\x02\x80\x01\x80\x00", 7);
    wb_tag(&w, 33, 0), wb_varint(&w, 0);
    assert_int_equal(gd(all, w.b, w.n, &m), 0);
    Gsdec__All *a = (Gsdec__All *)m;
    static const int32_t want[] = {1, 2, 3, -1, 4};
    assert_int_equal(a->n_p_i32, ARRAY_LEN(want));
    for (size_t i = 0; i < ARRAY_LEN(want); i++)
        assert_int_equal(a->p_i32[i], want[i]);
    assert_int_equal(a->n_r_s, 2);
    assert_string_equal(a->r_s[1], "s1");
    assert_int_equal(a->n_u_f64, 3);
    assert_int_equal(a->u_f64[2], 3);
    assert_int_equal(a->n_p_sf32, 1);
    assert_int_equal(a->p_sf32[0], -1);
    static const protobuf_c_boolean bools[] = {0, 1, 1, 1, 0, 0};
    assert_int_equal(a->n_p_b, ARRAY_LEN(bools));
    for (size_t i = 0; i < ARRAY_LEN(bools); i++)
        assert_int_equal(a->p_b[i], bools[i]);
    assert_int_equal(a->i32, 9);
    assert_int_equal(dd(all, w.b, w.n), DD_BOTH_OK);
    /* Only empty packed lists: no array. */
    w.n = 0;
    wb_len(&w, 22, "", 0);
    wb_len(&w, 22, "", 0);
    assert_int_equal(gd(all, w.b, w.n, &m), 0);
    assert_int_equal(((Gsdec__All *)m)->n_p_i64, 0);
    assert_null(((Gsdec__All *)m)->p_i64);
    /* A packed list whose last varint is cut, or with a partial fixed element. */
    w.n = 0;
    wb_len(&w, 21, "\x01\x80", 2);
    assert_int_equal(gd(all, w.b, w.n, NULL), GS_EBADMSG);
    w.n = 0;
    wb_len(&w, 27, "\1\2\3\4\5", 5);
    assert_int_equal(gd(all, w.b, w.n, NULL), GS_EBADMSG);
    /* A big repeated field: one array of the exact size. */
    w.n = 0;
    for (int i = 0; i < 200; i++)
        wb_tag(&w, 41, 0), wb_varint(&w, (uint64_t)i);
    gs_arena_stats_t s0, st;
    gs_arena_stats(arena, &s0);
    assert_int_equal(gd(all, w.b, w.n, &m), 0);
    gs_arena_stats(arena, &st);
    assert_int_equal(((Gsdec__All *)m)->n_u_i32, 200);
    assert_int_equal(((Gsdec__All *)m)->u_i32[199], 199);
    assert_int_equal(st.allocs - s0.allocs, 2); /* the message and the array */
    assert_true(st.bytes <= ((sizeof(Gsdec__All) + 15) & ~(size_t)15) + 16 + 200 * 4);
}

static void test_scalar_edges(void **state) {
    (void)state;
    const ProtobufCMessageDescriptor *all = &gsdec__all__descriptor;
    ProtobufCMessage *m;
    wbuf_t w = {.n = 0};
    wb_tag(&w, 1, 0), wb_varint(&w, (uint64_t)(int64_t)INT32_MIN); /* i32: 10 bytes */
    wb_tag(&w, 3, 0), wb_varint(&w, 0x1FFFFFFFFull);               /* u32: truncated */
    wb_tag(&w, 5, 0), wb_varint(&w, 0xFFFFFFFFu);                  /* s32: INT32_MIN */
    wb_tag(&w, 6, 0), wb_varint(&w, UINT64_MAX);                   /* s64: INT64_MIN */
    wb_tag(&w, 14, 0), wb_varint(&w, (uint64_t)-2);                /* k: KIND_NEG */
    wb_tag(&w, 9, 5), wb_raw(&w, "\x01\x00\x00\x80", 4);           /* sf32 */
    wb_tag(&w, 10, 1), wb_raw(&w, "\x01\0\0\0\0\0\0\x80", 8);      /* sf64 */
    wb_tag(&w, 12, 1), wb_raw(&w, "\x01\0\0\0\0\0\xF8\x7F", 8);    /* db: a NaN payload */
    /* b: a 10-byte varint whose only payload bit is past bit 63 (protobuf-c: true). */
    wb_tag(&w, 13, 0), wb_raw(&w, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x02", 10);
    assert_int_equal(gd(all, w.b, w.n, &m), 0);
    Gsdec__All *a = (Gsdec__All *)m;
    assert_int_equal(a->i32, INT32_MIN);
    assert_int_equal(a->u32, 0xFFFFFFFFu);
    assert_int_equal(a->s32, INT32_MIN);
    assert_true(a->s64 == INT64_MIN);
    assert_int_equal(a->k, GSDEC__KIND__KIND_NEG);
    assert_int_equal(a->sf32, (int32_t)0x80000001u);
    assert_true(a->sf64 == (int64_t)0x8000000000000001ull);
    uint64_t bits;
    memcpy(&bits, &a->db, 8);
    assert_true(bits == 0x7FF8000000000001ull);
    assert_int_equal(a->b, 1);
    assert_int_equal(dd(all, w.b, w.n), DD_BOTH_OK);
    /* Zigzag both ways, and sint32 from a varint wider than 32 bits. */
    w.n = 0;
    wb_tag(&w, 5, 0), wb_varint(&w, 1);
    wb_tag(&w, 6, 0), wb_varint(&w, 4);
    wb_tag(&w, 2, 0), wb_varint(&w, UINT64_MAX);
    assert_int_equal(gd(all, w.b, w.n, &m), 0);
    a = (Gsdec__All *)m;
    assert_int_equal(a->s32, -1);
    assert_true(a->s64 == 2);
    assert_true(a->i64 == -1);
    wb_tag(&w, 5, 0), wb_varint(&w, 0x100000002ull);
    assert_int_equal(gd(all, w.b, w.n, &m), 0);
    assert_int_equal(((Gsdec__All *)m)->s32, 1);
    assert_int_equal(dd(all, w.b, w.n), DD_BOTH_OK);
    /* Multi-byte tags: fields 1000, 100000 and 2^29 - 1. */
    w.n = 0;
    wb_tag(&w, 1000, 0), wb_varint(&w, 5);
    wb_len(&w, 100000, "far", 3);
    wb_tag(&w, 536870911, 0), wb_varint(&w, 7);
    assert_int_equal(gd(all, w.b, w.n, &m), 0);
    a = (Gsdec__All *)m;
    assert_int_equal(a->far, 5);
    assert_string_equal(a->farther, "far");
    assert_int_equal(a->farthest, 7);
    assert_int_equal(dd(all, w.b, w.n), DD_BOTH_OK);
}

static void test_unknown_fields_and_lengths(void **state) {
    (void)state;
    const ProtobufCMessageDescriptor *leaf = &gsdec__leaf__descriptor;
    ProtobufCMessage *m;
    /* Unknown fields of every wire type, between known ones: skipped, not kept. */
    wbuf_t w = {.n = 0};
    wb_tag(&w, 1, 0), wb_varint(&w, 3);
    wb_tag(&w, 9, 0), wb_varint(&w, UINT64_MAX);
    wb_tag(&w, 10, 1), wb_raw(&w, "12345678", 8);
    wb_len(&w, 11, "\xFF\x00\xC0", 3); /* not text: not checked */
    wb_tag(&w, 12, 5), wb_raw(&w, "1234", 4);
    wb_len(&w, 2, "known", 5);
    assert_int_equal(gd(leaf, w.b, w.n, &m), 0);
    assert_int_equal(((Gsdec__Leaf *)m)->v, 3);
    assert_string_equal(((Gsdec__Leaf *)m)->s, "known");
    assert_int_equal(m->n_unknown_fields, 0);
    assert_int_equal(dd(leaf, w.b, w.n), DD_BOTH_OK);
    /* Length prefixes: up to 5 bytes (padded ones too), never 6, known field or not
     * (protobuf-c's limit; the wire check alone would take up to 10). */
    static const uint8_t len5[] = {0x12, 0x81, 0x80, 0x80, 0x80, 0x00, 'a'};
    static const uint8_t len6[] = {0x12, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00, 'a'};
    static const uint8_t unknown6[] = {0x5A, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00, 'a'};
    assert_int_equal(gd(leaf, len5, sizeof(len5), &m), 0);
    assert_string_equal(((Gsdec__Leaf *)m)->s, "a");
    assert_int_equal(wc(leaf, len6, sizeof(len6)), 0);
    assert_int_equal(gd(leaf, len6, sizeof(len6), NULL), GS_EBADMSG);
    assert_int_equal(dd(leaf, len6, sizeof(len6)), DD_BOTH_REFUSE);
    assert_int_equal(gd(leaf, unknown6, sizeof(unknown6), NULL), GS_EBADMSG);
    assert_int_equal(dd(leaf, unknown6, sizeof(unknown6)), DD_BOTH_REFUSE);
    /* ... but bad text anywhere still classifies the body as GS_EBADTEXT, as before. */
    static const uint8_t len6_text[] = {0x12, 0x01, 0xFF, 0x5A, 0x81, 0x80,
                                        0x80, 0x80, 0x80, 0x00, 'a'};
    assert_int_equal(gd(leaf, len6_text, sizeof(len6_text), NULL), GS_EBADTEXT);
    /* A bool sent length-delimited: protobuf-c takes it, the wire check does not. */
    assert_int_equal(gd(&gsdec__all__descriptor, BODY(0x6A, 0x01, 0x01), NULL), GS_EBADMSG);
}

static void test_text(void **state) {
    (void)state;
    const ProtobufCMessageDescriptor *leaf = &gsdec__leaf__descriptor;
    ProtobufCMessage *m;
    char text[64];
    for (size_t n = 1; n <= 40; n++) {
        for (size_t at = 0; at < n; at++) {
            static const uint8_t bad[] = {0x00, 0x80, 0xC0, 0xFF, 0xF5, 0xED};
            for (size_t k = 0; k < ARRAY_LEN(bad); k++) {
                memset(text, 'a' + (int)(n % 26), n);
                text[at] = (char)bad[k];
                wbuf_t w = {.n = 0};
                wb_len(&w, 2, text, n);
                assert_int_equal(gd(leaf, w.b, w.n, NULL), GS_EBADTEXT);
                assert_int_equal(wc(leaf, w.b, w.n), GS_EBADTEXT);
            }
            /* A valid 2-byte character at `at` (when it fits), DEL and 0x01. */
            memset(text, 'x', n);
            if (at + 1 < n)
                text[at] = (char)0xC3, text[at + 1] = (char)0xA9;
            else
                text[at] = at % 2 ? 0x7F : 0x01;
            wbuf_t w = {.n = 0};
            wb_len(&w, 2, text, n);
            assert_int_equal(gd(leaf, w.b, w.n, &m), 0);
            assert_memory_equal(((Gsdec__Leaf *)m)->s, text, n);
            assert_int_equal(((Gsdec__Leaf *)m)->s[n], '\0');
        }
    }
    /* In a repeated string, a map key and value, a oneof member, deep in a message. */
    const ProtobufCMessageDescriptor *all = &gsdec__all__descriptor;
    assert_int_equal(gd(all, BODY(0xE2, 0x03, 0x02, 'o', 0x00), NULL), GS_EBADTEXT);
    assert_int_equal(gd(all, BODY(0xFA, 0x03, 0x03, 0x0A, 0x01, 0x80), NULL), GS_EBADTEXT);
    assert_int_equal(gd(all, BODY(0xFA, 0x03, 0x03, 0x12, 0x01, 0x80), NULL), GS_EBADTEXT);
    assert_int_equal(gd(all, BODY(0xBA, 0x04, 0x01, 0xC1), NULL), GS_EBADTEXT);
    assert_int_equal(gd(all, BODY(0x8A, 0x01, 0x03, 0x12, 0x01, 0xFE), NULL), GS_EBADTEXT);
    /* Bytes are not text. */
    assert_int_equal(gd(all, BODY(0x82, 0x01, 0x02, 0x00, 0xFF), &m), 0);
    assert_int_equal(((Gsdec__All *)m)->by.data[1], 0xFF);
}

static void test_allocation(void **state) {
    (void)state;
    /* A typical chat delivery: the message and its three strings, less than protobuf-c takes. */
    Chat__ChatDelivery cd = CHAT__CHAT_DELIVERY__INIT;
    cd.room = "lobby-7";
    cd.sender = "bot1234";
    cd.text = "the quick brown fox jumps over the dog!!";
    cd.seq = 123456;
    cd.sent_at_us = 1700000000123456ull;
    cd.server_time_us = 1700000000123999ull;
    uint8_t body[128];
    size_t n = protobuf_c_message_pack(&cd.base, body);
    ProtobufCMessage *m;
    gs_arena_stats_t s0, st;
    gs_arena_stats(arena, &s0);
    assert_int_equal(gd(&chat__chat_delivery__descriptor, body, n, &m), 0);
    gs_arena_stats(arena, &st);
    assert_int_equal(st.allocs - s0.allocs, 4);
    assert_string_equal(((Chat__ChatDelivery *)m)->text, cd.text);
    gs_arena_t *other = gs_arena_create(0);
    assert_non_null(other);
    ProtobufCMessage *ref = protobuf_c_message_unpack(&chat__chat_delivery__descriptor,
                                                      gs_arena_allocator(other), n, body);
    assert_non_null(ref);
    gs_arena_stats_t pst;
    gs_arena_stats(other, &pst);
    assert_true(st.bytes <= pst.bytes);
    gs_arena_destroy(other);

    /* The arena's limit refuses: GS_ETOOBIG, and the wire check's verdict still comes first. */
    gs_arena_reset(arena);
    gs_arena_set_limit(arena, 64);
    m = (ProtobufCMessage *)(uintptr_t)1;
    assert_int_equal(gs__decode(&chat__chat_delivery__descriptor, arena, body, n, &m), GS_ETOOBIG);
    assert_null(m);
    gs_arena_reset(arena);
    gs_arena_set_limit(arena, 64);
    static const uint8_t bad_text[] = {0x0A, 0x01, 0xFF, 0x1A, 0x03, 'a', 'b', 'c'};
    assert_int_equal(
        gs__decode(&chat__chat_delivery__descriptor, arena, bad_text, sizeof(bad_text), &m),
        GS_EBADTEXT);
    gs_arena_reset(arena);
    /* gstest.Fat: each 2-byte item is a ~280-byte struct; 500 of them pass the bound of a
     * 1000-byte body, 10 do not. */
    wbuf_t w = {.n = 0};
    for (int i = 0; i < 500; i++)
        wb_raw(&w, "\x0A\x00", 2);
    assert_int_equal(gd(&gstest__fat__descriptor, w.b, w.n, &m), GS_ETOOBIG);
    w.n = 20;
    assert_int_equal(gd(&gstest__fat__descriptor, w.b, w.n, &m), 0);
    assert_int_equal(((Gstest__Fat *)m)->n_items, 10);
    assert_int_equal(((Gstest__Fat *)m)->items[9]->f32, 0);
}

static void test_arguments(void **state) {
    (void)state;
    const ProtobufCMessageDescriptor *d = &chat__ping__descriptor;
    const uint8_t body[] = {0x08, 0x01};
    ProtobufCMessage *m = (ProtobufCMessage *)(uintptr_t)1;
    assert_int_equal(gs__decode(d, arena, body, 2, NULL), GS_EINVAL);
    assert_int_equal(gs__decode(NULL, arena, body, 2, &m), GS_EINVAL);
    assert_null(m);
    m = (ProtobufCMessage *)(uintptr_t)1;
    assert_int_equal(gs__decode(d, NULL, body, 2, &m), GS_EINVAL);
    assert_null(m);
    m = (ProtobufCMessage *)(uintptr_t)1;
    assert_int_equal(gs__decode(d, arena, NULL, 2, &m), GS_EINVAL);
    assert_null(m);
    assert_int_equal(gs__decode(d, arena, NULL, 0, &m), 0);
    assert_int_equal(((Chat__Ping *)m)->request_id, 0);
    assert_int_equal(gs__decode(d, arena, body, 2, &m), 0);
    assert_int_equal(((Chat__Ping *)m)->request_id, 1);
    gs_arena_reset(arena);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptors_sorted_by_id),
        cmocka_unit_test(test_generated_messages),
        cmocka_unit_test(test_mutated_messages),
        cmocka_unit_test(test_wire_check_inputs),
        cmocka_unit_test(test_proto2_defaults_and_has),
        cmocka_unit_test(test_required_fields),
        cmocka_unit_test(test_oneof),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_repeated_packed_and_unpacked),
        cmocka_unit_test(test_scalar_edges),
        cmocka_unit_test(test_unknown_fields_and_lengths),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_allocation),
        cmocka_unit_test(test_arguments),
    };
    return gs_test_status(cmocka_run_group_tests(tests, group_setup, group_teardown));
}

/* SPDX-License-Identifier: MIT */
/* Single-pass validating protobuf decoder into protobuf-c structs in an arena (see decoder.h). */
#include <stdint.h>
#include <string.h>

#include "decoder.h"
#include "gs/packet.h"
#include "wire_check.h"

enum { WT_VARINT = 0, WT_64BIT = 1, WT_LEN = 2, WT_32BIT = 5 };

/* Internal result of a failed allocation, told apart from refusal afterwards by the arena's
 * counters. */
#define E_ALLOC 1

/* The wire type a non-packed value of each ProtobufCType arrives with. */
static const uint8_t wire_type_of[PROTOBUF_C_TYPE_MESSAGE + 1] = {
    [PROTOBUF_C_TYPE_INT32] = WT_VARINT,   [PROTOBUF_C_TYPE_SINT32] = WT_VARINT,
    [PROTOBUF_C_TYPE_SFIXED32] = WT_32BIT, [PROTOBUF_C_TYPE_INT64] = WT_VARINT,
    [PROTOBUF_C_TYPE_SINT64] = WT_VARINT,  [PROTOBUF_C_TYPE_SFIXED64] = WT_64BIT,
    [PROTOBUF_C_TYPE_UINT32] = WT_VARINT,  [PROTOBUF_C_TYPE_FIXED32] = WT_32BIT,
    [PROTOBUF_C_TYPE_UINT64] = WT_VARINT,  [PROTOBUF_C_TYPE_FIXED64] = WT_64BIT,
    [PROTOBUF_C_TYPE_FLOAT] = WT_32BIT,    [PROTOBUF_C_TYPE_DOUBLE] = WT_64BIT,
    [PROTOBUF_C_TYPE_BOOL] = WT_VARINT,    [PROTOBUF_C_TYPE_ENUM] = WT_VARINT,
    [PROTOBUF_C_TYPE_STRING] = WT_LEN,     [PROTOBUF_C_TYPE_BYTES] = WT_LEN,
    [PROTOBUF_C_TYPE_MESSAGE] = WT_LEN,
};

/* Bytes of one value in a struct or repeated array (protobuf-c's sizeof_elt_in_repeated_array). */
static const uint8_t size_of[PROTOBUF_C_TYPE_MESSAGE + 1] = {
    [PROTOBUF_C_TYPE_INT32] = 4,
    [PROTOBUF_C_TYPE_SINT32] = 4,
    [PROTOBUF_C_TYPE_SFIXED32] = 4,
    [PROTOBUF_C_TYPE_INT64] = 8,
    [PROTOBUF_C_TYPE_SINT64] = 8,
    [PROTOBUF_C_TYPE_SFIXED64] = 8,
    [PROTOBUF_C_TYPE_UINT32] = 4,
    [PROTOBUF_C_TYPE_FIXED32] = 4,
    [PROTOBUF_C_TYPE_UINT64] = 8,
    [PROTOBUF_C_TYPE_FIXED64] = 8,
    [PROTOBUF_C_TYPE_FLOAT] = 4,
    [PROTOBUF_C_TYPE_DOUBLE] = 8,
    [PROTOBUF_C_TYPE_BOOL] = sizeof(protobuf_c_boolean),
    [PROTOBUF_C_TYPE_ENUM] = 4,
    [PROTOBUF_C_TYPE_STRING] = sizeof(char *),
    [PROTOBUF_C_TYPE_BYTES] = sizeof(ProtobufCBinaryData),
    [PROTOBUF_C_TYPE_MESSAGE] = sizeof(ProtobufCMessage *),
};

_Static_assert(sizeof(protobuf_c_boolean) == 4 && sizeof(float) == 4 && sizeof(double) == 8,
               "the value stores below assume 4-byte bools and IEEE floats");

/* A repeated field's array is preceded, in the same allocation, by its capacity: the count of
 * the counting pass, which every store is checked against (the arena is one malloc block to a
 * sanitizer, so an overflow would go unseen). 8 bytes keep the elements 8-byte aligned. For a
 * message field, the element structs follow the array of pointers to them. */
#define REP_HDR_SIZE sizeof(size_t)

static inline size_t rep_cap(const unsigned char *arr) {
    size_t cap;
    memcpy(&cap, arr - REP_HDR_SIZE, sizeof(cap));
    return cap;
}

#define MEMBER(m, off) ((void *)((char *)(m) + (off)))

static inline int is_packable(ProtobufCType t) {
    return t != PROTOBUF_C_TYPE_STRING && t != PROTOBUF_C_TYPE_BYTES &&
           t != PROTOBUF_C_TYPE_MESSAGE;
}

static inline uint32_t ld32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

static inline uint64_t ld64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* ---------------------------------------------------------------------------------------------
 * Wire primitives, shared by the counting scan and the decoding pass so that both see the same
 * fields and stop at the same malformation.
 * ------------------------------------------------------------------------------------------- */

/* A varint of at most 10 bytes; NULL when cut by end or longer. Bits past 64 are dropped. */
static const uint8_t *varint_slow(const uint8_t *p, const uint8_t *end, uint64_t *out) {
    uint64_t v = 0;
    for (unsigned i = 0; i < 10 && p < end; i++) {
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7F) << (7 * i);
        if (b < 0x80) {
            *out = v;
            return p;
        }
    }
    return NULL;
}

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* The 7-bit groups of the bytes of x (little-endian, high bits clear) packed together. */
static inline uint64_t compact7(uint64_t x) {
    x = (x & 0x007F007F007F007Full) | ((x & 0x7F007F007F007F00ull) >> 1);
    x = (x & 0x00003FFF00003FFFull) | ((x & 0x3FFF00003FFF0000ull) >> 2);
    return (x & 0x000000000FFFFFFFull) | ((x & 0x0FFFFFFF00000000ull) >> 4);
}

static inline const uint8_t *varint(const uint8_t *p, const uint8_t *end, uint64_t *out) {
    if (p < end && *p < 0x80) {
        *out = *p;
        return p + 1;
    }
    /* Up to 8 bytes with one load: the first byte without its high bit ends the varint. */
    if (end - p >= 8) {
        uint64_t w = ld64(p), stop = ~w & HIGHS;
        if (stop) {
            unsigned bits = (unsigned)__builtin_ctzll(stop) + 1; /* 8 x its length */
            if (bits < 64)
                w &= ((uint64_t)1 << bits) - 1;
            *out = compact7(w & ~HIGHS);
            return p + bits / 8;
        }
    }
    return varint_slow(p, end, out);
}

/* A tag of at most 5 bytes that fits 32 bits, field number not 0 (as gs__wire_check). */
static const uint8_t *tag_slow(const uint8_t *p, const uint8_t *end, uint32_t *out) {
    uint32_t v = 0;
    for (unsigned i = 0; i < 5 && p < end; i++) {
        uint8_t b = *p++;
        if (i == 4 && b > 0x0F)
            return NULL;
        v |= (uint32_t)(b & 0x7F) << (7 * i);
        if (b < 0x80) {
            if ((v >> 3) == 0)
                return NULL;
            *out = v;
            return p;
        }
    }
    return NULL;
}

static inline const uint8_t *tag(const uint8_t *p, const uint8_t *end, uint32_t *out) {
    if (*p >= 0x08 && *p < 0x80) {
        *out = *p;
        return p + 1;
    }
    return tag_slow(p, end, out);
}

/* A length prefix and the payload it announces: at most 5 bytes (protobuf-c refuses longer
 * ones, however small the value), within end. NULL otherwise. */
static inline const uint8_t *length(const uint8_t *p, const uint8_t *end, size_t *out) {
    uint64_t v;
    const uint8_t *q = varint(p, end, &v);
    if (!q || q - p > 5 || v > (uint64_t)(end - q))
        return NULL;
    *out = (size_t)v;
    return q;
}

/* protobuf-c's int_range_lookup: index of field number num in d->fields, or -1. */
static int range_lookup(const ProtobufCMessageDescriptor *d, uint32_t num) {
    const ProtobufCIntRange *r = d->field_ranges;
    unsigned n = d->n_field_ranges, start = 0;
    int value = (int)num;
    if (n == 0)
        return -1;
    while (n > 1) {
        unsigned mid = start + n / 2;
        if (value < r[mid].start_value) {
            n = mid - start;
        } else if (value >= r[mid].start_value + (int)(r[mid + 1].orig_index - r[mid].orig_index)) {
            unsigned new_start = mid + 1;
            n = start + n - new_start;
            start = new_start;
        } else {
            return value - r[mid].start_value + (int)r[mid].orig_index;
        }
    }
    if (n > 0 && value >= r[start].start_value &&
        value < r[start].start_value + (int)(r[start + 1].orig_index - r[start].orig_index))
        return value - r[start].start_value + (int)r[start].orig_index;
    return -1;
}

/* The index in d->fields of the field numbered num, or -1. *hint is the index after the last
 * field found: fields usually arrive in declaration order, a repeated one several times in a
 * row; the search over the ranges (as protobuf-c's) is the fallback. */
static inline int lookup(const ProtobufCMessageDescriptor *d, uint32_t num, unsigned *hint) {
    unsigned h = *hint;
    if (h < d->n_fields && d->fields[h].id == num) {
        *hint = h + 1;
        return (int)h;
    }
    if (h > 0 && d->fields[h - 1].id == num)
        return (int)h - 1;
    int i = range_lookup(d, num);
    if (i >= 0)
        *hint = (unsigned)i + 1;
    return i;
}

/* Skip a value of wire type wt; NULL when malformed. */
static const uint8_t *skip(unsigned wt, const uint8_t *p, const uint8_t *end) {
    uint64_t v;
    size_t n;
    switch (wt) {
    case WT_VARINT:
        return varint(p, end, &v);
    case WT_64BIT:
        return end - p >= 8 ? p + 8 : NULL;
    case WT_32BIT:
        return end - p >= 4 ? p + 4 : NULL;
    case WT_LEN:
        p = length(p, end, &n);
        return p ? p + n : NULL;
    default:
        return NULL; /* groups (3, 4), which protobuf-c does not support, and 6, 7 */
    }
}

/* ---------------------------------------------------------------------------------------------
 * Text.
 * ------------------------------------------------------------------------------------------- */

/* Whether all 8 bytes of w are in 01..7F. A byte that is 00 sets its own high bit in w - ONES
 * (a borrow only starts at such a byte, so the answer is never wrong); one of 80..FF sets it in
 * w; 01..7F set neither. */
static inline int ascii8(uint64_t w) { return (((w - ONES) | w) & HIGHS) == 0; }

/* Strict UTF-8 without NUL (as gs__wire_check): 8 bytes at a time while they are plain ASCII,
 * the full check only for text that is not. s[0..n) lies in the readable range [lo, hi): a
 * short string is read as 8 bytes of it, its neighbours masked to 01. */
static int text_ok(const uint8_t *s, size_t n, const uint8_t *lo, const uint8_t *hi) {
    if (n >= 8) {
        size_t i = 0;
        for (; i + 8 <= n; i += 8)
            if (!ascii8(ld64(s + i)))
                goto full;
        /* The last 8 bytes, overlapping what was seen. */
        if (i < n && !ascii8(ld64(s + n - 8)))
            goto full;
        return 1;
    }
    if (n == 0)
        return 1;
    uint64_t keep = ((uint64_t)1 << (8 * n)) - 1; /* the low n bytes */
    if (hi - s >= 8) {
        uint64_t w = ld64(s);
        if (!ascii8((w & keep) | (ONES & ~keep)))
            goto full;
        return 1;
    }
    if (s + n - lo >= 8) {
        keep = ~(~(uint64_t)0 >> (8 * n)); /* the high n bytes */
        uint64_t w = ld64(s + n - 8);
        if (!ascii8((w & keep) | (ONES & ~keep)))
            goto full;
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        if ((uint8_t)(s[i] - 1) >= 0x7F)
            goto full;
    return 1;
full:
    return memchr(s, 0, n) == NULL && gs_utf8_valid(s, n);
}

/* ---------------------------------------------------------------------------------------------
 * Messages.
 * ------------------------------------------------------------------------------------------- */

/* protobuf-c's message_init_generic, for descriptors without message_init (hand-made ones). */
static void init_generic(const ProtobufCMessageDescriptor *d, ProtobufCMessage *m) {
    memset(m, 0, d->sizeof_message);
    m->descriptor = d;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->default_value == NULL || f->label == PROTOBUF_C_LABEL_REPEATED)
            continue;
        void *dst = MEMBER(m, f->offset);
        if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
            *(const void **)dst = f->default_value;
        else
            memcpy(dst, f->default_value, size_of[f->type]);
    }
}

static inline void init_message(const ProtobufCMessageDescriptor *d, ProtobufCMessage *m) {
    if (d->message_init)
        d->message_init(m);
    else
        init_generic(d, m);
}

/* Sizes of message structs in one block are rounded so that each stays 8-byte aligned. */
static inline size_t struct_stride(const ProtobufCMessageDescriptor *d) {
    return (d->sizeof_message + 7) & ~(size_t)7;
}

/* First pass over the rest of a message, from the first repeated field met: adds the number of
 * elements of every repeated field to its count in m (arrays are still NULL), so that each
 * array is allocated once at its final size. Stops at the first malformation: the decoding pass
 * refuses the body there, and the counts up to that point are exact. */
static void count_repeated(const ProtobufCMessageDescriptor *d, ProtobufCMessage *m,
                           const uint8_t *p, const uint8_t *end) {
    unsigned hint = 0;
    while (p < end) {
        uint32_t t;
        if (!(p = tag(p, end, &t)))
            return;
        unsigned wt = t & 7;
        int i = lookup(d, t >> 3, &hint);
        const uint8_t *v = p;
        if (!(p = skip(wt, p, end)))
            return;
        if (i < 0 || d->fields[i].label != PROTOBUF_C_LABEL_REPEATED)
            continue;
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        size_t *count = MEMBER(m, f->quantifier_offset);
        if (wt == wire_type_of[f->type]) {
            *count += 1;
        } else if (wt == WT_LEN && is_packable(f->type)) {
            size_t n = 0;
            v = length(v, end, &n); /* cannot fail: skip() took the same path */
            unsigned w = wire_type_of[f->type];
            if (w == WT_32BIT || w == WT_64BIT) {
                size_t size = w == WT_32BIT ? 4 : 8;
                if (n % size != 0)
                    return;
                *count += n / size;
            } else {
                /* One element per byte that ends a varint. */
                for (size_t k = 0; k < n; k++)
                    *count += v[k] < 0x80;
            }
        } else {
            return;
        }
    }
}

typedef struct dec {
    gs_arena_t *arena;
    const uint8_t *lo, *hi; /* the whole body: readable around any string in it */
} dec_t;

/* Room for k more elements of repeated field f of m; NULL on a failed allocation, or (*err set
 * to GS_EBADMSG) when the counting pass did not count them, which it always does. */
static void *reserve(dec_t *s, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, size_t k,
                     int *err) {
    size_t *n = MEMBER(m, f->quantifier_offset);
    unsigned char **arr = MEMBER(m, f->offset);
    size_t elt = size_of[f->type];
    if (*arr == NULL) {
        size_t cap = *n; /* counted */
        if (cap == 0 && k == 0)
            return MEMBER(m, 0); /* nothing to store: an empty packed field */
        /* A size that overflows is asked for as SIZE_MAX, which the arena refuses. */
        size_t per = elt + (f->type == PROTOBUF_C_TYPE_MESSAGE ? struct_stride(f->descriptor) : 0);
        size_t bytes = cap <= (SIZE_MAX - REP_HDR_SIZE) / per ? REP_HDR_SIZE + cap * per : SIZE_MAX;
        unsigned char *block = gs_arena_alloc(s->arena, bytes);
        if (!block) {
            *err = E_ALLOC;
            return NULL;
        }
        memcpy(block, &cap, sizeof(cap));
        *arr = block + REP_HDR_SIZE;
        *n = 0;
    }
    if (k > rep_cap(*arr) - *n) {
        *err = GS_EBADMSG;
        return NULL;
    }
    return *arr + *n * elt;
}

static int decode(dec_t *s, const ProtobufCMessageDescriptor *d, ProtobufCMessage *m,
                  const uint8_t *p, const uint8_t *end, unsigned depth);

/* A new message struct of type d in the arena, initialised; NULL on a failed allocation. */
static ProtobufCMessage *new_message(dec_t *s, const ProtobufCMessageDescriptor *d) {
    ProtobufCMessage *m = gs_arena_alloc(s->arena, d->sizeof_message);
    if (m)
        init_message(d, m);
    return m;
}

/* Converts a varint to the value protobuf-c stores for type t. raw/raw_len: its bytes. */
static inline uint64_t from_varint(ProtobufCType t, uint64_t v, const uint8_t *raw,
                                   const uint8_t *raw_end) {
    switch (t) {
    case PROTOBUF_C_TYPE_SINT32: {
        uint32_t u = (uint32_t)v;
        return (uint32_t)((u >> 1) ^ (0u - (u & 1)));
    }
    case PROTOBUF_C_TYPE_SINT64:
        return (v >> 1) ^ (0 - (v & 1));
    case PROTOBUF_C_TYPE_BOOL:
        /* Any payload bit, also the ones past bit 63 that the value has dropped. */
        return v != 0 || (raw_end - raw == 10 && (raw[9] & 0x7E) != 0);
    default:
        return v; /* stored as its low 32 bits by 32-bit types */
    }
}

static inline void store(void *dst, uint64_t v, size_t size) {
    if (size == 4) {
        uint32_t x = (uint32_t)v;
        memcpy(dst, &x, 4);
    } else {
        memcpy(dst, &v, 8);
    }
}

/* A packed repeated scalar field: payload v[0..n). */
static int decode_packed(dec_t *s, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                         const uint8_t *v, size_t n) {
    int err = 0;
    ProtobufCType t = f->type;
    unsigned w = wire_type_of[t];
    size_t *count = MEMBER(m, f->quantifier_offset);
    if (w == WT_32BIT || w == WT_64BIT) {
        size_t size = w == WT_32BIT ? 4 : 8;
        if (n % size != 0)
            return GS_EBADMSG;
        uint8_t *dst = reserve(s, m, f, n / size, &err);
        if (!dst)
            return err;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        for (size_t i = 0; i < n; i += size)
            store(dst + i, size == 4 ? ld32(v + i) : ld64(v + i), size);
#else
        if (n)
            memcpy(dst, v, n);
#endif
        *count += n / size;
        return 0;
    }
    /* Varints: the elements are counted by the bytes that end one. */
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += v[i] < 0x80;
    uint8_t *dst = reserve(s, m, f, k, &err);
    if (!dst)
        return err;
    size_t size = size_of[t];
    const uint8_t *end = v + n;
    while (v < end) {
        uint64_t x;
        const uint8_t *q = varint(v, end, &x);
        if (!q)
            return GS_EBADMSG;
        store(dst, from_varint(t, x, v, q), size);
        dst += size;
        v = q;
    }
    *count += k;
    return 0;
}

/* A length-delimited value v[0..n) of a bytes or message field f, into dst (the field's
 * member, or its next repeated element). Strings are decoded in decode() itself. */
static int decode_len(dec_t *s, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, void *dst,
                      const uint8_t *v, size_t n, unsigned depth) {
    switch (f->type) {
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *bd = dst;
        bd->len = n;
        bd->data = NULL;
        if (n) {
            if (!(bd->data = gs_arena_alloc(s->arena, n)))
                return E_ALLOC;
            memcpy(bd->data, v, n);
        }
        return 0;
    }
    default: { /* PROTOBUF_C_TYPE_MESSAGE */
        if (depth >= GS__WIRE_MAX_DEPTH)
            return GS_EBADMSG;
        const ProtobufCMessageDescriptor *sd = f->descriptor;
        ProtobufCMessage *sub;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            /* The element's struct comes from the field's block of structs. */
            unsigned char *arr = *(unsigned char **)MEMBER(m, f->offset);
            size_t cap = rep_cap(arr);
            size_t i = (size_t)((unsigned char *)dst - arr) / sizeof(ProtobufCMessage *);
            sub = (ProtobufCMessage *)(void *)(arr + cap * sizeof(ProtobufCMessage *) +
                                               i * struct_stride(sd));
            init_message(sd, sub);
        } else {
            /* A second occurrence of a singular message field would be merged into the first
             * by protobuf-c; refused here (see decoder.h). A oneof member is replaced. */
            if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && *(void **)dst != NULL &&
                *(void **)dst != f->default_value)
                return GS_EBADMSG;
            if (!(sub = new_message(s, sd)))
                return E_ALLOC;
        }
        int rc = decode(s, sd, sub, v, v + n, depth + 1);
        if (rc != 0)
            return rc;
        *(ProtobufCMessage **)dst = sub;
        return 0;
    }
    }
}

/* Whether field number id occurs in the message p[0..end) (only for required fields past the
 * 64 that decode() tracks in a bit set; the body is known to be well formed). */
static int occurs(uint32_t id, const uint8_t *p, const uint8_t *end) {
    while (p < end) {
        uint32_t t;
        if (!(p = tag(p, end, &t)))
            return 0;
        if ((t >> 3) == id)
            return 1;
        if (!(p = skip(t & 7, p, end)))
            return 0;
    }
    return 0;
}

/* Decode p[0..end) into m (initialised, of type d), at nesting level depth. */
static int decode(dec_t *s, const ProtobufCMessageDescriptor *d, ProtobufCMessage *m,
                  const uint8_t *p, const uint8_t *end, unsigned depth) {
    const uint8_t *const start = p;
    unsigned hint = 0;
    int counted = 0;
    uint64_t seen = 0; /* fields 0..63 (by index) that occurred, for the required check */
    while (p < end) {
        const uint8_t *field_start = p;
        uint32_t t;
        if (!(p = tag(p, end, &t)))
            return GS_EBADMSG;
        unsigned wt = t & 7;
        int idx = lookup(d, t >> 3, &hint);
        if (idx < 0) {
            if (!(p = skip(wt, p, end)))
                return GS_EBADMSG;
            continue;
        }
        const ProtobufCFieldDescriptor *f = &d->fields[idx];
        seen |= idx < 64 ? (uint64_t)1 << idx : 0;
        ProtobufCType type = f->type;
        void *member = MEMBER(m, f->offset);
        int rc = 0;

        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            if (!counted) {
                count_repeated(d, m, field_start, end);
                counted = 1;
            }
            if (wt == WT_LEN && is_packable(type)) {
                size_t n;
                const uint8_t *v = length(p, end, &n);
                if (!v)
                    return GS_EBADMSG;
                p = v + n;
                rc = decode_packed(s, m, f, v, n);
                if (rc != 0)
                    return rc;
                continue;
            }
            if (wt != wire_type_of[type])
                return GS_EBADMSG;
            rc = 0;
            member = reserve(s, m, f, 1, &rc);
            if (!member)
                return rc;
        } else {
            if (wt != wire_type_of[type])
                return GS_EBADMSG;
            if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
                /* A later member replaces an earlier one: clear the earlier member's bytes, as
                 * protobuf-c does, before this one is stored over them. */
                uint32_t *which = MEMBER(m, f->quantifier_offset);
                if (*which != 0) {
                    int old = lookup(d, *which, &(unsigned){0});
                    if (old >= 0)
                        memset(member, 0, size_of[d->fields[old].type]);
                }
            }
        }

        switch (wt) {
        case WT_VARINT: {
            uint64_t x;
            const uint8_t *q = varint(p, end, &x);
            if (!q)
                return GS_EBADMSG;
            store(member, from_varint(type, x, p, q), size_of[type]);
            p = q;
            break;
        }
        case WT_64BIT:
            if (end - p < 8)
                return GS_EBADMSG;
            store(member, ld64(p), 8);
            p += 8;
            break;
        case WT_32BIT:
            if (end - p < 4)
                return GS_EBADMSG;
            store(member, ld32(p), 4);
            p += 4;
            break;
        default: { /* WT_LEN: wire_type_of has no other value */
            size_t n;
            const uint8_t *v = length(p, end, &n);
            if (!v)
                return GS_EBADMSG;
            p = v + n;
            if (type == PROTOBUF_C_TYPE_STRING) {
                if (!text_ok(v, n, s->lo, s->hi))
                    return GS_EBADTEXT;
                char *str = gs_arena_alloc(s->arena, n + 1);
                if (!str)
                    return E_ALLOC;
                memcpy(str, v, n);
                str[n] = '\0';
                *(char **)member = str;
            } else if ((rc = decode_len(s, m, f, member, v, n, depth)) != 0) {
                return rc;
            }
            break;
        }
        }

        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            *(size_t *)MEMBER(m, f->quantifier_offset) += 1;
        } else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            *(uint32_t *)MEMBER(m, f->quantifier_offset) = f->id;
        } else if (f->quantifier_offset != 0 && f->label != PROTOBUF_C_LABEL_REQUIRED) {
            *(protobuf_c_boolean *)MEMBER(m, f->quantifier_offset) = 1;
        }
    }

    /* Required fields, as protobuf-c checks them (only those without a default value), among
     * the fields that did not occur. */
    unsigned nf = d->n_fields;
    uint64_t absent = ~seen & (nf >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << nf) - 1);
    for (; absent; absent &= absent - 1) {
        const ProtobufCFieldDescriptor *f = &d->fields[__builtin_ctzll(absent)];
        if (f->label == PROTOBUF_C_LABEL_REQUIRED && f->default_value == NULL)
            return GS_EBADMSG;
    }
    for (unsigned i = 64; i < nf; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label == PROTOBUF_C_LABEL_REQUIRED && f->default_value == NULL &&
            !occurs(f->id, start, end))
            return GS_EBADMSG;
    }
    return 0;
}

int gs__decode(const ProtobufCMessageDescriptor *d, gs_arena_t *a, const uint8_t *body, size_t len,
               ProtobufCMessage **out) {
    if (!out)
        return GS_EINVAL;
    *out = NULL;
    if (!d || !a || (!body && len))
        return GS_EINVAL;
    static const uint8_t empty[1];
    if (len == 0)
        body = empty;

    gs_arena_stats_t before;
    gs_arena_stats(a, &before);
    dec_t s = {.arena = a, .lo = body, .hi = body + len};
    ProtobufCMessage *m = new_message(&s, d);
    int rc = m ? decode(&s, d, m, body, body + len, 0) : E_ALLOC;
    if (rc == 0) {
        *out = m;
        return 0;
    }

    /* Cold path: classify as the wire check does (GS_EBADMSG anywhere wins over GS_EBADTEXT,
     * and both over an allocation that failed part way), so that a malformed body gets the same
     * code whichever of its faults this pass met first. */
    int wc = gs__wire_check(d, body, len);
    if (wc != 0)
        return wc;
    if (rc != E_ALLOC)
        return rc;
    gs_arena_stats_t after;
    gs_arena_stats(a, &after);
    return after.refusals != before.refusals ? GS_ETOOBIG : GS_ENOMEM;
}

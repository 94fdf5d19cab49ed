/* SPDX-License-Identifier: MIT */
/* Unit tests of the frame reassembler (net/framer.c), docs/testing.md A01-A07 without sockets:
 * length limits at header time, split headers, random segmentation against whole-stream delivery,
 * callback stop, sticky errors and memory ownership. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_test.h"

#include "framer.h"

#define HDR  GS_FRAME_HEADER_SIZE
#define MAXF GS_FRAME_MAX_DEFAULT

/* ---------------------------------------------------------------------------------------------
 * Allocation probe. With GS_TEST_WRAP_MALLOC the test links with -Wl,--wrap=malloc,--wrap=free,
 * so the framer's malloc and free come here: the probe counts requests made while armed (during
 * a feed), remembers their sizes, can refuse them, and tracks which framer blocks are live.
 * Without it (a linker without --wrap), the counting asserts are skipped and the tests that need
 * refusals report "skipped".
 * ------------------------------------------------------------------------------------------- */
static struct {
    int armed;
    size_t calls;       /* malloc requests while armed */
    size_t last_size;   /* size of the last one */
    uint64_t bytes;     /* sum of requested sizes */
    size_t fail_next;   /* refuse the next n armed requests */
    size_t refuse_over; /* refuse armed requests larger than this (0: off) */
    void *live[8];      /* framer blocks not yet freed */
    size_t nlive;
} probe;

#ifdef GS_TEST_WRAP_MALLOC
#define HAVE_PROBE 1
void *__real_malloc(size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void __wrap_free(void *p);

void *__wrap_malloc(size_t n) {
    if (!probe.armed)
        return __real_malloc(n);
    probe.calls++;
    probe.last_size = n;
    probe.bytes += n;
    if (probe.fail_next > 0) {
        probe.fail_next--;
        return NULL;
    }
    if (probe.refuse_over != 0 && n > probe.refuse_over)
        return NULL;
    void *p = __real_malloc(n);
    if (p != NULL && probe.nlive < sizeof(probe.live) / sizeof(probe.live[0]))
        probe.live[probe.nlive++] = p;
    return p;
}

void __wrap_free(void *p) {
    for (size_t i = 0; p != NULL && i < probe.nlive; i++) {
        if (probe.live[i] == p) {
            probe.live[i] = probe.live[--probe.nlive];
            break;
        }
    }
    __real_free(p);
}
#else
#define HAVE_PROBE 0
#endif

static void probe_reset(void) { memset(&probe, 0, sizeof(probe)); }

/* Asserts that only compile to something when the probe is there. */
#define assert_allocs(n)                                                                           \
    do {                                                                                           \
        if (HAVE_PROBE)                                                                            \
            assert_int_equal(probe.calls, (n));                                                    \
    } while (0)
#define assert_live(n)                                                                             \
    do {                                                                                           \
        if (HAVE_PROBE)                                                                            \
            assert_int_equal(probe.nlive, (n));                                                    \
    } while (0)

/* ---------------------------------------------------------------------------------------------
 * Deterministic PRNG (splitmix64), so every run of the random tests is reproducible.
 * ------------------------------------------------------------------------------------------- */
static uint64_t rnd_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static uint32_t rnd_below(uint64_t *s, uint32_t n) { return (uint32_t)(rnd_next(s) % n); }

/* ---------------------------------------------------------------------------------------------
 * Streams: a list of frames and their serialisation.
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    uint32_t id, len;
    size_t off; /* offset of the frame's header in the stream */
} spec_t;

typedef struct {
    spec_t *f;
    size_t n;
    uint8_t *bytes;
    size_t size;
} stream_t;

/* Serialises frames with the given ids and lengths; bodies get bytes from seed. */
static void stream_build(stream_t *st, const uint32_t *ids, const uint32_t *lens, size_t n,
                         uint64_t seed) {
    st->n = n;
    st->f = calloc(n ? n : 1, sizeof(*st->f));
    assert_non_null(st->f);
    st->size = 0;
    for (size_t i = 0; i < n; i++)
        st->size += HDR + (size_t)lens[i];
    st->bytes = malloc(st->size ? st->size : 1);
    assert_non_null(st->bytes);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        st->f[i] = (spec_t){.id = ids[i], .len = lens[i], .off = off};
        gs_frame_header_write(st->bytes + off, lens[i], ids[i]);
        off += HDR;
        for (uint32_t k = 0; k < lens[i]; k++)
            st->bytes[off + k] = (uint8_t)rnd_next(&seed);
        off += lens[i];
    }
}

static void stream_free(stream_t *st) {
    free(st->f);
    free(st->bytes);
    memset(st, 0, sizeof(*st));
}

/* ---------------------------------------------------------------------------------------------
 * Sink: the frame callback. Checks every delivery against the expected stream as it arrives
 * (first mismatch kept) and counts where bodies pointed.
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    const stream_t *want; /* expected frames, in order */
    size_t got;           /* deliveries so far */
    long bad;             /* index of the first wrong delivery, -1 if none */
    char why[160];        /* what was wrong with it */
    const uint8_t *lo;    /* the current feed's bytes [lo, hi) */
    const uint8_t *hi;
    size_t in_place; /* deliveries whose body pointed into the current feed */
    size_t stop_at;  /* return stop_rc at this delivery (1-based); 0: never */
    int stop_rc;
} sink_t;

static void sink_init(sink_t *s, const stream_t *want) {
    memset(s, 0, sizeof(*s));
    s->want = want;
    s->bad = -1;
}

static int sink_cb(void *ctx, uint32_t id, const uint8_t *body, uint32_t len) {
    sink_t *s = ctx;
    int armed = probe.armed;
    probe.armed = 0; /* our own work is not the framer's */
    size_t i = s->got++;
    if (body != NULL && (uintptr_t)body >= (uintptr_t)s->lo &&
        (uintptr_t)body + len <= (uintptr_t)s->hi)
        s->in_place++;
    if (s->bad < 0) {
        if (body == NULL) {
            snprintf(s->why, sizeof(s->why), "frame %zu: NULL body (len %u)", i, len);
            s->bad = (long)i;
        } else if (s->want != NULL && i >= s->want->n) {
            snprintf(s->why, sizeof(s->why), "frame %zu: extra delivery (id %u len %u)", i, id,
                     len);
            s->bad = (long)i;
        } else if (s->want != NULL) {
            const spec_t *w = &s->want->f[i];
            if (id != w->id || len != w->len) {
                snprintf(s->why, sizeof(s->why), "frame %zu: got id %u len %u, want id %u len %u",
                         i, id, len, w->id, w->len);
                s->bad = (long)i;
            } else if (len > 0 && memcmp(body, s->want->bytes + w->off + HDR, len) != 0) {
                snprintf(s->why, sizeof(s->why), "frame %zu: body bytes differ (len %u)", i, len);
                s->bad = (long)i;
            }
        }
    }
    probe.armed = armed;
    return (s->stop_at != 0 && s->got == s->stop_at) ? s->stop_rc : 0;
}

/* One feed, with the probe armed. */
static int feed(gs_framer_t *fr, sink_t *s, const uint8_t *p, size_t n) {
    s->lo = p;
    s->hi = p != NULL ? p + n : NULL;
    probe.armed = 1;
    int rc = gs_framer_feed(fr, p, n, sink_cb, s);
    probe.armed = 0;
    return rc;
}

/* Feeds one byte at a time; returns the first non-zero result (and stops there). */
static int feed_bytewise(gs_framer_t *fr, sink_t *s, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int rc = feed(fr, s, p + i, 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

#define assert_sink_ok(s)                                                                          \
    do {                                                                                           \
        if ((s)->bad >= 0)                                                                         \
            fail_msg("%s", (s)->why);                                                              \
    } while (0)

static int setup(void **state) {
    (void)state;
    probe_reset();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    /* Every test finis its framers: nothing the framer allocated may still be live. */
    assert_live(0);
    probe_reset();
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * A01 frame_len_zero
 * ------------------------------------------------------------------------------------------- */

/* Delivered policy: len 0 arrives at once (no wait for a body), with a non-NULL body pointer,
 * and never allocates, whether the header came whole or split. */
static void test_len_zero_delivered(void **state) {
    (void)state;
    uint32_t ids[] = {7, 8, 9};
    uint32_t lens[] = {0, 3, 0};
    stream_t st;
    stream_build(&st, ids, lens, 3, 1);
    gs_framer_t fr;
    sink_t s;

    /* Whole. */
    gs_framer_init(&fr, MAXF, 0);
    sink_init(&s, &st);
    assert_int_equal(feed(&fr, &s, st.bytes, st.size), 0);
    assert_sink_ok(&s);
    assert_int_equal(s.got, 3);
    assert_int_equal(s.in_place, 3);
    assert_allocs(0);
    assert_false(gs_framer_partial(&fr));
    gs_framer_fini(&fr);

    /* Only the empty frame's header, in one feed that ends with it: delivered now. */
    probe_reset();
    gs_framer_init(&fr, MAXF, 0);
    sink_init(&s, &st);
    assert_int_equal(feed(&fr, &s, st.bytes, HDR), 0);
    assert_int_equal(s.got, 1);
    assert_sink_ok(&s);
    assert_false(gs_framer_partial(&fr));
    assert_int_equal(gs_framer_buffered(&fr), 0);
    assert_allocs(0);
    gs_framer_fini(&fr);

    /* Byte by byte: only the 3-byte body is copied. */
    probe_reset();
    gs_framer_init(&fr, MAXF, 0);
    sink_init(&s, &st);
    assert_int_equal(feed_bytewise(&fr, &s, st.bytes, st.size), 0);
    assert_sink_ok(&s);
    assert_int_equal(s.got, 3);
    assert_allocs(1);
    if (HAVE_PROBE)
        assert_int_equal(probe.last_size, 3 + GS_FRAMER_SPAN_OVERHEAD);
    assert_live(0);
    gs_framer_fini(&fr);
    stream_free(&st);
}

/* Rejected policy: GS_EEMPTY at header time, after the frames before it, with no allocation
 * for it; whole or split. */
static void test_len_zero_rejected(void **state) {
    (void)state;
    uint32_t ids[] = {1, 2, 3};
    uint32_t lens[] = {2, 0, 1};
    stream_t st;
    stream_build(&st, ids, lens, 3, 2);
    gs_framer_t fr;
    sink_t s;

    gs_framer_init(&fr, MAXF, 1);
    sink_init(&s, &st);
    assert_int_equal(feed(&fr, &s, st.bytes, st.size), GS_EEMPTY);
    assert_sink_ok(&s);
    assert_int_equal(s.got, 1);
    assert_allocs(0);
    assert_int_equal(gs_framer_buffered(&fr), 0);
    assert_null(fr.body);
    gs_framer_fini(&fr);

    /* Split: the error comes with the last byte of the empty frame's header, not later. */
    probe_reset();
    gs_framer_init(&fr, MAXF, 1);
    sink_init(&s, &st);
    size_t first = HDR + 2;
    for (size_t i = 0; i < first + HDR - 1; i++)
        assert_int_equal(feed(&fr, &s, st.bytes + i, 1), 0);
    assert_true(gs_framer_partial(&fr));
    assert_int_equal(feed(&fr, &s, st.bytes + first + HDR - 1, 1), GS_EEMPTY);
    assert_sink_ok(&s);
    assert_int_equal(s.got, 1);
    assert_allocs(1); /* the 2-byte body of frame 0 only */
    assert_int_equal(gs_framer_buffered(&fr), 0);
    assert_null(fr.body);
    assert_false(gs_framer_partial(&fr));
    gs_framer_fini(&fr);
    stream_free(&st);
}

/* ---------------------------------------------------------------------------------------------
 * A02 frame_len_max_exact
 * ------------------------------------------------------------------------------------------- */
static void test_len_max_exact(void **state) {
    (void)state;
    uint32_t ids[] = {42, 43};
    uint32_t lens[] = {MAXF, MAXF};
    stream_t st;
    stream_build(&st, ids, lens, 2, 3);
    gs_framer_t fr;
    sink_t s;

    /* Whole: zero-copy, byte-exact. */
    gs_framer_init(&fr, MAXF, 0);
    sink_init(&s, &st);
    assert_int_equal(feed(&fr, &s, st.bytes, st.size), 0);
    assert_sink_ok(&s);
    assert_int_equal(s.got, 2);
    assert_int_equal(s.in_place, 2);
    assert_allocs(0);
    gs_framer_fini(&fr);

    /* Split in the first body and again at the second header: one exact-size copy each. */
    probe_reset();
    gs_framer_init(&fr, MAXF, 0);
    sink_init(&s, &st);
    size_t cut1 = HDR + 1000, cut2 = HDR + MAXF + 3;
    assert_int_equal(feed(&fr, &s, st.bytes, cut1), 0);
    assert_int_equal(s.got, 0);
    assert_true(gs_framer_partial(&fr));
    assert_int_equal(gs_framer_buffered(&fr), MAXF);
    assert_allocs(1);
    if (HAVE_PROBE)
        assert_int_equal(probe.last_size, MAXF + GS_FRAMER_SPAN_OVERHEAD);
    assert_int_equal(feed(&fr, &s, st.bytes + cut1, cut2 - cut1), 0);
    assert_int_equal(s.got, 1);
    assert_int_equal(s.in_place, 0);
    assert_live(0);
    assert_int_equal(gs_framer_buffered(&fr), 0);
    assert_true(gs_framer_partial(&fr)); /* 3 header bytes of frame 1 */
    assert_int_equal(feed(&fr, &s, st.bytes + cut2, st.size - cut2), 0);
    assert_sink_ok(&s);
    assert_int_equal(s.got, 2);
    assert_int_equal(s.in_place, 1); /* header split, body whole in the last feed */
    assert_allocs(1);
    assert_false(gs_framer_partial(&fr));
    gs_framer_fini(&fr);
    stream_free(&st);
}

/* ---------------------------------------------------------------------------------------------
 * A03 frame_len_max_plus_one and A04 frame_len_huge: rejected at header time, before any body
 * byte is buffered: nothing allocated, nothing held.
 * ------------------------------------------------------------------------------------------- */
static void expect_toobig(uint32_t max, uint32_t len) {
    uint8_t buf[HDR + 64];
    memset(buf, 0xAB, sizeof(buf));
    gs_frame_header_write(buf, len, 5);
    gs_framer_t fr;
    sink_t s;

    /* Header followed by body bytes, header alone, and the header split at every point. */
    size_t sizes[] = {sizeof(buf), HDR};
    for (size_t k = 0; k < 2; k++) {
        probe_reset();
        gs_framer_init(&fr, max, 0);
        sink_init(&s, NULL);
        assert_int_equal(feed(&fr, &s, buf, sizes[k]), GS_ETOOBIG);
        assert_int_equal(s.got, 0);
        assert_int_equal(gs_framer_buffered(&fr), 0);
        assert_null(fr.body);
        assert_allocs(0);
        gs_framer_fini(&fr);
    }
    for (size_t cut = 1; cut < HDR; cut++) {
        probe_reset();
        gs_framer_init(&fr, max, 0);
        sink_init(&s, NULL);
        assert_int_equal(feed(&fr, &s, buf, cut), 0);
        assert_true(gs_framer_partial(&fr));
        assert_int_equal(feed(&fr, &s, buf + cut, sizeof(buf) - cut), GS_ETOOBIG);
        assert_int_equal(s.got, 0);
        assert_int_equal(gs_framer_buffered(&fr), 0);
        assert_null(fr.body);
        assert_allocs(0);
        gs_framer_fini(&fr);
    }
}

static void test_len_max_plus_one(void **state) {
    (void)state;
    expect_toobig(MAXF, MAXF + 1);

    /* Even when the whole oversize body is present in the feed, and after a valid frame. */
    uint32_t ids[] = {1, 2};
    uint32_t lens[] = {10, MAXF + 1};
    stream_t st;
    stream_build(&st, ids, lens, 2, 4);
    gs_framer_t fr;
    sink_t s;
    probe_reset();
    gs_framer_init(&fr, MAXF, 0);
    sink_init(&s, &st);
    assert_int_equal(feed(&fr, &s, st.bytes, st.size), GS_ETOOBIG);
    assert_sink_ok(&s);
    assert_int_equal(s.got, 1);
    assert_int_equal(gs_framer_buffered(&fr), 0);
    assert_null(fr.body);
    assert_allocs(0);
    gs_framer_fini(&fr);
    stream_free(&st);

    /* A small custom limit: limit accepted, limit + 1 rejected. */
    expect_toobig(100, 101);
    expect_toobig(0, 1);
}

static void test_len_huge(void **state) {
    (void)state;
    const uint32_t lens[] = {0xFFFFFFFFu,
                             0x80000000u,
                             MAXF + HDR - 1,
                             MAXF + HDR,
                             0xFFFFFFFFu - HDR + 1 /* len + header == 2^32 */,
                             0xFFFFFFF0u,
                             0x7FFFFFFFu};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        expect_toobig(MAXF, lens[i]);
    /* The limit itself near the top of the range. */
    expect_toobig(0xFFFFFFFEu, 0xFFFFFFFFu);
    expect_toobig(0x7FFFFFFFu, 0x80000000u);
}

/* The arithmetic, at its boundaries. "Does the body fit in this feed" must compare without
 * forming len + header in 32 bits: with max_frame = UINT32_MAX every length is accepted, so a
 * wrapping sum would make a 4 GiB body "fit" in a few bytes and deliver (or read) garbage.
 * The probe refuses the huge allocations, so a correct framer answers GS_ENOMEM after asking
 * for exactly len bytes. */
static void test_len_arith_no_wrap(void **state) {
    (void)state;
    if (!HAVE_PROBE)
        gs_test_skip("no malloc probe: this linker has no --wrap");
    const uint32_t lens[] = {0xFFFFFFFFu,       0xFFFFFFFFu - HDR + 1, 0xFFFFFFFFu - HDR + 2,
                             0xFFFFFFFFu - HDR, 0x80000000u,           0x80000000u - HDR,
                             0xFFFFFFF0u};
    uint8_t buf[HDR + 64];
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        memset(buf, 0xCD, sizeof(buf));
        gs_frame_header_write(buf, lens[i], 77);
        for (size_t have = HDR; have <= sizeof(buf); have += 8) {
            gs_framer_t fr;
            sink_t s;
            probe_reset();
            probe.refuse_over = 1u << 20;
            gs_framer_init(&fr, UINT32_MAX, 0);
            sink_init(&s, NULL);
            assert_int_equal(feed(&fr, &s, buf, have), GS_ENOMEM);
            assert_int_equal(s.got, 0);
            assert_int_equal(probe.calls, 1);
            assert_int_equal(probe.last_size, (size_t)lens[i] + GS_FRAMER_SPAN_OVERHEAD);
            assert_int_equal(gs_framer_buffered(&fr), 0);
            gs_framer_fini(&fr);

            /* Limit exactly len: accepted (so it gets as far as allocating); len - 1: not. */
            probe_reset();
            probe.refuse_over = 1u << 20;
            gs_framer_init(&fr, lens[i], 0);
            assert_int_equal(feed(&fr, &s, buf, have), GS_ENOMEM);
            gs_framer_fini(&fr);
            probe_reset();
            gs_framer_init(&fr, lens[i] - 1, 0);
            assert_int_equal(feed(&fr, &s, buf, have), GS_ETOOBIG);
            assert_int_equal(probe.calls, 0);
            gs_framer_fini(&fr);
        }
    }
}

/* The small end of the same comparison: a body that ends exactly at the end of the feed is
 * delivered in place; one byte short is copied and completes with the next byte. */
static void test_len_fit_boundary(void **state) {
    (void)state;
    const uint32_t lens[] = {1, 7, 8, 9, 100, 4096};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        uint32_t ids[] = {(uint32_t)i};
        stream_t st;
        stream_build(&st, ids, &lens[i], 1, 10 + i);
        gs_framer_t fr;
        sink_t s;

        probe_reset();
        gs_framer_init(&fr, MAXF, 0);
        sink_init(&s, &st);
        assert_int_equal(feed(&fr, &s, st.bytes, st.size), 0);
        assert_sink_ok(&s);
        assert_int_equal(s.got, 1);
        assert_int_equal(s.in_place, 1);
        assert_allocs(0);
        gs_framer_fini(&fr);

        probe_reset();
        gs_framer_init(&fr, MAXF, 0);
        sink_init(&s, &st);
        assert_int_equal(feed(&fr, &s, st.bytes, st.size - 1), 0);
        assert_int_equal(s.got, 0);
        assert_int_equal(gs_framer_buffered(&fr), lens[i]);
        assert_allocs(1);
        assert_int_equal(feed(&fr, &s, st.bytes + st.size - 1, 1), 0);
        assert_sink_ok(&s);
        assert_int_equal(s.got, 1);
        assert_int_equal(s.in_place, 0);
        assert_int_equal(gs_framer_buffered(&fr), 0);
        assert_live(0);
        gs_framer_fini(&fr);
        stream_free(&st);
    }
}

/* ---------------------------------------------------------------------------------------------
 * A05 header_split_bytewise
 * ------------------------------------------------------------------------------------------- */
static void test_bytewise(void **state) {
    (void)state;
    uint32_t ids[] = {0, UINT32_MAX, 1, 2, 3, 4, 5, 0x01020304u, 6, 7, 8};
    uint32_t lens[] = {0, 1, 7, 8, 9, 0, 255, 256, 1000, MAXF, 2};
    size_t n = sizeof(ids) / sizeof(ids[0]);
    stream_t st;
    stream_build(&st, ids, lens, n, 5);
    gs_framer_t fr;
    sink_t s;
    gs_framer_init(&fr, MAXF, 0);
    sink_init(&s, &st);

    size_t want_allocs = 0, frame = 0;
    for (size_t i = 0; i < n; i++)
        want_allocs += lens[i] > 0;
    for (size_t i = 0; i < st.size; i++) {
        assert_int_equal(feed(&fr, &s, st.bytes + i, 1), 0);
        /* Partial exactly when the bytes so far end inside a frame. */
        while (frame < n && st.f[frame].off + HDR + st.f[frame].len <= i + 1)
            frame++;
        int inside = frame < n && st.f[frame].off <= i;
        assert_int_equal(gs_framer_partial(&fr), inside);
        assert_int_equal(s.got, frame);
    }
    assert_sink_ok(&s);
    assert_int_equal(s.got, n);
    assert_allocs(want_allocs);
    if (HAVE_PROBE) {
        uint64_t sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += lens[i] > 0 ? lens[i] + GS_FRAMER_SPAN_OVERHEAD : 0; /* empty: no copy */
        assert_int_equal(probe.bytes, sum);
    }
    gs_framer_fini(&fr);
    stream_free(&st);
}

/* ---------------------------------------------------------------------------------------------
 * A06 random_segmentation_property: the same frame list, fed in many segmentations, is
 * delivered identically every time; only bodies that span a cut are copied.
 * ------------------------------------------------------------------------------------------- */
enum { SEG_WHOLE, SEG_RECVBUF, SEG_TINY, SEG_MIXED, SEG_BYTEWISE, SEG__COUNT };
static const char *const seg_name[SEG__COUNT] = {"whole", "recvbuf-16k", "tiny-1..16",
                                                 "mixed-1..20000", "bytewise"};

/* The next feed size of a segmentation (at most left). A generator rather than a list: the
 * bytewise segmentation of a 12 MB stream would need a list bigger than the stream. */
static size_t next_cut(int mode, uint64_t *rng, size_t left) {
    size_t k;
    switch (mode) {
    case SEG_WHOLE:
        k = left;
        break;
    case SEG_RECVBUF:
        k = 16384;
        break;
    case SEG_TINY:
        k = 1 + rnd_below(rng, 16);
        break;
    case SEG_MIXED:
        /* Mostly small, sometimes large: cuts land in headers and bodies alike. */
        k = rnd_below(rng, 4) == 0 ? 1 + rnd_below(rng, 20000) : 1 + rnd_below(rng, 600);
        break;
    default:
        k = 1;
        break;
    }
    return k < left ? k : left;
}

/* Bodies that must be copied under the segmentation that rng (a copy of the state used to
 * feed) generates: len > 0 and the feed holding the header's last byte ends before the body
 * does. Returns their count; *bytes gets their total size. */
static size_t expected_copies(const stream_t *st, int mode, uint64_t rng, uint64_t *bytes) {
    size_t copies = 0, feed_end = 0;
    *bytes = 0;
    for (size_t i = 0; i < st->n; i++) {
        size_t last_hdr = st->f[i].off + HDR - 1;
        while (feed_end <= last_hdr)
            feed_end += next_cut(mode, &rng, st->size - feed_end);
        if (st->f[i].len > 0 && feed_end < st->f[i].off + HDR + st->f[i].len) {
            copies++;
            *bytes += st->f[i].len + GS_FRAMER_SPAN_OVERHEAD;
        }
    }
    return copies;
}

static void random_segmentation(uint64_t seed, size_t nframes) {
    uint64_t rng = seed;
    uint32_t *ids = malloc(nframes * sizeof(*ids));
    uint32_t *lens = malloc(nframes * sizeof(*lens));
    assert_non_null(ids);
    assert_non_null(lens);
    for (size_t i = 0; i < nframes; i++) {
        uint32_t r = rnd_below(&rng, 100);
        ids[i] = r == 0 ? 0 : r == 1 ? UINT32_MAX : (uint32_t)rnd_next(&rng);
        r = rnd_below(&rng, 100);
        lens[i] = r < 5 ? 0 : r < 99 ? rnd_below(&rng, 2001) : 2001 + rnd_below(&rng, MAXF - 2000);
    }
    stream_t st;
    stream_build(&st, ids, lens, nframes, rnd_next(&rng));

    for (int mode = 0; mode < SEG__COUNT; mode++) {
        uint64_t want_bytes;
        size_t want_copies = expected_copies(&st, mode, rng, &want_bytes);

        gs_framer_t fr;
        sink_t s;
        probe_reset();
        gs_framer_init(&fr, MAXF, 0);
        sink_init(&s, &st);
        size_t pos = 0;
        int rc = 0;
        while (pos < st.size && rc == 0) {
            size_t k = next_cut(mode, &rng, st.size - pos);
            rc = feed(&fr, &s, st.bytes + pos, k);
            pos += k;
        }
        char why[256] = "";
        if (rc != 0)
            snprintf(why, sizeof(why), "feed returned %d", rc);
        else if (s.bad >= 0)
            snprintf(why, sizeof(why), "%s", s.why);
        else if (s.got != st.n)
            snprintf(why, sizeof(why), "%zu frames delivered, want %zu", s.got, st.n);
        else if (gs_framer_partial(&fr) || gs_framer_buffered(&fr) != 0)
            snprintf(why, sizeof(why), "framer not empty at the end of the stream");
        else if (s.in_place != st.n - want_copies)
            snprintf(why, sizeof(why), "%zu bodies delivered in place, want %zu", s.in_place,
                     st.n - want_copies);
        else if (HAVE_PROBE && (probe.calls != want_copies || probe.bytes != want_bytes))
            snprintf(why, sizeof(why), "%zu allocations of %llu bytes, want %zu of %llu",
                     probe.calls, (unsigned long long)probe.bytes, want_copies,
                     (unsigned long long)want_bytes);
        gs_framer_fini(&fr);
        if (why[0] != '\0') {
            stream_free(&st);
            free(ids);
            free(lens);
            fail_msg("random segmentation: seed 0x%llx, %zu frames, segmentation %s: %s",
                     (unsigned long long)seed, nframes, seg_name[mode], why);
        }
    }
    stream_free(&st);
    free(ids);
    free(lens);
}

static void test_random_segmentation(void **state) {
    (void)state;
    /* Fixed seeds: a failure names its seed, and the same seed reproduces it. */
    static const uint64_t seeds[] = {0x5EED0001ull, 0x5EED0002ull, 0xC0FFEE0003ull};
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
        random_segmentation(seeds[i], 10000);
}

/* ---------------------------------------------------------------------------------------------
 * A07 many_frames_one_read
 * ------------------------------------------------------------------------------------------- */
static void many_small_then_straddle(size_t straddle_at) {
    enum { N = 1000 };
    uint32_t ids[N + 1], lens[N + 1];
    for (uint32_t i = 0; i < N; i++) {
        ids[i] = i;
        lens[i] = i % 50;
    }
    ids[N] = N;
    lens[N] = 300;
    stream_t st;
    stream_build(&st, ids, lens, N + 1, 6);
    size_t first = st.f[N].off + straddle_at; /* the first feed ends inside the last frame */

    gs_framer_t fr;
    sink_t s;
    probe_reset();
    gs_framer_init(&fr, MAXF, 0);
    sink_init(&s, &st);
    assert_int_equal(feed(&fr, &s, st.bytes, first), 0);
    assert_sink_ok(&s);
    assert_int_equal(s.got, N);
    assert_int_equal(s.in_place, N);
    assert_true(gs_framer_partial(&fr));
    assert_int_equal(gs_framer_buffered(&fr), straddle_at >= HDR ? 300 : 0);
    assert_allocs(straddle_at >= HDR ? 1 : 0);
    assert_int_equal(feed(&fr, &s, st.bytes + first, st.size - first), 0);
    assert_sink_ok(&s);
    assert_int_equal(s.got, N + 1);
    assert_false(gs_framer_partial(&fr));
    assert_int_equal(gs_framer_buffered(&fr), 0);
    assert_live(0);
    gs_framer_fini(&fr);
    stream_free(&st);
}

static void test_many_frames_one_read(void **state) {
    (void)state;
    many_small_then_straddle(3);         /* inside the header */
    many_small_then_straddle(HDR);       /* right after the header */
    many_small_then_straddle(HDR + 150); /* inside the body */
}

/* ---------------------------------------------------------------------------------------------
 * Callback stop, sticky errors, ownership.
 * ------------------------------------------------------------------------------------------- */
static void test_callback_stop(void **state) {
    (void)state;
    uint32_t ids[] = {1, 2, 3, 4, 5};
    uint32_t lens[] = {4, 0, 50, 6, 7};
    stream_t st;
    stream_build(&st, ids, lens, 5, 7);
    const int rcs[] = {42, -12345, 1};
    for (size_t k = 0; k < 3; k++) {
        /* Stop on frame 3 of a whole feed: frames 4 and 5 are not delivered, now or later. */
        gs_framer_t fr;
        sink_t s;
        probe_reset();
        gs_framer_init(&fr, MAXF, 0);
        sink_init(&s, &st);
        s.stop_at = 3;
        s.stop_rc = rcs[k];
        assert_int_equal(feed(&fr, &s, st.bytes, st.size), rcs[k]);
        assert_sink_ok(&s);
        assert_int_equal(s.got, 3);
        assert_int_equal(feed(&fr, &s, st.bytes, st.size), rcs[k]);
        assert_int_equal(feed(&fr, &s, NULL, 0), rcs[k]);
        assert_int_equal(s.got, 3);
        gs_framer_fini(&fr);

        /* Stop on a copied body: its buffer is freed on the way out. */
        probe_reset();
        gs_framer_init(&fr, MAXF, 0);
        sink_init(&s, &st);
        s.stop_at = 3;
        s.stop_rc = rcs[k];
        size_t mid = st.f[2].off + HDR + 20;
        assert_int_equal(feed(&fr, &s, st.bytes, mid), 0);
        assert_int_equal(s.got, 2);
        assert_int_equal(gs_framer_buffered(&fr), 50);
        assert_live(1);
        assert_int_equal(feed(&fr, &s, st.bytes + mid, st.size - mid), rcs[k]);
        assert_sink_ok(&s);
        assert_int_equal(s.got, 3);
        assert_live(0);
        assert_int_equal(gs_framer_buffered(&fr), 0);
        assert_null(fr.body);
        assert_false(gs_framer_partial(&fr));
        assert_int_equal(feed(&fr, &s, st.bytes, st.size), rcs[k]);
        assert_int_equal(s.got, 3);
        gs_framer_fini(&fr);
    }
    stream_free(&st);
}

/* GS_FRAMER_PAUSE (receive backpressure): the feed stops after the pausing frame, reports what it
 * consumed, and the rest fed later delivers the remaining frames exactly once, in order, whether
 * the pausing frame was delivered in place or reassembled; through gs_framer_feed it fails. */
static void test_callback_pause(void **state) {
    (void)state;
    uint32_t ids[] = {1, 2, 3, 4, 5};
    uint32_t lens[] = {4, 0, 50, 6, 7};
    stream_t st;
    stream_build(&st, ids, lens, 5, 11);
    /* Pause at each frame in turn, with the stream cut inside frame 3's body (so frame 3 spans
     * two feeds) or fed whole. */
    for (size_t stop = 1; stop <= 5; stop++) {
        for (int cut = 0; cut < 2; cut++) {
            gs_framer_t fr;
            sink_t s;
            probe_reset();
            gs_framer_init(&fr, MAXF, 0);
            sink_init(&s, &st);
            s.stop_at = stop;
            s.stop_rc = GS_FRAMER_PAUSE;
            size_t mid = cut ? st.f[2].off + HDR + 20 : st.size, used = 0, done = 0;
            const size_t ends[2] = {mid, st.size};
            int paused = 0;
            for (int part = 0; part < 2; part++) {
                while (done < ends[part]) {
                    s.lo = st.bytes + done;
                    s.hi = st.bytes + ends[part];
                    int rc = gs_framer_feed_some(&fr, st.bytes + done, ends[part] - done, sink_cb,
                                                 &s, &used);
                    done += used;
                    if (rc == GS_FRAMER_PAUSE) {
                        assert_false(paused);
                        paused = 1;
                        /* Consumed exactly up to the end of the pausing frame. */
                        assert_int_equal(s.got, stop);
                        assert_int_equal(done, st.f[stop - 1].off + HDR + lens[stop - 1]);
                        continue;
                    }
                    assert_int_equal(rc, 0);
                    assert_int_equal(used, ends[part] - (done - used));
                }
            }
            assert_true(paused);
            assert_sink_ok(&s);
            assert_int_equal(s.got, 5);
            assert_false(gs_framer_partial(&fr));
            gs_framer_fini(&fr);
            assert_live(0);
        }
    }
    /* The old entry point treats a pause as a stop: the stream fails. */
    gs_framer_t fr;
    sink_t s;
    gs_framer_init(&fr, MAXF, 0);
    sink_init(&s, &st);
    s.stop_at = 2;
    s.stop_rc = GS_FRAMER_PAUSE;
    assert_int_equal(feed(&fr, &s, st.bytes, st.size), GS_FRAMER_PAUSE);
    assert_int_equal(feed(&fr, &s, st.bytes, st.size), GS_FRAMER_PAUSE);
    assert_int_equal(s.got, 2);
    gs_framer_fini(&fr);
    stream_free(&st);
}

static void test_error_sticky(void **state) {
    (void)state;
    uint32_t ids[] = {1, 2};
    uint32_t lens[] = {3, 4};
    stream_t good;
    stream_build(&good, ids, lens, 2, 8);
    uint8_t big[HDR], empty[HDR];
    gs_frame_header_write(big, MAXF + 1, 9);
    gs_frame_header_write(empty, 0, 9);
    gs_framer_t fr;
    sink_t s;

    /* Too big, then valid frames, bytewise and whole, and an empty feed. */
    gs_framer_init(&fr, MAXF, 1);
    sink_init(&s, &good);
    assert_int_equal(feed(&fr, &s, big, HDR), GS_ETOOBIG);
    assert_int_equal(feed(&fr, &s, good.bytes, good.size), GS_ETOOBIG);
    assert_int_equal(feed_bytewise(&fr, &s, good.bytes, good.size), GS_ETOOBIG);
    assert_int_equal(feed(&fr, &s, NULL, 0), GS_ETOOBIG);
    assert_int_equal(s.got, 0);
    assert_false(gs_framer_partial(&fr));
    gs_framer_fini(&fr);

    /* Empty rejected, then valid frames. */
    gs_framer_init(&fr, MAXF, 1);
    sink_init(&s, &good);
    assert_int_equal(feed(&fr, &s, empty, HDR), GS_EEMPTY);
    assert_int_equal(feed(&fr, &s, good.bytes, good.size), GS_EEMPTY);
    assert_int_equal(s.got, 0);
    gs_framer_fini(&fr);

    /* fini + init gives a fresh framer. */
    gs_framer_init(&fr, MAXF, 1);
    sink_init(&s, &good);
    assert_int_equal(feed(&fr, &s, good.bytes, good.size), 0);
    assert_sink_ok(&s);
    assert_int_equal(s.got, 2);
    gs_framer_fini(&fr);
    stream_free(&good);
}

/* GS_ENOMEM when the partial-body buffer cannot be had: nothing delivered, sticky. */
static void test_enomem(void **state) {
    (void)state;
    if (!HAVE_PROBE)
        gs_test_skip("no malloc probe: this linker has no --wrap");
    uint32_t ids[] = {1, 2};
    uint32_t lens[] = {100, 5};
    stream_t st;
    stream_build(&st, ids, lens, 2, 9);
    gs_framer_t fr;
    sink_t s;
    gs_framer_init(&fr, MAXF, 0);
    sink_init(&s, &st);
    probe.fail_next = 1;
    assert_int_equal(feed(&fr, &s, st.bytes, HDR + 50), GS_ENOMEM);
    assert_int_equal(probe.calls, 1);
    assert_int_equal(gs_framer_buffered(&fr), 0);
    assert_int_equal(feed(&fr, &s, st.bytes + HDR + 50, st.size - HDR - 50), GS_ENOMEM);
    assert_int_equal(s.got, 0);
    assert_int_equal(probe.calls, 1);
    gs_framer_fini(&fr);
    stream_free(&st);
}

/* fini frees a partial body (LSan reports it otherwise; the probe checks it directly), is
 * harmless twice, and the framer works again after init. */
static void test_fini_frees_partial(void **state) {
    (void)state;
    uint32_t ids[] = {1};
    uint32_t lens[] = {1000};
    stream_t st;
    stream_build(&st, ids, lens, 1, 10);
    gs_framer_t fr;
    sink_t s;
    gs_framer_init(&fr, MAXF, 0);
    sink_init(&s, &st);
    assert_int_equal(feed(&fr, &s, st.bytes, HDR + 400), 0);
    assert_int_equal(gs_framer_buffered(&fr), 1000);
    assert_non_null(fr.body);
    assert_live(1);
    gs_framer_fini(&fr);
    assert_live(0);
    assert_int_equal(gs_framer_buffered(&fr), 0);
    assert_false(gs_framer_partial(&fr));
    gs_framer_fini(&fr);

    /* A partial header holds no memory; fini on it is fine too. */
    gs_framer_init(&fr, MAXF, 0);
    assert_int_equal(feed(&fr, &s, st.bytes, 5), 0);
    assert_true(gs_framer_partial(&fr));
    assert_int_equal(gs_framer_buffered(&fr), 0);
    gs_framer_fini(&fr);

    gs_framer_init(&fr, MAXF, 0);
    sink_init(&s, &st);
    assert_int_equal(feed(&fr, &s, st.bytes, 100), 0);
    assert_int_equal(feed(&fr, &s, st.bytes + 100, st.size - 100), 0);
    assert_sink_ok(&s);
    assert_int_equal(s.got, 1);
    gs_framer_fini(&fr);
    stream_free(&st);
}

/* Empty feeds change nothing, at any point of a frame. */
static void test_empty_feed(void **state) {
    (void)state;
    uint32_t ids[] = {3};
    uint32_t lens[] = {10};
    stream_t st;
    stream_build(&st, ids, lens, 1, 11);
    gs_framer_t fr;
    sink_t s;
    gs_framer_init(&fr, MAXF, 0);
    sink_init(&s, &st);
    for (size_t i = 0; i < st.size; i++) {
        assert_int_equal(feed(&fr, &s, NULL, 0), 0);
        assert_int_equal(feed(&fr, &s, st.bytes + i, 0), 0);
        assert_int_equal(feed(&fr, &s, st.bytes + i, 1), 0);
    }
    assert_sink_ok(&s);
    assert_int_equal(s.got, 1);
    gs_framer_fini(&fr);
    stream_free(&st);
}

/* ---------------------------------------------------------------------------------------------
 * Handing frames on: gs_framer_span and frame_start during the callback. A frame whose body
 * spans 2 or 3 feeds comes in one buffer holding its header and body, which the callback may
 * keep (a reference) and which is freed with the last reference; a frame lying whole in a feed
 * has frame_start at its header there; a frame whose header was split (at any byte) but whose
 * body is whole in the next feed has neither.
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    gs_framer_t *fr;
    gs_buf_t *kept;             /* the span of the last frame, referenced */
    const uint8_t *frame_start; /* as seen in the callback */
    uint32_t calls, len;
} hand_t;

static int hand_cb(void *ctx, uint32_t id, const uint8_t *body, uint32_t len) {
    (void)id;
    hand_t *h = ctx;
    h->calls++;
    h->len = len;
    h->frame_start = h->fr->frame_start;
    gs_buf_t *span = gs_framer_span(h->fr);
    if (span) {
        /* The body the callback got is the span's, right behind the header. */
        if (body != span->data + HDR || span->len != HDR + len)
            return 1;
        gs_buf_ref(span);
        h->kept = span;
    }
    return 0;
}

static void test_span_and_frame_start(void **state) {
    (void)state;
    const uint32_t blen = 3000;
    uint8_t frame[HDR + 3000];
    gs_frame_header_write(frame, blen, 42);
    for (uint32_t i = 0; i < blen; i++)
        frame[HDR + i] = (uint8_t)(i * 7 + 1);

    /* Whole in one feed: frame_start is the header in the feed, no span. */
    gs_framer_t fr;
    hand_t h = {.fr = &fr};
    gs_framer_init(&fr, MAXF, 0);
    assert_int_equal(gs_framer_feed(&fr, frame, sizeof(frame), hand_cb, &h), 0);
    assert_int_equal(h.calls, 1);
    assert_ptr_equal(h.frame_start, frame);
    assert_null(h.kept);
    assert_null(fr.frame_start); /* only during the callback */
    gs_framer_fini(&fr);

    /* Across 2 and 3 feeds: the span holds exactly the frame's bytes and outlives the feed. */
    const size_t cuts[][2] = {{HDR + 100, sizeof(frame)}, {HDR + 1, HDR + 2000}, {5, 2500}};
    for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
        h = (hand_t){.fr = &fr};
        probe_reset();
        gs_framer_init(&fr, MAXF, 0);
        probe.armed = 1;
        size_t a = cuts[c][0], b = cuts[c][1];
        assert_int_equal(gs_framer_feed(&fr, frame, a, hand_cb, &h), 0);
        assert_int_equal(gs_framer_feed(&fr, frame + a, b - a, hand_cb, &h), 0);
        assert_int_equal(gs_framer_feed(&fr, frame + b, sizeof(frame) - b, hand_cb, &h), 0);
        probe.armed = 0;
        assert_int_equal(h.calls, 1);
        assert_non_null(h.kept);
        assert_ptr_equal(h.frame_start, h.kept->data);
        assert_int_equal(h.kept->len, sizeof(frame));
        assert_memory_equal(h.kept->data, frame, sizeof(frame));
        assert_int_equal(atomic_load(&h.kept->refs), 1); /* the framer's own is gone */
        assert_true(h.kept->charge >= sizeof(frame));
        assert_null(gs_framer_span(&fr));
        assert_live(1);
        gs_buf_unref(h.kept);
        assert_live(0);
        gs_framer_fini(&fr);
    }

    /* A small frame whose header is cut at every byte, body whole in the second feed: delivered
     * in place, with neither a span nor a frame_start (the header is not in front of it). */
    uint8_t small[HDR + 20];
    gs_frame_header_write(small, 20, 9);
    memset(small + HDR, 0x33, 20);
    for (size_t cut = 1; cut < HDR; cut++) {
        h = (hand_t){.fr = &fr};
        gs_framer_init(&fr, MAXF, 0);
        assert_int_equal(gs_framer_feed(&fr, small, cut, hand_cb, &h), 0);
        assert_int_equal(gs_framer_feed(&fr, small + cut, sizeof(small) - cut, hand_cb, &h), 0);
        assert_int_equal(h.calls, 1);
        assert_int_equal(h.len, 20);
        assert_null(h.frame_start);
        assert_null(h.kept);
        gs_framer_fini(&fr);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_len_zero_delivered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_len_zero_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_len_max_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_len_max_plus_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_len_huge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_len_arith_no_wrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_len_fit_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bytewise, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_segmentation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_frames_one_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_pause, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_sticky, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enomem, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fini_frees_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_feed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_span_and_frame_start, setup, teardown),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

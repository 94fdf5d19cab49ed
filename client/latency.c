/* SPDX-License-Identifier: MIT */
/* Log-linear latency histogram: fixed memory, O(1) record, percentiles by one walk. */

#include "latency.h"

#include <stdio.h>
#include <string.h>

#define FULL (1u << LAT_SUB_BITS)        /* values below this have a bucket each */
#define HALF (1u << (LAT_SUB_BITS - 1u)) /* buckets per power of two above that */

/* Index of the highest set bit of v (v > 0). Plain shifts rather than a compiler builtin so that
 * the file needs no per-compiler #ifdef; it is a handful of instructions either way. */
static unsigned ilog2(uint64_t v) {
    unsigned r = 0;
    if (v >> 32) {
        v >>= 32;
        r += 32;
    }
    if (v >> 16) {
        v >>= 16;
        r += 16;
    }
    if (v >> 8) {
        v >>= 8;
        r += 8;
    }
    if (v >> 4) {
        v >>= 4;
        r += 4;
    }
    if (v >> 2) {
        v >>= 2;
        r += 2;
    }
    if (v >> 1)
        r += 1;
    return r;
}

static uint32_t bucket_of(uint64_t v) {
    if (v > LAT_MAX)
        v = LAT_MAX;
    if (v < FULL)
        return (uint32_t)v;
    /* v lies in [2^h, 2^(h+1)); dropping `shift` low bits leaves a value in [HALF, FULL), which
     * picks one of the HALF buckets of that power of two. */
    unsigned shift = ilog2(v) - (LAT_SUB_BITS - 1u);
    return FULL + (shift - 1u) * HALF + (uint32_t)((v >> shift) - HALF);
}

/* Largest value that lands in bucket i. */
static uint64_t bucket_high(uint32_t i) {
    if (i < FULL)
        return i;
    uint32_t j = i - FULL;
    unsigned shift = j / HALF + 1u;
    uint64_t m = (uint64_t)(j % HALF) + HALF;
    return ((m + 1u) << shift) - 1u;
}

void lat_hist_reset(lat_hist_t *h) { memset(h, 0, sizeof *h); }

void lat_hist_record(lat_hist_t *h, uint64_t value) {
    h->buckets[bucket_of(value)]++;
    h->count++;
    if (value > h->max)
        h->max = value;
}

void lat_hist_merge(lat_hist_t *dst, const lat_hist_t *src) {
    for (uint32_t i = 0; i < LAT_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    if (src->max > dst->max)
        dst->max = src->max;
}

void lat_hist_delta(lat_hist_t *out, const lat_hist_t *cur, const lat_hist_t *prev) {
    out->count = 0;
    out->max = 0;
    for (uint32_t i = 0; i < LAT_BUCKETS; i++) {
        /* Buckets only grow, so a later snapshot is never below an earlier one. */
        uint64_t d = cur->buckets[i] - prev->buckets[i];
        out->buckets[i] = d;
        out->count += d;
        if (d)
            out->max = bucket_high(i);
    }
}

uint64_t lat_hist_percentile(const lat_hist_t *h, double pct) {
    if (h->count == 0)
        return 0;
    /* Rank of the sample wanted, rounded up (nearest-rank method), without pulling in libm. */
    double t = pct / 100.0 * (double)h->count;
    uint64_t target = (uint64_t)t;
    if ((double)target < t)
        target++;
    if (target < 1)
        target = 1;
    if (target > h->count)
        target = h->count;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < LAT_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= target) {
            uint64_t v = bucket_high(i);
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}

void lat_shared_init(lat_shared_t *s) {
    atomic_init(&s->max, 0);
    for (uint32_t i = 0; i < LAT_BUCKETS; i++)
        atomic_init(&s->buckets[i], 0);
}

void lat_shared_record(lat_shared_t *s, uint64_t value) {
    /* Relaxed: each counter is exact on its own and nothing else is published through it. */
    atomic_fetch_add_explicit(&s->buckets[bucket_of(value)], 1, memory_order_relaxed);
    /* Load first so that the common case (not a new maximum) writes nothing to the shared line. */
    uint64_t m = atomic_load_explicit(&s->max, memory_order_relaxed);
    while (value > m && !atomic_compare_exchange_weak_explicit(
                            &s->max, &m, value, memory_order_relaxed, memory_order_relaxed)) {
    }
}

void lat_shared_snapshot(lat_shared_t *s, lat_hist_t *out) {
    out->count = 0;
    for (uint32_t i = 0; i < LAT_BUCKETS; i++) {
        uint64_t n = atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        out->buckets[i] = n;
        out->count += n;
    }
    out->max = atomic_load_explicit(&s->max, memory_order_relaxed);
}

void lat_fmt_us(char *buf, size_t n, const lat_hist_t *h, double pct) {
    if (h->count == 0)
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.1fus", (double)lat_hist_percentile(h, pct) / 1000.0);
}

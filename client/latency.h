/* SPDX-License-Identifier: MIT */
/* Latency histogram for gs-bot: log-linear buckets in the spirit of HdrHistogram, so that
 * percentiles cost a walk over a fixed array instead of storing and sorting samples. */
#ifndef GS_CLIENT_LATENCY_H
#define GS_CLIENT_LATENCY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Values below 2^LAT_SUB_BITS get a bucket each; every power of two above that is cut into
 * 2^(LAT_SUB_BITS-1) equal buckets, so a reported value is within 1/128 (0.8%) of the true one.
 * Values at or above LAT_MAX (about 18 minutes in nanoseconds) are clamped into the last bucket:
 * a round trip that long is a failure whatever its exact length. */
#define LAT_SUB_BITS 8u
#define LAT_MAX_BITS 40u
#define LAT_MAX      ((UINT64_C(1) << LAT_MAX_BITS) - 1u)
#define LAT_BUCKETS                                                                                \
    ((1u << LAT_SUB_BITS) + (LAT_MAX_BITS - LAT_SUB_BITS) * (1u << (LAT_SUB_BITS - 1u)))

/* A plain histogram: one owner at a time. About 35 KiB; all-zero is an empty histogram. */
typedef struct lat_hist {
    uint64_t count; /* samples recorded */
    uint64_t max;   /* largest sample (exact unless it came from lat_hist_delta) */
    uint64_t buckets[LAT_BUCKETS];
} lat_hist_t;

void lat_hist_reset(lat_hist_t *h);
void lat_hist_record(lat_hist_t *h, uint64_t value);
/* dst += src. Histograms recorded on different threads are summed this way. */
void lat_hist_merge(lat_hist_t *dst, const lat_hist_t *src);
/* out = cur - prev, where prev is an earlier snapshot of the same histogram: the samples of one
 * interval. out->max is the upper bound of the highest non-empty bucket, since the exact maximum
 * of an interval cannot be recovered from two totals. out may not alias cur or prev. */
void lat_hist_delta(lat_hist_t *out, const lat_hist_t *cur, const lat_hist_t *prev);
/* The value at percentile pct (0 < pct <= 100): the upper bound of the bucket holding that
 * sample, capped at max, so that p100 == max. 0 for an empty histogram. */
uint64_t lat_hist_percentile(const lat_hist_t *h, double pct);
/* The pct-th percentile for a monitor line: "812.3us", or "-" when there is no sample. */
void lat_fmt_us(char *buf, size_t n, const lat_hist_t *h, double pct);

/* A histogram that several threads record into at once (relaxed atomic adds) while one other
 * thread takes snapshots of it. There is no reset: readers diff snapshots instead. */
typedef struct lat_shared {
    _Atomic uint64_t max;
    _Atomic uint64_t buckets[LAT_BUCKETS];
} lat_shared_t;

/* Empty it. Before any thread records into it. */
void lat_shared_init(lat_shared_t *s);
/* Any thread. */
void lat_shared_record(lat_shared_t *s, uint64_t value);
/* Copy the current counts into out. Any thread. Under concurrent recording the copy is not one
 * instant (a sample may be seen in count but not yet in max) but every bucket is exact. */
void lat_shared_snapshot(lat_shared_t *s, lat_hist_t *out);

#endif /* GS_CLIENT_LATENCY_H */

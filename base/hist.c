/* SPDX-License-Identifier: MIT */
/* Fixed-bucket histograms whose counts any thread may read while others observe (gs/base.h). */
#include <string.h>

#include "gs/base.h"

const uint64_t gs_hist_bounds_ns[] = {
    1000u,     2500u,      5000u,      10000u,      25000u,      50000u,      100000u,
    250000u,   500000u,    1000000u,   2500000u,    5000000u,    10000000u,   25000000u,
    50000000u, 100000000u, 250000000u, 1000000000u, 2500000000u, 10000000000u};
const uint32_t gs_hist_bounds_ns_count = sizeof gs_hist_bounds_ns / sizeof gs_hist_bounds_ns[0];

const uint64_t gs_hist_bounds_bytes[] = {16u,    32u,     64u,     128u,    256u,    512u,
                                         1024u,  2048u,   4096u,   8192u,   16384u,  32768u,
                                         65536u, 131072u, 262144u, 524288u, 1048576u};
const uint32_t gs_hist_bounds_bytes_count =
    sizeof gs_hist_bounds_bytes / sizeof gs_hist_bounds_bytes[0];

void gs_hist_init(gs_hist_t *h, const uint64_t *bounds, uint32_t nbounds) {
    if (nbounds > GS_HIST_MAX_BOUNDS)
        nbounds = GS_HIST_MAX_BOUNDS;
    h->nbounds = nbounds;
    memset(h->bounds, 0, sizeof h->bounds);
    memcpy(h->bounds, bounds, nbounds * sizeof bounds[0]);
    for (uint32_t i = 0; i <= GS_HIST_MAX_BOUNDS; i++)
        atomic_init(&h->counts[i], 0);
    atomic_init(&h->sum, 0);
}

void gs_hist_observe(gs_hist_t *h, uint64_t v) {
    /* A linear scan: at most 20 compares on one cache line, cheaper than a branchy search. */
    uint32_t i = 0;
    while (i < h->nbounds && v > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, v, memory_order_relaxed);
}

void gs_hist_read(const gs_hist_t *h, gs_hist_snap_t *out) {
    memset(out, 0, sizeof *out);
    out->nbounds = h->nbounds;
    memcpy(out->bounds, h->bounds, sizeof out->bounds);
    for (uint32_t i = 0; i <= h->nbounds; i++) {
        out->counts[i] = atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        out->count += out->counts[i];
    }
    out->sum = atomic_load_explicit(&h->sum, memory_order_relaxed);
}

void gs_hist_snap_add(gs_hist_snap_t *a, const gs_hist_snap_t *b) {
    if (a->nbounds == 0 && a->count == 0) {
        a->nbounds = b->nbounds;
        memcpy(a->bounds, b->bounds, sizeof a->bounds);
    }
    for (uint32_t i = 0; i <= a->nbounds && i <= GS_HIST_MAX_BOUNDS; i++)
        a->counts[i] += b->counts[i];
    a->count += b->count;
    a->sum += b->sum;
}

/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the RFC 6455 frame decoder (net/ws_frame.c): the stream fed whole and fed
 * in pieces chosen by the input must give the same result and the same message bytes; no
 * message may exceed max_message; a failed decoder stays failed and delivers nothing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws_frame.h"

/* Input: byte 0 bit 0: is_client, bits 1-2: max_message (0, 16, 300, 1 MiB); byte 1: piece
 * size (0 means 1); rest: the stream. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint64_t maxes[4] = {0, 16, 300, 1u << 20};

typedef struct {
    uint64_t max, cur;
    uint64_t sum; /* a checksum of the delivered bytes and events */
    size_t events;
    int failed;
} log_t;

static void die(const char *what) {
    fprintf(stderr, "fuzz_ws_frame: invariant broken: %s\n", what);
    abort();
}

static int on_data(void *ctx, const uint8_t *p, size_t n, int end) {
    log_t *l = ctx;
    if (l->failed)
        die("delivery after a failure");
    l->cur += n;
    if (l->cur > l->max)
        die("message over max_message");
    for (size_t i = 0; i < n; i++)
        l->sum = l->sum * 31 + p[i];
    if (end) {
        l->sum = l->sum * 31 + 0x100 + l->cur;
        l->cur = 0;
        l->events++;
    }
    return 0;
}

static int on_control(void *ctx, int op, const uint8_t *p, size_t n) {
    log_t *l = ctx;
    if (l->failed)
        die("delivery after a failure");
    if (n > GS_WS_CONTROL_MAX)
        die("control frame over 125 bytes");
    l->sum = l->sum * 31 + 0x200 + (uint64_t)op;
    for (size_t i = 0; i < n; i++)
        l->sum = l->sum * 31 + p[i];
    l->events++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    int client = data[0] & 1;
    uint64_t max = maxes[(data[0] >> 1) & 3];
    size_t piece = data[1] ? data[1] : 1;
    size_t n = size - 2;
    uint8_t *a = malloc(n ? n : 1), *b = malloc(n ? n : 1);
    if (!a || !b)
        die("out of memory in the harness");
    memcpy(a, data + 2, n);
    memcpy(b, data + 2, n);

    log_t lw = {.max = max}, lc = {.max = max};
    gs_ws_decoder_t dw, dc;
    gs_ws_decoder_init(&dw, client, max, on_data, on_control, &lw);
    gs_ws_decoder_init(&dc, client, max, on_data, on_control, &lc);
    int rw = gs_ws_decoder_feed(&dw, a, n);
    int rc = 0;
    for (size_t pos = 0; pos < n; pos += piece) {
        size_t k = piece < n - pos ? piece : n - pos;
        int r = gs_ws_decoder_feed(&dc, b + pos, k);
        if (rc != 0 && r != rc)
            die("a failed decoder changed its result");
        if (r != 0) {
            rc = r;
            lc.failed = 1;
        }
    }
    /* Chunk boundaries differ, so only the completed messages and controls are compared; the
     * open message's bytes are in the checksum too, so compare the whole sums only when no
     * message is open. */
    if (rw != rc)
        die("whole and pieces differ in result");
    if (lw.events != lc.events)
        die("whole and pieces differ in deliveries");
    if (lw.cur == 0 && lc.cur == 0 && lw.sum != lc.sum)
        die("whole and pieces differ in bytes");
    if (rw != 0) {
        lw.failed = 1;
        if (gs_ws_decoder_feed(&dw, a, n) != rw)
            die("a failed decoder changed its result");
    }
    if (rw != 0 && gs_ws_close_code(rw) == 0)
        die("an error without a close code");
    free(a);
    free(b);
    return 0;
}

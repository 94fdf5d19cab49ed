/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the metrics server's HTTP request parser (metrics/http.c): any bytes, fed
 * whole and as every prefix a reader would see, must give a known status, never read past the
 * end, and agree between a prefix and the whole (a complete request stays complete). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gs/metrics.h"

static int known(int st) {
    return st == 0 || st == 200 || st == 400 || st == 405 || st == 414 || st == 431 || st == 505;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > GS_HTTP_REQUEST_MAX + 64)
        size = GS_HTTP_REQUEST_MAX + 64;
    /* An exact-size copy, so that the sanitizers see any read past the end. */
    char *b = malloc(size ? size : 1);
    if (!b)
        return 0;
    memcpy(b, data, size);
    gs_http_request_t whole;
    int st = gs_http_parse(b, size, &whole);
    if (!known(st))
        abort();
    if (st == 200 && (whole.consumed > size || whole.path_len == 0 || whole.path[0] != '/'))
        abort();
    /* Prefixes: once a prefix is a complete request, the whole is the same request. */
    for (size_t n = 0; n < size; n += 1 + n / 8) {
        gs_http_request_t pre;
        int ps = gs_http_parse(b, n, &pre);
        if (!known(ps))
            abort();
        if (ps == 200 && (st != 200 || pre.consumed != whole.consumed))
            abort();
        if (ps != 0 && ps != 200 && ps != st)
            abort(); /* an error on a prefix stays that error */
    }
    free(b);
    return 0;
}

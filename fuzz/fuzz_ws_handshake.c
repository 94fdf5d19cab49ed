/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the WebSocket handshake parsers (net/ws_handshake.c): any bytes, whole
 * and as prefixes, give a known status, never read past the end, and a prefix gives 0 or the
 * whole's verdict (a complete request stays the same request). The same for the client's
 * response check. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int known(int st) {
    return st == 0 || st == 101 || st == 200 || st == 400 || st == 405 || st == 426 || st == 431 ||
           st == 505;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > GS_WS_REQUEST_MAX + 64)
        size = GS_WS_REQUEST_MAX + 64;
    /* An exact-size copy, so that the sanitizers see any read past the end. */
    char *b = malloc(size ? size : 1);
    if (!b)
        return 0;
    memcpy(b, data, size);
    gs_ws_request_t whole;
    int st = gs_ws_request_parse(b, size, &whole);
    if (!known(st))
        abort();
    if ((st == 101 || st == 200) && (whole.consumed > size || whole.path[0] != '/'))
        abort();
    for (size_t n = 0; n < size; n += 1 + n / 8) {
        gs_ws_request_t pre;
        int ps = gs_ws_request_parse(b, n, &pre);
        if (!known(ps))
            abort();
        if (ps != 0 && ps != st)
            abort();
        if ((ps == 101 || ps == 200) && pre.consumed != whole.consumed)
            abort();
    }
    size_t used;
    int rs = gs_ws_client_response_parse(b, size, "dGhlIHNhbXBsZSBub25jZQ==", &used);
    if (rs != 0 && rs != GS_EBADMSG && rs != GS_ETOOBIG && (rs < 100 || rs > 599))
        abort();
    if (used > size)
        abort();
    free(b);
    return 0;
}

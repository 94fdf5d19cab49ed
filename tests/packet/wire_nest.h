/* SPDX-License-Identifier: MIT */
/* Builds the nested bodies of the depth-limit tests, shared by test_wire_check.c and
 * test_decoder.c (include after <cmocka.h>): their test type T has a `repeated string names = 6`
 * and a sub-message `T child = 5`, the same field numbers in both files. */
#ifndef GS_TEST_WIRE_NEST_H
#define GS_TEST_WIRE_NEST_H

#include <stdint.h>
#include <string.h>

/* T nested `levels` deep through child (5), with `leaf` (a names element) in the innermost. */
static inline size_t nest(uint8_t *out, size_t cap, unsigned levels, const uint8_t *leaf,
                          size_t n) {
    uint8_t tmp[256];
    assert_true(n + 2 <= sizeof(tmp) && n < 0x80);
    size_t len = 0;
    if (n > 0) {
        tmp[0] = 0x32;
        tmp[1] = (uint8_t)n;
        memcpy(tmp + 2, leaf, n);
        len = n + 2;
    }
    for (unsigned i = 0; i < levels; i++) {
        assert_true(len + 2 <= sizeof(tmp) && len < 0x80);
        memmove(tmp + 2, tmp, len);
        tmp[0] = 0x2A;
        tmp[1] = (uint8_t)len;
        len += 2;
    }
    assert_true(len <= cap);
    memcpy(out, tmp, len);
    return len;
}

#endif

/* SPDX-License-Identifier: MIT */
/* Reference checks over decoded protobuf-c messages, shared by the packet tests and the decode
 * fuzz targets (no cmocka, so a fuzz target can link it). */
#ifndef GS_TEST_PB_WALK_H
#define GS_TEST_PB_WALK_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* Strict UTF-8 (RFC 3629), written independently of packet/text.c to check it. Returns 1 when
 * s[0..n) is valid. */
int tp_utf8_reference(const uint8_t *s, size_t n);

/* Whether every string reachable from m (nested and repeated ones included) passes valid(). */
int tp_strings_ok(const ProtobufCMessage *m, int (*valid)(const uint8_t *s, size_t n));

#endif

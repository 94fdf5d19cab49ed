/* SPDX-License-Identifier: MIT */
/* Internal to packet/: one pass over an untrusted protobuf body that checks the wire structure and
 * the text of every string field, without allocating. It defines how bodies are classified: the
 * decoder (decoder.c) refuses exactly what it refuses, and calls it on its error path to report
 * the same code. */
#ifndef GS_PACKET_WIRE_CHECK_H
#define GS_PACKET_WIRE_CHECK_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Messages may nest this many levels below the top-level one; deeper is GS_EBADMSG. */
#define GS__WIRE_MAX_DEPTH 32

/* Walk body[0..len) as a message of type d, in one pass, without allocating; body may be NULL
 * when len is 0. Fields are looked up by number in d, nested message fields (repeated ones and
 * map entries included) are walked with their own descriptors, unknown fields are skipped.
 * Returns 0; GS_EBADMSG when the wire format is malformed: a truncated or over-long varint
 * (more than 10 bytes) or tag (more than 5 bytes, or above 32 bits), field number 0, wire type
 * 3, 4 (groups), 6 or 7, a length past the end of the enclosing message, a known field whose
 * wire type cannot carry its type (packed repeated scalars are accepted length-delimited, with
 * a whole number of elements, as well as one by one), or nesting deeper than
 * GS__WIRE_MAX_DEPTH; otherwise GS_EBADTEXT when a string field is not strict UTF-8 or holds a
 * 0x00 byte. GS_EBADMSG wins over GS_EBADTEXT wherever each occurs in the body. GS_EINVAL when
 * d is NULL, or body is NULL with len > 0. Any thread. */
int gs__wire_check(const ProtobufCMessageDescriptor *d, const uint8_t *body, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* GS_PACKET_WIRE_CHECK_H */

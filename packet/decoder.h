/* SPDX-License-Identifier: MIT */
/* Internal to packet/: a single-pass validating protobuf decoder that builds protobuf-c message
 * structs directly in a gs_arena_t, in place of gs__wire_check + protobuf_c_message_unpack. */
#ifndef GS_PACKET_DECODER_H
#define GS_PACKET_DECODER_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "gs/packet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Decode body[0..len) as a message of type d into arena a; body may be NULL when len is 0.
 *
 * The result is laid out exactly as protobuf_c_message_unpack lays it out (message_init
 * defaults, has_ flags, oneof cases, size_t counts and arrays for repeated fields, NUL-terminated
 * strings, ProtobufCBinaryData with data NULL when empty, sub-messages by pointer), so handlers,
 * protobuf_c_message_get_packed_size and protobuf_c_message_pack work on it. Every byte of it
 * comes from gs_arena_alloc (never malloc): it is borrowed from the arena, valid until
 * gs_arena_reset, and must never be passed to protobuf_c_message_free_unpacked. Strings and
 * bytes are copies: the message does not borrow body. The arena's limit (if any) is the
 * caller's. Allocation: the message struct, one block per string or non-empty bytes value, and
 * per repeated field one array of its exact size (counted by a first scan of the message,
 * preceded by its 8-byte capacity) followed, for message fields, by the element structs; no
 * scan slabs, no unknown-field copies. That is about half of what protobuf-c's unpack takes
 * from the same arena (tests/packet/test_decoder.c prints the figure).
 *
 * Accepted and refused: exactly as gs__wire_check classifies the body (see wire_check.h: tags of
 * at most 5 bytes and 32 bits, field 0, varints over 10 bytes, wire types 3, 4, 6 and 7, wire
 * types that cannot carry the field's type, packed repeated scalars of whole elements, nesting
 * deeper than GS__WIRE_MAX_DEPTH, strict UTF-8 without NUL in string fields, GS_EBADMSG winning
 * over GS_EBADTEXT wherever each occurs), plus what protobuf-c's unpack itself refuses in a body
 * that passes that check: a missing LABEL_REQUIRED field that has no default value, and a length
 * prefix longer than 5 bytes. On any error the body is classified again by gs__wire_check (a
 * cold path), so a body it refuses gets its code, as with the former gs__wire_check +
 * protobuf_c_message_unpack, and an allocation failure is reported only for a body it accepts.
 *
 * Scalars follow protobuf-c to the bit: int32, uint32 and enum take the low 32 bits of the
 * varint; sint32/sint64 are zigzag; bool is 1 when any of its varint's bytes has a payload bit
 * set (also in packed form); fixed-width values are little-endian. A later occurrence of a
 * singular scalar, string or bytes field replaces the earlier one; a later member of a oneof
 * replaces the earlier member (protobuf-c does not merge oneof messages either); repeated
 * fields accept packed and unpacked occurrences mixed, in order. Proto2 has_ flags and oneof
 * cases are set as protobuf-c sets them; absent fields keep message_init's defaults.
 *
 * Deviations from protobuf_c_message_unpack, all stricter or smaller, none reachable from a
 * conforming encoder:
 *   - A singular (non-oneof, non-repeated) message field that occurs twice in one message is
 *     refused with GS_EBADMSG. protobuf-c "merges" the two, but not as protobuf specifies
 *     (proto3 scalars of the first occurrence are lost unless the second sets them too), so no
 *     merge here could match both; only concatenated messages produce such a body.
 *   - Unknown fields are checked on the wire and skipped, not kept in unknown_fields
 *     (n_unknown_fields is always 0), so they are not re-emitted by protobuf_c_message_pack.
 *   - The wire-format rules of gs__wire_check above (protobuf-c alone accepts field 0 in a
 *     multi-byte tag, a bool with any wire type, bad UTF-8 and NUL).
 *
 * Returns 0 with *out set; GS_EBADMSG; GS_EBADTEXT; GS_ETOOBIG (the arena refused an allocation:
 * its limit); GS_ENOMEM (the arena could not get a block from malloc); GS_EINVAL (out, d or a is
 * NULL, or body is NULL with len > 0). On error *out is NULL and whatever the decode allocated
 * stays in the arena until its reset. Descriptors are trusted (generated code). Recursion is
 * bounded by GS__WIRE_MAX_DEPTH. Any thread, one arena per thread. */
int gs__decode(const ProtobufCMessageDescriptor *d, gs_arena_t *a, const uint8_t *body, size_t len,
               ProtobufCMessage **out);

#ifdef __cplusplus
}
#endif

#endif /* GS_PACKET_DECODER_H */

/* SPDX-License-Identifier: MIT */
/* RFC 6455 frame codec for WebSocket sessions: a decoder fed bytes cut at arbitrary points and
 * pure header/mask/close-payload writers. Pure: no IO, no clock, no threads, no allocation. One
 * decoder per WebSocket session, used only by the session's IO thread; the writers are pure
 * functions any thread may call. */
#ifndef GS_NET_WS_FRAME_H
#define GS_NET_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* Largest frame header: 2 bytes, 8 of extended length, 4 of masking key. */
#define GS_WS_HEADER_MAX 14
/* Largest control frame payload (RFC 6455 5.5). */
#define GS_WS_CONTROL_MAX 125
/* Masking key size, added to gs_ws_header_size for client frames. */
#define GS_WS_MASK_SIZE 4

/* Opcodes (RFC 6455 5.2). Only these are accepted; 3-7 and 11-15 are reserved. */
#define GS_WS_OP_CONT   0x0
#define GS_WS_OP_TEXT   0x1
#define GS_WS_OP_BINARY 0x2
#define GS_WS_OP_CLOSE  0x8
#define GS_WS_OP_PING   0x9
#define GS_WS_OP_PONG   0xA

/* Close codes (RFC 6455 7.4.1) the decoder's errors map to, and the common ones a session sends. */
#define GS_WS_CLOSE_NORMAL      1000
#define GS_WS_CLOSE_GOING_AWAY  1001
#define GS_WS_CLOSE_PROTOCOL    1002
#define GS_WS_CLOSE_UNSUPPORTED 1003
#define GS_WS_CLOSE_BAD_DATA    1007
#define GS_WS_CLOSE_POLICY      1008
#define GS_WS_CLOSE_TOO_BIG     1009
#define GS_WS_CLOSE_INTERNAL    1011

/* Decoder errors. Each is minus the close code the caller should send before closing, so
 * gs_ws_close_code() is a negation; they lie outside the GS_E* range (-1..-99). */
typedef enum gs_ws_error {
    GS_WS_EPROTO = -GS_WS_CLOSE_PROTOCOL,   /* any framing violation: close with 1002 */
    GS_WS_ETEXT = -GS_WS_CLOSE_UNSUPPORTED, /* a text frame (this server speaks binary): 1003 */
    GS_WS_EUTF8 = -GS_WS_CLOSE_BAD_DATA,    /* a close frame's reason is not UTF-8: 1007 */
    GS_WS_ETOOBIG = -GS_WS_CLOSE_TOO_BIG,   /* a message over max_message: 1009 */
} gs_ws_error_t;

/* The close code for a decoder error (1002, 1003, 1007, 1009), or 0 when rc is not one (0, or a
 * callback's own stop value). */
int gs_ws_close_code(int rc);

/* A chunk of a binary message's payload, unmasked, in stream order. A message arrives as one or
 * more chunks (several per frame when a frame spans feeds, several frames when it is
 * fragmented). message_end is 1 on the chunk that completes the message's final fragment, and
 * only there; an empty final fragment is delivered as one empty chunk with message_end = 1.
 * Empty chunks are never delivered otherwise (an empty non-final fragment delivers nothing).
 * p is borrowed: it points into the fed buffer (unmasked in place), valid only during the call;
 * when n is 0 it may point one past the fed bytes (do not dereference it).
 * Return 0 to continue, non-zero to stop (the value is returned by gs_ws_decoder_feed). Use
 * positive values, so that a stop is not read as a decoder error. */
typedef int (*gs_ws_data_cb)(void *ctx, const uint8_t *p, size_t n, int message_end);

/* A whole control frame (close, ping or pong), unmasked, which may arrive between the
 * fragments of a data message. payload is borrowed from the decoder (n <= 125), valid only
 * during the call. A close frame's payload has been checked (gs_ws_close_parse) before the call.
 * Return as for gs_ws_data_cb. */
typedef int (*gs_ws_control_cb)(void *ctx, int opcode, const uint8_t *payload, size_t n);

typedef struct gs_ws_decoder {
    /* Configuration (gs_ws_decoder_init). */
    uint64_t max_message; /* bound on a data message, the sum of its fragments */
    int is_client;        /* 1: reads server frames (unmasked); 0: client frames (masked) */
    gs_ws_data_cb on_data;
    gs_ws_control_cb on_control;
    void *ctx;
    /* State (see ws_frame.c). */
    uint8_t hdr[GS_WS_HEADER_MAX];
    uint8_t hdr_have, hdr_need; /* header bytes collected / needed so far */
    uint8_t opcode, fin, masked;
    uint8_t in_message; /* a fragmented data message is open (its final frame not yet seen) */
    uint8_t closed;     /* a close frame has been delivered */
    uint8_t in_payload; /* the header is complete, remaining payload bytes follow */
    uint8_t mask[4];
    uint8_t ctl_have;
    uint8_t ctl[GS_WS_CONTROL_MAX];
    uint64_t remaining;   /* payload bytes of the current frame still to come */
    uint64_t frame_done;  /* payload bytes of the current frame seen (the mask's phase) */
    uint64_t message_len; /* sum of the announced lengths of the open message's frames */
    int error;            /* sticky result once a feed failed or was stopped; 0 otherwise */
} gs_ws_decoder_t;

/* Set up a decoder. is_client = 0 for a server reading client frames (every frame must be
 * masked), 1 for a client reading server frames (no frame may be masked). max_message bounds a
 * data message (0 accepts only empty ones); control frames are bounded by 125 bytes instead. The
 * callbacks must both be given. Holds no memory: there is no fini. */
void gs_ws_decoder_init(gs_ws_decoder_t *d, int is_client, uint64_t max_message,
                        gs_ws_data_cb on_data, gs_ws_control_cb on_control, void *ctx);

/* Feed len bytes, delivering what they complete. data is modified: payload bytes are unmasked
 * in place, so that on_data can hand them on without a copy; the caller keeps ownership.
 * Returns:
 *   0               all bytes consumed (after a close frame has been delivered, later bytes
 *                   are discarded: a peer sends nothing after its close, RFC 6455 5.5.1);
 *   GS_WS_EPROTO    reserved bits, unknown opcode, wrong mask bit, a fragmented or long control
 *                   frame, a continuation without a message, a new message inside one, a length
 *                   with its top bit set or not minimally encoded, a bad close payload;
 *   GS_WS_ETEXT     a text frame;
 *   GS_WS_EUTF8     a close frame whose reason is not UTF-8;
 *   GS_WS_ETOOBIG   a frame header that takes its message over max_message: found at header
 *                   time, before any of the frame's payload is delivered;
 *   the callback's non-zero value, if one stopped the feed.
 * Errors are found as early as the bytes allow (a bad first byte fails on that byte), so the
 * result does not depend on how the stream is cut. After any non-zero return the decoder is
 * unusable: later feeds deliver nothing and return the same value (until init). The callbacks
 * must not feed or re-init the decoder that calls them. */
int gs_ws_decoder_feed(gs_ws_decoder_t *d, uint8_t *data, size_t len);

/* True while a frame has started but not completed: for the session's partial-frame deadline. */
static inline int gs_ws_decoder_partial(const gs_ws_decoder_t *d) {
    return d->hdr_have != 0 || d->in_payload;
}

/* True after a close frame has been delivered. */
static inline int gs_ws_decoder_closed(const gs_ws_decoder_t *d) { return d->closed; }

/* Checks a close frame's payload (RFC 6455 5.5.1, 7.4): empty, or a 2-byte code that may be
 * sent on the wire (1000-1003, 1007-1014, 3000-4999; not 1004-1006, 1015, <1000 ...) followed by
 * a UTF-8 reason. Returns 0 with *code = the code (1005, "no status", for an empty payload),
 * GS_WS_EPROTO for a 1-byte payload or a bad code, GS_WS_EUTF8 for a bad reason. */
int gs_ws_close_parse(const uint8_t *p, size_t n, uint16_t *code);

/* Header size of a frame with this payload length: 2, 4 or 10, plus 4 when masked. */
size_t gs_ws_header_size(uint64_t payload_len, int masked);

/* Writes a frame header into out (room for GS_WS_HEADER_MAX bytes) and returns its size, or 0
 * for arguments no valid frame has: an unknown opcode (text included: this codec does not send
 * it), a control frame with fin = 0 or more than 125 bytes, a length of 2^63 or more. mask is
 * the 4-byte masking key, written after the length (client frames), or NULL (server frames).
 * A pure function of its arguments: a server frame's header depends only on the payload length,
 * so one header written for a broadcast payload serves every session that sends it. The payload
 * itself is not touched: mask it with gs_ws_mask. */
size_t gs_ws_header_write(uint8_t *out, int opcode, int fin, uint64_t payload_len,
                          const uint8_t *mask);

/* XORs n bytes at p with the masking key, starting at byte offset of the payload (so a payload
 * masked in pieces continues the key's phase: pass the number of payload bytes before p).
 * Masking twice with the same key and offset restores the bytes. */
void gs_ws_mask(uint8_t *p, size_t n, const uint8_t key[4], uint64_t offset);

/* Builds a close frame payload into out (room for GS_WS_CONTROL_MAX bytes): nothing when code is
 * 0, else the code big-endian and the reason (reason_len bytes, may be NULL when 0), cut to fit
 * 125 bytes at a UTF-8 character boundary. The reason should be UTF-8. Returns its length. */
size_t gs_ws_close_payload(uint8_t *out, uint16_t code, const char *reason, size_t reason_len);

/* 1 if the n bytes at p are valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF), else 0. */
int gs_ws_utf8_valid(const uint8_t *p, size_t n);

#endif /* GS_NET_WS_FRAME_H */

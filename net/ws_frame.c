/* SPDX-License-Identifier: MIT */
/* RFC 6455 frame codec (see ws_frame.h): the decoder's state machine, the header writer and
 * masking. Fuzzed by fuzz/fuzz_ws_frame.c. */
#include "ws_frame.h"

#include <string.h>

/* Decoder state, in the fields of gs_ws_decoder_t:
 *   in_payload 0         collecting a header: hdr_have bytes of hdr_need so far. hdr_need grows
 *                        1 -> 2 -> end of the length -> end of the key as the bytes that decide
 *                        it arrive, and each step checks what it can, so an error shows on the
 *                        byte that makes it one (a bad length before its masking key);
 *   in_payload 1         the header is complete and remaining payload bytes follow: data frames
 *                        are handed on chunk by chunk, control frames collected in ctl;
 *   error != 0           failed (sticky); closed: a close frame was delivered, bytes dropped. */

int gs_ws_close_code(int rc) {
    switch (rc) {
    case GS_WS_EPROTO:
    case GS_WS_ETEXT:
    case GS_WS_EUTF8:
    case GS_WS_ETOOBIG:
        return -rc;
    }
    return 0;
}

int gs_ws_utf8_valid(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint8_t lo = 0x80, hi = 0xBF; /* the range allowed for the second byte */
        if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            if (c == 0xE0)
                lo = 0xA0; /* overlong below U+0800 */
            else if (c == 0xED)
                hi = 0x9F; /* UTF-16 surrogates U+D800..U+DFFF */
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            if (c == 0xF0)
                lo = 0x90; /* overlong below U+10000 */
            else if (c == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else {
            return 0; /* a continuation byte, 0xC0/0xC1 (overlong) or 0xF5.. */
        }
        if (n - i <= k)
            return 0;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return 0;
        for (size_t j = 2; j <= k; j++)
            if ((p[i + j] & 0xC0) != 0x80)
                return 0;
        i += k + 1;
    }
    return 1;
}

/* Close codes a peer may send (RFC 6455 7.4.1 and 7.4.2; 1012-1014 are registered with IANA
 * since). 1005, 1006 and 1015 are for reporting only and never appear on the wire. */
static int close_code_ok(uint16_t c) {
    if (c >= 3000 && c <= 4999)
        return 1;
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014);
}

int gs_ws_close_parse(const uint8_t *p, size_t n, uint16_t *code) {
    *code = 1005;
    if (n == 0)
        return 0;
    if (n == 1)
        return GS_WS_EPROTO;
    uint16_t c = (uint16_t)(p[0] << 8 | p[1]);
    if (!close_code_ok(c))
        return GS_WS_EPROTO;
    if (!gs_ws_utf8_valid(p + 2, n - 2))
        return GS_WS_EUTF8;
    *code = c;
    return 0;
}

size_t gs_ws_header_size(uint64_t payload_len, int masked) {
    size_t n = payload_len < 126 ? 2 : payload_len <= 0xFFFF ? 4 : 10;
    return masked ? n + GS_WS_MASK_SIZE : n;
}

static int is_control(int op) { return op >= 0x8; }

size_t gs_ws_header_write(uint8_t *out, int opcode, int fin, uint64_t payload_len,
                          const uint8_t *mask) {
    if (opcode != GS_WS_OP_CONT && opcode != GS_WS_OP_BINARY && opcode != GS_WS_OP_CLOSE &&
        opcode != GS_WS_OP_PING && opcode != GS_WS_OP_PONG)
        return 0;
    if (is_control(opcode) && (!fin || payload_len > GS_WS_CONTROL_MAX))
        return 0;
    if (payload_len >> 63)
        return 0;
    size_t n = 0;
    out[n++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    uint8_t mbit = mask ? 0x80 : 0;
    if (payload_len < 126) {
        out[n++] = (uint8_t)(mbit | payload_len);
    } else if (payload_len <= 0xFFFF) {
        out[n++] = (uint8_t)(mbit | 126);
        out[n++] = (uint8_t)(payload_len >> 8);
        out[n++] = (uint8_t)payload_len;
    } else {
        out[n++] = (uint8_t)(mbit | 127);
        for (int s = 56; s >= 0; s -= 8)
            out[n++] = (uint8_t)(payload_len >> s);
    }
    if (mask) {
        memcpy(out + n, mask, GS_WS_MASK_SIZE);
        n += GS_WS_MASK_SIZE;
    }
    return n;
}

void gs_ws_mask(uint8_t *p, size_t n, const uint8_t key[4], uint64_t offset) {
    /* The key rotated to this phase, repeated over 8 bytes, so that the bulk goes a word at a
     * time (memcpy keeps it free of alignment and aliasing assumptions). */
    uint8_t k8[8];
    for (size_t i = 0; i < 8; i++)
        k8[i] = key[(offset + i) & 3];
    size_t i = 0;
    if (n >= 8) {
        uint64_t kw;
        memcpy(&kw, k8, 8);
        for (; i + 8 <= n; i += 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            w ^= kw;
            memcpy(p + i, &w, 8);
        }
    }
    for (; i < n; i++)
        p[i] ^= k8[i & 7];
}

size_t gs_ws_close_payload(uint8_t *out, uint16_t code, const char *reason, size_t reason_len) {
    if (code == 0)
        return 0;
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    size_t room = GS_WS_CONTROL_MAX - 2;
    if (reason_len > room) {
        /* Back off to the start of a character: a continuation byte is 10xxxxxx. */
        reason_len = room;
        while (reason_len > 0 && ((uint8_t)reason[reason_len] & 0xC0) == 0x80)
            reason_len--;
    }
    if (reason_len > 0)
        memcpy(out + 2, reason, reason_len);
    return 2 + reason_len;
}

void gs_ws_decoder_init(gs_ws_decoder_t *d, int is_client, uint64_t max_message,
                        gs_ws_data_cb on_data, gs_ws_control_cb on_control, void *ctx) {
    memset(d, 0, sizeof(*d));
    d->is_client = is_client != 0;
    d->max_message = max_message;
    d->on_data = on_data;
    d->on_control = on_control;
    d->ctx = ctx;
    d->hdr_need = 1;
}

static int fail(gs_ws_decoder_t *d, int rc) {
    d->error = rc;
    return rc;
}

/* The first byte: FIN, RSV1-3, opcode. */
static int check_byte0(gs_ws_decoder_t *d) {
    uint8_t b = d->hdr[0];
    int op = b & 0x0F;
    if (b & 0x70)
        return GS_WS_EPROTO; /* no extension was negotiated, so every RSV bit must be 0 */
    switch (op) {
    case GS_WS_OP_TEXT:
        return GS_WS_ETEXT;
    case GS_WS_OP_CONT:
        if (!d->in_message)
            return GS_WS_EPROTO;
        break;
    case GS_WS_OP_BINARY:
        if (d->in_message)
            return GS_WS_EPROTO; /* messages do not interleave (RFC 6455 5.4) */
        break;
    case GS_WS_OP_CLOSE:
    case GS_WS_OP_PING:
    case GS_WS_OP_PONG:
        if (!(b & 0x80))
            return GS_WS_EPROTO; /* control frames are never fragmented (5.5) */
        break;
    default:
        return GS_WS_EPROTO;
    }
    d->opcode = (uint8_t)op;
    d->fin = (b & 0x80) != 0;
    return 0;
}

/* Where the length field ends: 2, 4 or 10, from the second byte. */
static size_t length_end(const gs_ws_decoder_t *d) {
    uint8_t len7 = d->hdr[1] & 0x7F;
    return len7 == 126 ? 4 : len7 == 127 ? 10 : 2;
}

/* The second byte: MASK and the 7-bit length. */
static int check_byte1(gs_ws_decoder_t *d) {
    uint8_t b = d->hdr[1];
    int masked = (b & 0x80) != 0;
    /* RFC 6455 5.1: a server closes on an unmasked client frame, a client on a masked server
     * frame. */
    if (masked == d->is_client)
        return GS_WS_EPROTO;
    if (is_control(d->opcode) && (b & 0x7F) > GS_WS_CONTROL_MAX)
        return GS_WS_EPROTO;
    d->masked = (uint8_t)masked;
    return 0;
}

/* The length, once its last byte is in (before the masking key): encoding and bound checks. */
static int check_length(gs_ws_decoder_t *d) {
    uint8_t len7 = d->hdr[1] & 0x7F;
    uint64_t len = len7;
    if (len7 == 126) {
        len = (uint64_t)d->hdr[2] << 8 | d->hdr[3];
        if (len < 126)
            return GS_WS_EPROTO; /* 5.2: "the minimal number of bytes MUST be used" */
    } else if (len7 == 127) {
        len = 0;
        for (size_t i = 2; i < 10; i++)
            len = len << 8 | d->hdr[i];
        if (len >> 63)
            return GS_WS_EPROTO; /* 5.2: the most significant bit MUST be 0 */
        if (len <= 0xFFFF)
            return GS_WS_EPROTO;
    }
    if (!is_control(d->opcode)) {
        /* message_len <= max_message holds, so the subtraction cannot wrap, and no sum of
         * attacker-chosen lengths is ever formed. */
        uint64_t before = d->opcode == GS_WS_OP_CONT ? d->message_len : 0;
        if (len > d->max_message - before)
            return GS_WS_ETOOBIG;
        d->message_len = before + len;
    }
    d->remaining = len;
    return 0;
}

/* The whole header (the masking key, if any, is in): the frame's state. */
static void finish_header(gs_ws_decoder_t *d) {
    if (d->masked)
        memcpy(d->mask, d->hdr + length_end(d), 4);
    if (!is_control(d->opcode))
        d->in_message = !d->fin;
    d->frame_done = 0;
    d->ctl_have = 0;
    d->hdr_have = 0;
    d->hdr_need = 1;
    d->in_payload = 1;
}

/* A header step: hdr_have == hdr_need bytes are in. Checks what they decide and sets how many
 * bytes the next step needs: 1 (first byte), 2 (second byte), the length's end, the key's end. */
static int header_step(gs_ws_decoder_t *d) {
    int rc = 0;
    size_t have = d->hdr_have;
    if (have == 1) {
        rc = check_byte0(d);
        d->hdr_need = 2;
        return rc;
    }
    if (have == 2 && (rc = check_byte1(d)) != 0)
        return rc;
    size_t lend = length_end(d);
    if (have < lend) {
        d->hdr_need = (uint8_t)lend;
        return 0;
    }
    if (have == lend) {
        if ((rc = check_length(d)) != 0)
            return rc;
        if (d->masked) {
            d->hdr_need = (uint8_t)(lend + GS_WS_MASK_SIZE);
            return 0;
        }
    }
    finish_header(d);
    return 0;
}

static int deliver_control(gs_ws_decoder_t *d) {
    d->in_payload = 0;
    if (d->opcode == GS_WS_OP_CLOSE) {
        uint16_t code;
        int rc = gs_ws_close_parse(d->ctl, d->ctl_have, &code);
        if (rc != 0)
            return rc;
        d->closed = 1;
    }
    return d->on_control(d->ctx, d->opcode, d->ctl, d->ctl_have);
}

int gs_ws_decoder_feed(gs_ws_decoder_t *d, uint8_t *data, size_t len) {
    if (d->error)
        return d->error;
    size_t pos = 0;
    while (pos < len && !d->closed) {
        size_t avail = len - pos;
        if (!d->in_payload) {
            size_t take = (size_t)(d->hdr_need - d->hdr_have);
            if (take > avail)
                take = avail;
            memcpy(d->hdr + d->hdr_have, data + pos, take);
            d->hdr_have = (uint8_t)(d->hdr_have + take);
            pos += take;
            if (d->hdr_have < d->hdr_need)
                return 0;
            int rc = header_step(d);
            if (rc != 0)
                return fail(d, rc);
            if (!d->in_payload || d->remaining != 0)
                continue;
            /* An empty frame: deliver it now, it has no payload byte to wait for. */
            if (is_control(d->opcode)) {
                rc = deliver_control(d);
            } else {
                d->in_payload = 0;
                if (d->fin) {
                    d->message_len = 0;
                    rc = d->on_data(d->ctx, data + pos, 0, 1);
                }
            }
            if (rc != 0)
                return fail(d, rc);
            continue;
        }

        size_t take = d->remaining < avail ? (size_t)d->remaining : avail;
        int rc = 0;
        if (is_control(d->opcode)) {
            memcpy(d->ctl + d->ctl_have, data + pos, take);
            if (d->masked)
                gs_ws_mask(d->ctl + d->ctl_have, take, d->mask, d->frame_done);
            d->ctl_have = (uint8_t)(d->ctl_have + take);
            d->remaining -= take;
            d->frame_done += take;
            pos += take;
            if (d->remaining == 0)
                rc = deliver_control(d);
        } else {
            uint8_t *p = data + pos;
            if (d->masked)
                gs_ws_mask(p, take, d->mask, d->frame_done);
            d->remaining -= take;
            d->frame_done += take;
            pos += take;
            int end = 0;
            if (d->remaining == 0) {
                d->in_payload = 0;
                if (d->fin) {
                    end = 1;
                    d->message_len = 0;
                }
            }
            rc = d->on_data(d->ctx, p, take, end);
        }
        if (rc != 0)
            return fail(d, rc);
    }
    return 0;
}

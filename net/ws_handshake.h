/* SPDX-License-Identifier: MIT */
/* The WebSocket opening handshake (RFC 6455 section 4) over HTTP/1.1: a bounded request parser
 * and the response writers for the server, the request writer and response check for a client
 * (the load bot), and the base64 they need. Pure: no IO, no clock, no threads, no allocation, no
 * state between calls; any thread. Fuzzed by fuzz/fuzz_ws_handshake.c. */
#ifndef GS_NET_WS_HANDSHAKE_H
#define GS_NET_WS_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "gs/base.h"

/* Bound on a request, request line and headers through the blank line: a client that has sent
 * this much without finishing its header is refused (431) at that byte. */
#define GS_WS_REQUEST_MAX 8192
/* Sec-WebSocket-Key: base64 of 16 bytes. Sec-WebSocket-Accept: base64 of a SHA-1. */
#define GS_WS_KEY_LEN    24
#define GS_WS_ACCEPT_LEN 28
/* Room that always suffices for gs_ws_response_101 and gs_ws_response_error. */
#define GS_WS_RESPONSE_MAX 256

/* ---------------------------------------------------------------------------------------------
 * base64 (RFC 4648 section 4, with padding).
 * ------------------------------------------------------------------------------------------- */

/* Characters gs_base64_encode writes for n bytes, without the NUL. */
static inline size_t gs_base64_len(size_t n) { return (n + 2) / 3 * 4; }

/* Encodes n bytes into out (room for gs_base64_len(n) + 1) and NUL-terminates it. Returns the
 * length without the NUL. */
size_t gs_base64_encode(char *out, const uint8_t *in, size_t n);

/* Decodes n characters, strictly: the length a multiple of 4, padding only at the end, no
 * whitespace, and the unused bits of the last character zero (so every byte string has one
 * encoding). Returns the decoded length (<= cap), GS_EBADMSG for anything else, GS_ETOOBIG when
 * it does not fit in cap bytes. */
int gs_base64_decode(uint8_t *out, size_t cap, const char *in, size_t n);

/* ---------------------------------------------------------------------------------------------
 * Server side.
 * ------------------------------------------------------------------------------------------- */

/* What gs_ws_request_parse found. Every pointer points into the parsed buffer (borrowed: valid
 * while it is), and none is NUL-terminated. */
typedef struct gs_ws_request {
    const char *method; /* "GET", ... */
    size_t method_len;
    const char *path; /* the request target as sent (query included); starts with '/' */
    size_t path_len;
    int minor;        /* HTTP/1.minor */
    const char *host; /* Host value, NULL when absent */
    size_t host_len;
    const char *origin; /* Origin value, NULL when absent (a non-browser client) */
    size_t origin_len;
    const char *key; /* Sec-WebSocket-Key, GS_WS_KEY_LEN chars; set only for 101 */
    size_t consumed; /* bytes of the request through its blank line: the rest (a first frame
                        pipelined after it) belongs to the next layer */
} gs_ws_request_t;

/* Parses the request at the start of buf (the bytes received so far; call again with more when
 * it returns 0). Returns the HTTP status the caller answers with:
 *   0    incomplete: no error yet, the blank line not yet seen, fewer than GS_WS_REQUEST_MAX
 *        bytes: read more (into the same buffer, after these bytes);
 *   101  a valid WebSocket upgrade: GET, HTTP/1.1, Host, Upgrade with the token "websocket",
 *        Connection with the token "upgrade", Sec-WebSocket-Version 13 and a Sec-WebSocket-Key
 *        of 16 bytes in base64. Check req->origin (gs_ws_origin_allowed: 403 when refused),
 *        then send gs_ws_response_101;
 *   200  a complete GET that is not an upgrade attempt (no "websocket" in Upgrade, no
 *        Sec-WebSocket-Key or -Version): serve a page (gs_ws_response_200) or 404;
 *   400  malformed: a bad request or header line, a bare CR or LF, a NUL, a body announced,
 *        HTTP/1.1 without Host, or an upgrade attempt that lacks or garbles one of the above
 *        (a missing version included);
 *   405  a complete request with a method other than GET that is not an upgrade attempt;
 *   426  an upgrade attempt with a Sec-WebSocket-Version other than 13: answer with
 *        gs_ws_response_error(426), which names version 13;
 *   431  GS_WS_REQUEST_MAX bytes without the end of the header;
 *   505  an HTTP version other than 1.x.
 * Errors are reported as soon as the line holding them is complete (garbage at once), and a
 * prefix of a request gives 0 or the same error as the whole. req is filled for 101 and 200
 * (method, path, minor, host and origin for 405 too; consumed for 101, 200 and 405); on other
 * returns its fields are unspecified. Each call scans from the start (at most
 * GS_WS_REQUEST_MAX bytes), so read in the largest pieces the buffer allows. */
int gs_ws_request_parse(const char *buf, size_t len, gs_ws_request_t *req);

/* Whether a request's Origin may open a WebSocket. allow_list is a comma-separated list of
 * origins ("https://a.example, http://localhost:8080"), compared case-insensitively after
 * trimming blanks; "*" in it allows every origin. A NULL or empty list allows every origin, and a
 * request without Origin (origin NULL: not a browser) is always allowed, since Origin only
 * protects browsers against cross-site pages. Returns 1 or 0. */
int gs_ws_origin_allowed(const char *allow_list, const char *origin, size_t origin_len);

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + the RFC 6455 GUID)), GS_WS_ACCEPT_LEN
 * characters and a NUL into out. */
void gs_ws_accept(const char *key, size_t key_len, char out[GS_WS_ACCEPT_LEN + 1]);

/* The 101 Switching Protocols response for a request's key, into out (cap bytes; with
 * GS_WS_RESPONSE_MAX it always fits). Returns its length, or 0 when it does not fit. */
size_t gs_ws_response_101(char *out, size_t cap, const char *key, size_t key_len);

/* A short error response with a text body, Content-Length and Connection: close (the caller
 * closes after sending it); 426 adds Sec-WebSocket-Version: 13. status is one of 400, 403, 404,
 * 405, 426, 431, 500, 503, 505. Returns its length, or 0 for another status or when it does not
 * fit in cap (GS_WS_RESPONSE_MAX always suffices). */
size_t gs_ws_response_error(char *out, size_t cap, int status);

/* The header of a 200 response serving a static file of content_length bytes (the body follows
 * it, sent by the caller), with Content-Type, Content-Length and Connection: close. Returns its
 * length, or 0 when it does not fit in cap or content_type holds a control character. */
size_t gs_ws_response_200(char *out, size_t cap, const char *content_type, uint64_t content_length);

/* ---------------------------------------------------------------------------------------------
 * Client side (the load bot).
 * ------------------------------------------------------------------------------------------- */

/* Writes an upgrade request for path on host (NUL-terminated; host may carry ":port") with the
 * key base64(nonce), which it also writes to key_out (NUL-terminated) for
 * gs_ws_client_response_parse. The nonce should be random (RFC 6455 4.1); the caller supplies it
 * so that this stays pure. Returns the request's length, or 0 when it does not fit in cap, path
 * does not start with '/', or host or path is empty or holds a blank or control character. */
size_t gs_ws_client_request(char *out, size_t cap, const char *host, const char *path,
                            const uint8_t nonce[16], char key_out[GS_WS_KEY_LEN + 1]);

/* Checks the server's answer to that request, at the start of buf (the bytes received so far).
 * Returns:
 *   0           incomplete: read more;
 *   101         accepted: status 101, Upgrade "websocket", Connection "upgrade" and
 *               Sec-WebSocket-Accept matching key; *consumed = the response's bytes (frames may
 *               follow in the same read);
 *   100..599    any other well-formed status: the server refused (*consumed is set);
 *   GS_EBADMSG  malformed, or a 101 whose tokens or accept value are wrong (or that names an
 *               extension or subprotocol, none of which was asked for);
 *   GS_ETOOBIG  GS_WS_REQUEST_MAX bytes without the end of the header. */
int gs_ws_client_response_parse(const char *buf, size_t len, const char *key, size_t *consumed);

#endif /* GS_NET_WS_HANDSHAKE_H */

/* SPDX-License-Identifier: MIT */
/* The WebSocket opening handshake (see ws_handshake.h). The line rules follow metrics/http.c:
 * strict CRLF, bare CR or LF refused, no obs-fold, no body. */
#include "ws_handshake.h"

#include <stdio.h>
#include <string.h>

#include "sha1.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* ---------------------------------------------------------------------------------------------
 * base64.
 * ------------------------------------------------------------------------------------------- */
static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t gs_base64_encode(char *out, const uint8_t *in, size_t n) {
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = b64[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

static int b64val(char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int gs_base64_decode(uint8_t *out, size_t cap, const char *in, size_t n) {
    if (n % 4 != 0)
        return GS_EBADMSG;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int last = i + 4 == n;
        int v[4];
        size_t pad = 0;
        for (size_t j = 0; j < 4; j++) {
            if (in[i + j] == '=' && last && j >= 2) {
                v[j] = 0;
                pad++;
                continue;
            }
            if (pad > 0)
                return GS_EBADMSG; /* data after padding */
            if ((v[j] = b64val(in[i + j])) < 0)
                return GS_EBADMSG;
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | v[3];
        size_t k = 3 - pad;
        /* The bits the padding leaves unused must be zero, or two strings decode alike. */
        if ((pad == 1 && (w & 0xFF)) || (pad == 2 && (w & 0xFFFF)))
            return GS_EBADMSG;
        if (k > cap - o)
            return GS_ETOOBIG;
        out[o++] = (uint8_t)(w >> 16);
        if (k > 1)
            out[o++] = (uint8_t)(w >> 8);
        if (k > 2)
            out[o++] = (uint8_t)w;
    }
    return (int)o;
}

/* ---------------------------------------------------------------------------------------------
 * Lines, headers and tokens, shared by the request and response parsers.
 * ------------------------------------------------------------------------------------------- */

/* RFC 9110 5.6.2 tchar. */
static int tchar(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

/* Case-insensitive equality of n bytes with a lower-case literal. */
static int ieq(const char *a, size_t n, const char *lit) {
    if (strlen(lit) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(a[i]) != lit[i])
            return 0;
    return 1;
}

/* The end of the line starting at p: the offset of its CR, with the LF after it. Returns 1 and
 * sets *eol, 0 if the buffer ends first, -1 for a bare CR or LF or a NUL (request smuggling's
 * favourite ambiguities: refused rather than guessed at). */
static int line_end(const char *buf, size_t p, size_t len, size_t *eol) {
    for (size_t i = p; i < len; i++) {
        if (buf[i] == '\n' || buf[i] == '\0')
            return -1;
        if (buf[i] == '\r') {
            if (i + 1 >= len)
                return 0;
            if (buf[i + 1] != '\n')
                return -1;
            *eol = i;
            return 1;
        }
    }
    return 0;
}

/* Splits a header line: name ":" OWS value OWS. Returns 0, or -1 if it is not one (obs-fold,
 * an empty or non-token name, a control character in the value). */
static int header_split(const char *b, size_t n, size_t *name_len, const char **val,
                        size_t *val_len) {
    size_t i = 0;
    while (i < n && tchar((unsigned char)b[i]))
        i++;
    if (i == 0 || i >= n || b[i] != ':')
        return -1; /* also obs-fold, which starts with a blank (RFC 9112 5.2 allows refusing) */
    *name_len = i++;
    for (size_t k = i; k < n; k++) {
        unsigned char c = (unsigned char)b[k];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return -1;
    }
    while (i < n && (b[i] == ' ' || b[i] == '\t'))
        i++;
    size_t vn = n - i;
    while (vn > 0 && (b[i + vn - 1] == ' ' || b[i + vn - 1] == '\t'))
        vn--;
    *val = b + i;
    *val_len = vn;
    return 0;
}

/* Whether a comma-separated list holds token tok (lower case), case-insensitively. */
static int has_token(const char *v, size_t n, const char *tok) {
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e > s && ieq(v + s, e - s, tok))
            return 1;
    }
    return 0;
}

/* A body would be read as the next request, or as WebSocket frames: refused. */
static int announces_body(const char *name, size_t nn, const char *v, size_t vn) {
    if (ieq(name, nn, "transfer-encoding"))
        return 1;
    if (ieq(name, nn, "content-length")) {
        if (vn == 0)
            return 1;
        for (size_t k = 0; k < vn; k++)
            if (v[k] != '0')
                return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Server side.
 * ------------------------------------------------------------------------------------------- */

/* The request line: METHOD SP target SP HTTP/1.x. */
static int request_line(const char *b, size_t n, gs_ws_request_t *req) {
    size_t i = 0;
    while (i < n && b[i] >= 'A' && b[i] <= 'Z')
        i++;
    if (i == 0 || i > 16 || i >= n || b[i] != ' ')
        return 400;
    req->method = b;
    req->method_len = i;
    size_t t = ++i;
    while (i < n && b[i] != ' ') {
        unsigned char c = (unsigned char)b[i];
        if (c <= 0x20 || c >= 0x7f)
            return 400;
        i++;
    }
    if (i == t || i >= n || b[t] != '/')
        return 400;
    req->path = b + t;
    req->path_len = i - t;
    i++;
    const char *v = b + i;
    size_t vn = n - i;
    if (vn != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
        v[7] < '0' || v[7] > '9')
        return 400;
    if (v[5] != '1')
        return 505;
    req->minor = v[7] - '0';
    return 0;
}

/* Parses the garbage-or-incomplete case of a request line with no CRLF yet: a method is 1 to 16
 * capital letters, then a space, so a TLS hello or a binary protocol is refused on its first
 * bytes rather than at the deadline. */
static int early_method(const char *buf, size_t len) {
    size_t m = 0;
    while (m < len && m < 17 && buf[m] >= 'A' && buf[m] <= 'Z')
        m++;
    if (m < len && (m == 0 || m > 16 || buf[m] != ' '))
        return 400;
    return 0;
}

int gs_ws_request_parse(const char *buf, size_t len, gs_ws_request_t *req) {
    memset(req, 0, sizeof(*req));
    size_t limit = len < GS_WS_REQUEST_MAX ? len : GS_WS_REQUEST_MAX;
    size_t eol;
    int r = line_end(buf, 0, limit, &eol);
    if (r < 0)
        return 400;
    if (r == 0) {
        if (early_method(buf, limit) != 0)
            return 400;
        return len >= GS_WS_REQUEST_MAX ? 431 : 0;
    }
    int st = request_line(buf, eol, req);
    if (st != 0)
        return st;

    /* What the headers say, for the verdict at the blank line. */
    int ws_upgrade = 0, conn_upgrade = 0, attempt = 0, version_seen = 0, version_13 = 0;
    int keys = 0, hosts = 0;
    const char *key = NULL;
    size_t key_len = 0;
    size_t p = eol + 2;
    for (;;) {
        r = line_end(buf, p, limit, &eol);
        if (r < 0)
            return 400;
        if (r == 0)
            return len >= GS_WS_REQUEST_MAX ? 431 : 0;
        if (eol == p)
            break;
        size_t nn, vn;
        const char *v;
        const char *name = buf + p;
        if (header_split(name, eol - p, &nn, &v, &vn) != 0)
            return 400;
        if (announces_body(name, nn, v, vn))
            return 400;
        if (ieq(name, nn, "host")) {
            hosts++;
            req->host = v;
            req->host_len = vn;
        } else if (ieq(name, nn, "origin")) {
            if (req->origin != NULL)
                return 400; /* two origins: which one would the allow-list have judged? */
            req->origin = v;
            req->origin_len = vn;
        } else if (ieq(name, nn, "upgrade")) {
            if (has_token(v, vn, "websocket")) {
                ws_upgrade = 1;
                attempt = 1;
            }
        } else if (ieq(name, nn, "connection")) {
            conn_upgrade |= has_token(v, vn, "upgrade");
        } else if (ieq(name, nn, "sec-websocket-key")) {
            attempt = 1;
            keys++;
            key = v;
            key_len = vn;
        } else if (ieq(name, nn, "sec-websocket-version")) {
            attempt = 1;
            version_seen++;
            version_13 = vn == 2 && memcmp(v, "13", 2) == 0;
        }
        p = eol + 2;
    }
    req->consumed = eol + 2;

    if (hosts > 1 || (req->minor >= 1 && hosts == 0))
        return 400; /* RFC 9112 3.2: exactly one Host in HTTP/1.1 */
    int get = req->method_len == 3 && memcmp(req->method, "GET", 3) == 0;
    if (!attempt)
        return get ? 200 : 405;
    if (!get || req->minor < 1)
        return 400;
    if (version_seen > 1)
        return 400;
    if (version_seen == 1 && !version_13)
        return 426; /* RFC 6455 4.2.2: name the version we speak, the client may retry */
    if (!version_seen || !ws_upgrade || !conn_upgrade || keys != 1 || key_len != GS_WS_KEY_LEN)
        return 400;
    uint8_t raw[16];
    if (gs_base64_decode(raw, sizeof(raw), key, key_len) != 16)
        return 400;
    req->key = key;
    return 101;
}

int gs_ws_origin_allowed(const char *allow_list, const char *origin, size_t origin_len) {
    if (allow_list == NULL || allow_list[0] == '\0' || origin == NULL)
        return 1;
    const char *s = allow_list;
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        const char *e = s;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        size_t n = (size_t)(t - s);
        if (n == 1 && s[0] == '*')
            return 1;
        if (n > 0 && n == origin_len) {
            size_t i = 0;
            while (i < n && lower(s[i]) == lower(origin[i]))
                i++;
            if (i == n)
                return 1;
        }
        s = e;
    }
    return 0;
}

void gs_ws_accept(const char *key, size_t key_len, char out[GS_WS_ACCEPT_LEN + 1]) {
    gs_sha1_t s;
    uint8_t d[GS_SHA1_SIZE];
    gs_sha1_init(&s);
    gs_sha1_update(&s, key, key_len);
    gs_sha1_update(&s, WS_GUID, sizeof(WS_GUID) - 1);
    gs_sha1_final(&s, d);
    gs_base64_encode(out, d, sizeof(d));
}

/* snprintf into out, or 0 when it does not fit. */
static size_t fit(int n, size_t cap) { return n > 0 && (size_t)n < cap ? (size_t)n : 0; }

size_t gs_ws_response_101(char *out, size_t cap, const char *key, size_t key_len) {
    char acc[GS_WS_ACCEPT_LEN + 1];
    gs_ws_accept(key, key_len, acc);
    int n = snprintf(out, cap,
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n"
                     "\r\n",
                     acc);
    return fit(n, cap);
}

static const char *reason(int status) {
    switch (status) {
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 426:
        return "Upgrade Required";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    }
    return NULL;
}

size_t gs_ws_response_error(char *out, size_t cap, int status) {
    const char *r = reason(status);
    if (r == NULL)
        return 0;
    /* The body is the status line's text and a newline, so Content-Length is its length. */
    size_t body = 3 + 1 + strlen(r) + 1;
    int n = snprintf(out, cap,
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n"
                     "%s"
                     "Connection: close\r\n"
                     "\r\n"
                     "%d %s\n",
                     status, r, body,
                     status == 426 ? "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" : "",
                     status, r);
    return fit(n, cap);
}

size_t gs_ws_response_200(char *out, size_t cap, const char *content_type,
                          uint64_t content_length) {
    for (const char *c = content_type; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return 0;
    int n = snprintf(out, cap,
                     "HTTP/1.1 200 OK\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %llu\r\n"
                     "X-Content-Type-Options: nosniff\r\n"
                     "Connection: close\r\n"
                     "\r\n",
                     content_type, (unsigned long long)content_length);
    return fit(n, cap);
}

/* ---------------------------------------------------------------------------------------------
 * Client side.
 * ------------------------------------------------------------------------------------------- */

/* Non-empty, no blank or control character. */
static int visible(const char *s) {
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

size_t gs_ws_client_request(char *out, size_t cap, const char *host, const char *path,
                            const uint8_t nonce[16], char key_out[GS_WS_KEY_LEN + 1]) {
    if (!visible(host) || !visible(path) || path[0] != '/')
        return 0;
    gs_base64_encode(key_out, nonce, 16);
    int n = snprintf(out, cap,
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "\r\n",
                     path, host, key_out);
    return fit(n, cap);
}

int gs_ws_client_response_parse(const char *buf, size_t len, const char *key, size_t *consumed) {
    *consumed = 0;
    size_t limit = len < GS_WS_REQUEST_MAX ? len : GS_WS_REQUEST_MAX;
    size_t eol;
    int r = line_end(buf, 0, limit, &eol);
    if (r < 0)
        return GS_EBADMSG;
    if (r == 0) {
        /* Not HTTP at all is refused on its first bytes. */
        size_t m = limit < 5 ? limit : 5;
        if (memcmp(buf, "HTTP/", m) != 0)
            return GS_EBADMSG;
        return len >= GS_WS_REQUEST_MAX ? GS_ETOOBIG : 0;
    }
    /* HTTP/1.x SP 3DIGIT SP reason */
    if (eol < 13 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[7] < '0' || buf[7] > '9' ||
        buf[8] != ' ' || buf[12] != ' ')
        return GS_EBADMSG;
    int status = 0;
    for (size_t i = 9; i < 12; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return GS_EBADMSG;
        status = status * 10 + (buf[i] - '0');
    }
    if (status < 100 || status > 599)
        return GS_EBADMSG;
    for (size_t i = 13; i < eol; i++) {
        unsigned char c = (unsigned char)buf[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return GS_EBADMSG;
    }

    int ws_upgrade = 0, conn_upgrade = 0, accepts = 0, accept_ok = 0, extra = 0;
    char want[GS_WS_ACCEPT_LEN + 1];
    gs_ws_accept(key, strlen(key), want);
    size_t p = eol + 2;
    for (;;) {
        r = line_end(buf, p, limit, &eol);
        if (r < 0)
            return GS_EBADMSG;
        if (r == 0)
            return len >= GS_WS_REQUEST_MAX ? GS_ETOOBIG : 0;
        if (eol == p)
            break;
        size_t nn, vn;
        const char *v;
        const char *name = buf + p;
        if (header_split(name, eol - p, &nn, &v, &vn) != 0)
            return GS_EBADMSG;
        if (ieq(name, nn, "upgrade"))
            ws_upgrade |= has_token(v, vn, "websocket");
        else if (ieq(name, nn, "connection"))
            conn_upgrade |= has_token(v, vn, "upgrade");
        else if (ieq(name, nn, "sec-websocket-accept")) {
            accepts++;
            accept_ok = vn == GS_WS_ACCEPT_LEN && memcmp(v, want, GS_WS_ACCEPT_LEN) == 0;
        } else if (ieq(name, nn, "sec-websocket-extensions") ||
                   ieq(name, nn, "sec-websocket-protocol"))
            extra = 1; /* RFC 6455 4.1: the client fails a handshake naming what it did not ask */
        p = eol + 2;
    }
    *consumed = eol + 2;
    if (status != 101)
        return status;
    if (!ws_upgrade || !conn_upgrade || accepts != 1 || !accept_ok || extra)
        return GS_EBADMSG;
    return 101;
}

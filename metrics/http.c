/* SPDX-License-Identifier: MIT */
/* A bounded HTTP/1.1 request parser for the metrics server: GET only, strict CRLF lines, a
 * request line of at most GS_HTTP_LINE_MAX and headers of at most GS_HTTP_HEADERS_MAX bytes,
 * no body. Pure (no IO, no allocation, no state between calls); fuzzed by fuzz/fuzz_http.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs/metrics.h"

/* RFC 9110 5.6.2 tchar. */
static int tchar(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* The end of the line starting at p: the offset of its CR, with the LF after it. Returns 1 and
 * sets *eol, 0 if the buffer ends first, -1 for a bare CR or LF (request smuggling's favourite
 * ambiguity: refused rather than guessed at). */
static int line_end(const char *buf, size_t p, size_t len, size_t *eol) {
    for (size_t i = p; i < len; i++) {
        if (buf[i] == '\n')
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

static int ieq(const char *a, size_t n, const char *lit) {
    if (strlen(lit) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lit[i])
            return 0;
    }
    return 1;
}

static int request_line(const char *b, size_t n, gs_http_request_t *req) {
    size_t i = 0;
    while (i < n && b[i] >= 'A' && b[i] <= 'Z')
        i++;
    if (i == 0 || i > 16 || i >= n || b[i] != ' ')
        return 400;
    int get = i == 3 && memcmp(b, "GET", 3) == 0;
    size_t t = ++i;
    while (i < n && b[i] != ' ') {
        unsigned char c = (unsigned char)b[i];
        if (c <= 0x20 || c >= 0x7f)
            return 400;
        i++;
    }
    if (i == t || i >= n || b[t] != '/')
        return 400;
    size_t tend = i++;
    const char *v = b + i;
    size_t vn = n - i;
    if (vn != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
        v[7] < '0' || v[7] > '9')
        return 400;
    if (v[5] != '1')
        return 505;
    if (!get)
        return 405;
    req->path = b + t;
    req->path_len = tend - t;
    const char *q = memchr(req->path, '?', req->path_len);
    if (q)
        req->path_len = (size_t)(q - req->path);
    req->minor = v[7] - '0';
    return 200;
}

/* One header line: name ":" OWS value OWS. A GET with a body is refused (400): nothing here
 * reads one, and its bytes would be taken for the next request by a keep-alive peer. */
static int header_line(const char *b, size_t n) {
    size_t i = 0;
    while (i < n && tchar((unsigned char)b[i]))
        i++;
    if (i == 0 || i >= n || b[i] != ':')
        return 400;
    size_t name_len = i++;
    for (size_t k = i; k < n; k++) {
        unsigned char c = (unsigned char)b[k];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 400;
    }
    while (i < n && (b[i] == ' ' || b[i] == '\t'))
        i++;
    size_t vlen = n - i;
    while (vlen > 0 && (b[i + vlen - 1] == ' ' || b[i + vlen - 1] == '\t'))
        vlen--;
    if (ieq(b, name_len, "transfer-encoding"))
        return 400;
    if (ieq(b, name_len, "content-length")) {
        if (vlen == 0)
            return 400;
        for (size_t k = 0; k < vlen; k++)
            if (b[i + k] != '0')
                return 400; /* digits other than 0, or anything else */
    }
    return 0;
}

int gs_http_parse(const char *buf, size_t len, gs_http_request_t *req) {
    memset(req, 0, sizeof *req);
    size_t eol;
    int r = line_end(buf, 0, len < GS_HTTP_LINE_MAX ? len : GS_HTTP_LINE_MAX, &eol);
    if (r < 0)
        return 400;
    if (r == 0) {
        if (memchr(buf, '\0', len < GS_HTTP_LINE_MAX ? len : GS_HTTP_LINE_MAX))
            return 400;
        /* Garbage (a TLS hello, a binary protocol) is refused on its first bytes, not after
         * the deadline: a method is 1 to 16 capital letters, then a space. */
        size_t m = 0;
        while (m < len && m < 17 && buf[m] >= 'A' && buf[m] <= 'Z')
            m++;
        if (m < len && (m == 0 || m > 16 || buf[m] != ' '))
            return 400;
        return len >= GS_HTTP_LINE_MAX ? 414 : 0;
    }
    if (memchr(buf, '\0', eol))
        return 400;
    int status = request_line(buf, eol, req);
    if (status != 200)
        return status;
    size_t hstart = eol + 2, p = hstart;
    size_t limit = len < hstart + GS_HTTP_HEADERS_MAX ? len : hstart + GS_HTTP_HEADERS_MAX;
    for (uint32_t count = 0;; count++) {
        r = line_end(buf, p, limit, &eol);
        if (r < 0)
            return 400;
        if (r == 0)
            return len >= hstart + GS_HTTP_HEADERS_MAX ? 431 : 0;
        if (eol == p) {
            req->consumed = eol + 2;
            return 200;
        }
        if (count >= GS_HTTP_HEADER_COUNT)
            return 431;
        /* obs-fold (a line starting with blank) is refused, as RFC 9112 5.2 allows. */
        if (buf[p] == ' ' || buf[p] == '\t')
            return 400;
        if (header_line(buf + p, eol - p) != 0)
            return 400;
        p = eol + 2;
    }
}

const char *gs_http_reason(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    }
    return "Unknown";
}

int gs_metrics_parse_addr(const char *s, char *host, size_t host_cap, uint16_t *port) {
    const char *p = s, *h = "127.0.0.1";
    size_t hn = strlen(h);
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return GS_EADDR;
        h = s + 1;
        hn = (size_t)(close - h);
        p = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon) {
            if (strchr(s, ':') != colon)
                return GS_EADDR; /* an IPv6 address needs brackets */
            h = s;
            hn = (size_t)(colon - s);
            p = colon + 1;
        }
    }
    if (hn == 0 || hn >= host_cap || *p < '0' || *p > '9' || strlen(p) > 5)
        return GS_EADDR;
    char *end;
    unsigned long v = strtoul(p, &end, 10);
    if (*end != '\0' || v > 65535)
        return GS_EADDR;
    memcpy(host, h, hn);
    host[hn] = '\0';
    *port = (uint16_t)v;
    return 0;
}

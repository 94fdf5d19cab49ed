/* SPDX-License-Identifier: MIT */
/* The chat page embedded by cmake/embed_files.cmake: each path finds its file, byte for byte,
 * with its content type; "/" is the page; a query is ignored; anything else is not found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_test.h"

#include "web_assets.h"

/* The whole of a source file (GS_SOURCE_DIR is the top of the tree), NUL-terminated. */
static unsigned char *read_source(const char *rel, size_t *len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", GS_SOURCE_DIR, rel);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void check_same(const char *path, const char *rel, const char *type) {
    const gs_web_asset_t *a = chat_web_asset(path);
    assert_non_null(a);
    assert_string_equal(a->content_type, type);
    size_t len;
    unsigned char *want = read_source(rel, &len);
    assert_int_equal(a->len, len);
    assert_memory_equal(a->data, want, len);
    assert_int_equal(a->data[a->len], 0);
    free(want);
}

static void test_every_file_byte_for_byte(void **state) {
    (void)state;
    check_same("/index.html", "server/chat/web/index.html", "text/html; charset=utf-8");
    check_same("/chat.js", "server/chat/web/chat.js", "text/javascript; charset=utf-8");
    check_same("/chat.css", "server/chat/web/chat.css", "text/css; charset=utf-8");
    check_same("/chat.proto", "proto/chat.proto", "text/plain; charset=utf-8");
    check_same("/protobuf.min.js", "server/chat/web/node_modules/protobufjs/dist/protobuf.min.js",
               "text/javascript; charset=utf-8");
}

static void test_root_query_and_misses(void **state) {
    (void)state;
    const gs_web_asset_t *index = chat_web_asset("/index.html");
    assert_non_null(index);
    assert_ptr_equal(chat_web_asset("/"), index);
    assert_ptr_equal(chat_web_asset("/?reload=1"), index);
    assert_ptr_equal(chat_web_asset("/chat.js?v=2"), chat_web_asset("/chat.js"));
    assert_null(chat_web_asset(NULL));
    assert_null(chat_web_asset(""));
    assert_null(chat_web_asset("?"));
    assert_null(chat_web_asset("index.html"));
    assert_null(chat_web_asset("//index.html"));
    assert_null(chat_web_asset("/index.htm"));
    assert_null(chat_web_asset("/index.html/"));
    assert_null(chat_web_asset("/../proto/chat.proto"));
    assert_null(chat_web_asset("/ws"));
    assert_null(chat_web_asset("/package.json"));
    assert_null(chat_web_asset("/node_modules/protobufjs/dist/protobuf.min.js"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_file_byte_for_byte),
        cmocka_unit_test(test_root_query_and_misses),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

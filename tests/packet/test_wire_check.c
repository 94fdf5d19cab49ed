/* SPDX-License-Identifier: MIT */
/* Unit tests of packet/wire_check.c, the pre-pass of gs_msg_decode: strings checked in nested,
 * repeated and map fields; docs/testing.md A10 (truncated varints and tags) and A11 (wrong
 * wire types); packed repeated scalars; the depth limit; every truncation and random mutations of
 * real chat bodies against protobuf-c's own unpack. Every body is copied into a heap block of its
 * exact size, so that the sanitizer build catches any read past its end. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "gs_test.h"

#include "wire_nest.h"

#include "chat.pb-c.h"
#include "chat_proto.h"
#include "gs/packet.h"
#include "pb_walk.h"
#include "wire_check.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* A hand-made body: pointer and length of a byte list. */
#define BODY(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})

static const ProtobufCMessageDescriptor *const chat_send = &chat__chat_send__descriptor;
static const ProtobufCMessageDescriptor *const room_list = &chat__room_list__descriptor;
static const ProtobufCMessageDescriptor *const join_reply = &chat__join_reply__descriptor;

/* gs__wire_check on an exact-size heap copy of b. */
static int wc(const ProtobufCMessageDescriptor *d, const uint8_t *b, size_t n) {
    uint8_t *copy = NULL;
    if (n > 0) {
        copy = malloc(n);
        assert_non_null(copy);
        memcpy(copy, b, n);
    }
    int rc = gs__wire_check(d, copy, n);
    free(copy);
    return rc;
}

/* Whether protobuf-c itself unpacks the body (an exact-size copy as well). */
static int pc_accepts(const ProtobufCMessageDescriptor *d, const uint8_t *b, size_t n) {
    uint8_t *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, b, n);
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, n, copy);
    free(copy);
    if (!m)
        return 0;
    protobuf_c_message_free_unpacked(m, NULL);
    return 1;
}

/* ---------------------------------------------------------------------------------------------
 * Valid chat bodies, packed by protobuf-c.
 * ------------------------------------------------------------------------------------------- */
typedef struct body {
    const ProtobufCMessageDescriptor *d;
    uint8_t bytes[512];
    size_t len;
} body_t;

static void pack(body_t *b, const ProtobufCMessage *m) {
    b->d = m->descriptor;
    assert_true(protobuf_c_message_get_packed_size(m) <= sizeof(b->bytes));
    b->len = protobuf_c_message_pack(m, b->bytes);
}

enum { CORPUS = 5 };

static void make_corpus(body_t out[CORPUS]) {
    Chat__ChatSend cs = CHAT__CHAT_SEND__INIT;
    cs.request_id = 300;
    cs.room = "caf\xC3\xA9 \xE2\x82\xAC";
    cs.text = "hello \xF0\x9F\x98\x80 world, \xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82";
    cs.seq = UINT64_MAX;
    cs.sent_at_us = 1700000000000000u;
    pack(&out[0], &cs.base);

    Chat__JoinReply jr = CHAT__JOIN_REPLY__INIT;
    char *members[] = {"alice", "b\xC3\xB6\x62", "", "\xE4\xB8\xAD\xE6\x96\x87"};
    jr.request_id = 1;
    jr.room = "lobby";
    jr.n_members = ARRAY_LEN(members);
    jr.members = members;
    pack(&out[1], &jr.base);

    Chat__RoomInfo r0 = CHAT__ROOM_INFO__INIT, r1 = CHAT__ROOM_INFO__INIT,
                   r2 = CHAT__ROOM_INFO__INIT;
    r0.name = "lobby";
    r0.members = 12;
    r1.name = "\xCE\xB1\xCE\xB2\xCE\xB3";
    r1.members = 0;
    r2.name = "";
    r2.members = 0xFFFFFFFFu;
    Chat__RoomInfo *rooms[] = {&r0, &r1, &r2};
    Chat__RoomList rl = CHAT__ROOM_LIST__INIT;
    rl.request_id = 0x7FFFFFFF;
    rl.n_rooms = ARRAY_LEN(rooms);
    rl.rooms = rooms;
    pack(&out[2], &rl.base);

    Chat__LoginReply lr = CHAT__LOGIN_REPLY__INIT;
    lr.request_id = 9;
    lr.nickname = "n\xC3\xAF"
                  "ck";
    lr.server_time_us = 0x123456789ABCDEFu;
    lr.heartbeat_ms = 5000;
    lr.max_text_bytes = 512;
    pack(&out[3], &lr.base);

    Chat__Error err = CHAT__ERROR__INIT;
    err.request_id = 4;
    err.code = CHAT__ERROR_CODE__ERROR_ROOM_FULL;
    err.request_msg_id = 0xDEADBEEFu;
    err.detail = "room is full";
    pack(&out[4], &err.base);
}

static void test_valid_chat_bodies(void **state) {
    (void)state;
    body_t c[CORPUS];
    make_corpus(c);
    for (int i = 0; i < CORPUS; i++) {
        assert_true(c[i].len > 0);
        assert_int_equal(wc(c[i].d, c[i].bytes, c[i].len), 0);
        assert_true(pc_accepts(c[i].d, c[i].bytes, c[i].len));
    }
    /* Read as the wrong type: Error.code (2, varint) is ChatSend.room (a string); the room
     * name of a JoinReply (2) is RoomList.rooms, and "lobby" is no message. */
    assert_int_equal(wc(chat_send, c[4].bytes, c[4].len), GS_EBADMSG);
    assert_int_equal(wc(room_list, c[1].bytes, c[1].len), GS_EBADMSG);
}

static void test_empty_bodies(void **state) {
    (void)state;
    for (size_t i = 0; i < chat_proto_messages_count; i++) {
        assert_int_equal(gs__wire_check(chat_proto_messages[i], NULL, 0), 0);
        assert_int_equal(gs__wire_check(chat_proto_messages[i], (const uint8_t *)"", 0), 0);
    }
    assert_int_equal(wc(room_list, BODY(0x12, 0x00)), 0);             /* rooms: [{}] */
    assert_int_equal(wc(chat_send, BODY(0x1A, 0x00, 0x12, 0x00)), 0); /* text "", room "" */
    assert_int_equal(gs__wire_check(NULL, NULL, 0), GS_EINVAL);
    assert_int_equal(gs__wire_check(chat_send, NULL, 1), GS_EINVAL);
}

/* ---------------------------------------------------------------------------------------------
 * Text in string fields.
 * ------------------------------------------------------------------------------------------- */
static void test_bad_utf8_in_nested_room_name(void **state) {
    (void)state;
    /* RoomList{request_id 7, rooms [{"lobby", 3}, {name, 1}]} */
#define ROOMS(a, b)                                                                                \
    BODY(0x08, 0x07, 0x12, 0x09, 0x0A, 0x05, 'l', 'o', 'b', 'b', 'y', 0x10, 0x03, 0x12, 0x06,      \
         0x0A, 0x02, a, b, 0x10, 0x01)
    assert_int_equal(wc(room_list, ROOMS(0xC3, 0xA9)), 0);
    assert_int_equal(wc(room_list, ROOMS(0xC0, 0xAF)), GS_EBADTEXT); /* overlong */
    assert_int_equal(wc(room_list, ROOMS(0xE2, 0x82)), GS_EBADTEXT); /* truncated */
    assert_int_equal(wc(room_list, ROOMS(0x80, 'x')), GS_EBADTEXT);  /* stray continuation */
    assert_int_equal(wc(room_list, ROOMS('x', 0xFF)), GS_EBADTEXT);
    assert_int_equal(wc(room_list, ROOMS('x', 0x00)), GS_EBADTEXT); /* NUL */
    /* protobuf-c alone would hand these strings to the handler. */
    assert_true(pc_accepts(room_list, ROOMS(0xC0, 0xAF)));
#undef ROOMS
    /* A surrogate in the first of two rooms. */
    assert_int_equal(
        wc(room_list, BODY(0x12, 0x05, 0x0A, 0x03, 0xED, 0xA0, 0x80, 0x12, 0x03, 0x0A, 0x01, 'a')),
        GS_EBADTEXT);
    /* Above U+10FFFF. */
    assert_int_equal(wc(room_list, BODY(0x12, 0x06, 0x0A, 0x04, 0xF4, 0x90, 0x80, 0x80)),
                     GS_EBADTEXT);
}

static void test_nul_in_text(void **state) {
    (void)state;
    /* ChatSend{text "ab\0cd"}: protobuf-c would shorten it to "ab" without a word. */
    assert_int_equal(wc(chat_send, BODY(0x1A, 0x05, 'a', 'b', 0x00, 'c', 'd')), GS_EBADTEXT);
    assert_true(pc_accepts(chat_send, BODY(0x1A, 0x05, 'a', 'b', 0x00, 'c', 'd')));
    assert_int_equal(wc(chat_send, BODY(0x1A, 0x05, 'a', 'b', 0x01, 'c', 'd')), 0);
    assert_int_equal(wc(chat_send, BODY(0x12, 0x01, 0x00)), GS_EBADTEXT); /* room "\0" */
    assert_int_equal(wc(chat_send, BODY(0x12, 0x02, 'r', 0x00, 0x08, 0x01)), GS_EBADTEXT);
    /* At the end of a text long enough for any word-at-a-time scan. */
    assert_int_equal(wc(chat_send, BODY(0x1A, 0x11, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i',
                                        'j', 'k', 'l', 'm', 'n', 'o', 'p', 0x00)),
                     GS_EBADTEXT);
}

static void test_repeated_strings(void **state) {
    (void)state;
    /* JoinReply{room "r", members ["alice", m]} */
#define MEMBERS(a) BODY(0x12, 0x01, 'r', 0x1A, 0x05, 'a', 'l', 'i', 'c', 'e', 0x1A, 0x01, a)
    assert_int_equal(wc(join_reply, MEMBERS('b')), 0);
    assert_int_equal(wc(join_reply, MEMBERS(0xFF)), GS_EBADTEXT);
    assert_int_equal(wc(join_reply, MEMBERS(0x00)), GS_EBADTEXT);
    assert_int_equal(wc(join_reply, MEMBERS(0xC2)), GS_EBADTEXT);
#undef MEMBERS
    /* The bad one first, then a good one. */
    assert_int_equal(wc(join_reply, BODY(0x1A, 0x01, 0xFE, 0x1A, 0x01, 'b')), GS_EBADTEXT);
}

/* ---------------------------------------------------------------------------------------------
 * Structure: A10, A11 and the rest of the wire format.
 * ------------------------------------------------------------------------------------------- */
static void test_a11_wrong_wire_type(void **state) {
    (void)state;
    const struct {
        const uint8_t *b;
        size_t n;
    } bad[] = {
        {BODY(0x10, 0x05)},                                   /* room (string) as varint */
        {BODY(0x15, 'a', 'b', 'c', 'd')},                     /* room as fixed32 */
        {BODY(0x11, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h')}, /* room as fixed64 */
        {BODY(0x0A, 0x01, 0x05)},                             /* request_id (uint32) as bytes */
        {BODY(0x0D, 0x01, 0x00, 0x00, 0x00)},                 /* request_id as fixed32 */
        {BODY(0x21, 1, 2, 3, 4, 5, 6, 7, 8)},                 /* seq (uint64) as fixed64 */
        {BODY(0x22, 0x01, 0x01)},                             /* seq as bytes: not repeated */
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        assert_int_equal(wc(chat_send, bad[i].b, bad[i].n), GS_EBADMSG);
        assert_false(pc_accepts(chat_send, bad[i].b, bad[i].n)); /* protobuf-c agrees */
    }
    /* rooms (a message) as varint; members (repeated string) as varint; inside a nested one. */
    assert_int_equal(wc(room_list, BODY(0x10, 0x01)), GS_EBADMSG);
    assert_int_equal(wc(join_reply, BODY(0x18, 0x01)), GS_EBADMSG);
    assert_int_equal(wc(room_list, BODY(0x12, 0x02, 0x08, 0x01)), GS_EBADMSG); /* name as varint */
    assert_int_equal(wc(room_list, BODY(0x12, 0x03, 0x12, 0x01, 0x01)), GS_EBADMSG); /* members */
    /* The right wire types are fine. */
    assert_int_equal(wc(chat_send, BODY(0x08, 0x05, 0x12, 0x01, 'r', 0x20, 0x01)), 0);
}

static void test_a10_truncated_varint_and_tag(void **state) {
    (void)state;
    assert_int_equal(wc(chat_send, BODY(0x80, 0x80, 0x80)), GS_EBADMSG);       /* tag cut */
    assert_int_equal(wc(chat_send, BODY(0x08, 0x80, 0x80, 0x80)), GS_EBADMSG); /* value cut */
    assert_int_equal(wc(chat_send, BODY(0x08)), GS_EBADMSG);                   /* no value */
    assert_int_equal(wc(chat_send, BODY(0x12)), GS_EBADMSG);                   /* no length */
    assert_int_equal(wc(chat_send, BODY(0x12, 0x81)), GS_EBADMSG);             /* length cut */
    /* 10-byte varints are the longest there are; 11 bytes are refused, known field or not. */
    assert_int_equal(
        wc(chat_send, BODY(0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01)), 0);
    assert_int_equal(
        wc(chat_send, BODY(0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x81, 0x00)),
        GS_EBADMSG);
    assert_int_equal(wc(chat_send, BODY(0xA0, 0x06, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                        0x80, 0x80, 0x00)),
                     GS_EBADMSG); /* field 100 */
    /* Tags: at most 5 bytes and 32 bits. Field 2^29-1 (the largest) is a valid unknown field. */
    assert_int_equal(wc(chat_send, BODY(0xF8, 0xFF, 0xFF, 0xFF, 0x0F, 0x00)), 0);
    assert_int_equal(wc(chat_send, BODY(0x88, 0x80, 0x80, 0x80, 0x00, 0x01)), 0); /* field 1 */
    assert_int_equal(wc(chat_send, BODY(0xF8, 0xFF, 0xFF, 0xFF, 0x1F, 0x00)), GS_EBADMSG);
    assert_int_equal(wc(chat_send, BODY(0xF8, 0xFF, 0xFF, 0xFF, 0x7F, 0x00)), GS_EBADMSG);
    assert_int_equal(wc(chat_send, BODY(0x88, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01)), GS_EBADMSG);
    assert_int_equal(wc(chat_send, BODY(0x88, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                        0x80, 0x00, 0x01)),
                     GS_EBADMSG);
    /* Field number 0, however it is spelled. */
    assert_int_equal(wc(chat_send, BODY(0x00, 0x00)), GS_EBADMSG);
    assert_int_equal(wc(chat_send, BODY(0x02, 0x00)), GS_EBADMSG);
    assert_int_equal(wc(chat_send, BODY(0x80, 0x00, 0x00)), GS_EBADMSG);
    assert_int_equal(wc(chat_send, BODY(0x08, 0x01, 0x00, 0x00)), GS_EBADMSG); /* after a field */
    /* Inside a nested message. */
    assert_int_equal(wc(room_list, BODY(0x12, 0x02, 0x10, 0x80)), GS_EBADMSG);
}

static void test_length_past_end(void **state) {
    (void)state;
    assert_int_equal(wc(chat_send, BODY(0x12, 0x05, 'a', 'b')), GS_EBADMSG);
    assert_int_equal(wc(chat_send, BODY(0x12, 0x03, 'a', 'b', 'c')), 0); /* exactly to the end */
    assert_int_equal(wc(chat_send, BODY(0xA2, 0x06, 0x04, 'a', 'b', 'c')), GS_EBADMSG); /* 100 */
    assert_int_equal(wc(room_list, BODY(0x12, 0x05, 0x0A, 0x01, 'a')), GS_EBADMSG);
    /* The inner length fits the body but not the nested message that holds it. */
    assert_int_equal(wc(room_list, BODY(0x12, 0x04, 0x0A, 0x05, 'a', 'b', 0x08, 0x07, 0x08, 0x07)),
                     GS_EBADMSG);
    assert_int_equal(wc(room_list, BODY(0x12, 0x04, 0x0A, 0x02, 'a', 'b', 0x08, 0x07, 0x08, 0x07)),
                     0);
    /* Lengths that overflow any pointer or 32-bit arithmetic. */
    assert_int_equal(
        wc(chat_send, BODY(0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 'a')),
        GS_EBADMSG);
    assert_int_equal(wc(chat_send, BODY(0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 'a')), GS_EBADMSG);
    assert_int_equal(wc(chat_send, BODY(0x12, 0x80, 0x80, 0x80, 0x80, 0x10, 'a')), GS_EBADMSG);
    /* Fixed-size values cut by the end. */
    assert_int_equal(wc(chat_send, BODY(0xA1, 0x06, 1, 2, 3, 4, 5, 6, 7)), GS_EBADMSG);
    assert_int_equal(wc(chat_send, BODY(0xA5, 0x06, 1, 2, 3)), GS_EBADMSG);
    assert_int_equal(wc(room_list, BODY(0x12, 0x04, 0x25, 1, 2, 3, 4)), GS_EBADMSG);
}

static void test_group_and_reserved_wire_types(void **state) {
    (void)state;
    for (unsigned wt = 3; wt <= 7; wt++) {
        if (wt == 5)
            continue;
        for (unsigned field = 1; field <= 100; field += 99) {
            uint8_t b[4];
            size_t n = 0;
            uint32_t tag = (field << 3) | wt;
            b[n++] = (uint8_t)(tag < 0x80 ? tag : (tag & 0x7F) | 0x80);
            if (tag >= 0x80)
                b[n++] = (uint8_t)(tag >> 7);
            b[n++] = 0x00;
            assert_int_equal(wc(chat_send, b, n), GS_EBADMSG);
            assert_int_equal(wc(chat_send, b, n - 1), GS_EBADMSG);
        }
    }
    assert_int_equal(wc(chat_send, BODY(0x0B, 0x0C)), GS_EBADMSG); /* an empty group */
    assert_int_equal(wc(room_list, BODY(0x12, 0x02, 0x1B, 0x1C)), GS_EBADMSG);
}

static void test_unknown_fields_skipped(void **state) {
    (void)state;
    /* ChatSend{request_id 5, field 100 varint, 101 fixed64, 102 bytes (not UTF-8, with a NUL:
     * not a string), 103 fixed32, text "hi"}. */
    static const uint8_t b[] = {0x08, 0x05, 0xA0, 0x06, 0x96, 0x01, 0xA9, 0x06, 1,    2,    3,
                                4,    5,    6,    7,    8,    0xB2, 0x06, 0x03, 0xFF, 0x00, 0xC0,
                                0xBD, 0x06, 1,    2,    3,    4,    0x1A, 0x02, 'h',  'i'};
    assert_int_equal(wc(chat_send, b, sizeof(b)), 0);
    assert_true(pc_accepts(chat_send, b, sizeof(b)));
    /* Known and unknown fields look alike on the wire: field 6 of RoomList is unknown. */
    assert_int_equal(wc(room_list, BODY(0x32, 0x02, 0xC0, 0xAF)), 0);
    assert_int_equal(wc(room_list, BODY(0x12, 0x04, 0x32, 0x02, 0xC0, 0xAF)), 0); /* nested */
    assert_int_equal(wc(room_list, BODY(0x12, 0x04, 0x0A, 0x02, 0xC0, 0xAF)), GS_EBADTEXT);
}

static void test_badmsg_wins_over_badtext(void **state) {
    (void)state;
    assert_int_equal(wc(chat_send, BODY(0x1A, 0x01, 0xFF, 0x08, 0x80)), GS_EBADMSG);
    assert_int_equal(wc(chat_send, BODY(0x1A, 0x01, 0xFF, 0x0F)), GS_EBADMSG);
    /* A bad name in a nested room, then a broken field at the top. */
    assert_int_equal(wc(room_list, BODY(0x12, 0x03, 0x0A, 0x01, 0xFF, 0x12, 0x05)), GS_EBADMSG);
    /* ... or later in the same nested room. */
    assert_int_equal(wc(room_list, BODY(0x12, 0x04, 0x0A, 0x01, 0xFF, 0x10)), GS_EBADMSG);
    assert_int_equal(wc(room_list, BODY(0x12, 0x03, 0x0A, 0x01, 0xFF, 0x08, 0x01)), GS_EBADTEXT);
}

/* ---------------------------------------------------------------------------------------------
 * Packed repeated scalars, map entries and depth, on hand-made descriptors: the chat protocol
 * has none of them (and no recursive type: the registry refuses those).
 * ------------------------------------------------------------------------------------------- */
static const ProtobufCMessageDescriptor t_desc;

#define FIELD(id, label, type, desc, flags)                                                        \
    {                                                                                              \
#id, id, PROTOBUF_C_LABEL_##label, PROTOBUF_C_TYPE_##type, 0, 0, desc, NULL, flags, 0,     \
            NULL, NULL                                                                             \
    }

static const ProtobufCFieldDescriptor entry_fields[] = {
    FIELD(1, NONE, STRING, NULL, 0),
    FIELD(2, NONE, STRING, NULL, 0),
};
static const ProtobufCIntRange entry_ranges[] = {{1, 0}, {0, 2}};
static const ProtobufCMessageDescriptor entry_desc = {PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
                                                      "t.T.AttrsEntry",
                                                      "AttrsEntry",
                                                      "T__AttrsEntry",
                                                      "t",
                                                      sizeof(ProtobufCMessage),
                                                      ARRAY_LEN(entry_fields),
                                                      entry_fields,
                                                      NULL,
                                                      1,
                                                      entry_ranges,
                                                      NULL,
                                                      NULL,
                                                      NULL,
                                                      NULL};

/* message T {
 *   repeated uint32 ints = 1 [packed];   repeated fixed32 f32s = 2 [packed];
 *   repeated double dbls = 3;            repeated sint64 s64s = 4;   (proto2: not packed)
 *   T child = 5;                         repeated string names = 6;  bytes blob = 7;
 *   repeated Kind kinds = 8 [packed];    float ratio = 9;            fixed64 stamp = 10;
 *   map<string, string> attrs = 11;      bool flag = 12;             int32 big = 20; } */
static const ProtobufCFieldDescriptor t_fields[] = {
    FIELD(1, REPEATED, UINT32, NULL, PROTOBUF_C_FIELD_FLAG_PACKED),
    FIELD(2, REPEATED, FIXED32, NULL, PROTOBUF_C_FIELD_FLAG_PACKED),
    FIELD(3, REPEATED, DOUBLE, NULL, 0),
    FIELD(4, REPEATED, SINT64, NULL, 0),
    FIELD(5, NONE, MESSAGE, &t_desc, 0),
    FIELD(6, REPEATED, STRING, NULL, 0),
    FIELD(7, NONE, BYTES, NULL, 0),
    FIELD(8, REPEATED, ENUM, NULL, PROTOBUF_C_FIELD_FLAG_PACKED),
    FIELD(9, NONE, FLOAT, NULL, 0),
    FIELD(10, NONE, FIXED64, NULL, 0),
    FIELD(11, REPEATED, MESSAGE, &entry_desc, 0),
    FIELD(12, NONE, BOOL, NULL, 0),
    FIELD(20, NONE, INT32, NULL, 0),
};
static const ProtobufCIntRange t_ranges[] = {{1, 0}, {20, 12}, {0, 13}};
static const ProtobufCMessageDescriptor t_desc = {PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
                                                  "t.T",
                                                  "T",
                                                  "T",
                                                  "t",
                                                  sizeof(ProtobufCMessage),
                                                  ARRAY_LEN(t_fields),
                                                  t_fields,
                                                  NULL,
                                                  2,
                                                  t_ranges,
                                                  NULL,
                                                  NULL,
                                                  NULL,
                                                  NULL};

static void test_descriptor_sanity(void **state) {
    (void)state;
    /* The hand-made descriptor answers lookups the way generated ones do. */
    assert_ptr_equal(protobuf_c_message_descriptor_get_field(&t_desc, 5), &t_fields[4]);
    assert_ptr_equal(protobuf_c_message_descriptor_get_field(&t_desc, 12), &t_fields[11]);
    assert_ptr_equal(protobuf_c_message_descriptor_get_field(&t_desc, 20), &t_fields[12]);
    assert_null(protobuf_c_message_descriptor_get_field(&t_desc, 13));
    assert_null(protobuf_c_message_descriptor_get_field(&t_desc, 19));
}

static void test_packed_repeated(void **state) {
    (void)state;
    const ProtobufCMessageDescriptor *t = &t_desc;
    /* ints: packed or one by one. */
    assert_int_equal(wc(t, BODY(0x0A, 0x03, 0x01, 0x96, 0x01)), 0);
    assert_int_equal(wc(t, BODY(0x08, 0x01, 0x08, 0x96, 0x01)), 0);
    assert_int_equal(wc(t, BODY(0x0A, 0x00)), 0);
    assert_int_equal(wc(t, BODY(0x0A, 0x02, 0x01, 0x96)), GS_EBADMSG); /* last varint cut */
    assert_int_equal(
        wc(t, BODY(0x0A, 0x0B, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00)),
        GS_EBADMSG); /* an 11-byte element */
    assert_int_equal(
        wc(t, BODY(0x0A, 0x0A, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00)), 0);
    /* f32s: whole 4-byte elements. */
    assert_int_equal(wc(t, BODY(0x12, 0x08, 1, 2, 3, 4, 5, 6, 7, 8)), 0);
    assert_int_equal(wc(t, BODY(0x12, 0x06, 1, 2, 3, 4, 5, 6)), GS_EBADMSG);
    assert_int_equal(wc(t, BODY(0x15, 1, 2, 3, 4)), 0);
    assert_int_equal(wc(t, BODY(0x10, 0x01)), GS_EBADMSG);
    assert_int_equal(wc(t, BODY(0x11, 1, 2, 3, 4, 5, 6, 7, 8)), GS_EBADMSG);
    /* dbls, not marked packed but packable: whole 8-byte elements. */
    assert_int_equal(wc(t, BODY(0x1A, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8)), 0);
    assert_int_equal(wc(t, BODY(0x1A, 0x0C, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4)), GS_EBADMSG);
    assert_int_equal(wc(t, BODY(0x1A, 0x04, 1, 2, 3, 4)), GS_EBADMSG);
    assert_int_equal(wc(t, BODY(0x19, 1, 2, 3, 4, 5, 6, 7, 8)), 0);
    assert_int_equal(wc(t, BODY(0x1D, 1, 2, 3, 4)), GS_EBADMSG);
    /* s64s, not marked packed: both ways. kinds (enum), packed. */
    assert_int_equal(wc(t, BODY(0x22, 0x02, 0x03, 0x04)), 0);
    assert_int_equal(wc(t, BODY(0x20, 0x03, 0x20, 0x04)), 0);
    assert_int_equal(wc(t, BODY(0x42, 0x02, 0x01, 0x02)), 0);
    assert_int_equal(wc(t, BODY(0x42, 0x01, 0x81)), GS_EBADMSG);
    /* Singular scalars never arrive length-delimited, nor with another fixed width. */
    assert_int_equal(wc(t, BODY(0x4D, 0, 0, 0x80, 0x3F)), 0); /* ratio */
    assert_int_equal(wc(t, BODY(0x4A, 0x04, 0, 0, 0x80, 0x3F)), GS_EBADMSG);
    assert_int_equal(wc(t, BODY(0x49, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F)), GS_EBADMSG);
    assert_int_equal(wc(t, BODY(0x51, 1, 2, 3, 4, 5, 6, 7, 8)), 0); /* stamp */
    assert_int_equal(wc(t, BODY(0x55, 1, 2, 3, 4)), GS_EBADMSG);
    assert_int_equal(wc(t, BODY(0x60, 0x01)), 0); /* flag */
    assert_int_equal(wc(t, BODY(0x62, 0x01, 0x01)), GS_EBADMSG);
    assert_int_equal(wc(t, BODY(0xA0, 0x01, 0x7F)), 0); /* big, field 20 */
    assert_int_equal(wc(t, BODY(0xA2, 0x01, 0x01, 0x01)), GS_EBADMSG);
    /* bytes are not text; repeated strings are. */
    assert_int_equal(wc(t, BODY(0x3A, 0x03, 0xFF, 0x00, 0xC0)), 0);
    assert_int_equal(wc(t, BODY(0x38, 0x01)), GS_EBADMSG);
    assert_int_equal(wc(t, BODY(0x32, 0x01, 'a', 0x32, 0x02, 0xC0, 0x80)), GS_EBADTEXT);
}

static void test_map_entries(void **state) {
    (void)state;
    const ProtobufCMessageDescriptor *t = &t_desc;
    /* attrs {key: value} */
#define ENTRY(k, v) BODY(0x5A, 0x06, 0x0A, 0x01, k, 0x12, 0x01, v)
    assert_int_equal(wc(t, ENTRY('k', 'v')), 0);
    assert_int_equal(wc(t, ENTRY('k', 0xFF)), GS_EBADTEXT);
    assert_int_equal(wc(t, ENTRY(0xC1, 'v')), GS_EBADTEXT);
    assert_int_equal(wc(t, ENTRY('k', 0x00)), GS_EBADTEXT);
#undef ENTRY
    assert_int_equal(wc(t, BODY(0x5A, 0x03, 0x0A, 0x01, 'k', 0x5A, 0x03, 0x12, 0x01, 0x80)),
                     GS_EBADTEXT);                                     /* in the second entry */
    assert_int_equal(wc(t, BODY(0x5A, 0x02, 0x08, 0x01)), GS_EBADMSG); /* key as varint */
}

static void test_depth_limit(void **state) {
    (void)state;
    uint8_t b[256];
    size_t n;
    for (unsigned levels = 0; levels <= GS__WIRE_MAX_DEPTH; levels++) {
        n = nest(b, sizeof(b), levels, (const uint8_t *)"ok", 2);
        assert_int_equal(wc(&t_desc, b, n), 0);
        n = nest(b, sizeof(b), levels, (const uint8_t *)"\xFF", 1);
        assert_int_equal(wc(&t_desc, b, n), GS_EBADTEXT);
    }
    assert_int_equal(GS__WIRE_MAX_DEPTH, 32);
    n = nest(b, sizeof(b), GS__WIRE_MAX_DEPTH + 1, NULL, 0);
    assert_int_equal(wc(&t_desc, b, n), GS_EBADMSG);
    n = nest(b, sizeof(b), GS__WIRE_MAX_DEPTH + 1, (const uint8_t *)"\xFF", 1);
    assert_int_equal(wc(&t_desc, b, n), GS_EBADMSG);
    n = nest(b, sizeof(b), 60, NULL, 0);
    assert_int_equal(wc(&t_desc, b, n), GS_EBADMSG);
    /* A malformed innermost message fails the whole body. */
    n = nest(b, sizeof(b), 10, (const uint8_t *)"ok", 2);
    b[n - 3] = 0x05; /* the names length now runs past its message */
    assert_int_equal(wc(&t_desc, b, n), GS_EBADMSG);
}

/* ---------------------------------------------------------------------------------------------
 * Every truncation and random mutations, against protobuf-c.
 * ------------------------------------------------------------------------------------------- */

static void test_every_truncation(void **state) {
    (void)state;
    body_t c[CORPUS];
    make_corpus(c);
    for (int i = 0; i < CORPUS; i++) {
        size_t accepted = 0;
        for (size_t cut = 0; cut < c[i].len; cut++) {
            int rc = wc(c[i].d, c[i].bytes, cut);
            /* Also with the rest of the body in memory past len: reading it would change the
             * verdict even without a sanitizer. */
            assert_int_equal(gs__wire_check(c[i].d, c[i].bytes, cut), rc);
            if (rc != 0 && rc != GS_EBADMSG)
                fail_msg("body %d cut at %zu: %d", i, cut, rc);
            /* Accepted exactly when protobuf-c accepts: at a top-level field boundary. */
            assert_int_equal(rc == 0, pc_accepts(c[i].d, c[i].bytes, cut));
            accepted += rc == 0;
        }
        /* The empty prefix at least, and never every prefix. */
        assert_true(accepted >= 1 && accepted < c[i].len);
    }
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

static void test_random_mutations(void **state) {
    (void)state;
    body_t c[CORPUS];
    make_corpus(c);
    static const uint8_t interesting[] = {0x00, 0x01, 0x7F, 0x80, 0xC0, 0xED, 0xF4,
                                          0xFF, 0x0B, 0x0F, 0x12, 0x1A, 0x08, 0x3F};
    unsigned counts[3] = {0, 0, 0};
    for (int iter = 0; iter < 30000; iter++) {
        const body_t *src = &c[rnd() % CORPUS];
        uint8_t b[600];
        size_t n = src->len;
        memcpy(b, src->bytes, n);
        for (unsigned m = 1 + rnd() % 3; m > 0 && n > 0; m--) {
            size_t at = rnd() % n;
            switch (rnd() % 4) {
            case 0:
                b[at] = (uint8_t)rnd();
                break;
            case 1:
                b[at] = interesting[rnd() % ARRAY_LEN(interesting)];
                break;
            case 2: /* delete */
                memmove(b + at, b + at + 1, n - at - 1);
                n--;
                break;
            default: /* insert */
                memmove(b + at + 1, b + at, n - at);
                b[at] = interesting[rnd() % ARRAY_LEN(interesting)];
                n++;
                break;
            }
        }
        int rc = wc(src->d, b, n);
        if (rc != 0 && rc != GS_EBADMSG && rc != GS_EBADTEXT)
            fail_msg("iteration %d: %d", iter, rc);
        counts[rc == 0 ? 0 : rc == GS_EBADMSG ? 1 : 2]++;
        if (rc == 0) {
            /* What the pre-pass lets through, protobuf-c decodes, and its text is clean. */
            ProtobufCMessage *msg = protobuf_c_message_unpack(src->d, NULL, n, b);
            if (!msg)
                fail_msg("iteration %d: accepted, but protobuf-c refuses it", iter);
            assert_true(tp_strings_ok(msg, gs_utf8_valid));
            protobuf_c_message_free_unpacked(msg, NULL);
        }
    }
    /* The mutations reach every outcome. */
    assert_true(counts[0] > 100 && counts[1] > 100 && counts[2] > 100);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_chat_bodies),
        cmocka_unit_test(test_empty_bodies),
        cmocka_unit_test(test_bad_utf8_in_nested_room_name),
        cmocka_unit_test(test_nul_in_text),
        cmocka_unit_test(test_repeated_strings),
        cmocka_unit_test(test_a11_wrong_wire_type),
        cmocka_unit_test(test_a10_truncated_varint_and_tag),
        cmocka_unit_test(test_length_past_end),
        cmocka_unit_test(test_group_and_reserved_wire_types),
        cmocka_unit_test(test_unknown_fields_skipped),
        cmocka_unit_test(test_badmsg_wins_over_badtext),
        cmocka_unit_test(test_descriptor_sanity),
        cmocka_unit_test(test_packed_repeated),
        cmocka_unit_test(test_map_entries),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_random_mutations),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

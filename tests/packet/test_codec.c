/* SPDX-License-Identifier: MIT */
/* The codec against the chat protocol: round trips of every message type through pooled packets,
 * message ids and registry refusals, and hostile bodies through gs_msg_decode (docs/testing.md A08
 * unknown ids, A09 garbage, A10 truncation, A11 wrong wire types, A12 allocation bound, A14/A15
 * bad text), plus the arena's steady state and encode errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_test.h"

#include "chat_proto.h"
#include "gs/packet.h"
#include "pb_walk.h"
#include "wire_check.h"
#include "packet_codec_test_proto.h"

#define HDR      GS_FRAME_HEADER_SIZE
#define MAX_BODY GS_FRAME_MAX_DEFAULT

/* Strings with multi-byte UTF-8 and a TAB: the wire check must take them as they are. */
#define NICK "Zo\xc3\xab_42"
#define ROOM "salle-caf\xc3\xa9"
#define TEXT "h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x98\x80\ttab"

/* ---------------------------------------------------------------------------------------------
 * Helpers: a fixture, a body writer, an independent FNV-1a and UTF-8 check, a PRNG.
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    gs_msg_registry_t *reg; /* chat, max_body 64 KiB */
    gs_pool_t *pool;
    gs_arena_t *arena;
} fx_t;

static int setup(void **state) {
    fx_t *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    f->reg = gs_msg_registry_create(0);
    f->pool = gs_pool_create(NULL);
    f->arena = gs_arena_create(0);
    if (!f->reg || !f->pool || !f->arena || chat_proto_register(f->reg) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx_t *f = *state;
    int rc = 0;
    gs_pool_stats_t ps;
    gs_pool_stats(f->pool, &ps);
    if (ps.in_use != 0) {
        fprintf(stderr, "test_codec: %llu packets not released\n", (unsigned long long)ps.in_use);
        rc = -1;
    }
    gs_arena_destroy(f->arena);
    gs_pool_destroy(f->pool);
    gs_msg_registry_destroy(f->reg);
    free(f);
    return rc;
}

typedef struct {
    uint8_t *b;
    size_t n, cap;
} wbuf_t;

static void wb_init(wbuf_t *w, size_t cap) {
    w->b = malloc(cap);
    assert_non_null(w->b);
    w->n = 0;
    w->cap = cap;
}
static void wb_byte(wbuf_t *w, uint8_t x) {
    assert_true(w->n < w->cap);
    w->b[w->n++] = x;
}
static void wb_raw(wbuf_t *w, const void *p, size_t n) {
    assert_true(n <= w->cap - w->n);
    if (n)
        memcpy(w->b + w->n, p, n);
    w->n += n;
}
static void wb_varint(wbuf_t *w, uint64_t v) {
    while (v >= 0x80) {
        wb_byte(w, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    wb_byte(w, (uint8_t)v);
}
static void wb_tag(wbuf_t *w, uint32_t field, unsigned wire_type) {
    wb_varint(w, (uint64_t)field << 3 | wire_type);
}
static void wb_uint(wbuf_t *w, uint32_t field, uint64_t v) {
    wb_tag(w, field, 0);
    wb_varint(w, v);
}
static void wb_bytes(wbuf_t *w, uint32_t field, const void *p, size_t n) {
    wb_tag(w, field, 2);
    wb_varint(w, n);
    wb_raw(w, p, n);
}
static void wb_str(wbuf_t *w, uint32_t field, const char *s) { wb_bytes(w, field, s, strlen(s)); }

static uint32_t rd32le(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* FNV-1a 32, written again here so that the test does not trust the code under test. */
static uint32_t fnv1a_ref(const char *s) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; s[i]; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static uint32_t id_of(const gs_msg_registry_t *r, const ProtobufCMessageDescriptor *d) {
    uint32_t id = gs_msg_registry_id(r, d);
    assert_int_not_equal(id, 0);
    return id;
}

/* gs_msg_decode plus the checks every call must pass: *out is NULL exactly on error, a decoded
 * message has the registered type, and the arena never holds more than the bound allows. */
static int decode_into(const gs_msg_registry_t *r, gs_arena_t *a, uint32_t id, const uint8_t *body,
                       size_t len, ProtobufCMessage **out) {
    ProtobufCMessage poison;
    ProtobufCMessage *m = &poison;
    gs_arena_stats_t before, after;
    gs_arena_stats(a, &before);
    int rc = gs_msg_decode(r, a, id, body, (uint32_t)len, &m);
    gs_arena_stats(a, &after);
    if (rc == 0) {
        assert_non_null(m);
        assert_ptr_not_equal(m, &poison);
        assert_ptr_equal(m->descriptor, gs_msg_registry_find(r, id));
    } else {
        assert_null(m);
    }
    assert_true(after.bytes - before.bytes <=
                (uint64_t)GS_DECODE_ALLOC_FACTOR * len + GS_DECODE_ALLOC_BASE);
    if (out)
        *out = m;
    return rc;
}

/* Decode as type d in the fixture's registry and arena (reset first). */
static int decode_as(fx_t *f, const ProtobufCMessageDescriptor *d, const uint8_t *body, size_t len,
                     ProtobufCMessage **out) {
    gs_arena_reset(f->arena);
    return decode_into(f->reg, f->arena, id_of(f->reg, d), body, len, out);
}

/* ---------------------------------------------------------------------------------------------
 * Round trips of every chat message type.
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    const ProtobufCMessageDescriptor *seen[64];
    size_t n;
} covered_t;

/* Encode m into a pooled packet, check the frame, decode the body into the arena (reset first)
 * and return the decoded message. The packet's body is scribbled over and released before
 * returning, so the decoded message must not borrow from it. */
static ProtobufCMessage *round_trip(fx_t *f, const ProtobufCMessage *m, const char *full_name,
                                    covered_t *cov) {
    size_t size = protobuf_c_message_get_packed_size(m);
    assert_true(size > 0); /* every field set to a non-default value */
    uint32_t id = gs_msg_id_of_name(full_name);
    assert_int_equal(id, fnv1a_ref(full_name));

    gs_packet_t *p = NULL;
    assert_int_equal(gs_msg_encode(f->reg, f->pool, m, &p), 0);
    assert_non_null(p);
    assert_ptr_equal(p->buf.data, p->frame);
    assert_int_equal(p->buf.len, HDR + size);
    assert_true(p->cap >= size);
    assert_int_equal(p->msg_id, id);
    /* Header: u32 LE body length, u32 LE id, byte by byte. */
    assert_int_equal(rd32le(p->frame), size);
    assert_int_equal(rd32le(p->frame + 4), id);
    assert_int_equal(p->frame[0], size & 0xFF);
    assert_int_equal(p->frame[4], id & 0xFF);
    assert_int_equal(p->frame[7], id >> 24);
    /* The body is exactly what protobuf-c packs. */
    uint8_t *ref = malloc(size);
    assert_non_null(ref);
    assert_int_equal(protobuf_c_message_pack(m, ref), size);
    assert_memory_equal(gs_packet_body(p), ref, size);
    free(ref);

    gs_arena_reset(f->arena);
    ProtobufCMessage *out = NULL;
    assert_int_equal(decode_into(f->reg, f->arena, id, gs_packet_body(p), size, &out), 0);
    assert_ptr_equal(out->descriptor, m->descriptor);
    assert_int_equal(out->n_unknown_fields, 0);
    assert_int_equal(protobuf_c_message_get_packed_size(out), size);
    memset(gs_packet_body(p), 0xA5, size);
    gs_packet_unref(p);

    assert_true(cov->n < 64);
    cov->seen[cov->n++] = m->descriptor;
    return out;
}

static void test_round_trip_every_type(void **state) {
    fx_t *f = *state;
    covered_t cov = {.n = 0};

    Chat__Error er = CHAT__ERROR__INIT;
    er.request_id = 0xDEADBEEFu;
    er.code = CHAT__ERROR_CODE__ERROR_INTERNAL;
    er.request_msg_id = 0xE82BB073u;
    er.detail = "d\xc3\xa9tail: " TEXT;
    Chat__Error *er2 = (Chat__Error *)round_trip(f, &er.base, "chat.Error", &cov);
    assert_int_equal(er2->request_id, er.request_id);
    assert_int_equal(er2->code, er.code);
    assert_int_equal(er2->request_msg_id, er.request_msg_id);
    assert_string_equal(er2->detail, er.detail);

    Chat__LoginRequest lq = CHAT__LOGIN_REQUEST__INIT;
    lq.request_id = 1;
    lq.nickname = NICK;
    Chat__LoginRequest *lq2 =
        (Chat__LoginRequest *)round_trip(f, &lq.base, "chat.LoginRequest", &cov);
    assert_int_equal(lq2->request_id, 1);
    assert_string_equal(lq2->nickname, NICK);

    Chat__LoginReply lr = CHAT__LOGIN_REPLY__INIT;
    lr.request_id = 0xFFFFFFFFu;
    lr.nickname = NICK;
    lr.server_time_us = 0x0123456789ABCDEFull;
    lr.heartbeat_ms = 15000;
    lr.max_text_bytes = 1024;
    lr.max_rooms_per_user = 16;
    lr.max_members_per_room = 500;
    Chat__LoginReply *lr2 = (Chat__LoginReply *)round_trip(f, &lr.base, "chat.LoginReply", &cov);
    assert_int_equal(lr2->request_id, lr.request_id);
    assert_string_equal(lr2->nickname, NICK);
    assert_int_equal(lr2->server_time_us, lr.server_time_us);
    assert_int_equal(lr2->heartbeat_ms, lr.heartbeat_ms);
    assert_int_equal(lr2->max_text_bytes, lr.max_text_bytes);
    assert_int_equal(lr2->max_rooms_per_user, lr.max_rooms_per_user);
    assert_int_equal(lr2->max_members_per_room, lr.max_members_per_room);

    Chat__Ping pi = CHAT__PING__INIT;
    pi.request_id = 77;
    pi.client_time_us = UINT64_MAX;
    Chat__Ping *pi2 = (Chat__Ping *)round_trip(f, &pi.base, "chat.Ping", &cov);
    assert_int_equal(pi2->request_id, 77);
    assert_int_equal(pi2->client_time_us, UINT64_MAX);

    Chat__Pong po = CHAT__PONG__INIT;
    po.request_id = 78;
    po.client_time_us = 1;
    po.server_time_us = 0x8000000000000000ull;
    Chat__Pong *po2 = (Chat__Pong *)round_trip(f, &po.base, "chat.Pong", &cov);
    assert_int_equal(po2->request_id, 78);
    assert_int_equal(po2->client_time_us, 1);
    assert_int_equal(po2->server_time_us, po.server_time_us);

    Chat__RoomListRequest rq = CHAT__ROOM_LIST_REQUEST__INIT;
    rq.request_id = 300;
    Chat__RoomListRequest *rq2 =
        (Chat__RoomListRequest *)round_trip(f, &rq.base, "chat.RoomListRequest", &cov);
    assert_int_equal(rq2->request_id, 300);

    Chat__RoomInfo ri = CHAT__ROOM_INFO__INIT;
    ri.name = ROOM;
    ri.members = 42;
    Chat__RoomInfo *ri2 = (Chat__RoomInfo *)round_trip(f, &ri.base, "chat.RoomInfo", &cov);
    assert_string_equal(ri2->name, ROOM);
    assert_int_equal(ri2->members, 42);

    Chat__RoomInfo rooms[3] = {CHAT__ROOM_INFO__INIT, CHAT__ROOM_INFO__INIT, CHAT__ROOM_INFO__INIT};
    const char *room_names[3] = {"lobby", ROOM, "\xe6\x97\xa5\xe6\x9c\xac"};
    Chat__RoomInfo *room_ptrs[3];
    for (int i = 0; i < 3; i++) {
        rooms[i].name = (char *)room_names[i];
        rooms[i].members = (uint32_t)(i + 1) * 1000u;
        room_ptrs[i] = &rooms[i];
    }
    Chat__RoomList rl = CHAT__ROOM_LIST__INIT;
    rl.request_id = 301;
    rl.n_rooms = 3;
    rl.rooms = room_ptrs;
    Chat__RoomList *rl2 = (Chat__RoomList *)round_trip(f, &rl.base, "chat.RoomList", &cov);
    assert_int_equal(rl2->request_id, 301);
    assert_int_equal(rl2->n_rooms, 3);
    for (int i = 0; i < 3; i++) {
        assert_ptr_equal(rl2->rooms[i]->base.descriptor, &chat__room_info__descriptor);
        assert_string_equal(rl2->rooms[i]->name, room_names[i]);
        assert_int_equal(rl2->rooms[i]->members, (uint32_t)(i + 1) * 1000u);
    }

    Chat__JoinRequest jq = CHAT__JOIN_REQUEST__INIT;
    jq.request_id = 302;
    jq.room = ROOM;
    Chat__JoinRequest *jq2 = (Chat__JoinRequest *)round_trip(f, &jq.base, "chat.JoinRequest", &cov);
    assert_int_equal(jq2->request_id, 302);
    assert_string_equal(jq2->room, ROOM);

    char *members[4] = {"alice", NICK, "b", "\xf0\x9f\x98\x80\xf0\x9f\x98\x80"};
    Chat__JoinReply jr = CHAT__JOIN_REPLY__INIT;
    jr.request_id = 303;
    jr.room = ROOM;
    jr.n_members = 4;
    jr.members = members;
    Chat__JoinReply *jr2 = (Chat__JoinReply *)round_trip(f, &jr.base, "chat.JoinReply", &cov);
    assert_int_equal(jr2->request_id, 303);
    assert_string_equal(jr2->room, ROOM);
    assert_int_equal(jr2->n_members, 4);
    for (int i = 0; i < 4; i++)
        assert_string_equal(jr2->members[i], members[i]);

    Chat__LeaveRequest vq = CHAT__LEAVE_REQUEST__INIT;
    vq.request_id = 304;
    vq.room = "lobby";
    Chat__LeaveRequest *vq2 =
        (Chat__LeaveRequest *)round_trip(f, &vq.base, "chat.LeaveRequest", &cov);
    assert_int_equal(vq2->request_id, 304);
    assert_string_equal(vq2->room, "lobby");

    Chat__LeaveReply vr = CHAT__LEAVE_REPLY__INIT;
    vr.request_id = 305;
    vr.room = ROOM;
    Chat__LeaveReply *vr2 = (Chat__LeaveReply *)round_trip(f, &vr.base, "chat.LeaveReply", &cov);
    assert_int_equal(vr2->request_id, 305);
    assert_string_equal(vr2->room, ROOM);

    Chat__RoomEvent ev = CHAT__ROOM_EVENT__INIT;
    ev.room = ROOM;
    ev.nickname = NICK;
    ev.kind = CHAT__ROOM_EVENT__KIND__KIND_LEFT;
    Chat__RoomEvent *ev2 = (Chat__RoomEvent *)round_trip(f, &ev.base, "chat.RoomEvent", &cov);
    assert_string_equal(ev2->room, ROOM);
    assert_string_equal(ev2->nickname, NICK);
    assert_int_equal(ev2->kind, CHAT__ROOM_EVENT__KIND__KIND_LEFT);

    Chat__ChatSend cs = CHAT__CHAT_SEND__INIT;
    cs.request_id = 306;
    cs.room = ROOM;
    cs.text = TEXT;
    cs.seq = 0xFFFFFFFFFFull;
    cs.sent_at_us = 1700000000000000ull;
    Chat__ChatSend *cs2 = (Chat__ChatSend *)round_trip(f, &cs.base, "chat.ChatSend", &cov);
    assert_int_equal(cs2->request_id, 306);
    assert_string_equal(cs2->room, ROOM);
    assert_string_equal(cs2->text, TEXT);
    assert_int_equal(cs2->seq, cs.seq);
    assert_int_equal(cs2->sent_at_us, cs.sent_at_us);

    Chat__ChatDelivery cd = CHAT__CHAT_DELIVERY__INIT;
    cd.room = ROOM;
    cd.sender = NICK;
    cd.text = TEXT;
    cd.seq = 12345678901ull;
    cd.sent_at_us = 1700000000000001ull;
    cd.server_time_us = 1700000000000999ull;
    Chat__ChatDelivery *cd2 =
        (Chat__ChatDelivery *)round_trip(f, &cd.base, "chat.ChatDelivery", &cov);
    assert_string_equal(cd2->room, ROOM);
    assert_string_equal(cd2->sender, NICK);
    assert_string_equal(cd2->text, TEXT);
    assert_int_equal(cd2->seq, cd.seq);
    assert_int_equal(cd2->sent_at_us, cd.sent_at_us);
    assert_int_equal(cd2->server_time_us, cd.server_time_us);

    Chat__WhisperSend ws = CHAT__WHISPER_SEND__INIT;
    ws.request_id = 307;
    ws.to = NICK;
    ws.text = TEXT;
    ws.seq = 2;
    ws.sent_at_us = 3;
    Chat__WhisperSend *ws2 = (Chat__WhisperSend *)round_trip(f, &ws.base, "chat.WhisperSend", &cov);
    assert_int_equal(ws2->request_id, 307);
    assert_string_equal(ws2->to, NICK);
    assert_string_equal(ws2->text, TEXT);
    assert_int_equal(ws2->seq, 2);
    assert_int_equal(ws2->sent_at_us, 3);

    Chat__WhisperDelivery wd = CHAT__WHISPER_DELIVERY__INIT;
    wd.sender = "alice";
    wd.text = TEXT;
    wd.seq = 4;
    wd.sent_at_us = 5;
    wd.server_time_us = 6;
    Chat__WhisperDelivery *wd2 =
        (Chat__WhisperDelivery *)round_trip(f, &wd.base, "chat.WhisperDelivery", &cov);
    assert_string_equal(wd2->sender, "alice");
    assert_string_equal(wd2->text, TEXT);
    assert_int_equal(wd2->seq, 4);
    assert_int_equal(wd2->sent_at_us, 5);
    assert_int_equal(wd2->server_time_us, 6);

    Chat__WhisperReply wr = CHAT__WHISPER_REPLY__INIT;
    wr.request_id = 308;
    wr.to = NICK;
    Chat__WhisperReply *wr2 =
        (Chat__WhisperReply *)round_trip(f, &wr.base, "chat.WhisperReply", &cov);
    assert_int_equal(wr2->request_id, 308);
    assert_string_equal(wr2->to, NICK);

    /* Every type of chat.proto went through: a new message there fails this test until it is
     * added above. */
    assert_int_equal(chat_proto_messages_count, cov.n);
    for (size_t i = 0; i < chat_proto_messages_count; i++) {
        int found = 0;
        for (size_t k = 0; k < cov.n; k++)
            found |= cov.seen[k] == chat_proto_messages[i];
        if (!found)
            fail_msg("%s has no round trip", chat_proto_messages[i]->name);
    }
}

/* All-default messages encode to an empty body, which decodes (body NULL or not). */
static void test_round_trip_empty_bodies(void **state) {
    fx_t *f = *state;
    for (size_t i = 0; i < chat_proto_messages_count; i++) {
        const ProtobufCMessageDescriptor *d = chat_proto_messages[i];
        _Alignas(16) uint8_t storage[256];
        assert_true(d->sizeof_message <= sizeof(storage));
        ProtobufCMessage *m = (ProtobufCMessage *)storage;
        protobuf_c_message_init(d, m);
        gs_packet_t *p = NULL;
        assert_int_equal(gs_msg_encode(f->reg, f->pool, m, &p), 0);
        assert_int_equal(p->buf.len, HDR);
        assert_int_equal(rd32le(p->frame), 0);
        assert_int_equal(rd32le(p->frame + 4), gs_msg_id_of_name(d->name));
        ProtobufCMessage *out;
        assert_int_equal(decode_as(f, d, gs_packet_body(p), 0, &out), 0);
        assert_int_equal(decode_as(f, d, NULL, 0, &out), 0);
        assert_int_equal(protobuf_c_message_get_packed_size(out), 0);
        gs_packet_unref(p);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Message ids and the registry.
 * ------------------------------------------------------------------------------------------- */
/* FNV-1a 32 of each name, computed outside this code base (Python) and checked here against the
 * code under test and against fnv1a_ref. */
static const struct {
    const char *name;
    uint32_t id;
} fnv_table[] = {
    {"", 0x811c9dc5u},
    {"a", 0xe40c292cu},
    {"foobar", 0xbf9cf968u},
    {"\xc3\xa9", 0x1e9de8c1u}, /* bytes >= 0x80 are taken unsigned */
    {"game.\xc3\xa9t\xc3\xa9", 0x9613d7f1u},
    {"chat.Error", 0x2c79f5efu},
    {"chat.LoginRequest", 0x7f819f6du},
    {"chat.LoginReply", 0xeaf37ef0u},
    {"chat.Ping", 0x883dacc3u},
    {"chat.Pong", 0x9cb2abfdu},
    {"chat.RoomListRequest", 0x055b72a1u},
    {"chat.RoomInfo", 0xc0305e64u},
    {"chat.RoomList", 0x7da81480u},
    {"chat.JoinRequest", 0xbd97c280u},
    {"chat.JoinReply", 0x91b20ed9u},
    {"chat.LeaveRequest", 0x2a628c67u},
    {"chat.LeaveReply", 0xbebcde36u},
    {"chat.RoomEvent", 0x142fae00u},
    {"chat.ChatSend", 0xe82bb073u},
    {"chat.ChatDelivery", 0x01679b89u},
    {"chat.WhisperSend", 0x1207f4e9u},
    {"chat.WhisperDelivery", 0x5e3ea1cfu},
    {"chat.WhisperReply", 0xaa927ac9u},
};
#define UNREGISTERED_NAME "chat.NoSuchMessage"
#define UNREGISTERED_ID   0x21288d6au

static void test_ids_fnv1a_reference(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(fnv_table) / sizeof(fnv_table[0]); i++) {
        assert_int_equal(fnv1a_ref(fnv_table[i].name), fnv_table[i].id);
        assert_int_equal(gs_msg_id_of_name(fnv_table[i].name), fnv_table[i].id);
    }
    assert_int_equal(gs_msg_id_of_name(UNREGISTERED_NAME), UNREGISTERED_ID);
    /* The descriptors carry the full names the table lists. */
    for (size_t i = 0; i < chat_proto_messages_count; i++) {
        const char *name = chat_proto_messages[i]->name;
        int found = 0;
        for (size_t k = 0; k < sizeof(fnv_table) / sizeof(fnv_table[0]); k++)
            if (strcmp(fnv_table[k].name, name) == 0) {
                assert_int_equal(gs_msg_id_of_name(name), fnv_table[k].id);
                found = 1;
            }
        if (!found)
            fail_msg("%s is not in the reference table", name);
    }
}

static void test_ids_distinct_and_lookups(void **state) {
    fx_t *f = *state;
    assert_int_equal(gs_msg_registry_count(f->reg), chat_proto_messages_count);
    assert_int_equal(gs_msg_registry_max_body(f->reg), MAX_BODY);
    for (size_t i = 0; i < chat_proto_messages_count; i++) {
        const ProtobufCMessageDescriptor *d = chat_proto_messages[i];
        uint32_t id = gs_msg_id_of_name(d->name);
        assert_int_not_equal(id, 0);
        assert_int_equal(gs_msg_registry_id(f->reg, d), id);
        assert_ptr_equal(gs_msg_registry_find(f->reg, id), d);
        for (size_t k = 0; k < i; k++)
            assert_int_not_equal(gs_msg_id_of_name(chat_proto_messages[k]->name), id);
    }
    assert_null(gs_msg_registry_find(f->reg, 0));
    assert_null(gs_msg_registry_find(f->reg, UNREGISTERED_ID));
    assert_int_equal(gs_msg_registry_id(f->reg, &gstest__leaf__descriptor), 0);
}

typedef struct {
    int calls;
    char last[512];
} log_capture_t;

static void capture_log(gs_log_level_t level, const char *component, const char *message,
                        void *user) {
    (void)level;
    (void)component;
    log_capture_t *c = user;
    c->calls++;
    snprintf(c->last, sizeof(c->last), "%s", message);
}

static void test_registry_collisions(void **state) {
    (void)state;
    log_capture_t logs = {0};
    gs_log_set_hook(capture_log, &logs);
    gs_msg_registry_t *r = gs_msg_registry_create(0);
    assert_non_null(r);
    uint32_t send_id = gs_msg_id_of_name("chat.ChatSend");
    assert_int_equal(gs_msg_registry_add(r, &chat__chat_send__descriptor), 0);
    assert_int_equal(gs_msg_registry_count(r), 1);

    /* The same descriptor again: a no-op. */
    assert_int_equal(gs_msg_registry_add(r, &chat__chat_send__descriptor), 0);
    assert_int_equal(gs_msg_registry_add_as(r, &chat__chat_send__descriptor, send_id), 0);
    assert_int_equal(gs_msg_registry_count(r), 1);

    /* Another type under a taken id: a collision, logged with both names. */
    logs.calls = 0;
    assert_int_equal(gs_msg_registry_add_as(r, &chat__ping__descriptor, send_id), GS_EEXIST);
    assert_int_equal(gs_msg_registry_count(r), 1);
    assert_ptr_equal(gs_msg_registry_find(r, send_id), &chat__chat_send__descriptor);
    assert_int_equal(gs_msg_registry_id(r, &chat__ping__descriptor), 0);
    assert_true(logs.calls >= 1);
    assert_non_null(strstr(logs.last, "chat.Ping"));
    assert_non_null(strstr(logs.last, "chat.ChatSend"));

    /* A second copy of the descriptor (two copies of one generated file): same full name,
     * refused under its own id and under any other. */
    ProtobufCMessageDescriptor copy = chat__chat_send__descriptor;
    logs.calls = 0;
    assert_int_equal(gs_msg_registry_add(r, &copy), GS_EEXIST);
    assert_int_equal(gs_msg_registry_add_as(r, &copy, 0x12345678u), GS_EEXIST);
    assert_true(logs.calls >= 2);
    assert_non_null(strstr(logs.last, "chat.ChatSend"));
    assert_int_equal(gs_msg_registry_count(r), 1);
    assert_int_equal(gs_msg_registry_id(r, &copy), 0);
    assert_null(gs_msg_registry_find(r, 0x12345678u));

    /* Not a message descriptor, NULL, id 0. */
    assert_int_equal(
        gs_msg_registry_add(r, (const ProtobufCMessageDescriptor *)&chat__error_code__descriptor),
        GS_EINVAL);
    assert_int_equal(gs_msg_registry_add(r, NULL), GS_EINVAL);
    assert_int_equal(gs_msg_registry_add_as(r, &chat__ping__descriptor, 0), GS_EINVAL);
    assert_int_equal(gs_msg_registry_count(r), 1);

    /* An explicit small id works both ways. */
    assert_int_equal(gs_msg_registry_add_as(r, &chat__ping__descriptor, 7), 0);
    assert_ptr_equal(gs_msg_registry_find(r, 7), &chat__ping__descriptor);
    assert_int_equal(gs_msg_registry_id(r, &chat__ping__descriptor), 7);
    assert_int_equal(gs_msg_registry_count(r), 2);

    /* Many types (copies renamed), so that the tables grow: every lookup still answers. */
    enum { COPIES = 200 };
    ProtobufCMessageDescriptor *copies = calloc(COPIES, sizeof(*copies));
    char(*names)[32] = calloc(COPIES, sizeof(*names));
    assert_non_null(copies);
    assert_non_null(names);
    for (int i = 0; i < COPIES; i++) {
        copies[i] = chat__room_info__descriptor;
        snprintf(names[i], sizeof(names[i]), "gstest.Copy%d", i);
        copies[i].name = names[i];
        assert_int_equal(gs_msg_registry_add_as(r, &copies[i], 1000u + (uint32_t)i), 0);
    }
    assert_int_equal(gs_msg_registry_count(r), 2 + COPIES);
    for (int i = 0; i < COPIES; i++) {
        assert_ptr_equal(gs_msg_registry_find(r, 1000u + (uint32_t)i), &copies[i]);
        assert_int_equal(gs_msg_registry_id(r, &copies[i]), 1000u + (uint32_t)i);
    }
    assert_ptr_equal(gs_msg_registry_find(r, send_id), &chat__chat_send__descriptor);
    assert_ptr_equal(gs_msg_registry_find(r, 7), &chat__ping__descriptor);
    gs_msg_registry_destroy(r);
    free(copies);
    free(names);
    gs_log_set_hook(NULL, NULL);
}

static void test_registry_refuses_recursive_types(void **state) {
    (void)state;
    log_capture_t logs = {0};
    gs_log_set_hook(capture_log, &logs);
    gs_msg_registry_t *r = gs_msg_registry_create(0);
    assert_non_null(r);
    assert_int_equal(gs_msg_registry_add(r, &gstest__node__descriptor), GS_EINVAL);
    assert_non_null(strstr(logs.last, "gstest.Node"));
    assert_int_equal(gs_msg_registry_add(r, &gstest__a__descriptor), GS_EINVAL);
    assert_int_equal(gs_msg_registry_add(r, &gstest__b__descriptor), GS_EINVAL);
    assert_int_equal(gs_msg_registry_add_as(r, &gstest__b__descriptor, 99), GS_EINVAL);
    assert_int_equal(gs_msg_registry_count(r), 0);
    assert_null(gs_msg_registry_find(r, gs_msg_id_of_name("gstest.Node")));
    /* A shared sub-type is not recursion; nor is anything in chat.proto. */
    assert_int_equal(gs_msg_registry_add(r, &gstest__diamond__descriptor), 0);
    assert_int_equal(gs_msg_registry_add(r, &gstest__leaf__descriptor), 0);
    assert_int_equal(gs_msg_registry_add(r, &gstest__fat__descriptor), 0);
    assert_int_equal(chat_proto_register(r), 0);
    assert_int_equal(gs_msg_registry_count(r), 3 + chat_proto_messages_count);
    /* add_all stops at the first error and returns it. */
    const ProtobufCMessageDescriptor *list[] = {
        &gstest__wide__descriptor, &gstest__node__descriptor, &gstest__outer__descriptor};
    assert_int_equal(gs_msg_registry_add_all(r, list, 3), GS_EINVAL);
    assert_int_equal(gs_msg_registry_id(r, &gstest__wide__descriptor),
                     gs_msg_id_of_name("gstest.Wide"));
    assert_int_equal(gs_msg_registry_id(r, &gstest__outer__descriptor), 0);
    /* Outer cannot contain itself but reaches A, which can: a body could nest through it just
     * as deep, so it is refused too, naming the cycle. */
    assert_int_equal(gs_msg_registry_add(r, &gstest__outer__descriptor), GS_EINVAL);
    assert_non_null(strstr(logs.last, "gstest.Outer"));
    assert_non_null(strstr(logs.last, "gstest.A"));
    gs_msg_registry_destroy(r);
    gs_log_set_hook(NULL, NULL);
}

/* The registry refuses Outer (it reaches the cycle A -> B -> A), so no registered type nests
 * without bound; the wire check's depth limit is a second guard, checked here directly on
 * Outer's descriptor: deep nesting is malformed, never a stack overflow. */
static void test_wire_check_deep_nesting_bounded(void **state) {
    (void)state;
    static const size_t depths[] = {1, 3, 15000};
    for (size_t t = 0; t < 3; t++) {
        /* From the inside out: each level is field 1, length-delimited, around the next. */
        size_t depth = depths[t], cap = 4 * depth + 16, start = cap;
        uint8_t *buf = malloc(cap);
        assert_non_null(buf);
        for (size_t lvl = 0; lvl < depth; lvl++) {
            size_t inner = cap - start;
            uint8_t pre[6];
            size_t np = 0;
            pre[np++] = 0x0A;
            for (uint64_t v = inner;; v >>= 7) {
                pre[np++] = (uint8_t)(v < 0x80 ? v : (v & 0x7F) | 0x80);
                if (v < 0x80)
                    break;
            }
            start -= np;
            memcpy(buf + start, pre, np);
        }
        int rc = gs__wire_check(&gstest__outer__descriptor, buf + start, cap - start);
        if (depth <= 3)
            assert_int_equal(rc, 0);
        else
            assert_int_equal(rc, GS_EBADMSG);
        free(buf);
    }
}

/* ---------------------------------------------------------------------------------------------
 * A08: unknown ids.
 * ------------------------------------------------------------------------------------------- */
static void test_unknown_ids(void **state) {
    fx_t *f = *state;
    wbuf_t w;
    wb_init(&w, 256);
    wb_uint(&w, 1, 9);
    wb_str(&w, 2, "lobby");
    wb_str(&w, 3, "hello");
    const uint32_t send_id = gs_msg_id_of_name("chat.ChatSend");
    const uint32_t bad[] = {0, 0xFFFFFFFFu, UNREGISTERED_ID, send_id + 1};
    for (size_t i = 0; i < 4; i++) {
        assert_null(gs_msg_registry_find(f->reg, bad[i]));
        assert_int_equal(decode_into(f->reg, f->arena, bad[i], w.b, w.n, NULL), GS_EBADID);
        assert_int_equal(decode_into(f->reg, f->arena, bad[i], NULL, 0, NULL), GS_EBADID);
    }
    /* The next valid frame on the same arena decodes, without a reset in between. */
    ProtobufCMessage *m;
    assert_int_equal(decode_into(f->reg, f->arena, send_id, w.b, w.n, &m), 0);
    const Chat__ChatSend *cs = (const Chat__ChatSend *)m;
    assert_int_equal(cs->request_id, 9);
    assert_string_equal(cs->room, "lobby");
    assert_string_equal(cs->text, "hello");
    free(w.b);
}

/* ---------------------------------------------------------------------------------------------
 * A09: garbage bodies for every message type.
 * ------------------------------------------------------------------------------------------- */
/* Random fields: mostly small field numbers (so known fields are hit), every wire type, random
 * or textual payloads, lengths that sometimes lie. Writes at most cap bytes. */
static size_t gen_fields(uint64_t *rng, uint8_t *out, size_t cap) {
    size_t n = 0;
    while (cap - n > 16 && rng_next(rng) % 10 != 0) {
        uint64_t r = rng_next(rng);
        uint32_t field = r % 5 == 0 ? (uint32_t)(r >> 8) % 40 : 1 + (uint32_t)(r >> 8) % 6;
        static const uint8_t wts[] = {0, 0, 2, 2, 2, 1, 5, 3, 4, 6, 7};
        unsigned wt = wts[(r >> 20) % sizeof(wts)];
        uint64_t tag = (uint64_t)field << 3 | wt;
        while (tag >= 0x80) {
            out[n++] = (uint8_t)(tag | 0x80);
            tag >>= 7;
        }
        out[n++] = (uint8_t)tag;
        switch (wt) {
        case 0: {
            size_t k = 1 + (size_t)(r >> 32) % 11;
            for (size_t i = 0; i + 1 < k; i++)
                out[n++] = (uint8_t)(0x80 | rng_next(rng));
            out[n++] = (uint8_t)(rng_next(rng) & 0x7F);
            break;
        }
        case 1:
        case 5: {
            size_t k = wt == 1 ? 8 : 4;
            for (size_t i = 0; i < k && n < cap; i++)
                out[n++] = (uint8_t)rng_next(rng);
            break;
        }
        case 2: {
            size_t room = cap - n - 2, len = (size_t)(r >> 32) % (room < 60 ? room : 60);
            size_t claimed = (r >> 40) % 8 == 0 ? len + 1 + (r >> 44) % 3 : len;
            out[n++] = (uint8_t)(claimed & 0x7F);
            unsigned style = (unsigned)(r >> 48) % 4;
            if (style == 3 && len > 2) {
                /* A nested run of fields, as for a sub-message. */
                size_t k = gen_fields(rng, out + n, len);
                out[n - 1] = (uint8_t)(k & 0x7F);
                n += k;
                break;
            }
            for (size_t i = 0; i < len; i++) {
                uint64_t x = rng_next(rng);
                out[n++] = style == 0   ? (uint8_t)x
                           : style == 1 ? (uint8_t)('a' + x % 26)
                                        : (uint8_t)(x % 3 == 0 ? 0xC3 + x % 2 : 0x80 + x % 64);
            }
            break;
        }
        default:
            break;
        }
    }
    return n;
}

static void test_garbage_every_type(void **state) {
    fx_t *f = *state;
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    uint8_t body[320];
    size_t counts[4] = {0}; /* ok, badmsg, badtext, toobig */
    for (size_t t = 0; t < chat_proto_messages_count; t++) {
        const ProtobufCMessageDescriptor *d = chat_proto_messages[t];
        uint32_t id = id_of(f->reg, d);
        for (int i = 0; i < 2000; i++) {
            size_t len = (size_t)(rng_next(&rng) % 301);
            if (i % 2 == 0) {
                for (size_t k = 0; k < len; k++)
                    body[k] = (uint8_t)rng_next(&rng);
            } else {
                len = gen_fields(&rng, body, len);
            }
            ProtobufCMessage *m;
            int rc = decode_into(f->reg, f->arena, id, body, len, &m);
            switch (rc) {
            case 0:
                counts[0]++;
                assert_ptr_equal(m->descriptor, d);
                assert_true(tp_strings_ok(m, tp_utf8_reference));
                /* Touch all of it: packing reads every field. */
                assert_true(protobuf_c_message_get_packed_size(m) <= 2 * len + 16);
                break;
            case GS_EBADMSG:
                counts[1]++;
                break;
            case GS_EBADTEXT:
                counts[2]++;
                break;
            case GS_ETOOBIG:
                counts[3]++;
                break;
            default:
                fail_msg("%s: body %d: unexpected result %d", d->name, i, rc);
            }
            gs_arena_reset(f->arena);
        }
    }
    printf("A09: %zu bodies: %zu decoded, %zu bad message, %zu bad text, %zu too big\n",
           chat_proto_messages_count * 2000, counts[0], counts[1], counts[2], counts[3]);
    /* The generator reaches every outcome that a body of this size can have. */
    assert_true(counts[0] > 100);
    assert_true(counts[1] > 100);
    assert_true(counts[2] > 100);
}

/* ---------------------------------------------------------------------------------------------
 * A10: truncated varints and tags; A11: wrong wire types.
 * ------------------------------------------------------------------------------------------- */
#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static void test_truncated_varints_and_tags(void **state) {
    fx_t *f = *state;
    const ProtobufCMessageDescriptor *cs = &chat__chat_send__descriptor;
    ProtobufCMessage *m;

    assert_int_equal(decode_as(f, cs, BYTES(0x80, 0x80, 0x80), NULL), GS_EBADMSG);
    assert_int_equal(decode_as(f, cs, BYTES(0x08, 0x80, 0x80, 0x80), NULL), GS_EBADMSG);
    assert_int_equal(decode_as(f, cs, BYTES(0x08), NULL), GS_EBADMSG);
    assert_int_equal(decode_as(f, cs, BYTES(0x1A), NULL), GS_EBADMSG);
    /* Field number 0. */
    assert_int_equal(decode_as(f, cs, BYTES(0x00, 0x00), NULL), GS_EBADMSG);
    /* A 10-byte varint is the longest there is (and UINT64_MAX); 11 bytes is malformed. */
    assert_int_equal(
        decode_as(f, cs, BYTES(0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01),
                  &m),
        0);
    assert_int_equal(((Chat__ChatSend *)m)->seq, UINT64_MAX);
    assert_int_equal(
        decode_as(f, cs,
                  BYTES(0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01),
                  NULL),
        GS_EBADMSG);
    assert_int_equal(
        decode_as(f, cs,
                  BYTES(0x20, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00),
                  NULL),
        GS_EBADMSG);
    /* A 5-byte tag for field 3 (not minimal, still a tag) is read as field 3 ... */
    assert_int_equal(decode_as(f, cs, BYTES(0x9A, 0x80, 0x80, 0x80, 0x00, 0x02, 'h', 'i'), &m), 0);
    assert_string_equal(((Chat__ChatSend *)m)->text, "hi");
    /* ... and its text is checked like any other. */
    assert_int_equal(decode_as(f, cs, BYTES(0x9A, 0x80, 0x80, 0x80, 0x00, 0x02, 'h', 0xFF), NULL),
                     GS_EBADTEXT);
    /* 6-byte tag; 5-byte tag past 32 bits; 5-byte tag cut short. */
    assert_int_equal(
        decode_as(f, cs, BYTES(0x9A, 0x80, 0x80, 0x80, 0x80, 0x00, 0x02, 'h', 'i'), NULL),
        GS_EBADMSG);
    assert_int_equal(decode_as(f, cs, BYTES(0xF8, 0xFF, 0xFF, 0xFF, 0x7F, 0x00), NULL), GS_EBADMSG);
    assert_int_equal(decode_as(f, cs, BYTES(0xF8, 0xFF, 0xFF, 0xFF), NULL), GS_EBADMSG);
    /* Length prefix: past the end, cut, or over 32 bits. */
    assert_int_equal(decode_as(f, cs, BYTES(0x1A, 0x05, 'a', 'b'), NULL), GS_EBADMSG);
    assert_int_equal(decode_as(f, cs, BYTES(0x1A, 0x80), NULL), GS_EBADMSG);
    assert_int_equal(decode_as(f, cs, BYTES(0x1A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 'a'), NULL),
                     GS_EBADMSG);

    /* Every cut of a valid ChatDelivery: at a field boundary it is a valid message holding the
     * fields before the cut, anywhere else it is malformed. */
    wbuf_t w;
    wb_init(&w, 256);
    size_t bounds[8], nb = 0;
    bounds[nb++] = 0;
    wb_str(&w, 1, ROOM);
    bounds[nb++] = w.n;
    wb_str(&w, 2, NICK);
    bounds[nb++] = w.n;
    wb_str(&w, 3, TEXT);
    bounds[nb++] = w.n;
    wb_uint(&w, 4, 0x0102030405ull);
    bounds[nb++] = w.n;
    wb_uint(&w, 5, UINT64_MAX);
    bounds[nb++] = w.n;
    wb_uint(&w, 6, 300);
    bounds[nb++] = w.n;
    for (size_t cut = 0; cut <= w.n; cut++) {
        size_t fields = 0;
        int boundary = 0;
        for (size_t k = 0; k < nb; k++)
            if (bounds[k] == cut)
                boundary = 1, fields = k;
        int rc = decode_as(f, &chat__chat_delivery__descriptor, w.b, cut, &m);
        if (!boundary) {
            if (rc != GS_EBADMSG)
                fail_msg("cut at %zu of %zu: %d, not GS_EBADMSG", cut, w.n, rc);
            continue;
        }
        assert_int_equal(rc, 0);
        const Chat__ChatDelivery *d = (const Chat__ChatDelivery *)m;
        assert_string_equal(d->room, fields >= 1 ? ROOM : "");
        assert_string_equal(d->sender, fields >= 2 ? NICK : "");
        assert_string_equal(d->text, fields >= 3 ? TEXT : "");
        assert_int_equal(d->seq, fields >= 4 ? 0x0102030405ull : 0);
        assert_int_equal(d->sent_at_us, fields >= 5 ? UINT64_MAX : 0);
        assert_int_equal(d->server_time_us, fields >= 6 ? 300 : 0);
    }
    free(w.b);
}

static void test_wrong_wire_types(void **state) {
    fx_t *f = *state;
    const ProtobufCMessageDescriptor *cs = &chat__chat_send__descriptor;
    /* Positive control: the same fields with their right wire types. */
    assert_int_equal(decode_as(f, cs, BYTES(0x08, 0x05, 0x1A, 0x01, 'x'), NULL), 0);
    /* string as varint, 64-bit, 32-bit */
    assert_int_equal(decode_as(f, cs, BYTES(0x18, 0x05), NULL), GS_EBADMSG);
    assert_int_equal(decode_as(f, cs, BYTES(0x19, 1, 2, 3, 4, 5, 6, 7, 8), NULL), GS_EBADMSG);
    assert_int_equal(decode_as(f, cs, BYTES(0x1D, 'a', 'b', 'c', 'd'), NULL), GS_EBADMSG);
    /* uint32 and uint64 (not repeated) as length-delimited, 64-bit, 32-bit */
    assert_int_equal(decode_as(f, cs, BYTES(0x0A, 0x01, 0x05), NULL), GS_EBADMSG);
    assert_int_equal(decode_as(f, cs, BYTES(0x22, 0x01, 0x05), NULL), GS_EBADMSG);
    assert_int_equal(decode_as(f, cs, BYTES(0x21, 1, 2, 3, 4, 5, 6, 7, 8), NULL), GS_EBADMSG);
    assert_int_equal(decode_as(f, cs, BYTES(0x0D, 1, 2, 3, 4), NULL), GS_EBADMSG);
    /* groups and the wire types that do not exist */
    assert_int_equal(decode_as(f, cs, BYTES(0x1B, 0x1C), NULL), GS_EBADMSG);
    assert_int_equal(decode_as(f, cs, BYTES(0x0E, 0x00), NULL), GS_EBADMSG);
    assert_int_equal(decode_as(f, cs, BYTES(0x0F, 0x00), NULL), GS_EBADMSG);
    /* enum as length-delimited */
    assert_int_equal(decode_as(f, &chat__room_event__descriptor, BYTES(0x1A, 0x01, 0x01), NULL),
                     GS_EBADMSG);
    /* repeated message and repeated string as varint */
    assert_int_equal(decode_as(f, &chat__room_list__descriptor, BYTES(0x10, 0x01), NULL),
                     GS_EBADMSG);
    assert_int_equal(decode_as(f, &chat__join_reply__descriptor, BYTES(0x18, 0x01), NULL),
                     GS_EBADMSG);
    /* inside a nested RoomInfo: name as varint, members as length-delimited */
    assert_int_equal(
        decode_as(f, &chat__room_list__descriptor, BYTES(0x12, 0x02, 0x08, 0x05), NULL),
        GS_EBADMSG);
    assert_int_equal(
        decode_as(f, &chat__room_list__descriptor, BYTES(0x12, 0x03, 0x12, 0x01, 0x05), NULL),
        GS_EBADMSG);
    /* a malformed sub-message (its length runs past the end of its parent's field) */
    assert_int_equal(
        decode_as(f, &chat__room_list__descriptor, BYTES(0x12, 0x02, 0x0A, 0x05), NULL),
        GS_EBADMSG);
}

/* ---------------------------------------------------------------------------------------------
 * A14/A15: bad text through the decoder.
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    const char *s;
    size_t n;
} bytes_t;
#define B(lit)                                                                                     \
    { lit, sizeof(lit) - 1 }

static const bytes_t bad_text[] = {
    B("\xC0\xAF"),     /* overlong '/' */
    B("\xED\xA0\x80"), /* surrogate U+D800 */
    B("\xFF"),         /* never valid */
    B("ab\0cd"),       /* embedded NUL */
    B("\0"),           /* only a NUL */
    B("caf\xC3"),      /* sequence cut by the end of the string */
    B("\xE2\x82"),     /* cut three-byte sequence */
    B("\x80"
      "abc"),              /* stray continuation byte */
    B("\xF4\x90\x80\x80"), /* above U+10FFFF */
    B("\xE0\x80\xAF"),     /* overlong three-byte form */
};

static const bytes_t good_text[] = {
    B("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"), /* é € 😀 */
    B("\xEF\xBF\xBF"),                         /* U+FFFF: a noncharacter, still UTF-8 */
    B("\xF4\x8F\xBF\xBF"),                     /* U+10FFFF */
    B("tab\there\r\n\x1b[0m"),                 /* controls are the text rules' business */
};

static void test_bad_text(void **state) {
    fx_t *f = *state;
    wbuf_t w;
    wb_init(&w, 512);
    ProtobufCMessage *m;
    for (size_t i = 0; i < sizeof(bad_text) / sizeof(bad_text[0]); i++) {
        const bytes_t t = bad_text[i];
        /* ChatSend.text */
        w.n = 0;
        wb_uint(&w, 1, 5);
        wb_str(&w, 2, "lobby");
        wb_bytes(&w, 3, t.s, t.n);
        wb_uint(&w, 4, 1);
        if (decode_as(f, &chat__chat_send__descriptor, w.b, w.n, NULL) != GS_EBADTEXT)
            fail_msg("bad text %zu accepted in ChatSend.text", i);
        /* ChatSend.room, first of two strings */
        w.n = 0;
        wb_bytes(&w, 2, t.s, t.n);
        wb_str(&w, 3, "hello");
        assert_int_equal(decode_as(f, &chat__chat_send__descriptor, w.b, w.n, NULL), GS_EBADTEXT);
        /* LoginRequest.nickname */
        w.n = 0;
        wb_uint(&w, 1, 1);
        wb_bytes(&w, 2, t.s, t.n);
        assert_int_equal(decode_as(f, &chat__login_request__descriptor, w.b, w.n, NULL),
                         GS_EBADTEXT);
        /* The bad value first, a good one after it (protobuf-c keeps the last): still bad. */
        w.n = 0;
        wb_bytes(&w, 3, t.s, t.n);
        wb_str(&w, 3, "fine");
        assert_int_equal(decode_as(f, &chat__chat_send__descriptor, w.b, w.n, NULL), GS_EBADTEXT);
        /* RoomList.rooms[1].name, nested */
        w.n = 0;
        wb_uint(&w, 1, 2);
        uint8_t sub[64];
        wbuf_t s = {sub, 0, sizeof(sub)};
        wb_str(&s, 1, "ok");
        wb_uint(&s, 2, 3);
        wb_bytes(&w, 2, s.b, s.n);
        s.n = 0;
        wb_bytes(&s, 1, t.s, t.n);
        wb_uint(&s, 2, 4);
        wb_bytes(&w, 2, s.b, s.n);
        if (decode_as(f, &chat__room_list__descriptor, w.b, w.n, NULL) != GS_EBADTEXT)
            fail_msg("bad text %zu accepted in RoomList.rooms[1].name", i);
        /* RoomInfo.name at the top level */
        assert_int_equal(decode_as(f, &chat__room_info__descriptor, s.b, s.n, NULL), GS_EBADTEXT);
        /* JoinReply.members[2], repeated */
        w.n = 0;
        wb_str(&w, 2, "lobby");
        wb_str(&w, 3, "alice");
        wb_str(&w, 3, "bob");
        wb_bytes(&w, 3, t.s, t.n);
        assert_int_equal(decode_as(f, &chat__join_reply__descriptor, w.b, w.n, NULL), GS_EBADTEXT);
        /* The same bytes in an unknown field are not text: skipped, not checked. */
        w.n = 0;
        wb_str(&w, 3, "hello");
        wb_bytes(&w, 9, t.s, t.n);
        assert_int_equal(decode_as(f, &chat__chat_send__descriptor, w.b, w.n, &m), 0);
        assert_string_equal(((Chat__ChatSend *)m)->text, "hello");
        assert_int_equal(m->n_unknown_fields, 0); /* the decoder does not keep unknown fields */
    }
    /* A non-minimal length prefix does not hide the text from the check. */
    assert_int_equal(decode_as(f, &chat__chat_send__descriptor,
                               BYTES(0x1A, 0x85, 0x00, 'a', 'b', 0x00, 'c', 'd'), NULL),
                     GS_EBADTEXT);
    for (size_t i = 0; i < sizeof(good_text) / sizeof(good_text[0]); i++) {
        const bytes_t t = good_text[i];
        w.n = 0;
        wb_bytes(&w, 3, t.s, t.n);
        assert_int_equal(decode_as(f, &chat__chat_send__descriptor, w.b, w.n, &m), 0);
        assert_int_equal(strlen(((Chat__ChatSend *)m)->text), t.n);
        assert_memory_equal(((Chat__ChatSend *)m)->text, t.s, t.n);
        w.n = 0;
        uint8_t sub[64];
        wbuf_t s = {sub, 0, sizeof(sub)};
        wb_bytes(&s, 1, t.s, t.n);
        wb_bytes(&w, 2, s.b, s.n);
        assert_int_equal(decode_as(f, &chat__room_list__descriptor, w.b, w.n, &m), 0);
        assert_memory_equal(((Chat__RoomList *)m)->rooms[0]->name, t.s, t.n + 1);
    }
    free(w.b);
}

/* ---------------------------------------------------------------------------------------------
 * A12: the allocation bound.
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    const char *name;
    const ProtobufCMessageDescriptor *d;
    const uint8_t *unit; /* repeated to fill the body */
    size_t unit_len;
    const uint8_t *prefix; /* once, before the units (may be NULL) */
    size_t prefix_len;
} shape_t;

static const uint8_t U_EMPTY_ROOM[] = {0x12, 0x00};               /* RoomList.rooms {} */
static const uint8_t U_ROOM_UNKNOWN[] = {0x12, 0x02, 0x78, 0x00}; /* {unknown 15: 0} */
static const uint8_t U_EMPTY_MEMBER[] = {0x1A, 0x00};             /* JoinReply.members "" */
static const uint8_t U_SHORT_MEMBER[] = {0x1A, 0x01, 'a'};        /* JoinReply.members "a" */
static const uint8_t U_UNKNOWN_VARINT[] = {0x78, 0x00};           /* field 15 varint 0 */
static const uint8_t U_UNKNOWN_EMPTY[] = {0x7A, 0x00};            /* field 15, 0 bytes */
static const uint8_t U_SCALAR_AGAIN[] = {0x08, 0x01};             /* ChatSend.request_id again */
static const uint8_t U_STRING_AGAIN[] = {0x1A, 0x00};             /* ChatSend.text again */
static const uint8_t P_REQUEST[] = {0x08, 0x01};

static const shape_t shapes[] = {
    {"RoomList empty rooms", &chat__room_list__descriptor, U_EMPTY_ROOM, 2, P_REQUEST, 2},
    {"RoomList rooms w/ unknown", &chat__room_list__descriptor, U_ROOM_UNKNOWN, 4, NULL, 0},
    {"JoinReply empty members", &chat__join_reply__descriptor, U_EMPTY_MEMBER, 2, NULL, 0},
    {"JoinReply 1-char members", &chat__join_reply__descriptor, U_SHORT_MEMBER, 3, NULL, 0},
    {"Ping unknown varints", &chat__ping__descriptor, U_UNKNOWN_VARINT, 2, NULL, 0},
    {"ChatDelivery unknown empty", &chat__chat_delivery__descriptor, U_UNKNOWN_EMPTY, 2, NULL, 0},
    {"ChatSend request_id xN", &chat__chat_send__descriptor, U_SCALAR_AGAIN, 2, NULL, 0},
    {"ChatSend text \"\" xN", &chat__chat_send__descriptor, U_STRING_AGAIN, 2, NULL, 0},
};

/* Unit counts to try: small ones, each side of every point where protobuf-c's scan slabs
 * (16, 32, 64... entries) run out, and the most that fit. */
static size_t shape_counts(size_t max_units, size_t *out) {
    size_t n = 0;
    static const size_t small[] = {0, 1, 2, 15, 16, 17, 100};
    for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++)
        out[n++] = small[i];
    for (unsigned k = 1; k <= 13; k++) {
        size_t t = 16u * (((size_t)1 << k) - 1);
        out[n++] = t;
        out[n++] = t + 1;
    }
    out[n++] = max_units - 1;
    out[n++] = max_units;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (out[i] <= max_units)
            out[m++] = out[i];
    return m;
}

static void test_amplification_bound(void **state) {
    fx_t *f = *state;
    wbuf_t w;
    wb_init(&w, MAX_BODY);
    double worst_all = 0;
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        const shape_t *sh = &shapes[s];
        size_t counts[48];
        size_t nc = shape_counts((MAX_BODY - sh->prefix_len) / sh->unit_len, counts);
        double worst = 0, at_max = 0;
        size_t worst_len = 0;
        for (size_t c = 0; c < nc; c++) {
            w.n = 0;
            wb_raw(&w, sh->prefix, sh->prefix_len);
            for (size_t u = 0; u < counts[c]; u++)
                wb_raw(&w, sh->unit, sh->unit_len);
            ProtobufCMessage *m;
            /* decode_into asserts bytes <= factor x len + base, success or not. */
            int rc = decode_as(f, sh->d, w.b, w.n, &m);
            gs_arena_stats_t st;
            gs_arena_stats(f->arena, &st);
            /* Every shape is a valid message: the bound must not refuse it. */
            if (rc != 0)
                fail_msg("%s: %zu units (%zu bytes) refused: %d, %llu bytes allocated", sh->name,
                         counts[c], w.n, rc, (unsigned long long)st.bytes);
            if (sh->d == &chat__room_list__descriptor && sh->unit == U_EMPTY_ROOM)
                assert_int_equal(((Chat__RoomList *)m)->n_rooms, counts[c]);
            if (sh->d == &chat__join_reply__descriptor)
                assert_int_equal(((Chat__JoinReply *)m)->n_members, counts[c]);
            if (w.n < 1024)
                continue; /* the base allowance dominates */
            double ratio = (double)st.bytes / (double)w.n;
            if (ratio > worst)
                worst = ratio, worst_len = w.n;
            if (counts[c] == (MAX_BODY - sh->prefix_len) / sh->unit_len)
                at_max = ratio;
        }
        printf("A12: %-28s worst %5.2f bytes allocated per body byte (at %5zu bytes), %5.2f at "
               "the largest body\n",
               sh->name, worst, worst_len, at_max);
        if (worst > worst_all)
            worst_all = worst;
    }

    /* One string of the largest size, and a JoinReply with one huge member. */
    static const size_t lens[] = {0, 1, 127, 128, 4096, MAX_BODY - 4};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        w.n = 0;
        wb_tag(&w, 3, 2);
        wb_varint(&w, lens[i]);
        for (size_t k = 0; k < lens[i]; k++)
            wb_byte(&w, (uint8_t)('a' + k % 26));
        assert_true(w.n <= MAX_BODY);
        ProtobufCMessage *m;
        assert_int_equal(decode_as(f, &chat__chat_send__descriptor, w.b, w.n, &m), 0);
        assert_int_equal(strlen(((Chat__ChatSend *)m)->text), lens[i]);
        assert_int_equal(decode_as(f, &chat__join_reply__descriptor, w.b, w.n, &m), 0);
        assert_int_equal(((Chat__JoinReply *)m)->n_members, 1);
        assert_int_equal(strlen(((Chat__JoinReply *)m)->members[0]), lens[i]);
    }
    /* The largest body there is: 32768 empty rooms. The allowance is per decode, not per arena:
     * a second one decodes into the same arena without a reset in between. */
    w.n = 0;
    for (size_t k = 0; k < MAX_BODY / 2; k++)
        wb_raw(&w, U_EMPTY_ROOM, 2);
    uint32_t list_id = id_of(f->reg, &chat__room_list__descriptor);
    ProtobufCMessage *first, *second;
    gs_arena_reset(f->arena);
    assert_int_equal(decode_into(f->reg, f->arena, list_id, w.b, MAX_BODY, &first), 0);
    assert_int_equal(decode_into(f->reg, f->arena, list_id, w.b, MAX_BODY, &second), 0);
    assert_int_equal(((Chat__RoomList *)first)->n_rooms, MAX_BODY / 2);
    assert_int_equal(((Chat__RoomList *)second)->n_rooms, MAX_BODY / 2);
    /* One byte over max_body: refused before anything is allocated. */
    uint8_t *over = malloc(MAX_BODY + 1);
    assert_non_null(over);
    memcpy(over, w.b, MAX_BODY);
    over[MAX_BODY] = 0x08;
    gs_arena_reset(f->arena);
    assert_int_equal(decode_into(f->reg, f->arena, list_id, over, MAX_BODY + 1, NULL), GS_ETOOBIG);
    gs_arena_stats_t st;
    gs_arena_stats(f->arena, &st);
    assert_int_equal(st.bytes, 0);
    free(over);
    printf("A12: worst case over all chat shapes: %.2f bytes per body byte (factor %u)\n",
           worst_all, GS_DECODE_ALLOC_FACTOR);
    assert_true(worst_all <= GS_DECODE_ALLOC_FACTOR);
    free(w.b);
}

/* A type that does amplify past the factor (gstest.Fat: each 2-byte empty item is a ~280-byte
 * struct) is refused with GS_ETOOBIG, and the arena stops at the limit. */
static void test_amplification_refused(void **state) {
    (void)state;
    gs_msg_registry_t *r = gs_msg_registry_create(0);
    gs_arena_t *a = gs_arena_create(0);
    assert_int_equal(gs_msg_registry_add(r, &gstest__fat__descriptor), 0);
    uint32_t id = gs_msg_id_of_name("gstest.Fat");
    wbuf_t w;
    wb_init(&w, MAX_BODY);
    static const size_t counts[] = {10, 1000, MAX_BODY / 2};
    for (size_t i = 0; i < 3; i++) {
        w.n = 0;
        for (size_t k = 0; k < counts[i]; k++)
            wb_raw(&w, (const uint8_t[]){0x0A, 0x00}, 2); /* Fat.items {} */
        gs_arena_stats_t before, after;
        gs_arena_reset(a);
        gs_arena_stats(a, &before);
        ProtobufCMessage *m;
        int rc = decode_into(r, a, id, w.b, w.n, &m);
        gs_arena_stats(a, &after);
        if (counts[i] == 10) {
            assert_int_equal(rc, 0);
            assert_int_equal(((Gstest__Fat *)m)->n_items, 10);
            assert_int_equal(after.refusals, before.refusals);
        } else {
            assert_int_equal(rc, GS_ETOOBIG);
            assert_true(after.refusals > before.refusals);
            assert_true(after.bytes <=
                        (uint64_t)GS_DECODE_ALLOC_FACTOR * w.n + GS_DECODE_ALLOC_BASE);
        }
        /* The limit was for that decode only. */
        gs_arena_reset(a);
        assert_non_null(
            gs_arena_alloc(a, (size_t)GS_DECODE_ALLOC_FACTOR * w.n + GS_DECODE_ALLOC_BASE + 1));
    }
    free(w.b);
    gs_arena_destroy(a);
    gs_msg_registry_destroy(r);
}

/* ---------------------------------------------------------------------------------------------
 * Steady state: no malloc per decode.
 * ------------------------------------------------------------------------------------------- */
static size_t typical_delivery(uint8_t *buf, size_t cap) {
    Chat__ChatDelivery cd = CHAT__CHAT_DELIVERY__INIT;
    cd.room = "lobby";
    cd.sender = "player_1234";
    cd.text = "the quick brown fox jumps over the dog!!"; /* 40 bytes */
    cd.seq = 123456;
    cd.sent_at_us = 1700000000123456ull;
    cd.server_time_us = 1700000000123999ull;
    size_t n = protobuf_c_message_get_packed_size(&cd.base);
    assert_true(n <= cap);
    assert_int_equal(strlen(cd.text), 40);
    return protobuf_c_message_pack(&cd.base, buf);
}

/* Runs 1000 decode + reset rounds on a; returns the arena stats deltas through *d. */
static void decode_rounds(fx_t *f, gs_arena_t *a, const uint8_t *body, size_t len,
                          gs_arena_stats_t *d) {
    gs_arena_stats_t s0, s1;
    gs_arena_stats(a, &s0);
    uint32_t id = id_of(f->reg, &chat__chat_delivery__descriptor);
    for (int i = 0; i < 1000; i++) {
        ProtobufCMessage *m;
        assert_int_equal(decode_into(f->reg, a, id, body, len, &m), 0);
        assert_int_equal(((Chat__ChatDelivery *)m)->seq, 123456);
        gs_arena_reset(a);
    }
    gs_arena_stats(a, &s1);
    d->allocs = s1.allocs - s0.allocs;
    d->block_mallocs = s1.block_mallocs - s0.block_mallocs;
    d->refusals = s1.refusals - s0.refusals;
}

static void test_hot_path_no_malloc(void **state) {
    fx_t *f = *state;
    uint8_t body[256];
    size_t len = typical_delivery(body, sizeof(body));
    gs_arena_t *a = f->arena;
    uint32_t id = id_of(f->reg, &chat__chat_delivery__descriptor);

    /* Warm-up, and where the first block starts (the first allocation after a reset). */
    gs_arena_reset(a);
    uint8_t *first = gs_arena_alloc(a, 1);
    assert_non_null(first);
    gs_arena_reset(a);
    gs_arena_stats_t s0, s1;
    gs_arena_stats(a, &s0);
    ProtobufCMessage *m;
    assert_int_equal(decode_into(f->reg, a, id, body, len, &m), 0);
    gs_arena_stats(a, &s1);
    uint64_t per_decode = s1.allocs - s0.allocs;
    assert_true(per_decode >= 4); /* the message and its three strings */
    /* The message and its strings live in the arena's first block. */
    const Chat__ChatDelivery *cd = (const Chat__ChatDelivery *)m;
    const uint8_t *ptrs[] = {(const uint8_t *)m, (const uint8_t *)cd->room,
                             (const uint8_t *)cd->sender, (const uint8_t *)cd->text};
    for (size_t i = 0; i < 4; i++)
        assert_true(ptrs[i] >= first && ptrs[i] < first + 4096);
    gs_arena_reset(a);

    gs_arena_stats_t d;
    decode_rounds(f, a, body, len, &d);
    assert_int_equal(d.block_mallocs, 0);
    assert_int_equal(d.allocs, 1000 * per_decode);
    assert_int_equal(d.refusals, 0);

    /* The counter can fail: with a 64-byte first block every decode needs a block of its own. */
    gs_arena_t *small = gs_arena_create(64);
    assert_non_null(small);
    decode_rounds(f, small, body, len, &d);
    assert_true(d.block_mallocs >= 1000);
    assert_int_equal(d.allocs, 1000 * per_decode);
    gs_arena_destroy(small);
}

/* ---------------------------------------------------------------------------------------------
 * Encode and decode errors.
 * ------------------------------------------------------------------------------------------- */
static void test_encode_errors(void **state) {
    fx_t *f = *state;
    gs_packet_t *p = (gs_packet_t *)(uintptr_t)1;

    /* Unregistered type. */
    gs_msg_registry_t *only_send = gs_msg_registry_create(0);
    assert_int_equal(gs_msg_registry_add(only_send, &chat__chat_send__descriptor), 0);
    Chat__Ping ping = CHAT__PING__INIT;
    ping.request_id = 1;
    assert_int_equal(gs_msg_encode(only_send, f->pool, &ping.base, &p), GS_EBADID);
    assert_null(p);
    gs_msg_registry_destroy(only_send);

    /* Arguments. */
    p = (gs_packet_t *)(uintptr_t)1;
    assert_int_equal(gs_msg_encode(f->reg, f->pool, NULL, &p), GS_EINVAL);
    assert_null(p);
    assert_int_equal(gs_msg_encode(f->reg, f->pool, &ping.base, NULL), GS_EINVAL);

    /* max_body: exactly at it encodes, one byte over does not. */
    gs_msg_registry_t *small = gs_msg_registry_create(50);
    assert_int_equal(chat_proto_register(small), 0);
    assert_int_equal(gs_msg_registry_max_body(small), 50);
    char text[64];
    memset(text, 'x', sizeof(text));
    text[46] = '\0';
    Chat__ChatSend cs = CHAT__CHAT_SEND__INIT;
    cs.request_id = 1;
    cs.text = text;
    assert_int_equal(protobuf_c_message_get_packed_size(&cs.base), 50);
    assert_int_equal(gs_msg_encode(small, f->pool, &cs.base, &p), 0);
    assert_int_equal(rd32le(p->frame), 50);
    uint8_t at_max[51];
    memcpy(at_max, gs_packet_body(p), 50);
    gs_packet_unref(p);
    text[46] = 'x';
    text[47] = '\0';
    assert_int_equal(protobuf_c_message_get_packed_size(&cs.base), 51);
    p = (gs_packet_t *)(uintptr_t)1;
    assert_int_equal(gs_msg_encode(small, f->pool, &cs.base, &p), GS_ETOOBIG);
    assert_null(p);
    /* The same limit on decode. */
    uint32_t send_id = id_of(small, &chat__chat_send__descriptor);
    assert_int_equal(decode_into(small, f->arena, send_id, at_max, 50, NULL), 0);
    at_max[50] = 0x08; /* a cut field: the size check must come first */
    assert_int_equal(decode_into(small, f->arena, send_id, at_max, 51, NULL), GS_ETOOBIG);
    gs_msg_registry_destroy(small);

    /* Pool cap reached. */
    gs_pool_config_t cfg = {.max_bytes = 1024};
    gs_pool_t *tiny = gs_pool_create(&cfg);
    assert_non_null(tiny);
    p = (gs_packet_t *)(uintptr_t)1;
    assert_int_equal(gs_msg_encode(f->reg, tiny, &ping.base, &p), GS_ENOMEM);
    assert_null(p);
    gs_pool_stats_t ps;
    gs_pool_stats(tiny, &ps);
    assert_true(ps.failures >= 1);
    assert_int_equal(ps.in_use, 0);
    gs_pool_destroy(tiny);
    /* The same message into an uncapped pool: it was the cap. */
    assert_int_equal(gs_msg_encode(f->reg, f->pool, &ping.base, &p), 0);
    gs_packet_unref(p);
}

static void test_decode_arguments(void **state) {
    fx_t *f = *state;
    uint32_t id = id_of(f->reg, &chat__ping__descriptor);
    const uint8_t body[] = {0x08, 0x01};
    ProtobufCMessage *m = (ProtobufCMessage *)(uintptr_t)1;
    assert_int_equal(gs_msg_decode(f->reg, f->arena, id, body, 2, NULL), GS_EINVAL);
    assert_int_equal(gs_msg_decode(NULL, f->arena, id, body, 2, &m), GS_EINVAL);
    assert_null(m);
    m = (ProtobufCMessage *)(uintptr_t)1;
    assert_int_equal(gs_msg_decode(f->reg, NULL, id, body, 2, &m), GS_EINVAL);
    assert_null(m);
    m = (ProtobufCMessage *)(uintptr_t)1;
    assert_int_equal(gs_msg_decode(f->reg, f->arena, id, NULL, 2, &m), GS_EINVAL);
    assert_null(m);
    assert_int_equal(gs_msg_decode(f->reg, f->arena, id, body, 2, &m), 0);
    assert_int_equal(((Chat__Ping *)m)->request_id, 1);
}

/* ---------------------------------------------------------------------------------------------
 * Known defects, built into a separate executable (test_codec_known_bugs) so that an ASan abort
 * there does not hide the results, or the leak check, of the suite above.
 * ------------------------------------------------------------------------------------------- */

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_every_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_empty_bodies, setup, teardown),
        cmocka_unit_test(test_ids_fnv1a_reference),
        cmocka_unit_test_setup_teardown(test_ids_distinct_and_lookups, setup, teardown),
        cmocka_unit_test(test_registry_collisions),
        cmocka_unit_test(test_registry_refuses_recursive_types),
        cmocka_unit_test(test_wire_check_deep_nesting_bounded),
        cmocka_unit_test_setup_teardown(test_unknown_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_every_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_varints_and_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_wire_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_amplification_bound, setup, teardown),
        cmocka_unit_test(test_amplification_refused),
        cmocka_unit_test_setup_teardown(test_hot_path_no_malloc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encode_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_arguments, setup, teardown),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}

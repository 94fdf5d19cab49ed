/* SPDX-License-Identifier: MIT */
/* Protobuf messages over test client sockets (see pb_client.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "net_harness.h"
#include "pb_client.h"

#define TC_MAX_BODY (64u * 1024u)

void tc_send(int fd, const ProtobufCMessage *m) {
    size_t n = protobuf_c_message_get_packed_size(m);
    assert_true(n <= TC_MAX_BODY);
    uint8_t *body = malloc(n ? n : 1);
    assert_non_null(body);
    protobuf_c_message_pack(m, body);
    th_write_frame(fd, gs_msg_id_of_name(m->descriptor->name), body, (uint32_t)n);
    free(body);
}

ProtobufCMessage *tc_recv(int fd, const gs_msg_registry_t *reg) {
    uint8_t *body = malloc(TC_MAX_BODY);
    assert_non_null(body);
    uint32_t id = 0;
    long n = th_read_frame(fd, &id, body, TC_MAX_BODY, 5000);
    assert_true(n >= 0);
    const ProtobufCMessageDescriptor *d = gs_msg_registry_find(reg, id);
    assert_non_null(d);
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, (size_t)n, body);
    free(body);
    assert_non_null(m);
    return m;
}

ProtobufCMessage *tc_expect(int fd, const gs_msg_registry_t *reg,
                            const ProtobufCMessageDescriptor *d) {
    ProtobufCMessage *m = tc_recv(fd, reg);
    if (m->descriptor != d)
        fail_msg("expected %s, got %s", d->name, m->descriptor->name);
    return m;
}

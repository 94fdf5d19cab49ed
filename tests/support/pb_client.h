/* SPDX-License-Identifier: MIT */
/* Protobuf messages over the harness's blocking client sockets: send a message as one frame, and
 * receive one frame unpacked as whatever registered type its id names. For tests of servers
 * built on the packet layer (fails the test on error). */
#ifndef GS_TEST_PB_CLIENT_H
#define GS_TEST_PB_CLIENT_H

#include "gs/packet.h"

/* Pack m into one frame with id gs_msg_id_of_name(its full name) and write it. */
void tc_send(int fd, const ProtobufCMessage *m);
/* Read one frame (5 s deadline) and unpack it with the type reg names for its id (default
 * allocator: free with protobuf_c_message_free_unpacked). Fails the test on timeout, EOF, an
 * unknown id or a body that does not unpack. */
ProtobufCMessage *tc_recv(int fd, const gs_msg_registry_t *reg);
/* tc_recv, then assert the type is d. */
ProtobufCMessage *tc_expect(int fd, const gs_msg_registry_t *reg,
                            const ProtobufCMessageDescriptor *d);

#endif

# SPDX-License-Identifier: MIT
# The single-pass decoder (packet/decoder.c) against protobuf-c's own unpack: generated and
# mutated bodies of every field shape (decoder_test.proto: proto3, decoder_test2.proto: proto2)
# and of the chat protocol, through the differential oracle of fuzz/fuzz_decoder_diff.c; the
# hostile inputs of test_wire_check classified the same way; semantics one by one.
gs_add_proto(packet_decoder_test_proto ${CMAKE_CURRENT_LIST_DIR}/decoder_test.proto
             ${CMAKE_CURRENT_LIST_DIR}/decoder_test2.proto)
set(GS_TEST_DECODER_SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_decoder.c
                            ${PROJECT_SOURCE_DIR}/fuzz/fuzz_decoder_diff.c)
gs_add_test(test_decoder
  SOURCES ${GS_TEST_DECODER_SOURCES}
  LIBS chat_proto packet_codec_test_proto packet_decoder_test_proto gs_packet gs_test_pb
  TIMEOUT 120
  LABELS unit)
# decoder.h and wire_check.h are internal to packet/.
target_include_directories(test_decoder PRIVATE ${PROJECT_SOURCE_DIR}/packet)

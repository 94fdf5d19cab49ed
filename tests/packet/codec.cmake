# SPDX-License-Identifier: MIT
# The codec against the chat protocol: round trips of every message type, message ids and the
# registry's refusals, and hostile bodies (docs/testing.md A08-A12, A14, A15). codec_test.proto adds
# test-only types: recursive ones the registry must refuse, and one that amplifies allocation.
gs_add_proto(packet_codec_test_proto ${CMAKE_CURRENT_LIST_DIR}/codec_test.proto)
gs_add_test(test_codec
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_codec.c
  LIBS chat_proto packet_codec_test_proto gs_packet gs_test_pb
  TIMEOUT 120
  LABELS unit)
# wire_check.h (internal) for the depth-limit test.
target_include_directories(test_codec PRIVATE ${PROJECT_SOURCE_DIR}/packet)

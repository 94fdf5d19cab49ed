# SPDX-License-Identifier: MIT
# Text validation (packet/text.c) and the wire pre-pass of the decoder (packet/wire_check.c):
# docs/testing.md A10, A11, A14, A15, A16 without sockets.
gs_add_test(test_text
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_text.c
  LIBS gs_packet LABELS unit)
gs_add_test(test_wire_check
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_wire_check.c
  LIBS chat_proto gs_packet gs_test_pb LABELS unit)
# wire_check.h is internal to packet/.
target_include_directories(test_wire_check PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../../packet)

# SPDX-License-Identifier: MIT
# Socket-level IO tests: real sockets on 127.0.0.1 against the harness server (echo / sink /
# custom handler). Each executable is bounded by TIMEOUT and every wait inside has a deadline.
# test_io_common.c holds the helpers they share (writes that report errors from client threads,
# an interleaved write/read pump, stream generators).
set(GS_IO_TEST_COMMON ${CMAKE_CURRENT_LIST_DIR}/test_io_common.c)
foreach(t test_io_malformed test_echo_stream test_echo_pingpong test_io_backend
          test_io_sessions)
  gs_add_test(${t}
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/${t}.c ${GS_IO_TEST_COMMON}
    LIBS gs_test_support
    LABELS integration
    TIMEOUT 60)
endforeach()
# send_delay_ms: replies from separate batches gathered into one send; stop flushes at once.
gs_add_test(test_send_delay SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_send_delay.c
  LIBS gs_test_support LABELS integration TIMEOUT 60)
# gs_session_send_many: live and stale targets, release once, per-thread order.
gs_add_test(test_send_many SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_send_many.c
  LIBS gs_test_support LABELS integration TIMEOUT 60)
# B07/E07: accept out of descriptors pauses instead of spinning, then resumes.
gs_add_test(test_io_emfile SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_io_emfile.c
  LIBS gs_test_support LABELS integration TIMEOUT 60)

# SPDX-License-Identifier: MIT
# Socket-level IO tests: real sockets on 127.0.0.1 against the harness server (echo / sink /
# custom handler). Each executable is bounded by TIMEOUT and every wait inside has a deadline.
# test_io_common.c holds the helpers they share (writes that report errors from client threads,
# an interleaved write/read pump, stream generators).
set(GS_IO_TEST_COMMON ${CMAKE_CURRENT_LIST_DIR}/test_io_common.c)
# test_io_backend and test_io_emfile exercise io_uring itself (SQ/CQ sizes and overflow, provided
# buffer rings and -ENOBUFS re-arms, RLIMIT_NOFILE with EMFILE accept pauses): Linux only.
set(GS_IO_TESTS test_io_malformed test_echo_stream test_echo_pingpong test_io_sessions)
# test_frame_hold: receive buffers lent by gs_net_frame_hold, which only io_uring's shared ring
# does (IOCP refuses every hold but a reassembled frame's, which test_framer covers).
if(NOT WIN32)
  # test_recv_fair: receive backpressure and rate limits (io_uring run; not yet run under wine).
  list(APPEND GS_IO_TESTS test_io_backend test_frame_hold test_recv_fair)
  # test_addr_limits: clients bind 127.0.0.2+, which Linux routes to loopback without setup.
  list(APPEND GS_IO_TESTS test_addr_limits)
endif()
foreach(t ${GS_IO_TESTS})
  gs_add_test(${t}
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/${t}.c ${GS_IO_TEST_COMMON}
    LIBS gs_test_support
    LABELS integration
    TIMEOUT ${GS_NET_IT_TIMEOUT})
endforeach()
# send_delay_ms: replies from separate batches gathered into one send; stop flushes at once.
gs_add_test(test_send_delay SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_send_delay.c
  LIBS gs_test_support LABELS integration TIMEOUT ${GS_NET_IT_TIMEOUT})
# gs_session_send_many: live and stale targets, release once, per-thread order.
gs_add_test(test_send_many SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_send_many.c
  LIBS gs_test_support LABELS integration TIMEOUT ${GS_NET_IT_TIMEOUT})
# B07/E07: accept out of descriptors pauses instead of spinning, then resumes.
if(NOT WIN32)
  gs_add_test(test_io_emfile SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_io_emfile.c
    LIBS gs_test_support LABELS integration TIMEOUT ${GS_NET_IT_TIMEOUT})
endif()

# SPDX-License-Identifier: MIT
# Pool, packets and arena. The pool and reference tests are threaded (run under tsan too); the
# broadcast test sends over real sockets through the net harness.
gs_add_test(test_pool
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pool.c
  LIBS gs_packet LABELS "unit;threaded" TIMEOUT 120)
gs_add_test(test_packet
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_packet.c
  LIBS gs_packet LABELS "unit;threaded" TIMEOUT 60)
gs_add_test(test_arena
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_arena.c
  LIBS gs_packet LABELS unit)
gs_add_test(test_packet_broadcast
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_packet_broadcast.c
  LIBS gs_packet gs_test_support LABELS integration TIMEOUT 60)

# SPDX-License-Identifier: MIT
# Lifecycle tests over real sockets on 127.0.0.1 (docs/testing.md B03, B04, B08, B01/B02 single
# connection, B10, B11, C01, C02, C05, C06, C09 and the callback contract). Each executable
# is bounded by TIMEOUT and every wait inside has a deadline. test_lifecycle_common.c holds
# the contract-checking server, counted send buffers and client helpers they share.
set(GS_LC_TEST_COMMON ${CMAKE_CURRENT_LIST_DIR}/test_lifecycle_common.c)
foreach(t test_lifecycle_sendq test_lifecycle_deadlines test_lifecycle_peer
         test_lifecycle_races test_lifecycle_shutdown test_lifecycle_callbacks
         test_lifecycle_close_flushed)
  gs_add_test(${t}
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/${t}.c ${GS_LC_TEST_COMMON}
    LIBS gs_test_support
    LABELS integration
    TIMEOUT ${GS_NET_IT_TIMEOUT})
endforeach()
# Regression tests for net/ bugs these tests found (stale loop clock in receive deadlines,
# unsent overcount after short sends). See the file's header.
gs_add_test(test_lifecycle_regressions
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_lifecycle_regressions.c ${GS_LC_TEST_COMMON}
  LIBS gs_test_support
  LABELS integration
  TIMEOUT ${GS_NET_IT_TIMEOUT})

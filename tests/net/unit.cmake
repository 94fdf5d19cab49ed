# SPDX-License-Identifier: MIT
# Pure net modules driven without sockets.
gs_add_test(test_session_table
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_session_table.c ${PROJECT_SOURCE_DIR}/net/session_table.c
  LIBS gs_base LABELS "unit;threaded")
target_include_directories(test_session_table PRIVATE ${PROJECT_SOURCE_DIR}/net
  ${PROJECT_SOURCE_DIR}/net/include)
gs_add_test(test_addr_limit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_addr_limit.c ${PROJECT_SOURCE_DIR}/net/addr_limit.c
  LIBS gs_base LABELS "unit;threaded")
target_include_directories(test_addr_limit PRIVATE ${PROJECT_SOURCE_DIR}/net
  ${PROJECT_SOURCE_DIR}/net/include)

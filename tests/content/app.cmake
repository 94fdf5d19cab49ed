# SPDX-License-Identifier: MIT
# The app over real sockets (integration: not in the tsan step, see docs/testing.md).
gs_add_test(test_app
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_app.c
  LIBS gs_content chat_proto gs_test_support LABELS integration TIMEOUT 120)

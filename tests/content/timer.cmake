# SPDX-License-Identifier: MIT
# Timers on a real scheduler (unit; threaded: in the tsan step). The test drives the internal
# interface (content/internal.h), so it sees the library's private include folder, and defines
# the app accessors that timer.c's public wrappers need; it does not link app.c.
gs_add_test(test_timer
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_timer.c
          ${PROJECT_SOURCE_DIR}/content/timer.c
          ${PROJECT_SOURCE_DIR}/content/sched.c
          ${PROJECT_SOURCE_DIR}/content/actor.c
  LIBS gs_packet gs_net gs_base LABELS unit threaded TIMEOUT 120)
target_include_directories(test_timer PRIVATE ${PROJECT_SOURCE_DIR}/content
                           ${PROJECT_SOURCE_DIR}/content/include)

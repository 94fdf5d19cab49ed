# SPDX-License-Identifier: MIT
# Scheduler and actors (content/sched.c, content/actor.c): order, serial execution, parallelism,
# fairness, drain/stop, references, pool exhaustion, a slow actor beside a busy one (E09).
# Built from the two sources rather than gs_content, so that it needs neither app.c nor timer.c:
# the test defines the one app accessor actor.c uses. Labelled threaded so the tsan preset runs
# it (F03).
# CPU time is read through a per-system helper (cpu_time_posix.c / cpu_time_win.c).
if(WIN32)
  set(GS_TEST_CPU_TIME ${CMAKE_CURRENT_LIST_DIR}/cpu_time_win.c)
else()
  set(GS_TEST_CPU_TIME ${CMAKE_CURRENT_LIST_DIR}/cpu_time_posix.c)
endif()
gs_add_test(test_sched
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sched.c ${GS_TEST_CPU_TIME}
          ${PROJECT_SOURCE_DIR}/content/sched.c
          ${PROJECT_SOURCE_DIR}/content/actor.c
  LIBS gs_packet
  TIMEOUT 300
  LABELS unit threaded)
target_include_directories(test_sched PRIVATE ${PROJECT_SOURCE_DIR}/content
                                              ${PROJECT_SOURCE_DIR}/content/include)

# SPDX-License-Identifier: MIT
# cmake -DCTEST=ctest -DDIR=<nested test dir> -DBIN=skip_selftest [-DRUNNER=emulator] -P this
# Checks that a cmocka binary's outcome reaches CTest as it should (skip_selftest.cmake): first
# each mode's exit status, then the verdict of a nested ctest over the same binaries registered
# with gs_add_test's properties.
set(fails 0)
# check(<msg> <condition...>): the condition as if() takes it.
macro(check msg)
  if(${ARGN})
    message(STATUS "ok: ${msg}")
  else()
    message(SEND_ERROR "FAIL: ${msg}")
    math(EXPR fails "${fails} + 1")
  endif()
endmacro()

foreach(pair pass:0 skip:77 skip_bare:77 fail:1)
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 mode)
  list(GET pair 1 want)
  execute_process(COMMAND ${RUNNER} ${BIN} ${mode} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  check("skip_selftest ${mode} exits ${want} (got ${rc})" rc EQUAL want)
  if(mode STREQUAL "skip")
    string(FIND "${out}" "SKIP: the self-test's deliberate skip" said)
    check("skip_selftest skip says why it skipped" said GREATER -1)
  endif()
endforeach()

execute_process(COMMAND ${CTEST} --test-dir ${DIR} --no-tests=error RESULT_VARIABLE rc
                OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "nested ctest (exit ${rc}):\n${out}${err}")
check("ctest: pass is Passed" out MATCHES "selftest_pass [.]+ +Passed")
check("ctest: skip is Skipped" out MATCHES "selftest_skip [.]+[*]+Skipped")
check("ctest: skip_bare is Skipped" out MATCHES "selftest_skip_bare [.]+[*]+Skipped")
check("ctest: fail (with a skip beside) is Failed" out MATCHES "selftest_fail [.]+[*]+Failed")
check("ctest: the nested run fails (it holds a failing test)" NOT rc EQUAL 0)
if(fails GREATER 0)
  message(FATAL_ERROR "${fails} check(s) failed")
endif()

# SPDX-License-Identifier: MIT
# The Windows build's protobuf-c runtime and cmocka: static libraries that scripts/windeps.sh
# builds from Debian's source packages into GS_WINDEPS_PREFIX (set by the toolchain file).
# They are imported under the names the Linux build gets from pkg-config (PkgConfig::PROTOBUF_C,
# PkgConfig::CMOCKA), so that every CMakeLists.txt links them the same way on both systems;
# GsProto.cmake and tests/CMakeLists.txt skip pkg-config when the targets already exist.
set(GS_WINDEPS_HINT "run scripts/windeps.sh (scripts/setup.sh installs what it needs)")

find_path(GS_WIN_PROTOBUF_C_INCLUDE protobuf-c/protobuf-c.h PATHS ${GS_WINDEPS_PREFIX}/include
          NO_DEFAULT_PATH)
find_library(GS_WIN_PROTOBUF_C_LIB NAMES libprotobuf-c.a PATHS ${GS_WINDEPS_PREFIX}/lib
             NO_DEFAULT_PATH)
find_path(GS_WIN_CMOCKA_INCLUDE cmocka.h PATHS ${GS_WINDEPS_PREFIX}/include NO_DEFAULT_PATH)
find_library(GS_WIN_CMOCKA_LIB NAMES libcmocka.a PATHS ${GS_WINDEPS_PREFIX}/lib NO_DEFAULT_PATH)
foreach(v GS_WIN_PROTOBUF_C_INCLUDE GS_WIN_PROTOBUF_C_LIB GS_WIN_CMOCKA_INCLUDE GS_WIN_CMOCKA_LIB)
  if(NOT ${v})
    message(FATAL_ERROR "${v} not found in ${GS_WINDEPS_PREFIX}: ${GS_WINDEPS_HINT}")
  endif()
endforeach()

add_library(PkgConfig::PROTOBUF_C STATIC IMPORTED)
set_target_properties(PkgConfig::PROTOBUF_C PROPERTIES
  IMPORTED_LOCATION ${GS_WIN_PROTOBUF_C_LIB}
  INTERFACE_INCLUDE_DIRECTORIES ${GS_WIN_PROTOBUF_C_INCLUDE})

add_library(PkgConfig::CMOCKA STATIC IMPORTED)
set_target_properties(PkgConfig::CMOCKA PROPERTIES
  IMPORTED_LOCATION ${GS_WIN_CMOCKA_LIB}
  INTERFACE_INCLUDE_DIRECTORIES ${GS_WIN_CMOCKA_INCLUDE})

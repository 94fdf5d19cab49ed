# SPDX-License-Identifier: MIT
# Cross build for 64-bit Windows with Debian's mingw-w64 (gcc-mingw-w64-x86-64), run under wine.
#
#   cmake --preset mingw     (scripts/windeps.sh must have built build/windeps first)
#
# Programs (protoc-c, the host tools) come from the host; headers and libraries only from the
# mingw sysroot and GS_WINDEPS_PREFIX (protobuf-c and cmocka built by scripts/windeps.sh), never
# from the host's /usr/include or pkg-config. Executables link statically (-static), so they run
# under wine without libgcc or winpthread DLLs beside them. CTest runs them through
# scripts/wine-run.sh (CMAKE_CROSSCOMPILING_EMULATOR) with a wine prefix inside the build folder.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(GS_MINGW_TRIPLE x86_64-w64-mingw32)

set(CMAKE_C_COMPILER ${GS_MINGW_TRIPLE}-gcc)
set(CMAKE_RC_COMPILER ${GS_MINGW_TRIPLE}-windres)
set(CMAKE_AR ${GS_MINGW_TRIPLE}-ar CACHE FILEPATH "mingw ar")
set(CMAKE_RANLIB ${GS_MINGW_TRIPLE}-ranlib CACHE FILEPATH "mingw ranlib")

get_filename_component(GS_SOURCE_ROOT ${CMAKE_CURRENT_LIST_DIR}/.. ABSOLUTE)
set(GS_WINDEPS_PREFIX ${GS_SOURCE_ROOT}/build/windeps
    CACHE PATH "protobuf-c and cmocka built for mingw by scripts/windeps.sh")

set(CMAKE_FIND_ROOT_PATH /usr/${GS_MINGW_TRIPLE} ${GS_WINDEPS_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# The host's pkg-config would describe Linux libraries; the cross build never asks it.
set(ENV{PKG_CONFIG_LIBDIR} "")

# Static libgcc and libwinpthread: the .exe files need no DLL beside them.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")

# The mingw preset passes the emulator with its prefix; this default serves other build folders.
if(NOT DEFINED CMAKE_CROSSCOMPILING_EMULATOR)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${GS_SOURCE_ROOT}/scripts/wine-run.sh
                                    ${CMAKE_BINARY_DIR}/wineprefix)
endif()

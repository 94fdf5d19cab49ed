# SPDX-License-Identifier: MIT
# What `cmake --install` puts where (GNUInstallDirs), the CMake package (gameserverConfig.cmake,
# its version file and the exported targets gameserver::<layer>), the pkg-config files, and the
# shared libraries' SONAME and exported symbols. Included by the top-level CMakeLists.txt after
# every layer exists. docs/tutorial.md shows the three ways a project uses the result.
include(CMakePackageConfigHelpers)

set(GS_LAYERS base net packet content)
set(GS_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/gameserver)

foreach(layer IN LISTS GS_LAYERS)
  # The same names inside the source tree (add_subdirectory) as from the installed package.
  add_library(gameserver::${layer} ALIAS gs_${layer})
  set_target_properties(gs_${layer} PROPERTIES EXPORT_NAME ${layer})
  if(BUILD_SHARED_LIBS AND NOT WIN32)
    # 0.x: any minor release may change the ABI, so the SONAME carries major.minor
    # (libgs_net.so.0.2).
    set_target_properties(gs_${layer} PROPERTIES
      VERSION ${PROJECT_VERSION}
      SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
    # Only the public gs_ names leave the library; gs__ internals stay local.
    target_link_options(gs_${layer} PRIVATE
      "LINKER:--version-script=${PROJECT_SOURCE_DIR}/cmake/gs_exports.map")
    set_property(TARGET gs_${layer} APPEND PROPERTY LINK_DEPENDS
                 ${PROJECT_SOURCE_DIR}/cmake/gs_exports.map)
  endif()
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${layer}/include/gs
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
endforeach()
install(FILES ${PROJECT_BINARY_DIR}/include/gs/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/gs COMPONENT dev)

install(TARGETS gs_base gs_net gs_packet gs_content
  EXPORT gameserverTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT dev)

set(GS_PROGRAMS gs-chat-server gs-echo-server gs-bot)
if(NOT WIN32)
  list(APPEND GS_PROGRAMS gs-chat)
endif()
install(TARGETS ${GS_PROGRAMS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT dev)

install(EXPORT gameserverTargets NAMESPACE gameserver:: DESTINATION ${GS_CMAKE_DIR}
        COMPONENT dev)
configure_package_config_file(cmake/gameserverConfig.cmake.in
  ${PROJECT_BINARY_DIR}/gameserverConfig.cmake INSTALL_DESTINATION ${GS_CMAKE_DIR})
# 0.x: a consumer asking for 0.2 accepts 0.2.y, not 0.3 (any 0.x minor may break the API).
write_basic_package_version_file(${PROJECT_BINARY_DIR}/gameserverConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/gameserverConfig.cmake
              ${PROJECT_BINARY_DIR}/gameserverConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/GsProto.cmake
              ${PROJECT_SOURCE_DIR}/cmake/gs_proto_registry.cmake
        DESTINATION ${GS_CMAKE_DIR} COMPONENT dev)

# pkg-config: one file per layer, and gameserver.pc pulling all of them. With static libraries
# (the default) a Makefile consumer runs plain `pkg-config --libs gameserver`, without --static,
# so what the archives need (liburing, -pthread) is listed as public; with shared ones it is
# private, as the shared libraries carry it.
file(RELATIVE_PATH GS_PC_RELATIVE_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig
     ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" GS_PC_RELATIVE_PREFIX "${GS_PC_RELATIVE_PREFIX}")
function(gs_pkg_config name description requires private_requires libs private_libs cflags)
  set(GS_PC_NAME ${name})
  set(GS_PC_DESCRIPTION "${description}")
  if(BUILD_SHARED_LIBS)
    set(GS_PC_REQUIRES "${requires}")
    set(GS_PC_REQUIRES_PRIVATE "${private_requires}")
    set(GS_PC_LIBS "${libs}")
    set(GS_PC_LIBS_PRIVATE "${private_libs}")
  else()
    string(JOIN " " GS_PC_REQUIRES ${requires} ${private_requires})
    set(GS_PC_REQUIRES_PRIVATE "")
    string(JOIN " " GS_PC_LIBS ${libs} ${private_libs})
    set(GS_PC_LIBS_PRIVATE "")
  endif()
  set(GS_PC_CFLAGS "${cflags}")
  configure_file(${PROJECT_SOURCE_DIR}/cmake/pkgconfig/gameserver.pc.in
                 ${PROJECT_BINARY_DIR}/pkgconfig/${name}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${name}.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
endfunction()
if(WIN32)
  set(GS_PC_NET_SYSTEM "")
  set(GS_PC_NET_LIBS "-lws2_32 -lntdll")
else()
  set(GS_PC_NET_SYSTEM liburing)
  set(GS_PC_NET_LIBS "")
endif()
gs_pkg_config(gameserver-base "gameserver base layer: errors, log, clock, threads, queues" ""
              "" "-L\${libdir} -lgs_base -pthread" "" "-I\${includedir}")
gs_pkg_config(gameserver-net "gameserver net layer: sessions over io_uring or IOCP"
              "gameserver-base" "${GS_PC_NET_SYSTEM}" "-L\${libdir} -lgs_net" "${GS_PC_NET_LIBS}"
              "-I\${includedir}")
gs_pkg_config(gameserver-packet "gameserver packet layer: pooled packets, protobuf-c messages"
              "gameserver-net libprotobuf-c" "" "-L\${libdir} -lgs_packet" "" "-I\${includedir}")
gs_pkg_config(gameserver-content "gameserver content layer: actors, handlers, timers"
              "gameserver-packet" "" "-L\${libdir} -lgs_content" "" "-I\${includedir}")
gs_pkg_config(gameserver "gameserver: every layer (base, net, packet, content)"
              "gameserver-content" "" "" "" "")

set(GS_DOCS README.md CHANGELOG.md docs/architecture.md docs/net.md docs/packet.md
    docs/protocol.md docs/content.md docs/chat.md docs/tutorial.md docs/testing.md
    docs/benchmarks.md)
list(TRANSFORM GS_DOCS PREPEND ${PROJECT_SOURCE_DIR}/)
install(FILES ${GS_DOCS} DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT dev)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/dice DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples
        COMPONENT dev)

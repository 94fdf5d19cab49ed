# SPDX-License-Identifier: MIT
# gs_add_proto(<target> <file.proto>... [IMPORT_DIRS <dir>...])
#
# Runs protoc-c on each .proto and builds a static library <target> that a program links to get:
#   - the generated <name>.pb-c.h / .pb-c.c of every file (include "<name>.pb-c.h");
#   - "<target>.h": the list of every message descriptor in those files,
#       extern const ProtobufCMessageDescriptor *const <target>_messages[];
#       extern const size_t <target>_messages_count;
#     and static inline int <target>_register(gs_msg_registry_t *r), which registers them all
#     (message ids come from the full names: nothing numeric to maintain).
# <target> must be a C identifier. The library links gameserver::packet (the alias inside this
# source tree, the imported target for users of the installed package) and the protobuf-c runtime.
# A .proto may import another one from its own folder or from IMPORT_DIRS.
# Example (docs/packet.md):
#   gs_add_proto(game_proto proto/game.proto)
#   target_link_libraries(my_server PRIVATE game_proto)
find_program(GS_PROTOC_C protoc-c REQUIRED)
# The Windows build imports its own (cmake/GsWinDeps.cmake) under the same target name.
# GLOBAL: a project that add_subdirectory's this tree calls gs_add_proto() from its own folders.
if(NOT TARGET PkgConfig::PROTOBUF_C)
  pkg_check_modules(PROTOBUF_C REQUIRED IMPORTED_TARGET GLOBAL libprotobuf-c)
endif()

function(gs_add_proto target)
  cmake_parse_arguments(P "" "" "IMPORT_DIRS" ${ARGN})
  # Beside this file, wherever the function is called from (another project's folder too).
  set(GS_PROTO_REGISTRY_SCRIPT ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/gs_proto_registry.cmake)
  if(NOT target MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
    message(FATAL_ERROR "gs_add_proto: target '${target}' is not a C identifier")
  endif()
  if(NOT P_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "gs_add_proto(${target}): no .proto files given")
  endif()
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/${target}_gen)
  file(MAKE_DIRECTORY ${out_dir})
  set(import_args)
  foreach(dir IN LISTS P_IMPORT_DIRS)
    get_filename_component(abs ${dir} ABSOLUTE)
    list(APPEND import_args -I${abs})
  endforeach()

  set(sources)
  set(headers)
  foreach(proto IN LISTS P_UNPARSED_ARGUMENTS)
    get_filename_component(abs ${proto} ABSOLUTE)
    get_filename_component(dir ${abs} DIRECTORY)
    get_filename_component(stem ${abs} NAME_WE)
    set(c ${out_dir}/${stem}.pb-c.c)
    set(h ${out_dir}/${stem}.pb-c.h)
    add_custom_command(
      OUTPUT ${c} ${h}
      COMMAND ${GS_PROTOC_C} --c_out=${out_dir} -I${dir} ${import_args} ${abs}
      DEPENDS ${abs}
      COMMENT "protoc-c ${proto}"
      VERBATIM)
    list(APPEND sources ${c})
    list(APPEND headers ${h})
  endforeach()

  # The descriptor list is read from the generated headers (protoc-c declares one
  # "extern const ProtobufCMessageDescriptor <c_name>__descriptor;" per message, nested ones
  # included), so it always matches the .proto files.
  add_custom_command(
    OUTPUT ${out_dir}/${target}.c ${out_dir}/${target}.h
    COMMAND ${CMAKE_COMMAND} -DTARGET=${target} -DOUT_DIR=${out_dir} "-DHEADERS=${headers}"
            -P ${GS_PROTO_REGISTRY_SCRIPT}
    DEPENDS ${headers} ${GS_PROTO_REGISTRY_SCRIPT}
    COMMENT "gs_add_proto: message list of ${target}"
    VERBATIM)

  add_library(${target} STATIC ${sources} ${out_dir}/${target}.c ${out_dir}/${target}.h)
  target_include_directories(${target} PUBLIC ${out_dir})
  target_link_libraries(${target} PUBLIC gameserver::packet PkgConfig::PROTOBUF_C)
endfunction()

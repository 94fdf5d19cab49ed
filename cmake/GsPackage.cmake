# SPDX-License-Identifier: MIT
# The Debian package: `cpack -G DEB` in a build folder makes gameserver-dev_<version>_<arch>.deb
# from the install rules (cmake/GsInstall.cmake) under /usr: headers, static (or shared)
# libraries, the CMake package, pkg-config files, gs_add_proto(), the programs and the docs.
# Configure with -DCMAKE_INSTALL_PREFIX=/usr so that GNUInstallDirs picks Debian's multiarch
# libdir (lib/x86_64-linux-gnu). One package: the libraries are static by default, so a
# runtime-only split would hold nothing.
set(CPACK_PACKAGE_NAME gameserver-dev)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "C11 framework for real-time game servers (development files)")
set(CPACK_PACKAGE_CONTACT "gameserver maintainers <gameserver@localhost>")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
# Declared by hand rather than with dpkg-shlibdeps (dpkg-dev is not a build dependency): what a
# consumer links (liburing, protobuf-c runtime, pthreads from libc), what gs_add_proto() runs
# (protoc-c) and what the CMake package uses to find them (pkg-config). The -dev packages bring
# the shared liburing2 and libprotobuf-c1 that the programs link.
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libc6 (>= 2.34), liburing-dev (>= 2.3), libprotobuf-c-dev (>= 1.4), protobuf-c-compiler, pkg-config")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "cmake (>= 3.25)")
set(CPACK_STRIP_FILES OFF)
include(CPack)

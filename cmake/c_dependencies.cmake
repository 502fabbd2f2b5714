# cJSON and the DLPack header, found the same way on a distribution and in a
# Python virtual environment. Defines the target cutout_cjson and
# DLPACK_INCLUDE_DIR; include it after libtorch is found, whose headers carry
# a copy of dlpack.h (ATen/dlpack.h) for machines without libdlpack-dev.

# cJSON: through pkg-config where it is installed, else header and library.
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(CJSON QUIET IMPORTED_TARGET libcjson)
endif()
add_library(cutout_cjson INTERFACE)
if(TARGET PkgConfig::CJSON)
  target_link_libraries(cutout_cjson INTERFACE PkgConfig::CJSON)
else()
  find_path(CJSON_INCLUDE_DIR cjson/cJSON.h)
  find_library(CJSON_LIBRARY cjson)
  if(NOT CJSON_INCLUDE_DIR OR NOT CJSON_LIBRARY)
    message(FATAL_ERROR "cutout: cJSON not found (expected cjson/cJSON.h and libcjson.so). "
      "On Debian or Ubuntu: sudo apt-get install libcjson-dev")
  endif()
  target_include_directories(cutout_cjson INTERFACE ${CJSON_INCLUDE_DIR})
  target_link_libraries(cutout_cjson INTERFACE ${CJSON_LIBRARY})
endif()

# DLPack: the system header, else libtorch's copy under the name the public
# header includes (<dlpack/dlpack.h>), written into the build tree.
# A folder cached by an earlier configure that no longer has the header
# (the package was removed) is searched for again.
if(DLPACK_INCLUDE_DIR AND NOT EXISTS ${DLPACK_INCLUDE_DIR}/dlpack/dlpack.h)
  unset(DLPACK_INCLUDE_DIR CACHE)
endif()
find_path(DLPACK_INCLUDE_DIR dlpack/dlpack.h)
if(NOT DLPACK_INCLUDE_DIR AND TORCH_INCLUDE_DIRS)
  find_file(CUTOUT_ATEN_DLPACK ATen/dlpack.h PATHS ${TORCH_INCLUDE_DIRS} NO_DEFAULT_PATH)
  if(CUTOUT_ATEN_DLPACK)
    configure_file(${CUTOUT_ATEN_DLPACK} ${CMAKE_BINARY_DIR}/dlpack_header/dlpack/dlpack.h COPYONLY)
    set(DLPACK_INCLUDE_DIR ${CMAKE_BINARY_DIR}/dlpack_header CACHE PATH "dlpack/dlpack.h" FORCE)
    message(STATUS "cutout: DLPack header from libtorch (${CUTOUT_ATEN_DLPACK})")
  endif()
endif()
if(NOT DLPACK_INCLUDE_DIR)
  message(FATAL_ERROR "cutout: dlpack/dlpack.h not found (nor libtorch's ATen/dlpack.h). "
    "On Debian or Ubuntu: sudo apt-get install libdlpack-dev")
endif()

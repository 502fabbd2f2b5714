# libtorch from a torch wheel's package folder (CUTOUT_TORCH_DIR, for
# example <venv>/site-packages/torch), without the wheel's CMake package.
# That package, in a CUDA wheel, looks for a CUDA toolkit (nvcc) that a
# ComfyUI install usually does not have, although the shim compiles no CUDA
# code: it reaches the GPU through libtorch's own dispatch. Defines
# TORCH_LIBRARIES (an interface target) and TORCH_INCLUDE_DIRS.
# CUTOUT_TORCH_CXX11_ABI is the wheel's torch._C._GLIBCXX_USE_CXX11_ABI (0/1).
set(CUTOUT_TORCH_CXX11_ABI "1" CACHE STRING "_GLIBCXX_USE_CXX11_ABI of the torch wheel")

set(TORCH_INCLUDE_DIRS
  ${CUTOUT_TORCH_DIR}/include
  ${CUTOUT_TORCH_DIR}/include/torch/csrc/api/include)
if(NOT EXISTS ${CUTOUT_TORCH_DIR}/include/torch/script.h)
  message(FATAL_ERROR "cutout: ${CUTOUT_TORCH_DIR} has no include/torch/script.h "
    "(expected the package folder of a torch wheel, torch.__path__[0])")
endif()

add_library(cutout_torch_wheel INTERFACE)
target_include_directories(cutout_torch_wheel SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
target_compile_definitions(cutout_torch_wheel INTERFACE
  _GLIBCXX_USE_CXX11_ABI=${CUTOUT_TORCH_CXX11_ABI})
foreach(name c10 torch_cpu torch)
  find_library(CUTOUT_TORCH_LIB_${name} ${name} PATHS ${CUTOUT_TORCH_DIR}/lib NO_DEFAULT_PATH)
  if(NOT CUTOUT_TORCH_LIB_${name})
    message(FATAL_ERROR "cutout: lib${name}.so not found in ${CUTOUT_TORCH_DIR}/lib")
  endif()
  target_link_libraries(cutout_torch_wheel INTERFACE ${CUTOUT_TORCH_LIB_${name}})
endforeach()
# A CUDA wheel: link its CUDA libraries even though no symbol of theirs is
# used, so that the command (a process without Python) registers CUDA too.
foreach(name c10_cuda torch_cuda)
  find_library(CUTOUT_TORCH_LIB_${name} ${name} PATHS ${CUTOUT_TORCH_DIR}/lib NO_DEFAULT_PATH)
  if(CUTOUT_TORCH_LIB_${name})
    target_link_libraries(cutout_torch_wheel INTERFACE
      "-Wl,--no-as-needed" ${CUTOUT_TORCH_LIB_${name}} "-Wl,--as-needed")
  endif()
endforeach()
set(TORCH_LIBRARIES cutout_torch_wheel)
message(STATUS "cutout: libtorch from the wheel at ${CUTOUT_TORCH_DIR}")

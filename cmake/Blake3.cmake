# Builds the official BLAKE3 C implementation from the sources Debian ships in
# librust-blake3-dev, with its x86-64 SSE2/SSE4.1/AVX2/AVX-512 assembly and runtime dispatch.
# Nothing is vendored: configure fails with a clear message when the package is missing.
file(GLOB _b3_candidates LIST_DIRECTORIES true "/usr/share/cargo/registry/blake3-*/c")
set(BLAKE3_C_DIR "" CACHE PATH "Directory holding blake3.c and its x86-64 assembly")
if(NOT BLAKE3_C_DIR)
  foreach(_d IN LISTS _b3_candidates)
    if(EXISTS "${_d}/blake3.c" AND EXISTS "${_d}/blake3_avx2_x86-64_unix.S")
      set(BLAKE3_C_DIR "${_d}")
    endif()
  endforeach()
endif()
if(NOT BLAKE3_C_DIR OR NOT EXISTS "${BLAKE3_C_DIR}/blake3.c")
  message(FATAL_ERROR "BLAKE3 C sources not found under /usr/share/cargo/registry/blake3-*/c. "
                      "Install them with: scripts/install-deps.sh (Debian package librust-blake3-dev), "
                      "or pass -DBLAKE3_C_DIR=/path/to/blake3/c")
endif()
message(STATUS "BLAKE3 C sources: ${BLAKE3_C_DIR}")

set(_b3_src "${BLAKE3_C_DIR}/blake3.c" "${BLAKE3_C_DIR}/blake3_dispatch.c"
            "${BLAKE3_C_DIR}/blake3_portable.c")
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  foreach(_k sse2 sse41 avx2 avx512)
    if(NOT EXISTS "${BLAKE3_C_DIR}/blake3_${_k}_x86-64_unix.S")
      message(FATAL_ERROR "BLAKE3 assembly blake3_${_k}_x86-64_unix.S missing in ${BLAKE3_C_DIR}")
    endif()
    list(APPEND _b3_src "${BLAKE3_C_DIR}/blake3_${_k}_x86-64_unix.S")
  endforeach()
else()
  list(APPEND _b3_src "${BLAKE3_C_DIR}/blake3_neon.c")
endif()
add_library(blake3 STATIC ${_b3_src})
target_include_directories(blake3 SYSTEM PUBLIC "${BLAKE3_C_DIR}")
set_target_properties(blake3 PROPERTIES POSITION_INDEPENDENT_CODE ON C_STANDARD 99)
target_compile_options(blake3 PRIVATE -O3)
if(NOT CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  target_compile_definitions(blake3 PRIVATE BLAKE3_USE_NEON=1)
endif()
# The assembly objects need a non-executable stack note.
set_source_files_properties(${_b3_src} PROPERTIES COMPILE_OPTIONS "$<$<COMPILE_LANGUAGE:ASM>:-Wa,--noexecstack>")

# The VDir (shared-memory metadata index), included from src/vrift/CMakeLists.txt.
# vrift_vdir_reader is what the shim links: freestanding (libc headers only, no C++ runtime
# use), no exceptions, no RTTI, position-independent. vrift_vdir is the daemon's writer.
# GCC expands a fixed-size memset or memcpy of 64-256 bytes (a struct stat, a record) into
# `rep stosq`/`rep movsq`, which on the AMD EPYC machines this runs on takes ~15 ns to start:
# more than the rest of fill_stat. 16-byte vector stores up to 256 bytes, libc's own routine
# above. Used by the reader and the shim (shim.cmake), whose every call counts.
# Asked of the compiler itself (GCC for x86 only; not clang, not a cross compiler for another
# architecture whatever CMAKE_SYSTEM_PROCESSOR says).
include(CheckCXXCompilerFlag)
check_cxx_compiler_flag("-mmemset-strategy=vector_loop:256:noalign,libcall:-1:noalign"
                        VRIFT_HAS_MEMSET_STRATEGY)
check_cxx_compiler_flag("-mmemcpy-strategy=vector_loop:256:noalign,libcall:-1:noalign"
                        VRIFT_HAS_MEMCPY_STRATEGY)
set(VRIFT_GCC_STRINGOP_FLAGS)
if(VRIFT_HAS_MEMSET_STRATEGY AND VRIFT_HAS_MEMCPY_STRATEGY)
  set(VRIFT_GCC_STRINGOP_FLAGS -mmemset-strategy=vector_loop:256:noalign,libcall:-1:noalign
      -mmemcpy-strategy=vector_loop:256:noalign,libcall:-1:noalign)
endif()
add_library(vrift_vdir_reader STATIC vdir/vdir_reader.cpp vdir/vdir_map.cpp)
target_include_directories(vrift_vdir_reader PUBLIC ${PROJECT_SOURCE_DIR}/src)
# Nothing interposes the reader's functions (the shim exports only its hooks), so GCC may
# inline probe() and read_record() into lookup() although they have default visibility.
target_compile_options(vrift_vdir_reader PRIVATE ${VRIFT_WARNINGS} -fno-exceptions -fno-rtti
                       -fno-semantic-interposition ${VRIFT_GCC_STRINGOP_FLAGS})
set_target_properties(vrift_vdir_reader PROPERTIES POSITION_INDEPENDENT_CODE ON)

vrift_library(vrift_vdir SOURCES vdir/vdir_writer.cpp vdir/vdir_ops.cpp
              DEPS vrift_manifest vrift_vdir_reader)

# The seqlock uses stand-alone fences; GCC warns that TSan does not model them (-Wtsan). Every
# shared word is an atomic, so TSan still checks what it can (docs/vdir.md, "What TSan checks").
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(vrift_vdir_reader PRIVATE -Wno-tsan)
  target_compile_options(vrift_vdir PRIVATE -Wno-tsan)
endif()

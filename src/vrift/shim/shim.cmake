# The shim (InceptionLayer): an LD_PRELOAD library that needs only libc. Included from
# src/vrift/CMakeLists.txt after vdir.cmake. Its sources are compiled twice: into
# vrift_shim_core (a static library the unit tests link, with the build's sanitizers) and into
# libvrift_shim.so, which never carries sanitizer runtimes (it is preloaded into programs that
# have none), no C++ runtime, no exceptions and exports only the interposed symbols.
set(VRIFT_SHIM_CORE_SOURCES
    shim/core/state.cpp shim/core/path.cpp shim/core/fdtab.cpp shim/core/lookup.cpp
    shim/core/statfill.cpp shim/core/dirstream.cpp shim/core/realpath.cpp)
set(VRIFT_SHIM_ENTRY_SOURCES
    shim/entry/entry_init.cpp shim/entry/entry_stat.cpp shim/entry/entry_open.cpp
    shim/entry/entry_dir.cpp shim/entry/entry_misc.cpp shim/entry/entry_xattr.cpp
    shim/entry/entry_fdmeta.cpp shim/entry/entry_dl.cpp
    shim/entry/entry_fsinfo.cpp shim/entry/entry_ftw.cpp
    shim/entry/entry_exec.cpp shim/entry/entry_mutate.cpp shim/entry/entry_vfork.cpp)
# -fno-delete-null-pointer-checks: glibc declares these arguments nonnull, but a program that
# passes NULL must get what libc gives it, not a crash inside the shim.
set(VRIFT_SHIM_FLAGS -fno-exceptions -fno-rtti -fno-threadsafe-statics -fvisibility=hidden
    -fno-asynchronous-unwind-tables -fno-delete-null-pointer-checks)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  list(APPEND VRIFT_SHIM_FLAGS -Wno-nonnull-compare ${VRIFT_GCC_STRINGOP_FLAGS})
else()
  list(APPEND VRIFT_SHIM_FLAGS -Wno-pointer-bool-conversion)
endif()

# dlopen must reach glibc's by a tail call in every build (glibc takes the caller from its
# return address: "$ORIGIN" and RPATH would be the shim's), and -O0 makes no tail calls.
set_source_files_properties(shim/entry/entry_dl.cpp PROPERTIES COMPILE_OPTIONS "-O2")

add_library(vrift_shim_core STATIC ${VRIFT_SHIM_CORE_SOURCES})
target_include_directories(vrift_shim_core PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_compile_options(vrift_shim_core PRIVATE ${VRIFT_WARNINGS} -fno-exceptions -fno-rtti)
target_link_libraries(vrift_shim_core PUBLIC vrift_vdir_reader)
set_target_properties(vrift_shim_core PROPERTIES POSITION_INDEPENDENT_CODE ON)

add_library(vrift_shim SHARED ${VRIFT_SHIM_CORE_SOURCES} ${VRIFT_SHIM_ENTRY_SOURCES}
            vdir/vdir_reader.cpp vdir/vdir_map.cpp)
# Replace (not extend) the directory's options: no -fsanitize=... in the preloaded library.
set_property(TARGET vrift_shim PROPERTY COMPILE_OPTIONS ${VRIFT_WARNINGS} ${VRIFT_SHIM_FLAGS})
# --as-needed: CMake adds the C++ compiler's implicit libraries (-lstdc++ -lm) to a C-linked
# target with C++ objects; Debian's GCC drops unused ones by default, clang does not.
set_property(TARGET vrift_shim PROPERTY LINK_OPTIONS
             -Wl,--as-needed -Wl,--no-undefined -Wl,-z,now -Wl,-z,noexecstack
             -Wl,--version-script=${CMAKE_CURRENT_SOURCE_DIR}/shim/exports.map)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(vrift_shim PRIVATE -Wno-tsan)
endif()
target_include_directories(vrift_shim PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(vrift_shim PRIVATE c)
# Linked by the C driver: no libstdc++, no libgcc_s.
set_target_properties(vrift_shim PROPERTIES OUTPUT_NAME vrift_shim PREFIX lib LINKER_LANGUAGE C
                      LINK_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/shim/exports.map)
install(TARGETS vrift_shim LIBRARY DESTINATION lib/vrift)

# The wire protocol (docs/protocol.md). Two libraries:
#  - vrift_proto: the freestanding codec the shim links. No exceptions, no RTTI, no heap, no
#    libstdc++ at run time; the test proto.freestanding checks its objects' undefined symbols.
#  - vrift_proto_io: blocking socket I/O and a client for the CLI and the daemon.
set(VRIFT_PROTO_CORE_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/wire.cpp
    ${CMAKE_CURRENT_LIST_DIR}/names.cpp
    ${CMAKE_CURRENT_LIST_DIR}/codec.cpp)
vrift_library(vrift_proto SOURCES ${VRIFT_PROTO_CORE_SOURCES})
target_compile_options(vrift_proto PRIVATE -fno-exceptions -fno-rtti)

vrift_library(vrift_proto_io SOURCES ${CMAKE_CURRENT_LIST_DIR}/io.cpp
              ${CMAKE_CURRENT_LIST_DIR}/client.cpp DEPS vrift_proto vrift_util)

# The core must not pull in libstdc++ (the shim is loaded into programs that may not have it)
# nor allocate. The test is added to the top directory once it has enabled testing.
function(vrift_proto_add_tests)
  add_test(NAME proto.freestanding
           COMMAND sh ${PROJECT_SOURCE_DIR}/src/vrift/proto/check_freestanding.sh
                   $<TARGET_FILE:vrift_proto>)
  set_tests_properties(proto.freestanding PROPERTIES LABELS unit)
endfunction()
# Sanitizer builds instrument the objects with their own runtime calls (__asan_*, __tsan_*),
# which this check would rightly reject: it runs on the plain build only.
if(VRIFT_TESTS AND NOT VRIFT_SANITIZE AND NOT VRIFT_TSAN)
  cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL vrift_proto_add_tests)
endif()

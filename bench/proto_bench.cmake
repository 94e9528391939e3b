# Micro-benchmark of the wire protocol codec (Google Benchmark): vrift_proto_bench.
find_package(benchmark QUIET)
if(benchmark_FOUND AND TARGET vrift_proto)
  add_executable(vrift_proto_bench ${CMAKE_CURRENT_LIST_DIR}/proto_bench.cpp)
  target_link_libraries(vrift_proto_bench PRIVATE vrift_proto benchmark::benchmark)
  target_compile_options(vrift_proto_bench PRIVATE ${VRIFT_WARNINGS})
endif()

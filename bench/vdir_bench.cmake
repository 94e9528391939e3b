# VDir lookup latency vs kernel stat() (Google Benchmark); included from bench/CMakeLists.txt.
find_package(benchmark REQUIRED)
add_executable(vrift_vdir_bench ${CMAKE_CURRENT_SOURCE_DIR}/vdir_bench.cpp)
target_link_libraries(vrift_vdir_bench PRIVATE vrift_vdir benchmark::benchmark Threads::Threads)
target_compile_options(vrift_vdir_bench PRIVATE ${VRIFT_WARNINGS})

# find_package(mem_io): mem_io::mem_io (static library, the mem_io_* API) and mem_io::shared
# (libmem_io.so: the same API, and the program's malloc, free, new and delete).
include(CMakeFindDependencyMacro)
find_dependency(Threads)
include(${CMAKE_CURRENT_LIST_DIR}/mem_io-targets.cmake)

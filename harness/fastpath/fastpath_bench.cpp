// mem_io_fastpath: nanoseconds per malloc+free pair, by size class, on Google Benchmark.
//
//   mem_io_fastpath --api=mem_io [--label=mem_io] [benchmark flags]   mem_io linked, its own API
//   LD_PRELOAD=lib.so mem_io_fastpath --api=malloc --label=NAME ...    whatever malloc the process has
//
// Each allocator is measured in its own process (fastpath.py runs them interleaved), so one
// allocator's caches, heap layout and TLS never warm another's. Benchmarks:
//   pair/<label>/<size>   malloc(size) then free it at once: the allocator's hottest path
//   batch/<label>/<size>  1000 mallocs, then 1000 frees: runs past per-thread caches;
//                         the counter per_pair is the time of one malloc+free
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "memory.h"

namespace {

struct Api {
    void *(*allocate)(size_t);
    void (*release)(void *);
};

void *libc_allocate(size_t size) { return std::malloc(size); }
void libc_release(void *block) { std::free(block); }

const size_t kSizes[] = {8, 16, 32, 64, 128, 256, 512, 1024, 4096, 32768};
constexpr int kBatch = 1000;

void Pair(benchmark::State &state, Api api, size_t size) {
    for (auto _ : state) {
        void *block = api.allocate(size);
        benchmark::DoNotOptimize(block);
        api.release(block);
    }
    state.counters["per_pair"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate |
                                                           benchmark::Counter::kInvert);
}

void Batch(benchmark::State &state, Api api, size_t size) {
    std::vector<void *> blocks(kBatch);
    for (auto _ : state) {
        for (int i = 0; i < kBatch; i++) blocks[i] = api.allocate(size);
        benchmark::DoNotOptimize(blocks.data());
        benchmark::ClobberMemory();
        for (int i = 0; i < kBatch; i++) api.release(blocks[i]);
    }
    state.counters["per_pair"] = benchmark::Counter(kBatch, benchmark::Counter::kIsIterationInvariantRate |
                                                                benchmark::Counter::kInvert);
}

[[noreturn]] void UsageError(const std::string &why) {
    std::fprintf(stderr,
                 "mem_io_fastpath: %s\nusage: mem_io_fastpath --api=mem_io|malloc [--label=NAME] "
                 "[--benchmark_... flags]\n",
                 why.c_str());
    std::exit(2);
}

}  // namespace

int main(int argc, char **argv) {
    std::string api_name, label;
    std::vector<char *> rest{argv[0]};
    for (int i = 1; i < argc; i++) {
        if (std::strncmp(argv[i], "--api=", 6) == 0) api_name = argv[i] + 6;
        else if (std::strncmp(argv[i], "--label=", 8) == 0) label = argv[i] + 8;
        else rest.push_back(argv[i]);
    }
    Api api{};
    if (api_name == "malloc") {
        api = {libc_allocate, libc_release};
    } else if (api_name == "mem_io") {
        api = {mem_io_malloc, mem_io_free};
    } else {
        UsageError(api_name.empty() ? "missing --api" : "unknown --api '" + api_name + "'");
    }
    if (label.empty()) label = api_name == "mem_io" ? "mem_io" : "system";

    for (size_t size : kSizes) {
        benchmark::RegisterBenchmark(("pair/" + label + "/" + std::to_string(size)).c_str(), Pair, api, size);
        benchmark::RegisterBenchmark(("batch/" + label + "/" + std::to_string(size)).c_str(), Batch, api, size);
    }
    int rest_count = static_cast<int>(rest.size());
    benchmark::Initialize(&rest_count, rest.data());
    if (benchmark::ReportUnrecognizedArguments(rest_count, rest.data())) return 2;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

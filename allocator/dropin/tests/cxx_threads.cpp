// A C++ program linked (not preloaded) against libmem_io.so: std containers
// built on some threads and destroyed on others, aligned and nothrow new.
// It proves that mem_io served it (malloc and operator new resolve into
// libmem_io.so, and mem_io's counters saw the allocations) and that every
// result is right. Exit 0 and "cxx_threads: ok" on success.
#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

extern "C" {
#include "memory.h"
}

namespace {

int failures = 0;

void check(bool condition, const char *what)
{
    if (!condition) {
        std::fprintf(stderr, "cxx_threads: check failed: %s\n", what);
        failures++;
    }
}

bool resolves_into_mem_io(void *symbol)
{
    Dl_info info;
    return symbol && dladdr(symbol, &info) && info.dli_fname &&
           std::strstr(info.dli_fname, "libmem_io.so");
}

// Batches of strings made by producers and destroyed by consumers, so most
// blocks are freed by a thread other than the one that allocated them.
struct Handoff {
    std::mutex lock;
    std::condition_variable ready;
    std::deque<std::unique_ptr<std::vector<std::string>>> batches;
    int producers_left = 0;
};

constexpr int kProducers = 3, kConsumers = 3, kBatches = 400, kBatchSize = 50;

void produce(Handoff &handoff, int producer)
{
    for (int batch = 0; batch < kBatches; batch++) {
        auto strings = std::make_unique<std::vector<std::string>>();
        for (int i = 0; i < kBatchSize; i++)
            strings->push_back(std::to_string(producer) + ":" + std::string(i % 40, 'x') +
                               std::to_string(batch * kBatchSize + i));
        std::lock_guard<std::mutex> guard(handoff.lock);
        handoff.batches.push_back(std::move(strings));
        handoff.ready.notify_one();
    }
    std::lock_guard<std::mutex> guard(handoff.lock);
    if (--handoff.producers_left == 0)
        handoff.ready.notify_all();
}

// Destroyed when each consumer thread exits, during TLS teardown: frees that
// arrive while (or after) mem_io returns the thread's cached memory.
thread_local std::vector<std::string> recent_strings;

void consume(Handoff &handoff, std::map<std::string, int> &counts, std::mutex &counts_lock,
             std::uint64_t &total_length)
{
    std::unordered_map<std::string, int> local;
    std::uint64_t length = 0;
    for (;;) {
        std::unique_ptr<std::vector<std::string>> strings;
        {
            std::unique_lock<std::mutex> guard(handoff.lock);
            handoff.ready.wait(guard, [&] { return !handoff.batches.empty() || handoff.producers_left == 0; });
            if (handoff.batches.empty())
                break;
            strings = std::move(handoff.batches.front());
            handoff.batches.pop_front();
        }
        for (const std::string &text : *strings) {
            length += text.size();
            if (text.size() % 7 == 0)
                recent_strings.push_back(text);
            local[text.substr(0, text.find(':'))]++;
        }
    } // each batch is destroyed here, on the consumer thread
    std::lock_guard<std::mutex> guard(counts_lock);
    for (const auto &entry : local)
        counts[entry.first] += entry.second;
    total_length += length;
}

struct alignas(256) Aligned {
    char bytes[300];
};

} // namespace

int main()
{
    check(resolves_into_mem_io(dlsym(RTLD_DEFAULT, "malloc")), "malloc resolves into libmem_io.so");
    check(resolves_into_mem_io(dlsym(RTLD_DEFAULT, "_Znwm")),
          "operator new resolves into libmem_io.so");
    mem_io_stats before;
    mem_io_get_stats(&before);

    Handoff handoff;
    handoff.producers_left = kProducers;
    std::map<std::string, int> counts;
    std::mutex counts_lock;
    std::uint64_t total_length = 0;
    std::vector<std::thread> threads;
    for (int producer = 0; producer < kProducers; producer++)
        threads.emplace_back(produce, std::ref(handoff), producer);
    for (int consumer = 0; consumer < kConsumers; consumer++)
        threads.emplace_back(consume, std::ref(handoff), std::ref(counts), std::ref(counts_lock),
                             std::ref(total_length));
    for (std::thread &thread : threads)
        thread.join();

    std::uint64_t expected_length = 0;
    for (int producer = 0; producer < kProducers; producer++)
        for (int n = 0; n < kBatches * kBatchSize; n++)
            expected_length += std::to_string(producer).size() + 1 + n % kBatchSize % 40 +
                               std::to_string(n).size();
    check(counts.size() == kProducers, "one count per producer");
    for (const auto &entry : counts)
        check(entry.second == kBatches * kBatchSize, "every string arrived exactly once");
    check(total_length == expected_length, "total length of all strings");

    // Over-aligned new and sized delete, shared_ptr control blocks freed elsewhere.
    std::vector<std::unique_ptr<Aligned>> aligned;
    for (int i = 0; i < 100; i++) {
        aligned.push_back(std::make_unique<Aligned>());
        check(reinterpret_cast<std::uintptr_t>(aligned.back().get()) % 256 == 0,
              "new of an alignas(256) type is 256-byte aligned");
    }
    auto shared = std::make_shared<std::vector<int>>(10000, 7);
    std::thread([copy = shared]() mutable { copy.reset(); }).join();
    check(shared.use_count() == 1 && (*shared)[9999] == 7, "shared_ptr handed across threads");

    // Impossible requests: nothrow new gives nullptr, plain new throws.
    volatile std::size_t huge_request = static_cast<std::size_t>(PTRDIFF_MAX) + 1;
    std::size_t huge = huge_request; // volatile: the compiler must not reject the request itself
    check(::operator new(huge, std::nothrow) == nullptr, "nothrow new of a huge size is nullptr");
    bool threw = false;
    try {
        void *never = ::operator new(huge);
        ::operator delete(never);
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    check(threw, "new of a huge size throws std::bad_alloc");

    // The new_handler runs on each failure until it gives up by throwing.
    static int handler_calls;
    std::set_new_handler([] {
        if (++handler_calls == 3)
            throw std::bad_alloc();
    });
    threw = false;
    try {
        void *never = ::operator new[](huge, std::align_val_t(64));
        ::operator delete[](never, std::align_val_t(64));
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    std::set_new_handler(nullptr);
    check(threw && handler_calls == 3, "aligned new[] retries through the new_handler");

    mem_io_stats after;
    mem_io_get_stats(&after);
    const std::uint64_t strings_made = kProducers * kBatches * kBatchSize;
    check(after.malloc_calls - before.malloc_calls >= strings_made / 2,
          "mem_io counted the program's allocations");
    check(after.errors == 0, "mem_io saw no misuse");
    if (failures)
        return 1;
    std::printf("cxx_threads: ok: %llu mallocs and %llu frees served by mem_io\n",
                static_cast<unsigned long long>(after.malloc_calls - before.malloc_calls),
                static_cast<unsigned long long>(after.free_calls - before.free_calls));
    return 0;
}

// libFuzzer target: any bytes, as a plain or gzip trace, are either refused with a TraceError or
// decoded; small decoded traces are also replayed (bump allocator, ends touched). Nothing may
// crash, leak or read out of bounds (ASan+UBSan).
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "allocators.hpp"
#include "replay.hpp"
#include "trace.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fd = memfd_create("trace", 0);
  if (fd < 0) return 0;
  if (write(fd, data, size) == ssize_t(size)) {
    std::string path = "/proc/self/fd/" + std::to_string(fd);
    try {
      memio::Trace trace = memio::load_trace(path);
      if (trace.op_count <= 2000 && trace.threads.size() <= 4) {
        static memio::BumpAllocator allocator;
        static const memio::TimerCalibration timer = memio::calibrate_timer();
        memio::Replayer<memio::BumpAllocator> replayer(trace, allocator, memio::Touch::ends, 1, timer);
        replayer.run();
        if (replayer.problem().found) __builtin_trap();  // the bump allocator never corrupts
      }
    } catch (const memio::TraceError&) {
    }
  }
  close(fd);
  return 0;
}

// Measuring tools the replay uses: a cheap cycle timer, RSS readers, the RSS/live-bytes sampler
// thread and latency percentiles.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace memio {

// Ticks of the cheapest monotonic clock: the TSC on x86 (a few ns to read), else CLOCK_MONOTONIC.
inline uint64_t ticks() {
#if defined(__x86_64__) || defined(__i386__)
  return __rdtsc();
#else
  return uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

// CPU time the calling thread (CLOCK_THREAD_CPUTIME_ID) or the process has used.
uint64_t thread_cpu_ns();
uint64_t process_cpu_ns();
uint64_t process_minor_faults();  // minor page faults of the whole process so far (getrusage)

struct TimerCalibration {
  double ticks_per_ns = 1;
  uint64_t overhead_ticks = 0;    // median cost of two back-to-back reads
  uint64_t resolution_ticks = 1;  // median smallest step between two reads that differ
};
// Measures ticks per nanosecond against steady_clock (~20 ms), the timer's own cost and the
// smallest step it shows (a virtual machine's TSC may advance ~10 ns at a time).
TimerCalibration calibrate_timer();

uint64_t current_rss_bytes();  // /proc/self/statm
uint64_t peak_rss_bytes();     // VmHWM from /proc/self/status
bool reset_peak_rss();         // writes 5 to /proc/self/clear_refs; false if the kernel refuses

// Each replay thread counts the requested bytes it allocated minus those it freed; the sampler
// sums them. One cache line each so the replay threads never share a line.
struct alignas(64) LiveCounter {
  std::atomic<int64_t> bytes{0};
};

struct Timeline {
  double interval_ms = 1;
  std::vector<double> t_ms;
  std::vector<uint64_t> rss_bytes;
  std::vector<int64_t> live_bytes;
};

// A thread that samples RSS and live bytes about every millisecond while a replay runs. Its
// buffers are reserved up front; when full it keeps every other sample and halves the rate.
class Sampler {
 public:
  Sampler(const LiveCounter* counters, size_t counter_count);
  ~Sampler();
  void start();
  void stop();
  const Timeline& timeline() const { return timeline_; }  // since the last start()
  uint64_t max_rss() const { return max_rss_; }

 private:
  void run();
  void sample(double t_ms);
  const LiveCounter* counters_;
  size_t counter_count_;
  int statm_fd_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  Timeline timeline_;
  uint64_t max_rss_ = 0;
};

// Latency percentiles in ns, timer overhead subtracted. A value the timer cannot resolve (below
// its resolution once the overhead is gone) is reported as the resolution with censored set:
// the call took at most that long. Never 0, and p50 <= p99 <= p999 <= max.
struct Percentiles {
  double p50 = 0, p99 = 0, p999 = 0, max = 0;
  bool p50_censored = false, p99_censored = false, p999_censored = false, max_censored = false;
};
// samples: raw ticks of timed calls (timer overhead included); sorts them in place.
Percentiles percentiles(std::vector<uint32_t>& samples, const TimerCalibration& timer);

}  // namespace memio

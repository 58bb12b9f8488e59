#include "measure.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace memio {

namespace {
uint64_t clock_ns(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}
}  // namespace

uint64_t thread_cpu_ns() { return clock_ns(CLOCK_THREAD_CPUTIME_ID); }
uint64_t process_cpu_ns() { return clock_ns(CLOCK_PROCESS_CPUTIME_ID); }

uint64_t process_minor_faults() {
  rusage usage;
  return getrusage(RUSAGE_SELF, &usage) == 0 ? uint64_t(usage.ru_minflt) : 0;
}

TimerCalibration calibrate_timer() {
  TimerCalibration c;
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  uint64_t k0 = ticks();
  while (clock::now() - t0 < std::chrono::milliseconds(20)) {
  }
  uint64_t k1 = ticks();
  double ns = double(std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - t0).count());
  c.ticks_per_ns = std::max(1e-9, double(k1 - k0) / ns);
  std::vector<uint64_t> costs(1001);
  for (auto& cost : costs) {
    uint64_t a = ticks();
    uint64_t b = ticks();
    cost = b - a;
  }
  std::nth_element(costs.begin(), costs.begin() + costs.size() / 2, costs.end());
  c.overhead_ticks = costs[costs.size() / 2];
  for (auto& step : costs) {
    uint64_t a = ticks(), b;
    while ((b = ticks()) == a) {
    }
    step = b - a;
  }
  std::nth_element(costs.begin(), costs.begin() + costs.size() / 2, costs.end());
  c.resolution_ticks = std::max<uint64_t>(1, costs[costs.size() / 2]);
  return c;
}

namespace {
// Reads a small /proc file into buf without allocating; returns the bytes read.
size_t read_proc(int fd, char* buf, size_t size) {
  ssize_t n = pread(fd, buf, size - 1, 0);
  if (n < 0) n = 0;
  buf[n] = '\0';
  return size_t(n);
}

uint64_t statm_rss(int fd) {
  char buf[128];
  read_proc(fd, buf, sizeof buf);
  unsigned long long size_pages = 0, rss_pages = 0;
  if (std::sscanf(buf, "%llu %llu", &size_pages, &rss_pages) != 2) return 0;
  return rss_pages * uint64_t(sysconf(_SC_PAGESIZE));
}
}  // namespace

uint64_t current_rss_bytes() {
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  uint64_t rss = statm_rss(fd);
  close(fd);
  return rss;
}

uint64_t peak_rss_bytes() {
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[4096];
  read_proc(fd, buf, sizeof buf);
  close(fd);
  const char* line = std::strstr(buf, "VmHWM:");
  return line ? std::strtoull(line + 6, nullptr, 10) * 1024 : 0;
}

bool reset_peak_rss() {
  int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, "5", 1) == 1;
  close(fd);
  return ok;
}

namespace {
constexpr size_t timeline_capacity = 1 << 14;
}

Sampler::Sampler(const LiveCounter* counters, size_t counter_count)
    : counters_(counters), counter_count_(counter_count),
      statm_fd_(open("/proc/self/statm", O_RDONLY | O_CLOEXEC)) {
  timeline_.t_ms.reserve(timeline_capacity);
  timeline_.rss_bytes.reserve(timeline_capacity);
  timeline_.live_bytes.reserve(timeline_capacity);
}

Sampler::~Sampler() {
  if (thread_.joinable()) stop();
  if (statm_fd_ >= 0) close(statm_fd_);
}

void Sampler::start() {
  timeline_.interval_ms = 1;
  timeline_.t_ms.clear();
  timeline_.rss_bytes.clear();
  timeline_.live_bytes.clear();
  max_rss_ = 0;
  running_.store(true, std::memory_order_release);
  thread_ = std::thread([this] { run(); });
}

void Sampler::stop() {
  running_.store(false, std::memory_order_release);
  thread_.join();
}

void Sampler::sample(double t_ms) {
  if (timeline_.t_ms.size() == timeline_capacity) {  // keep every other sample
    size_t kept = 0;
    for (size_t i = 0; i < timeline_capacity; i += 2, ++kept) {
      timeline_.t_ms[kept] = timeline_.t_ms[i];
      timeline_.rss_bytes[kept] = timeline_.rss_bytes[i];
      timeline_.live_bytes[kept] = timeline_.live_bytes[i];
    }
    timeline_.t_ms.resize(kept);
    timeline_.rss_bytes.resize(kept);
    timeline_.live_bytes.resize(kept);
    timeline_.interval_ms *= 2;
  }
  uint64_t rss = statm_fd_ >= 0 ? statm_rss(statm_fd_) : 0;
  int64_t live = 0;
  for (size_t i = 0; i < counter_count_; ++i) live += counters_[i].bytes.load(std::memory_order_relaxed);
  max_rss_ = std::max(max_rss_, rss);
  timeline_.t_ms.push_back(t_ms);
  timeline_.rss_bytes.push_back(rss);
  timeline_.live_bytes.push_back(live);
}

void Sampler::run() {
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  auto next = t0;
  for (;;) {
    bool last = !running_.load(std::memory_order_acquire);
    sample(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
    if (last) return;
    // After a late wake-up, continue from now rather than catching up in a burst.
    next = std::max(next + std::chrono::microseconds(int64_t(timeline_.interval_ms * 1000)), clock::now());
    std::this_thread::sleep_until(next);
  }
}

Percentiles percentiles(std::vector<uint32_t>& samples, const TimerCalibration& timer) {
  Percentiles p;
  if (samples.empty()) return p;
  std::sort(samples.begin(), samples.end());
  // Monotone in the sample, so the percentiles stay ordered after the floor is applied.
  auto at = [&](double q, bool* censored) {
    uint64_t raw = samples[std::min(samples.size() - 1, size_t(q * double(samples.size())))];
    uint64_t net = raw > timer.overhead_ticks ? raw - timer.overhead_ticks : 0;
    *censored = net < timer.resolution_ticks;
    return double(std::max(net, timer.resolution_ticks)) / timer.ticks_per_ns;
  };
  p.p50 = at(0.5, &p.p50_censored);
  p.p99 = at(0.99, &p.p99_censored);
  p.p999 = at(0.999, &p.p999_censored);
  p.max = at(1.0, &p.max_censored);
  return p;
}

}  // namespace memio

// mem_io_replay: replays allocation traces against one allocator as Google Benchmarks.
// Command line, counters and output files are documented in harness/README.md.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <new>
#include <utility>
#include <string>
#include <vector>

#include "allocators.hpp"
#include "replay.hpp"
#include "trace.hpp"

namespace memio {
namespace {

struct Options {
  std::string allocator;
  std::string label;
  std::vector<std::string> traces;
  int threads = 0;  // 0: replay the trace as recorded
  int scaling = 0;
  Touch touch = Touch::pages;
  std::string timeline_out;
  bool check = false;
  bool probe = false;
  // Time the process's first replay and nothing else: no warm-up, so the allocator starts
  // cold and the replay pays every first-touch page fault, as a short program does.
  bool cold = false;
};

constexpr int max_os_threads = 1024;

[[noreturn]] void usage_error(const std::string& problem) {
  std::fprintf(stderr, "mem_io_replay: %s\n", problem.c_str());
  std::fprintf(stderr,
               "usage: mem_io_replay --allocator=mem_io|system|bump [--label=NAME] --trace=PATH... [--threads=N]\n"
               "       [--scaling=MAXN] [--touch=none|ends|pages|full] [--timeline_out=FILE] [--cold] [--check]\n"
               "       mem_io_replay --probe\n"
               "       [Google Benchmark flags]   (see harness/README.md)\n");
  std::exit(1);
}

int parse_count(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end || value < 1 || value > max_os_threads)
    usage_error(flag + " needs a whole number from 1 to " + std::to_string(max_os_threads) + ", not '" + text + "'");
  return int(value);
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    size_t eq = arg.find('=');
    std::string flag = arg.substr(0, eq), value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    if (flag == "--allocator") o.allocator = value;
    else if (flag == "--label") o.label = value;
    else if (flag == "--trace") o.traces.push_back(value);
    else if (flag == "--threads") o.threads = parse_count(flag, value);
    else if (flag == "--scaling") o.scaling = parse_count(flag, value);
    else if (flag == "--touch") {
      if (!parse_touch(value, &o.touch)) usage_error("--touch must be none, ends, pages or full, not '" + value + "'");
    } else if (flag == "--timeline_out") o.timeline_out = value;
    else if (arg == "--check") o.check = true;
    else if (arg == "--cold") o.cold = true;
    else if (arg == "--probe") o.probe = true;
    else usage_error("unknown option '" + arg + "'");
  }
  if (o.probe) return o;
  if (o.traces.empty()) usage_error("no --trace given");
  for (const std::string& t : o.traces)
    if (t.empty()) usage_error("--trace needs a file name");
  if (!o.check) {
    if (o.allocator != "mem_io" && o.allocator != "system" && o.allocator != "bump")
      usage_error("--allocator must be mem_io, system or bump, not '" + o.allocator + "'");
    if (o.threads && o.scaling) usage_error("give --threads or --scaling, not both");
    if (o.cold && (o.traces.size() > 1 || o.scaling))
      usage_error("--cold times one replay per process: give one --trace and no --scaling");
  }
  if (o.label.empty()) o.label = o.allocator;
  return o;
}

struct TimelineRecord {
  std::string name, workload;
  int threads;
  uint64_t baseline_rss, ideal;
  Timeline timeline;
};

struct Shared {
  Options options;
  TimerCalibration timer;
  std::vector<TimelineRecord> timelines;
  bool failed = false;
};

template <class Allocator>
class BenchmarkCase {
 public:
  BenchmarkCase(Shared& shared, Allocator& allocator, const Trace& trace, int copies, std::string name)
      : shared_(shared), allocator_(allocator), trace_(trace), copies_(copies), name_(std::move(name)) {}

  void run(benchmark::State& state) {
    if (!replayer_) {
      replayer_.reset(new Replayer<Allocator>(trace_, allocator_, shared_.options.touch, copies_, shared_.timer,
                                              !shared_.options.timeline_out.empty()));
      baseline_rss_ = current_rss_bytes();
      if (!shared_.options.cold) replayer_->run();  // warm-up
    }
    const double ticks_per_s = shared_.timer.ticks_per_ns * 1e9;
    double wall_s = 0, cpu_s = 0;
    uint64_t replays = 0, peak_rss = 0, failed_allocs = 0;
    replayer_->clear_latency();
    const uint64_t faults_before = process_minor_faults();
    for (auto _ : state) {
      ReplayResult r = replayer_->run();
      double seconds = double(r.wall_ticks) / ticks_per_s;
      state.SetIterationTime(seconds);
      wall_s += seconds;
      cpu_s += double(r.cpu_ns) * 1e-9;
      ++replays;
      peak_rss = std::max(peak_rss, r.peak_rss);
      failed_allocs += r.failed_allocs;
      if (!timeline_saved_ && !shared_.options.timeline_out.empty()) {
        shared_.timelines.push_back({name_, trace_.workload, replayer_->thread_count(), baseline_rss_,
                                     trace_.ideal_bytes * uint64_t(copies_), replayer_->timeline()});
        timeline_saved_ = true;
      }
    }
    if (replayer_->problem().found) {
      std::string message = describe_problem(trace_, replayer_->problem());
      std::fprintf(stderr, "%s\n", message.c_str());
      shared_.failed = true;
      state.SkipWithError(message.c_str());
      return;
    }
    const double faults = double(process_minor_faults() - faults_before);
    set_counters(state, wall_s, cpu_s, replays, peak_rss, failed_allocs);
    state.counters["minor_faults"] = faults / double(replays ? replays : 1);
    state.counters["process_minor_faults"] = double(process_minor_faults());
  }

 private:
  void set_counters(benchmark::State& state, double wall_s, double cpu_s, uint64_t replays, uint64_t peak_rss,
                    uint64_t failed_allocs) {
    auto& c = state.counters;
    const double ops = double(trace_.op_count) * copies_;
    const double per_s = double(replays) / (wall_s > 0 ? wall_s : 1e-12);
    c["ops"] = ops;
    c["ops_per_s"] = ops * per_s;
    c["ns_per_op"] = 1e9 / (ops * per_s);
    c["cpu_ns_per_op"] = cpu_s * 1e9 / (ops * double(replays ? replays : 1));
    uint64_t counts[latency_group_count] = {};
    for (const ThreadStream& t : trace_.threads)
      for (int k = 0; k < op_kind_count; ++k) counts[latency_group(OpKind(k))] += t.op_counts[k];
    for (int g = 0; g < latency_group_count; ++g) {
      if (!counts[g]) continue;
      std::string name = latency_group_name(g);
      c[name + "_per_s"] = double(counts[g]) * copies_ * per_s;
      if (replayer_->latency(g).empty()) continue;
      Percentiles p = percentiles(replayer_->latency(g), shared_.timer);
      const std::pair<const char*, std::pair<double, bool>> values[] = {
          {"p50", {p.p50, p.p50_censored}}, {"p99", {p.p99, p.p99_censored}},
          {"p999", {p.p999, p.p999_censored}}, {"max", {p.max, p.max_censored}}};
      for (const auto& [key, value] : values) {
        c["lat_" + name + "_" + key + "_ns"] = value.first;
        c["lat_" + name + "_" + key + "_censored"] = value.second ? 1 : 0;
      }
    }
    c["lat_sample_every"] = double(latency_sample_every);
    c["timer_overhead_ns"] = double(shared_.timer.overhead_ticks) / shared_.timer.ticks_per_ns;
    c["timer_resolution_ns"] = double(shared_.timer.resolution_ticks) / shared_.timer.ticks_per_ns;
    c["threads"] = replayer_->thread_count();
    const double ideal = double(trace_.ideal_bytes) * copies_;
    c["baseline_rss_bytes"] = double(baseline_rss_);
    c["peak_rss_bytes"] = double(peak_rss);
    c["final_rss_bytes"] = double(current_rss_bytes());
    c["ideal_bytes"] = ideal;
    c["fragmentation"] = ideal > 0 ? (double(peak_rss) - double(baseline_rss_)) / ideal : 0;
    c["failed_allocs"] = double(failed_allocs) / double(replays ? replays : 1);
    if (std::is_same<Allocator, MemIoAllocator>::value) {
      mem_io_stats stats{};
      mem_io_get_stats(&stats);
      c["mem_io_os_bytes"] = double(stats.os_bytes);
      c["mem_io_peak_os_bytes"] = double(stats.peak_os_bytes);
      c["mem_io_errors"] = double(stats.errors);
    }
  }

  Shared& shared_;
  Allocator& allocator_;
  const Trace& trace_;
  int copies_;
  std::string name_;
  std::unique_ptr<Replayer<Allocator>> replayer_;
  uint64_t baseline_rss_ = 0;
  bool timeline_saved_ = false;
};

template <class Allocator>
void register_benchmarks(Shared& shared, Allocator& allocator, const std::vector<Trace>& traces) {
  const Options& o = shared.options;
  std::vector<int> copies;
  if (o.scaling)
    for (int n = 1; n <= o.scaling; n *= 2) copies.push_back(n);
  else if (o.threads)
    copies.push_back(o.threads);
  for (const Trace& trace : traces)
    for (int n : copies.empty() ? std::vector<int>{1} : copies) {
      if (size_t(n) * trace.threads.size() > size_t(max_os_threads))
        usage_error(trace.path + ": " + std::to_string(n) + " copies × " + std::to_string(trace.threads.size()) +
                    " threads exceeds " + std::to_string(max_os_threads) + " OS threads");
      std::string name = copies.empty() ? "replay/" + trace.workload + "/" + o.label
                                        : "scale/" + trace.workload + "/" + o.label + "/threads:" + std::to_string(n);
      auto bench = std::make_shared<BenchmarkCase<Allocator>>(shared, allocator, trace, n, name);
      auto* registered =
          benchmark::RegisterBenchmark(name.c_str(), [bench](benchmark::State& state) { bench->run(state); })
              ->UseManualTime()
              ->Unit(benchmark::kMillisecond);
      // A process has one cold replay: the first. Repetitions would time warm ones.
      if (o.cold) registered->Iterations(1)->Repetitions(1);
    }
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", ch);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

template <class T>
void json_array(std::ofstream& out, const std::vector<T>& values) {
  out << '[';
  for (size_t i = 0; i < values.size(); ++i) out << (i ? "," : "") << values[i];
  out << ']';
}

bool write_timelines(const std::string& path, const Shared& shared) {
  std::ofstream out(path);
  out << "{\"version\": 1, \"timelines\": [";
  for (size_t i = 0; i < shared.timelines.size(); ++i) {
    const TimelineRecord& r = shared.timelines[i];
    out << (i ? ",\n" : "\n") << "{\"name\": " << json_string(r.name) << ", \"workload\": " << json_string(r.workload)
        << ", \"label\": " << json_string(shared.options.label) << ", \"threads\": " << r.threads
        << ", \"baseline_rss_bytes\": " << r.baseline_rss << ", \"ideal_bytes\": " << r.ideal
        << ", \"interval_ms\": " << r.timeline.interval_ms << ", \"t_ms\": ";
    json_array(out, r.timeline.t_ms);
    out << ", \"rss_bytes\": ";
    json_array(out, r.timeline.rss_bytes);
    out << ", \"live_bytes\": ";
    json_array(out, r.timeline.live_bytes);
    out << '}';
  }
  out << "\n]}\n";
  return bool(out);
}

std::vector<Trace> load_all(const Options& o) {
  std::vector<Trace> traces;
  for (const std::string& path : o.traces) {
    auto t0 = std::chrono::steady_clock::now();
    uint64_t cpu0 = process_cpu_ns();
    try {
      traces.push_back(load_trace(path));
    } catch (const TraceError& e) {
      std::fprintf(stderr, "%s\n", e.what());
      std::exit(1);
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "%s: out of memory while decoding the trace\n", path.c_str());
      std::exit(1);
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double cpu_seconds = double(process_cpu_ns() - cpu0) * 1e-9;
    if (o.check) {
      const Trace& t = traces.back();
      // CPU time too: on a busy machine the wall-clock rate says more about the neighbours.
      std::printf("%s: ok: %llu ops, %zu threads, ideal %llu bytes, %llu lines in %.3f s (%.1f Mlines/s; "
                  "%.3f CPU s, %.1f Mlines per CPU s)\n",
                  path.c_str(), static_cast<unsigned long long>(t.op_count), t.threads.size(),
                  static_cast<unsigned long long>(t.ideal_bytes), static_cast<unsigned long long>(t.line_count),
                  seconds, double(t.line_count) / seconds / 1e6, cpu_seconds,
                  double(t.line_count) / std::max(cpu_seconds, 1e-9) / 1e6);
    }
  }
  return traces;
}

// --probe: which files serve malloc and free in this process (LD_PRELOAD applied), after one
// call of each so a library that fails on its first use fails here. One JSON object on stdout.
int probe() {
  void* block = std::malloc(64);
  std::free(block);
  std::printf("{\"malloc\": %s, \"free\": %s}\n", json_string(library_serving("malloc")).c_str(),
              json_string(library_serving("free")).c_str());
  return block ? 0 : 1;
}

}  // namespace
}  // namespace memio

int main(int argc, char** argv) {
  using namespace memio;
  benchmark::Initialize(&argc, argv);
  static Shared shared;
  shared.options = parse_options(argc, argv);
  const Options& o = shared.options;
  if (o.probe) return probe();
  std::vector<Trace> traces = load_all(o);
  if (o.check) return 0;

  const char* preload = std::getenv("LD_PRELOAD");
  if (o.allocator == "system" && o.label != "system" && !(preload && *preload))
    std::fprintf(stderr, "mem_io_replay: warning: --label=%s without LD_PRELOAD measures the C library's malloc\n",
                 o.label.c_str());
  shared.timer = calibrate_timer();
  benchmark::AddCustomContext("allocator", o.allocator);
  benchmark::AddCustomContext("label", o.label);
  benchmark::AddCustomContext("touch", touch_name(o.touch));
  benchmark::AddCustomContext("ld_preload", preload ? preload : "");
  benchmark::AddCustomContext("malloc_library", library_serving("malloc"));
  benchmark::AddCustomContext("free_library", library_serving("free"));
  benchmark::AddCustomContext("ticks_per_ns", std::to_string(shared.timer.ticks_per_ns));
  benchmark::AddCustomContext("timer_overhead_ns",
                              std::to_string(double(shared.timer.overhead_ticks) / shared.timer.ticks_per_ns));
  benchmark::AddCustomContext("timer_resolution_ns",
                              std::to_string(double(shared.timer.resolution_ticks) / shared.timer.ticks_per_ns));

  if (o.allocator == "system") {
    static SystemAllocator system_allocator;
    register_benchmarks(shared, system_allocator, traces);
  }
  if (o.allocator == "bump") {
    static BumpAllocator bump_allocator;
    register_benchmarks(shared, bump_allocator, traces);
  }
  if (o.allocator == "mem_io") {
    static MemIoAllocator mem_io_allocator;
    register_benchmarks(shared, mem_io_allocator, traces);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (!o.timeline_out.empty() && !write_timelines(o.timeline_out, shared)) {
    std::fprintf(stderr, "mem_io_replay: cannot write %s\n", o.timeline_out.c_str());
    return 1;
  }
  return shared.failed ? 1 : 0;
}

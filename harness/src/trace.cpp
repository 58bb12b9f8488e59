#include "trace.hpp"

#include <sys/mman.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <new>

namespace memio {

const char* op_kind_name(OpKind kind) {
  static const char* const names[op_kind_count] = {"malloc",  "calloc", "aligned",
                                                   "realloc", "free",   "free_sized"};
  return names[int(kind)];
}

std::string workload_name(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  for (const char* suffix : {".gz", ".trace"}) {
    size_t n = std::strlen(suffix);
    if (name.size() > n && name.compare(name.size() - n, n, suffix) == 0) name.resize(name.size() - n);
  }
  return name;
}

OpArray::~OpArray() {
  if (data_) munmap(data_, capacity_ * sizeof(Op));
}

void OpArray::grow() {
  size_t old_bytes = capacity_ * sizeof(Op);
  size_t bytes = capacity_ ? old_bytes * 2 : (size_t(1) << 16);
  void* p = data_ ? mremap(data_, old_bytes, bytes, MREMAP_MAYMOVE)
                  : mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  madvise(p, bytes, MADV_HUGEPAGE);  // a hint; ignored where huge pages are off
  data_ = static_cast<Op*>(p);
  capacity_ = bytes / sizeof(Op);
}

namespace {


[[noreturn]] void fail(const std::string& path, uint64_t line, const std::string& problem) {
  throw TraceError(path + ":" + std::to_string(line) + ": " + problem);
}

// Reads a plain or gzip file line by line through one large buffer; zlib's gzread passes
// plain files through unchanged.
class LineReader {
 public:
  explicit LineReader(const std::string& path) : path_(path), buffer_(buffer_size) {
    file_ = gzopen(path.c_str(), "rb");
    if (!file_) throw TraceError(path + ": cannot open: " + std::strerror(errno ? errno : ENOMEM));
    // zlib mallocs twice this for its buffers and frees them at gzclose: kept below glibc's
    // 128 KiB mmap threshold, so that freeing them leaves its thresholds as they start (see
    // MmapAllocator). gzread inflates straight into buffer_, whose reads are larger.
    gzbuffer(file_, 1 << 15);
  }
  ~LineReader() { gzclose(file_); }
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line without its '\n' (begin, end), or false at the end of the file.
  bool next(const char** begin, const char** end) {
    for (;;) {
      char* start = buffer_.data() + head_;
      char* newline = static_cast<char*>(std::memchr(start, '\n', tail_ - head_));
      if (newline) {
        ++line_;
        *begin = start;
        *end = newline;
        head_ = newline + 1 - buffer_.data();
        return true;
      }
      if (eof_) {
        // A gzip error is raised only once the good lines before it are used up, so that it
        // names the line where the damage starts and a cut-off line is not parsed first.
        if (!pending_error_.empty()) fail(path_, line_ + 1, pending_error_);
        if (head_ == tail_) return false;
        ++line_;  // a last line without '\n'
        *begin = start;
        *end = buffer_.data() + tail_;
        head_ = tail_;
        return true;
      }
      refill();
    }
  }
  uint64_t line() const { return line_; }

 private:
  static constexpr size_t buffer_size = 1 << 20;
  static constexpr size_t max_line = 1 << 16;
  static constexpr size_t read_size = 1 << 16;

  void refill() {
    if (tail_ - head_ > max_line)
      fail(path_, line_ + 1, "line longer than " + std::to_string(max_line) + " bytes (corrupt file?)");
    std::memmove(buffer_.data(), buffer_.data() + head_, tail_ - head_);
    tail_ -= head_;
    head_ = 0;
    // Modest reads: zlib drops a whole read's data on an error, and the error should name a
    // line near the damage.
    int n = gzread(file_, buffer_.data() + tail_, unsigned(std::min(buffer_.size() - tail_, read_size)));
    int zerr = Z_OK;
    std::string message = gzerror(file_, &zerr);
    if (n < 0 || (zerr != Z_OK && zerr != Z_STREAM_END)) {
      if (message.compare(0, path_.size() + 2, path_ + ": ") == 0) message.erase(0, path_.size() + 2);
      pending_error_ = "corrupt or truncated gzip data (zlib: " + message + ")";
      eof_ = true;
      if (n < 0) n = 0;
    }
    if (const char* nul = static_cast<const char*>(std::memchr(buffer_.data() + tail_, '\0', size_t(n)))) {
      uint64_t line = line_ + 1 + uint64_t(std::count(static_cast<const char*>(buffer_.data()), nul, '\n'));
      fail(path_, line, "corrupt file: binary data (NUL byte) in a text trace");
    }
    tail_ += size_t(n);
    if (n == 0) eof_ = true;
  }

  std::string path_;
  gzFile file_;
  MappedVector<char> buffer_;
  size_t head_ = 0, tail_ = 0;
  uint64_t line_ = 0;
  bool eof_ = false;
  std::string pending_error_;
};

// Splits a line into fields, dropping a '#' comment and a trailing '\r'.
struct Fields {
  static constexpr int max_fields = 6;
  const char* begin[max_fields];
  const char* end[max_fields];
  int count = 0;
  bool too_many = false;
  std::string text(int i) const { return std::string(begin[i], end[i]); }
};

Fields split(const char* p, const char* line_end) {
  Fields fields;
  while (p < line_end) {
    while (p < line_end && (*p == ' ' || *p == '\t' || *p == '\r')) ++p;
    if (p == line_end || *p == '#') break;
    const char* start = p;
    while (p < line_end && *p != ' ' && *p != '\t' && *p != '\r' && *p != '#') ++p;
    if (fields.count == Fields::max_fields) {
      fields.too_many = true;
      break;
    }
    fields.begin[fields.count] = start;
    fields.end[fields.count] = p;
    ++fields.count;
  }
  return fields;
}

bool parse_u64(const char* p, const char* end, uint64_t* value) {
  if (p == end) return false;
  uint64_t v = 0;
  for (; p < end; ++p) {
    unsigned digit = unsigned(*p - '0');
    if (digit > 9) return false;
    if (v > (UINT64_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  *value = v;
  return true;
}

// id -> slot, open addressing with linear probing and backward-shift deletion.
class LiveBlocks {
 public:
  LiveBlocks() : keys_(1024), slots_(1024, empty) {}
  uint32_t find(uint64_t id) const {
    for (size_t i = home(id);; i = (i + 1) & mask()) {
      if (slots_[i] == empty || keys_[i] == id) return slots_[i];
    }
  }
  void insert(uint64_t id, uint32_t slot) {
    if (2 * (size_ + 1) > keys_.size()) grow();
    size_t i = home(id);
    while (slots_[i] != empty) i = (i + 1) & mask();
    keys_[i] = id;
    slots_[i] = slot;
    ++size_;
  }
  void erase(uint64_t id) {
    size_t i = home(id);
    while (keys_[i] != id || slots_[i] == empty) i = (i + 1) & mask();
    slots_[i] = empty;
    --size_;
    for (size_t j = (i + 1) & mask(); slots_[j] != empty; j = (j + 1) & mask()) {
      size_t h = home(keys_[j]);
      // Move j back into the hole at i unless its home lies cyclically in (i, j].
      bool stays = (i <= j) ? (i < h && h <= j) : (i < h || h <= j);
      if (!stays) {
        keys_[i] = keys_[j];
        slots_[i] = slots_[j];
        slots_[j] = empty;
        i = j;
      }
    }
  }
  static constexpr uint32_t empty = UINT32_MAX;

 private:
  size_t mask() const { return keys_.size() - 1; }
  size_t home(uint64_t id) const { return size_t((id * 0x9E3779B97F4A7C15ull) >> 20) & mask(); }
  void grow() {
    MappedVector<uint64_t> old_keys(keys_.size() * 2);
    MappedVector<uint32_t> old_slots(slots_.size() * 2, empty);
    old_keys.swap(keys_);
    old_slots.swap(slots_);
    size_ = 0;
    for (size_t i = 0; i < old_keys.size(); ++i)
      if (old_slots[i] != empty) insert(old_keys[i], old_slots[i]);
  }
  MappedVector<uint64_t> keys_;
  MappedVector<uint32_t> slots_;
  size_t size_ = 0;
};

struct SlotState {
  uint64_t size = 0;        // requested bytes of the live block
  uint64_t alloc_line = 0;  // where the live block was allocated
  uint32_t handoffs = 0;    // publishes so far on this slot
  uint32_t last_op = 0;     // index of the last op on this slot in its thread's stream
  uint16_t last_thread = 0; // stream index of that op
};

struct ParsedLine {
  int trace_thread;
  char op;
  uint64_t id;
  uint64_t args[3];
  bool has_touched;
  uint64_t touched;  // pages of the block, as it was before this op, that the program touched
};

int arg_count(char op) {
  switch (op) {
    case 'm': case 'r': case 's': return 1;
    case 'c': case 'a': return 2;
    case 'f': return 0;
    default: return -1;
  }
}

// r, f and s may end with TOUCHED, after their required arguments.
bool takes_touched(char op) { return op == 'r' || op == 'f' || op == 's'; }

const char* field_name(char op, int arg) {
  if (arg == arg_count(op)) return "TOUCHED";
  switch (op) {
    case 'c': return arg == 0 ? "COUNT" : "SIZE";
    case 'a': return arg == 0 ? "ALIGN" : "SIZE";
    default: return "SIZE";
  }
}

// Parses the header: returns false for comment/blank lines.
bool parse_header(const std::string& path, uint64_t line, const Fields& f) {
  if (f.count == 0) return false;
  if (f.text(0) != "mem_io-trace")
    fail(path, line, "missing header 'mem_io-trace 1' (the first line must be the header)");
  uint64_t version = 0;
  if (f.count < 2 || !parse_u64(f.begin[1], f.end[1], &version))
    fail(path, line, "header has no version number (expected 'mem_io-trace 1')");
  if (version != 1)
    fail(path, line, "unsupported trace version " + std::to_string(version) + " (this driver reads version 1)");
  if (f.count > 2 || f.too_many) fail(path, line, "unexpected text after the header");
  return true;
}

ParsedLine parse_op(const std::string& path, uint64_t line, const Fields& f) {
  ParsedLine p{};
  uint64_t thread = 0;
  if (!parse_u64(f.begin[0], f.end[0], &thread))
    fail(path, line, "THREAD '" + f.text(0) + "' is not a decimal number");
  if (thread >= uint64_t(max_trace_threads))
    fail(path, line, "thread " + f.text(0) + " is out of range (too many threads: 0 ≤ THREAD < 256)");
  p.trace_thread = int(thread);
  if (f.count < 2) fail(path, line, "missing OP after THREAD");
  if (f.end[1] - f.begin[1] != 1 || arg_count(*f.begin[1]) < 0)
    fail(path, line, "unknown operation '" + f.text(1) + "' (expected m, c, a, r, f or s)");
  p.op = *f.begin[1];
  if (f.count < 3) fail(path, line, "missing ID");
  if (!parse_u64(f.begin[2], f.end[2], &p.id))
    fail(path, line, "ID '" + f.text(2) + "' is not a decimal number below 2^64");
  int args = arg_count(p.op);
  int most = args + (takes_touched(p.op) ? 1 : 0);
  if (f.count < 3 + args) fail(path, line, std::string("missing ") + field_name(p.op, f.count - 3));
  if (f.count > 3 + most || f.too_many)
    fail(path, line, "unexpected extra field '" + f.text(3 + most) + "'");
  for (int i = 0; i < f.count - 3; ++i) {
    const char* name = field_name(p.op, i);
    if (!parse_u64(f.begin[3 + i], f.end[3 + i], &p.args[i]) || p.args[i] > max_trace_size) {
      bool numeric = true;
      for (const char* c = f.begin[3 + i]; c < f.end[3 + i]; ++c) numeric &= (*c >= '0' && *c <= '9');
      if (!numeric) fail(path, line, std::string(name) + " '" + f.text(3 + i) + "' is not a decimal number");
      fail(path, line, std::string(name) + " " + f.text(3 + i) + " is out of range (0..2^40)");
    }
  }
  p.has_touched = f.count - 3 > args;
  p.touched = p.args[args];
  return p;
}

class Decoder {
 public:
  Decoder(Trace& trace) : trace_(trace) { stream_of_thread_.fill(-1); }

  void add(const std::string& path, uint64_t line, const ParsedLine& p) {
    int stream = stream_for(p.trace_thread);
    ThreadStream& ts = trace_.threads[size_t(stream)];
    if (ts.ops.size() >= UINT32_MAX) fail(path, line, "too many operations in one thread (max 2^32-1)");
    Op op{};
    uint64_t size = 0;
    switch (p.op) {
      case 'm':
        size = p.args[0];
        op.packed = size | uint64_t(OpKind::malloc_) << Op::kind_shift;
        break;
      case 'c': {
        uint64_t count = p.args[0], elem = p.args[1];
        if (elem != 0 && count > UINT64_MAX / elem)
          fail(path, line, "calloc COUNT × SIZE (" + std::to_string(count) + " × " + std::to_string(elem) + ") overflows");
        size = count * elem;
        bool swap = count > elem;  // store the smaller factor in aux (32 bits)
        uint64_t small = swap ? elem : count, large = swap ? count : elem;
        if (small > UINT32_MAX) fail(path, line, "calloc COUNT × SIZE overflows");
        op.packed = large | uint64_t(OpKind::calloc_) << Op::kind_shift | uint64_t(swap) << Op::swap_bit;
        op.aux = uint32_t(small);
        break;
      }
      case 'a': {
        uint64_t align = p.args[0];
        size = p.args[1];
        if (align == 0 || (align & (align - 1)))
          fail(path, line, "alignment " + std::to_string(align) + " is not a power of two");
        if (align > (uint64_t(1) << 20))
          fail(path, line, "alignment " + std::to_string(align) + " is out of range (1..2^20)");
        op.packed = size | uint64_t(OpKind::aligned_) << Op::kind_shift |
                    uint64_t(__builtin_ctzll(align)) << Op::align_shift;
        break;
      }
      case 'r':
        size = p.args[0];
        if (size == 0) fail(path, line, "realloc to size 0 (record it as 'f')");
        op.packed = size | uint64_t(OpKind::realloc_) << Op::kind_shift;
        break;
      case 'f': op.packed = uint64_t(OpKind::free_) << Op::kind_shift; break;
      case 's':
        op.packed = p.args[0] | uint64_t(OpKind::free_sized_) << Op::kind_shift;
        break;
    }

    uint32_t slot = live_.find(p.id);
    bool allocates = p.op == 'm' || p.op == 'c' || p.op == 'a';
    if (allocates) {
      if (slot != LiveBlocks::empty)
        fail(path, line, std::string(verb(p.op)) + " of block " + std::to_string(p.id) +
                             ", which is already live (allocated at line " +
                             std::to_string(slots_[slot].alloc_line) + ")");
      slot = take_slot(stream);
      live_.insert(p.id, slot);
      slots_[slot].size = size;
      slots_[slot].alloc_line = line;
      add_live(size);
    } else {
      if (slot == LiveBlocks::empty)
        fail(path, line, std::string(verb(p.op)) + " of block " + std::to_string(p.id) + ", which is not live");
      SlotState& s = slots_[slot];
      if (p.has_touched) add_extents(path, line, p, s, stream, &op);
      if (s.last_thread != stream) {  // a handoff: the previous op publishes, this one waits
        if (s.handoffs == UINT32_MAX) fail(path, line, "too many cross-thread handoffs of one slot");
        trace_.threads[s.last_thread].ops[s.last_op].packed |= uint64_t(1) << Op::publish_bit;
        ++s.handoffs;
        op.packed |= uint64_t(1) << Op::wait_bit;
        op.aux = s.handoffs;
      }
      if (p.op == 'r') {
        live_bytes_ -= s.size;
        add_live(size);
        s.size = size;
      } else {
        live_bytes_ -= s.size;
        live_.erase(p.id);
        free_slots_[size_t(stream)].push_back(slot);
      }
    }
    op.slot = slot;
    slots_[slot].last_thread = uint16_t(stream);
    slots_[slot].last_op = uint32_t(ts.ops.size());
    if (ts.ops.size() % replay_chunk_ops == 0) ts.chunk_positions.push_back(trace_.op_count);
    if (op.waits()) ts.wait_positions.push_back(trace_.op_count);
    ts.ops.push_back(op);
    ++ts.op_counts[int(op.kind())];
    ++trace_.op_count;
  }

  void finish() {
    trace_.slot_count = uint32_t(slots_.size());
    for (ThreadStream& ts : trace_.threads)
      std::sort(ts.extents.begin(), ts.extents.end(),
                [](const TouchExtent& a, const TouchExtent& b) { return a.key < b.key; });
  }

 private:
  // A line's TOUCHED: the op that made the block (its thread's stream) stamps only that many
  // pages, and this op checks only those.
  void add_extents(const std::string& path, uint64_t line, const ParsedLine& p, const SlotState& s, int stream,
                   Op* op) {
    uint64_t pages = (s.size + touch_page_size - 1) / touch_page_size;
    if (p.touched > pages)
      fail(path, line, "TOUCHED " + std::to_string(p.touched) + " is more than the " + std::to_string(pages) +
                           " pages of block " + std::to_string(p.id) + " (" + std::to_string(s.size) + " bytes)");
    const uint64_t bytes = p.touched * touch_page_size;
    ThreadStream& maker = trace_.threads[s.last_thread];
    maker.ops[s.last_op].packed |= uint64_t(1) << Op::new_extent_bit;
    maker.extents.push_back({2 * uint64_t(s.last_op) + 1, bytes});
    op->packed |= uint64_t(1) << Op::old_extent_bit;
    trace_.threads[size_t(stream)].extents.push_back({2 * uint64_t(trace_.threads[size_t(stream)].ops.size()), bytes});
  }

  static const char* verb(char op) {
    switch (op) {
      case 'm': return "malloc";
      case 'c': return "calloc";
      case 'a': return "aligned_alloc";
      case 'r': return "realloc";
      case 'f': return "free";
      default: return "free_sized";
    }
  }
  int stream_for(int trace_thread) {
    int& stream = stream_of_thread_[size_t(trace_thread)];
    if (stream < 0) {
      stream = int(trace_.threads.size());
      trace_.threads.emplace_back();
      trace_.threads.back().trace_thread = trace_thread;
      free_slots_.emplace_back();
    }
    return stream;
  }
  uint32_t take_slot(int stream) {
    MappedVector<uint32_t>& mine = free_slots_[size_t(stream)];
    if (!mine.empty()) {
      uint32_t slot = mine.back();
      mine.pop_back();
      return slot;
    }
    if (slots_.size() >= UINT32_MAX - 1) throw TraceError(trace_.path + ": too many live blocks");
    slots_.emplace_back();
    return uint32_t(slots_.size() - 1);
  }
  void add_live(uint64_t size) {
    live_bytes_ += size;
    if (live_bytes_ > trace_.ideal_bytes) trace_.ideal_bytes = live_bytes_;
  }

  Trace& trace_;
  std::array<int, max_trace_threads> stream_of_thread_;
  std::vector<MappedVector<uint32_t>> free_slots_;
  MappedVector<SlotState> slots_;
  LiveBlocks live_;
  uint64_t live_bytes_ = 0;
};

}  // namespace

Trace load_trace(const std::string& path) {
  Trace trace;
  trace.path = path;
  trace.workload = workload_name(path);
  LineReader reader(path);
  Decoder decoder(trace);
  bool have_header = false;
  const char *begin, *end;
  while (reader.next(&begin, &end)) {
    Fields f = split(begin, end);
    if (!have_header) {
      have_header = parse_header(path, reader.line(), f);
      continue;
    }
    if (f.count == 0) continue;
    decoder.add(path, reader.line(), parse_op(path, reader.line(), f));
  }
  uint64_t last = reader.line() ? reader.line() : 1;
  if (!have_header) fail(path, last, "empty trace: no header (expected 'mem_io-trace 1')");
  if (trace.op_count == 0) fail(path, last, "no operations after the header");
  decoder.finish();
  trace.line_count = reader.line();
  return trace;
}

OpLocation locate_op(const std::string& path, int trace_thread, uint64_t op_index) {
  LineReader reader(path);
  bool have_header = false;
  uint64_t seen = 0;
  const char *begin, *end;
  while (reader.next(&begin, &end)) {
    Fields f = split(begin, end);
    if (!have_header) {
      have_header = f.count > 0;
      continue;
    }
    if (f.count < 3) continue;
    uint64_t thread = 0;
    if (!parse_u64(f.begin[0], f.end[0], &thread) || thread != uint64_t(trace_thread)) continue;
    if (seen++ == op_index) {
      OpLocation where;
      where.line = reader.line();
      parse_u64(f.begin[2], f.end[2], &where.block_id);
      return where;
    }
  }
  return OpLocation{};
}

}  // namespace memio

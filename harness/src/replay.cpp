#include "replay.hpp"

namespace memio {

bool parse_touch(const std::string& text, Touch* touch) {
  static const Touch all[] = {Touch::none, Touch::ends, Touch::pages, Touch::full};
  for (Touch t : all)
    if (text == touch_name(t)) {
      *touch = t;
      return true;
    }
  return false;
}

const char* touch_name(Touch touch) {
  switch (touch) {
    case Touch::none: return "none";
    case Touch::ends: return "ends";
    case Touch::pages: return "pages";
    case Touch::full: return "full";
  }
  return "?";
}

const char* latency_group_name(int group) { return op_kind_name(OpKind(group)); }

std::string describe_problem(const Trace& trace, const ReplayProblem& problem) {
  int trace_thread = trace.threads[size_t(problem.stream)].trace_thread;
  OpLocation where = locate_op(trace.path, trace_thread, problem.op_index);
  return "replay: block " + std::to_string(where.block_id) + " " + problem.what + " (" + trace.path +
         ":" + std::to_string(where.line) + ", thread " + std::to_string(trace_thread) + ")";
}

}  // namespace memio

// bench_executor: the executor's own cost per node (a chain of cheap pass-through nodes), and the time to
// load + convert + validate the largest real workflow in shared/workflows/real.
//
//   bench_executor [--nodes 1000] [--reps 20] [--workflows DIR]
#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "comfy/core/host_memory.hpp"
#include "comfy/exec/executor.hpp"
#include "comfy/graph/validate.hpp"
#include "comfy/graph/workflow.hpp"

using namespace comfy;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Const -> Pass x (n-2) -> Sink, all trivial, so the time measured is the executor's.
Registry bench_registry() {
  Registry r;
  r.add({NodeSchema("BenchConst").int_("value", 0, -1000000000, 1000000000).output("INT"),
         [](const NodeInputs& in, ExecContext&) { return NodeOutput{{in.get("value")}}; }});
  r.add({NodeSchema("BenchPass").input("a", "INT").int_("k", 0, 0, 10).output("INT"),
         [](const NodeInputs& in, ExecContext&) { return NodeOutput{{in.get("a")}}; }});
  r.add({NodeSchema("BenchSink").output_node_().input("a", "INT"),
         [](const NodeInputs&, ExecContext&) { return NodeOutput{}; }});
  return r;
}

Prompt chain(int n, int value) {
  Prompt p = Prompt::object();
  p["0"] = {{"class_type", "BenchConst"}, {"inputs", {{"value", value}}}};
  for (int i = 1; i < n - 1; ++i)
    p[std::to_string(i)] = {{"class_type", "BenchPass"}, {"inputs", {{"a", {std::to_string(i - 1), 0}}, {"k", 1}}}};
  p[std::to_string(n - 1)] = {{"class_type", "BenchSink"}, {"inputs", {{"a", {std::to_string(n - 2), 0}}}}};
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  comfy::tune_host_memory();
  int nodes = 1000, reps = 20;
  fs::path wf_dir = fs::path(COMFY_SHARED_DIR) / "workflows" / "real";
  auto usage = [](std::ostream& os, int code) {
    os << "usage: bench_executor [--nodes N] [--reps N] [--workflows DIR]\n"
          "  Executor overhead per node on a chain of trivial nodes, then load + convert + validate time of\n"
          "  the workflows in DIR.\n"
          "  --nodes N        chain length (default 1000, at least 3)\n"
          "  --reps N         repetitions (default 20)\n"
          "  --workflows DIR  workflows to load (default ../shared/workflows/real)\n"
          "  -h, --help       this help\n";
    return code;
  };
  auto positive = [](const char* s, int& out) {
    const std::string t = s;
    if (t.empty() || t.size() > 7 || t.find_first_not_of("0123456789") != std::string::npos) return false;
    out = std::stoi(t);
    return out >= 1;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") return usage(std::cout, 0);
    const bool takes_value = a == "--nodes" || a == "--reps" || a == "--workflows";
    if (!takes_value) {
      std::cerr << "bench_executor: unknown option '" << a << "'\n";
      return usage(std::cerr, 2);
    }
    if (i + 1 >= argc) {
      std::cerr << "bench_executor: " << a << " needs a value\n";
      return usage(std::cerr, 2);
    }
    const char* v = argv[++i];
    if (a == "--workflows") {
      wf_dir = v;
    } else if (!positive(v, a == "--nodes" ? nodes : reps)) {
      std::cerr << "bench_executor: " << a << " '" << v << "' is not a positive integer\n";
      return usage(std::cerr, 2);
    }
  }
  nodes = std::max(3, nodes);

  // ---- executor overhead
  Registry reg = bench_registry();
  std::vector<double> cold, warm, cached;
  for (int r = 0; r < reps; ++r) {
    Executor ex(reg, RuntimeConfig{});
    Prompt a = chain(nodes, 1), b = chain(nodes, 2);
    auto t0 = Clock::now();
    auto res = ex.execute(a, {std::to_string(nodes - 1)});
    cold.push_back(ms_since(t0));
    if (res.stats.executed != nodes) { std::cerr << "unexpected executed count\n"; return 1; }
    t0 = Clock::now();
    ex.execute(b, {std::to_string(nodes - 1)});  // source changed: every node runs again
    warm.push_back(ms_since(t0));
    t0 = Clock::now();
    res = ex.execute(b, {std::to_string(nodes - 1)});  // nothing changed: cache hit on the output
    cached.push_back(ms_since(t0));
    if (res.stats.executed != 0) { std::cerr << "unexpected re-execution\n"; return 1; }
  }
  std::cout << "executor: chain of " << nodes << " trivial nodes, median of " << reps << " runs\n";
  std::cout << "  first run       " << median(cold) << " ms  = " << median(cold) * 1000 / nodes << " us/node\n";
  std::cout << "  all re-executed " << median(warm) << " ms  = " << median(warm) * 1000 / nodes << " us/node\n";
  std::cout << "  fully cached    " << median(cached) << " ms  = " << median(cached) * 1000 / nodes << " us/node\n";

  // ---- load + convert + validate the largest real workflow
  fs::path largest;
  uintmax_t size = 0;
  if (fs::is_directory(wf_dir))
    for (auto& e : fs::directory_iterator(wf_dir)) {
      auto ext = e.path().extension().string();
      if (ext != ".json" || !e.is_regular_file()) continue;
      if (e.file_size() > size) { size = e.file_size(); largest = e.path(); }
    }
  if (largest.empty()) {
    std::cout << "workflow: no .json files in " << wf_dir << "\n";
    return 0;
  }
  std::vector<double> load_ms, validate_ms;
  size_t n_nodes = 0;
  bool valid = false;
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    LoadedWorkflow wf = load_workflow_file(largest);
    load_ms.push_back(ms_since(t0));
    t0 = Clock::now();
    ValidationResult vr = validate_prompt(wf.prompt, Registry::global(), RuntimeConfig{});
    validate_ms.push_back(ms_since(t0));
    n_nodes = wf.prompt.size();
    valid = vr.all_ok();
  }
  std::cout << "workflow: " << largest.filename().string() << " (" << size / 1024 << " KiB, " << n_nodes
            << " API nodes; " << (valid ? "valid" : "invalid here: nodes missing in this build") << ")\n";
  std::cout << "  load + convert  " << median(load_ms) << " ms\n";
  std::cout << "  validate        " << median(validate_ms) << " ms\n";
  return 0;
}

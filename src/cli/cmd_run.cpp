// `comfy-native run FILE [options]`: load, apply --set, validate, execute; optionally once per seed.
#include <atomic>
#include <csignal>
#include <iostream>
#include <unistd.h>

#include "cli/cli_util.hpp"
#include "cli/commands.hpp"
#include "cli/progress.hpp"
#include "cli/runtime_flags.hpp"
#include "comfy/core/memory_budget.hpp"
#include "comfy/exec/executor.hpp"
#include "comfy/graph/validate.hpp"
#include "comfy/prompt/wildcards.hpp"

namespace comfy::cli {

namespace {

struct RunOptions {
  std::string file;
  std::vector<std::string> sets;         // NODE_ID.INPUT=VALUE
  std::string seeds;                     // "1-100" | "1,5,9" | mixed
  std::vector<std::string> seed_inputs;  // NODE_ID.INPUT
  std::string shard;                     // "K/N"
  RuntimeFlags runtime;                  // folders, device, dtype (shared with `serve`)
  std::string dump_progress;
  std::string memory_limit;              // "" = physical memory + swap
  bool json = false;
  bool quiet = false;
  bool allow_partial = false;
};

std::atomic<bool> g_interrupt{false};
extern "C" void on_sigint(int) {
  g_interrupt = true;               // the executor stops before the next node / sampler step
  std::signal(SIGINT, SIG_DFL);     // a second Ctrl-C kills at once
}

// "NODE.INPUT" -> (node, input); the node id may itself contain dots, the input name does not.
std::pair<std::string, std::string> split_target(const std::string& s, const std::string& flag) {
  auto dot = s.rfind('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == s.size())
    throw UsageError(flag + " '" + s + "': expected NODE_ID.INPUT");
  return {s.substr(0, dot), s.substr(dot + 1)};
}

uint64_t parse_u64(const std::string& s, const std::string& what) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
    throw UsageError(what + ": '" + s + "' is not a non-negative integer");
  unsigned __int128 v = 0;
  for (char c : s) {
    v = v * 10 + unsigned(c - '0');
    if (v > UINT64_MAX) throw UsageError(what + ": " + s + " is larger than 2^64-1");
  }
  return uint64_t(v);
}

// "1-100", "1,5,9", "1-3,7" -> the seeds in order.
std::vector<uint64_t> parse_seeds(const std::string& spec) {
  constexpr uint64_t kMaxSeeds = 10'000'000;
  std::vector<uint64_t> out;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    std::string part = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto dash = part.find('-');
    if (dash == std::string::npos) {
      out.push_back(parse_u64(part, "--seeds"));
    } else {
      uint64_t a = parse_u64(part.substr(0, dash), "--seeds"), b = parse_u64(part.substr(dash + 1), "--seeds");
      if (b < a) throw UsageError("--seeds: range " + part + " ends before it starts");
      if (b - a >= kMaxSeeds || out.size() + (b - a) >= kMaxSeeds) throw UsageError("--seeds: more than 10000000 seeds");
      for (uint64_t s = a;; ++s) {
        out.push_back(s);
        if (s == b) break;
      }
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// --set VALUE: JSON when it parses (numbers, true/false, null, "quoted", [..], {..}), else the raw text.
nlohmann::ordered_json parse_set_value(const std::string& v) {
  try {
    return parse_json_text(v, "--set");
  } catch (const std::exception&) {
    return v;
  }
}

int run(const RunOptions& o) {
  RuntimeConfig cfg = o.runtime.to_config();
  if (!o.dump_progress.empty()) cfg.dump_progress_dir = o.dump_progress;
  if (!o.memory_limit.empty()) {
    cfg.memory_limit = parse_bytes(o.memory_limit);
    if (!cfg.memory_limit || *cfg.memory_limit == 0)
      throw UsageError("--memory-limit '" + o.memory_limit + "': expected a size such as 8GiB, 512MiB or 1000000");
  }
  cfg.quiet = o.quiet;
  cfg.interrupt = &g_interrupt;
  const Registry& reg = Registry::global();

  // Seeds before loading, so a bad flag is reported without touching files.
  std::vector<uint64_t> seeds;
  if (!o.seeds.empty()) seeds = parse_seeds(o.seeds);
  if (!o.shard.empty()) {
    if (seeds.empty()) throw UsageError("--shard needs --seeds");
    auto slash = o.shard.find('/');
    if (slash == std::string::npos) throw UsageError("--shard '" + o.shard + "': expected K/N");
    uint64_t k = parse_u64(o.shard.substr(0, slash), "--shard K"), n = parse_u64(o.shard.substr(slash + 1), "--shard N");
    if (n == 0 || k >= n) throw UsageError("--shard " + o.shard + ": need 0 <= K < N");
    std::vector<uint64_t> mine;
    for (size_t i = size_t(k); i < seeds.size(); i += size_t(n)) mine.push_back(seeds[i]);
    seeds = std::move(mine);
  }
  if (seeds.empty() && !o.seed_inputs.empty()) throw UsageError("--seed-input needs --seeds");

  auto wf = load_or_report(o.file, o.json);
  if (!wf) return kExitInvalid;
  if (!o.quiet)
    for (auto& w : wf->warnings) std::cerr << "warning: " << w << "\n";

  // --set NODE_ID.INPUT=VALUE
  for (auto& s : o.sets) {
    auto eq = s.find('=');
    if (eq == std::string::npos) throw UsageError("--set '" + s + "': expected NODE_ID.INPUT=VALUE");
    auto [id, input] = split_target(s.substr(0, eq), "--set");
    if (!wf->prompt.contains(id)) throw UsageError("--set " + s.substr(0, eq) + ": node '" + id + "' does not exist in the workflow");
    auto& node = wf->prompt[id];
    if (const NodeDef* def = reg.find(node.value("class_type", std::string()))) {
      const InputSpec* spec = def->schema.find_input(input);
      if (!spec || spec->group == InputGroup::Hidden)
        throw UsageError("--set " + s.substr(0, eq) + ": node " + id + " (" + def->schema.class_type + ") has no input '" + input + "'");
    }
    node["inputs"][input] = parse_set_value(s.substr(eq + 1));
  }

  // The inputs a seed sweep sets.
  std::vector<std::pair<std::string, std::string>> seed_targets;
  if (!seeds.empty()) {
    for (auto& si : o.seed_inputs) {
      auto t = split_target(si, "--seed-input");
      if (!wf->prompt.contains(t.first)) throw UsageError("--seed-input " + si + ": node '" + t.first + "' does not exist in the workflow");
      seed_targets.push_back(t);
    }
    if (seed_targets.empty()) {
      for (auto& [id, node] : wf->prompt.items()) {
        const NodeDef* def = reg.find(node.value("class_type", std::string()));
        if (!def) continue;
        for (const char* name : {"seed", "noise_seed"}) {
          const InputSpec* spec = def->schema.find_input(name);
          if (!spec || spec->group == InputGroup::Hidden) continue;
          if (node.contains("inputs") && node["inputs"].contains(name) && is_link(node["inputs"][name])) continue;
          seed_targets.emplace_back(id, name);
        }
      }
      if (seed_targets.empty())
        throw UsageError("--seeds: the workflow has no constant seed / noise_seed input; name one with --seed-input NODE_ID.INPUT");
    }
  }

  Reporter rep;
  rep.json = o.json;
  rep.bar = !o.quiet && ::isatty(2);
  rep.summary = !o.quiet;
  rep.cfg = &cfg;
  Executor ex(reg, cfg, [&rep](const Event& e) { rep.on_event(e); });
  nlohmann::json pnginfo = wf->extra_pnginfo();
  std::signal(SIGINT, on_sigint);

  size_t runs = seeds.empty() ? 1 : seeds.size();
  int64_t executed = 0, cached = 0;
  for (size_t i = 0; i < runs; ++i) {
    Prompt p = wf->prompt;
    if (!seeds.empty()) {
      for (auto& [id, name] : seed_targets) p[id]["inputs"][name] = seeds[i];
      if (o.json) rep.json_line("seed", {{"seed", seeds[i]}, {"index", i}, {"count", runs}});
      else if (!o.quiet) std::cerr << "seed " << seeds[i] << " (" << (i + 1) << "/" << runs << ")\n";
    }
    rep.prompt = &p;
    ValidationResult vr = validate_prompt(p, reg, cfg, wf->partial_execution_targets);
    if (!o.quiet)
      for (auto& w : vr.warnings) std::cerr << "warning: " << w << "\n";
    if (!vr.ok || (!vr.all_ok() && !o.allow_partial)) {
      if (o.json) rep.json_line("validation_error", vr.to_json());
      std::cerr << vr.describe();
      if (vr.ok) std::cerr << "(some outputs are valid; --allow-partial runs those)\n";
      return kExitInvalid;
    }
    if (!vr.all_ok() && !o.quiet) std::cerr << vr.describe() << "(running the valid outputs only)\n";
    try {
      auto r = ex.execute(p, vr.outputs, pnginfo);
      executed += r.stats.executed;
      cached += r.stats.cached;
    } catch (const Error& e) {
      rep.clear_bar();
      if (e.type == "interrupted") {
        std::cerr << "interrupted" << (e.node_id.empty() ? "" : " at node " + e.node_id + " (" + e.class_type + ")") << "\n";
        return kExitInterrupted;
      }
      print_error(e);
      return kExitFailure;
    }
    rep.clear_bar();
    if (g_interrupt) {
      std::cerr << "interrupted\n";
      return kExitInterrupted;
    }
  }
  if (!o.quiet && !o.json)
    std::cerr << "done: " << runs << (runs == 1 ? " run, " : " runs, ") << rep.files_written << " file(s) written, "
              << executed << " node(s) executed, " << cached << " cached\n";
  return kExitOk;
}

}  // namespace

int cmd_run(int argc, char** argv) {
  RunOptions o;
  cxxopts::Options opts("comfy-native run", "Run a ComfyUI workflow (API JSON, UI JSON, POST envelope or PNG).");
  opts.custom_help("FILE [options]");
  opts.positional_help("");
  opts.add_options()
      ("file", "workflow file", cxxopts::value(o.file))
      ("set", "set an input before validation: NODE_ID.INPUT=VALUE (VALUE as JSON when it parses, else text); repeatable",
       cxxopts::value(o.sets))
      ("seeds", "run once per seed: 1-100, 1,5,9 or a mix (1-3,7)", cxxopts::value(o.seeds))
      ("seed-input", "the input --seeds sets, NODE_ID.INPUT (default: every constant seed / noise_seed input); repeatable",
       cxxopts::value(o.seed_inputs))
      ("shard", "K/N: run only every N-th seed of --seeds starting with the K-th (K counts from 0)", cxxopts::value(o.shard))
      ("dump-progress", "folder for the progress latents of the Progress sampler nodes", cxxopts::value(o.dump_progress))
      ("memory-limit", "refuse a node whose tensors would need more than this, e.g. 8GiB (default: physical memory + swap)",
       cxxopts::value(o.memory_limit))
      ("json", "print ComfyUI's execution events as JSON lines on stdout", cxxopts::value(o.json))
      ("quiet", "no progress bar, warnings or summary lines (errors only)", cxxopts::value(o.quiet))
      ("allow-partial", "run the valid outputs when others fail validation", cxxopts::value(o.allow_partial))
      ("h,help", "show this help");
  o.runtime.add_to(opts);
  opts.parse_positional({"file"});
  try {
    auto res = opts.parse(argc, argv);
    if (res.count("help")) {
      std::cout << opts.help() << "\nExit codes: 0 success, 1 failure while running, 2 invalid workflow or options, "
                                  "130 interrupted (Ctrl-C).\n";
      return kExitOk;
    }
    if (!res.unmatched().empty()) throw UsageError("unexpected argument '" + res.unmatched()[0] + "'");
    if (o.file.empty()) throw UsageError("missing FILE (see comfy-native run --help)");
    return run(o);
  } catch (const cxxopts::exceptions::exception& e) {
    std::cerr << "run: " << e.what() << "\n";
    return kExitInvalid;
  } catch (const UsageError& e) {
    std::cerr << "run: " << e.what() << "\n";
    return kExitInvalid;
  } catch (const Error& e) {
    print_error(e);
    return kExitFailure;
  }
}

}  // namespace comfy::cli

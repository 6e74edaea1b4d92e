#pragma once
// What `run` shows while it works: a one-line progress bar on stderr (node, step i/n, it/s, ETA) when
// stderr is a terminal, NDJSON event lines on stdout with --json, and one summary line per file written.
#include <chrono>
#include <cstdio>
#include <set>
#include <string>

#include "comfy/core/node.hpp"
#include "comfy/graph/workflow.hpp"

namespace comfy::cli {

struct Reporter {
  bool bar = false;      // draw the progress bar (stderr is a tty and not --quiet)
  bool json = false;     // NDJSON events on stdout
  bool summary = true;   // "wrote ..." lines (off with --quiet)
  const Prompt* prompt = nullptr;
  const RuntimeConfig* cfg = nullptr;

  void on_event(const Event& e);
  void json_line(const std::string& type, const nlohmann::json& data);  // {"type","data"} on stdout
  void clear_bar();
  int64_t files_written = 0;

 private:
  std::string label(const std::string& node_id) const;  // "KSampler #3"
  void draw();
  std::set<std::string> ran_;  // nodes executed in this run (not cache hits): only they wrote files
  std::string node_;
  int64_t value_ = 0, max_ = 0;
  std::chrono::steady_clock::time_point start_;
  bool drawn_ = false;
};

}  // namespace comfy::cli

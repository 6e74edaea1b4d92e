#include "cli/progress.hpp"

#include <cmath>
#include <iostream>

namespace comfy::cli {

namespace fs = std::filesystem;

std::string Reporter::label(const std::string& id) const {
  std::string cls;
  if (prompt) {
    auto it = prompt->find(id);
    if (it != prompt->end() && it->is_object()) {
      if (it->contains("_meta") && (*it)["_meta"].is_object() && (*it)["_meta"].contains("title") &&
          (*it)["_meta"]["title"].is_string())
        cls = (*it)["_meta"]["title"].get<std::string>();
      else
        cls = it->value("class_type", std::string());
    }
  }
  return cls.empty() ? "#" + id : cls + " #" + id;
}

void Reporter::json_line(const std::string& type, const nlohmann::json& data) {
  nlohmann::ordered_json j;  // {"type", "data"} in that order, as ComfyUI's websocket messages
  j["type"] = type;
  j["data"] = data;
  std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n" << std::flush;
}

void Reporter::clear_bar() {
  if (drawn_) {
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    drawn_ = false;
  }
}

void Reporter::draw() {
  if (!bar) return;
  std::string line = "\r\033[K" + label(node_);
  if (max_ > 0) {
    const int width = 24;
    int filled = int(double(value_) / double(max_) * width);
    line += "  " + std::to_string(value_) + "/" + std::to_string(max_) + " |" + std::string(size_t(filled), '#') +
            std::string(size_t(width - filled), '-') + "|";
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (value_ > 0 && secs > 0) {
      double rate = double(value_) / secs;
      char buf[64];
      std::snprintf(buf, sizeof buf, " %.2f it/s ETA %.0fs", rate, double(max_ - value_) / rate);
      line += buf;
    }
  }
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void Reporter::on_event(const Event& e) {
  if (json) json_line(e.type, e.data);
  if (e.type == "executing") {
    if (e.data["node"].is_null()) {
      clear_bar();
      return;
    }
    node_ = e.data["node"].get<std::string>();
    ran_.insert(node_);
    value_ = max_ = 0;
    start_ = std::chrono::steady_clock::now();
    draw();
  } else if (e.type == "progress") {
    std::string n = e.data.value("node", node_);
    if (n != node_ || e.data.value("value", int64_t(0)) <= 1) start_ = std::chrono::steady_clock::now();
    node_ = n;
    value_ = e.data.value("value", int64_t(0));
    max_ = e.data.value("max", int64_t(0));
    draw();
  } else if (e.type == "executed") {
    std::string n = e.data.value("node", std::string());
    const auto& out = e.data["output"];
    if (!ran_.count(n) || !out.is_object()) return;  // a cache hit re-sends old files: nothing new written
    for (auto& [key, items] : out.items()) {
      if (!items.is_array()) continue;
      for (auto& f : items) {
        if (!f.is_object() || !f.contains("filename")) continue;
        std::string type = f.value("type", "output");
        fs::path dir = type == "temp" ? (cfg && !cfg->temp_dir.empty() ? cfg->temp_dir
                                                                       : (cfg ? cfg->output_dir : fs::path("output")) / ".." / "temp")
                                      : type == "input" ? (cfg ? cfg->input_dir : fs::path("input"))
                                                        : (cfg ? cfg->output_dir : fs::path("output"));
        fs::path p = (dir / f.value("subfolder", "") / f.value("filename", "")).lexically_normal();
        files_written++;
        if (json) {
          json_line("output_written", {{"node", n}, {"kind", key}, {"path", p.string()}, {"filename", f["filename"]},
                                       {"subfolder", f.value("subfolder", "")}, {"type", type}});
        } else if (summary) {
          clear_bar();
          std::cout << label(n) << ": wrote " << p.string() << "\n" << std::flush;
        }
      }
    }
    if (bar && !node_.empty()) draw();
  }
}

}  // namespace comfy::cli

#pragma once
// What a node may know about the run it is part of: folders, device, dtype, events.
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace comfy {

// Events the executor and nodes emit (ComfyUI's websocket messages, workflow-execution.md 8.11).
struct Event {
  std::string type;  // "execution_start", "executing", "execution_cached", "executed", "progress",
                     // "execution_success", "execution_error", "output_written", ...
  nlohmann::json data = nlohmann::json::object();
};
using EventSink = std::function<void(const Event&)>;

struct RuntimeConfig {
  std::filesystem::path output_dir = "output";
  std::filesystem::path input_dir = "input";
  std::filesystem::path temp_dir;                      // PreviewImage; defaults to output_dir/../temp
  std::vector<std::filesystem::path> models_dirs;      // each laid out like ComfyUI's models/ folder
  std::optional<std::filesystem::path> extra_model_paths;  // extra_model_paths.yaml
  std::optional<std::filesystem::path> tokenizer_dir;
  std::vector<std::filesystem::path> wildcards_dirs;   // --wildcards-dir, read after Impact's own folders
  std::optional<std::filesystem::path> dump_progress_dir;  // --dump-progress
  c10::Device device = c10::Device(c10::kCPU);
  std::optional<c10::ScalarType> dtype;                // --dtype; nullopt = per-device default
  bool text_encoder_fp32 = false;                      // --fp32-text-enc (ComfyUI keeps CLIP weights in fp16)
  bool quiet = false;
  std::optional<uint64_t> memory_limit;                // --memory-limit; nullopt = physical memory + swap
  std::atomic<bool>* interrupt = nullptr;
};

}  // namespace comfy

#pragma once
// A node's declarative schema, shaped like ComfyUI's INPUT_TYPES / RETURN_TYPES. The same schema
// drives validation (bounds, combos), defaults, UI widget mapping (widget order) and `nodes --json`
// (ComfyUI's /object_info document).
#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "comfy/core/value.hpp"

namespace comfy {

struct RuntimeConfig;

// A file-backed combo's choices, listed from the folders of one run's configuration (never from
// process-wide state: two prompts with different folders may be validated at once).
using ComboListFn = std::function<std::vector<std::string>(const RuntimeConfig&)>;

enum class InputGroup { Required, Optional, Hidden };

struct InputSpec {
  std::string name;
  std::string type;                      // "INT", "FLOAT", "STRING", "BOOLEAN", "COMBO", "MODEL", "*", "INT,FLOAT", ...
  InputGroup group = InputGroup::Required;
  std::vector<std::string> options;      // COMBO choices (in order)
  ComboListFn options_fn;                // file-backed combos: listed when needed, from the run's folders
  bool combo_new_style = false;          // object_info as ["COMBO", {"options": [...]}] instead of [[...]]
  nlohmann::json default_value;          // null when none
  std::optional<Int> int_min, int_max;
  std::optional<double> float_min, float_max;
  std::optional<double> step;
  nlohmann::json round;                  // FLOAT round (number or false); null = not declared
  bool control_after_generate = false;   // seed-like INT: the UI stores one extra widget value after it
  bool force_input = false;              // socket only, no widget
  bool multiline = false;
  bool dynamic_prompts = false;
  bool image_upload = false;             // LoadImage: the UI adds an "upload" widget slot
  std::string label_on, label_off;       // BOOLEAN captions
  std::string hidden_kind;               // Hidden: "PROMPT", "EXTRA_PNGINFO", "UNIQUE_ID"
  std::string tooltip;
  nlohmann::json extra = nlohmann::json::object();  // any other option, emitted verbatim in object_info

  bool is_combo() const { return type == "COMBO"; }
  // Whether this input takes a widget value in the UI format (widgets_values).
  bool is_widget() const;
  // The choices under a run's configuration; without one, under a default RuntimeConfig (no model
  // folders, ./input).
  std::vector<std::string> choices(const RuntimeConfig& cfg) const;
  std::vector<std::string> choices() const;
  // ["INT", {"default": 0, "min": 0, ...}] as in /object_info
  nlohmann::json to_object_info(const RuntimeConfig& cfg) const;
  nlohmann::json to_object_info() const;
};

struct OutputSpec {
  std::string type;
  std::string name;  // display name; defaults to type
  bool is_list = false;
  std::string tooltip;
};

struct NodeSchema {
  std::string class_type;
  std::string display_name;
  std::string category = "sd";
  std::string description;
  std::string python_module = "nodes";
  bool output_node = false;
  bool not_idempotent = false;
  bool input_is_list = false;
  std::vector<InputSpec> inputs;   // declaration order: required, then optional, then hidden
  std::vector<OutputSpec> outputs;
  // Widgets that exist only for some values of a combo (VHS_VideoCombine's format widgets): the
  // editor shows choice_widgets[input][choice] right after that combo's widget (nodes-companions.md 6).
  std::map<std::string, std::map<std::string, std::vector<InputSpec>>> choice_widgets;
  // Inputs the schema does not declare still reach execute as constants (VHS's ContainsAll hidden
  // dict: ComfyUI then passes every prompt input through).
  bool accepts_undeclared_inputs = false;

  const InputSpec* find_input(const std::string& name) const;
  nlohmann::json to_object_info(const RuntimeConfig& cfg) const;
  nlohmann::json to_object_info() const;

  // ---- builder (chainable), e.g.
  //   NodeSchema("KSampler").display("KSampler").cat("sampling")
  //     .input("model", "MODEL").seed("seed").int_("steps", 20, 1, 10000) ... .output("LATENT")
  explicit NodeSchema(std::string cls = {}) : class_type(std::move(cls)) {}
  NodeSchema& display(std::string s) { display_name = std::move(s); return *this; }
  NodeSchema& cat(std::string s) { category = std::move(s); return *this; }
  NodeSchema& desc(std::string s) { description = std::move(s); return *this; }
  NodeSchema& module(std::string s) { python_module = std::move(s); return *this; }
  NodeSchema& output_node_(bool b = true) { output_node = b; return *this; }
  NodeSchema& not_idempotent_(bool b = true) { not_idempotent = b; return *this; }

  // Inputs go to the current group (required until optional() / hidden() is called).
  NodeSchema& optional() { group_ = InputGroup::Optional; return *this; }
  NodeSchema& hidden() { group_ = InputGroup::Hidden; return *this; }
  NodeSchema& input(std::string name, std::string type);                     // socket input (MODEL, LATENT, ...)
  NodeSchema& int_(std::string name, Int def, Int min, Int max, std::optional<double> step = std::nullopt);
  NodeSchema& seed(std::string name);                                        // INT 0 [0, 2^64-1] + control_after_generate
  NodeSchema& float_(std::string name, double def, double min, double max, std::optional<double> step = std::nullopt,
                     nlohmann::json round = nullptr);
  NodeSchema& string_(std::string name, std::string def = "", bool multiline = false, bool dynamic_prompts = false);
  NodeSchema& bool_(std::string name, bool def, std::string label_on = {}, std::string label_off = {});
  NodeSchema& combo(std::string name, std::vector<std::string> options, std::optional<std::string> def = std::nullopt);
  NodeSchema& combo_fn(std::string name, ComboListFn fn);                    // choices from the run's folders
  NodeSchema& combo_fn(std::string name, std::function<std::vector<std::string>()> fn);  // independent of the run
  NodeSchema& hidden_input(std::string name, std::string kind);              // PROMPT, EXTRA_PNGINFO, UNIQUE_ID
  // Modify the last added input (tooltip, force_input, extra options, ...).
  InputSpec& last() { return inputs.back(); }
  NodeSchema& tip(std::string t) { inputs.back().tooltip = std::move(t); return *this; }
  NodeSchema& output(std::string type, std::string name = {}, bool is_list = false);

 private:
  InputGroup group_ = InputGroup::Required;
  NodeSchema& add(InputSpec s);
};

constexpr Int kSeedMax = Int(~uint64_t(0));  // 0xffffffffffffffff

}  // namespace comfy

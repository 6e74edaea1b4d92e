// ImpactWildcardEncode — "ImpactWildcardEncode" (Impact Pack; nodes-prompt.md 2.1-2.2, 2.6): the
// populated text's <lora:...> tags applied through LoraLoader (LoraLoaderBlockWeight //Inspire for
// LBW= tags when that node exists), the rest split at BREAK, each piece encoded with CLIPTextEncode
// and the pieces joined as ConditioningConcat joins them.
#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"
#include "comfy/io/model_folders.hpp"
#include "comfy/models/clip.hpp"
#include "loaders/model_file_input.hpp"
#include "prompt/wildcard_node_util.hpp"

namespace comfy {
namespace {

const char* const kLoraPlaceholder = "Select the LoRA to add to the text";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The loras-folder entry a tag names: ".safetensors" appended unless the name has a model extension,
// then the first listed file whose path ends with it.
std::optional<std::string> resolve_lora(std::string name, const std::vector<std::string>& listing) {
  static const std::vector<std::string> exts{".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft"};
  const auto dot = name.rfind('.');
  const std::string ext = dot == std::string::npos ? "." + name : name.substr(dot);
  if (std::find(exts.begin(), exts.end(), ext) == exts.end()) name += ".safetensors";
  for (const auto& f : listing)
    if (ends_with(f, name)) return f;
  return std::nullopt;
}

struct ModelClip {
  Value model, clip;
};

ModelClip apply_lora(const wildcards::LoraTag& tag, const std::string& file, ModelClip mc, ExecContext& ctx) {
  const auto& reg = Registry::global();
  const NodeDef* lbw = tag.lbw ? reg.find("LoraLoaderBlockWeight //Inspire") : nullptr;
  NodeInputs li;
  li.values = {{"model", mc.model}, {"clip", mc.clip}, {"lora_name", Value(file)},
               {"strength_model", Value(tag.model_weight)}, {"strength_clip", Value(tag.clip_weight)}};
  const NodeDef* def = lbw;
  if (lbw) {
    // Impact calls doit(model, clip, lora_name, model_weight, clip_weight, False, 0, A, B, "", lbw)
    li.values.insert({{"inverse", Value(false)}, {"seed", Value(int64_t{0})}, {"A", Value(tag.lbw_a.value_or(4.0))},
                      {"B", Value(tag.lbw_b.value_or(1.0))}, {"preset", Value(std::string())},
                      {"block_vector", Value(*tag.lbw)}, {"bypass", Value(false)}, {"category_filter", Value("All")}});
  } else {
    if (tag.lbw) spdlog::warn("'LBW(Lora Block Weight)' is given, but the 'Inspire Pack' is not installed. The LBW= attribute is being ignored.");
    def = reg.find("LoraLoader");
  }
  if (!def) fail("wildcard_text", "no LoraLoader node to apply <lora:" + tag.name + ">");
  NodeOutput out;
  try {
    out = def->execute(li, ctx);
  } catch (Error& e) {
    if (e.input_name.empty() || e.input_name == "lora_name") e.at_input("populated_text");
    throw;
  }
  return {out.values.at(0), out.values.at(1)};
}

// ConditioningConcat(to, from): every entry of `to` gets from's first cond appended on the token axis.
std::vector<CondEntry> concat(std::vector<CondEntry> to, const std::vector<CondEntry>& from) {
  if (from.empty()) return to;
  if (from.size() > 1)
    spdlog::warn("Warning: ConditioningConcat conditioning_from contains more than 1 cond, only the first one will actually be applied to conditioning_to.");
  for (auto& e : to) e.cross_attn = at::cat({e.cross_attn, from[0].cross_attn}, 1);
  return to;
}

NodeOutput execute(const NodeInputs& in, ExecContext& ctx) {
  const auto dict = prompt_nodes::wildcard_dictionary(ctx.cfg());
  const uint64_t seed = in.u64("seed");
  const std::string pass1 =
      prompt_nodes::process_text(prompt_nodes::populated_text(in, ctx, *dict, seed), seed, *dict, "populated_text");
  const auto loras = wildcards::extract_lora_tags(pass1);
  const std::string pass2 = wildcards::remove_lora_tags(pass1);

  ModelClip mc{in.get("model"), in.get("clip")};
  if (!loras.empty()) {
    const auto listing = io::ModelFolders::from_config(ctx.cfg()).list("loras");
    for (const auto& tag : loras) {
      auto file = resolve_lora(tag.name, listing);
      if (!file) {
        spdlog::info("LORA NOT FOUND: {}", tag.name);
        continue;
      }
      spdlog::info("LOAD LORA: {}: {}, {}, LBW={}, A={}, B={}", *file, tag.model_weight, tag.clip_weight,
                   tag.lbw.value_or("None"), tag.lbw_a ? std::to_string(*tag.lbw_a) : "None",
                   tag.lbw_b ? std::to_string(*tag.lbw_b) : "None");
      mc = apply_lora(tag, *file, mc, ctx);
    }
  }
  spdlog::info("CLIP: {}", pass2);

  if (mc.clip.is_none()) fail("clip", "ERROR: clip input is invalid: None");
  auto clip = mc.clip.as<Clip>();
  if (!clip->encoder) fail("clip", "ERROR: clip input has no text encoder");
  auto cond = std::make_shared<Conditioning>();
  for (const auto& piece : wildcards::split_break(pass2)) {
    auto entries = clip->encoder->encode(piece, clip->layer_idx);
    cond->entries = cond->entries.empty() ? std::move(entries) : concat(std::move(cond->entries), entries);
  }
  return NodeOutput{{mc.model, mc.clip, Value(cond), Value(pass1)}};
}

}  // namespace

void register_impact_wildcard_encode(Registry& r) {
  NodeSchema s("ImpactWildcardEncode");
  s.display("ImpactWildcardEncode").cat("ImpactPack/Prompt")
      .input("model", "MODEL")
      .input("clip", "CLIP")
      .string_("wildcard_text", "", /*multiline=*/true)
      .tip("Enter a prompt using wildcard syntax.")
      .string_("populated_text", "", /*multiline=*/true)
      .tip("The actual value passed during the execution of 'ImpactWildcardEncode' is what is shown here.")
      .bool_("mode", true, "Populate", "Fixed")
      .tip("Populate: the populated text is rebuilt from wildcard_text each time the prompt is queued. Fixed: kept as is.")
      .combo_fn("Select to add LoRA", [](const RuntimeConfig& cfg) {
        std::vector<std::string> v{kLoraPlaceholder};
        auto files = loaders::list_folder("loras")(cfg);
        v.insert(v.end(), files.begin(), files.end());
        return v;
      })
      .combo("Select to add Wildcard", {"Select the Wildcard to add to the text"})
      .seed("seed")
      .tip("Determines the random seed to be used for wildcard processing.")
      .output("MODEL", "model").output("CLIP", "clip").output("CONDITIONING", "conditioning")
      .output("STRING", "populated_text");
  NodeDef def{s, execute};
  prompt_nodes::accept_any_value(def, {"Select to add LoRA", "Select to add Wildcard"});
  r.add(std::move(def));
}

}  // namespace comfy

// SaveLBW //Inspire, LoadLBW //Inspire (nodes-companions.md 3.4): an LBW_MODEL as
// <models>/lbw_models/<prefix>_<counter:05>_.lbw.safetensors. Inspire's intended format: tensors t1, t2, ...
// and string metadata format = "Inspire LBW 1.0", muted_blocks = Python str() of the key list, blocks =
// JSON {key: [["lora", [up, down, alpha, mid, dora_scale, reshape]], ratio]} with tensors named "tN".
// (Upstream SaveLBW fails on ComfyUI 0.8.0 because LoRA patches became adapter objects; we write the
// format its LoadLBW, and Inspire with older ComfyUI, reads back.)
#include <ATen/ATen.h>

#include "inspire/inspire_pack.hpp"
#include "comfy/io/model_folders.hpp"
#include "comfy/io/output_names.hpp"
#include "comfy/io/python_json.hpp"
#include "comfy/io/safetensors.hpp"
#include "graph/serialize_value.hpp"
#include "inspire/lbw_model.hpp"

namespace comfy::lbw {

namespace {

const char* kFormat = "Inspire LBW 1.0";

std::string py_str_repr(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\\' || c == '\'') out.push_back('\\');
    out.push_back(c);
  }
  return out + "'";
}

// ast.literal_eval of a flat list / tuple of strings: "['a', 'b']" -> {a, b}.
std::vector<std::string> parse_py_string_list(const std::string& text, const std::string& what) {
  std::vector<std::string> out;
  size_t i = 0;
  auto bad = [&] { fail("lbw_model", "malformed " + what + " in the LBW file: " + text.substr(0, 80)); };
  auto skip_ws = [&] { while (i < text.size() && std::isspace((unsigned char)text[i])) ++i; };
  skip_ws();
  if (i >= text.size() || (text[i] != '[' && text[i] != '(')) bad();
  const char close = text[i] == '[' ? ']' : ')';
  ++i;
  for (;;) {
    skip_ws();
    if (i < text.size() && text[i] == close) break;
    if (i >= text.size() || (text[i] != '\'' && text[i] != '"')) bad();
    const char q = text[i++];
    std::string s;
    while (i < text.size() && text[i] != q) {
      if (text[i] == '\\' && i + 1 < text.size()) ++i;
      s.push_back(text[i++]);
    }
    if (i >= text.size()) bad();
    ++i;
    out.push_back(s);
    skip_ws();
    if (i < text.size() && text[i] == ',') ++i;
    else if (i >= text.size() || text[i] != close) bad();
  }
  return out;
}

NodeOutput save_lbw(const NodeInputs& in, ExecContext& ctx) {
  auto lbw = in.obj<LbwModel>("lbw_model");
  std::map<std::string, std::string> metadata;
  metadata["prompt"] = ctx.prompt ? io::python_json_dumps(*ctx.prompt) : std::string();
  if (ctx.extra_pnginfo && ctx.extra_pnginfo->is_object())
    for (auto it = ctx.extra_pnginfo->begin(); it != ctx.extra_pnginfo->end(); ++it)
      metadata[it.key()] = io::python_json_dumps(it.value());
  metadata["format"] = kFormat;
  std::string muted = "[";
  for (size_t i = 0; i < lbw->muted.size(); ++i) muted += (i ? ", " : "") + py_str_repr(lbw->muted[i]);
  metadata["muted_blocks"] = muted + "]";

  std::map<std::string, at::Tensor> tensors;
  int counter = 0;
  auto tensor_id = [&](const at::Tensor& t) {
    std::string id = "t" + std::to_string(++counter);
    tensors[id] = t.contiguous().cpu();
    return id;
  };
  nlohmann::ordered_json blocks = nlohmann::ordered_json::object();
  for (auto& b : lbw->blocks) {
    const LoraModule& m = *b.patch;
    nlohmann::ordered_json args = nlohmann::ordered_json::array();
    args.push_back(tensor_id(m.up));
    args.push_back(tensor_id(m.down));
    args.push_back(m.alpha ? nlohmann::ordered_json(*m.alpha) : nlohmann::ordered_json(nullptr));
    args.push_back(m.mid ? nlohmann::ordered_json(tensor_id(*m.mid)) : nlohmann::ordered_json(nullptr));
    args.push_back(nullptr);  // dora_scale
    args.push_back(nullptr);  // reshape
    blocks[m.model_key] = nlohmann::ordered_json::array({nlohmann::ordered_json::array({"lora", args}), b.ratio});
  }
  metadata["blocks"] = io::python_json_dumps(blocks);

  const auto& cfg = ctx.cfg();
  auto dir = io::ModelFolders::from_config(cfg).paths("lbw_models").back();
  std::filesystem::create_directories(dir);
  auto target = io::resolve_output_target(dir, ui::replace_prefix_patterns(in.str("filename_prefix"), ctx.prompt));
  io::write_output_file(target, "lbw.safetensors", io::safetensors_bytes(tensors, metadata));
  return {};
}

NodeOutput load_lbw(const NodeInputs& in, ExecContext& ctx) {
  auto path = io::resolve_model_file(ctx.cfg(), "lbw_models", in.str("lbw_model"), "lbw_model");
  auto st = io::SafeTensors::open(path);
  const auto& md = st->metadata();
  auto lbw = std::make_shared<LbwModel>();
  nlohmann::ordered_json blocks;  // keeps the saved order
  try {
    blocks = nlohmann::ordered_json::parse(md.count("blocks") ? md.at("blocks") : "{}");
  } catch (const nlohmann::json::exception&) {
    fail("lbw_model", "the LBW file's 'blocks' metadata is not JSON");
  }
  auto tensor = [&](const nlohmann::ordered_json& v, const std::string& key) -> at::Tensor {
    if (!v.is_string() || !st->contains(v.get<std::string>()))
      fail("lbw_model", "block '" + key + "' names a tensor the file does not hold");
    return st->get(v.get<std::string>()).to(at::kFloat).clone();
  };
  if (!blocks.is_object()) fail("lbw_model", "the LBW file's 'blocks' metadata is not an object");
  for (auto it = blocks.begin(); it != blocks.end(); ++it) {
    std::string key = it.key();
    if (!key.empty() && (key[0] == '(' || key[0] == '[')) key = parse_py_string_list(key, "block key").at(0);
    const auto& v = it.value();
    if (!v.is_array() || v.size() != 2 || !v[0].is_array() || v[0].size() != 2 || !v[1].is_number())
      fail("lbw_model", "block '" + key + "' is not [[patch_type, values], ratio]");
    if (v[0][0] != "lora" || !v[0][1].is_array() || v[0][1].size() < 2)
      fail("lbw_model", "block '" + key + "': only 'lora' patches are supported, found " + v[0][0].dump());
    const auto& args = v[0][1];
    auto m = std::make_shared<LoraModule>();
    m->model_key = key;
    m->target = key.rfind("diffusion_model.", 0) == 0 ? LoraTarget::UNet : LoraTarget::Clip;
    m->up = tensor(args[0], key);
    m->down = tensor(args[1], key);
    if (args.size() > 2 && args[2].is_number()) m->alpha = args[2].get<double>();
    if (args.size() > 3 && !args[3].is_null()) m->mid = tensor(args[3], key);
    if (m->down.dim() < 2 || m->up.dim() < 2 || m->down.size(0) == 0) fail("lbw_model", "block '" + key + "' has malformed weights");
    lbw->blocks.push_back({m, v[1].get<double>()});
  }
  if (md.count("muted_blocks")) lbw->muted = parse_py_string_list(md.at("muted_blocks"), "muted_blocks");
  return {{Value(lbw)}};
}

}  // namespace

}  // namespace comfy::lbw

namespace comfy {

void register_lbw_file_nodes(Registry& r) {
  NodeSchema save("SaveLBW //Inspire");
  save.display("Save LoRA Block Weight").cat("InspirePack/LoraBlockWeight").module(kInspirePackModule).output_node_()
      .input("lbw_model", "LBW_MODEL")
      .string_("filename_prefix", "ComfyUI")
      .hidden().hidden_input("prompt", "PROMPT").hidden_input("extra_pnginfo", "EXTRA_PNGINFO");
  r.add({save, lbw::save_lbw});

  NodeSchema load("LoadLBW //Inspire");
  load.display("Load LoRA Block Weight").cat("InspirePack/LoraBlockWeight").module(kInspirePackModule)
      .combo_fn("lbw_model", [](const RuntimeConfig& cfg) {
        auto files = io::ModelFolders::from_config(cfg).list("lbw_models");
        std::sort(files.begin(), files.end());
        return files;
      })
      .output("LBW_MODEL");
  r.add({load, lbw::load_lbw});
}

}  // namespace comfy

// Impact's basic pipe (nodes-companions.md 4): ToBasicPipe, FromBasicPipe, FromBasicPipe_v2, and
// ImpactNegativeConditioningPlaceholder.
#include "comfy/core/node.hpp"

namespace comfy {

namespace {

const char* kImpact = "custom_nodes.ComfyUI-Impact-Pack";

// BASIC_PIPE = (model, clip, vae, positive, negative).
struct BasicPipe : Object {
  Value model, clip, vae, positive, negative;
  std::string type_name() const override { return "BASIC_PIPE"; }
};

NodeOutput unpack(const BasicPipe& p, std::vector<Value> head = {}) {
  head.insert(head.end(), {p.model, p.clip, p.vae, p.positive, p.negative});
  return NodeOutput{std::move(head)};
}

NodeSchema& pipe_outputs(NodeSchema& s) {
  return s.output("MODEL", "model").output("CLIP", "clip").output("VAE", "vae")
      .output("CONDITIONING", "positive").output("CONDITIONING", "negative");
}

}  // namespace

void register_basic_pipe_nodes(Registry& r) {
  NodeSchema to("ToBasicPipe");
  to.display("ToBasicPipe").cat("ImpactPack/Pipe").module(kImpact)
      .input("model", "MODEL").input("clip", "CLIP").input("vae", "VAE")
      .input("positive", "CONDITIONING").input("negative", "CONDITIONING")
      .output("BASIC_PIPE", "basic_pipe");
  r.add({to, [](const NodeInputs& in, ExecContext&) {
           auto p = std::make_shared<BasicPipe>();
           p->model = in.get("model");
           p->clip = in.get("clip");
           p->vae = in.get("vae");
           p->positive = in.get("positive");
           p->negative = in.get("negative");
           return NodeOutput{{Value(p)}};
         }});

  NodeSchema from("FromBasicPipe");
  from.display("FromBasicPipe").cat("ImpactPack/Pipe").module(kImpact).input("basic_pipe", "BASIC_PIPE");
  pipe_outputs(from);
  r.add({from, [](const NodeInputs& in, ExecContext&) { return unpack(*in.obj<BasicPipe>("basic_pipe")); }});

  NodeSchema v2("FromBasicPipe_v2");
  v2.display("FromBasicPipe_v2").cat("ImpactPack/Pipe").module(kImpact)
      .input("basic_pipe", "BASIC_PIPE").output("BASIC_PIPE", "basic_pipe");
  pipe_outputs(v2);
  r.add({v2, [](const NodeInputs& in, ExecContext&) {
           return unpack(*in.obj<BasicPipe>("basic_pipe"), {in.get("basic_pipe")});
         }});

  // Impact's samplers read the string as "no negative"; core nodes given it fail on the type.
  NodeSchema neg("ImpactNegativeConditioningPlaceholder");
  neg.display("Negative Cond Placeholder").cat("ImpactPack/sampling").module(kImpact).output("CONDITIONING");
  r.add({neg, [](const NodeInputs&, ExecContext&) { return NodeOutput{{Value("NegativePlaceholder")}}; }});
}

}  // namespace comfy

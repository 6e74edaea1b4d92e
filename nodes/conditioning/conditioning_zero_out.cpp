// ConditioningZeroOut (advanced/conditioning, workflow-nodes-files.md 9.8)
#include <ATen/ATen.h>

#include "comfy/core/node.hpp"
#include "comfy/core/types.hpp"

namespace comfy {

void register_conditioning_zero_out(Registry& r) {
  NodeSchema s("ConditioningZeroOut");
  s.display("ConditioningZeroOut").cat("advanced/conditioning")
      .input("conditioning", "CONDITIONING")
      .output("CONDITIONING");
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           auto c = std::make_shared<Conditioning>();
           for (CondEntry e : in.obj<Conditioning>("conditioning")->entries) {
             e.cross_attn = at::zeros_like(e.cross_attn);
             if (e.pooled_output) e.pooled_output = at::zeros_like(*e.pooled_output);
             auto lyrics = e.extra.find("conditioning_lyrics");
             if (lyrics != e.extra.end() && lyrics->second.is_tensor())
               lyrics->second = Value(at::zeros_like(lyrics->second.as_tensor()));
             c->entries.push_back(std::move(e));
           }
           return NodeOutput{{Value(c)}};
         }});
}

}  // namespace comfy

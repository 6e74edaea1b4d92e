// ImageListToImageBatch (Impact util_nodes.py, nodes-companions.md 4): an IMAGE list joined along the batch.
#include <ATen/ATen.h>

#include "comfy/core/node.hpp"

namespace comfy {

void register_image_list_to_image_batch(Registry& r) {
  NodeSchema s("ImageListToImageBatch");
  s.display("Image List to Image Batch").cat("ImpactPack/Operation").module("custom_nodes.ComfyUI-Impact-Pack")
      .input("images", "IMAGE").output("IMAGE");
  s.input_is_list = true;
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           auto items = in.list("images");
           if (items.empty()) fail("images", "the image list is empty");
           std::vector<at::Tensor> parts;
           for (size_t i = 0; i < items.size(); ++i) {
             at::Tensor t = items[i].as_tensor();
             if (t.dim() != 4) fail("images", "item " + std::to_string(i) + " is not an IMAGE [B,H,W,C]");
             if (!parts.empty() && (t.size(1) != parts[0].size(1) || t.size(2) != parts[0].size(2) ||
                                    t.size(3) != parts[0].size(3)))
               // Impact resizes such an image with PIL's Lanczos filter, which comfy-native does not have.
               fail("images", "item " + std::to_string(i) + " is " + std::to_string(t.size(2)) + "x" +
                                  std::to_string(t.size(1)) + ", the first is " + std::to_string(parts[0].size(2)) + "x" +
                                  std::to_string(parts[0].size(1)) +
                                  ": resizing mixed sizes (lanczos) is not supported by comfy-native");
             parts.push_back(t);
           }
           return NodeOutput{{Value(parts.size() == 1 ? parts[0] : at::cat(parts, 0))}};
         }});
}

}  // namespace comfy

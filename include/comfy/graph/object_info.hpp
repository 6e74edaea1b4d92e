#pragma once
// Node schemas read from ComfyUI's /object_info document, so a UI workflow with custom nodes that
// comfy-native does not implement can still be mapped (widget order, defaults, combos, seeds'
// control widgets) and validated. The inverse of NodeSchema::to_object_info.
#include <nlohmann/json.hpp>

#include <string>

#include "comfy/core/node.hpp"

namespace comfy {

// One /object_info entry ({"input": {"required", "optional", "hidden"}, "input_order", "output", ...})
// -> its schema. Throws Error("invalid_prompt") naming the class and input when the entry is malformed.
NodeSchema schema_from_object_info(const std::string& class_type, const nlohmann::ordered_json& info);

// Adds every entry of an /object_info document to `reg` (replacing none already there) with an execute
// function that fails with "not implemented by comfy-native"; returns how many were added.
size_t add_object_info_nodes(Registry& reg, const nlohmann::ordered_json& object_info);

}  // namespace comfy

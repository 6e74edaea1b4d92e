#pragma once
// Runs one registered node's execute() directly (no graph, no executor), as ComfyUI calls a node's
// function with the inputs given: what the unit tests of single nodes share.
#include <map>
#include <string>

#include "comfy/core/node.hpp"

namespace comfy::test {

// The node `cls` with `values` as its inputs under `cfg` (a default RuntimeConfig when omitted).
// Throws std::runtime_error for an unregistered class; the node's own errors propagate.
NodeOutput run_node(const std::string& cls, std::map<std::string, Value> values, const RuntimeConfig& cfg);
NodeOutput run_node(const std::string& cls, std::map<std::string, Value> values);

}  // namespace comfy::test

#pragma once
// The Python module ComfyUI reports for every Inspire Pack node (object_info "python_module").
namespace comfy {
inline constexpr const char* kInspirePackModule = "custom_nodes.ComfyUI-Inspire-Pack";
}  // namespace comfy

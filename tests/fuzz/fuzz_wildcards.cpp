// libFuzzer target for Impact's wildcard grammar (src/prompt/wildcards.cpp, lora_tags.cpp): any text,
// against a dictionary that includes recursive, self-doubling, empty and glob-matched wildcards, must
// expand or fail with comfy::Error — never crash, hang or grow without bound.
#include <cstddef>
#include <cstdint>
#include <string>

#include "comfy/core/error.hpp"
#include "comfy/prompt/wildcards.hpp"

namespace {

const comfy::wildcards::Dictionary& dictionary() {
  static const comfy::wildcards::Dictionary d = [] {
    comfy::wildcards::Dictionary dict;
    dict.set("colors", {"red", "green", "2::blue", "", "{light|dark} __colors__"});
    dict.set("animal", {"cat", "dog", "__colors__ bird"});
    dict.set("loop", {"again __loop__"});
    dict.set("boom", {"__boom__ __boom__"});
    dict.set("empty", {});
    dict.set("outfit/casual", {"jeans", "t-shirt"});
    dict.set("outfit/formal", {"{2$$suit|gown|3#__colors__}"});
    dict.set("lora", {"<lora:alpha:0.5> glow", "<lora:beta:LBW=A=1;B=2;1,0,1> x BREAK y"});
    return dict;
  }();
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  uint64_t seed = 1469598103934665603ULL;  // FNV-1a of the input: the seed varies with the text
  for (unsigned char c : text) seed = (seed ^ c) * 1099511628211ULL;
  comfy::wildcards::Limits limits;
  limits.max_text = 1u << 16;
  limits.max_work = 2'000'000;
  limits.max_fallback_depth = 50;
  try {
    const std::string out = comfy::wildcards::process(text, seed, dictionary(), limits);
    if (out.size() > limits.max_text) __builtin_trap();  // the bound must hold
    comfy::wildcards::extract_lora_tags(out);
    comfy::wildcards::split_break(comfy::wildcards::remove_lora_tags(out));
  } catch (const comfy::Error&) {
  }
  return 0;
}

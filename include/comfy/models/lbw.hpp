#pragma once
// LoRA Block Weight (Inspire lora_block_weight.py, nodes-companions.md 3): the block-vector grammar,
// the presets and the walk that gives every loaded LoRA key its ratio. Pure functions over key names,
// so the same code serves LoraLoaderBlockWeight, MakeLBW and the fuzzer.
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace comfy::lbw {

// The presets of resources/lbw-preset.txt in file order (name, vector); the "@" XY-plot lines excluded.
const std::vector<std::pair<std::string, std::string>>& presets();
// "Preset" followed by every "NAME:vector" line: the node's preset combo.
std::vector<std::string> preset_choices();

// The "%default=..,in1-3=..,mid=..,out2=.." form rewritten into a plain vector (3.3) for the blocks the
// LoRA has (`model_keys`: ComfyUI model keys "diffusion_model.input_blocks.4.1....", "clip_l...."); a
// string not starting with '%' is returned unchanged. Throws comfy::Error on an unparsable value.
std::string expand_block_spec(const std::vector<std::string>& model_keys, const std::string& spec);

struct BlockWeights {
  std::vector<std::pair<std::string, double>> ratios;  // kept keys with their ratio, in the walk's order
  std::vector<std::string> muted;                      // keys whose ratio is 0
  std::string populated_vector;                        // "1,0,0.5,..." as Inspire prints it
};

// LoraLoaderBlockWeight.load_lbw given the loaded keys in load_lora's order. Throws comfy::Error
// ("[LoraLoaderBlockWeight] invalid block_vector '...'", input "block_vector") like upstream's ValueError.
BlockWeights block_weights(const std::vector<std::string>& model_keys, const std::string& block_vector, bool inverse,
                           uint64_t seed, double A, double B);

// numpy.random.RandomState(seed).uniform(low, high) draws (MT19937, 53-bit doubles), for the U / R tokens.
class NumpyLegacyRandom {
 public:
  explicit NumpyLegacyRandom(uint32_t seed) : mt_(seed) {}  // init_genrand, as RandomState.seed(int)
  double random_sample() {
    const uint64_t a = mt_() >> 5, b = mt_() >> 6;
    return (double(a) * 67108864.0 + double(b)) / 9007199254740992.0;
  }
  double uniform(double low, double high) { return low + (high - low) * random_sample(); }

 private:
  std::mt19937 mt_;
};

// Python round(x, 2) (correctly rounded, ties to even on the exact binary value).
double py_round2(double x);

}  // namespace comfy::lbw

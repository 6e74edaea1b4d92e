// The block-weight presets (Inspire resources/lbw-preset.txt as of Inspire 1.21, nodes-companions.md 3.2),
// written as runs of values: {"1", 8} = eight entries "1".
#include <string>
#include <utility>
#include <vector>

#include "comfy/models/lbw.hpp"

namespace comfy::lbw {

namespace {

struct Run {
  const char* value;
  int count;
};

std::string join_runs(std::initializer_list<Run> runs) {
  std::string s;
  for (auto& r : runs)
    for (int i = 0; i < r.count; ++i) s += (s.empty() ? "" : ",") + std::string(r.value);
  return s;
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& presets() {
  static const std::vector<std::pair<std::string, std::string>> k = {
      {"SD-NONE", join_runs({{"0", 17}})},
      {"SD-ALL", join_runs({{"1", 17}})},
      {"SD-INS", join_runs({{"1", 4}, {"0", 13}})},
      {"SD-IND", join_runs({{"1", 1}, {"0", 3}, {"1", 3}, {"0", 10}})},
      {"SD-INALL", join_runs({{"1", 7}, {"0", 10}})},
      {"SD-MIDD", join_runs({{"1", 1}, {"0", 3}, {"1", 8}, {"0", 5}})},
      {"SD-MIDD0.2", "1,0,0,0,0,0,0.2,0.4,0.4,0.2,0,0,0,0,0,0,0"},
      {"SD-MIDD0.8", "1,0,0,0,0,0.5,0.8,0.8,0.4,0,0,0,0,0,0,0,0"},
      {"SD-MOUT", "1,0,0,0,0,0,1,1,1,1,1,1,1,1,0.5,0,0"},
      {"SD-OUTD", join_runs({{"1", 1}, {"0", 7}, {"1", 4}, {"0", 5}})},
      {"SD-OUTS", join_runs({{"1", 1}, {"0", 11}, {"1", 5}})},
      {"SD-OUTALL", join_runs({{"1", 1}, {"0", 7}, {"1", 9}})},
      {"SD-ROUT", join_runs({{"1", 8}, {"R", 9}})},
      {"SD-AOUT", join_runs({{"A", 1}, {"1", 11}, {"A", 5}})},
      {"SD-AB", join_runs({{"A", 1}, {"B", 11}, {"A", 5}})},
      {"SD-ALL0.5", join_runs({{"0.5", 17}})},
      {"SD-LyC-NONE", join_runs({{"0", 27}})},
      {"SD-LyC-ALL", join_runs({{"1", 27}})},
      {"SD-LyC-INALL", join_runs({{"1", 12}, {"0", 15}})},
      {"SD-LyC-MIDALL", join_runs({{"1", 1}, {"0", 11}, {"1", 3}, {"0", 12}})},
      {"SD-LyC-OUTALL", join_runs({{"1", 1}, {"0", 14}, {"1", 12}})},
      {"SDXL-NONE", join_runs({{"0", 12}})},
      {"SDXL-ALL", join_runs({{"1", 12}})},
      {"SDXL-INALL", join_runs({{"1", 5}, {"0", 7}})},
      {"SDXL-MIDALL", join_runs({{"1", 1}, {"0", 4}, {"1", 1}, {"0", 6}})},
      {"SDXL-OUTALL", join_runs({{"1", 1}, {"0", 5}, {"1", 6}})},
      {"SDXL-LyC-NONE", join_runs({{"0", 21}})},
      {"SDXL-LyC-ALL", join_runs({{"1", 21}})},
      {"SDXL-LyC-INALL", join_runs({{"1", 9}, {"0", 12}})},
      {"SDXL-LyC-MIDALL", join_runs({{"1", 1}, {"0", 8}, {"1", 3}, {"0", 9}})},
      {"SDXL-LyC-OUTALL", join_runs({{"1", 1}, {"0", 11}, {"1", 9}})},
      {"FLUX-DBL-ALL", join_runs({{"1", 20}})},
      {"FLUX-DBL-FRONT7", join_runs({{"1", 8}, {"0", 12}})},
      {"FLUX-DBL-MID6", join_runs({{"1", 1}, {"0", 7}, {"1", 6}, {"0", 6}})},
      {"FLUX-DBL-TAIL6", join_runs({{"1", 1}, {"0", 13}, {"1", 6}})},
      {"FLUX-SINGLE-ALL", join_runs({{"1", 1}, {"0", 19}, {"1", 38}})},
      {"FLUX-SINGLE-1to10", join_runs({{"1", 1}, {"0", 19}, {"1", 10}, {"0", 28}})},
      {"FLUX-SINGLE-11to20", join_runs({{"1", 1}, {"0", 29}, {"1", 10}, {"0", 18}})},
      {"FLUX-SINGLE-21to30", join_runs({{"1", 1}, {"0", 39}, {"1", 10}, {"0", 8}})},
      {"FLUX-SINGLE-31to37", join_runs({{"1", 1}, {"0", 49}, {"1", 8}})},
      {"FLUX-ALL", join_runs({{"1", 58}})},
  };
  return k;
}

std::vector<std::string> preset_choices() {
  std::vector<std::string> out{"Preset"};
  for (auto& [name, vec] : presets()) out.push_back(name + ":" + vec);
  return out;
}

}  // namespace comfy::lbw

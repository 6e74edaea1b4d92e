#pragma once
// Impact Pack's wildcard prompts (impact/wildcards.py, Impact 7.10.6): the wildcard dictionary read
// from wildcard folders, process() (comments, {a|b} options with weights and counts, __name__
// wildcards, N#__name__ quantifiers) with numpy's generator, and the <lora:...> tags.
// Spec: nodes-prompt.md section 2.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace comfy::wildcards {

// Key -> lines, in insertion order (a Python dict: a key written again keeps its first position).
class Dictionary {
 public:
  void set(const std::string& key, std::vector<std::string> lines);
  const std::vector<std::string>* find(const std::string& key) const;
  const std::vector<std::pair<std::string, std::vector<std::string>>>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }

 private:
  std::vector<std::pair<std::string, std::vector<std::string>>> entries_;
  std::unordered_map<std::string, size_t> index_;
};

// wildcard_normalize: "\" -> "/", " " -> "-", lower case.
std::string normalize_key(const std::string& key);

// read_wildcard_dict over each folder in turn (later folders overwrite equal keys): os.walk order
// (directory listing order, files of a folder before its subfolders), .txt files as ISO-8859-1 lines
// without '#' comment lines, .yaml files (lists, strings, nested mappings as parent/child keys).
// A folder that does not exist is skipped. Throws comfy::Error for a file that cannot be read or parsed.
Dictionary load_dictionary(const std::vector<std::filesystem::path>& dirs);

// The same, cached for the life of the process per list of folders.
std::shared_ptr<const Dictionary> cached_dictionary(const std::vector<std::filesystem::path>& dirs);

// Bounds that keep a hostile or recursive prompt from running away (upstream has none but the 99
// passes). Exceeding one throws comfy::Error.
struct Limits {
  size_t max_text = 1u << 20;        // bytes of text at any point of the expansion
  size_t max_work = 50'000'000;      // characters scanned / keys compared over one process() call
  size_t max_fallback_depth = 200;   // nested "__name__ -> __*/name__" re-runs of the wildcard pass
};

// process(text, seed): the populated prompt. Upstream exceptions (a range Python cannot parse,
// weights summing to 0, negative weights, an empty wildcard) are thrown as comfy::Error with the
// upstream message.
std::string process(const std::string& text, uint64_t seed, const Dictionary& dict, const Limits& limits = {});
// process_comment_out.
std::string remove_comments(const std::string& text);

struct LoraTag {
  std::string name;
  double model_weight = 1.0, clip_weight = 1.0;
  std::optional<std::string> lbw;
  std::optional<double> lbw_a, lbw_b;
};
// extract_lora_values: <lora:name[:model[:clip]][:LBW=...]> in order, the first tag of a name only.
std::vector<LoraTag> extract_lora_tags(const std::string& text);
// remove_lora_tags: every <lora:...> removed.
std::string remove_lora_tags(const std::string& text);
// text.split("BREAK"), each piece stripped, empty pieces dropped; [""] when nothing is left.
std::vector<std::string> split_break(const std::string& text);

}  // namespace comfy::wildcards

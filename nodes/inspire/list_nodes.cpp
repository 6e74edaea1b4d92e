// Inspire's list nodes (nodes-companions.md 2): FloatRange //Inspire, whose FLOAT output is a list
// that makes every consumer run once per item, and the item-list helpers WorklistToItemList /
// DropItems. (ForeachListBegin/End need ComfyUI's dynamic graph expansion: not supported.)
#include <vector>

#include <algorithm>

#include "inspire/inspire_pack.hpp"
#include "comfy/core/node.hpp"

namespace comfy {

namespace {


// ITEM_LIST: a whole list carried as one value; `aux` is (total, end_node_id) in the Foreach loop.
struct ItemList : Object {
  std::vector<Value> items;
  Value aux;
  std::string type_name() const override { return "ITEM_LIST"; }
};

// Repeated float64 addition, as Inspire does it, so the rounding of the sums is kept
// (0.1 + 0.1 + 0.1 = 0.30000000000000004).
std::vector<double> inspire_float_range(double start, double stop, double step, int64_t limit, bool ensure_end) {
  if (start == stop || step == 0) return {start};
  bool reverse = false;
  if (start > stop) {
    std::swap(start, stop);
    reverse = true;
  }
  std::vector<double> out;
  double x = start;
  while (x <= stop && limit > 0) {
    out.push_back(x);
    --limit;
    x += step;
  }
  if (ensure_end && !out.empty() && out.back() != stop) {
    // The remaining counter, not the original limit, decides whether the last value makes room.
    if (int64_t(out.size()) >= limit) out.pop_back();
    out.push_back(stop);
  }
  if (reverse) std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace

void register_inspire_list_nodes(Registry& r) {
  NodeSchema s("FloatRange //Inspire");
  s.display("Float Range (Inspire)").cat("InspirePack/List").module(kInspirePackModule)
      .float_("start", 0.0, -100.0, 100.0, 1e-9)
      .float_("stop", 1.0, -100.0, 100.0, 1e-9)
      .float_("step", 0.01, 0.0, 100.0, 1e-9)
      .int_("limit", 100, 2, 4096)
      .bool_("ensure_end", true)
      .output("FLOAT", "FLOAT", /*is_list=*/true);
  r.add({s, [](const NodeInputs& in, ExecContext&) {
           auto values = inspire_float_range(in.f64("start"), in.f64("stop"), in.f64("step"), in.i64("limit"),
                                             in.boolean("ensure_end"));
           std::vector<Value> items(values.begin(), values.end());
           return NodeOutput{{Value(std::make_shared<ValueList>(std::move(items)))}};
         }});

  NodeSchema w("WorklistToItemList //Inspire");
  w.display("Worklist To Item List (Inspire)").cat("InspirePack/List").module(kInspirePackModule)
      .input("item", "*").output("ITEM_LIST", "item_list");
  w.input_is_list = true;
  r.add({w, [](const NodeInputs& in, ExecContext&) {
           auto l = std::make_shared<ItemList>();
           l->items = in.list("item");
           return NodeOutput{{Value(l)}};
         }});

  NodeSchema d("DropItems //Inspire");
  d.display("Drop Items (Inspire)").cat("InspirePack/List").module(kInspirePackModule)
      .input("item_list", "ITEM_LIST").output("ITEM_LIST", "ITEM_LIST");
  r.add({d, [](const NodeInputs& in, ExecContext&) {
           auto l = std::make_shared<ItemList>();
           l->aux = in.obj<ItemList>("item_list")->aux;
           return NodeOutput{{Value(l)}};
         }});
}

}  // namespace comfy

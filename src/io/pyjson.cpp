#include "comfy/io/pyjson.hpp"

#include <cmath>

namespace comfy::io {

namespace {

template <class J>
void dump(const J& j, std::string& out) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      out += '{';
      bool first = true;
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (!first) out += ", ";
        first = false;
        out += J(it.key()).dump(-1, ' ', true);
        out += ": ";
        dump(it.value(), out);
      }
      out += '}';
      break;
    }
    case nlohmann::json::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& v : j) {
        if (!first) out += ", ";
        first = false;
        dump(v, out);
      }
      out += ']';
      break;
    }
    case nlohmann::json::value_t::number_float: {
      const double d = j.template get<double>();
      if (std::isnan(d)) out += "NaN";
      else if (std::isinf(d)) out += d > 0 ? "Infinity" : "-Infinity";
      else out += j.dump();  // nlohmann: shortest round-trip, "8.0" for integral values, "1e-05"
      break;
    }
    default: out += j.dump(-1, ' ', true);
  }
}

}  // namespace

std::string python_json_dumps(const nlohmann::json& j) {
  std::string s;
  dump(j, s);
  return s;
}
std::string python_json_dumps(const nlohmann::ordered_json& j) {
  std::string s;
  dump(j, s);
  return s;
}

}  // namespace comfy::io

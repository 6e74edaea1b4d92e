// Discovery and frontend start-up routes (server spec 3.9, 3.10): /object_info, /system_stats,
// /models, /embeddings, /features, /extensions, settings and user data.
#include <sys/sysinfo.h>
#include <sys/utsname.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <torch/version.h>

#include "comfy/build_config.hpp"
#include "comfy/io/files.hpp"
#include "comfy/io/model_folders.hpp"
#include "server/app.hpp"
#include "server/file_paths.hpp"

namespace fs = std::filesystem;

namespace comfy::server {

namespace {

using json = nlohmann::json;

// ComfyUI v0.8.0's folder_names_and_paths keys, in its order (06_get_routes.json).
const std::vector<std::string>& model_folder_names() {
  static const std::vector<std::string> v = {
      "checkpoints", "configs", "loras", "vae", "text_encoders", "diffusion_models", "clip_vision", "style_models",
      "embeddings", "diffusers", "vae_approx", "controlnet", "gligen", "upscale_models", "latent_upscale_models",
      "custom_nodes", "hypernetworks", "photomaker", "classifiers", "model_patches", "audio_encoders"};
  return v;
}

// One class's object_info, with upload combos listing the server's input folder (not the process's).
json node_info(const App& app, const NodeDef& def) {
  json info = def.schema.to_object_info();
  for (auto& spec : def.schema.inputs) {
    if (!spec.image_upload) continue;
    const char* group = spec.group == InputGroup::Optional ? "optional" : "required";
    if (info["input"].contains(group) && info["input"][group].contains(spec.name))
      info["input"][group][spec.name][0] = input_images(app.cfg());
  }
  return info;
}

std::pair<uint64_t, uint64_t> ram_total_free() {
  uint64_t total = 0, avail = 0;
  std::ifstream f("/proc/meminfo");
  std::string key;
  uint64_t kb;
  std::string unit;
  while (f >> key >> kb >> unit) {
    if (key == "MemTotal:") total = kb * 1024;
    if (key == "MemAvailable:") avail = kb * 1024;
  }
  if (!total) {
    struct sysinfo si {};
    if (sysinfo(&si) == 0) {
      total = uint64_t(si.totalram) * si.mem_unit;
      avail = uint64_t(si.freeram) * si.mem_unit;
    }
  }
  return {total, avail};
}

nlohmann::ordered_json system_stats(const App& app) {
  auto [total, free] = ram_total_free();
  json argv = json::array();
  for (auto& a : app.options().argv) argv.push_back(a);
  nlohmann::ordered_json sys;
  sys["os"] = "linux";
  sys["ram_total"] = total;
  sys["ram_free"] = free;
  sys["comfyui_version"] = "0.8.0";
  sys["required_frontend_version"] = "1.35.9";
  sys["installed_templates_version"] = nullptr;
  sys["required_templates_version"] = "0.7.67";
  sys["python_version"] = std::string("comfy-native ") + build_config::kVersion + " (C++, no Python)";
  sys["pytorch_version"] = TORCH_VERSION;
  sys["embedded_python"] = false;
  sys["argv"] = argv;
  const auto& dev = app.cfg().device;
  nlohmann::ordered_json d;
  d["name"] = dev.is_cpu() ? "cpu" : dev.str();
  d["type"] = dev.is_cpu() ? "cpu" : "cuda";
  d["index"] = dev.has_index() ? json(dev.index()) : json(nullptr);
  d["vram_total"] = total;
  d["vram_free"] = free;
  d["torch_vram_total"] = total;
  d["torch_vram_free"] = free;
  nlohmann::ordered_json out;
  out["system"] = sys;
  out["devices"] = nlohmann::ordered_json::array({d});
  return out;  // ComfyUI's key order
}

fs::path user_root(const App& app) {
  const auto& o = app.options();
  fs::path base = !o.user_dir.empty() ? fs::path(o.user_dir)
                  : app.cfg().output_dir.parent_path().empty() ? fs::path("user") : app.cfg().output_dir.parent_path() / "user";
  return base / "default";
}

json read_settings(const App& app) {
  fs::path f = user_root(app) / "comfy.settings.json";
  std::error_code ec;
  if (!fs::is_regular_file(f, ec)) return json::object();
  json j = json::parse(io::read_file(f), nullptr, false);
  return j.is_object() ? j : json::object();
}

void write_settings(const App& app, const json& s) {
  fs::path dir = user_root(app);
  fs::create_directories(dir);
  io::write_file_atomic(dir / "comfy.settings.json", s.dump(4), /*overwrite=*/true);
}

HttpResponse list_userdata(const App& app, const HttpRequest& req) {
  std::string dir = req.query_value("dir");
  if (dir.empty()) return HttpResponse::empty(400);
  fs::path root;
  try {
    root = io::safe_join(user_root(app), dir, "dir");
  } catch (const std::exception&) {
    return HttpResponse::empty(403);
  }
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return HttpResponse::empty(404);
  bool recurse = req.query_value("recurse") == "true";
  json out = json::array();
  auto add = [&](const fs::directory_entry& e) {
    if (e.is_regular_file(ec)) out.push_back(fs::relative(e.path(), root).generic_string());
  };
  if (recurse)
    for (auto& e : fs::recursive_directory_iterator(root, ec)) add(e);
  else
    for (auto& e : fs::directory_iterator(root, ec)) add(e);
  return HttpResponse::json(out);
}

}  // namespace

void add_info_routes(App& app, Router& r) {
  r.add("GET", "/object_info", [&app](HttpRequest&) {
    json j = json::object();
    for (auto& [name, def] : app.registry().all()) j[name] = node_info(app, def);
    return HttpResponse::json(j);
  });
  r.add("GET", "/object_info/{node_class}", [&app](HttpRequest& req) {
    json j = json::object();
    if (const NodeDef* def = app.registry().find(req.params["node_class"])) j[def->schema.class_type] = node_info(app, *def);
    return HttpResponse::json(j);
  });
  r.add("GET", "/system_stats", [&app](HttpRequest&) { return HttpResponse::json(system_stats(app)); });
  r.add("GET", "/features", [&app](HttpRequest&) { return HttpResponse::json(app.features()); });
  r.add("GET", "/extensions", [](HttpRequest&) { return HttpResponse::json(json::array()); });
  r.add("GET", "/models", [](HttpRequest&) { return HttpResponse::json(json(model_folder_names())); });
  r.add("GET", "/models/{folder}", [&app](HttpRequest& req) {
    const std::string& folder = req.params["folder"];
    auto& names = model_folder_names();
    if (std::find(names.begin(), names.end(), folder) == names.end()) return HttpResponse::empty(404);
    return HttpResponse::json(json(io::ModelFolders::from_config(app.cfg()).list(folder)));
  });
  r.add("GET", "/embeddings", [&app](HttpRequest&) {
    json out = json::array();
    for (auto& f : io::ModelFolders::from_config(app.cfg()).list("embeddings")) out.push_back(fs::path(f).replace_extension().generic_string());
    return HttpResponse::json(out);
  });
  r.add("GET", "/experiment/models", [&app](HttpRequest&) {
    json out = json::array();
    auto mf = io::ModelFolders::from_config(app.cfg());
    for (auto& name : model_folder_names()) {
      json folders = json::array();
      for (auto& p : mf.paths(name)) folders.push_back(p.string());
      out.push_back({{"name", name}, {"folders", folders}});
    }
    return HttpResponse::json(out);
  });
  for (const char* empty_object : {"/i18n", "/workflow_templates", "/global_subgraphs"})
    r.add("GET", empty_object, [](HttpRequest&) { return HttpResponse::json(json::object()); });

  // ---- users and settings (single-user mode)
  r.add("GET", "/users", [&app](HttpRequest&) {
    std::error_code ec;
    return HttpResponse::json(json{{"storage", "server"}, {"migrated", fs::is_directory(user_root(app).parent_path(), ec)}});
  });
  r.add("GET", "/settings", [&app](HttpRequest&) { return HttpResponse::json(read_settings(app)); });
  r.add("GET", "/settings/{id}", [&app](HttpRequest& req) {
    json s = read_settings(app);
    auto it = s.find(req.params["id"]);
    return HttpResponse::json(it == s.end() ? json(nullptr) : *it);
  });
  r.add("POST", "/settings", [&app](HttpRequest& req) {
    json body = json::parse(req.body, nullptr, false);
    if (!body.is_object()) return HttpResponse::empty(400);
    json s = read_settings(app);
    s.update(body);
    write_settings(app, s);
    return HttpResponse::empty();
  });
  r.add("POST", "/settings/{id}", [&app](HttpRequest& req) {
    json v = json::parse(req.body, nullptr, false);
    if (v.is_discarded()) return HttpResponse::empty(400);
    json s = read_settings(app);
    s[req.params["id"]] = v;
    write_settings(app, s);
    return HttpResponse::empty();
  });
  r.add("GET", "/userdata", [&app](HttpRequest& req) { return list_userdata(app, req); });
  r.add("GET", "/v2/userdata", [&app](HttpRequest& req) { return list_userdata(app, req); });
  r.add("GET", "/userdata/{file}", [&app](HttpRequest& req) {
    try {
      fs::path p = io::safe_join(user_root(app), req.params["file"], "file");
      std::error_code ec;
      if (!fs::is_regular_file(p, ec)) return HttpResponse::empty(404);
      HttpResponse resp;
      resp.body = io::read_file(p);
      return resp;
    } catch (const std::exception&) {
      return HttpResponse::empty(403);
    }
  });
  r.add("POST", "/userdata/{file}", [&app](HttpRequest& req) {
    fs::path p;
    try {
      p = io::safe_join(user_root(app), req.params["file"], "file");
    } catch (const std::exception&) {
      return HttpResponse::empty(403);
    }
    std::error_code ec;
    bool overwrite = req.query_value("overwrite", "true") != "false";
    if (fs::exists(p, ec) && !overwrite) return HttpResponse::text("File already exists", 409);
    fs::create_directories(p.parent_path(), ec);
    io::write_file_atomic(p, req.body, /*overwrite=*/true);
    return HttpResponse::json(json(fs::relative(p, user_root(app)).generic_string()));
  });
  r.add("DELETE", "/userdata/{file}", [&app](HttpRequest& req) {
    try {
      fs::path p = io::safe_join(user_root(app), req.params["file"], "file");
      std::error_code ec;
      if (!fs::is_regular_file(p, ec)) return HttpResponse::empty(404);
      fs::remove(p, ec);
      return HttpResponse::empty(204);
    } catch (const std::exception&) {
      return HttpResponse::empty(403);
    }
  });
}

}  // namespace comfy::server

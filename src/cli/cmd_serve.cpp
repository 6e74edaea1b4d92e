// `comfy-native serve [options]`: ComfyUI's HTTP + WebSocket API (server spec) over the same
// executor as `run`; models and node results stay cached between prompts.
#include <cstdlib>
#include <iostream>

#include "cli/cli_util.hpp"
#include "cli/commands.hpp"
#include "cli/runtime_flags.hpp"
#include "server/app.hpp"
#include "server/http_server.hpp"

namespace comfy::cli {

namespace {

struct ServeFlags {
  std::string listen = "127.0.0.1";
  int port = 8188;
  RuntimeFlags runtime;
  std::string temp_dir;
  double max_upload_size_mb = 100;
  std::string preview_method = "none";
  std::string front_end_root;
  std::string api_token;
  std::string user_directory;
  size_t max_history = 10000;
  bool quiet = false;
};

int serve(const ServeFlags& f, int argc, char** argv) {
  server::ServeOptions o;
  o.listen = f.listen;
  o.port = f.port;
  o.cfg = f.runtime.to_config();
  if (!f.temp_dir.empty()) o.cfg.temp_dir = f.temp_dir;
  o.cfg.quiet = true;
  if (!(f.max_upload_size_mb >= 0)) throw UsageError("--max-upload-size must be a number of MB >= 0");
  o.max_upload_size = int64_t(f.max_upload_size_mb * 1024 * 1024);
  if (f.preview_method != "none" && f.preview_method != "latent2rgb" && f.preview_method != "auto")
    throw UsageError("--preview-method '" + f.preview_method + "': expected none, auto or latent2rgb");
  o.preview_method = f.preview_method == "auto" ? "latent2rgb" : f.preview_method;
  o.front_end_root = f.front_end_root;
  o.api_token = f.api_token;
  if (o.api_token.empty())
    if (const char* t = std::getenv("COMFY_NATIVE_API_TOKEN")) o.api_token = t;
  o.user_dir = f.user_directory;
  o.max_history = f.max_history;
  o.quiet = f.quiet;
  for (int i = 0; i < argc; ++i) o.argv.push_back(argv[i]);
  if (f.port < 0 || f.port > 65535) throw UsageError("--port must be 0..65535");

  server::App app(o);
  server::HttpServer http(app);
  uint16_t port = 0;
  try {
    port = http.bind();
  } catch (const std::exception& e) {
    std::cerr << "serve: " << e.what() << "\n";
    return kExitFailure;
  }
  std::string host = f.listen.substr(0, f.listen.find(','));
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  std::cout << "comfy-native serve: listening on http://" << host << ":" << port << std::endl;
  int sig = http.run();
  if (!f.quiet) std::cerr << "serve: stopped" << (sig ? " by signal " + std::to_string(sig) : std::string()) << "\n";
  return kExitOk;
}

}  // namespace

int cmd_serve(int argc, char** argv) {
  ServeFlags f;
  cxxopts::Options opts("comfy-native serve", "Serve ComfyUI's HTTP + WebSocket API (POST /prompt, /ws, /history, /view, ...).");
  opts.add_options()
      ("listen", "address(es) to listen on, comma-separated", cxxopts::value(f.listen)->default_value(f.listen))
      ("port", "TCP port (0 = any free port; the chosen one is printed)", cxxopts::value(f.port)->default_value("8188"))
      ("temp-dir", "PreviewImage's folder (default: OUTPUT_DIR/../temp)", cxxopts::value(f.temp_dir))
      ("max-upload-size", "largest request body in MB (larger: 413)", cxxopts::value(f.max_upload_size_mb)->default_value("100"))
      ("preview-method", "latent previews over the websocket: none or latent2rgb", cxxopts::value(f.preview_method)->default_value("none"))
      ("front-end-root", "serve a ComfyUI web frontend build from this folder", cxxopts::value(f.front_end_root))
      ("api-token", "require this token on every route and the websocket (Authorization: Bearer or ?token=); "
                    "also read from COMFY_NATIVE_API_TOKEN", cxxopts::value(f.api_token))
      ("user-directory", "settings and user data (default: OUTPUT_DIR/../user)", cxxopts::value(f.user_directory))
      ("max-history", "finished prompts kept in /history", cxxopts::value(f.max_history)->default_value("10000"))
      ("quiet", "no log lines", cxxopts::value(f.quiet))
      ("h,help", "show this help");
  f.runtime.add_to(opts);
  try {
    auto res = opts.parse(argc, argv);
    if (res.count("help")) {
      std::cout << opts.help() << "\nSIGINT / SIGTERM interrupt the running prompt and stop the server.\n";
      return kExitOk;
    }
    if (!res.unmatched().empty()) throw UsageError("unexpected argument '" + res.unmatched()[0] + "'");
    return serve(f, argc, argv);
  } catch (const cxxopts::exceptions::exception& e) {
    std::cerr << "serve: " << e.what() << "\n";
    return kExitInvalid;
  } catch (const UsageError& e) {
    std::cerr << "serve: " << e.what() << "\n";
    return kExitInvalid;
  }
}

}  // namespace comfy::cli

// lienthongctl: the integrator's and operator's command line.

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/builtins.h"
#include "core/loader.h"
#include "core/plugins.h"
#include "core/xpath.h"

namespace {

constexpr const char* kUsage = R"(Usage: lienthongctl COMMAND [OPTIONS]

Commands:
  lint [--config FILE | --no-config] [PATH...]
      Checks route files (a directory means every *.yaml in it but *_test.yaml) and
      prints every error as file:line:col: message. Listener and connection names are
      checked against the daemon config: --config FILE, or config/lienthong.yaml when it
      exists in the current directory. Without PATH, the config's own routes are
      checked. Exit status: 0 valid, 1 errors found, 2 wrong usage.
  help
      This text.

Options for every command:
  --help     this text
  --version  print the version
)";

int usageError(const std::string& message) {
  std::fprintf(stderr, "lienthongctl: %s\n\n%s", message.c_str(), kUsage);
  return 2;
}

int lint(const std::vector<std::string>& args) {
  std::string config_file;
  bool no_config = false;
  std::vector<std::string> paths;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--config" && i + 1 < args.size())
      config_file = args[++i];
    else if (a.starts_with("--config="))
      config_file = a.substr(9);
    else if (a == "--no-config")
      no_config = true;
    else if (a.starts_with("-"))
      return usageError("lint: unknown option '" + a + "'");
    else
      paths.push_back(a);
  }
  std::error_code ec;
  if (config_file.empty() && !no_config && std::filesystem::exists("config/lienthong.yaml", ec)) {
    config_file = "config/lienthong.yaml";
  }
  if (paths.empty() && config_file.empty()) {
    return usageError("lint: give route files or directories, or a --config");
  }

  lienthong::initXml();
  lienthong::Registry registry;
  lienthong::registerBuiltins(registry);
  lienthong::Loader loader(registry, /*check_only=*/true);
  lienthong::ConfigErrors errors;
  std::optional<lienthong::DaemonConfig> config;
  if (!config_file.empty()) {
    config = loader.loadConfig(config_file, errors);
  } else {
    config = lienthong::Loader::emptyConfig(".");
  }
  std::size_t routes = 0;
  std::size_t files = 0;
  lienthong::PluginSet plugins;
  if (config && !plugins.load(config->plugin_paths, registry, errors, config->plugins_where)) {
    config.reset();
  }
  if (config) {
    if (paths.empty()) paths = config->route_paths;
    lienthong::ConfigErrors file_errors;
    files = lienthong::Loader::routeFiles(paths, file_errors).size();
    auto table = loader.loadRoutes(*config, paths, errors);
    if (table) routes = table->routes.size();
  }
  if (!errors.empty()) {
    std::fputs(errors.str().c_str(), stdout);
    std::fprintf(stdout, "%zu error(s)\n", errors.size());
    return 1;
  }
  std::printf("ok: %zu route(s) in %zu file(s)\n", routes, files);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usageError("no command given");
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--version") {
      std::puts("lienthongctl 0.1.0");
      return 0;
    }
  }
  std::string command = args[0];
  args.erase(args.begin());
  if (command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (command == "lint") return lint(args);
  return usageError("unknown command '" + command + "'");
}

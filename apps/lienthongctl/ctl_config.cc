#include "apps/lienthongctl/ctl_config.h"

#include <cstdio>
#include <filesystem>

#include "core/builtins.h"
#include "core/xpath.h"

namespace lienthong::ctl {

std::optional<DaemonConfig> loadConfig(const std::string& config_file, Registry& registry,
                                       PluginSet& plugins, ConfigErrors& errors) {
  initXml();
  registerBuiltins(registry);
  Loader loader(registry, /*check_only=*/true);
  std::optional<DaemonConfig> config;
  if (!config_file.empty()) {
    config = loader.loadConfig(config_file, errors);
  } else {
    config = Loader::emptyConfig(".");
  }
  if (config && !plugins.load(config->plugin_paths, registry, errors, config->plugins_where)) {
    config.reset();
  }
  if (config) setXmlLimits(config->xml);
  return config;
}

std::unique_ptr<Store> openConfigStore(const std::string& command, const std::string& config_file,
                                       const char* no_store, int& status, std::string* where) {
  Registry registry;
  PluginSet plugins;
  ConfigErrors errors;
  const std::string file = config_file.empty() ? defaultConfigFile() : config_file;
  if (file.empty()) {
    std::fprintf(stderr, "lienthongctl %s: give --config FILE (the store is named there)\n",
                 command.c_str());
    status = 2;
    return nullptr;
  }
  status = 1;
  auto config = loadConfig(file, registry, plugins, errors);
  if (!config) {
    std::fputs(errors.str().c_str(), stderr);
    return nullptr;
  }
  if (!config->store.configured()) {
    std::fprintf(stderr, "%s has no store: %s\n", file.c_str(), no_store);
    return nullptr;
  }
  auto store = openStore(config->store, false);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.error().message.c_str());
    return nullptr;
  }
  if (where) *where = config->store.describe();
  return std::move(*store);
}

std::string defaultConfigFile() {
  std::error_code ec;
  return std::filesystem::exists("config/lienthong.yaml", ec) ? "config/lienthong.yaml" : "";
}

}  // namespace lienthong::ctl

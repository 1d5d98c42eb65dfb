#include "apps/lienthongctl/ctl_config.h"

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

std::string defaultConfigFile() {
  std::error_code ec;
  return std::filesystem::exists("config/lienthong.yaml", ec) ? "config/lienthong.yaml" : "";
}

}  // namespace lienthong::ctl

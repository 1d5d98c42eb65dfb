#include "core/plugins.h"

#include <dlfcn.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "lienthong/plugin.h"

namespace lienthong {

namespace {

// Adapts a plugin instance to a Step. Owns the instance.
class PluginStep final : public Step {
 public:
  PluginStep(const lt_plugin_info* info, void* instance) : info_(info), instance_(instance) {}
  ~PluginStep() override { info_->destroy(instance_); }
  PluginStep(const PluginStep&) = delete;
  PluginStep& operator=(const PluginStep&) = delete;

  Result<StepOutcome> process(Exchange& exchange) override {
    Output output;
    lt_sink sink{&output, &Output::appendBody, &Output::setContentType, &Output::setHeader};
    char error[512] = {0};
    const std::string& body = exchange.message().body();
    const int r = info_->transform(instance_, body.data(), body.size(), &sink, error, sizeof error);
    error[sizeof error - 1] = '\0';
    const std::string why = "plugin " + std::string(info_->name) + ": " +
                            (error[0] ? std::string(error) : std::string("no reason given"));
    switch (r) {
      case LT_OK:
        break;
      case LT_INVALID_MESSAGE:
        return Error(ErrorCode::kInvalidMessage, why);
      case LT_TRANSIENT:
        return Error(ErrorCode::kTransient, why);
      case LT_PERMANENT:
        return Error(ErrorCode::kPermanent, why);
      default:
        return Error(ErrorCode::kInternal, why + " (unknown result " + std::to_string(r) + ")");
    }
    Message& m = exchange.message();
    m.setBody(std::move(output.body));
    if (output.content_type) m.setContentType(*output.content_type);
    for (auto& [name, value] : output.headers) m.setHeader(name, std::move(value));
    return StepOutcome::kContinue;
  }

 private:
  struct Output {
    std::string body;
    std::optional<std::string> content_type;
    std::vector<std::pair<std::string, std::string>> headers;

    static void appendBody(void* ctx, const char* data, std::size_t size) {
      if (data && size) static_cast<Output*>(ctx)->body.append(data, size);
    }
    static void setContentType(void* ctx, const char* type) {
      if (type) static_cast<Output*>(ctx)->content_type = type;
    }
    static void setHeader(void* ctx, const char* name, const char* value) {
      if (name && *name) static_cast<Output*>(ctx)->headers.emplace_back(name, value ? value : "");
    }
  };

  const lt_plugin_info* info_;
  void* instance_;
};

StepFactory factoryFor(const lt_plugin_info* info) {
  return [info](const YAML::Node& node, BuildContext& ctx) -> std::unique_ptr<Step> {
    std::vector<std::string> storage;
    if (!node.IsNull() && !node.IsMap()) {
      ctx.error(node, std::string(info->name) + " takes a map of settings");
      return nullptr;
    }
    bool ok = true;
    if (node.IsMap()) {
      for (auto it = node.begin(); it != node.end(); ++it) {
        if (!it->first.IsScalar() || !it->second.IsScalar()) {
          ctx.error(it->first, std::string(info->name) + " settings are `key: value` strings");
          ok = false;
          continue;
        }
        storage.push_back(it->first.Scalar());
        storage.push_back(it->second.Scalar());
      }
    }
    if (!ok) return nullptr;
    std::vector<lt_setting> settings;
    for (std::size_t i = 0; i + 1 < storage.size(); i += 2) {
      settings.push_back({storage[i].c_str(), storage[i + 1].c_str()});
    }
    char error[512] = {0};
    void* instance = info->create(settings.data(), settings.size(), error, sizeof error);
    error[sizeof error - 1] = '\0';
    if (!instance) {
      ctx.error(node, std::string(info->name) + ": " + (error[0] ? error : "refused its settings"));
      return nullptr;
    }
    return std::make_unique<PluginStep>(info, instance);
  };
}

bool validName(const char* name) {
  if (!name || !*name) return false;
  for (const char* p = name; *p; ++p) {
    const char c = *p;
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

}  // namespace

bool PluginSet::load(const std::vector<std::string>& paths, Registry& registry,
                     ConfigErrors& errors, const SourceLocation& where) {
  namespace fs = std::filesystem;
  std::size_t before = errors.size();
  std::vector<std::string> libraries;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (const auto& e : fs::directory_iterator(p, ec)) {
        if (e.path().extension() == ".so") found.push_back(e.path().string());
      }
      std::sort(found.begin(), found.end());
      libraries.insert(libraries.end(), found.begin(), found.end());
    } else {
      libraries.push_back(p);
    }
  }
  for (const auto& lib : libraries) {
    auto fail = [&](const std::string& why) { errors.add(where, "plugin " + lib + ": " + why); };
    void* handle = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* e = dlerror();
      fail(std::string("cannot load: ") + (e ? e : "unknown error"));
      continue;
    }
    auto entry = reinterpret_cast<lt_plugin_entry>(dlsym(handle, LT_PLUGIN_ENTRY));
    if (!entry) {
      fail(std::string("no entry point '") + LT_PLUGIN_ENTRY +
           "' (not a lienthong plugin, or built for another ABI)");
      dlclose(handle);
      continue;
    }
    const lt_plugin_info* info = entry();
    if (!info) {
      fail("the entry point returned nothing");
      dlclose(handle);
      continue;
    }
    if (info->abi_version != LT_PLUGIN_ABI_VERSION) {
      fail("ABI version " + std::to_string(info->abi_version) + ", this lienthongd speaks " +
           std::to_string(LT_PLUGIN_ABI_VERSION) + ": rebuild it against this SDK");
      dlclose(handle);
      continue;
    }
    if (!validName(info->name) || info->kind != LT_PLUGIN_TRANSFORM || !info->create ||
        !info->destroy || !info->transform) {
      fail(
          "incomplete plugin description (name [a-z0-9-]+, kind transform, create, destroy, "
          "transform)");
      dlclose(handle);
      continue;
    }
    Result<void> added = registry.addStep(info->name, factoryFor(info));
    if (!added.ok()) {
      fail(added.error().message);
      dlclose(handle);
      continue;
    }
    handles_.push_back(handle);
  }
  return errors.size() == before;
}

}  // namespace lienthong

// Plugins for the plugin loader's tests, built three ways (see CMakeLists.txt):
//   TEST_PLUGIN_THROWS   a plugin whose transform throws (a bug the daemon must contain)
//   TEST_PLUGIN_OLD_ABI  a plugin of another ABI version
//   TEST_PLUGIN_NO_ENTRY a shared library without the entry point

#include <stdexcept>

#include "lienthong/plugin.h"

#ifndef TEST_PLUGIN_NO_ENTRY
namespace {

void* create(const lt_setting*, size_t, char*, size_t) {
  static int instance = 0;
  return &instance;
}
void destroy(void*) {}
int transform(void*, const char*, size_t, lt_sink*, char*, size_t) {
  throw std::runtime_error("test plugin bug");
}

#ifdef TEST_PLUGIN_OLD_ABI
constexpr uint32_t kAbi = 99;
constexpr const char* kName = "old-abi-test";
#else
constexpr uint32_t kAbi = LT_PLUGIN_ABI_VERSION;
constexpr const char* kName = "throwing-test";
#endif

const lt_plugin_info kInfo = {kAbi, kName, LT_PLUGIN_TRANSFORM, create, destroy, transform};

}  // namespace

extern "C" __attribute__((visibility("default"))) const lt_plugin_info* lienthong_plugin_v1() {
  return &kInfo;
}
#else
extern "C" __attribute__((visibility("default"))) int not_a_plugin() { return 0; }
#endif

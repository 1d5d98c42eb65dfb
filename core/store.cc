#include <unistd.h>

#include <cstring>

#include "core/store.h"

namespace lienthong {

std::string encodeStoredHeaders(const Headers& headers) {
  std::string out;
  auto put = [&](const std::string& s) {
    const auto n = static_cast<std::uint32_t>(s.size());
    out.append(reinterpret_cast<const char*>(&n), sizeof n);
    out += s;
  };
  for (const auto& [name, value] : headers) {
    put(name);
    put(value);
  }
  return out;
}

Headers decodeStoredHeaders(std::string_view data) {
  Headers out;
  const char* p = data.data();
  const char* end = p + data.size();
  auto get = [&](std::string& s) {
    std::uint32_t n = 0;
    if (end - p < static_cast<std::ptrdiff_t>(sizeof n)) return false;
    std::memcpy(&n, p, sizeof n);
    p += sizeof n;
    if (end - p < static_cast<std::ptrdiff_t>(n)) return false;
    s.assign(p, n);
    p += n;
    return true;
  };
  std::string name, value;
  while (p < end && get(name) && get(value)) out.emplace(name, value);
  return out;
}

std::string StoreSettings::describe() const {
  if (!path.empty()) return "store " + path;
  return "store " + url + (node.empty() ? std::string() : " (node " + node + ")");
}

Result<std::unique_ptr<Store>> openStore(const StoreSettings& settings, bool as_node) {
  if (!settings.url.empty()) return openPostgresStore(settings, as_node);
  return openSqliteStore(settings.path);
}

}  // namespace lienthong

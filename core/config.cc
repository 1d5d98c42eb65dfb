// ConfigErrors, MapReader and the duration/size parsers.

#include "lienthong/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <map>

#include "lienthong/template.h"

namespace lienthong {

std::string ConfigError::str() const {
  std::string out = where.file;
  if (where.line > 0) {
    out += ':' + std::to_string(where.line) + ':' + std::to_string(where.column);
  }
  out += ": ";
  out += message;
  return out;
}

SourceLocation locationOf(const std::string& file, const YAML::Node& node) {
  SourceLocation loc{file, 0, 0};
  if (node.IsDefined()) {
    YAML::Mark mark = node.Mark();
    if (mark.line >= 0) {
      loc.line = mark.line + 1;
      loc.column = mark.column + 1;
    }
  }
  return loc;
}

void ConfigErrors::add(SourceLocation where, std::string message) {
  errors_.push_back({std::move(where), std::move(message)});
}

void ConfigErrors::add(const std::string& file, const YAML::Node& at, std::string message) {
  add(locationOf(file, at), std::move(message));
}

std::string ConfigErrors::str() const {
  std::vector<ConfigError> sorted = errors_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const ConfigError& a, const ConfigError& b) {
    if (a.where.file != b.where.file) return a.where.file < b.where.file;
    if (a.where.line != b.where.line) return a.where.line < b.where.line;
    return a.where.column < b.where.column;
  });
  std::string out;
  for (const auto& e : sorted) {
    out += e.str();
    out += '\n';
  }
  return out;
}

void BuildContext::error(const YAML::Node& at, std::string message) {
  errors().add(file(), at, std::move(message));
}

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  std::uint64_t factor = 0;
  if (unit == "ms")
    factor = 1;
  else if (unit == "s")
    factor = 1000;
  else if (unit == "m")
    factor = 60'000;
  else if (unit == "h")
    factor = 3'600'000;
  else if (unit == "d")
    factor = 86'400'000;
  else
    return std::nullopt;
  if (value > (std::uint64_t{1} << 40) / factor) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(value * factor));
}

std::optional<std::uint64_t> parseSize(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  std::uint64_t factor = 0;
  if (unit.empty() || unit == "B")
    factor = 1;
  else if (unit == "KiB")
    factor = 1ULL << 10;
  else if (unit == "MiB")
    factor = 1ULL << 20;
  else if (unit == "GiB")
    factor = 1ULL << 30;
  else if (unit == "KB")
    factor = 1000;
  else if (unit == "MB")
    factor = 1000'000;
  else if (unit == "GB")
    factor = 1000'000'000;
  else
    return std::nullopt;
  if (value > (std::uint64_t{1} << 50) / factor) return std::nullopt;
  return value * factor;
}

struct MapReader::Impl {
  YAML::Node node;
  BuildContext* ctx;
  std::string what;
  std::map<std::string, std::size_t, std::less<>> index;  // key -> position in values
  std::deque<YAML::Node> keys;
  std::deque<YAML::Node> values;
  std::vector<std::string> known;

  const YAML::Node* find(std::string_view key) {
    if (std::find(known.begin(), known.end(), key) == known.end()) known.emplace_back(key);
    auto it = index.find(key);
    return it == index.end() ? nullptr : &values[it->second];
  }
  void error(const YAML::Node& at, std::string message) { ctx->error(at, std::move(message)); }
};

MapReader::MapReader(const YAML::Node& node, BuildContext& ctx, std::string what)
    : impl_(std::make_unique<Impl>()) {
  impl_->node = node;
  impl_->ctx = &ctx;
  impl_->what = std::move(what);
  if (!node.IsMap()) {
    if (node.IsNull()) {
      valid_ = true;  // `key:` with nothing: an empty map
      return;
    }
    ctx.error(node, impl_->what + " must be a map");
    finished_ = true;
    return;
  }
  valid_ = true;
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar()) {
      ctx.error(it->first, "keys of " + impl_->what + " must be plain words");
      continue;
    }
    std::string key = it->first.Scalar();
    if (impl_->index.count(key) != 0) {
      ctx.error(it->first, "duplicate key '" + key + "' in " + impl_->what);
      continue;
    }
    impl_->index.emplace(key, impl_->values.size());
    impl_->keys.push_back(it->first);
    impl_->values.push_back(it->second);
  }
}

MapReader::~MapReader() {
  if (!finished_) finish();
}

bool MapReader::has(std::string_view key) const { return impl_->index.count(key) != 0; }

const YAML::Node* MapReader::node(std::string_view key, bool required) {
  const YAML::Node* n = impl_->find(key);
  if (!n && required && valid_) {
    impl_->error(impl_->node, impl_->what + " needs '" + std::string(key) + "'");
  }
  return n;
}

std::optional<std::string> MapReader::string(std::string_view key, bool required) {
  const YAML::Node* n = node(key, required);
  if (!n) return std::nullopt;
  if (!n->IsScalar()) {
    impl_->error(*n, "'" + std::string(key) + "' must be a string");
    return std::nullopt;
  }
  return n->Scalar();
}

std::optional<std::int64_t> MapReader::integer(std::string_view key, std::int64_t min,
                                               std::int64_t max, bool required) {
  const YAML::Node* n = node(key, required);
  if (!n) return std::nullopt;
  std::int64_t value = 0;
  bool ok = false;
  if (n->IsScalar()) {
    const std::string& s = n->Scalar();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    ok = ec == std::errc() && end == s.data() + s.size() && !s.empty();
  }
  if (!ok) {
    impl_->error(*n, "'" + std::string(key) + "' must be an integer");
    return std::nullopt;
  }
  if (value < min || value > max) {
    impl_->error(*n, "'" + std::string(key) + "' must be between " + std::to_string(min) + " and " +
                         std::to_string(max));
    return std::nullopt;
  }
  return value;
}

std::optional<bool> MapReader::boolean(std::string_view key) {
  const YAML::Node* n = node(key);
  if (!n) return std::nullopt;
  if (n->IsScalar()) {
    const std::string& s = n->Scalar();
    if (s == "true") return true;
    if (s == "false") return false;
  }
  impl_->error(*n, "'" + std::string(key) + "' must be true or false");
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> MapReader::duration(std::string_view key, bool required) {
  const YAML::Node* n = node(key, required);
  if (!n) return std::nullopt;
  std::optional<std::chrono::milliseconds> d;
  if (n->IsScalar()) d = parseDuration(n->Scalar());
  if (!d) {
    impl_->error(*n, "'" + std::string(key) + "' must be a duration like 250ms, 30s, 5m, 2h, 1d");
  }
  return d;
}

std::optional<std::chrono::milliseconds> MapReader::positiveDuration(std::string_view key,
                                                                     bool required) {
  auto d = duration(key, required);
  if (d && d->count() <= 0) {
    impl_->error(*node(key), "'" + std::string(key) + "' must be longer than 0");
    return std::nullopt;
  }
  return d;
}

std::optional<std::uint64_t> MapReader::size(std::string_view key, bool required) {
  const YAML::Node* n = node(key, required);
  if (!n) return std::nullopt;
  std::optional<std::uint64_t> v;
  if (n->IsScalar()) v = parseSize(n->Scalar());
  if (!v) impl_->error(*n, "'" + std::string(key) + "' must be a size like 512, 64KiB, 10MiB");
  return v;
}

std::optional<std::string> MapReader::oneOf(std::string_view key,
                                            const std::vector<std::string>& words, bool required) {
  const YAML::Node* n = node(key, required);
  if (!n) return std::nullopt;
  if (n->IsScalar() && std::find(words.begin(), words.end(), n->Scalar()) != words.end()) {
    return n->Scalar();
  }
  std::string list;
  for (const auto& w : words) list += (list.empty() ? "" : ", ") + w;
  impl_->error(*n, "'" + std::string(key) + "' must be one of: " + list);
  return std::nullopt;
}

std::optional<std::string> MapReader::secret(const std::string& what) {
  BuildContext& ctx = *impl_->ctx;
  if (const YAML::Node* n = node(what + "-file")) {
    auto path = ctx.path(*n, PathKind::kFile);
    if (!path) return std::nullopt;
    std::ifstream in(*path);
    std::string line;
    std::getline(in, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
  if (const YAML::Node* n = node(what + "-env")) {
    if (!n->IsScalar()) {
      impl_->error(*n, "'" + what + "-env' must name an environment variable");
      return std::nullopt;
    }
    const char* value = std::getenv(n->Scalar().c_str());
    if (!value) {
      if (!ctx.checkOnly()) impl_->error(*n, "environment variable " + n->Scalar() + " is not set");
      return std::string();
    }
    return std::string(value);
  }
  return std::string();
}

std::optional<std::vector<std::string>> MapReader::stringList(std::string_view key, bool required) {
  const YAML::Node* n = node(key, required);
  if (!n) return std::nullopt;
  if (!n->IsSequence()) {
    impl_->error(*n, "'" + std::string(key) + "' must be a list of strings");
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (const auto& item : *n) {
    if (!item.IsScalar()) {
      impl_->error(item, "items of '" + std::string(key) + "' must be strings");
      ok = false;
      continue;
    }
    out.push_back(item.Scalar());
  }
  if (!ok) return std::nullopt;
  return out;
}

std::shared_ptr<const Template> MapReader::templ(std::string_view key, bool required) {
  const YAML::Node* n = node(key, required);
  if (!n) return nullptr;
  return impl_->ctx->compileTemplate(*n);
}

void MapReader::finish() {
  if (finished_) return;
  finished_ = true;
  for (std::size_t i = 0; i < impl_->keys.size(); ++i) {
    const std::string& key = impl_->keys[i].Scalar();
    if (std::find(impl_->known.begin(), impl_->known.end(), key) != impl_->known.end()) continue;
    std::string list;
    for (const auto& k : impl_->known) list += (list.empty() ? "" : ", ") + k;
    impl_->error(impl_->keys[i], "unknown key '" + key + "' in " + impl_->what +
                                     (list.empty() ? "" : " (known: " + list + ")"));
  }
}

}  // namespace lienthong

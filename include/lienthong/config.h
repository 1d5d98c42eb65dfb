#pragma once
// What factories see at load time: the errors collector, the build context, and a reader
// for YAML maps that rejects unknown keys and wrong types with file:line:col.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lienthong/exchange.h"

namespace YAML {
class Node;
}

namespace lienthong {

namespace pki {
class SigningKey;  // core/pki.h
class TrustStore;
}  // namespace pki

class Step;
class StoreSlot;  // core/store.h
class OutboundEndpoint;
class Listener;
class Connection;
class Template;

struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
};

struct ConfigError {
  SourceLocation where;
  std::string message;
  // "file:line:col: message"
  std::string str() const;
};

// Collects every error of one load, so that a run reports them all at once.
class ConfigErrors {
 public:
  void add(SourceLocation where, std::string message);
  void add(const std::string& file, const YAML::Node& at, std::string message);
  bool empty() const { return errors_.empty(); }
  std::size_t size() const { return errors_.size(); }
  const std::vector<ConfigError>& all() const { return errors_; }
  // Errors sorted by file, line and column, one per line.
  std::string str() const;

 private:
  std::vector<ConfigError> errors_;
};

SourceLocation locationOf(const std::string& file, const YAML::Node& node);

enum class PathKind {
  kFile,             // must exist and be a regular file
  kDirectory,        // must exist and be a directory
  kCreateDirectory,  // created at start if missing (not at lint)
};

// Given to factories while a config or route file is loaded. Every method that takes a
// node reports its own errors at that node and returns an empty value on failure.
class BuildContext {
 public:
  virtual ~BuildContext() = default;
  virtual ConfigErrors& errors() = 0;
  virtual const std::string& file() const = 0;
  // The route being built; empty while listeners and connections are built.
  virtual const std::string& routeId() const = 0;
  virtual ExchangePattern pattern() const = 0;
  // True for `lienthongctl lint`: validate, but create nothing outside the process.
  virtual bool checkOnly() const = 0;
  // The `namespaces` of the file being loaded (prefix -> URI), for XPath.
  virtual const std::map<std::string, std::string>& namespaces() const = 0;

  // How many steps enclose the step being built: 0 for a top-level step of the route.
  virtual int depth() const { return 0; }

  void error(const YAML::Node& at, std::string message);

  // A path relative to the home directory, made absolute. kFile/kDirectory must exist.
  virtual std::optional<std::string> path(const YAML::Node& node, PathKind kind) = 0;
  // A named listener/connection of the daemon config, of the given kind ("http").
  virtual std::shared_ptr<Listener> listener(const YAML::Node& name, std::string_view kind) = 0;
  virtual std::shared_ptr<Connection> connection(const YAML::Node& name, std::string_view kind) = 0;
  // Every connection of the daemon config of the given kind, by name (an endpoint that
  // chooses its peer per message among them).
  virtual std::map<std::string, std::shared_ptr<Connection>> connections(
      std::string_view /*kind*/) {
    return {};
  }
  // A signing key or trust store of the daemon config (`keys:`, `trust:`), by name.
  virtual std::shared_ptr<const pki::SigningKey> signingKey(const YAML::Node& name) {
    error(name, "signing keys are not available here");
    return nullptr;
  }
  virtual std::shared_ptr<const pki::TrustStore> trustStore(const YAML::Node& name) {
    error(name, "trust stores are not available here");
    return nullptr;
  }
  // Nested steps (a sequence) and endpoints, built through the registry.
  virtual std::optional<std::vector<std::unique_ptr<Step>>> steps(const YAML::Node& seq) = 0;
  virtual std::shared_ptr<OutboundEndpoint> outbound(const YAML::Node& node) = 0;
  // A ${...} template from a scalar; errors point at the offending column.
  virtual std::shared_ptr<const Template> compileTemplate(const YAML::Node& node) = 0;
  // The daemon's store as steps reach it at run time (it opens late and may reopen);
  // nullptr when the daemon has none, and in the tools (lint, route tests).
  virtual std::shared_ptr<StoreSlot> storeSlot() { return nullptr; }
  // Whether the daemon config names a store (also for lint, which opens none).
  virtual bool configHasStore() const { return false; }
};

// Reads one YAML map. Each getter records the key as known; finish() reports every key
// that no getter asked for. Wrong types and out-of-range values are reported at the value.
class MapReader {
 public:
  // `what` names the map in messages ("http listener", "set-header step").
  MapReader(const YAML::Node& node, BuildContext& ctx, std::string what);
  ~MapReader();
  MapReader(const MapReader&) = delete;
  MapReader& operator=(const MapReader&) = delete;

  bool valid() const { return valid_; }  // false when the node is not a map
  bool has(std::string_view key) const;
  // The value node, or nullptr when absent (and an error when required).
  const YAML::Node* node(std::string_view key, bool required = false);

  std::optional<std::string> string(std::string_view key, bool required = false);
  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max,
                                      bool required = false);
  std::optional<bool> boolean(std::string_view key);
  // "250ms", "30s", "5m", "2h", "1d"
  std::optional<std::chrono::milliseconds> duration(std::string_view key, bool required = false);
  // A duration longer than 0 (an error at the value otherwise).
  std::optional<std::chrono::milliseconds> positiveDuration(std::string_view key,
                                                            bool required = false);
  // "512", "64KiB", "10MiB", "1GiB" (also KB/MB/GB as powers of 1000)
  std::optional<std::uint64_t> size(std::string_view key, bool required = false);
  // One of the given words.
  std::optional<std::string> oneOf(std::string_view key, const std::vector<std::string>& words,
                                   bool required = false);
  std::optional<std::vector<std::string>> stringList(std::string_view key, bool required = false);
  // A secret named `what` (e.g. "password"), never written in the config itself: the
  // first line of the file `what-file`, or the environment variable `what-env`. "" when
  // neither key is there; nullopt after an error (reported at its place).
  std::optional<std::string> secret(const std::string& what);
  std::shared_ptr<const Template> templ(std::string_view key, bool required = false);

  // Reports unknown keys. Called by the destructor if not called before.
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool valid_ = false;
  bool finished_ = false;
};

// Parsers shared by MapReader and the loader. Return nullopt on bad text.
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);
std::optional<std::uint64_t> parseSize(std::string_view text);

}  // namespace lienthong

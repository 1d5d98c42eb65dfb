#include "core/loader.h"

#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>

#include "core/files.h"
#include "core/xmldsig.h"
#include "lienthong/template.h"

namespace fs = std::filesystem;

namespace lienthong {

std::chrono::milliseconds RetryPolicy::delayAfter(std::uint32_t attempt) const {
  double base = static_cast<double>(initial.count());
  if (exponential) {
    for (std::uint32_t i = 1; i < attempt && base < static_cast<double>(max.count()); ++i) {
      base *= 2;
    }
  }
  base = std::min(base, static_cast<double>(max.count()));
  thread_local std::mt19937 gen{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  return std::chrono::milliseconds(static_cast<std::int64_t>(base * jitter(gen)));
}

std::shared_ptr<Route> RouteTable::find(std::string_view id) const {
  for (const auto& r : routes) {
    if (r->id == id) return r;
  }
  return nullptr;
}

namespace {

std::string joinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

template <typename Map>
std::vector<std::string> keysOf(const Map& map) {
  std::vector<std::string> out;
  for (const auto& [k, v] : map) out.push_back(k);
  return out;
}

class Context final : public BuildContext {
 public:
  Context(const Registry& registry, const DaemonConfig& config, ConfigErrors& errors,
          std::string file, bool check_only, std::shared_ptr<StoreSlot> store_slot = nullptr)
      : registry_(registry),
        config_(config),
        errors_(errors),
        file_(std::move(file)),
        check_only_(check_only),
        store_slot_(std::move(store_slot)) {}
  std::shared_ptr<StoreSlot> storeSlot() override { return store_slot_; }
  bool configHasStore() const override { return config_.store.configured(); }

  ConfigErrors& errors() override { return errors_; }
  const std::string& file() const override { return file_; }
  const std::string& routeId() const override { return route_id_; }
  ExchangePattern pattern() const override { return pattern_; }
  bool checkOnly() const override { return check_only_; }
  const std::map<std::string, std::string>& namespaces() const override { return namespaces_; }

  void setRoute(std::string id, ExchangePattern pattern) {
    route_id_ = std::move(id);
    pattern_ = pattern;
  }
  void setNamespaces(std::map<std::string, std::string> ns) { namespaces_ = std::move(ns); }

  std::optional<std::string> path(const YAML::Node& node, PathKind kind) override {
    if (!node.IsScalar() || node.Scalar().empty()) {
      error(node, "expected a path");
      return std::nullopt;
    }
    fs::path p(node.Scalar());
    if (p.is_relative()) p = fs::path(config_.home) / p;
    p = p.lexically_normal();
    std::error_code ec;
    switch (kind) {
      case PathKind::kFile:
        if (!fs::is_regular_file(p, ec)) {
          error(node, "file not found: " + p.string());
          return std::nullopt;
        }
        break;
      case PathKind::kDirectory:
        if (!fs::is_directory(p, ec)) {
          error(node, "directory not found: " + p.string());
          return std::nullopt;
        }
        break;
      case PathKind::kCreateDirectory:
        if (fs::exists(p, ec) && !fs::is_directory(p, ec)) {
          error(node, "not a directory: " + p.string());
          return std::nullopt;
        }
        if (!check_only_ && !fs::exists(p, ec)) {
          fs::create_directories(p, ec);
          if (ec) {
            error(node, "cannot create directory " + p.string() + ": " + ec.message());
            return std::nullopt;
          }
        }
        break;
    }
    return p.string();
  }

  std::shared_ptr<Listener> listener(const YAML::Node& name, std::string_view kind) override {
    return named(name, kind, config_.listeners, config_.listener_kinds, "listener");
  }
  std::shared_ptr<Connection> connection(const YAML::Node& name, std::string_view kind) override {
    return named(name, kind, config_.connections, config_.connection_kinds, "connection");
  }
  std::map<std::string, std::shared_ptr<Connection>> connections(std::string_view kind) override {
    std::map<std::string, std::shared_ptr<Connection>> out;
    for (const auto& [name, c] : config_.connections) {
      auto k = config_.connection_kinds.find(name);
      if (k != config_.connection_kinds.end() && k->second == kind) out.emplace(name, c);
    }
    return out;
  }
  std::shared_ptr<const pki::SigningKey> signingKey(const YAML::Node& name) override {
    return named(name, "", config_.keys, {}, "key");
  }
  std::shared_ptr<const pki::TrustStore> trustStore(const YAML::Node& name) override {
    return named(name, "", config_.trust, {}, "trust store");
  }

  int depth() const override { return nesting_ - 1; }

  std::optional<std::vector<std::unique_ptr<Step>>> steps(const YAML::Node& seq) override {
    if (seq.IsNull()) return std::vector<std::unique_ptr<Step>>{};
    ++nesting_;
    struct Leave {
      int& n;
      ~Leave() { --n; }
    } leave{nesting_};
    if (!seq.IsSequence()) {
      error(seq, "steps must be a list");
      return std::nullopt;
    }
    std::vector<std::unique_ptr<Step>> out;
    bool ok = true;
    for (const auto& item : seq) {
      YAML::Node key, value;
      if (!single(item, "step", key, value)) {
        ok = false;
        continue;
      }
      const StepFactory* factory = registry_.step(key.Scalar());
      if (!factory) {
        error(key, "unknown step '" + key.Scalar() +
                       "' (known: " + joinNames(registry_.stepNames()) + ")");
        ok = false;
        continue;
      }
      std::size_t before = errors_.size();
      auto step = (*factory)(value, *this);
      if (!step) {
        if (errors_.size() == before) error(key, "invalid '" + key.Scalar() + "' step");
        ok = false;
        continue;
      }
      out.push_back(std::move(step));
    }
    if (!ok) return std::nullopt;
    return out;
  }

  std::shared_ptr<OutboundEndpoint> outbound(const YAML::Node& node) override {
    auto built = endpoint(
        node, "outbound", [this](std::string_view k) { return registry_.outbound(k); },
        registry_.outboundNames());
    if (built && filter_ && *filter_) built = (*filter_)(std::move(built), route_id_);
    return built;
  }
  void setOutboundFilter(const Loader::OutboundFilter* filter) { filter_ = filter; }

  std::unique_ptr<InboundEndpoint> inbound(const YAML::Node& node) {
    return endpoint(
        node, "inbound", [this](std::string_view k) { return registry_.inbound(k); },
        registry_.inboundNames());
  }

  std::shared_ptr<const Template> compileTemplate(const YAML::Node& node) override {
    if (!node.IsScalar()) {
      error(node, "expected a template string");
      return nullptr;
    }
    TemplateError te;
    auto t = Template::compile(node.Scalar(), &te);
    if (!t) {
      SourceLocation loc = locationOf(file_, node);
      // A quoted scalar's mark is on its quote; plain ones start at the text.
      std::size_t shift = node.Tag() == "!" ? 1 : 0;
      if (node.Scalar().find('\n') == std::string::npos) {
        loc.column += static_cast<int>(te.offset + shift);
      }
      errors_.add(loc, te.message);
      return nullptr;
    }
    return std::make_shared<const Template>(std::move(*t));
  }

  // `{ kind: value }` with exactly one key.
  bool single(const YAML::Node& node, std::string_view what, YAML::Node& key, YAML::Node& value) {
    if (!node.IsMap() || node.size() != 1) {
      error(node, "expected one " + std::string(what) + " as `name: settings`" +
                      (node.IsMap() && node.size() > 1
                           ? ", found " + std::to_string(node.size()) + " keys"
                           : ""));
      return false;
    }
    auto it = node.begin();
    key = it->first;
    value = it->second;
    if (!key.IsScalar()) {
      error(key, "expected a " + std::string(what) + " name");
      return false;
    }
    return true;
  }

 private:
  template <typename T>
  std::shared_ptr<T> named(const YAML::Node& name, std::string_view kind,
                           const std::map<std::string, std::shared_ptr<T>>& objects,
                           const std::map<std::string, std::string>& kinds, const char* what) {
    if (!name.IsScalar()) {
      error(name, std::string("expected a ") + what + " name");
      return nullptr;
    }
    auto it = objects.find(name.Scalar());
    if (it == objects.end()) {
      std::string msg = std::string("unknown ") + what + " '" + name.Scalar() +
                        "' (defined: " + joinNames(keysOf(objects)) + ")";
      if (config_.file.empty()) msg += "; pass the daemon config with --config";
      error(name, msg);
      return nullptr;
    }
    auto k = kinds.find(name.Scalar());
    if (k != kinds.end() && k->second != kind) {
      error(name, std::string(what) + " '" + name.Scalar() + "' is a " + k->second + " " + what +
                      ", not " + std::string(kind));
      return nullptr;
    }
    return it->second;
  }

  // `{ kind: settings }` built by the registry's factory for that kind.
  template <typename Lookup>
  auto endpoint(const YAML::Node& node, const char* direction, Lookup lookup,
                const std::vector<std::string>& known) -> decltype((*lookup(""))(node, *this)) {
    YAML::Node key, value;
    if (!single(node, "endpoint", key, value)) return nullptr;
    const auto* factory = lookup(key.Scalar());
    if (!factory) {
      error(key, std::string("unknown ") + direction + " endpoint '" + key.Scalar() +
                     "' (known: " + joinNames(known) + ")");
      return nullptr;
    }
    std::size_t before = errors_.size();
    auto built = (*factory)(value, *this);
    if (!built && errors_.size() == before) error(key, "invalid '" + key.Scalar() + "' endpoint");
    return built;
  }

  const Registry& registry_;
  const DaemonConfig& config_;
  ConfigErrors& errors_;
  std::string file_;
  bool check_only_;
  std::shared_ptr<StoreSlot> store_slot_;
  std::string route_id_;
  int nesting_ = 0;  // steps() calls in progress
  const Loader::OutboundFilter* filter_ = nullptr;
  ExchangePattern pattern_ = ExchangePattern::kOneWay;
  std::map<std::string, std::string> namespaces_;
};

// Parses a file; reports a syntax error at its place.
std::optional<YAML::Node> parseYaml(const std::string& file, ConfigErrors& errors) {
  try {
    return YAML::LoadFile(file);
  } catch (const YAML::BadFile&) {
    errors.add({file, 0, 0}, "cannot read file");
  } catch (const YAML::ParserException& e) {
    errors.add({file, e.mark.line + 1, e.mark.column + 1}, "YAML syntax: " + e.msg);
  } catch (const YAML::Exception& e) {
    errors.add({file, e.mark.line + 1, e.mark.column + 1}, e.msg);
  }
  return std::nullopt;
}

bool validRouteId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  auto ok = [](char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (!first && (c == '.' || c == '_' || c == '-'));
  };
  for (std::size_t i = 0; i < id.size(); ++i) {
    if (!ok(id[i], i == 0)) return false;
  }
  return true;
}

template <typename Factory, typename T>
void buildNamed(const YAML::Node& section, Context& ctx, const std::string& what,
                const std::vector<std::string>& kinds,
                const std::function<const Factory*(std::string_view)>& lookup,
                std::map<std::string, std::shared_ptr<T>>& out,
                std::map<std::string, std::string>& out_kinds) {
  if (section.IsNull()) return;
  if (!section.IsMap()) {
    ctx.error(section, what + "s must be a map of name -> { kind: settings }");
    return;
  }
  for (auto it = section.begin(); it != section.end(); ++it) {
    if (!it->first.IsScalar()) {
      ctx.error(it->first, what + " names must be plain words");
      continue;
    }
    std::string name = it->first.Scalar();
    if (out.count(name) != 0) {
      ctx.error(it->first, "duplicate " + what + " '" + name + "'");
      continue;
    }
    YAML::Node key, value;
    if (!ctx.single(it->second, what, key, value)) continue;
    const Factory* factory = lookup(key.Scalar());
    if (!factory) {
      ctx.error(key, "unknown " + what + " kind '" + key.Scalar() +
                         "' (known: " + joinNames(kinds) + ")");
      continue;
    }
    std::size_t before = ctx.errors().size();
    auto obj = (*factory)(name, value, ctx);
    if (!obj) {
      if (ctx.errors().size() == before) ctx.error(key, "invalid " + what + " '" + name + "'");
      continue;
    }
    out.emplace(name, std::move(obj));
    out_kinds.emplace(name, key.Scalar());
  }
}

}  // namespace

DaemonConfig Loader::emptyConfig(const std::string& home) {
  DaemonConfig c;
  std::error_code ec;
  c.home = fs::absolute(home, ec).lexically_normal().string();
  return c;
}

namespace {

pki::KeyPolicy keyPolicy(MapReader& r) {
  pki::KeyPolicy p;
  if (auto v = r.integer("min-rsa-bits", 1024, 16384)) p.min_rsa_bits = static_cast<int>(*v);
  if (auto v = r.integer("min-ec-bits", 160, 571)) p.min_ec_bits = static_cast<int>(*v);
  return p;
}

// `passphrase-file` or `passphrase-env`: never the passphrase itself.
std::optional<std::string> passphrase(MapReader& r, const YAML::Node& at, BuildContext& ctx) {
  const bool from_file = r.has("passphrase-file");
  const bool from_env = r.has("passphrase-env");
  if (from_file && from_env) {
    ctx.error(at, "give 'passphrase-file' or 'passphrase-env', not both");
    return std::nullopt;
  }
  if (from_file) {
    auto file = ctx.path(*r.node("passphrase-file"), PathKind::kFile);
    if (!file) return std::nullopt;
    auto read = readFile(*file);
    if (!read) {
      ctx.error(*r.node("passphrase-file"), "cannot read " + *file);
      return std::nullopt;
    }
    std::string text = std::move(*read);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
  }
  if (from_env) {
    auto name = r.string("passphrase-env");
    if (!name) return std::nullopt;
    const char* v = std::getenv(name->c_str());
    if (!v) {
      ctx.error(*r.node("passphrase-env"), "environment variable " + *name + " is not set");
      return std::nullopt;
    }
    return std::string(v);
  }
  return std::string();
}

std::optional<AdminRole> adminRole(MapReader& r) {
  auto v = r.oneOf("role", {"viewer", "operator", "admin"}, true);
  if (!v) return std::nullopt;
  return *v == "viewer" ? AdminRole::kViewer
                        : (*v == "operator" ? AdminRole::kOperator : AdminRole::kAdmin);
}

bool lowerHex(const std::string& s, std::size_t size) {
  return s.size() == size && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// admin: { address, port, threads, tls: { cert, key, client-ca }, tokens: { NAME: { role,
// sha256 | sha256-file } }, clients: { CN: { role } } }
void loadAdmin(const YAML::Node& n, BuildContext& ctx, DaemonConfig& config) {
  MapReader r(n, ctx, "admin");
  if (!r.valid()) return;
  AdminSettings& a = config.admin;
  a.enabled = true;
  if (auto v = r.string("address")) a.address = *v;
  if (auto v = r.integer("port", 0, 65535)) a.port = static_cast<std::uint16_t>(*v);
  if (auto v = r.integer("threads", 1, 256)) a.threads = static_cast<int>(*v);
  if (const YAML::Node* t = r.node("tls", true)) {
    MapReader tr(*t, ctx, "admin tls");
    if (tr.valid()) {
      auto file = [&](const char* key, bool required, std::string& out) {
        if (const YAML::Node* f = tr.node(key, required)) {
          if (auto p = ctx.path(*f, PathKind::kFile)) out = *p;
        }
      };
      file("cert", true, a.cert);
      file("key", true, a.key);
      file("client-ca", false, a.client_ca);
      tr.finish();
    }
  }
  if (const YAML::Node* t = r.node("tokens")) {
    if (!t->IsMap()) {
      ctx.error(*t, "'tokens' must be a map of token name -> { role, sha256 }");
    } else {
      for (auto it = t->begin(); it != t->end(); ++it) {
        const std::string name = it->first.Scalar();
        MapReader tr(it->second, ctx, "admin token '" + name + "'");
        if (!tr.valid()) continue;
        AdminSettings::Token token;
        token.name = name;
        auto role = adminRole(tr);
        // The token's SHA-256, never the token: given, or the first line of a file.
        auto hash = tr.has("sha256") ? tr.string("sha256") : tr.secret("sha256");
        tr.finish();
        if (!role || !hash) continue;
        if (!lowerHex(*hash, 64)) {
          ctx.error(it->first, "admin token '" + name +
                                   "' needs 'sha256' (or sha256-file, sha256-env): the "
                                   "token's SHA-256 in 64 lower-case hex digits "
                                   "(lienthongctl admin-token makes one)");
          continue;
        }
        token.role = *role;
        token.sha256 = *hash;
        const bool twice =
            std::any_of(a.tokens.begin(), a.tokens.end(),
                        [&](const AdminSettings::Token& other) { return other.sha256 == *hash; });
        if (twice) {
          ctx.error(it->first, "admin token '" + name + "' has the SHA-256 of another token");
          continue;
        }
        a.tokens.push_back(std::move(token));
      }
    }
  }
  if (const YAML::Node* c = r.node("clients")) {
    if (!c->IsMap()) {
      ctx.error(*c, "'clients' must be a map of certificate CN -> { role }");
    } else {
      for (auto it = c->begin(); it != c->end(); ++it) {
        MapReader cr(it->second, ctx, "admin client '" + it->first.Scalar() + "'");
        if (!cr.valid()) continue;
        auto role = adminRole(cr);
        cr.finish();
        if (role) a.clients[it->first.Scalar()] = *role;
      }
      if (a.client_ca.empty() && !a.clients.empty()) {
        ctx.error(*c,
                  "admin 'clients' need 'client-ca' under 'tls' (who issues their "
                  "certificates)");
      }
    }
  }
  r.finish();
}

void loadKeys(const YAML::Node& n, BuildContext& ctx, DaemonConfig& config) {
  if (!n.IsMap()) {
    ctx.error(n, "'keys' must be a map of key name -> settings");
    return;
  }
  for (auto it = n.begin(); it != n.end(); ++it) {
    const std::string name = it->first.Scalar();
    MapReader r(it->second, ctx, "key '" + name + "'");
    if (!r.valid()) continue;
    pki::SigningKey::Settings s;
    s.name = name;
    std::size_t before = ctx.errors().size();
    if (const YAML::Node* p = r.node("pkcs12")) {
      if (r.has("key") || r.has("cert")) ctx.error(*p, "give 'pkcs12', or 'key' with 'cert'");
      if (auto f = ctx.path(*p, PathKind::kFile)) s.pkcs12_file = *f;
    } else {
      if (const YAML::Node* k = r.node("key", true)) {
        if (auto f = ctx.path(*k, PathKind::kFile)) s.key_file = *f;
      }
      if (const YAML::Node* c = r.node("cert", true)) {
        if (auto f = ctx.path(*c, PathKind::kFile)) s.cert_file = *f;
      }
    }
    auto pass = passphrase(r, it->second, ctx);
    if (pass) s.passphrase = std::move(*pass);
    s.policy = keyPolicy(r);
    r.finish();
    if (ctx.errors().size() != before) continue;
    auto key = pki::SigningKey::load(s);
    if (!key.ok()) {
      ctx.error(it->first, key.error().message);
      continue;
    }
    config.keys[name] = std::move(*key);
  }
}

void loadTrust(const YAML::Node& n, BuildContext& ctx, DaemonConfig& config) {
  if (!n.IsMap()) {
    ctx.error(n, "'trust' must be a map of trust store name -> settings");
    return;
  }
  for (auto it = n.begin(); it != n.end(); ++it) {
    const std::string name = it->first.Scalar();
    MapReader r(it->second, ctx, "trust store '" + name + "'");
    if (!r.valid()) continue;
    pki::TrustStore::Settings s;
    s.name = name;
    std::size_t before = ctx.errors().size();
    auto file = [&](const char* key, std::string& out) {
      if (const YAML::Node* f = r.node(key)) {
        if (auto p = ctx.path(*f, PathKind::kFile)) out = *p;
      }
    };
    file("ca", s.ca_file);
    file("intermediates", s.intermediates_file);
    file("crl", s.crl_file);
    if (auto c = r.oneOf("crl-check", {"signer", "chain"})) s.crl_whole_chain = *c == "chain";
    if (auto b = r.boolean("select-by-key-name")) s.select_by_key_name = *b;
    if (auto b = r.boolean("allow-ca-signers")) s.allow_ca_signers = *b;
    if (const YAML::Node* p = r.node("pinned")) {
      if (!p->IsMap()) {
        ctx.error(*p, "'pinned' must be a map of sender -> certificate or public key file");
      } else {
        for (auto pi = p->begin(); pi != p->end(); ++pi) {
          if (auto f = ctx.path(pi->second, PathKind::kFile)) s.pinned[pi->first.Scalar()] = *f;
        }
      }
    }
    auto names = [&](const char* key, const std::vector<std::string>& defaults,
                     bool (*known)(const std::string&), std::vector<std::string>& out) {
      out = defaults;
      if (!r.has(key)) return;
      const YAML::Node& at = *r.node(key);
      auto list = r.stringList(key);
      if (!list) return;
      for (const auto& a : *list) {
        if (!known(a)) ctx.error(at, std::string(key) + ": unknown name '" + a + "'");
      }
      out = *list;
    };
    names("algorithms", xmldsig::defaultAlgorithms(), xmldsig::knownAlgorithm, s.algorithms);
    names("digests", xmldsig::defaultDigests(), xmldsig::knownDigest, s.digests);
    names("transforms", xmldsig::defaultTransforms(), xmldsig::knownTransform, s.transforms);
    s.policy = keyPolicy(r);
    r.finish();
    if (ctx.errors().size() != before) continue;
    auto store = pki::TrustStore::load(s);
    if (!store.ok()) {
      ctx.error(it->first, store.error().message);
      continue;
    }
    config.trust[name] = std::move(*store);
  }
}

}  // namespace

std::optional<DaemonConfig> Loader::loadConfig(const std::string& file,
                                               ConfigErrors& errors) const {
  std::size_t before = errors.size();
  auto doc = parseYaml(file, errors);
  if (!doc) return std::nullopt;
  std::error_code ec;
  DaemonConfig config;
  config.file = fs::absolute(file, ec).lexically_normal().string();
  config.home = fs::path(config.file).parent_path().string();
  Context ctx(registry_, config, errors, file, check_only_);

  MapReader top(*doc, ctx, "daemon config");
  if (auto home = top.string("home")) {
    fs::path h(*home);
    if (h.is_relative()) h = fs::path(config.home) / h;
    config.home = h.lexically_normal().string();
    if (config.home.size() > 1 && config.home.back() == '/') config.home.pop_back();
    if (!fs::is_directory(config.home, ec)) {
      ctx.error(*top.node("home"), "home directory not found: " + config.home);
    }
  }
  if (const YAML::Node* n = top.node("log")) {
    MapReader r(*n, ctx, "log");
    if (auto l = r.oneOf("level", {"debug", "info", "warn", "error"})) {
      log::parseLevel(*l, &config.log_level);
    }
    if (auto f = r.oneOf("format", {"text", "json"})) config.log_json = *f == "json";
    if (auto b = r.boolean("redact")) config.log_redact = *b;
  }
  if (const YAML::Node* n = top.node("engine")) {
    MapReader r(*n, ctx, "engine");
    if (auto v = r.integer("workers", 1, 4096))
      config.engine.workers = static_cast<std::size_t>(*v);
    if (auto v = r.integer("queue", 1, 1'000'000))
      config.engine.queue = static_cast<std::size_t>(*v);
    if (auto v = r.integer("max-pending", 1, 10'000'000)) {
      config.engine.max_pending = static_cast<std::size_t>(*v);
    }
    if (auto v = r.duration("drain-timeout")) config.engine.drain_timeout = *v;
    if (auto v = r.duration("admission-wait")) config.engine.admission_wait = *v;
  }
  if (const YAML::Node* n = top.node("xml")) {
    MapReader r(*n, ctx, "xml");
    if (auto v = r.size("max-size")) config.xml.max_size = static_cast<std::size_t>(*v);
    if (auto v = r.integer("max-depth", 1, 10'000)) config.xml.max_depth = static_cast<int>(*v);
    if (auto v = r.integer("max-nodes", 1, 100'000'000)) {
      config.xml.max_nodes = static_cast<std::size_t>(*v);
    }
  }
  if (const YAML::Node* n = top.node("listeners")) {
    buildNamed<ListenerFactory>(
        *n, ctx, "listener", registry_.listenerKinds(),
        [this](std::string_view k) { return registry_.listener(k); }, config.listeners,
        config.listener_kinds);
  }
  if (const YAML::Node* n = top.node("connections")) {
    buildNamed<ConnectionFactory>(
        *n, ctx, "connection", registry_.connectionKinds(),
        [this](std::string_view k) { return registry_.connection(k); }, config.connections,
        config.connection_kinds);
  }
  if (const YAML::Node* n = top.node("store")) {
    MapReader r(*n, ctx, "store");
    const YAML::Node* pg = r.node("postgresql");
    if (auto p = r.string("path", pg == nullptr)) {
      fs::path path(*p);
      if (path.is_relative()) path = fs::path(config.home) / path;
      config.store.path = path.lexically_normal().string();
      if (pg) ctx.error(*pg, "a store is either embedded ('path') or 'postgresql', not both");
    }
    if (pg && config.store.path.empty()) {
      MapReader pr(*pg, ctx, "postgresql store");
      if (auto url = pr.string("url", true)) config.store.url = *url;
      if (auto pw = pr.secret("password")) config.store.password = *pw;
      if (auto node = pr.string("node")) {
        config.store.node = *node;
      } else {
        char host[256] = {0};
        if (::gethostname(host, sizeof host - 1) == 0) config.store.node = host;
      }
      if (auto every = pr.positiveDuration("take-over-every")) {
        config.store.take_over_every = *every;
      }
      pr.finish();
    }
    if (auto every = r.positiveDuration("reopen-every")) config.store_reopen = *every;
  }
  if (const YAML::Node* n = top.node("admin")) loadAdmin(*n, ctx, config);
  if (const YAML::Node* n = top.node("keys")) loadKeys(*n, ctx, config);
  if (const YAML::Node* n = top.node("trust")) loadTrust(*n, ctx, config);
  if (const YAML::Node* n = top.node("audit")) {
    MapReader r(*n, ctx, "audit");
    AuditSettings& a = config.audit;
    if (auto b = r.boolean("enabled")) a.enabled = *b;
    if (const YAML::Node* k = r.node("key")) {
      a.key_name = k->Scalar();
      auto found = config.keys.find(a.key_name);
      if (found == config.keys.end()) {
        ctx.error(*k, "audit key '" + a.key_name + "' is not under 'keys'");
      } else {
        a.key = found->second;
      }
    }
    if (const YAML::Node* t = r.node("trust")) {
      auto found = config.trust.find(t->Scalar());
      if (found == config.trust.end()) {
        ctx.error(*t, "audit trust '" + t->Scalar() + "' is not under 'trust'");
      } else {
        a.trust = found->second;
      }
    }
    if (auto every = r.positiveDuration("checkpoint-every")) a.checkpoint_every = *every;
    if (auto keep = r.duration("keep")) a.keep = *keep;
    if (a.enabled && !config.store.configured()) {
      ctx.error(*n,
                "the audit chain is kept in the store: configure 'store' (or set "
                "audit.enabled: false)");
    }
    r.finish();
  }
  // A list of existing paths under home: `what` names them in messages.
  auto pathList = [&](const YAML::Node& n, const std::string& key, const std::string& what,
                      std::vector<std::string>& out) {
    if (!n.IsSequence()) {
      ctx.error(n, "'" + key + "' must be a list of " + what + "s");
      return;
    }
    for (const auto& item : n) {
      if (!item.IsScalar()) {
        ctx.error(item, "expected a " + what);
        continue;
      }
      fs::path p(item.Scalar());
      if (p.is_relative()) p = fs::path(config.home) / p;
      p = p.lexically_normal();
      if (!fs::exists(p, ec)) {
        ctx.error(item, key + " path not found: " + p.string());
        continue;
      }
      out.push_back(p.string());
    }
  };
  if (const YAML::Node* n = top.node("plugins")) {
    config.plugins_where = locationOf(file, *n);
    pathList(*n, "plugins", "library or directory", config.plugin_paths);
  }
  if (const YAML::Node* n = top.node("routes")) {
    pathList(*n, "routes", "file or directory", config.route_paths);
  }
  top.finish();
  if (errors.size() != before) return std::nullopt;
  return config;
}

std::vector<std::string> Loader::routeFiles(const std::vector<std::string>& paths,
                                            ConfigErrors& errors) {
  std::vector<std::string> out;
  for (const auto& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(path, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        std::string name = it->path().filename().string();
        bool yaml = name.ends_with(".yaml") || name.ends_with(".yml");
        bool test = name.ends_with("_test.yaml") || name.ends_with("_test.yml");
        if (yaml && !test && name[0] != '.') found.push_back(it->path().string());
      }
      if (ec) errors.add({path, 0, 0}, "cannot list directory: " + ec.message());
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else if (fs::exists(path, ec)) {
      out.push_back(path);
    } else {
      errors.add({path, 0, 0}, "no such file or directory");
    }
  }
  return out;
}

std::shared_ptr<RouteTable> Loader::loadRoutes(const DaemonConfig& config,
                                               const std::vector<std::string>& paths,
                                               ConfigErrors& errors) const {
  std::size_t before = errors.size();
  auto table = std::make_shared<RouteTable>();
  std::map<std::string, SourceLocation> seen_ids;
  std::map<std::string, std::string> seen_inputs;  // exclusive key -> route id
  std::vector<std::pair<const Route*, SourceLocation>> dead_letter_refs;

  for (const auto& file : routeFiles(paths, errors)) {
    auto doc = parseYaml(file, errors);
    if (!doc) continue;
    Context ctx(registry_, config, errors, file, check_only_, store_slot_);
    ctx.setOutboundFilter(&outbound_filter_);
    if (doc->IsNull()) {
      errors.add({file, 1, 1}, "empty route file: expected a map with 'routes'");
      continue;
    }
    MapReader top(*doc, ctx, "route file");
    if (!top.valid()) continue;
    if (const YAML::Node* ns = top.node("namespaces")) {
      std::map<std::string, std::string> namespaces;
      if (!ns->IsMap()) {
        ctx.error(*ns, "'namespaces' must be a map of prefix -> URI");
      } else {
        for (auto it = ns->begin(); it != ns->end(); ++it) {
          if (!it->first.IsScalar() || !it->second.IsScalar() || it->second.Scalar().empty()) {
            ctx.error(it->first, "namespace entries must be `prefix: URI`");
            continue;
          }
          namespaces[it->first.Scalar()] = it->second.Scalar();
        }
      }
      ctx.setNamespaces(std::move(namespaces));
    }
    const YAML::Node* routes = top.node("routes", true);
    top.finish();
    if (!routes) continue;
    if (!routes->IsSequence()) {
      ctx.error(*routes, "'routes' must be a list");
      continue;
    }
    for (const auto& node : *routes) {
      MapReader r(node, ctx, "route");
      if (!r.valid()) continue;
      auto route = std::make_shared<Route>();
      std::size_t route_errors = errors.size();
      auto id = r.string("id", true);
      if (id) {
        const YAML::Node& id_node = *r.node("id");
        route->where = locationOf(file, id_node);
        if (!validRouteId(*id)) {
          ctx.error(id_node, "route id '" + *id +
                                 "' must be lower-case letters, digits, '.', '_' or '-' "
                                 "(starting with a letter or digit)");
        } else if (auto prev = seen_ids.find(*id); prev != seen_ids.end()) {
          const SourceLocation& at = prev->second;
          ctx.error(id_node, "duplicate route id '" + *id + "' (first defined at " + at.file + ":" +
                                 std::to_string(at.line) + ":" + std::to_string(at.column) + ")");
        } else {
          seen_ids.emplace(*id, route->where);
        }
        route->id = *id;
      }
      if (auto d = r.string("description")) route->description = *d;
      auto pattern = r.oneOf("pattern", {"request-reply", "one-way"}, true);
      if (pattern) {
        route->pattern =
            *pattern == "one-way" ? ExchangePattern::kOneWay : ExchangePattern::kRequestReply;
      }
      route->retry.attempts = route->pattern == ExchangePattern::kOneWay ? 0 : 1;
      ctx.setRoute(route->id, route->pattern);
      if (auto e = r.boolean("enabled")) route->enabled = *e;
      route->redact_logs = config.log_redact;
      if (auto e = r.boolean("redact-logs")) route->redact_logs = *e;
      if (auto t = r.duration("timeout")) route->timeout = *t;
      if (const YAML::Node* d = r.node("delivery")) {
        MapReader dr(*d, ctx, "delivery");
        if (const YAML::Node* retry = dr.node("retry")) {
          MapReader rr(*retry, ctx, "retry");
          if (auto a = rr.integer("attempts", 0, 1'000'000)) {
            route->retry.attempts = static_cast<std::uint32_t>(*a);
          }
          if (auto b = rr.oneOf("backoff", {"fixed", "exponential"})) {
            route->retry.exponential = *b == "exponential";
          }
          auto initial = rr.duration("initial");
          auto max = rr.duration("max");
          if (initial) route->retry.initial = *initial;
          if (max) route->retry.max = *max;
          if (route->retry.initial > route->retry.max) {
            ctx.error(*retry, "retry 'initial' is longer than 'max'");
          }
        }
        if (auto t = dr.positiveDuration("attempt-timeout")) route->attempt_timeout = *t;
        if (const YAML::Node* cb = dr.node("circuit-breaker")) {
          MapReader cr(*cb, ctx, "circuit-breaker");
          if (auto f = cr.integer("failures", 1, 1'000'000, true)) {
            route->breaker.failures = static_cast<std::uint32_t>(*f);
          }
          if (auto o = cr.positiveDuration("open-for")) route->breaker.open_for = *o;
          cr.finish();
        }
        if (const YAML::Node* dl = dr.node("dead-letter")) {
          if (dl->IsScalar() && dl->Scalar() == "store") {
            route->dead_letter_route.clear();
          } else {
            MapReader lr(*dl, ctx, "dead-letter");
            if (auto target = lr.string("route", true)) {
              route->dead_letter_route = *target;
              dead_letter_refs.push_back({route.get(), locationOf(file, *lr.node("route"))});
            }
            lr.finish();
          }
          if (route->pattern != ExchangePattern::kOneWay) {
            ctx.error(*dl,
                      "'dead-letter' is for one-way routes (a request-reply caller gets "
                      "the failure)");
          }
        }
        if (const YAML::Node* ord = dr.node("ordering")) {
          MapReader orr(*ord, ctx, "ordering");
          route->order_key = orr.templ("key", true);
          orr.finish();
          if (route->pattern != ExchangePattern::kOneWay) {
            ctx.error(*ord, "'ordering' is for one-way routes");
          }
        }
        if (const YAML::Node* idem = dr.node("idempotency")) {
          MapReader ir(*idem, ctx, "idempotency");
          route->idempotency_key = ir.templ("key", true);
          if (auto keep = ir.duration("keep")) route->idempotency_keep = *keep;
          ir.finish();
          if (route->pattern != ExchangePattern::kOneWay) {
            ctx.error(*idem, "idempotency is for one-way routes");
          } else if (!config.store.configured()) {
            ctx.error(*idem,
                      "idempotency needs a store in the daemon config (store: { path: "
                      "var/lienthong.db }): the keys must outlive a restart");
          }
        }
      }
      const YAML::Node* from = r.node("from", true);
      const YAML::Node* steps = r.node("steps");
      const YAML::Node* to = r.node("to");
      r.finish();
      if (from) route->from = ctx.inbound(*from);
      if (steps) {
        if (auto built = ctx.steps(*steps)) route->steps = std::move(*built);
      }
      if (to) route->to = ctx.outbound(*to);
      if (route->from) {
        std::string key = route->from->exclusiveKey();
        if (!key.empty() && route->enabled) {
          auto [it, inserted] = seen_inputs.emplace(key, route->id);
          if (!inserted) {
            ctx.error(*from, "input '" + key + "' is already used by route '" + it->second + "'");
          }
        }
      }
      if (errors.size() == route_errors) table->routes.push_back(std::move(route));
    }
  }
  // Dead-letter targets: loaded one-way routes that keep their own dead letters in the
  // store (no chains, no loops).
  for (const auto& [route, where] : dead_letter_refs) {
    auto target = table->find(route->dead_letter_route);
    std::string why;
    if (route->dead_letter_route == route->id) {
      why = "route '" + route->id + "' cannot be its own dead-letter route";
    } else if (!target) {
      if (!seen_ids.count(route->dead_letter_route)) {
        why = "unknown dead-letter route '" + route->dead_letter_route + "'";
      }
    } else if (target->pattern != ExchangePattern::kOneWay) {
      why = "dead-letter route '" + target->id + "' must be one-way";
    } else if (!target->dead_letter_route.empty()) {
      why = "dead-letter route '" + target->id + "' sends its own dead letters to route '" +
            target->dead_letter_route + "'; a dead-letter route keeps them in the store";
    }
    if (!why.empty()) errors.add(where, why);
  }
  if (errors.size() != before) return nullptr;
  return table;
}

}  // namespace lienthong

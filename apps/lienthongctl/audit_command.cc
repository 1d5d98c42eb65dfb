#include "apps/lienthongctl/audit_command.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/URI.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <optional>

#include "apps/lienthongctl/admin_commands.h"
#include "apps/lienthongctl/ctl_config.h"
#include "apps/lienthongctl/options.h"
#include "core/audit.h"
#include "core/encoding.h"
#include "core/json_text.h"
#include "core/pki.h"
#include "lienthong/log.h"

namespace lienthong::ctl {

namespace {

const std::set<std::string> kValues = {"chain",      "after", "limit", "url",   "ca",
                                       "token-file", "cert",  "key",   "config"};

int usage(const std::string& message) {
  std::fprintf(stderr, "lienthongctl audit: %s (see lienthongctl --help)\n", message.c_str());
  return 2;
}

// Where the chains are read: the running daemon's admin API, or the store itself (while
// the daemon is stopped, or a shared store).
class Source {
 public:
  virtual ~Source() = default;
  virtual std::optional<std::vector<std::string>> chains() = 0;
  virtual std::optional<std::vector<AuditRecord>> records(const std::string& chain,
                                                          std::int64_t after,
                                                          std::size_t limit) = 0;
  // A chain's checkpoints, and their signers' certificates (each once) into `certs`.
  virtual std::optional<std::vector<AuditCheckpoint>> checkpoints(const std::string& chain,
                                                                  AuditCerts& certs) = 0;
};

class StoreSource final : public Source {
 public:
  explicit StoreSource(std::unique_ptr<Store> store) : store_(std::move(store)) {}
  std::optional<std::vector<std::string>> chains() override { return value(store_->auditChains()); }
  std::optional<std::vector<AuditRecord>> records(const std::string& chain, std::int64_t after,
                                                  std::size_t limit) override {
    return value(store_->auditRecords(chain, after, limit));
  }
  std::optional<std::vector<AuditCheckpoint>> checkpoints(const std::string& chain,
                                                          AuditCerts& certs) override {
    auto kept = value(store_->auditCerts());
    if (!kept) return std::nullopt;
    certs = std::move(*kept);
    return value(store_->auditCheckpoints(chain));
  }

 private:
  template <typename T>
  static std::optional<T> value(Result<T> r) {
    if (r.ok()) return std::move(*r);
    std::fprintf(stderr, "lienthongctl audit: %s\n", r.error().message.c_str());
    return std::nullopt;
  }
  std::unique_ptr<Store> store_;
};

Poco::JSON::Object::Ptr parse(const std::string& body) {
  try {
    return Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception&) {
    std::fprintf(stderr, "lienthongctl audit: the answer is not JSON\n");
    return nullptr;
  }
}

std::string str(const Poco::JSON::Object::Ptr& o, const char* name) {
  return o->has(name) && !o->get(name).isEmpty() ? o->get(name).convert<std::string>() : "";
}
std::int64_t num(const Poco::JSON::Object::Ptr& o, const char* name) {
  return o->has(name) && !o->get(name).isEmpty() ? o->get(name).convert<Poco::Int64>() : 0;
}

class ApiSource final : public Source {
 public:
  explicit ApiSource(std::vector<std::string> connection) : connection_(std::move(connection)) {}
  std::optional<std::vector<std::string>> chains() override {
    auto o = get("/v1/audit");
    if (!o) return std::nullopt;
    std::vector<std::string> out;
    auto list = o->getArray("chains");
    for (unsigned i = 0; list && i < list->size(); ++i) {
      out.push_back(str(list->getObject(i), "chain"));
    }
    return out;
  }
  std::optional<std::vector<AuditRecord>> records(const std::string& chain, std::int64_t after,
                                                  std::size_t limit) override {
    auto o = get("/v1/audit/records?chain=" + encode(chain) + "&after=" + std::to_string(after) +
                 "&limit=" + std::to_string(limit));
    if (!o) return std::nullopt;
    std::vector<AuditRecord> out;
    auto list = o->getArray("records");
    for (unsigned i = 0; list && i < list->size(); ++i) {
      auto r = list->getObject(i);
      AuditRecord a;
      a.seq = num(r, "seq");
      a.chain = str(r, "chain");
      a.at_ms = num(r, "at_ms");
      a.actor = str(r, "actor");
      a.action = str(r, "action");
      a.subject = str(r, "subject");
      a.message_id = str(r, "message_id");
      a.trace_id = str(r, "trace_id");
      a.digest = str(r, "digest");
      a.version = static_cast<std::uint64_t>(num(r, "version"));
      a.detail = str(r, "detail");
      a.prev = str(r, "prev");
      a.hash = str(r, "hash");
      out.push_back(std::move(a));
    }
    return out;
  }
  std::optional<std::vector<AuditCheckpoint>> checkpoints(const std::string& chain,
                                                          AuditCerts& certs) override {
    auto o = get("/v1/audit/checkpoints?chain=" + encode(chain));
    if (!o) return std::nullopt;
    std::vector<AuditCheckpoint> out;
    auto list = o->getArray("checkpoints");
    for (unsigned i = 0; list && i < list->size(); ++i) {
      auto c = list->getObject(i);
      out.push_back({str(c, "chain"), num(c, "seq"), str(c, "hash"), num(c, "at_ms"),
                     str(c, "signer"), str(c, "cert"), str(c, "signature"), str(c, "cert_sha256")});
    }
    if (auto kept = o->getObject("certs")) {
      for (const auto& [sha256, pem] : *kept) certs[sha256] = pem.convert<std::string>();
    }
    return out;
  }

 private:
  static std::string encode(const std::string& v) {
    std::string out;
    Poco::URI::encode(v, "&=?#+/;%", out);
    return out;
  }
  Poco::JSON::Object::Ptr get(const std::string& path) {
    auto body = adminCall("audit", connection_, "GET", path);
    return body ? parse(*body) : nullptr;
  }
  std::vector<std::string> connection_;
};

// The connection options of `args` (and their values), for adminCall.
std::vector<std::string> connectionArgs(const Options& o) {
  std::vector<std::string> out;
  for (const char* name : {"url", "ca", "token-file", "cert", "key", "config"}) {
    if (!o.get(name).empty()) {
      out.push_back(std::string("--") + name);
      out.push_back(o.get(name));
    }
  }
  return out;
}

// Reads a chain page by page into the verifier, each page with the next one read ahead;
// nullopt when the source could not be read (said on stderr).
std::optional<AuditReport> verifyChain(Source& source, const std::string& chain,
                                       const AuditSigners& signers) {
  constexpr std::size_t kPage = 10000;
  // The checkpoints first: one made while the records are read vouches for no record
  // beyond them.
  AuditCerts certs;
  auto checkpoints = source.checkpoints(chain, certs);
  if (!checkpoints) return std::nullopt;
  AuditVerifier verifier(chain, *checkpoints, signers, certs);
  auto page = source.records(chain, 0, kPage);
  if (!page) return std::nullopt;
  while (!page->empty()) {
    std::optional<std::vector<AuditRecord>> next = std::vector<AuditRecord>();
    if (page->size() == kPage) {
      next = source.records(chain, page->back().seq, kPage);
      if (!next) return std::nullopt;
    }
    if (!verifier.add(*page, *next)) break;
    page = std::move(next);
  }
  return verifier.finish();
}

std::optional<std::int64_t> wholeNumber(const std::string& text) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoll(text);
}

int verify(Source& source, const Options& o, const AuditSigners& signers, bool signer_known) {
  std::vector<std::string> chains;
  if (!o.get("chain").empty()) {
    chains.push_back(o.get("chain"));
  } else {
    auto all = source.chains();
    if (!all) return 1;
    chains = std::move(*all);
  }
  const bool json = o.flags.count("json") != 0;
  bool intact = true;
  std::string out = "[";
  if (chains.empty() && !json) std::printf("no audit chain: nothing recorded yet\n");
  for (const std::string& chain : chains) {
    // A running daemon may prune while the chain is read: a break is read again once
    // before it is told (a tampering stays; a race does not).
    AuditReport report;
    for (int read = 0; read < 2; ++read) {
      auto verified = verifyChain(source, chain, signers);
      if (!verified) return 1;
      report = std::move(*verified);
      if (report.ok()) break;
    }
    intact = intact && report.ok();
    if (json) {
      if (out.size() > 1) out += ',';
      out += "{\"chain\":";
      appendJsonString(out, chain);
      out += ",\"intact\":" + std::string(report.ok() ? "true" : "false");
      out += ",\"signers_checked\":" + std::string(signer_known ? "true" : "false");
      out += ",\"records\":" + std::to_string(report.records) +
             ",\"first\":" + std::to_string(report.first) +
             ",\"last\":" + std::to_string(report.last) +
             ",\"checkpoints\":" + std::to_string(report.checkpoints) +
             ",\"last_checkpoint\":" + std::to_string(report.last_checkpoint);
      if (report.problem) {
        out += ",\"first_bad\":" + std::to_string(report.problem->first_bad) + ",\"kind\":";
        appendJsonString(out, report.problem->kind);
        out += ",\"problem\":";
        appendJsonString(out, report.problem->text);
      }
      out += ",\"warnings\":[";
      for (std::size_t i = 0; i < report.warnings.size(); ++i) {
        if (i) out += ',';
        appendJsonString(out, report.warnings[i]);
      }
      out += "]}";
      continue;
    }
    if (report.ok()) {
      std::printf("chain %s: intact: %lld record(s)", chain.c_str(),
                  static_cast<long long>(report.records));
      if (report.records > 0) {
        std::printf(" (%lld to %lld)", static_cast<long long>(report.first),
                    static_cast<long long>(report.last));
      }
      std::printf(", %lld checkpoint(s), the last of record %lld\n",
                  static_cast<long long>(report.checkpoints),
                  static_cast<long long>(report.last_checkpoint));
      for (const std::string& w : report.warnings) std::printf("  note: %s\n", w.c_str());
    } else {
      std::printf("chain %s: BROKEN at record %lld (%s): %s\n", chain.c_str(),
                  static_cast<long long>(report.problem->first_bad), report.problem->kind.c_str(),
                  report.problem->text.c_str());
    }
  }
  if (json) {
    std::printf("%s]\n", out.c_str());
  } else if (!signer_known) {
    std::printf(
        "note: the checkpoints' signatures were checked, not who made them: give --config "
        "with audit.key\n");
  }
  return intact ? 0 : 1;
}

int show(Source& source, const Options& o, const std::string& own_chain) {
  std::string chain = o.get("chain");
  if (chain.empty()) chain = own_chain;
  if (chain.empty()) {
    auto all = source.chains();
    if (!all) return 1;
    if (all->size() != 1) {
      return usage("give --chain: the store has " + std::to_string(all->size()) + " chains");
    }
    chain = all->front();
  }
  std::int64_t after = 0;
  std::int64_t limit = 100;
  if (!o.get("after").empty()) {
    auto v = wholeNumber(o.get("after"));
    if (!v) return usage("--after takes a record number");
    after = *v;
  }
  if (!o.get("limit").empty()) {
    auto v = wholeNumber(o.get("limit"));
    if (!v || *v == 0) return usage("--limit takes a number above 0");
    limit = std::min<std::int64_t>(*v, 10000);
  }
  auto records = source.records(chain, after, static_cast<std::size_t>(limit));
  if (!records) return 1;
  if (o.flags.count("json") != 0) {
    std::string out = "[";
    for (std::size_t i = 0; i < records->size(); ++i) {
      if (i) out += ',';
      appendAuditJson(out, (*records)[i]);
    }
    std::printf("%s]\n", out.c_str());
    return 0;
  }
  std::printf("%-8s %-20s %-28s %-28s %-26s %s\n", "SEQ", "TIME (UTC)", "ACTOR", "ACTION",
              "SUBJECT", "DETAIL");
  for (const AuditRecord& r : *records) {
    std::printf("%-8lld %-20s %-28s %-28s %-26s %s\n", static_cast<long long>(r.seq),
                utcText(fromEpochMs(r.at_ms)).c_str(), r.actor.c_str(), r.action.c_str(),
                r.subject.c_str(), r.detail.c_str());
  }
  std::printf("%zu record(s) of chain %s\n", records->size(), chain.c_str());
  return 0;
}

}  // namespace

int auditCommand(const std::vector<std::string>& args) {
  if (args.empty()) return usage("give verify, show or checkpoint");
  const std::string sub = args.front();
  Options o =
      parseOptions(std::vector<std::string>(args.begin() + 1, args.end()), kValues, {"json"});
  if (!o.error.empty()) return usage(o.error);
  if (!o.positional.empty()) return usage("unexpected argument '" + o.positional.front() + "'");
  if (sub != "verify" && sub != "show" && sub != "checkpoint") {
    return usage("unknown subcommand '" + sub + "' (verify, show, checkpoint)");
  }
  log::setLevel(log::Level::kError);
  const bool api = adminGiven(args) || sub == "checkpoint";
  if (sub == "checkpoint") {
    auto body = adminCall("audit", connectionArgs(o), "POST", "/v1/audit/checkpoint");
    if (!body) return 1;
    if (o.flags.count("json") != 0) {
      std::printf("%s\n", body->c_str());
      return 0;
    }
    auto answer = parse(*body);
    if (!answer) return 1;
    auto cp = answer->getObject("checkpoint");
    if (!cp) {
      std::printf("no checkpoint: no record since the last one\n");
    } else {
      std::printf("checkpoint of record %lld of chain %s, signed by %s\n",
                  static_cast<long long>(num(cp, "seq")), str(cp, "chain").c_str(),
                  str(cp, "signer").c_str());
    }
    return 0;
  }

  // Who may have signed: from the daemon config (audit.trust, else audit.key's certificate).
  AuditSigners signers;
  bool signer_known = false;
  Registry registry;
  PluginSet plugins;
  std::optional<DaemonConfig> config;
  const std::string file = !o.get("config").empty() ? o.get("config") : defaultConfigFile();
  if (!file.empty()) {
    ConfigErrors errors;
    config = loadConfig(file, registry, plugins, errors);
    if (!config) {
      std::fputs(errors.str().c_str(), stderr);
      return 1;
    }
    // The node's key (and through the trust store, its identity renewed with a new key).
    if (config->audit.key) {
      signers.certs.push_back(pki::certPem(config->audit.key->cert()));
      signer_known = true;
    }
    if (config->audit.trust) signers.trust = config->audit.trust.get();
  }

  std::unique_ptr<Source> source;
  std::string own_chain;
  if (api) {
    source = std::make_unique<ApiSource>(connectionArgs(o));
  } else {
    int status = 0;
    auto store = openConfigStore("audit", file, "the audit chain is kept in the store", status);
    if (!store) return status;
    own_chain = store->auditChain();
    if (store->shared()) own_chain.clear();  // a tool's name is no node's chain
    source = std::make_unique<StoreSource>(std::move(store));
  }
  if (sub == "verify") return verify(*source, o, signers, signer_known);
  return show(*source, o, own_chain);
}

}  // namespace lienthong::ctl

#include "apps/lienthongctl/pki_commands.h"

#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <optional>

#include "apps/lienthongctl/admin_commands.h"
#include "apps/lienthongctl/ctl_config.h"
#include "core/files.h"
#include "core/metrics.h"
#include "core/xml_document.h"
#include "core/xmldsig.h"

namespace lienthong::ctl {

namespace {

struct Args {
  std::map<std::string, std::vector<std::string>> options;  // --name value (repeatable)
  std::vector<std::string> files;
  std::string error;

  std::string get(const std::string& name) const {
    auto it = options.find(name);
    return it == options.end() || it->second.empty() ? std::string() : it->second.back();
  }
};

// Options take one value ("--key agency" or "--key=agency").
Args parse(const std::vector<std::string>& args, const std::vector<std::string>& known) {
  Args out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (!a.starts_with("--")) {
      out.files.push_back(a);
      continue;
    }
    std::string value;
    bool has_value = false;
    if (auto eq = a.find('='); eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_value = true;
    }
    const std::string name = a.substr(2);
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      out.error = "unknown option '" + a + "'";
      return out;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        out.error = "option '" + a + "' needs a value";
        return out;
      }
      value = args[++i];
    }
    out.options[name].push_back(value);
  }
  return out;
}

int usage(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "lienthongctl %s: %s (see lienthongctl --help)\n", command.c_str(),
               message.c_str());
  return 2;
}

std::optional<DaemonConfig> config(const Args& a, Registry& registry, PluginSet& plugins) {
  std::string file = a.get("config");
  if (file.empty()) file = defaultConfigFile();
  if (file.empty()) {
    std::fputs("no daemon config: give --config FILE (keys and trust stores live there)\n", stderr);
    return std::nullopt;
  }
  ConfigErrors errors;
  auto c = loadConfig(file, registry, plugins, errors);
  if (!c) std::fputs(errors.str().c_str(), stderr);
  return c;
}

}  // namespace

int signCommand(const std::vector<std::string>& args) {
  Args a = parse(args, {"config", "key", "mode", "id", "algorithm", "digest", "out"});
  if (!a.error.empty()) return usage("sign", a.error);
  if (a.files.size() != 1) return usage("sign", "give one XML file");
  if (a.get("key").empty()) return usage("sign", "give --key NAME");
  Registry registry;
  PluginSet plugins;
  auto c = config(a, registry, plugins);
  if (!c) return 1;
  auto key = c->keys.find(a.get("key"));
  if (key == c->keys.end()) {
    std::fprintf(stderr, "no key '%s' in the daemon config\n", a.get("key").c_str());
    return 1;
  }
  xmldsig::SignOptions options;
  const std::string mode = a.get("mode");
  if (mode == "enveloping") {
    options.mode = xmldsig::Mode::kEnveloping;
  } else if (mode == "detached") {
    options.mode = xmldsig::Mode::kDetached;
    options.id = a.get("id");
    if (options.id.empty()) return usage("sign", "--mode detached needs --id");
  } else if (!mode.empty() && mode != "enveloped") {
    return usage("sign", "unknown mode '" + mode + "'");
  }
  options.algorithm = a.get("algorithm");
  if (!a.get("digest").empty()) options.digest = a.get("digest");
  auto text = readFile(a.files[0]);
  if (!text) {
    std::fprintf(stderr, "cannot read %s\n", a.files[0].c_str());
    return 1;
  }
  auto doc = XmlDocument::parse(*text);
  if (!doc.ok()) {
    std::fprintf(stderr, "%s: %s\n", a.files[0].c_str(), doc.error().message.c_str());
    return 1;
  }
  auto signed_text = xmldsig::sign((*doc)->doc(), *key->second, options, std::time(nullptr));
  if (!signed_text.ok()) {
    std::fprintf(stderr, "%s\n", signed_text.error().message.c_str());
    return 1;
  }
  const std::string out = a.get("out");
  if (out.empty()) {
    std::fwrite(signed_text->data(), 1, signed_text->size(), stdout);
  } else {
    std::ofstream f(out, std::ios::binary);
    f << *signed_text;
    if (!f) {
      std::fprintf(stderr, "cannot write %s\n", out.c_str());
      return 1;
    }
  }
  return 0;
}

int verifyCommand(const std::vector<std::string>& args) {
  Args a = parse(args, {"config", "trust", "sender", "signatures", "signed", "ns"});
  if (!a.error.empty()) return usage("verify", a.error);
  if (a.files.size() != 1) return usage("verify", "give one XML file");
  if (a.get("trust").empty()) return usage("verify", "give --trust NAME");
  xmldsig::VerifyOptions options;
  options.sender = a.get("sender");
  if (!a.get("signatures").empty()) {
    try {
      options.signatures = static_cast<std::size_t>(std::stoul(a.get("signatures")));
    } catch (const std::exception&) {
      return usage("verify", "--signatures needs a number");
    }
  }
  options.signed_xpath = a.get("signed");
  if (auto it = a.options.find("ns"); it != a.options.end()) {
    for (const auto& ns : it->second) {
      auto eq = ns.find('=');
      if (eq == std::string::npos) return usage("verify", "--ns takes PREFIX=URI");
      options.namespaces[ns.substr(0, eq)] = ns.substr(eq + 1);
    }
  }
  Registry registry;
  PluginSet plugins;
  auto c = config(a, registry, plugins);
  if (!c) return 1;
  auto trust = c->trust.find(a.get("trust"));
  if (trust == c->trust.end()) {
    std::fprintf(stderr, "no trust store '%s' in the daemon config\n", a.get("trust").c_str());
    return 1;
  }
  auto text = readFile(a.files[0]);
  if (!text) {
    std::fprintf(stderr, "cannot read %s\n", a.files[0].c_str());
    return 1;
  }
  // The text as it was signed: no NFC normalisation.
  auto doc = XmlDocument::parse(*text, false);
  if (!doc.ok()) {
    std::printf("invalid: %s\n", doc.error().message.c_str());
    return 1;
  }
  auto v = xmldsig::verify((*doc)->doc(), *trust->second, options, std::time(nullptr));
  if (!v.ok()) {
    std::printf("invalid: %s\n", v.error().message.c_str());
    return 1;
  }
  std::printf("valid: %s signature, %s, key %s", v->mode.c_str(), v->algorithm.c_str(),
              v->key.text.c_str());
  if (!v->signer.empty()) std::printf(", pinned '%s'", v->signer.c_str());
  if (v->cert) {
    std::printf(", signer '%s' (serial %s, valid until %s)", v->cert->subject.c_str(),
                v->cert->serial.c_str(), v->cert->not_after.c_str());
  }
  std::printf("\n");
  return 0;
}

int certsCommand(const std::vector<std::string>& args) {
  if (adminGiven(args)) return certsApiCommand(args);  // the running daemon's
  Args a = parse(args, {"config", "warn-days"});
  if (!a.error.empty()) return usage("certs", a.error);
  if (!a.files.empty()) return usage("certs", "takes no file");
  long warn_days = 30;
  if (!a.get("warn-days").empty()) {
    try {
      warn_days = std::stol(a.get("warn-days"));
    } catch (const std::exception&) {
      return usage("certs", "--warn-days needs a number");
    }
  }
  Registry registry;
  PluginSet plugins;
  auto c = config(a, registry, plugins);
  if (!c) return 1;
  const std::vector<CertificateEntry> rows =
      certificateInventory(c->keys, c->trust, std::time(nullptr));
  std::size_t bare_keys = 0;  // pinned public keys without a certificate: no expiry
  for (const auto& [name, store] : c->trust) {
    for (const auto& [sender, p] : store->allPinned()) {
      if (p.cert) continue;
      ++bare_keys;
      std::printf("%-22s %-18s %-9s %-22s %s (a public key: no expiry)\n",
                  ("trust " + name).c_str(), ("pinned " + sender).c_str(), "ok", "-",
                  pki::keyFacts(p.key.get()).text.c_str());
    }
  }
  if (rows.empty() && bare_keys == 0) {
    std::puts("no keys or certificates in the config");
    return 0;
  }
  int problems = 0;
  for (const CertificateEntry& r : rows) {
    std::string status = "ok";
    if (r.facts.days_left < 0) {
      status = "EXPIRED";
      ++problems;
    } else if (r.facts.days_left <= warn_days) {
      status = "WARN";
      ++problems;
    }
    std::printf("%-22s %-18s %-9s %5ld days  until %s  %s  %s\n", r.where.c_str(), r.role.c_str(),
                status.c_str(), r.facts.days_left, r.facts.not_after.c_str(),
                r.facts.key.text.c_str(), r.facts.subject.c_str());
  }
  if (problems > 0) {
    std::printf("%d certificate(s) expired or expiring within %ld days\n", problems, warn_days);
    return 1;
  }
  return 0;
}

}  // namespace lienthong::ctl

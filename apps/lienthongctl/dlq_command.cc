#include "apps/lienthongctl/dlq_command.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <optional>
#include <set>

#include "apps/lienthongctl/admin_commands.h"
#include "apps/lienthongctl/ctl_config.h"
#include "apps/lienthongctl/options.h"
#include "core/encoding.h"
#include "core/json_text.h"
#include "core/pki.h"
#include "core/store.h"

namespace lienthong::ctl {

namespace {

int usage(const std::string& message) {
  std::fprintf(stderr, "lienthongctl dlq: %s (see lienthongctl --help)\n", message.c_str());
  return 2;
}

}  // namespace

std::optional<SystemClock::time_point> parseDlqTime(const std::string& text) {
  if (auto ago = parseDuration(text)) return SystemClock::now() - *ago;
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (!end || *end) {
    tm = {};
    end = strptime(text.c_str(), "%Y-%m-%d", &tm);
    if (!end || *end) return std::nullopt;
  }
  return SystemClock::from_time_t(timegm(&tm));
}

namespace {

std::string who() {
  const char* user = std::getenv("SUDO_USER");
  if (!user) user = std::getenv("USER");
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  return std::string(user ? user : "unknown") + "@" + host;
}

struct Args {
  std::string sub;
  std::string config;
  DeadLetterFilter filter;
  std::vector<std::int64_t> seqs;
  std::string to;
  bool dry_run = false;
  bool all = false;
  bool json = false;
  bool filtered = false;
};

std::optional<int> parse(const std::vector<std::string>& in, Args& a) {
  if (in.empty()) return usage("give list, show, replay or purge");
  a.sub = in[0];
  if (a.sub != "list" && a.sub != "show" && a.sub != "replay" && a.sub != "purge") {
    return usage("unknown command '" + a.sub + "' (list, show, replay, purge)");
  }
  const Options o =
      parseOptions(std::vector<std::string>(in.begin() + 1, in.end()),
                   {"config", "route", "reason", "dossier", "since", "until", "limit", "to"},
                   {"dry-run", "all", "json"});
  if (!o.error.empty()) return usage(o.error);
  a.dry_run = o.flags.count("dry-run") != 0;
  a.all = o.flags.count("all") != 0;
  a.json = o.flags.count("json") != 0;
  a.config = o.get("config");
  a.to = o.get("to");
  for (const char* name : {"route", "reason", "dossier"}) {
    if (o.values.count(name) == 0) continue;
    (name == std::string("route")    ? a.filter.route
     : name == std::string("reason") ? a.filter.reason
                                     : a.filter.dossier_key) = o.get(name);
    a.filtered = true;
  }
  for (const char* name : {"since", "until"}) {
    if (o.values.count(name) == 0) continue;
    auto t = parseDlqTime(o.get(name));
    if (!t) {
      return usage(std::string("--") + name + ": '" + o.get(name) +
                   "' is no time (2026-11-27T10:00:00Z, 2026-11-27, 2h)");
    }
    (name == std::string("since") ? a.filter.since : a.filter.until) = *t;
    a.filtered = true;
  }
  if (o.values.count("limit") != 0) {
    a.filter.limit = static_cast<std::size_t>(std::strtoull(o.get("limit").c_str(), nullptr, 10));
  }
  for (const std::string& p : o.positional) {
    if (p.empty() || p.size() > 18 || p.find_first_not_of("0123456789") != std::string::npos) {
      return usage("'" + p + "' is no dead letter number");
    }
    a.seqs.push_back(std::stoll(p));
  }
  if (a.sub == "show" && a.seqs.size() != 1) return usage("show takes one dead letter number");
  if ((a.sub == "replay" || a.sub == "purge") && a.seqs.empty() && !a.filtered && !a.all) {
    return usage(a.sub + " needs dead letter numbers, a filter, or --all");
  }
  if (!a.to.empty() && a.sub != "replay") return usage("--to is for replay");
  return std::nullopt;
}

void printJson(const std::vector<DeadLetter>& letters) {
  std::string out = "[";
  for (std::size_t i = 0; i < letters.size(); ++i) {
    const DeadLetter& d = letters[i];
    out += i ? ",\n " : "";
    out += "{\"seq\":" + std::to_string(d.seq) + ",\"route\":";
    appendJsonString(out, d.route);
    out += ",\"dossier\":";
    appendJsonString(out, d.message.dossierKey());
    out += ",\"message_id\":";
    appendJsonString(out, d.message.id());
    out += ",\"accepted\":\"" + utcText(d.accepted) + "\",\"dead\":\"" + utcText(d.dead) +
           "\",\"reason\":";
    appendJsonString(out, d.reason);
    out += "}";
  }
  out += "]\n";
  std::fputs(out.c_str(), stdout);
}

}  // namespace

int dlqCommand(const std::vector<std::string>& args) {
  // Admin credentials: the running daemon's dead letters, through its admin API.
  if (adminGiven(args)) return dlqApiCommand(args);
  Args a;
  if (auto bad = parse(args, a)) return *bad;
  Registry registry;
  PluginSet plugins;
  ConfigErrors errors;
  const std::string file = a.config.empty() ? defaultConfigFile() : a.config;
  if (file.empty()) return usage("give --config FILE (the store is named there)");
  auto config = loadConfig(file, registry, plugins, errors);
  if (!config) {
    std::fputs(errors.str().c_str(), stderr);
    return 1;
  }
  if (!config->store.configured()) {
    std::fprintf(stderr, "%s has no store: dead letters are only logged\n", file.c_str());
    return 1;
  }
  if (!a.to.empty()) {
    Loader loader(registry, true);
    auto table = loader.loadRoutes(*config, config->route_paths, errors);
    if (!table || !table->find(a.to)) {
      std::fprintf(stderr, "no route '%s' in the config's routes\n", a.to.c_str());
      return 1;
    }
  }
  auto store = openStore(config->store, false);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.error().message.c_str());
    if (config->admin.enabled) {
      std::fprintf(stderr,
                   "(while the daemon runs, give admin credentials — --token-file FILE or "
                   "LIENTHONG_ADMIN_TOKEN_FILE — to go through its admin API)\n");
    }
    return 1;
  }
  auto letters = (*store)->deadLetters(a.filter);
  if (!letters.ok()) {
    std::fprintf(stderr, "%s\n", letters.error().message.c_str());
    return 1;
  }
  if (!a.seqs.empty()) {
    const std::set<std::int64_t> wanted(a.seqs.begin(), a.seqs.end());
    std::erase_if(*letters, [&](const DeadLetter& d) { return !wanted.count(d.seq); });
    if (letters->size() != wanted.size()) {
      std::fprintf(stderr, "%zu of the %zu dead letter number(s) given exist\n", letters->size(),
                   wanted.size());
      return 1;
    }
  }

  if (a.sub == "list") {
    if (a.json) {
      printJson(*letters);
      return 0;
    }
    std::printf("%-8s %-20s %-24s %-28s %s\n", "SEQ", "DEAD (UTC)", "ROUTE", "DOSSIER", "REASON");
    for (const DeadLetter& d : *letters) {
      std::string reason = d.reason.size() > 100 ? d.reason.substr(0, 97) + "..." : d.reason;
      std::printf("%-8lld %-20s %-24s %-28s %s\n", static_cast<long long>(d.seq),
                  utcText(d.dead).c_str(), d.route.c_str(), d.message.dossierKey().c_str(),
                  reason.c_str());
    }
    std::printf("%zu dead letter(s)\n", letters->size());
    return 0;
  }
  if (a.sub == "show") {
    const DeadLetter& d = letters->front();
    if (a.json) {
      printJson(*letters);
      return 0;
    }
    std::printf(
        "dead letter %lld\nroute:       %s\nmessage id:  %s\ncorrelation: %s\n"
        "dossier:     %s\naccepted:    %s\ndead:        %s\nreason:      %s\n"
        "content type: %s\nheaders:\n",
        static_cast<long long>(d.seq), d.route.c_str(), d.message.id().c_str(),
        d.message.correlationId().c_str(), d.message.dossierKey().c_str(),
        utcText(d.accepted).c_str(), utcText(d.dead).c_str(), d.reason.c_str(),
        d.message.contentType().c_str());
    for (const auto& [name, value] : d.message.headers()) {
      std::printf("  %s: %s\n", name.c_str(), value.c_str());
    }
    std::printf("body (%zu bytes):\n", d.message.body().size());
    std::fwrite(d.message.body().data(), 1, d.message.body().size(), stdout);
    std::printf("\n");
    return 0;
  }
  const bool replay = a.sub == "replay";
  const std::string by = who();
  std::size_t done = 0;
  for (const DeadLetter& d : *letters) {
    const std::string target = a.to.empty() ? d.route : a.to;
    if (a.dry_run) {
      std::printf("would %s %lld (%s, %s)%s\n", replay ? "replay" : "purge",
                  static_cast<long long>(d.seq), d.route.c_str(), d.message.dossierKey().c_str(),
                  replay ? (" to route " + target).c_str() : "");
      continue;
    }
    // The action and its audit record in one transaction.
    std::optional<AuditRecord> record;
    if (config->audit.enabled) {
      record.emplace();
      record->actor = "lienthongctl:" + by;
      record->action = replay ? "dlq replay" : "dlq purge";
      record->subject = "dead letter " + std::to_string(d.seq);
      record->message_id = d.message.id();
      record->digest = pki::sha256Hex(d.message.body());
      record->detail = replay ? "to route " + target : std::string();
    }
    const AuditRecord* audit = record ? &*record : nullptr;
    if (replay) {
      auto back = (*store)->replay(d.seq, a.to, by, audit);
      if (!back.ok()) {
        std::fprintf(stderr, "%s\n", back.error().message.c_str());
        return 1;
      }
    } else if (auto gone = (*store)->purge(d.seq, by, audit); !gone.ok()) {
      std::fprintf(stderr, "%s\n", gone.error().message.c_str());
      return 1;
    }
    ++done;
  }
  if (a.dry_run) {
    std::printf("%zu dead letter(s) would be %s (dry run: nothing changed)\n", letters->size(),
                replay ? "replayed" : "purged");
  } else if (replay) {
    std::printf(
        "%zu dead letter(s) back in the journal; the daemon delivers them at its next "
        "start (recorded as %s)\n",
        done, by.c_str());
  } else {
    std::printf("%zu dead letter(s) purged (recorded as %s)\n", done, by.c_str());
  }
  return 0;
}

int storeCommand(const std::vector<std::string>& args) {
  std::string config_file;
  bool json = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--json") {
      json = true;
    } else if (args[i] == "--config" && i + 1 < args.size()) {
      config_file = args[++i];
    } else {
      std::fprintf(stderr, "lienthongctl store: unknown option '%s' (see lienthongctl --help)\n",
                   args[i].c_str());
      return 2;
    }
  }
  int status = 0;
  std::string where;
  std::unique_ptr<Store> store =
      openConfigStore("store", config_file, "one-way messages are held in memory", status, &where);
  if (!store) return status;
  auto figures = store->depths();
  if (!figures.ok()) {
    std::fprintf(stderr, "%s\n", figures.error().message.c_str());
    return 1;
  }
  const auto now = SystemClock::now();
  auto ageSeconds = [&](const RouteDepth& d) -> long long {
    if (!d.oldest) return -1;
    return std::chrono::duration_cast<std::chrono::seconds>(now - *d.oldest).count();
  };
  if (json) {
    std::string out = "[";
    bool first = true;
    for (const auto& [route, d] : *figures) {
      out += first ? "" : ",\n ";
      first = false;
      out += "{\"route\":";
      appendJsonString(out, route);
      out += ",\"journalled\":" + std::to_string(d.depth) + ",\"oldest_age_s\":" +
             (d.oldest ? std::to_string(ageSeconds(d)) : std::string("null")) +
             ",\"dead_letters\":" + std::to_string(d.dead_letters) + "}";
    }
    out += "]\n";
    std::fputs(out.c_str(), stdout);
    return 0;
  }
  std::printf("%-28s %10s %12s %12s\n", "ROUTE", "JOURNALLED", "OLDEST (s)", "DEAD LETTERS");
  std::size_t journalled = 0;
  std::size_t dead = 0;
  for (const auto& [route, d] : *figures) {
    std::printf("%-28s %10zu %12s %12zu\n", route.c_str(), d.depth,
                d.oldest ? std::to_string(ageSeconds(d)).c_str() : "-", d.dead_letters);
    journalled += d.depth;
    dead += d.dead_letters;
  }
  std::printf("%zu journalled, %zu dead letter(s) in %s\n", journalled, dead, where.c_str());
  return 0;
}

}  // namespace lienthong::ctl

#include "apps/lienthongctl/admin_commands.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "adapters/http/http_common.h"
#include "adapters/http/tls.h"
#include "apps/lienthongctl/ctl_config.h"
#include "apps/lienthongctl/dlq_command.h"
#include "apps/lienthongctl/options.h"
#include "core/admin/admin_server.h"
#include "core/encoding.h"
#include "lienthong/log.h"

namespace lienthong::ctl {

Options parseOptions(const std::vector<std::string>& args, const std::set<std::string>& values,
                     const std::set<std::string>& flags) {
  Options o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (!a.starts_with("--")) {
      o.positional.push_back(a);
      continue;
    }
    a = a.substr(2);
    std::string value;
    bool inline_value = false;
    if (auto eq = a.find('='); eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      inline_value = true;
    }
    if (flags.count(a) != 0 && !inline_value) {
      o.flags.insert(a);
    } else if (values.count(a) != 0) {
      if (!inline_value) {
        if (i + 1 >= args.size()) {
          o.error = "--" + a + " needs a value";
          return o;
        }
        value = args[++i];
      }
      o.values[a] = value;
    } else {
      o.error = "unknown option '--" + a + "'";
      return o;
    }
  }
  return o;
}

namespace {

const std::set<std::string> kConnectionOptions = {"url",  "ca",  "token-file",
                                                  "cert", "key", "config"};

int usage(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "lienthongctl %s: %s (see lienthongctl --help)\n", command.c_str(),
               message.c_str());
  return 2;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string firstLine(const std::string& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

struct Reply {
  int status = 0;
  std::string body;
};

class AdminClient {
 public:
  // Works out where the API is and the caller's credentials; false (after saying why on
  // stderr) when it cannot.
  bool setUp(const std::string& command, const Options& o) {
    command_ = command;
    std::string url = !o.get("url").empty() ? o.get("url") : env("LIENTHONG_ADMIN_URL");
    ca_ = !o.get("ca").empty() ? o.get("ca") : env("LIENTHONG_ADMIN_CA");
    if (url.empty() || ca_.empty()) {
      // The daemon config's admin section: where it listens, what it serves.
      const std::string file = !o.get("config").empty() ? o.get("config") : defaultConfigFile();
      if (file.empty()) {
        return fail(
            "no admin API given: --url (or LIENTHONG_ADMIN_URL), or a daemon config "
            "with an admin section (--config)");
      }
      Registry registry;
      PluginSet plugins;
      ConfigErrors errors;
      log::setLevel(log::Level::kError);
      auto config = loadConfig(file, registry, plugins, errors);
      if (!config) return fail(file + ": " + errors.str());
      if (!config->admin.enabled) return fail(file + " has no admin section: give --url");
      if (url.empty()) {
        std::string host = config->admin.address;
        if (host == "0.0.0.0" || host == "::") host = "127.0.0.1";
        url = "https://" + host + ":" + std::to_string(config->admin.port);
      }
      if (ca_.empty()) ca_ = config->admin.cert;
    }
    try {
      const Poco::URI u(url);
      if (u.getScheme() != "https") return fail("the admin API is https: " + url);
      host_ = u.getHost();
      port_ = u.getPort();
    } catch (const Poco::Exception& e) {
      return fail("not a URL: " + url);
    }
    url_ = url;
    if (!o.get("token-file").empty()) {
      token_ = firstLine(o.get("token-file"));
      if (token_.empty()) return fail("no token in " + o.get("token-file"));
    } else if (!env("LIENTHONG_ADMIN_TOKEN").empty()) {
      token_ = env("LIENTHONG_ADMIN_TOKEN");
    } else if (!env("LIENTHONG_ADMIN_TOKEN_FILE").empty()) {
      token_ = firstLine(env("LIENTHONG_ADMIN_TOKEN_FILE"));
    }
    cert_ = !o.get("cert").empty() ? o.get("cert") : env("LIENTHONG_ADMIN_CERT");
    key_ = !o.get("key").empty() ? o.get("key") : env("LIENTHONG_ADMIN_KEY");
    if (cert_.empty() != key_.empty()) return fail("a client certificate needs --cert and --key");
    return true;
  }

  std::optional<Reply> call(const std::string& method, const std::string& path) {
    try {
      // The CA file may hold the served certificate itself (the config's chain): trusted
      // as it is, without its root.
      adapters::http::TlsClientOptions options;
      options.ca_file = ca_;
      options.partial_chain = true;
      options.cert_file = cert_;
      options.key_file = key_;
      Poco::Net::Context::Ptr context = adapters::http::clientTlsContext(options);
      Poco::Net::HTTPSClientSession session(host_, port_, context);
      session.setTimeout(Poco::Timespan(120, 0));
      Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
      if (!token_.empty()) request.set("Authorization", "Bearer " + token_);
      request.setContentLength(0);
      session.sendRequest(request);
      Poco::Net::HTTPResponse response;
      std::istream& in = session.receiveResponse(response);
      Reply r;
      r.status = static_cast<int>(response.getStatus());
      Poco::StreamCopier::copyToString(in, r.body);
      if (r.status == 401 || r.status == 403) {
        fail(std::to_string(r.status) + " " + message(r.body));
        return std::nullopt;
      }
      return r;
    } catch (const Poco::Exception& e) {
      fail("cannot reach the admin API at " + url_ + ": " + e.displayText());
      return std::nullopt;
    }
  }

  // The "error" member of an answer, or the answer.
  static std::string message(const std::string& body) {
    try {
      auto o = Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
      if (o && o->has("error")) return o->getValue<std::string>("error");
    } catch (const std::exception&) {
    }
    return body;
  }

  bool fail(const std::string& why) {
    std::fprintf(stderr, "lienthongctl %s: %s\n", command_.c_str(), why.c_str());
    return false;
  }

 private:
  std::string command_;
  std::string url_;
  std::string host_;
  std::uint16_t port_ = 0;
  std::string ca_;
  std::string token_;
  std::string cert_;
  std::string key_;
};

Poco::JSON::Object::Ptr object(const std::string& body) {
  try {
    return Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::string text(const Poco::JSON::Object::Ptr& o, const char* name) {
  if (!o || !o->has(name) || o->get(name).isEmpty()) return {};
  return o->get(name).convert<std::string>();
}

long whole(const Poco::JSON::Object::Ptr& o, const char* name) {
  if (!o || !o->has(name) || o->get(name).isEmpty()) return 0;
  try {
    return static_cast<long>(o->get(name).convert<double>());
  } catch (const Poco::Exception&) {
    return 0;
  }
}

std::string duration(double seconds) {
  const long s = static_cast<long>(seconds);
  char buf[64];
  if (s >= 86400) {
    std::snprintf(buf, sizeof buf, "%ldd%02ldh", s / 86400, (s % 86400) / 3600);
  } else if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  }
  return buf;
}

// A GET whose JSON answer is printed by `print` (or as it is with --json).
template <typename Print>
int getAndPrint(const std::string& command, const std::vector<std::string>& args,
                std::size_t max_positional, const std::string& path_base, Print print) {
  Options o = parseOptions(args, kConnectionOptions, {"json"});
  if (!o.error.empty()) return usage(command, o.error);
  if (o.positional.size() > max_positional) return usage(command, "too many arguments");
  AdminClient client;
  if (!client.setUp(command, o)) return 1;
  // The argument as the last path segment, or as the query's key (path_base ends in '=').
  std::string path = path_base;
  if (!o.positional.empty()) {
    std::string arg;
    Poco::URI::encode(o.positional.front(), "&=?#+/;%", arg);
    path += (path_base.back() == '=' ? "" : "/") + arg;
  }
  auto r = client.call("GET", path);
  if (!r) return 1;
  if (r->status != 200) {
    client.fail(std::to_string(r->status) + " " + AdminClient::message(r->body));
    return 1;
  }
  if (o.flags.count("json") != 0) {
    std::printf("%s\n", r->body.c_str());
    return 0;
  }
  auto body = object(r->body);
  if (!body) {
    client.fail("the answer is not JSON: " + r->body);
    return 1;
  }
  return print(body, o);
}

}  // namespace

int statusCommand(const std::vector<std::string>& args) {
  return getAndPrint(
      "status", args, 0, "/v1/status", [](const Poco::JSON::Object::Ptr& s, const Options&) {
        std::printf("lienthong %s  %s  up %s\n", text(s, "version").c_str(),
                    text(s, "ready") == "true" ? "ready" : "NOT READY",
                    duration(s->getValue<double>("uptime_seconds")).c_str());
        std::printf("routes: %ld (%ld enabled), table version %ld\n", whole(s, "routes"),
                    whole(s, "routes_enabled"), whole(s, "route_table_version"));
        auto e = s->getObject("engine");
        std::printf(
            "engine: %ld queued, %ld running, %ld retrying, %ld one-way held; "
            "%ld in, %ld delivered, %ld failed, %ld dead-lettered, %ld "
            "retries, %ld refused, %ld open breaker(s)\n",
            whole(e, "queued"), whole(e, "running"), whole(e, "retrying"), whole(e, "held_one_way"),
            whole(e, "accepted"), whole(e, "delivered"), whole(e, "failed"),
            whole(e, "dead_lettered"), whole(e, "retries"), whole(e, "refused"),
            whole(e, "open_breakers"));
        auto st = s->getObject("store");
        if (text(st, "configured") == "true") {
          std::printf("store: %s, %s; %ld journalled, %ld dead letter(s)\n",
                      text(st, "where").c_str(), text(st, "open") == "true" ? "open" : "NOT OPEN",
                      whole(st, "journalled"), whole(st, "dead_letters"));
        } else {
          std::printf("store: none (one-way messages are held in memory)\n");
        }
        std::printf("certificates expiring within 30 days: %ld\n",
                    whole(s, "certificates_expiring_30_days"));
        return text(s, "ready") == "true" ? 0 : 1;
      });
}

int routesCommand(const std::vector<std::string>& args) {
  return getAndPrint(
      "routes", args, 1, "/v1/routes", [](const Poco::JSON::Object::Ptr& body, const Options& o) {
        auto row = [](const Poco::JSON::Object::Ptr& r) {
          auto c = r->getObject("counters");
          std::printf("%-28s %-13s %-3s %8ld %9ld %6ld %6ld %7ld  %s -> %s\n",
                      text(r, "id").c_str(), text(r, "pattern").c_str(),
                      text(r, "enabled") == "true" ? "on" : "off", whole(c, "in"),
                      whole(c, "delivered"), whole(c, "failed"), whole(c, "dead_lettered"),
                      whole(c, "retried"), text(r, "from").c_str(), text(r, "to").c_str());
        };
        std::printf("%-28s %-13s %-3s %8s %9s %6s %6s %7s  %s\n", "ROUTE", "PATTERN", "ON", "IN",
                    "DELIVERED", "FAILED", "DEAD", "RETRIED", "FROM -> TO");
        if (!o.positional.empty()) {
          row(body);
          std::printf("\n%s\ndefined at %s; %ld step(s); route table version %ld\n",
                      text(body, "description").c_str(), text(body, "where").c_str(),
                      whole(body, "steps"), whole(body, "version"));
          return 0;
        }
        auto list = body->getArray("routes");
        for (std::size_t i = 0; list && i < list->size(); ++i) {
          row(list->getObject(static_cast<unsigned>(i)));
        }
        std::printf("%zu route(s), route table version %ld\n", list ? list->size() : 0,
                    whole(body, "version"));
        return 0;
      });
}

int whoamiCommand(const std::vector<std::string>& args) {
  return getAndPrint("whoami", args, 0, "/v1/whoami",
                     [](const Poco::JSON::Object::Ptr& w, const Options&) {
                       std::printf("%s (%s, by %s)\n", text(w, "name").c_str(),
                                   text(w, "role").c_str(), text(w, "via").c_str());
                       return 0;
                     });
}

int traceCommand(const std::vector<std::string>& args) {
  if (std::count_if(args.begin(), args.end(),
                    [](const std::string& a) { return !a.starts_with("--"); }) == 0) {
    return usage("trace", "give one dossier code, message id or trace id");
  }
  return getAndPrint(
      "trace", args, 1,
      "/v1/trace?key=", [](const Poco::JSON::Object::Ptr& body, const Options& o) {
        auto hops = body->getArray("hops");
        if (!hops || hops->size() == 0) {
          std::printf("no hop of %s: neither in the daemon's memory nor in its audit chain\n",
                      o.positional.front().c_str());
          return 1;
        }
        std::printf("%-24s %-26s %4s %7s %-15s %-36s %s\n", "TIME (UTC)", "ROUTE", "VER", "ATTEMPT",
                    "OUTCOME", "MESSAGE", "DETAIL");
        std::size_t kept = 0;
        for (std::size_t i = 0; i < hops->size(); ++i) {
          auto h = hops->getObject(static_cast<unsigned>(i));
          // A hop from the audit chain: its attempts are not kept there.
          const bool chain = text(h, "from") == "audit";
          kept += chain ? 1 : 0;
          const std::string attempt = chain ? "-" : std::to_string(whole(h, "attempt"));
          std::printf("%-24s %-26s %4ld %7s %-15s %-36s %s\n", text(h, "at").c_str(),
                      text(h, "route").c_str(), whole(h, "route_version"), attempt.c_str(),
                      text(h, "outcome").c_str(), text(h, "message_id").c_str(),
                      text(h, "detail").c_str());
        }
        std::printf("%zu hop(s)", hops->size());
        if (kept > 0) std::printf(", %zu from the audit chain (attempt -: not kept there)", kept);
        std::printf("\n");
        return 0;
      });
}

int metricsCommand(const std::vector<std::string>& args) {
  Options o = parseOptions(args, kConnectionOptions, {});
  if (!o.error.empty()) return usage("metrics", o.error);
  if (!o.positional.empty()) return usage("metrics", "takes no argument");
  AdminClient client;
  if (!client.setUp("metrics", o)) return 1;
  auto r = client.call("GET", "/v1/metrics");
  if (!r) return 1;
  if (r->status != 200) {
    client.fail(std::to_string(r->status) + " " + AdminClient::message(r->body));
    return 1;
  }
  std::fwrite(r->body.data(), 1, r->body.size(), stdout);
  return 0;
}

int reloadCommand(const std::vector<std::string>& args) {
  Options o = parseOptions(args, kConnectionOptions, {"json", "rollback"});
  if (!o.error.empty()) return usage("reload", o.error);
  if (!o.positional.empty()) return usage("reload", "takes no argument");
  AdminClient client;
  if (!client.setUp("reload", o)) return 1;
  const bool rollback = o.flags.count("rollback") != 0;
  auto r = client.call("POST", rollback ? "/v1/reload?rollback=1" : "/v1/reload");
  if (!r) return 1;
  auto body = object(r->body);
  if (o.flags.count("json") != 0) {
    std::printf("%s\n", r->body.c_str());
    return r->status == 200 ? 0 : 1;
  }
  if (!body) {
    client.fail(std::to_string(r->status) + " " + r->body);
    return 1;
  }
  if (r->status == 200 && rollback) {
    std::printf(
        "rolled back to the route set of version %ld: now version %ld (was %ld); "
        "messages under way finish on the version they started with\n",
        whole(body, "rolled_back_to"), whole(body, "version"), whole(body, "previous_version"));
    return 0;
  }
  if (r->status == 200) {
    std::printf(
        "reloaded: route table version %ld active (was %ld); messages under way finish "
        "on the version they started with\n",
        whole(body, "version"), whole(body, "previous_version"));
    return 0;
  }
  if (rollback || !body->has("errors")) {
    client.fail(std::to_string(r->status) + " " + AdminClient::message(r->body));
    return 1;
  }
  auto errors = body->getArray("errors");
  for (std::size_t i = 0; errors && i < errors->size(); ++i) {
    std::printf("%s\n", errors->getElement<std::string>(static_cast<unsigned>(i)).c_str());
  }
  std::printf("reload refused: %zu error(s); route table version %ld stays active\n",
              errors ? errors->size() : 0, whole(body, "version"));
  return 1;
}

int switchRouteCommand(const std::vector<std::string>& args, bool enable) {
  const std::string command = enable ? "enable" : "disable";
  Options o = parseOptions(args, kConnectionOptions, {"json"});
  if (!o.error.empty()) return usage(command, o.error);
  if (o.positional.size() != 1) return usage(command, "give one route id");
  AdminClient client;
  if (!client.setUp(command, o)) return 1;
  const std::string id = o.positional.front();
  std::string escaped;
  Poco::URI::encode(id, "/?#%", escaped);
  auto r = client.call("POST", "/v1/routes/" + escaped + "/" + command);
  if (!r) return 1;
  if (o.flags.count("json") != 0) {
    std::printf("%s\n", r->body.c_str());
    return r->status == 200 ? 0 : 1;
  }
  if (r->status != 200) {
    client.fail(std::to_string(r->status) + " " + AdminClient::message(r->body));
    return 1;
  }
  auto body = object(r->body);
  const bool changed = text(body, "changed") == "true";
  std::printf("route %s %s%s\n", id.c_str(), enable ? "enabled" : "disabled",
              changed ? (enable ? ": its input is started"
                                : ": its input is stopped; what it "
                                  "took in goes on")
                      : " (it was already)");
  return 0;
}

namespace {

std::string queryEncode(const std::string& v) {
  std::string out;
  Poco::URI::encode(v, "&=?#+/;%", out);
  return out;
}

// A progress bar on stderr when it is a terminal: "[#####     ] 12/40".
void progress(std::size_t done, std::size_t total) {
  if (!::isatty(2) || total == 0) return;
  constexpr std::size_t kWidth = 30;
  const std::size_t filled = done * kWidth / total;
  std::fprintf(stderr, "\r[%s%s] %zu/%zu", std::string(filled, '#').c_str(),
               std::string(kWidth - filled, ' ').c_str(), done, total);
  if (done == total) std::fputc('\n', stderr);
  std::fflush(stderr);
}

}  // namespace

int dlqApiCommand(const std::vector<std::string>& args) {
  if (args.empty()) return usage("dlq", "give list, show, replay or purge");
  const std::string sub = args.front();
  if (sub != "list" && sub != "show" && sub != "replay" && sub != "purge") {
    return usage("dlq", "unknown command '" + sub + "' (list, show, replay, purge)");
  }
  std::set<std::string> values = kConnectionOptions;
  for (const char* k : {"route", "reason", "dossier", "since", "until", "limit", "to"}) {
    values.insert(k);
  }
  Options o = parseOptions({args.begin() + 1, args.end()}, values, {"json", "dry-run", "all"});
  if (!o.error.empty()) return usage("dlq", o.error);
  std::vector<std::string> seqs;
  for (const auto& p : o.positional) {
    if (p.empty() || p.find_first_not_of("0123456789") != std::string::npos) {
      return usage("dlq", "'" + p + "' is no dead letter number");
    }
    seqs.push_back(p);
  }
  std::string query;
  bool filtered = false;
  for (const char* k : {"route", "reason", "dossier", "since", "until", "limit"}) {
    std::string v = o.get(k);
    if (v.empty()) continue;
    if (std::string(k) == "since" || std::string(k) == "until") {
      auto t = parseDlqTime(v);
      if (!t) return usage("dlq", v + " is no time (2026-11-27T10:00:00Z, 2026-11-27, 2h)");
      v = utcText(*t);
    }
    filtered |= std::string(k) != "limit";
    query += (query.empty() ? "?" : "&") + std::string(k) + "=" + queryEncode(v);
  }
  if (sub == "show" && seqs.size() != 1) return usage("dlq", "show takes one dead letter number");
  if ((sub == "replay" || sub == "purge") && seqs.empty() && !filtered &&
      o.flags.count("all") == 0) {
    return usage("dlq", sub + " needs dead letter numbers, a filter, or --all");
  }
  if (!o.get("to").empty() && sub != "replay") return usage("dlq", "--to is for replay");
  AdminClient client;
  if (!client.setUp("dlq", o)) return 1;
  const bool json = o.flags.count("json") != 0;
  if (sub == "show") {
    auto r = client.call("GET", "/v1/dlq/" + seqs.front());
    if (!r) return 1;
    if (r->status != 200) {
      client.fail(std::to_string(r->status) + " " + AdminClient::message(r->body));
      return 1;
    }
    if (json) {
      std::printf("%s\n", r->body.c_str());
      return 0;
    }
    auto d = object(r->body);
    std::printf(
        "dead letter %s\nroute:       %s\nmessage id:  %s\ncorrelation: %s\n"
        "dossier:     %s\naccepted:    %s\ndead:        %s\nreason:      %s\n"
        "content type: %s\nheaders:\n",
        text(d, "seq").c_str(), text(d, "route").c_str(), text(d, "message_id").c_str(),
        text(d, "correlation_id").c_str(), text(d, "dossier").c_str(), text(d, "accepted").c_str(),
        text(d, "dead").c_str(), text(d, "reason").c_str(), text(d, "content_type").c_str());
    if (auto h = d->getObject("headers")) {
      for (const auto& [k, v] : *h) std::printf("  %s: %s\n", k.c_str(), v.toString().c_str());
    }
    const std::string body = d->has("body") ? text(d, "body") : text(d, "body_base64");
    std::printf("body%s:\n%s\n", d->has("body") ? "" : " (base64)", body.c_str());
    return 0;
  }
  // Numbers given: each asked for (a list stops at its limit); else the filtered list.
  std::vector<Poco::JSON::Object::Ptr> letters;
  std::string listed;  // the answer, for --json
  if (!seqs.empty()) {
    std::set<std::string> asked;
    for (const std::string& seq : seqs) {
      if (!asked.insert(seq).second) continue;
      auto r = client.call("GET", "/v1/dlq/" + seq);
      if (!r) return 1;
      if (r->status == 404) continue;
      if (r->status != 200) {
        client.fail(std::to_string(r->status) + " " + AdminClient::message(r->body));
        return 1;
      }
      if (auto d = object(r->body)) {
        letters.push_back(d);
        listed += (listed.empty() ? "{\"dead_letters\":[" : ",") + r->body;
      }
    }
    listed += (listed.empty() ? "{\"dead_letters\":[" : "") + std::string("]}");
    if (letters.size() != asked.size()) {
      std::fprintf(stderr, "%zu of the %zu dead letter number(s) given exist\n", letters.size(),
                   asked.size());
      return 1;
    }
  } else {
    auto r = client.call("GET", "/v1/dlq" + query);
    if (!r) return 1;
    if (r->status != 200) {
      client.fail(std::to_string(r->status) + " " + AdminClient::message(r->body));
      return 1;
    }
    auto body = object(r->body);
    auto list = body ? body->getArray("dead_letters") : nullptr;
    if (!list) {
      client.fail("the answer is not a list of dead letters: " + r->body);
      return 1;
    }
    for (std::size_t i = 0; i < list->size(); ++i) {
      letters.push_back(list->getObject(static_cast<unsigned>(i)));
    }
    listed = r->body;
  }
  if (sub == "list") {
    if (json) {
      std::printf("%s\n", listed.c_str());
      return 0;
    }
    std::printf("%-8s %-20s %-24s %-28s %s\n", "SEQ", "DEAD (UTC)", "ROUTE", "DOSSIER", "REASON");
    for (const auto& d : letters) {
      std::string reason = text(d, "reason");
      if (reason.size() > 100) reason = reason.substr(0, 97) + "...";
      std::printf("%-8s %-20s %-24s %-28s %s\n", text(d, "seq").c_str(), text(d, "dead").c_str(),
                  text(d, "route").c_str(), text(d, "dossier").c_str(), reason.c_str());
    }
    std::printf("%zu dead letter(s)\n", letters.size());
    return 0;
  }
  const bool replay = sub == "replay";
  const std::string to = o.get("to");
  if (o.flags.count("dry-run") != 0) {
    for (const auto& d : letters) {
      std::printf("would %s %s (%s, %s)%s\n", sub.c_str(), text(d, "seq").c_str(),
                  text(d, "route").c_str(), text(d, "dossier").c_str(),
                  replay ? (" to route " + (to.empty() ? text(d, "route") : to)).c_str() : "");
    }
    std::printf("%zu dead letter(s) would be %s (dry run: nothing changed)\n", letters.size(),
                replay ? "replayed" : "purged");
    return 0;
  }
  std::size_t done = 0;
  progress(0, letters.size());
  for (const auto& d : letters) {
    const std::string path = "/v1/dlq/" + text(d, "seq") + "/" + sub +
                             (replay && !to.empty() ? "?to=" + queryEncode(to) : "");
    auto a = client.call("POST", path);
    if (!a) return 1;
    if (a->status != 200) {
      if (::isatty(2)) std::fputc('\n', stderr);
      client.fail("dead letter " + text(d, "seq") + ": " + std::to_string(a->status) + " " +
                  AdminClient::message(a->body) + " (" + std::to_string(done) + " done before)");
      return 1;
    }
    progress(++done, letters.size());
  }
  std::printf(replay ? "%zu dead letter(s) replayed: back through their routes now\n"
                     : "%zu dead letter(s) purged\n",
              done);
  return 0;
}

std::optional<std::string> adminCall(const std::string& command,
                                     const std::vector<std::string>& args,
                                     const std::string& method, const std::string& path) {
  Options o = parseOptions(args, kConnectionOptions, {});
  if (!o.error.empty()) {
    std::fprintf(stderr, "lienthongctl %s: %s\n", command.c_str(), o.error.c_str());
    return std::nullopt;
  }
  AdminClient client;
  if (!client.setUp(command, o)) return std::nullopt;
  auto r = client.call(method, path);
  if (!r) return std::nullopt;
  if (r->status != 200) {
    client.fail(std::to_string(r->status) + " " + AdminClient::message(r->body));
    return std::nullopt;
  }
  return r->body;
}

bool adminGiven(const std::vector<std::string>& args) {
  for (const auto& o : args) {
    for (const char* k : {"--url", "--token-file", "--cert", "--key", "--ca"}) {
      if (o == k || o.rfind(std::string(k) + "=", 0) == 0) return true;
    }
  }
  for (const char* e :
       {"LIENTHONG_ADMIN_URL", "LIENTHONG_ADMIN_TOKEN", "LIENTHONG_ADMIN_TOKEN_FILE",
        "LIENTHONG_ADMIN_CERT", "LIENTHONG_ADMIN_KEY", "LIENTHONG_ADMIN_CA"}) {
    if (!env(e).empty()) return true;
  }
  return false;
}

int certsApiCommand(const std::vector<std::string>& args) {
  std::set<std::string> values = kConnectionOptions;
  values.insert("warn-days");
  Options o = parseOptions(args, values, {"json"});
  if (!o.error.empty()) return usage("certs", o.error);
  if (!o.positional.empty()) return usage("certs", "takes no file");
  long warn_days = 30;
  if (!o.get("warn-days").empty()) {
    const std::string w = o.get("warn-days");
    if (w.find_first_not_of("0123456789") != std::string::npos || w.size() > 6) {
      return usage("certs", "--warn-days needs a number");
    }
    warn_days = std::stol(w);
  }
  AdminClient client;
  if (!client.setUp("certs", o)) return 1;
  auto r = client.call("GET", "/v1/certs");
  if (!r) return 1;
  auto body = r->status == 200 ? object(r->body) : nullptr;
  auto list = body ? body->getArray("certificates") : nullptr;
  if (!list) {
    client.fail(std::to_string(r->status) + " " + AdminClient::message(r->body));
    return 1;
  }
  int problems = 0;
  if (o.flags.count("json") != 0) std::printf("%s\n", r->body.c_str());
  for (std::size_t i = 0; i < list->size(); ++i) {
    auto c = list->getObject(static_cast<unsigned>(i));
    const long days = whole(c, "days_left");
    const char* status = days < 0 ? "EXPIRED" : (days <= warn_days ? "WARN" : "ok");
    problems += days <= warn_days ? 1 : 0;
    if (o.flags.count("json") == 0) {
      std::printf("%-22s %-18s %-9s %5ld days  until %s  %s  %s\n", text(c, "where").c_str(),
                  text(c, "role").c_str(), status, days, text(c, "not_after").c_str(),
                  text(c, "key").c_str(), text(c, "subject").c_str());
    }
  }
  if (list->size() == 0 && o.flags.count("json") == 0) {
    std::puts("no keys or certificates in the running daemon's config");
  }
  if (problems > 0) {
    if (o.flags.count("json") == 0) {
      std::printf("%d certificate(s) expired or expiring within %ld days\n", problems, warn_days);
    }
    return 1;
  }
  return 0;
}

int statsApiCommand(const std::vector<std::string>& args) {
  std::set<std::string> values = kConnectionOptions;
  values.insert("by");
  values.insert("now");
  Options o = parseOptions(args, values, {"csv"});
  if (!o.error.empty()) return usage("stats", o.error);
  if (!o.positional.empty()) return usage("stats", "takes no argument");
  std::string query = "?by=" + queryEncode(o.get("by").empty() ? "agency" : o.get("by"));
  if (!o.get("now").empty()) query += "&now=" + queryEncode(o.get("now"));
  if (o.flags.count("csv") != 0) query += "&format=csv";
  AdminClient client;
  if (!client.setUp("stats", o)) return 1;
  auto r = client.call("GET", "/v1/stats" + query);
  if (!r) return 1;
  if (r->status != 200) {
    client.fail(std::to_string(r->status) + " " + AdminClient::message(r->body));
    return r->status == 400 ? 2 : 1;
  }
  std::fwrite(r->body.data(), 1, r->body.size(), stdout);
  if (o.flags.count("csv") == 0) std::fputc('\n', stdout);
  return 0;
}

int adminTokenCommand(const std::vector<std::string>& args) {
  Options o = parseOptions(args, {"name", "role", "out"}, {});
  if (!o.error.empty()) return usage("admin-token", o.error);
  const std::string name = o.get("name");
  const std::string role = o.get("role");
  if (name.empty() || name.find_first_of(" :{}\"'") != std::string::npos) {
    return usage("admin-token", "--name NAME (a word: who or what the token is for)");
  }
  if (role != "viewer" && role != "operator" && role != "admin") {
    return usage("admin-token", "--role viewer, operator or admin");
  }
  unsigned char random[32];
  if (RAND_bytes(random, sizeof random) != 1) {
    std::fprintf(stderr, "lienthongctl admin-token: no random bytes\n");
    return 1;
  }
  static const char* const kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string token = "lt_";
  for (unsigned char b : random) token += kAlphabet[b & 63];  // 32 x 6 bits
  const std::string hash = admin::tokenHash(token);
  if (!o.get("out").empty()) {
    const std::string file = o.get("out");
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    const std::string line = token + "\n";
    if (fd < 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      std::fprintf(stderr, "lienthongctl admin-token: cannot write a new file %s (it may exist)\n",
                   file.c_str());
      if (fd >= 0) ::close(fd);
      return 1;
    }
    ::close(fd);
    std::printf("token written to %s (mode 0600)\n", file.c_str());
  } else {
    std::printf("token (give it to its holder; it is kept nowhere else):\n  %s\n", token.c_str());
  }
  std::printf(
      "admit it in the daemon config, under admin.tokens:\n  %s: { role: %s, sha256: %s }\n",
      name.c_str(), role.c_str(), hash.c_str());
  return 0;
}

}  // namespace lienthong::ctl

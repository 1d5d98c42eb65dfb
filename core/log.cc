#include "lienthong/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <regex>
#include <string>
#include <vector>

#include "core/json_text.h"

namespace lienthong::log {

namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::atomic<bool> g_json{false};
std::atomic<bool> g_redact{true};
thread_local const Context* t_context = nullptr;

struct Pattern {
  std::regex re;
  const char* replacement;
};

const std::vector<Pattern>& patterns() {
  static const std::vector<Pattern> kPatterns = [] {
    const auto f = std::regex::ECMAScript | std::regex::optimize;
    std::vector<Pattern> p;
    // Address fields first: XML elements and JSON members, whatever they hold.
    p.push_back({std::regex(R"(<((?:[A-Za-z_][\w.-]*:)?(?:DiaChi\w*|ChiTiet))>[^<]*</)", f),
                 "<$1><address></"});
    p.push_back({std::regex(R"re("(DiaChi\w*|ChiTiet|\w*Address)"\s*:\s*"[^"]*")re", f),
                 "\"$1\":\"<address>\""});
    p.push_back({std::regex(R"([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})", f), "<email>"});
    p.push_back({std::regex(R"((?:\+84|\b0)[235789](?:[ .]?[0-9]){8}\b)", f), "<phone>"});
    p.push_back({std::regex(R"(\b[0-9]{12}\b)", f), "<id>"});
    return p;
  }();
  return kPatterns;
}

}  // namespace

void setFormat(Format format) { g_json.store(format == Format::kJson, std::memory_order_relaxed); }
void setRedact(bool redact) { g_redact.store(redact, std::memory_order_relaxed); }

Scope::Scope(Context context) : context_(std::move(context)), previous_(t_context) {
  t_context = &context_;
}
Scope::~Scope() { t_context = previous_; }

std::string redact(std::string_view text) {
  // Cheap looks first: most lines hold nothing to hide, and a regex costs.
  std::size_t run = 0;
  std::size_t longest_digits = 0;
  for (char c : text) {
    run = c >= '0' && c <= '9' ? run + 1 : (c == ' ' || c == '.' ? run : 0);
    longest_digits = std::max(longest_digits, run);
  }
  const bool address = text.find("DiaChi") != std::string_view::npos ||
                       text.find("ChiTiet") != std::string_view::npos ||
                       text.find("Address") != std::string_view::npos;
  const bool email = text.find('@') != std::string_view::npos;
  const bool number = longest_digits >= 9;
  if (!address && !email && !number) return std::string(text);
  const auto& p = patterns();  // address (2), email, phone, id
  std::string out(text);
  for (std::size_t i = 0; i < p.size(); ++i) {
    const bool wanted = i < 2 ? address : (i == 2 ? email : number);
    if (wanted) out = std::regex_replace(out, p[i].re, p[i].replacement);
  }
  return out;
}

void setLevel(Level l) { g_level.store(static_cast<int>(l), std::memory_order_relaxed); }
Level level() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }

bool parseLevel(std::string_view text, Level* out) {
  if (text == "debug")
    *out = Level::kDebug;
  else if (text == "info")
    *out = Level::kInfo;
  else if (text == "warn")
    *out = Level::kWarn;
  else if (text == "error")
    *out = Level::kError;
  else
    return false;
  return true;
}

void write(Level l, std::string_view component, std::string_view message) {
  if (!enabled(l)) return;
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = time_point_cast<seconds>(now);
  int millis = static_cast<int>(duration_cast<milliseconds>(now - secs).count());
  std::time_t t = system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  const Context* c = t_context;
  const bool hide = c ? c->redact : g_redact.load(std::memory_order_relaxed);
  const std::string text = hide ? redact(message) : std::string(message);
  std::string line;
  if (g_json.load(std::memory_order_relaxed)) {
    static constexpr const char* kJsonNames[] = {"debug", "info", "warn", "error"};
    char stamp[96];
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    line = std::string("{\"time\":\"") + stamp + "\",\"level\":\"" +
           kJsonNames[static_cast<int>(l)] + "\",\"component\":";
    appendJsonString(line, component);
    line += ",\"message\":";
    appendJsonString(line, text);
    if (c) {
      for (const auto& [name, value] :
           {std::pair<const char*, const std::string*>{"trace_id", &c->trace_id},
            {"route", &c->route},
            {"dossier", &c->dossier},
            {"message_id", &c->message_id}}) {
        if (value->empty()) continue;
        line += ",\"";
        line += name;
        line += "\":";
        appendJsonString(line, *value);
      }
    }
    line += "}\n";
  } else {
    static constexpr const char* kNames[] = {"debug", "info ", "warn ", "error"};
    char head[64];
    int n = std::snprintf(head, sizeof head, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s ",
                          tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                          tm.tm_sec, millis, kNames[static_cast<int>(l)]);
    line.assign(head, static_cast<std::size_t>(n));
    line.append(component);
    line += ": ";
    line += text;
    if (c) {
      for (const auto& [name, value] :
           {std::pair<const char*, const std::string*>{"trace", &c->trace_id},
            {"route", &c->route},
            {"dossier", &c->dossier},
            {"msg", &c->message_id}}) {
        if (value->empty()) continue;
        line += ' ';
        line += name;
        line += '=';
        line += *value;
      }
    }
    line += '\n';
  }
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t w = ::write(STDERR_FILENO, p, left);
    if (w <= 0) break;
    p += w;
    left -= static_cast<std::size_t>(w);
  }
}

}  // namespace lienthong::log

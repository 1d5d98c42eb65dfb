// ${...} templates: compiled once into parts, rendered per message.

#include "lienthong/template.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace lienthong {

struct Template::Part {
  enum class Kind {
    kLiteral,
    kHeader,
    kMessageId,
    kCorrelationId,
    kContentType,
    kAttempt,
    kRouteId,
    kTraceId,
    kBody,
    kUuid,
    kNow,
  };
  Kind kind = Kind::kLiteral;
  std::string text;      // literal text, header name, or time pattern
  std::string fallback;  // for kHeader with ":-"
  bool has_fallback = false;
};

Template::Template(const Template&) = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(const Template&) = default;
Template& Template::operator=(Template&&) noexcept = default;
Template::~Template() = default;

namespace {

bool isHeaderChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

// Checks a Java-style date pattern; returns the offset of a bad letter or npos.
std::size_t checkTimePattern(std::string_view p) {
  bool quoted = false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\'') {
      quoted = !quoted;
      continue;
    }
    if (quoted) continue;
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (letter && c != 'y' && c != 'M' && c != 'd' && c != 'H' && c != 'm' && c != 's' &&
        c != 'S') {
      return i;
    }
  }
  return quoted ? p.size() : std::string_view::npos;
}

std::string formatNow(std::string_view pattern) {
  using namespace std::chrono;
  // Asia/Ho_Chi_Minh has been UTC+7 without daylight saving since 1975.
  auto now = system_clock::now() + hours(7);
  auto secs = time_point_cast<seconds>(now);
  int millis = static_cast<int>(duration_cast<milliseconds>(now - secs).count());
  std::time_t t = system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  if (pattern.empty()) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d+07:00", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
  }
  std::string out;
  bool quoted = false;
  for (std::size_t i = 0; i < pattern.size();) {
    char c = pattern[i];
    if (c == '\'') {
      quoted = !quoted;
      ++i;
      continue;
    }
    if (quoted || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
      out += c;
      ++i;
      continue;
    }
    std::size_t n = 1;
    while (i + n < pattern.size() && pattern[i + n] == c) ++n;
    int value = 0;
    int width = static_cast<int>(n);
    switch (c) {
      case 'y':
        value = tm.tm_year + 1900;
        if (n == 2) value %= 100;
        break;
      case 'M':
        value = tm.tm_mon + 1;
        break;
      case 'd':
        value = tm.tm_mday;
        break;
      case 'H':
        value = tm.tm_hour;
        break;
      case 'm':
        value = tm.tm_min;
        break;
      case 's':
        value = tm.tm_sec;
        break;
      case 'S':
        value = millis;
        width = 3;
        break;
      default:
        break;
    }
    char buf[16];
    std::snprintf(buf, sizeof buf, "%0*d", width, value);
    out += buf;
    i += n;
  }
  return out;
}

}  // namespace

std::optional<Template> Template::compile(std::string_view text, TemplateError* error) {
  Template t;
  t.source_ = std::string(text);
  std::string literal;
  auto fail = [&](std::size_t offset, std::string message) -> std::optional<Template> {
    if (error) *error = {offset, std::move(message)};
    return std::nullopt;
  };
  auto flush = [&] {
    if (!literal.empty()) {
      Part p;
      p.text = std::move(literal);
      t.parts_.push_back(std::move(p));
      literal.clear();
    }
  };
  for (std::size_t i = 0; i < text.size();) {
    if (text.compare(i, 3, "$${") == 0) {
      literal += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      literal += text[i++];
      continue;
    }
    std::size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) return fail(i, "unclosed '${' in template");
    std::string_view expr = text.substr(i + 2, close - i - 2);
    std::size_t expr_at = i + 2;
    if (expr.empty()) return fail(i, "empty '${}' in template");
    Part p;
    using K = Part::Kind;
    if (expr == "now" || expr.starts_with("now:")) {
      p.kind = K::kNow;
      if (expr.size() > 4) {
        p.text = std::string(expr.substr(4));
        std::size_t bad = checkTimePattern(p.text);
        if (bad != std::string_view::npos) {
          return fail(expr_at + 4 + bad,
                      "bad time pattern '" + p.text + "' (letters: yyyy yy MM dd HH mm ss SSS)");
        }
      }
    } else if (expr.starts_with("message.")) {
      std::string_view f = expr.substr(8);
      if (f == "id")
        p.kind = K::kMessageId;
      else if (f == "correlation-id")
        p.kind = K::kCorrelationId;
      else if (f == "content-type")
        p.kind = K::kContentType;
      else if (f == "attempt")
        p.kind = K::kAttempt;
      else
        return fail(expr_at, "unknown message field '" + std::string(expr) +
                                 "' (id, correlation-id, content-type, attempt)");
    } else if (expr.starts_with("route.")) {
      if (expr != "route.id")
        return fail(expr_at, "unknown route field '" + std::string(expr) + "'");
      p.kind = K::kRouteId;
    } else if (expr.starts_with("trace.")) {
      if (expr != "trace.id")
        return fail(expr_at, "unknown trace field '" + std::string(expr) + "'");
      p.kind = K::kTraceId;
    } else if (expr == "body") {
      p.kind = K::kBody;
    } else if (expr == "uuid") {
      p.kind = K::kUuid;
    } else {
      std::string_view name = expr;
      if (name.starts_with("header.")) name = name.substr(7);
      std::size_t dash = name.find(":-");
      if (dash != std::string_view::npos) {
        p.fallback = std::string(name.substr(dash + 2));
        p.has_fallback = true;
        name = name.substr(0, dash);
      }
      std::size_t name_at = expr_at + static_cast<std::size_t>(name.data() - expr.data());
      if (name.empty())
        return fail(name_at, "missing header name in '${" + std::string(expr) + "}'");
      for (std::size_t k = 0; k < name.size(); ++k) {
        if (!isHeaderChar(name[k])) {
          return fail(name_at + k, "invalid character '" + std::string(1, name[k]) +
                                       "' in header name '" + std::string(name) + "'");
        }
      }
      p.kind = K::kHeader;
      p.text = std::string(name);
    }
    flush();
    t.parts_.push_back(std::move(p));
    i = close + 1;
  }
  flush();
  return t;
}

bool Template::isConstant() const {
  for (const auto& p : parts_) {
    if (p.kind != Part::Kind::kLiteral) return false;
  }
  return true;
}

std::string Template::render(const Exchange& exchange, std::vector<std::string>* missing) const {
  if (parts_.size() == 1 && parts_[0].kind == Part::Kind::kLiteral) return parts_[0].text;
  std::string out;
  const Message& m = exchange.message();
  for (const auto& p : parts_) {
    using K = Part::Kind;
    switch (p.kind) {
      case K::kLiteral:
        out += p.text;
        break;
      case K::kHeader: {
        const std::string* v = m.header(p.text);
        if (v && !v->empty()) {
          out += *v;
        } else if (p.has_fallback) {
          out += p.fallback;
        } else if (missing) {
          missing->push_back(p.text);
        }
        break;
      }
      case K::kMessageId:
        out += m.id();
        break;
      case K::kCorrelationId:
        out += m.correlationId();
        break;
      case K::kContentType:
        out += m.contentType();
        break;
      case K::kAttempt:
        out += std::to_string(m.attempt());
        break;
      case K::kRouteId:
        out += exchange.routeId();
        break;
      case K::kTraceId:
        out += exchange.traceId();
        break;
      case K::kBody:
        out += m.body();
        break;
      case K::kUuid:
        out += newId();
        break;
      case K::kNow:
        out += formatNow(p.text);
        break;
    }
  }
  return out;
}

}  // namespace lienthong

#pragma once
// A small logger: one line per call, written with one write(2) so lines never interleave.
//   2026-11-26T15:04:05.123Z info  engine: message text trace=… route=… dossier=… msg=…
// or, in the json format, one JSON object per line. While a worker handles a message the
// line names it (trace id, route, dossier code, message id: see Scope). What identifies a
// person — personal identification numbers, phone numbers, e-mail addresses, addresses —
// is redacted unless the route (or the daemon, outside routes) says otherwise.
// Thread-safe.

#include <string>
#include <string_view>

namespace lienthong::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };  // kOff: nothing

void setLevel(Level level);
Level level();
inline bool enabled(Level l) { return static_cast<int>(l) >= static_cast<int>(level()); }
// Parses "debug", "info", "warn", "error".
bool parseLevel(std::string_view text, Level* out);

enum class Format { kText, kJson };
void setFormat(Format format);
// Redaction outside any Scope (the daemon config's log.redact; default on).
void setRedact(bool redact);

// What the lines written on this thread are about, until the Scope ends (scopes nest).
struct Context {
  std::string trace_id;
  std::string route;
  std::string dossier;
  std::string message_id;
  bool redact = true;
};
class Scope {
 public:
  explicit Scope(Context context);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  Context context_;
  const Context* previous_;
};

// The text with personal identification numbers (12 digits), phone numbers, e-mail
// addresses and address fields (DiaChi*, ChiTiet, *Address) replaced by <id>, <phone>,
// <email>, <address>.
std::string redact(std::string_view text);

void write(Level level, std::string_view component, std::string_view message);

inline void debug(std::string_view c, std::string_view m) {
  if (enabled(Level::kDebug)) write(Level::kDebug, c, m);
}
inline void info(std::string_view c, std::string_view m) { write(Level::kInfo, c, m); }
inline void warn(std::string_view c, std::string_view m) { write(Level::kWarn, c, m); }
inline void error(std::string_view c, std::string_view m) { write(Level::kError, c, m); }

}  // namespace lienthong::log

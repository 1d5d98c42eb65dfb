#pragma once
// A small logger: one line per call, written with one write(2) so lines never interleave.
//   2026-11-26T15:04:05.123Z info  engine: message text
// Thread-safe.

#include <string_view>

namespace lienthong::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };  // kOff: nothing

void setLevel(Level level);
Level level();
inline bool enabled(Level l) { return static_cast<int>(l) >= static_cast<int>(level()); }
// Parses "debug", "info", "warn", "error".
bool parseLevel(std::string_view text, Level* out);

void write(Level level, std::string_view component, std::string_view message);

inline void debug(std::string_view c, std::string_view m) {
  if (enabled(Level::kDebug)) write(Level::kDebug, c, m);
}
inline void info(std::string_view c, std::string_view m) { write(Level::kInfo, c, m); }
inline void warn(std::string_view c, std::string_view m) { write(Level::kWarn, c, m); }
inline void error(std::string_view c, std::string_view m) { write(Level::kError, c, m); }

}  // namespace lienthong::log

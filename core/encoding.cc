#include "core/encoding.h"

#include <openssl/rand.h>

namespace lienthong {

std::string utcText(std::time_t seconds) {
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string utcText(std::chrono::system_clock::time_point t) {
  return utcText(std::chrono::system_clock::to_time_t(t));
}

std::string asciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string base64Encode(std::string_view bytes, bool url) {
  const char* const alphabet =
      url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
          : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out += alphabet[(v >> k) & 63];
  }
  const std::size_t left = bytes.size() - i;
  if (left == 0) return out;
  unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
  if (left == 2) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
  out += alphabet[(v >> 18) & 63];
  out += alphabet[(v >> 12) & 63];
  if (left == 2) out += alphabet[(v >> 6) & 63];
  if (!url) out.append(left == 2 ? 1 : 2, '=');
  return out;
}

namespace {

bool lowerHex(std::string_view s) {
  return s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

bool allZero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

}  // namespace

std::string traceIdOf(std::string_view v) {
  // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55
  if (v.size() < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') return {};
  const std::string_view version = v.substr(0, 2);
  const std::string_view trace = v.substr(3, 32);
  const std::string_view parent = v.substr(36, 16);
  const std::string_view flags = v.substr(53, 2);
  if (!lowerHex(version) || version == "ff" || !lowerHex(trace) || !lowerHex(parent) ||
      !lowerHex(flags) || allZero(trace) || allZero(parent)) {
    return {};
  }
  // Version 00 is exactly 55 characters; a later one may add fields after a '-'.
  if (version == "00" ? v.size() != 55 : (v.size() > 55 && v[55] != '-')) return {};
  return std::string(trace);
}

bool isTraceparent(std::string_view name) {
  return name.size() == 11 && asciiLower(name) == "traceparent";  // short: no allocation
}

std::string traceparentFor(const std::string& trace_id) {
  unsigned char span[8];
  if (RAND_bytes(span, sizeof span) != 1) span[0] = 1;
  span[7] |= 1;  // never all zero
  static const char* const kHex = "0123456789abcdef";
  std::string out = "00-" + trace_id + "-";
  for (unsigned char b : span) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out + "-01";
}

}  // namespace lienthong

#include "core/encoding.h"

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

}  // namespace lienthong

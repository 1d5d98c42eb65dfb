#pragma once
// Small text encodings shared by the steps, the admin API and the tools.

#include <chrono>
#include <ctime>
#include <string>
#include <string_view>

namespace lienthong {

// "2026-11-27T10:00:00Z" (UTC, whole seconds).
std::string utcText(std::time_t seconds);
std::string utcText(std::chrono::system_clock::time_point t);

// Base64 (RFC 4648): the standard alphabet with '=' padding, or with url = true the
// base64url alphabet without padding (JWT, tokens).
std::string base64Encode(std::string_view bytes, bool url = false);

}  // namespace lienthong

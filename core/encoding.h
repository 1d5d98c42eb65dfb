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

// ASCII letters in lower case; other bytes (UTF-8 included) as they are.
std::string asciiLower(std::string_view text);

// W3C Trace Context (https://www.w3.org/TR/trace-context/): the trace id of a
// `traceparent` value "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>" (lower-case
// hex, ids not all zero; a later version's value is read by its first four fields), or ""
// when it is not one.
std::string traceIdOf(std::string_view traceparent);
// Whether a header's name is `traceparent`, in any case.
bool isTraceparent(std::string_view header_name);
// The `traceparent` of a hop of trace `trace_id`: a new random parent id, sampled.
std::string traceparentFor(const std::string& trace_id);

}  // namespace lienthong

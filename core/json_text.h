#pragma once
// JSON text helpers shared by the HTTP error bodies and the JSON steps.

#include <string>
#include <string_view>

namespace lienthong {

// Appends `text` as a JSON string literal (quotes, escapes, \u00XX for control bytes).
// UTF-8 passes through unchanged.
void appendJsonString(std::string& out, std::string_view text);

}  // namespace lienthong

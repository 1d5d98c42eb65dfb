#pragma once
// Reading a whole file, the one way the project does it.

#include <optional>
#include <string>

namespace lienthong {

// The file's bytes, as they are; nullopt when it cannot be opened or read.
std::optional<std::string> readFile(const std::string& path);

}  // namespace lienthong

#pragma once
// lienthongctl audit verify|show|checkpoint: the audit chain (core/audit.h), read through
// the running daemon's admin API (given admin credentials) or from the store itself.

#include <string>
#include <vector>

namespace lienthong::ctl {

int auditCommand(const std::vector<std::string>& args);

}  // namespace lienthong::ctl

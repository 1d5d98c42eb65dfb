#pragma once
// lienthongctl sign | verify | certs: the signature code of the steps, offline.

#include <string>
#include <vector>

namespace lienthong::ctl {

int signCommand(const std::vector<std::string>& args);
int verifyCommand(const std::vector<std::string>& args);
int certsCommand(const std::vector<std::string>& args);

}  // namespace lienthong::ctl

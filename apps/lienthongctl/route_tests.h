#pragma once
// `lienthongctl test`: runs the route tests (*_test.yaml beside the routes) offline, with
// every outbound endpoint replaced by a recording fake. docs/route-tests.md has the format.

#include <cstdio>
#include <string>
#include <vector>

#include "core/loader.h"
#include "lienthong/registry.h"

namespace lienthong::ctl {

struct RouteTestTotals {
  std::size_t passed = 0;
  std::size_t failed = 0;
};

// Expands files and directories (searched recursively) into *_test.yaml files, sorted.
std::vector<std::string> routeTestFiles(const std::vector<std::string>& paths,
                                        ConfigErrors& errors);

// Runs every test of the files; prints one line per failure to `out` (file:line: ...).
RouteTestTotals runRouteTests(const Registry& registry, const DaemonConfig& config,
                              const std::vector<std::string>& files, std::FILE* out);

}  // namespace lienthong::ctl

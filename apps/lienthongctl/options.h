#pragma once
// The command line of lienthongctl's commands: --name value (or --name=value), --flag,
// and positional arguments.

#include <map>
#include <set>
#include <string>
#include <vector>

namespace lienthong::ctl {

struct Options {
  std::map<std::string, std::string> values;  // --name value
  std::set<std::string> flags;                // --json
  std::vector<std::string> positional;
  std::string error;  // the first problem: an unknown option, a value missing

  std::string get(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? std::string() : it->second;
  }
};

// `values`: the options that take a value; `flags`: those that do not.
Options parseOptions(const std::vector<std::string>& args, const std::set<std::string>& values,
                     const std::set<std::string>& flags);

}  // namespace lienthong::ctl

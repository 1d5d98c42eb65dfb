#pragma once
// Loads transformation plugins (include/lienthong/plugin.h) and registers each as a step.

#include <memory>
#include <string>
#include <vector>

#include "lienthong/config.h"
#include "lienthong/registry.h"

namespace lienthong {

// The libraries stay loaded for the life of the process (steps and their instances may be
// in use by in-flight messages until then).
class PluginSet {
 public:
  // Loads every library (a directory means every *.so in it) and registers its step.
  // Problems (missing file or symbol, ABI mismatch, duplicate name) are reported at
  // `where` with the library's path; returns false if any.
  bool load(const std::vector<std::string>& paths, Registry& registry, ConfigErrors& errors,
            const SourceLocation& where);
  std::size_t size() const { return handles_.size(); }

 private:
  std::vector<void*> handles_;
};

}  // namespace lienthong

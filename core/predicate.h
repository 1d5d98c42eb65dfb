#pragma once
// XPath 1.0 predicates in which message headers are variables ($Name). Compiled once at
// load; evaluated per message from any thread.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "lienthong/exchange.h"
#include "lienthong/result.h"

namespace lienthong {

class Predicate {
 public:
  struct CompileError {
    std::size_t offset = 0;  // where in the expression the parser stopped
    std::string message;
  };

  // Compiles and trial-evaluates the expression (with every variable empty) so that an
  // unknown function or namespace prefix is found at load, not on the first message.
  static std::optional<Predicate> compile(std::string_view expression,
                                          const std::map<std::string, std::string>& namespaces,
                                          CompileError* error);

  // Thread-safe.
  Result<bool> evaluate(const Exchange& exchange) const;
  const std::string& source() const { return source_; }

 private:
  struct Compiled;
  Predicate() = default;
  std::string source_;
  std::shared_ptr<const Compiled> compiled_;
};

// Must be called once on the main thread before any other libxml2 use.
void initXml();

}  // namespace lienthong

#pragma once
// XPath 1.0 expressions in which message headers are variables ($Name): predicates for
// choice and filter, values for extract, node sets for split. Compiled once at load;
// evaluated per message from any thread.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lienthong/config.h"
#include "lienthong/exchange.h"
#include "lienthong/result.h"

namespace lienthong {

class XPath {
 public:
  struct CompileError {
    std::size_t offset = 0;  // where in the expression the parser stopped
    std::string message;
  };

  // Compiles and trial-evaluates the expression (with every variable empty) so that an
  // unknown function or namespace prefix is found at load, not on the first message.
  static std::optional<XPath> compile(std::string_view expression,
                                      const std::map<std::string, std::string>& namespaces,
                                      CompileError* error);

  // Thread-safe. The context node is the body parsed as XML (once per body, cached on the
  // exchange) when the body looks like XML, else an empty document. A body that looks
  // like XML but does not parse is an InvalidMessage error.
  Result<bool> evaluate(Exchange& exchange) const;
  // The XPath string() of the result (the first node's text for a node-set).
  Result<std::string> evaluateString(Exchange& exchange) const;
  // The selected nodes, each as text: an element as a standalone XML document (with the
  // namespace declarations it needs), any other node as its string value. An expression
  // that does not select nodes is an InvalidMessage.
  Result<std::vector<std::string>> evaluateNodes(Exchange& exchange) const;
  const std::string& source() const { return source_; }

 private:
  struct Compiled;
  struct Evaluated;
  XPath() = default;
  // Evaluates against the body (parsed once per body) or, when the body is not XML and
  // `need_xml` is false, an empty document.
  Result<std::unique_ptr<Evaluated>> evaluateObject(Exchange& exchange, bool need_xml) const;
  std::string source_;
  std::shared_ptr<const Compiled> compiled_;
};

// Must be called once on the main thread before any other libxml2 use.
void initXml();

// Compiles an XPath from a config scalar with the file's namespaces; an error is reported
// at the offending column of the scalar. For factories.
std::optional<XPath> compileXPath(const YAML::Node& node, BuildContext& ctx);

}  // namespace lienthong

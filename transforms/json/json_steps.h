#pragma once
// xml-to-json and json-to-xml: a lossless mapping between XML and JSON (docs/routes.md,
// "XML and JSON"). Namespaces, attributes, element order and mixed content survive a
// round trip; comments and processing instructions are dropped.

#include <string>

#include "lienthong/step.h"

namespace lienthong::transforms::json {

struct XmlToJsonSettings {
  bool keep_whitespace = false;  // keep whitespace-only text between elements
};

class XmlToJsonStep final : public Step {
 public:
  explicit XmlToJsonStep(XmlToJsonSettings s) : s_(s) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  XmlToJsonSettings s_;
};

class JsonToXmlStep final : public Step {
 public:
  Result<StepOutcome> process(Exchange& exchange) override;
};

// The mapping itself, for tests and other steps.
Result<std::string> xmlToJson(Exchange& exchange, bool keep_whitespace);
Result<std::string> jsonToXml(const std::string& json);

}  // namespace lienthong::transforms::json

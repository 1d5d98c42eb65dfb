#pragma once
// XML steps: extract (XPath -> headers), filter (XPath predicate), validate (XSD) and
// transform (XSLT 1.0 + EXSLT). Each works on the exchange's one parsed body
// (core/xml_document.h) and is built from a plain settings struct.

#include <libxml/xmlschemas.h>
#include <libxslt/xsltInternals.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/xpath.h"
#include "lienthong/step.h"
#include "lienthong/template.h"

namespace lienthong::transforms::xml {

struct ExtractSettings {
  std::vector<std::pair<std::string, XPath>> headers;  // header <- XPath string value
};

class ExtractStep final : public Step {
 public:
  explicit ExtractStep(ExtractSettings s) : s_(std::move(s)) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  ExtractSettings s_;
};

// Ends the route (kStop) when the predicate is false.
class FilterStep final : public Step {
 public:
  explicit FilterStep(XPath predicate) : predicate_(std::move(predicate)) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  XPath predicate_;
};

// A compiled XSD, shared read-only by every thread.
class Schema {
 public:
  // Compiles the schema file; on failure returns nullptr and fills `errors` (one per line).
  static std::shared_ptr<const Schema> load(const std::string& path,
                                            std::vector<std::string>& errors);
  ~Schema();
  Schema(const Schema&) = delete;
  Schema& operator=(const Schema&) = delete;
  xmlSchemaPtr get() const { return schema_; }
  const std::string& path() const { return path_; }

 private:
  Schema(xmlSchemaPtr schema, std::string path) : schema_(schema), path_(std::move(path)) {}
  xmlSchemaPtr schema_;
  std::string path_;
};

// Every violation, with its line, goes into the InvalidMessage error.
class ValidateStep final : public Step {
 public:
  explicit ValidateStep(std::shared_ptr<const Schema> schema) : schema_(std::move(schema)) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  std::shared_ptr<const Schema> schema_;
};

// A compiled XSLT stylesheet, shared read-only by every thread.
class Stylesheet {
 public:
  static std::shared_ptr<const Stylesheet> load(const std::string& path,
                                                std::vector<std::string>& errors);
  ~Stylesheet();
  Stylesheet(const Stylesheet&) = delete;
  Stylesheet& operator=(const Stylesheet&) = delete;
  xsltStylesheetPtr get() const { return style_; }
  const std::string& path() const { return path_; }
  // The content type of the output: application/xml, text/html or text/plain.
  const std::string& contentType() const { return content_type_; }

 private:
  Stylesheet(xsltStylesheetPtr style, std::string path);
  xsltStylesheetPtr style_;
  std::string path_;
  std::string content_type_;
};

struct TransformSettings {
  std::shared_ptr<const Stylesheet> stylesheet;
  // Stylesheet parameters (xsl:param), passed as strings.
  std::vector<std::pair<std::string, std::shared_ptr<const Template>>> params;
};

// The result replaces the body. File and network access are forbidden to the stylesheet
// at run time (document(), xsl:result-document, EXSLT writes).
class TransformStep final : public Step {
 public:
  explicit TransformStep(TransformSettings s) : s_(std::move(s)) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  TransformSettings s_;
};

// One message per node the XPath selects (an element becomes a standalone document with
// its namespaces), each run through the nested steps; then the original message goes on.
// Parts carry the original's headers plus split.index (1-based), split.size and
// split.correlation (the original message's id). A part that fails fails the exchange.
class SplitStep final : public Step {
 public:
  SplitStep(XPath xpath, std::vector<std::unique_ptr<Step>> steps)
      : xpath_(std::move(xpath)), steps_(std::move(steps)) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  XPath xpath_;
  std::vector<std::unique_ptr<Step>> steps_;
};

// libxslt and EXSLT set-up; once, on the main thread (called by registerXmlSteps).
void initXslt();

}  // namespace lienthong::transforms::xml

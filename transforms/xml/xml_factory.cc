#include "transforms/xml/xml_factory.h"

#include <yaml-cpp/yaml.h>

#include <optional>

#include "transforms/xml/xml_steps.h"

namespace lienthong::transforms::xml {

namespace {

std::unique_ptr<Step> makeExtract(const YAML::Node& node, BuildContext& ctx) {
  if (!node.IsMap() || node.size() == 0) {
    ctx.error(node, "extract needs a map of header name -> XPath");
    return nullptr;
  }
  ExtractSettings s;
  bool ok = true;
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar() || it->first.Scalar().empty()) {
      ctx.error(it->first, "header names must be plain words");
      ok = false;
      continue;
    }
    auto xpath = compileXPath(it->second, ctx);
    if (!xpath) {
      ok = false;
      continue;
    }
    s.headers.emplace_back(it->first.Scalar(), std::move(*xpath));
  }
  if (!ok) return nullptr;
  return std::make_unique<ExtractStep>(std::move(s));
}

std::unique_ptr<Step> makeFilter(const YAML::Node& node, BuildContext& ctx) {
  auto xpath = compileXPath(node, ctx);
  if (!xpath) return nullptr;
  return std::make_unique<FilterStep>(std::move(*xpath));
}

void reportFileErrors(BuildContext& ctx, const YAML::Node& at, const std::string& path,
                      const std::vector<std::string>& errors) {
  for (const auto& e : errors) ctx.error(at, path + ": " + e);
}

std::unique_ptr<Step> makeValidate(const YAML::Node& node, BuildContext& ctx) {
  MapReader r(node, ctx, "validate step");
  if (!r.valid()) return nullptr;
  std::shared_ptr<const Schema> schema;
  if (const YAML::Node* xsd = r.node("xsd", true)) {
    if (auto path = ctx.path(*xsd, PathKind::kFile)) {
      std::vector<std::string> errors;
      schema = Schema::load(*path, errors);
      if (!schema) reportFileErrors(ctx, *xsd, *path, errors);
    }
  }
  r.finish();
  if (!schema) return nullptr;
  return std::make_unique<ValidateStep>(std::move(schema));
}

std::unique_ptr<Step> makeTransform(const YAML::Node& node, BuildContext& ctx) {
  MapReader r(node, ctx, "transform step");
  if (!r.valid()) return nullptr;
  TransformSettings s;
  bool ok = true;
  if (const YAML::Node* xslt = r.node("xslt", true)) {
    if (auto path = ctx.path(*xslt, PathKind::kFile)) {
      std::vector<std::string> errors;
      s.stylesheet = Stylesheet::load(*path, errors);
      if (!s.stylesheet) reportFileErrors(ctx, *xslt, *path, errors);
    }
  }
  if (const YAML::Node* params = r.node("params")) {
    if (!params->IsMap()) {
      ctx.error(*params, "'params' must be a map of parameter name -> template");
      ok = false;
    } else {
      for (auto it = params->begin(); it != params->end(); ++it) {
        auto t = ctx.compileTemplate(it->second);
        if (!it->first.IsScalar() || !t) {
          if (!it->first.IsScalar()) ctx.error(it->first, "parameter names must be plain words");
          ok = false;
          continue;
        }
        s.params.emplace_back(it->first.Scalar(), std::move(t));
      }
    }
  }
  r.finish();
  if (!s.stylesheet || !ok) return nullptr;
  return std::make_unique<TransformStep>(std::move(s));
}

std::unique_ptr<Step> makeSplit(const YAML::Node& node, BuildContext& ctx) {
  MapReader r(node, ctx, "split step");
  if (!r.valid()) return nullptr;
  std::optional<XPath> xpath;
  std::optional<std::vector<std::unique_ptr<Step>>> steps;
  if (const YAML::Node* x = r.node("xpath", true)) xpath = compileXPath(*x, ctx);
  if (const YAML::Node* st = r.node("steps", true)) steps = ctx.steps(*st);
  r.finish();
  if (!xpath || !steps) return nullptr;
  return std::make_unique<SplitStep>(std::move(*xpath), std::move(*steps));
}

}  // namespace

void registerXmlSteps(Registry& registry) {
  initXslt();
  (void)registry.addStep("extract", makeExtract);
  (void)registry.addStep("filter", makeFilter);
  (void)registry.addStep("validate", makeValidate);
  (void)registry.addStep("transform", makeTransform);
  (void)registry.addStep("split", makeSplit);
}

}  // namespace lienthong::transforms::xml

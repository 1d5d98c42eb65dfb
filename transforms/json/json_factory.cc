#include "transforms/json/json_factory.h"

#include <yaml-cpp/yaml.h>

#include "transforms/json/json_steps.h"

namespace lienthong::transforms::json {

void registerJsonSteps(Registry& registry) {
  (void)registry.addStep("xml-to-json", [](const YAML::Node& node, BuildContext& ctx) {
    MapReader r(node, ctx, "xml-to-json step");
    if (!r.valid()) return std::unique_ptr<Step>();
    XmlToJsonSettings s;
    if (auto ws = r.oneOf("whitespace", {"drop", "keep"})) s.keep_whitespace = *ws == "keep";
    r.finish();
    return std::unique_ptr<Step>(std::make_unique<XmlToJsonStep>(s));
  });
  (void)registry.addStep("json-to-xml", [](const YAML::Node& node, BuildContext& ctx) {
    MapReader r(node, ctx, "json-to-xml step");
    if (!r.valid()) return std::unique_ptr<Step>();
    r.finish();
    return std::unique_ptr<Step>(std::make_unique<JsonToXmlStep>());
  });
}

}  // namespace lienthong::transforms::json

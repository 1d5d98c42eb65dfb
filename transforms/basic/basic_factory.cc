#include "transforms/basic/basic_factory.h"

#include <yaml-cpp/yaml.h>

#include <libxml/tree.h>

#include <charconv>

#include "core/files.h"
#include "transforms/basic/aggregate.h"
#include "transforms/basic/basic_steps.h"

namespace lienthong::transforms::basic {

namespace {

std::unique_ptr<Step> makeLog(const YAML::Node& node, BuildContext& ctx) {
  LogSettings s;
  if (node.IsScalar()) {
    s.message = ctx.compileTemplate(node);
  } else {
    MapReader r(node, ctx, "log step");
    if (!r.valid()) return nullptr;
    s.message = r.templ("message", true);
    if (auto level = r.oneOf("level", {"debug", "info", "warn", "error"})) {
      log::parseLevel(*level, &s.level);
    }
    r.finish();
  }
  if (!s.message) return nullptr;
  return std::make_unique<LogStep>(std::move(s));
}

std::unique_ptr<Step> makeSetHeader(const YAML::Node& node, BuildContext& ctx) {
  if (!node.IsMap() || node.size() == 0) {
    ctx.error(node, "set-header needs a map of header name -> template");
    return nullptr;
  }
  SetHeaderSettings s;
  bool ok = true;
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar() || it->first.Scalar().empty()) {
      ctx.error(it->first, "header names must be plain words");
      ok = false;
      continue;
    }
    auto t = ctx.compileTemplate(it->second);
    if (!t) {
      ok = false;
      continue;
    }
    s.headers.emplace_back(it->first.Scalar(), std::move(t));
  }
  if (!ok) return nullptr;
  return std::make_unique<SetHeaderStep>(std::move(s));
}

std::unique_ptr<Step> makeRemoveHeader(const YAML::Node& node, BuildContext& ctx) {
  RemoveHeaderSettings s;
  if (node.IsScalar()) {
    s.names.push_back(node.Scalar());
  } else if (node.IsSequence() && node.size() > 0) {
    for (const auto& item : node) {
      if (!item.IsScalar()) {
        ctx.error(item, "remove-header takes header names");
        return nullptr;
      }
      s.names.push_back(item.Scalar());
    }
  } else {
    ctx.error(node, "remove-header needs a header name or a list of them");
    return nullptr;
  }
  return std::make_unique<RemoveHeaderStep>(std::move(s));
}

// read-file: { dir: path, name: template, content-type: text }
std::unique_ptr<Step> makeReadFile(const YAML::Node& node, BuildContext& ctx) {
  const std::size_t before = ctx.errors().size();
  MapReader r(node, ctx, "read-file step");
  if (!r.valid()) return nullptr;
  ReadFileSettings s;
  if (const YAML::Node* d = r.node("dir", true)) {
    if (auto p = ctx.path(*d, PathKind::kCreateDirectory)) s.dir = *p;
  }
  s.name = r.templ("name", true);
  if (auto v = r.string("content-type")) s.content_type = *v;
  r.finish();
  if (ctx.errors().size() != before || !s.name) return nullptr;
  return std::make_unique<ReadFileStep>(std::move(s));
}

std::unique_ptr<Step> makeSetBody(const YAML::Node& node, BuildContext& ctx) {
  MapReader r(node, ctx, "set-body step");
  if (!r.valid()) return nullptr;
  SetBodySettings s;
  bool has_template = r.has("template");
  bool has_file = r.has("file");
  if (has_template == has_file) {
    ctx.error(node, "set-body needs exactly one of 'template' or 'file'");
  }
  if (has_template) s.body = r.templ("template");
  if (const YAML::Node* f = r.node("file")) {
    if (auto path = ctx.path(*f, PathKind::kFile)) {
      auto text = readFile(*path);
      if (!text) {
        ctx.error(*f, "cannot read " + *path);
        return nullptr;
      }
      TemplateError te;
      auto t = Template::compile(*text, &te);
      if (!t) {
        // Line and column of the offset within the template file.
        const std::string& all = *text;
        int line = 1;
        int column = 1;
        for (std::size_t i = 0; i < te.offset && i < all.size(); ++i) {
          if (all[i] == '\n') {
            ++line;
            column = 1;
          } else {
            ++column;
          }
        }
        ctx.errors().add({*path, line, column}, te.message);
      } else {
        s.body = std::make_shared<const Template>(std::move(*t));
      }
    }
  }
  if (auto ct = r.string("content-type")) s.content_type = *ct;
  r.finish();
  if (!s.body || has_template == has_file) return nullptr;
  return std::make_unique<SetBodyStep>(std::move(s));
}

std::unique_ptr<Step> makeChoice(const YAML::Node& node, BuildContext& ctx) {
  if (!node.IsSequence() || node.size() == 0) {
    ctx.error(node, "choice needs a list of { when: xpath, steps: [...] } branches");
    return nullptr;
  }
  std::vector<ChoiceBranch> branches;
  bool ok = true;
  bool seen_otherwise = false;
  for (const auto& item : node) {
    MapReader r(item, ctx, "choice branch");
    if (!r.valid()) {
      ok = false;
      continue;
    }
    ChoiceBranch branch;
    bool is_when = r.has("when");
    bool is_otherwise = r.has("otherwise");
    if (is_when == is_otherwise) {
      ctx.error(item, "a choice branch needs exactly one of 'when' or 'otherwise'");
      ok = false;
    }
    if (seen_otherwise) {
      ctx.error(item, "'otherwise' must be the last branch of a choice");
      ok = false;
    }
    if (const YAML::Node* w = r.node("when")) {
      branch.when = compileXPath(*w, ctx);
      if (!branch.when) ok = false;
    }
    if (const YAML::Node* o = r.node("otherwise")) {
      seen_otherwise = true;
      if (!o->IsNull()) {
        ctx.error(*o, "'otherwise' takes no value; put its steps under 'steps'");
        ok = false;
      }
    }
    if (const YAML::Node* steps = r.node("steps", true)) {
      auto built = ctx.steps(*steps);
      if (built)
        branch.steps = std::move(*built);
      else
        ok = false;
    } else {
      ok = false;
    }
    r.finish();
    branches.push_back(std::move(branch));
  }
  if (!ok) return nullptr;
  return std::make_unique<ChoiceStep>(std::move(branches));
}

std::unique_ptr<Step> makeTo(const YAML::Node& node, BuildContext& ctx) {
  auto endpoint = ctx.outbound(node);
  if (!endpoint) return nullptr;
  return std::make_unique<ToStep>(std::move(endpoint));
}

std::unique_ptr<Step> makeAggregate(const YAML::Node& node, BuildContext& ctx) {
  MapReader r(node, ctx, "aggregate step");
  if (!r.valid()) return nullptr;
  bool ok = true;
  if (ctx.pattern() != ExchangePattern::kOneWay) {
    ctx.error(node,
              "aggregate needs a one-way route: a request-reply caller cannot wait "
              "for other messages");
    ok = false;
  }
  if (ctx.depth() != 0) {
    ctx.error(node, "aggregate must be a top-level step of its route, not nested");
    ok = false;
  }
  AggregateSettings s;
  s.key = r.templ("key", true);
  if (!s.key) ok = false;
  if (const YAML::Node* size = r.node("size")) {
    std::size_t n = 0;
    const std::string text = size->IsScalar() ? size->Scalar() : std::string();
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (!text.empty() && ec == std::errc() && end == text.data() + text.size()) {
      if (n < 1 || n > 1'000'000) {
        ctx.error(*size, "size must be between 1 and 1000000");
        ok = false;
      }
      s.size = n;
    } else if (text.find("${") == std::string::npos) {
      ctx.error(*size, "size must be a number from 1 to 1000000 or a template (${split.size})");
      ok = false;
    } else if (!(s.size_from = ctx.compileTemplate(*size))) {
      ok = false;
    }
  }
  if (auto t = r.duration("timeout", true)) {
    s.timeout = *t;
  } else {
    ok = false;
  }
  if (r.has("order") && !(s.order = r.templ("order"))) ok = false;
  if (auto c = r.oneOf("combine", {"xml", "concat"})) {
    s.combine =
        *c == "xml" ? AggregateSettings::Combine::kXml : AggregateSettings::Combine::kConcat;
  }
  if (const YAML::Node* e = r.node("element")) {
    const std::string qname = e->IsScalar() ? e->Scalar() : std::string();
    auto colon = qname.find(':');
    s.element = colon == std::string::npos ? qname : qname.substr(colon + 1);
    if (colon != std::string::npos) {
      s.prefix = qname.substr(0, colon);
      auto ns = ctx.namespaces().find(s.prefix);
      if (ns == ctx.namespaces().end()) {
        ctx.error(*e, "prefix '" + s.prefix + "' is not declared in the file's namespaces");
        ok = false;
      } else {
        s.ns = ns->second;
      }
    }
    auto ncname = [](const std::string& n) {
      return xmlValidateNCName(reinterpret_cast<const xmlChar*>(n.c_str()), 0) == 0;
    };
    if (!ncname(s.element) || (colon != std::string::npos && !ncname(s.prefix))) {
      ctx.error(*e, "element must be an XML name, optionally prefixed (tt:DanhSach)");
      ok = false;
    }
    if (s.combine != AggregateSettings::Combine::kXml) {
      ctx.error(*e, "element is for combine: xml");
      ok = false;
    }
  }
  if (const YAML::Node* sep = r.node("separator")) {
    if (s.combine != AggregateSettings::Combine::kConcat) {
      ctx.error(*sep, "separator is for combine: concat");
      ok = false;
    }
    if (auto v = r.string("separator")) s.separator = *v;
  }
  if (auto m = r.integer("max-groups", 1, 10'000'000)) s.max_groups = static_cast<std::size_t>(*m);
  r.finish();
  if (!ok) return nullptr;
  return std::make_unique<AggregateStep>(std::move(s));
}

}  // namespace

void registerBasicSteps(Registry& registry) {
  (void)registry.addStep("log", makeLog);
  (void)registry.addStep("set-header", makeSetHeader);
  (void)registry.addStep("remove-header", makeRemoveHeader);
  (void)registry.addStep("set-body", makeSetBody);
  (void)registry.addStep("read-file", makeReadFile);
  (void)registry.addStep("choice", makeChoice);
  (void)registry.addStep("to", makeTo);
  (void)registry.addStep("aggregate", makeAggregate);
}

}  // namespace lienthong::transforms::basic

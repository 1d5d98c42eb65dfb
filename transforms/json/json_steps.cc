#include "transforms/json/json_steps.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <libxml/tree.h>

#include <cstdio>

#include "core/json_text.h"
#include "core/xml_document.h"

namespace lienthong::transforms::json {

namespace {

std::string qname(const xmlChar* prefix, const xmlChar* name) {
  std::string out;
  if (prefix) {
    out = reinterpret_cast<const char*>(prefix);
    out += ':';
  }
  out += reinterpret_cast<const char*>(name);
  return out;
}

bool whitespaceOnly(const xmlChar* s) {
  for (; s && *s; ++s) {
    if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') return false;
  }
  return true;
}

void writeElement(std::string& out, xmlNodePtr e, bool keep_whitespace) {
  out += '{';
  appendJsonString(out, qname(e->ns ? e->ns->prefix : nullptr, e->name).c_str());
  out += ':';
  // Children that count: elements and text (whitespace between elements dropped unless kept).
  bool has_elements = false;
  for (xmlNodePtr c = e->children; c; c = c->next) has_elements |= c->type == XML_ELEMENT_NODE;
  // Adjacent text and CDATA nodes are one string: the infoset has no boundary between them.
  struct Kid {
    xmlNodePtr element = nullptr;
    std::string text;
  };
  std::vector<Kid> kids;
  for (xmlNodePtr c = e->children; c; c = c->next) {
    if (c->type == XML_ELEMENT_NODE) {
      kids.push_back({c, {}});
    } else if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
      if (has_elements && !keep_whitespace && whitespaceOnly(c->content)) continue;
      if (kids.empty() || kids.back().element) kids.push_back({nullptr, {}});
      kids.back().text += reinterpret_cast<const char*>(c->content);
    }
  }
  const bool plain = e->nsDef == nullptr && e->properties == nullptr &&
                     (kids.empty() || (kids.size() == 1 && !kids[0].element));
  if (plain) {
    appendJsonString(out, kids.empty() ? "" : kids[0].text.c_str());
    out += '}';
    return;
  }
  out += '{';
  bool first = true;
  auto comma = [&] {
    if (!first) out += ',';
    first = false;
  };
  for (xmlNsPtr ns = e->nsDef; ns; ns = ns->next) {
    comma();
    std::string key = "@xmlns";
    if (ns->prefix) key += ":" + std::string(reinterpret_cast<const char*>(ns->prefix));
    appendJsonString(out, key.c_str());
    out += ':';
    appendJsonString(out, reinterpret_cast<const char*>(ns->href));
  }
  for (xmlAttrPtr a = e->properties; a; a = a->next) {
    comma();
    appendJsonString(out, ("@" + qname(a->ns ? a->ns->prefix : nullptr, a->name)).c_str());
    out += ':';
    xmlChar* v = xmlNodeListGetString(e->doc, a->children, 1);
    appendJsonString(out, v ? reinterpret_cast<const char*>(v) : "");
    xmlFree(v);
  }
  if (!kids.empty()) {
    comma();
    out += "\"#\":[";
    for (std::size_t i = 0; i < kids.size(); ++i) {
      if (i) out += ',';
      if (kids[i].element) {
        writeElement(out, kids[i].element, keep_whitespace);
      } else {
        appendJsonString(out, kids[i].text.c_str());
      }
    }
    out += ']';
  }
  out += "}}";
}

bool validName(const std::string& n) {
  if (n.empty()) return false;
  for (char c : n) {
    if (c == '<' || c == '>' || c == '&' || c == '"' || c == '\'' || c == ' ' || c == '/' ||
        c == '=' || c == '\t' || c == '\n') {
      return false;
    }
  }
  return true;
}

// Writes one {"name": value} element; false with `error` set on a shape error.
bool writeXml(std::string& out, const Poco::Dynamic::Var& v, const std::string& where,
              std::string& error) {
  if (v.type() != typeid(Poco::JSON::Object::Ptr)) {
    error = where + ": an element must be an object with one key, the element's name";
    return false;
  }
  auto obj = v.extract<Poco::JSON::Object::Ptr>();
  if (obj->size() != 1) {
    error = where + ": an element object must have exactly one key, found " +
            std::to_string(obj->size());
    return false;
  }
  const std::string name = obj->begin()->first;
  if (!validName(name)) {
    error = where + ": '" + name + "' is not an element name";
    return false;
  }
  const Poco::Dynamic::Var& value = obj->begin()->second;
  const std::string here = where + "/" + name;
  out += '<' + name;
  if (value.isEmpty()) {
    out += "/>";
    return true;
  }
  if (value.isString() || value.isNumeric() || value.isBoolean()) {
    out += '>';
    appendXmlEscaped(out, value.convert<std::string>(), false);
    out += "</" + name + '>';
    return true;
  }
  if (value.type() != typeid(Poco::JSON::Object::Ptr)) {
    error = here + ": the value must be a string or an object of @attributes and '#'";
    return false;
  }
  auto body = value.extract<Poco::JSON::Object::Ptr>();
  Poco::JSON::Array::Ptr children;
  for (const auto& [key, item] : *body) {
    if (key == "#") {
      if (item.type() != typeid(Poco::JSON::Array::Ptr)) {
        error = here + ": '#' must be an array of children";
        return false;
      }
      children = item.extract<Poco::JSON::Array::Ptr>();
      continue;
    }
    if (key.size() < 2 || key[0] != '@' || !validName(key.substr(1))) {
      error =
          here + ": unexpected key '" + key + "' (attributes start with '@', children go in '#')";
      return false;
    }
    out += ' ' + key.substr(1) + "=\"";
    appendXmlEscaped(out, item.isEmpty() ? std::string() : item.convert<std::string>(), true);
    out += '"';
  }
  if (!children || children->size() == 0) {
    out += "/>";
    return true;
  }
  out += '>';
  for (std::size_t i = 0; i < children->size(); ++i) {
    const Poco::Dynamic::Var child = children->get(static_cast<unsigned>(i));
    if (child.isString()) {
      appendXmlEscaped(out, child.convert<std::string>(), false);
    } else if (!writeXml(out, child, here + "[" + std::to_string(i) + "]", error)) {
      return false;
    }
  }
  out += "</" + name + '>';
  return true;
}

}  // namespace

Result<std::string> xmlToJson(Exchange& exchange, bool keep_whitespace) {
  auto doc = xmlOf(exchange);
  if (!doc.ok()) return doc.error();
  std::string out;
  writeElement(out, (*doc)->root(), keep_whitespace);
  return out;
}

Result<std::string> jsonToXml(const std::string& json) {
  Poco::Dynamic::Var root;
  try {
    Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(true));
    root = parser.parse(json);
  } catch (const Poco::Exception& e) {
    return Error(ErrorCode::kInvalidMessage, "not JSON: " + e.displayText());
  }
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  std::string error;
  if (!writeXml(out, root, "", error)) {
    return Error(ErrorCode::kInvalidMessage, "JSON is not in the XML mapping: " + error);
  }
  out += '\n';
  // The result must be well-formed and namespace-correct (undeclared prefixes, bad names).
  auto check = XmlDocument::parse(out);
  if (!check.ok()) {
    return Error(ErrorCode::kInvalidMessage,
                 "JSON does not make well-formed XML: " + check.error().message);
  }
  return out;
}

Result<StepOutcome> XmlToJsonStep::process(Exchange& exchange) {
  auto json = xmlToJson(exchange, s_.keep_whitespace);
  if (!json.ok()) return json.error();
  exchange.message().setBody(std::move(*json));
  exchange.message().setContentType("application/json");
  return StepOutcome::kContinue;
}

Result<StepOutcome> JsonToXmlStep::process(Exchange& exchange) {
  auto xml = jsonToXml(exchange.message().body());
  if (!xml.ok()) return xml.error();
  exchange.message().setBody(std::move(*xml));
  exchange.message().setContentType("application/xml");
  return StepOutcome::kContinue;
}

}  // namespace lienthong::transforms::json

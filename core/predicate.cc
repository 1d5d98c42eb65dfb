#include "core/predicate.h"

#include "core/xml_document.h"

#include <yaml-cpp/yaml.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include <mutex>

namespace lienthong {

void initXml() {
  static std::once_flag once;
  std::call_once(once, [] { xmlInitParser(); });
}

struct Predicate::Compiled {
  xmlXPathCompExprPtr expr = nullptr;
  std::map<std::string, std::string> namespaces;
  ~Compiled() {
    if (expr) xmlXPathFreeCompExpr(expr);
  }
};

namespace {

const xmlChar* xmlStr(const char* s) { return reinterpret_cast<const xmlChar*>(s); }

struct ErrorCapture {
  bool failed = false;
  std::string message;
  int offset = -1;
};

// libxml2 keeps its XPath messages private and leaves xmlError.message empty for errors
// raised through a context: the same texts, by xmlXPathError code.
const char* xpathMessage(int code) {
  static constexpr const char* kMessages[] = {"Ok",
                                              "Number encoding",
                                              "Unfinished literal",
                                              "Start of literal",
                                              "Expected $ for variable reference",
                                              "Undefined variable",
                                              "Invalid predicate",
                                              "Invalid expression",
                                              "Missing closing curly brace",
                                              "Unregistered function",
                                              "Invalid operand",
                                              "Invalid type",
                                              "Invalid number of arguments",
                                              "Invalid context size",
                                              "Invalid context position",
                                              "Memory allocation error",
                                              "Syntax error",
                                              "Resource error",
                                              "Sub resource error",
                                              "Undefined namespace prefix",
                                              "Encoding error",
                                              "Char out of XML range",
                                              "Invalid or incomplete context",
                                              "Stack usage error",
                                              "Forbidden variable"};
  int i = code - XML_XPATH_EXPRESSION_OK;
  if (i < 0 || i >= static_cast<int>(sizeof kMessages / sizeof kMessages[0])) return "XPath error";
  return kMessages[i];
}

void captureError(void* data, xmlErrorPtr error) {
  auto* capture = static_cast<ErrorCapture*>(data);
  if (capture->failed || !error) return;
  capture->failed = true;
  capture->message = error->message ? error->message : xpathMessage(error->code);
  while (!capture->message.empty() &&
         (capture->message.back() == '\n' || capture->message.back() == ' ')) {
    capture->message.pop_back();
  }
  capture->offset = error->int1;
}

// An empty document as the context node until messages carry a parsed body.
xmlDocPtr emptyDocument() {
  thread_local struct Holder {
    xmlDocPtr doc = xmlNewDoc(xmlStr("1.0"));
    ~Holder() { xmlFreeDoc(doc); }
  } holder;
  return holder.doc;
}

struct Variables {
  const Message* message = nullptr;  // nullptr: every variable is the empty string
};

xmlXPathObjectPtr lookupVariable(void* data, const xmlChar* name, const xmlChar* ns_uri) {
  auto* vars = static_cast<Variables*>(data);
  if (ns_uri != nullptr || vars->message == nullptr) return xmlXPathNewCString("");
  const std::string* v = vars->message->header(reinterpret_cast<const char*>(name));
  return xmlXPathNewCString(v ? v->c_str() : "");
}

struct Context {
  xmlXPathContextPtr ctx;
  explicit Context(xmlDocPtr doc) : ctx(xmlXPathNewContext(doc)) {}
  ~Context() { xmlXPathFreeContext(ctx); }
};

// Evaluates with a fresh context; returns 1/0, or -1 with the capture filled. With
// `as_string`, the string value goes there instead.
int evaluateWith(xmlDocPtr doc, xmlXPathCompExprPtr expr,
                 const std::map<std::string, std::string>& namespaces, Variables& vars,
                 ErrorCapture& capture, std::string* as_string = nullptr) {
  Context c(doc);
  if (!c.ctx) {
    capture.failed = true;
    capture.message = "out of memory";
    return -1;
  }
  c.ctx->error = captureError;
  c.ctx->userData = &capture;
  for (const auto& [prefix, uri] : namespaces) {
    xmlXPathRegisterNs(c.ctx, xmlStr(prefix.c_str()), xmlStr(uri.c_str()));
  }
  xmlXPathRegisterVariableLookup(c.ctx, lookupVariable, &vars);
  if (as_string) {
    xmlXPathObjectPtr value = xmlXPathCompiledEval(expr, c.ctx);
    if (value) {
      xmlChar* text = xmlXPathCastToString(value);
      if (text) as_string->assign(reinterpret_cast<const char*>(text));
      xmlFree(text);
      xmlXPathFreeObject(value);
    } else if (!capture.failed) {
      capture.failed = true;
      capture.message = "XPath evaluation failed";
    }
    return capture.failed ? -1 : 1;
  }
  int r = xmlXPathCompiledEvalToBoolean(expr, c.ctx);
  if (r < 0 && !capture.failed) {
    capture.failed = true;
    capture.message = "XPath evaluation failed";
  }
  return capture.failed ? -1 : r;
}

}  // namespace

std::optional<Predicate> Predicate::compile(std::string_view expression,
                                            const std::map<std::string, std::string>& namespaces,
                                            CompileError* error) {
  initXml();
  std::string text(expression);
  auto compiled = std::make_shared<Compiled>();
  compiled->namespaces = namespaces;
  ErrorCapture capture;
  {
    Context c(emptyDocument());
    c.ctx->error = captureError;
    c.ctx->userData = &capture;
    compiled->expr = xmlXPathCtxtCompile(c.ctx, xmlStr(text.c_str()));
  }
  if (!compiled->expr || capture.failed) {
    if (error) {
      error->message = capture.failed ? capture.message : "invalid XPath expression";
      error->offset = capture.offset >= 0 ? static_cast<std::size_t>(capture.offset) : 0;
    }
    return std::nullopt;
  }
  Variables none;
  ErrorCapture trial;
  if (evaluateWith(emptyDocument(), compiled->expr, namespaces, none, trial) < 0) {
    if (error) {
      error->message = trial.message;
      error->offset = 0;
    }
    return std::nullopt;
  }
  Predicate p;
  p.source_ = std::move(text);
  p.compiled_ = std::move(compiled);
  return p;
}

Result<bool> Predicate::evaluate(Exchange& exchange) const { return run(exchange, nullptr); }

Result<std::string> Predicate::evaluateString(Exchange& exchange) const {
  std::string out;
  Result<bool> r = run(exchange, &out);
  if (!r.ok()) return r.error();
  return out;
}

Result<std::vector<std::string>> Predicate::evaluateNodes(Exchange& exchange) const {
  if (!looksLikeXml(exchange.message().body())) {
    return Error(ErrorCode::kInvalidMessage, "XPath '" + source_ + "' needs an XML body");
  }
  auto parsed = xmlOf(exchange);
  if (!parsed.ok()) return parsed.error();
  std::shared_ptr<const XmlDocument> body = *parsed;
  Variables vars{&exchange.message()};
  ErrorCapture capture;
  Context c(body->doc());
  if (!c.ctx) return Error(ErrorCode::kInternal, "out of memory");
  c.ctx->error = captureError;
  c.ctx->userData = &capture;
  for (const auto& [prefix, uri] : compiled_->namespaces) {
    xmlXPathRegisterNs(c.ctx, xmlStr(prefix.c_str()), xmlStr(uri.c_str()));
  }
  xmlXPathRegisterVariableLookup(c.ctx, lookupVariable, &vars);
  xmlXPathObjectPtr value = xmlXPathCompiledEval(compiled_->expr, c.ctx);
  if (!value || capture.failed) {
    if (value) xmlXPathFreeObject(value);
    return Error(ErrorCode::kInvalidMessage, "XPath '" + source_ + "' failed: " +
                                                 (capture.failed ? capture.message : "no result"));
  }
  if (value->type != XPATH_NODESET) {
    xmlXPathFreeObject(value);
    return Error(ErrorCode::kInvalidMessage, "XPath '" + source_ + "' does not select nodes");
  }
  std::vector<std::string> out;
  const int count = value->nodesetval ? value->nodesetval->nodeNr : 0;
  for (int i = 0; i < count; ++i) {
    xmlNodePtr node = value->nodesetval->nodeTab[i];
    if (node->type == XML_ELEMENT_NODE) {
      xmlDocPtr part = xmlNewDoc(xmlStr("1.0"));
      xmlNodePtr copy = xmlDocCopyNode(node, part, 1);
      xmlDocSetRootElement(part, copy);
      xmlReconciliateNs(part, copy);  // declares the namespaces the copy uses
      out.push_back(serializeXml(part));
      xmlFreeDoc(part);
    } else {
      xmlChar* text = xmlNodeGetContent(node);
      out.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
      xmlFree(text);
    }
  }
  xmlXPathFreeObject(value);
  return out;
}

Result<bool> Predicate::run(Exchange& exchange, std::string* as_string) const {
  Variables vars{&exchange.message()};
  ErrorCapture capture;
  xmlDocPtr doc = emptyDocument();
  std::shared_ptr<const XmlDocument> body;
  if (looksLikeXml(exchange.message().body())) {
    auto parsed = xmlOf(exchange);
    if (!parsed.ok()) return parsed.error();
    body = *parsed;
    doc = body->doc();
  }
  int r = evaluateWith(doc, compiled_->expr, compiled_->namespaces, vars, capture, as_string);
  if (r < 0) {
    return makeError(ErrorCode::kInvalidMessage,
                     "XPath '" + source_ + "' failed: " + capture.message);
  }
  return r == 1;
}

std::optional<Predicate> compileXPath(const YAML::Node& node, BuildContext& ctx) {
  if (!node.IsScalar() || node.Scalar().empty()) {
    ctx.error(node, "expected an XPath expression");
    return std::nullopt;
  }
  Predicate::CompileError err;
  auto p = Predicate::compile(node.Scalar(), ctx.namespaces(), &err);
  if (!p) {
    SourceLocation loc = locationOf(ctx.file(), node);
    if (node.Scalar().find('\n') == std::string::npos) {
      loc.column += static_cast<int>(err.offset + (node.Tag() == "!" ? 1 : 0));
    }
    ctx.errors().add(loc, "XPath: " + err.message + " in '" + node.Scalar() + "'");
  }
  return p;
}

}  // namespace lienthong

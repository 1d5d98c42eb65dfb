#include "core/xpath.h"

#include "core/xml_document.h"
#include "core/xmldsig.h"

#include <yaml-cpp/yaml.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include <mutex>

namespace lienthong {

void initXml() {
  static std::once_flag once;
  std::call_once(once, [] {
    xmlInitParser();
    xmldsig::init();  // xmlsec after libxml2, on the same (main) thread
  });
}

struct XPath::Compiled {
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

// An XPath context over `doc`: the file's namespaces, the message's headers as variables
// (none: every variable is empty), and errors captured instead of printed.
class Context {
 public:
  Context(xmlDocPtr doc, const std::map<std::string, std::string>& namespaces,
          const Message* message)
      : ctx_(xmlXPathNewContext(doc)), vars_{message} {
    if (!ctx_) return;
    ctx_->error = captureError;
    ctx_->userData = &capture_;
    for (const auto& [prefix, uri] : namespaces) {
      xmlXPathRegisterNs(ctx_, xmlStr(prefix.c_str()), xmlStr(uri.c_str()));
    }
    xmlXPathRegisterVariableLookup(ctx_, lookupVariable, &vars_);
  }
  ~Context() {
    if (ctx_) xmlXPathFreeContext(ctx_);
  }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  xmlXPathContextPtr get() const { return ctx_; }
  const ErrorCapture& capture() const { return capture_; }

  // Evaluates; nullptr with capture() filled on failure. The caller frees the result.
  xmlXPathObjectPtr evaluate(xmlXPathCompExprPtr expr) {
    if (!ctx_) {
      capture_.failed = true;
      capture_.message = "out of memory";
      return nullptr;
    }
    xmlXPathObjectPtr value = xmlXPathCompiledEval(expr, ctx_);
    if (value && capture_.failed) {
      xmlXPathFreeObject(value);
      value = nullptr;
    }
    if (!value && !capture_.failed) {
      capture_.failed = true;
      capture_.message = "XPath evaluation failed";
    }
    return value;
  }

 private:
  xmlXPathContextPtr ctx_;
  ErrorCapture capture_;
  Variables vars_;
};

}  // namespace

// One evaluation's result, with the parsed body its nodes point into.
struct XPath::Evaluated {
  std::shared_ptr<const XmlDocument> body;
  xmlXPathObjectPtr value = nullptr;
  ~Evaluated() {
    if (value) xmlXPathFreeObject(value);
  }
};

std::optional<XPath> XPath::compile(std::string_view expression,
                                    const std::map<std::string, std::string>& namespaces,
                                    CompileError* error) {
  initXml();
  std::string text(expression);
  auto compiled = std::make_shared<Compiled>();
  compiled->namespaces = namespaces;
  auto fail = [&](const ErrorCapture& capture, const char* fallback) {
    if (error) {
      error->message = capture.failed ? capture.message : fallback;
      error->offset = capture.offset >= 0 ? static_cast<std::size_t>(capture.offset) : 0;
    }
    return std::nullopt;
  };
  {
    Context c(emptyDocument(), {}, nullptr);
    compiled->expr = xmlXPathCtxtCompile(c.get(), xmlStr(text.c_str()));
    if (!compiled->expr || c.capture().failed) return fail(c.capture(), "invalid XPath expression");
  }
  {
    // A trial run finds unknown functions and undeclared prefixes at load.
    Context trial(emptyDocument(), namespaces, nullptr);
    xmlXPathObjectPtr value = trial.evaluate(compiled->expr);
    if (!value) {
      ErrorCapture at_start = trial.capture();
      at_start.offset = 0;
      return fail(at_start, "XPath evaluation failed");
    }
    xmlXPathFreeObject(value);
  }
  XPath p;
  p.source_ = std::move(text);
  p.compiled_ = std::move(compiled);
  return p;
}

Result<std::unique_ptr<XPath::Evaluated>> XPath::evaluateObject(Exchange& exchange,
                                                                bool need_xml) const {
  auto result = std::make_unique<Evaluated>();
  xmlDocPtr doc = emptyDocument();
  if (looksLikeXml(exchange.message().body())) {
    auto parsed = xmlOf(exchange);
    if (!parsed.ok()) return parsed.error();
    result->body = *parsed;
    doc = result->body->doc();
  } else if (need_xml) {
    return Error(ErrorCode::kInvalidMessage, "XPath '" + source_ + "' needs an XML body");
  }
  Context c(doc, compiled_->namespaces, &exchange.message());
  result->value = c.evaluate(compiled_->expr);
  if (!result->value) {
    return Error(ErrorCode::kInvalidMessage,
                 "XPath '" + source_ + "' failed: " + c.capture().message);
  }
  return result;
}

Result<bool> XPath::evaluate(Exchange& exchange) const {
  auto r = evaluateObject(exchange, false);
  if (!r.ok()) return r.error();
  return xmlXPathCastToBoolean((*r)->value) == 1;
}

Result<std::string> XPath::evaluateString(Exchange& exchange) const {
  auto r = evaluateObject(exchange, false);
  if (!r.ok()) return r.error();
  xmlChar* text = xmlXPathCastToString((*r)->value);
  std::string out = text ? reinterpret_cast<const char*>(text) : "";
  xmlFree(text);
  return out;
}

Result<std::vector<std::string>> XPath::evaluateNodes(Exchange& exchange) const {
  auto r = evaluateObject(exchange, true);
  if (!r.ok()) return r.error();
  xmlXPathObjectPtr value = (*r)->value;
  if (value->type != XPATH_NODESET) {
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
  return out;
}

std::optional<XPath> compileXPath(const YAML::Node& node, BuildContext& ctx) {
  if (!node.IsScalar() || node.Scalar().empty()) {
    ctx.error(node, "expected an XPath expression");
    return std::nullopt;
  }
  XPath::CompileError err;
  auto p = XPath::compile(node.Scalar(), ctx.namespaces(), &err);
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

#include "transforms/xml/xml_steps.h"

#include <libexslt/exslt.h>
#include <libxslt/security.h>
#include <libxslt/transform.h>
#include <libxslt/variables.h>
#include <libxslt/xsltutils.h>

#include <cstdarg>
#include <cstdio>
#include <mutex>

#include "core/engine.h"
#include "core/xml_document.h"

namespace lienthong::transforms::xml {

namespace {

// Collects structured libxml2 errors as "line N: message".
struct Messages {
  std::vector<std::string> lines;
  void add(const xmlError* e) {
    if (!e) return;
    std::string m = e->message ? e->message : "error";
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    std::string where;
    if (e->line > 0) where = "line " + std::to_string(e->line) + ": ";
    lines.push_back(where + m);
  }
  std::string joined(std::size_t most = 20) const {
    std::string out;
    for (std::size_t i = 0; i < lines.size() && i < most; ++i) {
      if (i) out += "; ";
      out += lines[i];
    }
    if (lines.size() > most) out += "; ... (" + std::to_string(lines.size() - most) + " more)";
    return out;
  }
};

void collect(void* data, xmlErrorPtr error) { static_cast<Messages*>(data)->add(error); }

// libxslt reports through printf-style callbacks.
void collectPrintf(void* data, const char* format, ...) {
  char buf[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buf, sizeof buf, format, args);
  va_end(args);
  auto* m = static_cast<Messages*>(data);
  std::string text = buf;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (!text.empty()) m->lines.push_back(text);
}

xsltSecurityPrefsPtr forbiddingPrefs() {
  static xsltSecurityPrefsPtr prefs = [] {
    xsltSecurityPrefsPtr p = xsltNewSecurityPrefs();
    for (xsltSecurityOption o :
         {XSLT_SECPREF_READ_FILE, XSLT_SECPREF_WRITE_FILE, XSLT_SECPREF_CREATE_DIRECTORY,
          XSLT_SECPREF_READ_NETWORK, XSLT_SECPREF_WRITE_NETWORK}) {
      xsltSetSecurityPrefs(p, o, xsltSecurityForbid);
    }
    return p;
  }();
  return prefs;
}


}  // namespace

void initXslt() {
  static std::once_flag once;
  std::call_once(once, [] {
    xsltInit();
    exsltRegisterAll();
    forbiddingPrefs();
  });
}

Result<StepOutcome> ExtractStep::process(Exchange& exchange) {
  std::vector<std::string> values;
  values.reserve(s_.headers.size());
  for (const auto& [name, xpath] : s_.headers) {
    auto v = xpath.evaluateString(exchange);
    if (!v.ok()) return v.error();
    values.push_back(std::move(*v));
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    exchange.message().setHeader(s_.headers[i].first, std::move(values[i]));
  }
  return StepOutcome::kContinue;
}

Result<StepOutcome> FilterStep::process(Exchange& exchange) {
  auto holds = predicate_.evaluate(exchange);
  if (!holds.ok()) return holds.error();
  return *holds ? StepOutcome::kContinue : StepOutcome::kStop;
}

std::shared_ptr<const Schema> Schema::load(const std::string& path,
                                           std::vector<std::string>& errors) {
  Messages messages;
  xmlSchemaParserCtxtPtr pctxt = xmlSchemaNewParserCtxt(path.c_str());
  if (!pctxt) {
    errors.push_back("cannot read the schema");
    return nullptr;
  }
  xmlSchemaSetParserStructuredErrors(pctxt, collect, &messages);
  // The schema file's own XML errors go through the thread's handler: collect them too.
  xmlSetStructuredErrorFunc(&messages, collect);
  xmlSchemaPtr schema = xmlSchemaParse(pctxt);
  xmlSetStructuredErrorFunc(nullptr, nullptr);
  xmlSchemaFreeParserCtxt(pctxt);
  if (!schema) {
    errors = messages.lines;
    if (errors.empty()) errors.push_back("not a valid XML Schema");
    return nullptr;
  }
  return std::shared_ptr<const Schema>(new Schema(schema, path));
}

Schema::~Schema() { xmlSchemaFree(schema_); }

Result<StepOutcome> ValidateStep::process(Exchange& exchange) {
  auto doc = xmlOf(exchange);
  if (!doc.ok()) return doc.error();
  xmlSchemaValidCtxtPtr vctxt = xmlSchemaNewValidCtxt(schema_->get());
  if (!vctxt) return Error(ErrorCode::kInternal, "out of memory creating a validation context");
  Messages messages;
  xmlSchemaSetValidStructuredErrors(vctxt, collect, &messages);
  int r = xmlSchemaValidateDoc(vctxt, (*doc)->doc());
  xmlSchemaFreeValidCtxt(vctxt);
  if (r == 0) return StepOutcome::kContinue;
  if (r < 0) return Error(ErrorCode::kInternal, "XSD validation could not run");
  return Error(ErrorCode::kInvalidMessage, "not valid against " + schema_->path() + ": " +
                                               std::to_string(messages.lines.size()) +
                                               " violation(s): " + messages.joined());
}

Stylesheet::Stylesheet(xsltStylesheetPtr style, std::string path)
    : style_(style), path_(std::move(path)), content_type_("application/xml") {
  if (style_->method) {
    std::string method = reinterpret_cast<const char*>(style_->method);
    if (method == "text") content_type_ = "text/plain; charset=utf-8";
    if (method == "html") content_type_ = "text/html; charset=utf-8";
  }
}

std::shared_ptr<const Stylesheet> Stylesheet::load(const std::string& path,
                                                   std::vector<std::string>& errors) {
  initXslt();
  Messages messages;
  // Control thread only: libxslt's load-time reports go through its global handler.
  xsltSetGenericErrorFunc(&messages, collectPrintf);
  xsltStylesheetPtr style = xsltParseStylesheetFile(reinterpret_cast<const xmlChar*>(path.c_str()));
  xsltSetGenericErrorFunc(nullptr, nullptr);
  if (!style || style->errors > 0) {
    if (style) xsltFreeStylesheet(style);
    errors = messages.lines;
    if (errors.empty()) errors.push_back("not a valid XSLT stylesheet");
    return nullptr;
  }
  return std::shared_ptr<const Stylesheet>(new Stylesheet(style, path));
}

Stylesheet::~Stylesheet() { xsltFreeStylesheet(style_); }

Result<StepOutcome> TransformStep::process(Exchange& exchange) {
  auto doc = xmlOf(exchange);
  if (!doc.ok()) return doc.error();
  xsltStylesheetPtr style = s_.stylesheet->get();
  xsltTransformContextPtr tctxt = xsltNewTransformContext(style, (*doc)->doc());
  if (!tctxt) return Error(ErrorCode::kInternal, "out of memory creating a transform context");
  Messages messages;
  xsltSetTransformErrorFunc(tctxt, &messages, collectPrintf);
  xsltSetCtxtSecurityPrefs(forbiddingPrefs(), tctxt);

  std::vector<std::string> values;
  values.reserve(s_.params.size());
  for (const auto& [name, value] : s_.params) values.push_back(value->render(exchange));
  std::vector<const char*> params;
  for (std::size_t i = 0; i < s_.params.size(); ++i) {
    params.push_back(s_.params[i].first.c_str());
    params.push_back(values[i].c_str());
  }
  params.push_back(nullptr);
  xsltQuoteUserParams(tctxt, params.data());

  xmlDocPtr result =
      xsltApplyStylesheetUser(style, (*doc)->doc(), nullptr, nullptr, nullptr, tctxt);
  const bool failed =
      result == nullptr || tctxt->state == XSLT_STATE_ERROR || tctxt->state == XSLT_STATE_STOPPED;
  xsltFreeTransformContext(tctxt);
  if (failed) {
    if (result) xmlFreeDoc(result);
    return Error(ErrorCode::kInvalidMessage,
                 "transform " + s_.stylesheet->path() + " failed: " +
                     (messages.lines.empty() ? std::string("no output") : messages.joined()));
  }
  xmlChar* out = nullptr;
  int size = 0;
  xsltSaveResultToString(&out, &size, result, style);
  std::string text =
      out ? std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(size))
          : std::string();
  xmlFree(out);
  xmlFreeDoc(result);
  exchange.message().setBody(std::move(text));
  exchange.message().setContentType(s_.stylesheet->contentType());
  return StepOutcome::kContinue;
}

Result<StepOutcome> SplitStep::process(Exchange& exchange) {
  auto parts = xpath_.evaluateNodes(exchange);
  if (!parts.ok()) return parts.error();
  const Message& whole = exchange.message();
  const std::string size = std::to_string(parts->size());
  for (std::size_t i = 0; i < parts->size(); ++i) {
    Message part;
    part.setCorrelationId(whole.correlationId());
    part.setDossierKey(whole.dossierKey());
    for (const auto& [name, value] : whole.headers()) part.setHeader(name, value);
    part.setHeader("split.index", std::to_string(i + 1));
    part.setHeader("split.size", size);
    part.setHeader("split.correlation", whole.id());
    const bool element = !(*parts)[i].empty() && (*parts)[i][0] == '<';
    part.setContentType(element ? "application/xml" : "text/plain; charset=utf-8");
    part.setBody(std::move((*parts)[i]));
    Exchange sub(std::move(part), exchange.routeId(), exchange.pattern());
    sub.setTraceId(exchange.traceId());
    sub.setDeadline(exchange.deadline());
    sub.setRouteVersion(exchange.routeVersion());
    Result<StepOutcome> r = runSteps(steps_, sub);
    const std::string which = "split part " + std::to_string(i + 1) + " of " + size + ": ";
    if (!r.ok()) return Error(r.error().code, which + r.error().message);
    if (*r == StepOutcome::kRetry) return Error(ErrorCode::kTransient, which + "asked for a retry");
    if (*r == StepOutcome::kDeadLetter) {
      return Error(ErrorCode::kPermanent, which + "sent to the dead letters");
    }
  }
  return StepOutcome::kContinue;
}

}  // namespace lienthong::transforms::xml

#include "core/xml_document.h"

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include <atomic>
#include <climits>
#include <optional>
#include <vector>

#include "core/vietnamese_text.h"

namespace lienthong {

namespace {

std::atomic<std::size_t> g_max_size{XmlLimits{}.max_size};
std::atomic<int> g_max_depth{XmlLimits{}.max_depth};
std::atomic<std::size_t> g_max_nodes{XmlLimits{}.max_nodes};

struct Capture {
  bool failed = false;
  int line = 0;
  int column = 0;
  std::string message;

  void set(int l, int c, std::string m) {
    if (failed) return;
    failed = true;
    line = l;
    column = c;
    message = std::move(m);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
  }
};

void onError(void* data, xmlErrorPtr error) {
  auto* ctxt = static_cast<xmlParserCtxtPtr>(data);
  if (!error || error->level < XML_ERR_ERROR || !ctxt) return;
  static_cast<Capture*>(ctxt->_private)
      ->set(error->line, error->int2, error->message ? error->message : "XML error");
}

// A DOCTYPE stops the parse before any declaration in it is read: no DTD, so no entity
// (external, XXE, or internal, billion laughs) can exist in an accepted document.
void refuseDoctype(void* data, const xmlChar*, const xmlChar*, const xmlChar*) {
  auto* ctxt = static_cast<xmlParserCtxtPtr>(data);
  static_cast<Capture*>(ctxt->_private)
      ->set(xmlSAX2GetLineNumber(ctxt), xmlSAX2GetColumnNumber(ctxt),
            "a DOCTYPE is not accepted (no DTDs or entities)");
  xmlStopParser(ctxt);
}

Error invalid(int line, int column, const std::string& message) {
  std::string text = "XML";
  if (line > 0) {
    text += " line " + std::to_string(line);
    if (column > 0) text += ", column " + std::to_string(column);
  }
  text += ": " + message;
  return Error(ErrorCode::kInvalidMessage, std::move(text));
}

// True when every character is below U+0300 or in U+1E00-U+1EFF (Latin Extended
// Additional, where precomposed Vietnamese letters live): such text is NFC as it is,
// since no character there decomposes or combines. Anything else (a combining mark, say)
// goes to ICU. Keeps the usual, already composed Vietnamese text off the slow path.
bool surelyNfc(const xmlChar* s) {
  while (s && *s) {
    const xmlChar c = *s;
    if (c < 0x80) {
      ++s;
    } else if (c >= 0xC2 && c <= 0xCB && s[1]) {  // U+0080-U+02FF
      s += 2;
    } else if (c == 0xE1 && s[1] >= 0xB8 && s[1] <= 0xBB && s[2]) {  // U+1E00-U+1EFF
      s += 3;
    } else {
      return false;
    }
  }
  return true;
}

// The NFC form of UTF-8 text, or nullopt when it already is NFC (or is not valid UTF-8,
// which the parser has refused before).
std::optional<std::string> nfc(const xmlChar* text) {
  const std::string_view in(reinterpret_cast<const char*>(text));
  std::string out = vietnamese::toNfc(in);
  if (out == in) return std::nullopt;
  return out;
}

// One walk over the parsed tree: checks depth and node count (an error for the first node
// over a limit), and brings every text and attribute value to NFC. Vietnamese arrives
// composed or decomposed (combining tone marks); normalised, XPath comparisons, extracted
// headers and transform output do not depend on the sender's form.
std::optional<Error> checkAndNormalize(xmlNodePtr root, int max_depth, std::size_t max_nodes,
                                       bool to_nfc, bool* changed) {
  auto normalize = [&](xmlNodePtr text) {
    if (!to_nfc || surelyNfc(text->content)) return;
    if (auto composed = nfc(text->content)) {
      xmlNodeSetContent(text, reinterpret_cast<const xmlChar*>(composed->c_str()));
      *changed = true;
    }
  };
  auto tooMany = [&](xmlNodePtr at) {
    return invalid(static_cast<int>(xmlGetLineNo(at)), 0,
                   "more than " + std::to_string(max_nodes) + " nodes");
  };
  std::size_t nodes = 0;
  std::vector<std::pair<xmlNodePtr, int>> stack;
  if (root) stack.emplace_back(root, 1);
  while (!stack.empty()) {
    auto [node, depth] = stack.back();
    stack.pop_back();
    if (++nodes > max_nodes) return tooMany(node);
    if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) normalize(node);
    if (node->type != XML_ELEMENT_NODE) continue;
    if (depth > max_depth) {
      return invalid(static_cast<int>(xmlGetLineNo(node)), 0,
                     "elements nested deeper than " + std::to_string(max_depth));
    }
    for (xmlAttrPtr a = node->properties; a; a = a->next) {
      if (++nodes > max_nodes) return tooMany(node);
      for (xmlNodePtr c = a->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE) normalize(c);
      }
    }
    for (xmlNodePtr c = node->children; c; c = c->next) stack.emplace_back(c, depth + 1);
  }
  return std::nullopt;
}

}  // namespace

void setXmlLimits(const XmlLimits& limits) {
  g_max_size.store(limits.max_size);
  g_max_depth.store(limits.max_depth);
  g_max_nodes.store(limits.max_nodes);
}

XmlLimits xmlLimits() { return {g_max_size.load(), g_max_depth.load(), g_max_nodes.load()}; }

XmlDocument::~XmlDocument() { xmlFreeDoc(doc_); }

Result<std::shared_ptr<const XmlDocument>> XmlDocument::parse(const std::string& text,
                                                              bool normalize) {
  const XmlLimits limits = xmlLimits();
  if (text.size() > limits.max_size || text.size() > static_cast<std::size_t>(INT_MAX)) {
    return Error(ErrorCode::kInvalidMessage, "XML body of " + std::to_string(text.size()) +
                                                 " bytes is over the limit of " +
                                                 std::to_string(limits.max_size));
  }
  xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
  if (!ctxt) return Error(ErrorCode::kInternal, "out of memory creating an XML parser");
  Capture capture;
  ctxt->_private = &capture;
  ctxt->sax->serror = onError;
  ctxt->sax->internalSubset = refuseDoctype;
  // NONET: nothing from the network; no NOENT/DTDLOAD/DTDATTR/HUGE: nothing substituted
  // or loaded, and libxml2's own limits stay on.
  const int options = XML_PARSE_NONET | XML_PARSE_NOWARNING | XML_PARSE_BIG_LINES;
  xmlDocPtr doc = xmlCtxtReadMemory(ctxt, text.data(), static_cast<int>(text.size()), nullptr,
                                    nullptr, options);
  const bool well_formed = ctxt->wellFormed != 0;
  xmlFreeParserCtxt(ctxt);
  if (capture.failed || !doc || !well_formed) {
    if (doc) xmlFreeDoc(doc);
    if (!capture.failed) capture.set(0, 0, "not well-formed");
    return invalid(capture.line, capture.column, capture.message);
  }
  if (!xmlDocGetRootElement(doc)) {
    xmlFreeDoc(doc);
    return invalid(0, 0, "no root element");
  }
  bool changed = false;
  if (auto shape = checkAndNormalize(xmlDocGetRootElement(doc), limits.max_depth, limits.max_nodes,
                                     normalize, &changed)) {
    xmlFreeDoc(doc);
    return *shape;
  }
  return std::shared_ptr<const XmlDocument>(new XmlDocument(doc, changed));
}

Result<std::shared_ptr<const XmlDocument>> xmlOf(Exchange& exchange) {
  const Body* parsed_body = nullptr;
  const auto& cached = exchange.xmlCache(&parsed_body);
  const Body& body = exchange.message().sharedBody();
  if (cached && parsed_body && *parsed_body == body) return cached;
  auto parsed = XmlDocument::parse(*body);
  if (!parsed.ok()) return parsed.error();
  exchange.setXmlCache(body, *parsed);
  return *parsed;
}

bool looksLikeXml(const std::string& body) {
  for (char c : body) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '<' || c == '\xEF';  // '<', or a UTF-8 byte order mark before it
  }
  return false;
}

std::string serializeXml(xmlDocPtr doc) {
  xmlChar* buffer = nullptr;
  int size = 0;
  xmlDocDumpMemoryEnc(doc, &buffer, &size, "UTF-8");
  std::string out(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(size));
  xmlFree(buffer);
  return out;
}

void appendXmlEscaped(std::string& out, std::string_view text, bool attribute) {
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += attribute ? "&quot;" : "\"";
        break;
      case '\r':
        out += "&#13;";  // kept, not turned into a line feed by the next parser
        break;
      default:
        // Control characters XML 1.0 cannot hold become U+FFFD; tab and line feed stay.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') {
          out += "\xEF\xBF\xBD";
        } else {
          out += c;
        }
    }
  }
}

}  // namespace lienthong

#pragma once
// The safe XML parse: one per message body, cached on the Exchange and shared by every
// step. No network, no DTD (a DOCTYPE is refused outright, so no entity of any kind is
// declared or expanded), limits on size, depth and node count. Errors are InvalidMessage
// with the parser's line and column.

#include <libxml/tree.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "lienthong/exchange.h"
#include "lienthong/result.h"

namespace lienthong {

struct XmlLimits {
  std::size_t max_size = 10 * 1024 * 1024;  // bytes of the body
  int max_depth = 256;                      // element nesting
  std::size_t max_nodes = 1'000'000;        // elements, attributes and text nodes
};

// Process-wide limits, set once at start (daemon config `xml:`). Thread-safe to read.
void setXmlLimits(const XmlLimits& limits);
XmlLimits xmlLimits();

// Immutable after parse; shared read-only across threads.
class XmlDocument {
 public:
  // `normalize`: bring text to NFC (the default). A signature is verified on the text as
  // it was signed, so the verify step parses again without it when NFC changed anything.
  static Result<std::shared_ptr<const XmlDocument>> parse(const std::string& text,
                                                          bool normalize = true);
  ~XmlDocument();
  XmlDocument(const XmlDocument&) = delete;
  XmlDocument& operator=(const XmlDocument&) = delete;

  xmlDocPtr doc() const { return doc_; }
  xmlNodePtr root() const { return xmlDocGetRootElement(doc_); }
  // Whether NFC normalisation changed some text of the body.
  bool normalized() const { return normalized_; }

 private:
  XmlDocument(xmlDocPtr doc, bool normalized) : doc_(doc), normalized_(normalized) {}
  xmlDocPtr doc_;
  bool normalized_;
};

// The exchange's body as XML: parsed on first use, then taken from the exchange's cache
// for as long as the body is unchanged. Thread: the exchange's.
Result<std::shared_ptr<const XmlDocument>> xmlOf(Exchange& exchange);

// Whether the body looks like XML (first non-blank byte is '<'), without parsing.
bool looksLikeXml(const std::string& body);

// Serializes a document (UTF-8, with declaration).
std::string serializeXml(xmlDocPtr doc);

// Appends `text` escaped for XML character data (&, <, >, CR as &#13;), and " too in an
// attribute; control characters XML 1.0 cannot hold become U+FFFD.
void appendXmlEscaped(std::string& out, std::string_view text, bool attribute = false);

}  // namespace lienthong

#include "adapters/onestop/onestop.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Net/HTTPRequest.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <sstream>

#include "adapters/portal/portal_mapping.h"
#include "core/encoding.h"
#include "core/xml_document.h"

namespace lienthong::adapters::onestop {
namespace {

constexpr std::string_view kSoap11 = "http://schemas.xmlsoap.org/soap/envelope/";
constexpr std::string_view kSoap12 = "http://www.w3.org/2003/05/soap-envelope";

std::string localName(xmlNodePtr n) { return reinterpret_cast<const char*>(n->name); }

std::string nsOf(xmlNodePtr n) {
  return n->ns && n->ns->href ? reinterpret_cast<const char*>(n->ns->href) : "";
}

xmlNodePtr firstElement(xmlNodePtr parent) {
  for (xmlNodePtr c = parent ? parent->children : nullptr; c; c = c->next) {
    if (c->type == XML_ELEMENT_NODE) return c;
  }
  return nullptr;
}

// The first child element of `parent` named `name`; nullptr when none.
xmlNodePtr firstNamed(xmlNodePtr parent, const char* name) {
  for (xmlNodePtr c = parent ? parent->children : nullptr; c; c = c->next) {
    if (c->type == XML_ELEMENT_NODE && localName(c) == name) return c;
  }
  return nullptr;
}

// The Fault element of a SOAP envelope's Body; nullptr when it holds none.
xmlNodePtr soapFault(xmlNodePtr envelope) {
  if (!envelope || localName(envelope) != "Envelope") return nullptr;
  return firstNamed(firstNamed(envelope, "Body"), "Fault");
}

std::string textOf(xmlNodePtr n) {
  if (!n) return {};
  xmlChar* content = xmlNodeGetContent(n);
  std::string out = content ? reinterpret_cast<const char*>(content) : "";
  xmlFree(content);
  return out;
}

// The status field of a message, "" when it has none.
std::string_view statusField(std::string_view kind) {
  if (kind == "TrangThai") return "Ma";
  if (kind == "HoSo") return "TrangThaiHoSo";
  return {};
}

// Maps a status value; returns false (and says why) when it cannot.
using StatusFn = std::function<bool(std::string& value, std::string& why)>;

// Writes `n` and its subtree with local names only, the root in namespace `ns`; text of
// leaf elements escaped, attributes and comments left out; the status field of the root
// passed through `status`.
bool writeElement(std::string& out, xmlNodePtr n, std::string_view kind, std::string_view ns,
                  const StatusFn& status, std::string& why, xmlNodePtr top = nullptr) {
  const std::string name = localName(n);
  out += "<" + name;
  if (!top && !ns.empty()) {
    out += " xmlns=\"";
    appendXmlEscaped(out, ns, true);
    out += "\"";
  }
  out += ">";
  if (firstElement(n)) {
    for (xmlNodePtr c = n->children; c; c = c->next) {
      if (c->type != XML_ELEMENT_NODE) continue;
      if (!writeElement(out, c, kind, ns, status, why, top ? top : n)) return false;
    }
  } else {
    std::string value = textOf(n);
    const bool is_status = top && n->parent == top && name == statusField(kind);
    if (is_status && status && !status(value, why)) return false;
    appendXmlEscaped(out, value);
  }
  out += "</" + name + ">";
  return true;
}

std::string stringify(const Poco::Dynamic::Var& v) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(v, out);
  return out.str();
}

std::string member(const Poco::JSON::Object& o, const std::string& key) {
  if (!o.has(key)) return {};
  try {
    return o.get(key).convert<std::string>();
  } catch (const Poco::Exception&) {
    return {};
  }
}

// The MaHoSo of a canonical message, for messages ("" when it has none).
std::string dossierOf(xmlNodePtr root) {
  for (xmlNodePtr c = root ? root->children : nullptr; c; c = c->next) {
    if (c->type == XML_ELEMENT_NODE && localName(c) == "MaHoSo") return textOf(c);
  }
  return {};
}

std::string knownStatuses(const std::map<std::string, int>& map) {
  std::string out;
  for (const auto& [local, national] : map) {
    out += (out.empty() ? "" : ", ") + local + "=" + std::to_string(national);
  }
  return out;
}

}  // namespace

std::string canonicalName(std::string_view word) {
  for (const char* name :
       {"HoSo", "TrangThai", "YeuCauBoSung", "TraLoiBoSung", "PhanAnh", "DanhGia"}) {
    if (asciiLower(word) == asciiLower(name)) return name;
  }
  return {};
}

OnestopConnection::OnestopConnection(OnestopSettings settings) : s_(std::move(settings)) {
  if (s_.flavor == Flavor::kFolder) {
    TemplateError error;
    auto name = Template::compile("${onestop.file}", &error);
    inbox_ = std::make_unique<file::FileOutbound>(file::FileOutboundSettings{
        s_.dir / "inbox", std::make_shared<const Template>(std::move(*name))});
  }
}

std::string OnestopConnection::describe() const {
  switch (s_.flavor) {
    case Flavor::kRest:
      return "onestop " + s_.name + " rest " + s_.http->origin() + s_.http->basePath();
    case Flavor::kSoap:
      return "onestop " + s_.name + " soap " + s_.http->origin() + s_.http->basePath();
    case Flavor::kFolder:
      return "onestop " + s_.name + " folder " + s_.dir.string();
  }
  return "onestop " + s_.name;
}

bool OnestopConnection::serves(std::string_view agency) const {
  return std::find(s_.agencies.begin(), s_.agencies.end(), agency) != s_.agencies.end();
}

int OnestopConnection::national(const std::string& local) const {
  if (!s_.status_map.empty()) {
    auto it = s_.status_map.find(local);
    return it == s_.status_map.end() ? 0 : it->second;
  }
  if (local.empty() || local.size() > 2 ||
      !std::all_of(local.begin(), local.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return 0;
  }
  const int code = std::stoi(local);
  return code >= 1 && code <= 10 ? code : 0;
}

std::string OnestopConnection::local(const std::string& national) const {
  for (const auto& [local, code] : s_.status_map) {
    if (std::to_string(code) == national) return local;
  }
  return national;
}

Delivery OnestopConnection::send(const std::string& kind, xmlNodePtr root,
                                 Exchange& exchange) const {
  return s_.flavor == Flavor::kFolder ? sendFolder(kind, root, exchange)
                                      : sendHttp(kind, root, exchange);
}

Delivery OnestopConnection::sendHttp(const std::string& kind, xmlNodePtr root,
                                     Exchange& exchange) const {
  const std::string what = "onestop " + s_.name;
  const StatusFn to_local = [this](std::string& value, std::string&) {
    value = local(value);
    return true;
  };
  std::string why;
  std::string element;
  writeElement(element, root, kind, portal::canonicalNamespace(kind), to_local, why);
  std::string body;
  std::string path;
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, "/",
                                 Poco::Net::HTTPMessage::HTTP_1_1);
  if (s_.flavor == Flavor::kRest) {
    auto doc = XmlDocument::parse(element);
    if (!doc.ok()) return Delivery::rejected(what + ": " + doc.error().message);
    body = portal::canonicalJson((*doc)->root());
    auto p = s_.paths.find(kind);
    path = p != s_.paths.end() ? p->second : "/" + asciiLower(kind);
    request.setContentType("application/json; charset=utf-8");
  } else {
    body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap:Envelope xmlns:soap=\"" +
           std::string(kSoap11) + "\"><soap:Body>" + element + "</soap:Body></soap:Envelope>";
    request.setContentType("text/xml; charset=utf-8");
    request.set("SOAPAction", "\"" + s_.soap_action + kind + "\"");
  }
  request.setURI(s_.http->basePath() + path);
  Delivery d = s_.http->execute(request, body, exchange.deadline(), exchange.message());
  const std::string* status = d.reply ? d.reply->header("http.status") : nullptr;
  if (s_.flavor == Flavor::kRest && status && *status == "409") {
    // The system has this message already (a delivery after a lost answer).
    return Delivery::accepted(std::move(d.reply));
  }
  if (s_.flavor == Flavor::kSoap && d.status != Delivery::Status::kAccepted && d.reply &&
      looksLikeXml(d.reply->body())) {
    // A SOAP fault: the server's (Server, Receiver) is worth a retry; any other (Client,
    // Sender, VersionMismatch, MustUnderstand) is final.
    if (auto fault = XmlDocument::parse(d.reply->body()); fault.ok()) {
      if (xmlNodePtr f = soapFault((*fault)->root())) {
        std::string code;
        std::string reason;
        for (xmlNodePtr c = f->children; c; c = c->next) {
          if (c->type != XML_ELEMENT_NODE) continue;
          const std::string name = localName(c);
          if (name == "faultcode" && code.empty()) code = textOf(c);  // 1.1
          if (name == "faultstring" && reason.empty()) reason = textOf(c);
          if (name == "Code" && code.empty()) code = textOf(firstNamed(c, "Value"));  // 1.2
          if (name == "Reason" && reason.empty()) reason = textOf(firstNamed(c, "Text"));
        }
        const std::string detail = what + ": SOAP fault " + code + ": " + reason;
        if (code.find("Server") != std::string::npos ||
            code.find("Receiver") != std::string::npos) {
          return Delivery::retry(Delivery::Failure::kRemote, detail, std::move(d.reply));
        }
        return Delivery::rejected(detail, std::move(d.reply));
      }
    }
  }
  if (d.status != Delivery::Status::kAccepted) d.detail = what + ": " + d.detail;
  return d;
}

Delivery OnestopConnection::sendFolder(const std::string& kind, xmlNodePtr root,
                                       Exchange& exchange) const {
  const StatusFn to_local = [this](std::string& value, std::string&) {
    value = local(value);
    return true;
  };
  std::string why;
  std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  writeElement(body, root, kind, portal::canonicalNamespace(kind), to_local, why);
  body += "\n";
  Message m = exchange.message();
  m.setBody(std::move(body));
  m.setContentType("application/xml");
  std::string code = dossierOf(root);
  std::replace(code.begin(), code.end(), '/', '_');
  m.setHeader("onestop.file",
              kind + "-" + (code.empty() ? std::string() : code + "-") + m.id() + ".xml");
  Exchange copy(std::move(m), exchange.routeId(), exchange.pattern());
  copy.setDeadline(exchange.deadline());
  Delivery d = inbox_->send(copy);
  if (d.status != Delivery::Status::kAccepted) d.detail = "onestop " + s_.name + ": " + d.detail;
  return d;
}

std::shared_ptr<OnestopConnection> OnestopOutbound::choose(const Exchange& exchange,
                                                           std::string* why) const {
  if (s_.connection) return s_.connection;
  const std::string agency = s_.agency->render(exchange);
  for (const auto& [name, c] : s_.candidates) {
    if (c->serves(agency)) return c;
  }
  if (why) {
    *why = "no one-stop system serves agency '" + agency + "' (" + s_.agency->source() + ")";
  }
  return nullptr;
}

std::string OnestopOutbound::describe() const {
  return s_.connection ? "onestop " + s_.connection->settings().name
                       : "onestop by agency " + s_.agency->source();
}

std::string OnestopOutbound::target(const Exchange& exchange) const {
  auto c = choose(exchange, nullptr);
  return c ? "onestop " + c->settings().name : describe();
}

std::string OnestopOutbound::refusal(const Exchange& exchange) const {
  std::string why;
  return choose(exchange, &why) ? std::string() : why;
}

std::string OnestopOutbound::peer() const {
  return s_.connection ? s_.connection->describe() : describe();
}

Delivery OnestopOutbound::send(Exchange& exchange) {
  try {
    std::string why;
    auto c = choose(exchange, &why);
    if (!c) return Delivery::rejected(why);
    auto doc = xmlOf(exchange);
    if (!doc.ok()) return Delivery::rejected(describe() + ": " + doc.error().message);
    xmlNodePtr root = (*doc)->root();
    const std::string kind = root ? localName(root) : "";
    if (portal::canonicalNamespace(kind).empty() ||
        nsOf(root) != portal::canonicalNamespace(kind)) {
      return Delivery::rejected(describe() + ": the body is not a canonical message (<" + kind +
                                "> in '" + (root ? nsOf(root) : "") + "')");
    }
    return c->send(kind, root, exchange);
  } catch (const std::exception& e) {  // a template or allocation failure
    return Delivery::retry(Delivery::Failure::kConnect, describe() + ": " + e.what());
  }
}

Result<StepOutcome> FromOnestopStep::process(Exchange& exchange) {
  Message& m = exchange.message();
  const std::string what = "from-onestop " + c_->settings().name;
  const std::string& body = m.body();
  const auto first = body.find_first_not_of(" \t\r\n");
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  std::string kind;
  std::string dropped;
  if (first != std::string::npos && body[first] == '{') {
    kind = message_;
    if (kind.empty()) {
      const std::string* path = m.header("http.path");
      const std::string p = path ? *path : "";
      kind = canonicalName(
          p.substr(p.find_last_of('/') == std::string::npos ? 0 : p.find_last_of('/') + 1));
      if (kind.empty()) {
        return Error(ErrorCode::kInvalidMessage,
                     what + ": which message is this JSON? The path '" + p +
                         "' does not end with a message's name (hoso, trangthai, "
                         "yeucaubosung, traloibosung, phananh, danhgia)");
      }
    }
    Poco::JSON::Object::Ptr o;
    try {
      o = Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
    } catch (const std::exception& e) {
      return Error(ErrorCode::kInvalidMessage,
                   what + ": the body is not a JSON object (" + e.what() + ")");
    }
    if (!o) return Error(ErrorCode::kInvalidMessage, what + ": the body is not a JSON object");
    if (kind == "TrangThai" && !o->has("Ma") && o->has("TrangThai")) {  // the portal's name
      o->set("Ma", o->get("TrangThai"));
      o->remove("TrangThai");
    }
    if (const std::string field(statusField(kind)); !field.empty() && o->has(field)) {
      const std::string local = member(*o, field);
      const int code = c_->national(local);
      if (code == 0) {
        if (!member(*o, "MaHoSo").empty()) m.setHeader("MaHoSo", member(*o, "MaHoSo"));
        return Error(
            ErrorCode::kInvalidMessage,
            what + ": dossier " + member(*o, "MaHoSo") + ": unknown status '" + local + "'" +
                (c_->settings().status_map.empty()
                     ? " (national codes 1..10)"
                     : " (the system's: " + knownStatuses(c_->settings().status_map) + ")"));
      }
      o->set(field, std::to_string(code));
    }
    auto xml = portal::canonicalXml(kind, stringify(Poco::Dynamic::Var(o)), &dropped);
    if (!xml.ok()) return Error(xml.error().code, what + ": " + xml.error().message);
    out = std::move(*xml);
  } else {
    auto doc = xmlOf(exchange);
    if (!doc.ok()) return Error(doc.error().code, what + ": " + doc.error().message);
    xmlNodePtr n = (*doc)->root();
    if (n && localName(n) == "Envelope" && (nsOf(n) == kSoap11 || nsOf(n) == kSoap12)) {
      xmlNodePtr soap_body = nullptr;
      for (xmlNodePtr c = n->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && localName(c) == "Body") soap_body = c;
      }
      n = firstElement(soap_body);
      if (!n) return Error(ErrorCode::kInvalidMessage, what + ": the SOAP envelope has no Body");
    }
    kind = canonicalName(localName(n));
    if (kind.empty() || kind != localName(n)) {
      return Error(ErrorCode::kInvalidMessage,
                   what + ": <" + localName(n) +
                       "> is no message of a one-stop system (HoSo, TrangThai, YeuCauBoSung, "
                       "TraLoiBoSung, PhanAnh, DanhGia)");
    }
    const std::string code = dossierOf(n);
    const StatusFn to_national = [&](std::string& value, std::string& why) {
      const int national = c_->national(value);
      if (national == 0) {
        why = "dossier " + code + ": unknown status '" + value + "'" +
              (c_->settings().status_map.empty()
                   ? " (national codes 1..10)"
                   : " (the system's: " + knownStatuses(c_->settings().status_map) + ")");
        return false;
      }
      value = std::to_string(national);
      return true;
    };
    std::string why;
    if (!writeElement(out, n, kind, portal::canonicalNamespace(kind), to_national, why)) {
      if (!code.empty()) m.setHeader("MaHoSo", code);  // the dead letter's dossier
      return Error(ErrorCode::kInvalidMessage, what + ": " + why);
    }
    out += "\n";
  }
  m.setBody(std::move(out));
  m.setContentType("application/xml");
  m.setHeader("onestop.system", c_->settings().name);
  m.setHeader("onestop.message", kind);
  if (dropped.empty()) {
    m.removeHeader("onestop.dropped");
  } else {
    m.setHeader("onestop.dropped", dropped);
  }
  return StepOutcome::kContinue;
}

}  // namespace lienthong::adapters::onestop

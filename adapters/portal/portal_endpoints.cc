#include "adapters/portal/portal_endpoints.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <sstream>
#include <vector>

#include "adapters/portal/portal_mapping.h"
#include "core/json_text.h"
#include "core/xml_document.h"

namespace lienthong::adapters::portal {
namespace {

constexpr const char* kSync = "DongBoHoSoMC";
constexpr const char* kProgress = "CapNhatTienDoHoSoMC";
constexpr const char* kLookup = "TraCuuHoSo";

// The dossier objects of a body: its `data` or `result` (an object, or an array of them),
// or the body itself when it is a dossier (has MaHoSo) or, with `any`, in every case; each
// as JSON text. Throws on a body that is not a JSON object.
std::vector<std::string> dossiersOf(const std::string& body, bool any = false) {
  Poco::JSON::Parser parser;
  auto o = parser.parse(body).extract<Poco::JSON::Object::Ptr>();
  std::vector<std::string> found;
  auto add = [&](const Poco::Dynamic::Var& v) {
    if (v.type() != typeid(Poco::JSON::Object::Ptr)) return;
    std::ostringstream text;
    Poco::JSON::Stringifier::stringify(v, text);
    found.push_back(text.str());
  };
  for (const char* key : {"data", "result"}) {
    if (!o->has(key)) continue;
    const Poco::Dynamic::Var v = o->get(key);
    if (v.type() == typeid(Poco::JSON::Array::Ptr)) {
      auto a = v.extract<Poco::JSON::Array::Ptr>();
      for (std::size_t i = 0; a && i < a->size(); ++i) add(a->get(static_cast<unsigned>(i)));
    } else {
      add(v);
    }
    return found;
  }
  if (any || o->has("MaHoSo")) add(Poco::Dynamic::Var(o));
  return found;
}

// The first dossier of a TraCuuHoSo answer; "" when there is none.
std::string foundDossier(const std::string& answer) {
  try {
    auto all = dossiersOf(answer);
    return all.empty() ? std::string() : all.front();
  } catch (const std::exception&) {
    return {};
  }
}

}  // namespace

std::string PortalOutbound::describe() const {
  return "portal " + s_.connection->settings().name + " " + s_.service;
}

Result<std::string> PortalOutbound::fields(Exchange& exchange) const {
  std::string out;
  if (s_.service == kSync || s_.service == kProgress) {
    auto doc = xmlOf(exchange);
    if (!doc.ok()) return doc.error();
    xmlNodePtr root = (*doc)->root();
    auto item = s_.service == kSync ? dossierJson(root) : progressJson(root);
    if (!item.ok()) return Error(item.error().code, describe() + ": " + item.error().message);
    out = "\"data\":[" + *item + "]";
  }
  for (const auto& [name, value] : s_.params) {
    if (!out.empty()) out += ',';
    appendJsonString(out, name);
    out += ':';
    appendJsonString(out, value->render(exchange));
  }
  return out;
}

Delivery PortalOutbound::reply(PortalAnswer answer, const Message& original) const {
  Delivery d = std::move(answer.delivery);
  if (d.status != Delivery::Status::kAccepted) return d;
  Message r(original.id());
  r.setCorrelationId(original.correlationId());
  r.setDossierKey(original.dossierKey());
  r.setHeader("portal.service", s_.service);
  r.setHeader("portal.error_code", answer.error_code);
  if (s_.service == kLookup) {
    const std::string dossier = foundDossier(answer.json);
    if (dossier.empty()) {
      return Delivery::rejected(describe() + ": the portal found no dossier");
    }
    std::string dropped;
    auto xml = dossierXml(dossier, &dropped);
    if (!xml.ok()) return Delivery::rejected(describe() + ": " + xml.error().message);
    r.setBody(std::move(*xml));
    r.setContentType("application/xml");
    if (!dropped.empty()) r.setHeader("portal.dropped", dropped);
  } else {
    r.setBody(std::move(answer.json));
    r.setContentType("application/json");
  }
  return Delivery::accepted(std::move(r));
}

Delivery PortalOutbound::send(Exchange& exchange) {
  try {
    auto members = fields(exchange);
    if (!members.ok()) return Delivery::rejected(members.error().message);
    const Message& message = exchange.message();
    if (s_.service != kSync) {
      return reply(s_.connection->call(s_.service, *members, exchange.deadline(), message),
                   message);
    }
    PortalAnswer a = s_.connection->call(s_.service, "\"isUpdating\":\"False\"," + *members,
                                         exchange.deadline(), message);
    if (a.delivery.status != Delivery::Status::kAccepted && a.exists) {
      // The portal has it already: the same dossier, as an update. Should that fail too,
      // both answers are told (the first may not have been about the dossier at all).
      const std::string first = a.delivery.detail;
      a = s_.connection->call(s_.service, "\"isUpdating\":\"True\"," + *members,
                              exchange.deadline(), message);
      if (a.delivery.status != Delivery::Status::kAccepted) {
        a.delivery.detail += " (sent as an update after: " + first + ")";
      }
    }
    return reply(std::move(a), message);
  } catch (const std::exception& e) {  // a template or allocation failure
    return Delivery::retry(Delivery::Failure::kConnect, describe() + ": " + e.what());
  }
}

Result<StepOutcome> FromPortalStep::process(Exchange& exchange) {
  std::vector<std::string> dossiers;
  const bool hoso = root_ == "HoSo";
  try {
    dossiers = dossiersOf(exchange.message().body(), !hoso);
  } catch (const std::exception& e) {
    return Error(ErrorCode::kInvalidMessage,
                 std::string("from-portal: the body is not a JSON object (") + e.what() + ")");
  }
  if (dossiers.size() != 1) {
    return Error(ErrorCode::kInvalidMessage, "from-portal: the body holds " +
                                                 std::to_string(dossiers.size()) + " " +
                                                 (hoso ? "dossiers" : root_ + " objects") +
                                                 "; one per message (split the call first)");
  }
  std::string dropped;
  auto xml = canonicalXml(root_, dossiers.front(), &dropped);
  if (!xml.ok()) return Error(xml.error().code, "from-portal: " + xml.error().message);
  Message& m = exchange.message();
  m.setBody(std::move(*xml));
  m.setContentType("application/xml");
  if (dropped.empty()) {
    m.removeHeader("portal.dropped");
  } else {
    m.setHeader("portal.dropped", dropped);
  }
  return StepOutcome::kContinue;
}

}  // namespace lienthong::adapters::portal

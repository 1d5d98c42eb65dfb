#include "transforms/dossier/dossier_steps.h"

#include <cstdio>
#include <string_view>

#include "core/dossier_code.h"
#include "core/store.h"
#include "core/xml_document.h"

namespace lienthong::transforms::dossier {

Result<StepOutcome> DossierCodeStep::process(Exchange& exchange) {
  const std::string text = s_.code->render(exchange);
  if (text.empty()) {
    return Error(ErrorCode::kInvalidMessage,
                 "no dossier code: '" + s_.code->source() + "' is empty for this message");
  }
  auto code = lienthong::dossier::parse(text);
  if (!code.ok()) return code.error();
  char day[16];
  std::snprintf(day, sizeof day, "%04d%02d%02d", code->received.year % 10000,
                code->received.month % 100, code->received.day % 100);
  Message& m = exchange.message();
  m.setHeader("dossier.agency", code->agency);
  m.setHeader("dossier.received", day);
  m.setHeader("dossier.sequence", std::to_string(code->sequence));
  return StepOutcome::kContinue;
}

namespace {

// The text of the first child element of `parent` named `name` ("" when absent).
std::string child(xmlNodePtr parent, const char* name) {
  for (xmlNodePtr c = parent->children; c; c = c->next) {
    if (c->type == XML_ELEMENT_NODE &&
        std::string_view(reinterpret_cast<const char*>(c->name)) == name) {
      xmlChar* t = xmlNodeGetContent(c);
      std::string out = t ? reinterpret_cast<const char*>(t) : "";
      xmlFree(t);
      return out;
    }
  }
  return {};
}

int statusOf(const std::string& text) {
  if (text.empty() || text.size() > 2) return 0;
  int v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + (c - '0');
  }
  return v >= 1 && v <= 10 ? v : 0;
}

}  // namespace

Result<StepOutcome> TrackDossierStep::process(Exchange& exchange) {
  auto doc = xmlOf(exchange);
  if (!doc.ok()) return doc.error();
  xmlNodePtr root = (*doc)->root();
  const std::string kind = root ? reinterpret_cast<const char*>(root->name) : "";
  DossierEvent e;
  std::string status;
  if (kind == "HoSo") {
    e.code = child(root, "MaHoSo");
    e.agency = child(root, "MaCoQuan");
    e.procedure = child(root, "MaTTHC");
    e.received = child(root, "NgayTiepNhan");
    e.appointment = child(root, "NgayHenTra");
    status = child(root, "TrangThaiHoSo");
    e.status = statusOf(status);
    // The dossier's status as of its latest time; resolved at the end of processing.
    const std::string ended = child(root, "NgayKetThucXuLy");
    e.at = e.received;
    for (const char* field : {"NgayTuChoi", "NgayKetThucXuLy", "NgayTra"}) {
      const std::string t = child(root, field);
      if (lienthong::dossier::isNationalTime(t) && t > e.at) e.at = t;
    }
    if ((e.status == 9 || e.status == 10) && lienthong::dossier::isNationalTime(ended))
      e.at = ended;
  } else if (kind == "TrangThai") {
    e.code = child(root, "MaHoSo");
    e.agency = child(root, "MaCoQuan");
    e.appointment = child(root, "NgayHenTra");
    status = child(root, "Ma");
    e.status = statusOf(status);
    e.at = child(root, "ThoiDiem");
  } else {
    return Error(
        ErrorCode::kInvalidMessage,
        "track-dossier: the body is neither a canonical HoSo nor a TrangThai (<" + kind + ">)");
  }
  auto code = lienthong::dossier::parse(e.code);
  if (!code.ok()) return code.error();
  // A dossier's own agency when it names none: the one of its code (a status event that
  // names none leaves the kept agency as it is).
  if (kind == "HoSo" && e.agency.empty()) e.agency = code->agency;
  if (e.status == 0) {
    return Error(ErrorCode::kInvalidMessage,
                 "track-dossier: dossier " + e.code + ": status '" + status + "' is not 1..10");
  }
  if (!lienthong::dossier::isNationalTime(e.at)) {
    return Error(ErrorCode::kInvalidMessage, "track-dossier: dossier " + e.code + ": time '" +
                                                 e.at + "' is not yyyyMMddHHmmss");
  }
  if (!slot_) return StepOutcome::kContinue;  // the tools: nothing to keep
  Store* store = slot_->get();
  if (!store) {
    return Error(ErrorCode::kTransient, "track-dossier: the store is not open");
  }
  if (auto r = store->trackDossier(e); !r.ok()) {
    return Error(ErrorCode::kTransient, "track-dossier: " + r.error().message);
  }
  return StepOutcome::kContinue;
}

}  // namespace lienthong::transforms::dossier

#include "transforms/dossier/dossier_steps.h"

#include <cctype>
#include <cstdio>
#include <optional>
#include <string_view>

#include "core/dossier_code.h"
#include "core/store.h"
#include "core/vietnamese_text.h"
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

// The encoding an XML declaration at the start of `body` names, in lower case ("" when
// none), and where its value is.
std::string declaredEncoding(const std::string& body, std::size_t* at, std::size_t* size) {
  const std::size_t start = body.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  if (body.compare(start, 5, "<?xml") != 0) return {};
  const std::size_t end = body.find("?>", start);
  const std::size_t key = body.find("encoding", start);
  if (end == std::string::npos || key == std::string::npos || key > end) return {};
  const std::size_t q = body.find_first_of("\"'", key);
  if (q == std::string::npos || q > end) return {};
  const std::size_t close = body.find(body[q], q + 1);
  if (close == std::string::npos || close > end) return {};
  *at = q + 1;
  *size = close - q - 1;
  std::string value = body.substr(*at, *size);
  for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return value;
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

Result<StepOutcome> OverdueDossiersStep::process(Exchange& exchange) {
  const auto now_tp = std::chrono::system_clock::now();
  const std::string now = lienthong::dossier::nationalTime(now_tp);
  const std::string since =
      within_.count() > 0 ? lienthong::dossier::nationalTime(now_tp - within_) : std::string();
  std::vector<lienthong::dossier::DossierState> overdue;
  if (slot_) {
    Store* store = slot_->get();
    if (!store) return Error(ErrorCode::kTransient, "overdue-dossiers: the store is not open");
    auto states = store->dossierStates();
    if (!states.ok()) {
      return Error(ErrorCode::kTransient, "overdue-dossiers: " + states.error().message);
    }
    overdue = lienthong::dossier::overdueDossiers(*states, now, since);
  }
  std::string out =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<DanhSachQuaHan xmlns=\"urn:lienthong:hoso:1\" ThoiDiem=\"" +
      now + "\" SoLuong=\"" + std::to_string(overdue.size()) + "\">";
  auto field = [&out](const char* name, const std::string& value) {
    if (value.empty()) return;
    out += std::string("<") + name + ">";
    appendXmlEscaped(out, value);
    out += std::string("</") + name + ">";
  };
  for (const auto& d : overdue) {
    out += "<TrangThai>";
    field("MaHoSo", d.code);
    field("Ma", std::to_string(d.status >= 1 && d.status <= 10 ? d.status : 4));
    field("ThoiDiem", now);
    field("MaCoQuan", d.agency);
    field("NoiDungXuLy", "Hồ sơ quá hạn giải quyết (hẹn trả " + d.appointment + ")");
    field("NgayHenTra", d.appointment);
    field("QuaHan", "1");
    out += "</TrangThai>";
  }
  out += "</DanhSachQuaHan>\n";
  Message& m = exchange.message();
  m.setBody(std::move(out));
  m.setContentType("application/xml");
  m.setHeader("overdue.count", std::to_string(overdue.size()));
  return StepOutcome::kContinue;
}

Result<StepOutcome> NormalizeTextStep::process(Exchange& exchange) {
  namespace vn = lienthong::vietnamese;
  Message& m = exchange.message();
  const std::string& body = m.body();
  std::string done;
  std::string text;
  if (auto bad = vn::invalidUtf8At(body)) {
    if (from_ == From::kUtf8) {
      return Error(
          ErrorCode::kInvalidMessage,
          "normalize-text: the body is not UTF-8 (byte " + std::to_string(*bad) + ": 0x" +
              [&] {
                char hex[3];
                std::snprintf(hex, sizeof hex, "%02X", static_cast<unsigned char>(body[*bad]));
                return std::string(hex);
              }() +
              ")");
    }
    // An XML declaration that names the encoding is believed: one of the two is decoded
    // here (and the declaration then says UTF-8), another is left to the XML parser.
    std::size_t value_at = 0;
    std::size_t value_size = 0;
    const std::string declared = declaredEncoding(body, &value_at, &value_size);
    std::optional<vn::Legacy> named;
    if (declared == "windows-1258" || declared == "cp1258") named = vn::Legacy::kWindows1258;
    if (declared == "tcvn" || declared == "tcvn3" || declared == "tcvn-5712" ||
        declared == "tcvn5712-1" || declared == "vn3") {
      named = vn::Legacy::kTcvn3;
    }
    if (!declared.empty() && !named) return StepOutcome::kContinue;
    const vn::Legacy legacy = named                         ? *named
                              : from_ == From::kWindows1258 ? vn::Legacy::kWindows1258
                              : from_ == From::kTcvn3       ? vn::Legacy::kTcvn3
                                                            : vn::guessLegacy(body);
    auto decoded = vn::decode(body, legacy);
    if (!decoded.ok()) {
      return Error(decoded.error().code, "normalize-text: the body is neither UTF-8 nor " +
                                             std::string(vn::name(legacy)) + ": " +
                                             decoded.error().message);
    }
    text = std::move(*decoded);
    done = std::string(vn::name(legacy));
    if (!declared.empty()) {  // the declaration is before any non-ASCII byte: same offsets
      text.replace(value_at, value_size, "UTF-8");
    }
  } else {
    text = body;
  }
  if (from_ != From::kUtf8) {
    std::size_t words = 0;
    std::string repaired = vn::repairTcvn3Words(text, &words);
    if (words > 0) {
      text = std::move(repaired);
      done += (done.empty() ? "" : ", ") + std::string("tcvn3 fields: ") + std::to_string(words);
    }
  }
  if (done.empty()) {
    m.removeHeader("text.normalized");
    return StepOutcome::kContinue;
  }
  m.setBody(vn::toNfc(text));
  m.setHeader("text.normalized", done);
  return StepOutcome::kContinue;
}

Result<StepOutcome> OverdueNoteStep::process(Exchange& exchange) {
  auto doc = xmlOf(exchange);
  if (!doc.ok()) return doc.error();
  xmlNodePtr root = (*doc)->root();
  if (!root || std::string_view(reinterpret_cast<const char*>(root->name)) != "TrangThai" ||
      child(root, "QuaHan") != "1" || !slot_) {
    return StepOutcome::kContinue;
  }
  Store* store = slot_->get();
  if (!store) return Error(ErrorCode::kTransient, "overdue-note: the store is not open");
  const std::string code = child(root, "MaHoSo");
  auto states = store->dossierStates(code);
  if (!states.ok()) return Error(ErrorCode::kTransient, "overdue-note: " + states.error().message);
  if (states->empty()) return StepOutcome::kContinue;
  const int now = states->front().status;
  if (now == 3 || now == 7 || now == 8 || now == 9 || now == 10) return StepOutcome::kStop;
  if (now < 1 || now > 10 || std::to_string(now) == child(root, "Ma")) {
    return StepOutcome::kContinue;
  }
  xmlDocPtr copy = xmlCopyDoc((*doc)->doc(), 1);
  for (xmlNodePtr c = xmlDocGetRootElement(copy)->children; c; c = c->next) {
    if (c->type == XML_ELEMENT_NODE &&
        std::string_view(reinterpret_cast<const char*>(c->name)) == "Ma") {
      xmlNodeSetContent(c, reinterpret_cast<const xmlChar*>(std::to_string(now).c_str()));
    }
  }
  std::string body = serializeXml(copy);
  xmlFreeDoc(copy);
  exchange.message().setBody(std::move(body));
  return StepOutcome::kContinue;
}

}  // namespace lienthong::transforms::dossier

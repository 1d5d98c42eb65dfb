#include "apps/lienthong-sim/onestop_sim.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "apps/lienthong-sim/sim_http.h"
#include "apps/lienthong-sim/sim_time.h"
#include "core/dossier_code.h"
#include "core/encoding.h"
#include "core/json_text.h"
#include "core/xml_document.h"

namespace lienthong::sim {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kSoap = "http://schemas.xmlsoap.org/soap/envelope/";
constexpr const char* kMarriage = "1.000894";  // asks for a supplement first
constexpr const char* kWithFee = "2.001023";   // asks for its fee first
constexpr const char* kFee = "200000";

std::string now() { return dossier::nationalTime(std::chrono::system_clock::now()); }

std::string kindOf(const std::string& word) {
  for (const char* k : {"HoSo", "TraLoiBoSung", "PhanAnh", "DanhGia", "TrangThai"}) {
    if (asciiLower(word) == asciiLower(k)) return k;
  }
  return {};
}

std::string name(xmlNodePtr n) { return reinterpret_cast<const char*>(n->name); }

std::string text(xmlNodePtr n) {
  xmlChar* c = xmlNodeGetContent(n);
  std::string out = c ? reinterpret_cast<const char*>(c) : "";
  xmlFree(c);
  return out;
}

// A record's fields; those of a nested record (an address) as "Record/Field".
std::map<std::string, std::string> childTexts(xmlNodePtr n) {
  std::map<std::string, std::string> out;
  for (xmlNodePtr c = n->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    bool nested = false;
    for (xmlNodePtr g = c->children; g; g = g->next) {
      if (g->type != XML_ELEMENT_NODE) continue;
      nested = true;
      out[name(c) + "/" + name(g)] = text(g);
    }
    if (!nested) out[name(c)] = text(c);
  }
  return out;
}

xmlNodePtr firstElement(xmlNodePtr n) {
  for (xmlNodePtr c = n ? n->children : nullptr; c; c = c->next) {
    if (c->type == XML_ELEMENT_NODE) return c;
  }
  return nullptr;
}

std::string soapFault(const std::string& who, const std::string& reason) {
  std::string out =
      std::string("<?xml version=\"1.0\" encoding=\"UTF-8\"?><s:Envelope xmlns:s=\"") + kSoap +
      "\"><s:Body><s:Fault><faultcode>s:" + who + "</faultcode><faultstring>";
  appendXmlEscaped(out, reason);
  return out + "</faultstring></s:Fault></s:Body></s:Envelope>";
}

// Fields in order, as XML children in namespace prefix `p` (empty: none) or JSON members.
using Fields = std::vector<std::pair<std::string, std::string>>;

// "Record/Field" keys (next to each other) make a nested record.
std::string xmlOf(const std::string& root, const std::string& ns, const Fields& fields,
                  const std::string& prefix) {
  const std::string p = prefix.empty() ? "" : prefix + ":";
  std::string out =
      "<" + p + root + " xmlns" + (prefix.empty() ? "" : ":" + prefix) + "=\"" + ns + "\">";
  std::string open;  // the nested record being written
  for (const auto& [k, v] : fields) {
    const auto slash = k.find('/');
    const std::string record = slash == std::string::npos ? "" : k.substr(0, slash);
    if (record != open) {
      if (!open.empty()) out += "</" + p + open + ">";
      if (!record.empty()) out += "<" + p + record + ">";
      open = record;
    }
    const std::string field = k.substr(slash == std::string::npos ? 0 : slash + 1);
    out += "<" + p + field + ">";
    appendXmlEscaped(out, v);
    out += "</" + p + field + ">";
  }
  if (!open.empty()) out += "</" + p + open + ">";
  return out + "</" + p + root + ">";
}

std::string jsonOf(const Fields& fields) {
  std::string out = "{";
  std::string open;
  for (const auto& [k, v] : fields) {
    const auto slash = k.find('/');
    const std::string record = slash == std::string::npos ? "" : k.substr(0, slash);
    if (record != open) {
      if (!open.empty()) out += '}';
      if (out.size() > 1) out += ',';
      if (!record.empty()) {
        appendJsonString(out, record);
        out += ":{";
      }
      open = record;
    } else if (out.back() != '{') {
      out += ',';
    }
    appendJsonString(out, k.substr(slash == std::string::npos ? 0 : slash + 1));
    out += ':';
    appendJsonString(out, v);
  }
  if (!open.empty()) out += '}';
  return out + "}";
}

}  // namespace

OnestopSim::OnestopSim(OnestopSimSettings s) : s_(std::move(s)), journal_(s_.name) {
  if (s_.flavor == "folder") {
    for (const char* sub : {"inbox", "outbox", "done"}) fs::create_directories(s_.dir / sub);
    poller_ = std::thread([this] { pollFolder(); });
  }
  worker_ = std::thread([this] { work(); });
}

OnestopSim::~OnestopSim() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
  if (poller_.joinable()) poller_.join();
}

Poco::Net::HTTPRequestHandlerFactory* OnestopSim::factory() {
  return simFactory([this](const Poco::Net::HTTPServerRequest& request, const std::string& body) {
    Answer a = handle(request.getMethod(), request.getURI(), body);
    return SimAnswer{a.status, std::move(a.body), std::move(a.content_type)};
  });
}

std::string OnestopSim::localStatus(int national) const {
  static const std::map<int, std::string> kRest = {{2, "TIEP_NHAN"},     {3, "TU_CHOI"},
                                                   {4, "DANG_XU_LY"},    {5, "YEU_CAU_BO_SUNG"},
                                                   {9, "DA_CO_KET_QUA"}, {10, "DA_TRA_KET_QUA"}};
  static const std::map<int, std::string> kSoapCodes = {{2, "01"}, {3, "09"}, {4, "02"},
                                                        {5, "03"}, {6, "06"}, {7, "07"},
                                                        {8, "08"}, {9, "04"}, {10, "05"}};
  if (s_.flavor == "rest" && kRest.count(national)) return kRest.at(national);
  if (s_.flavor == "soap" && kSoapCodes.count(national)) return kSoapCodes.at(national);
  return std::to_string(national);
}

OnestopSim::Answer OnestopSim::handle(const std::string& method, const std::string& uri,
                                      const std::string& body) {
  const Poco::URI u(uri);
  const std::string path = u.getPath();
  if (path == "/sim/messages" && method == "GET") return {200, "application/json", journal_.json()};
  if (method != "POST" || s_.flavor == "folder") {
    return {404, "application/json", "{\"error\":\"no such service\"}"};
  }
  if (s_.flavor == "rest") {
    const std::string kind = kindOf(path.substr(path.find_last_of('/') + 1));
    if (kind.empty()) return {404, "application/json", "{\"error\":\"no such service\"}"};
    std::map<std::string, std::string> fields;
    try {
      auto o = Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
      for (const auto& [k, v] : *o) {
        if (v.isString() || v.isNumeric()) fields[k] = v.convert<std::string>();
        if (v.type() == typeid(Poco::JSON::Object::Ptr)) {  // an address
          for (const auto& [k2, v2] : *v.extract<Poco::JSON::Object::Ptr>()) {
            if (v2.isString() || v2.isNumeric()) fields[k + "/" + k2] = v2.convert<std::string>();
          }
        }
      }
    } catch (const std::exception& e) {
      return {400, "application/json", "{\"error\":\"JSON không hợp lệ\"}"};
    }
    const std::string why = receive(kind, fields);
    if (why == "exists") return {409, "application/json", "{\"error\":\"Hồ sơ đã tồn tại\"}"};
    if (!why.empty()) {
      std::string out = "{\"error\":";
      appendJsonString(out, why);
      return {400, "application/json", out + "}"};
    }
    return {200, "application/json", "{\"ok\":true}"};
  }
  // soap
  auto doc = XmlDocument::parse(body);
  if (!doc.ok()) {
    return {500, "text/xml; charset=utf-8", soapFault("Client", doc.error().message)};
  }
  xmlNodePtr env = (*doc)->root();
  xmlNodePtr soap_body = nullptr;
  for (xmlNodePtr c = env ? env->children : nullptr; c; c = c->next) {
    if (c->type == XML_ELEMENT_NODE && name(c) == "Body") soap_body = c;
  }
  xmlNodePtr message = firstElement(soap_body);
  const std::string kind = message ? kindOf(name(message)) : "";
  if (kind.empty()) {
    return {500, "text/xml; charset=utf-8", soapFault("Client", "Không hỗ trợ thông điệp này")};
  }
  std::string why = receive(kind, childTexts(message));
  if (why == "exists") why.clear();  // the legacy service takes it again silently
  if (!why.empty()) return {500, "text/xml; charset=utf-8", soapFault("Client", why)};
  return {200, "text/xml; charset=utf-8",
          std::string("<?xml version=\"1.0\" encoding=\"UTF-8\"?><s:Envelope xmlns:s=\"") + kSoap +
              "\"><s:Body><KetQua xmlns=\"urn:motcua:" + s_.name +
              "\"><Ma>00</Ma><MoTa>Thành công</MoTa></KetQua></s:Body></s:Envelope>"};
}

std::string OnestopSim::receive(const std::string& kind,
                                const std::map<std::string, std::string>& fields) {
  auto field = [&](const char* k) {
    auto it = fields.find(k);
    return it == fields.end() ? std::string() : it->second;
  };
  const std::string code = field("MaHoSo");
  std::lock_guard lock(mutex_);
  if (kind == "HoSo") {
    if (code.empty() || field("MaTTHC").empty()) return "Thiếu MaHoSo hoặc MaTTHC";
    if (dossiers_.count(code) != 0) return "exists";
    dossiers_.insert(code);
    received_[code] = fields;
    journal_.record("in", kind, code, field("TenTTHC") + " — " + field("ChuHoSo"));
    if (field("MaTTHC") == kWithFee) {
      const auto t = Clock::now();
      const auto step = std::chrono::milliseconds(s_.step_ms);
      jobs_.push_back({t + step, code, 2, "Tiếp nhận hồ sơ"});
      jobs_.push_back({t + 2 * step, code, 6, "Đề nghị nộp lệ phí 200.000 đồng"});
      jobs_.push_back({t + 2 * step, code, 0, "Lệ phí cấp Phiếu lý lịch tư pháp"});
      unpaid_.insert(code);  // now: the payment may be confirmed before the request returns
      std::stable_sort(jobs_.begin(), jobs_.end(),
                       [](const Job& a, const Job& b) { return a.at < b.at; });
      cv_.notify_all();
      return {};
    }
    plan(code, field("MaTTHC") == kMarriage, field("HinhThuc") == "1");
    return {};
  }
  if (kind == "TrangThai") {  // from lienthong: the fee is paid
    const std::string status = field("Ma");
    journal_.record("in", kind, code, status + " " + field("NoiDungXuLy"));
    if (status == localStatus(4) && unpaid_.erase(code) != 0) {
      const auto t = Clock::now();
      const auto step = std::chrono::milliseconds(s_.step_ms);
      jobs_.push_back({t + step, code, 4, "Thẩm định hồ sơ"});
      jobs_.push_back({t + 2 * step, code, 9, "Đã có kết quả giải quyết"});
      jobs_.push_back({t + 3 * step, code, 10, "Đã trả kết quả cho công dân"});
      std::stable_sort(jobs_.begin(), jobs_.end(),
                       [](const Job& a, const Job& b) { return a.at < b.at; });
      cv_.notify_all();
    }
    return {};
  }
  if (kind == "TraLoiBoSung") {
    journal_.record("in", kind, code, field("NoiDung"));
    if (waiting_.erase(code) != 0) {
      const auto t = Clock::now();
      const auto step = std::chrono::milliseconds(s_.step_ms);
      auto add = [&](int n, int status, const char* note) {
        jobs_.push_back({t + n * step, code, status, note});
      };
      add(1, 4, "Thẩm định hồ sơ bổ sung");
      add(2, 9, "Đã có kết quả giải quyết");
      add(3, 10, "Đã trả kết quả cho công dân");
      std::stable_sort(jobs_.begin(), jobs_.end(),
                       [](const Job& a, const Job& b) { return a.at < b.at; });
      cv_.notify_all();
    }
    return {};
  }
  journal_.record("in", kind, code.empty() ? field("MaPhanAnh") : code,
                  field("TieuDe").empty() ? field("GopY") : field("TieuDe"));
  return {};
}

void OnestopSim::plan(const std::string& code, bool ask_supplement, bool by_post) {
  const auto t = Clock::now();
  const auto step = std::chrono::milliseconds(s_.step_ms);
  auto add = [&](int n, int status, const char* note) {
    jobs_.push_back({t + n * step, code, status, note});
  };
  add(1, 2, "Tiếp nhận hồ sơ");
  add(2, 4, "Thẩm định hồ sơ");
  if (ask_supplement) {
    add(3, 5, "Đề nghị bổ sung giấy xác nhận tình trạng hôn nhân");
  } else if (by_post) {  // returned when the post delivers it
    add(3, 9, "Đã có kết quả giải quyết");
    add(3, -1, "Kết quả gửi trả qua bưu điện");
  } else {
    add(3, 9, "Đã có kết quả giải quyết");
    add(4, 10, "Đã trả kết quả cho công dân");
  }
  std::stable_sort(jobs_.begin(), jobs_.end(),
                   [](const Job& a, const Job& b) { return a.at < b.at; });
  cv_.notify_all();
}

void OnestopSim::work() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    if (jobs_.empty()) {
      cv_.wait(lock);
      continue;
    }
    if (Clock::now() < jobs_.front().at) {
      cv_.wait_until(lock, jobs_.front().at);
      continue;
    }
    Job job = jobs_.front();
    const std::string at = stamp();  // the event is when it was sent, not when it was taken
    lock.unlock();
    const bool sent = emit(job);
    lock.lock();
    if (!sent) {  // the daemon is away: the same again shortly, nothing after it first
      cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stop_; });
      continue;
    }
    jobs_.pop_front();
    if (job.status == 5) waiting_.insert(job.code);
    if (job.status == -1) {
      journal_.record("out", "KetQua", job.code, "kết quả gửi ký số, hồ sơ trả qua bưu điện", at);
      continue;
    }
    if (job.status == 0) {
      journal_.record("out", "ThanhToan", job.code, std::string("yêu cầu lệ phí ") + kFee + " đồng",
                      at);
      continue;
    }
    journal_.record("out", job.status == 5 ? "YeuCauBoSung" : "TrangThai", job.code,
                    localStatus(job.status) + " " + job.note, at);
  }
}

bool OnestopSim::emit(const Job& job) {
  const std::string at = now();
  if (job.status == -1) {  // the result: its document to be signed, then the HoSo saying so
    std::map<std::string, std::string> d;
    {
      std::lock_guard lock(mutex_);
      d = received_[job.code];
    }
    auto f = [&](const char* k) { return d.count(k) ? d.at(k) : std::string(); };
    std::string doc = "<GiayChungNhan xmlns=\"urn:motcua:ket-qua\"><MaHoSo>";
    appendXmlEscaped(doc, job.code);
    doc += "</MaHoSo><ThuTuc>";
    appendXmlEscaped(doc, f("TenTTHC"));
    doc += "</ThuTuc><ChuHoSo>";
    appendXmlEscaped(doc, f("ChuHoSo"));
    doc += "</ChuHoSo><NgayCap>" + at + "</NgayCap></GiayChungNhan>";
    if (!post(s_.result, doc, "application/xml; charset=utf-8", "", job.code, "KetQua", job.code)) {
      return false;
    }
    Fields hoso;
    for (const char* k : {"MaHoSo", "MaTTHC", "TenTTHC", "ChuHoSo", "LoaiDoiTuong", "SoDienThoai",
                          "NgayTiepNhan", "NgayHenTra", "KenhThucHien"}) {
      if (!f(k).empty()) hoso.emplace_back(k, f(k));
    }
    hoso.emplace_back("TrangThaiHoSo", localStatus(9));
    hoso.emplace_back("HinhThuc", "1");
    for (const auto& [k, v] : d) {  // where the result goes: the addresses it came with
      if (k.rfind("DiaChiChuHoSo/", 0) == 0 || k.rfind("DiaChiNhanKetQua/", 0) == 0) {
        hoso.emplace_back(k, v);
      }
    }
    hoso.emplace_back("NgayKetThucXuLy", at);
    return send("HoSo", hoso, job.code);
  }
  if (job.status == 0) {  // the fee, asked of lienthong's payment route
    std::string body = "{\"MaHoSo\":";
    appendJsonString(body, job.code);
    body += std::string(",\"SoTien\":\"") + kFee + "\",\"NoiDung\":";
    appendJsonString(body, job.note);
    body += "}";
    return post(s_.payment, body, "application/json; charset=utf-8", "", job.code, "ThanhToan");
  }
  Fields fields;
  std::string kind = "TrangThai";
  if (job.status == 5) {
    kind = "YeuCauBoSung";
    fields = {{"MaHoSo", job.code},
              {"MaYeuCau", "BS-1"},
              {"ThoiDiemYeuCau", at},
              {"NguoiYeuCau", s_.officer},
              {"NoiDungYeuCau", job.note}};
  } else {
    fields = {{"MaHoSo", job.code},
              {s_.flavor == "rest" ? "TrangThai" : "Ma", localStatus(job.status)},
              {"ThoiDiem", at},
              {"NguoiXuLy", s_.officer},
              {"ChucDanh", "Chuyên viên"},
              {"PhongBanXuLy", s_.department},
              {"NoiDungXuLy", job.note}};
  }
  return send(kind, fields, job.code);
}

bool OnestopSim::send(const std::string& kind, const Fields& fields, const std::string& code) {
  if (s_.flavor == "folder") {
    std::string file = kind + "-" + code + "-" + std::to_string(++emitted_) + ".xml";
    const fs::path tmp = s_.dir / "outbox" / ("." + file + ".tmp");
    {
      std::ofstream out(tmp, std::ios::binary);
      out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          << xmlOf(kind, "urn:motcua:" + s_.name, fields, "") << "\n";
      if (!out) return false;
    }
    std::error_code ec;
    fs::rename(tmp, s_.dir / "outbox" / file, ec);
    return !ec;
  }
  std::string path;
  std::string body;
  std::string content_type;
  std::string action;
  if (s_.flavor == "rest") {
    path = "/" + asciiLower(kind);
    body = jsonOf(fields);
    content_type = "application/json; charset=utf-8";
  } else {
    body = std::string("<?xml version=\"1.0\" encoding=\"UTF-8\"?><s:Envelope xmlns:s=\"") + kSoap +
           "\"><s:Body>" + xmlOf(kind, "urn:motcua:" + s_.name, fields, "mc") +
           "</s:Body></s:Envelope>";
    content_type = "text/xml; charset=utf-8";
    action = "\"urn:motcua#" + kind + "\"";
  }
  return post(s_.callback + path, body, content_type, action, code, kind);
}

bool OnestopSim::post(const std::string& url, const std::string& body,
                      const std::string& content_type, const std::string& soap_action,
                      const std::string& code, const std::string& kind,
                      const std::string& dossier_header) {
  try {
    const Poco::URI u(url);
    Poco::Net::HTTPClientSession session(u.getHost(), u.getPort());
    session.setTimeout(Poco::Timespan(5, 0));
    const std::string path = u.getPathEtc();
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, path.empty() ? "/" : path,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.setContentType(content_type);
    if (!soap_action.empty()) request.set("SOAPAction", soap_action);
    if (!dossier_header.empty()) request.set("MaHoSo", dossier_header);
    request.setContentLength(static_cast<std::streamsize>(body.size()));
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    std::string answer;
    Poco::StreamCopier::copyToString(in, answer);
    const int status = static_cast<int>(response.getStatus());
    if (status >= 400 && status < 500) {  // refused for good: told, and not sent again
      std::lock_guard lock(mutex_);
      journal_.record("refused", kind, code, std::to_string(status) + " " + answer);
      return true;
    }
    return status >= 200 && status < 300;
  } catch (const std::exception&) {
    return false;
  }
}

void OnestopSim::pollFolder() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    lock.unlock();
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(s_.dir / "inbox", ec)) {
      const std::string n = e.path().filename().string();
      if (e.is_regular_file() && n.ends_with(".xml") && n.front() != '.') files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      std::ostringstream text;
      text << in.rdbuf();
      if (auto doc = XmlDocument::parse(text.str()); doc.ok()) {
        xmlNodePtr root = (*doc)->root();
        const std::string kind = kindOf(name(root));
        if (!kind.empty()) receive(kind, childTexts(root));
      }
      fs::rename(f, s_.dir / "done" / f.filename(), ec);
    }
    lock.lock();
    cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_; });
  }
}

}  // namespace lienthong::sim

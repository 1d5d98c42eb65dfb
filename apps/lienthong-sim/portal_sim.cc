#include "apps/lienthong-sim/portal_sim.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <sstream>

#include "core/dossier_code.h"
#include "core/json_text.h"

namespace lienthong::sim {
namespace {

using Poco::JSON::Object;

std::string text(const Poco::Dynamic::Var& v) {
  if (v.isEmpty()) return {};
  try {
    return v.convert<std::string>();
  } catch (const Poco::Exception&) {
    return {};
  }
}

std::string stringify(const Poco::Dynamic::Var& v) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(v, out);
  return out.str();
}

std::string answer(const std::string& code, const std::string& message) {
  std::string out = "{\"error_code\":";
  appendJsonString(out, code);
  out += ",\"message\":";
  appendJsonString(out, message);
  return out + "}";
}

// The catalogue of the simulated portal: procedures, agencies and fields of a province.
const char* const kProcedures = R"([
 {"MaTTHC":"1.001612","TenTTHC":"Đăng ký thành lập hộ kinh doanh","MaLinhVuc":"G09-TL01",
  "TenLinhVuc":"Thành lập và hoạt động của hộ kinh doanh","MucDo":"toan-trinh","SoNgay":"3",
  "CoQuanThucHien":["000.00.01.H22"]},
 {"MaTTHC":"1.001193","TenTTHC":"Đăng ký khai sinh","MaLinhVuc":"G09-HT01",
  "TenLinhVuc":"Hộ tịch","MucDo":"toan-trinh","SoNgay":"1","CoQuanThucHien":["000.00.01.H22"]},
 {"MaTTHC":"1.000894","TenTTHC":"Đăng ký kết hôn","MaLinhVuc":"G09-HT01",
  "TenLinhVuc":"Hộ tịch","MucDo":"mot-phan","SoNgay":"5","CoQuanThucHien":["000.00.01.H22"]},
 {"MaTTHC":"2.000908","TenTTHC":"Cấp bản sao trích lục hộ tịch","MaLinhVuc":"G09-HT01",
  "TenLinhVuc":"Hộ tịch","MucDo":"toan-trinh","SoNgay":"1","CoQuanThucHien":["000.20.25.H12"]}
])";
const char* const kAgencies = R"([
 {"MaCoQuan":"000.00.01.H22","TenCoQuan":"UBND phường Trần Phú","MaCoQuanCha":"000.00.00.H22","Cap":"4"},
 {"MaCoQuan":"000.20.25.H12","TenCoQuan":"Sở Tư pháp tỉnh Hà Giang","MaCoQuanCha":"000.00.00.H12","Cap":"2"}
])";
const char* const kFields = R"([
 {"MaLinhVuc":"G09-TL01","TenLinhVuc":"Thành lập và hoạt động của hộ kinh doanh"},
 {"MaLinhVuc":"G09-HT01","TenLinhVuc":"Hộ tịch"}
])";

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(PortalSim& sim) : sim_(sim) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    std::string body;
    Poco::StreamCopier::copyToString(request.stream(), body);
    auto [status, json] =
        sim_.handle(request.getMethod(), request.getURI(), body, request.get("dstcode", ""));
    response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
    response.setContentType("application/json; charset=utf-8");
    response.setContentLength(static_cast<std::streamsize>(json.size()));
    response.send() << json;
  }

 private:
  PortalSim& sim_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(PortalSim& sim) : sim_(sim) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Handler(sim_);
  }

 private:
  PortalSim& sim_;
};

}  // namespace

Poco::Net::HTTPRequestHandlerFactory* PortalSim::factory() { return new Factory(*this); }

std::pair<int, std::string> PortalSim::handle(const std::string& method, const std::string& uri,
                                              const std::string& body, const std::string& dstcode) {
  const Poco::URI u(uri);
  const std::string path = u.getPath();
  if (path == "/sim/dossiers" && method == "GET") return {200, dossiersJson()};
  if (path == "/sim/outage" && method == "POST") {
    int seconds = 0;
    for (const auto& [k, v] : u.getQueryParameters()) {
      if (k == "seconds") seconds = std::stoi(v);
    }
    std::lock_guard lock(mutex_);
    outage_until_ = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    return {200, answer("0", "outage for " + std::to_string(seconds) + " s")};
  }
  {
    std::lock_guard lock(mutex_);
    if (std::chrono::steady_clock::now() < outage_until_) {
      return {503, answer("503", "Hệ thống đang bảo trì")};
    }
  }
  if (method != "POST") return {405, answer("405", "POST only")};
  if (path == "/adapter/auth") {
    Object::Ptr o;
    try {
      o = Poco::JSON::Parser().parse(body).extract<Object::Ptr>();
    } catch (const std::exception&) {
      return {400, answer("400", "JSON không hợp lệ")};
    }
    if (dstcode != s_.dstcode || text(o->get("username")) != s_.username ||
        text(o->get("password")) != s_.password) {
      return {200, answer("401", "Sai thông tin đăng nhập")};
    }
    std::lock_guard lock(mutex_);
    const std::string session = "phien-" + std::to_string(++next_session_);
    sessions_[session] = 0;
    std::string out = "{\"error_code\":0,\"session\":";
    appendJsonString(out, session);
    return {200, out + "}"};
  }
  if (path == "/adapter") return {200, call(body)};
  return {404, answer("404", "không có dịch vụ " + path)};
}

std::string PortalSim::call(const std::string& body) {
  Object::Ptr o;
  try {
    o = Poco::JSON::Parser().parse(body).extract<Object::Ptr>();
  } catch (const std::exception&) {
    return answer("400", "JSON không hợp lệ");
  }
  std::lock_guard lock(mutex_);
  auto session = sessions_.find(text(o->get("session")));
  if (session == sessions_.end() || (s_.session_calls > 0 && session->second >= s_.session_calls)) {
    if (session != sessions_.end()) sessions_.erase(session);
    return answer("-1", "Phiên làm việc đã hết hạn");
  }
  ++session->second;
  const std::string service = text(o->get("service"));
  auto items = [&]() -> std::vector<Object::Ptr> {
    std::vector<Object::Ptr> out;
    if (!o->has("data") || o->get("data").type() != typeid(Poco::JSON::Array::Ptr)) return out;
    auto a = o->getArray("data");
    for (std::size_t i = 0; i < a->size(); ++i) {
      if (auto item = a->getObject(static_cast<unsigned>(i))) out.push_back(item);
    }
    return out;
  };
  if (service == "DongBoHoSoMC") {
    const bool updating = text(o->get("isUpdating")) == "True";
    const auto dossiers = items();
    if (dossiers.empty()) return answer("2", "Thiếu dữ liệu hồ sơ (data)");
    for (const auto& d : dossiers) {
      for (const char* field : {"MaHoSo", "MaTTHC", "ChuHoSo", "NgayTiepNhan", "TrangThaiHoSo"}) {
        if (text(d->get(field)).empty()) {
          return answer("2", std::string("Thiếu trường bắt buộc: ") + field);
        }
      }
      const std::string code = text(d->get("MaHoSo"));
      if (auto parsed = dossier::parse(code); !parsed.ok()) {
        return answer("3", "Mã hồ sơ không hợp lệ: " + parsed.error().message);
      }
      if (dossiers_.count(code) != 0 && !updating) {
        return answer("1", "Hồ sơ " + code + " đã tồn tại");
      }
    }
    for (const auto& d : dossiers) {
      const std::string code = text(d->get("MaHoSo"));
      dossiers_[code] = stringify(d);
      status_[code] = text(d->get("TrangThaiHoSo"));
    }
    return answer("0", "Đồng bộ thành công");
  }
  if (service == "CapNhatTienDoHoSoMC") {
    const auto updates = items();
    if (updates.empty()) return answer("2", "Thiếu dữ liệu tiến độ (data)");
    for (const auto& p : updates) {
      const std::string code = text(p->get("MaHoSo"));
      if (dossiers_.count(code) == 0) return answer("4", "Không tìm thấy hồ sơ " + code);
    }
    for (const auto& p : updates) {
      const std::string code = text(p->get("MaHoSo"));
      progress_[code].push_back(stringify(p));
      if (!text(p->get("TrangThai")).empty()) status_[code] = text(p->get("TrangThai"));
    }
    return answer("0", "Cập nhật tiến độ thành công");
  }
  if (service == "TraCuuHoSo") {
    const std::string code = text(o->get("MaHoSo"));
    auto d = dossiers_.find(code);
    if (d == dossiers_.end()) return answer("4", "Không tìm thấy hồ sơ " + code);
    auto dossier = Poco::JSON::Parser().parse(d->second).extract<Object::Ptr>();
    dossier->set("TrangThaiHoSo", status_[code]);
    return "{\"error_code\":\"0\",\"data\":[" + stringify(dossier) + "]}";
  }
  if (service == "LayDanhSachTTHC") {
    return std::string("{\"error_code\":\"0\",\"data\":") + kProcedures + "}";
  }
  if (service == "LayThuTuc") {
    const std::string wanted = text(o->get("MaTTHC"));
    auto all = Poco::JSON::Parser().parse(kProcedures).extract<Poco::JSON::Array::Ptr>();
    for (std::size_t i = 0; i < all->size(); ++i) {
      auto p = all->getObject(static_cast<unsigned>(i));
      if (text(p->get("MaTTHC")) == wanted) {
        return "{\"error_code\":\"0\",\"data\":[" + stringify(p) + "]}";
      }
    }
    return answer("4", "Không tìm thấy thủ tục " + wanted);
  }
  if (service == "LayDanhMucCoQuan") {
    return std::string("{\"error_code\":\"0\",\"data\":") + kAgencies + "}";
  }
  if (service == "LayDanhMucLinhVuc") {
    return std::string("{\"error_code\":\"0\",\"data\":") + kFields + "}";
  }
  return answer("5", "Dịch vụ không được hỗ trợ: " + service);
}

std::string PortalSim::dossiersJson() {
  std::lock_guard lock(mutex_);
  std::string out = "{\"dossiers\":[";
  bool first = true;
  for (const auto& [code, dossier] : dossiers_) {
    if (!first) out += ',';
    first = false;
    out += "{\"MaHoSo\":";
    appendJsonString(out, code);
    out += ",\"TrangThaiHoSo\":";
    appendJsonString(out, status_[code]);
    out += ",\"dossier\":" + dossier + ",\"progress\":[";
    const auto& steps = progress_[code];
    for (std::size_t i = 0; i < steps.size(); ++i) out += (i ? "," : "") + steps[i];
    out += "]}";
  }
  return out + "]}";
}

}  // namespace lienthong::sim

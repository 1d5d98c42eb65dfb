#include "apps/lienthong-sim/portal_sim.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "apps/lienthong-sim/sim_http.h"
#include "apps/lienthong-sim/sim_time.h"
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
  "TenLinhVuc":"Hộ tịch","MucDo":"toan-trinh","SoNgay":"1",
  "CoQuanThucHien":["000.00.01.H22","000.00.12.H49"]},
 {"MaTTHC":"1.000894","TenTTHC":"Đăng ký kết hôn","MaLinhVuc":"G09-HT01",
  "TenLinhVuc":"Hộ tịch","MucDo":"mot-phan","SoNgay":"5",
  "CoQuanThucHien":["000.00.12.H49","000.00.01.H22"]},
 {"MaTTHC":"2.001023","TenTTHC":"Cấp Phiếu lý lịch tư pháp","MaLinhVuc":"G09-LL01",
  "TenLinhVuc":"Lý lịch tư pháp","MucDo":"toan-trinh","SoNgay":"10","LePhi":"200000",
  "CoQuanThucHien":["000.20.25.H12"]},
 {"MaTTHC":"2.000908","TenTTHC":"Cấp bản sao trích lục hộ tịch","MaLinhVuc":"G09-HT01",
  "TenLinhVuc":"Hộ tịch","MucDo":"toan-trinh","SoNgay":"1","CoQuanThucHien":["000.20.25.H12"]}
])";
const char* const kAgencies = R"([
 {"MaCoQuan":"000.00.01.H22","TenCoQuan":"UBND phường Trần Phú","MaCoQuanCha":"000.00.00.H22","Cap":"4"},
 {"MaCoQuan":"000.20.25.H12","TenCoQuan":"Sở Tư pháp tỉnh Hà Giang","MaCoQuanCha":"000.00.00.H12","Cap":"2"},
 {"MaCoQuan":"000.00.12.H49","TenCoQuan":"UBND xã Tam Xuân","MaCoQuanCha":"000.00.00.H49","Cap":"4"}
])";
// Citizens of the samples, one per dossier in turn.
const char* const kCitizens[][4] = {
    {"Nguyễn Thị Hồng Nhung", "001190012345", "0912345678", "nhung.nth@example.vn"},
    {"Lê Minh Tuấn", "031088004567", "0903111222", "tuan.lm@example.vn"},
    {"Phạm Thị Thu Hà", "049195007788", "0935123456", "ha.ptt@example.vn"},
    {"Đặng Quốc Việt", "002087009911", "0987654321", "viet.dq@example.vn"},
};
// Their addresses (config/don-vi-hanh-chinh.csv, the sample units): ChiTiet, MaXa, MaHuyen,
// MaTinh; two written before 2025 (with a district and old codes), two after.
const char* const kAddresses[][4] = {
    {"Số 12, tổ 5", "90002", "971", "97"},
    {"Số 8, đường Lê Lợi", "95001", "", "97"},
    {"Thôn Trung Chánh", "90011", "981", "98"},
    {"Xóm Bãi Dài", "90021", "", "99"},
};
const char* const kFields = R"([
 {"MaLinhVuc":"G09-TL01","TenLinhVuc":"Thành lập và hoạt động của hộ kinh doanh"},
 {"MaLinhVuc":"G09-HT01","TenLinhVuc":"Hộ tịch"}
])";

}  // namespace

PortalSim::PortalSim(PortalSimSettings s) : s_(std::move(s)) {
  if (!s_.push.empty()) pusher_ = std::thread([this] { pushAll(); });
}

PortalSim::~PortalSim() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  push_cv_.notify_all();
  if (pusher_.joinable()) pusher_.join();
}

Poco::Net::HTTPRequestHandlerFactory* PortalSim::factory() {
  return simFactory([this](const Poco::Net::HTTPServerRequest& request, const std::string& body) {
    auto [status, json] =
        handle(request.getMethod(), request.getURI(), body, request.get("dstcode", ""));
    return SimAnswer{status, std::move(json)};
  });
}

void PortalSim::journey(const std::string& code, const std::string& event) {
  std::string e = "{\"at\":";
  appendJsonString(e, stamp());
  e += ",\"event\":";
  appendJsonString(e, event);
  journey_[code].push_back(e + "}");
}

void PortalSim::queuePush(Push p) {
  pushes_.push_back(std::move(p));
  std::stable_sort(pushes_.begin(), pushes_.end(),
                   [](const Push& a, const Push& b) { return a.at < b.at; });
  push_cv_.notify_all();
}

void PortalSim::pushAll() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    if (pushes_.empty()) {
      push_cv_.wait(lock);
      continue;
    }
    if (std::chrono::steady_clock::now() < pushes_.front().at) {
      push_cv_.wait_until(lock, pushes_.front().at);
      continue;
    }
    const Push p = pushes_.front();
    lock.unlock();
    int status = 0;
    std::string answer;
    try {
      const Poco::URI u(s_.push);
      Poco::Net::HTTPClientSession session(u.getHost(), u.getPort());
      session.setTimeout(Poco::Timespan(5, 0));
      Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, u.getPath() + p.path,
                                     Poco::Net::HTTPMessage::HTTP_1_1);
      request.setContentType("application/json; charset=utf-8");
      request.setContentLength(static_cast<std::streamsize>(p.body.size()));
      session.sendRequest(request) << p.body;
      Poco::Net::HTTPResponse response;
      Poco::StreamCopier::copyToString(session.receiveResponse(response), answer);
      status = static_cast<int>(response.getStatus());
    } catch (const std::exception&) {
      status = 0;
    }
    lock.lock();
    if (status == 0 || status >= 500) {  // down or busy: again soon, nothing after it first
      push_cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stop_; });
      continue;
    }
    pushes_.erase(pushes_.begin());
    journey(p.code, "gửi " + p.path + " sang lienthong: HTTP " + std::to_string(status) +
                        (status >= 400 ? " " + answer : ""));
  }
}

std::pair<int, std::string> PortalSim::submit(const std::string& procedure,
                                              const std::string& agency,
                                              std::optional<int> due_hours,
                                              const std::string& channel,
                                              const std::string& by_post) {
  auto all = Poco::JSON::Parser().parse(kProcedures).extract<Poco::JSON::Array::Ptr>();
  Object::Ptr p;
  for (std::size_t i = 0; i < all->size(); ++i) {
    auto candidate = all->getObject(static_cast<unsigned>(i));
    if (procedure.empty() || text(candidate->get("MaTTHC")) == procedure) {
      p = candidate;
      break;
    }
  }
  if (!p) return {404, answer("4", "Không tìm thấy thủ tục " + procedure)};
  auto agencies = p->getArray("CoQuanThucHien");
  std::string where = agency.empty() ? text(agencies->get(0)) : agency;
  bool serves = false;
  for (std::size_t i = 0; i < agencies->size(); ++i) serves |= text(agencies->get(i)) == where;
  if (!serves) return {400, answer("5", "Cơ quan " + where + " không thực hiện thủ tục này")};
  const auto now = std::chrono::system_clock::now();
  const std::string at = dossier::nationalTime(now);
  const int days = std::atoi(text(p->get("SoNgay")).c_str());
  const std::string due =
      dossier::nationalTime(now + std::chrono::hours(due_hours ? *due_hours : 24 * days));
  std::lock_guard lock(mutex_);
  const std::string day = at.substr(2, 6);
  // A day's numbers go on from the time of day, so that a restarted simulator does not
  // hand out a code again.
  auto [last, fresh] = sequence_.try_emplace(where + "-" + day, 0);
  if (fresh) {
    last->second = (std::stoi(at.substr(8, 2)) * 3600 + std::stoi(at.substr(10, 2)) * 60 +
                    std::stoi(at.substr(12, 2))) /
                   10;
  }
  const int seq = ++last->second;
  char number[8];
  std::snprintf(number, sizeof number, "%04d", seq % 100000);
  const std::string code = where + "-" + day + "-" + number;
  const auto& who = kCitizens[(dossiers_.size()) % 4];
  Object::Ptr d = new Object;
  d->set("MaHoSo", code);
  d->set("MaTTHC", text(p->get("MaTTHC")));
  d->set("TenTTHC", text(p->get("TenTTHC")));
  d->set("MaLinhVuc", text(p->get("MaLinhVuc")));
  d->set("TenLinhVuc", text(p->get("TenLinhVuc")));
  d->set("ChuHoSo", who[0]);
  d->set("LoaiDoiTuong", "1");
  d->set("SoGiayToChuHoSo", who[1]);
  d->set("SoDienThoai", who[2]);
  d->set("Email", who[3]);
  d->set("TrichYeuHoSo", text(p->get("TenTTHC")) + " — " + who[0]);
  d->set("NgayNopHoSo", at);
  d->set("NgayTiepNhan", at);
  d->set("NgayHenTra", due);
  d->set("TrangThaiHoSo", "1");
  d->set("KenhThucHien", channel.empty() ? "2" : channel);  // 3: sent by post
  if (!by_post.empty()) d->set("HinhThuc", by_post);        // 1: the result by post
  d->set("NoiNopHoSo", "Cổng Dịch vụ công quốc gia");
  const auto& where_lives = kAddresses[(dossiers_.size()) % 4];
  Object::Ptr address = new Object;
  address->set("ChiTiet", where_lives[0]);
  address->set("MaXa", where_lives[1]);
  if (*where_lives[2] != 0) address->set("MaHuyen", where_lives[2]);
  address->set("MaTinh", where_lives[3]);
  d->set("DiaChiChuHoSo", address);
  Poco::JSON::Array::Ptr files = new Poco::JSON::Array;
  Object::Ptr f = new Object;
  f->set("TenTep", "to-khai.pdf");
  f->set("LoaiTep", "application/pdf");
  f->set("NoiDung", "JVBERi0xLjQKJcTl8uXr");
  files->add(f);
  d->set("TaiLieuNop", files);
  const std::string json = stringify(d);
  dossiers_[code] = json;
  status_[code] = "1";
  journey(code, "Công dân " + std::string(who[0]) + " nộp hồ sơ " + text(p->get("TenTTHC")) +
                    " trên Cổng DVCQG (trạng thái 1)");
  if (!s_.push.empty()) {
    queuePush({std::chrono::steady_clock::now(), "/hoso", code, "{\"data\":[" + json + "]}"});
  }
  std::string out = "{\"error_code\":\"0\",\"MaHoSo\":";
  appendJsonString(out, code);
  return {200, out + "}"};
}

std::pair<int, std::string> PortalSim::handle(const std::string& method, const std::string& uri,
                                              const std::string& body, const std::string& dstcode) {
  const Poco::URI u(uri);
  const std::string path = u.getPath();
  if (path == "/sim/dossiers" && method == "GET") return {200, dossiersJson()};
  std::map<std::string, std::string> query;
  for (const auto& [k, v] : u.getQueryParameters()) query[k] = v;
  if (path.rfind("/adapter", 0) == 0) {  // an outage is of the adapter, not of the citizens
    std::lock_guard lock(mutex_);
    if (std::chrono::steady_clock::now() < outage_until_) {
      return {503, answer("503", "Hệ thống đang bảo trì")};
    }
  }
  if (method != "POST") return {405, answer("405", "POST only")};
  if (path == "/sim/submit" && method == "POST") {
    // due-hours: the appointment that many hours from now (negative: already passed), in
    // place of the procedure's days.
    std::optional<int> due;
    if (!query["due-hours"].empty()) due = std::atoi(query["due-hours"].c_str());
    return submit(query["procedure"], query["agency"], due, query["channel"], query["return"]);
  }
  if (path == "/sim/feedback" && method == "POST") {
    const std::string code = query["MaHoSo"];
    std::lock_guard lock(mutex_);
    if (dossiers_.count(code) == 0) return {404, answer("4", "Không tìm thấy hồ sơ " + code)};
    if (s_.push.empty()) return {409, answer("6", "no push URL")};
    auto d = Poco::JSON::Parser().parse(dossiers_[code]).extract<Object::Ptr>();
    std::string feedback = "{\"MaPhanAnh\":";
    appendJsonString(feedback, "PA-" + code);
    feedback += ",\"MaCoQuan\":";
    appendJsonString(feedback, code.substr(0, code.find('-')));
    feedback += ",\"MaHoSo\":";
    appendJsonString(feedback, code);
    feedback += ",\"NguoiGui\":{\"HoTen\":";
    appendJsonString(feedback, text(d->get("ChuHoSo")));
    feedback += ",\"SoDienThoai\":";
    appendJsonString(feedback, text(d->get("SoDienThoai")));
    feedback +=
        "},\"TieuDe\":\"Đề nghị cho biết tiến độ giải quyết\","
        "\"NoiDung\":\"Tôi đã nộp hồ sơ trực tuyến, đề nghị cơ quan cho biết khi nào có "
        "kết quả.\",\"ThoiDiemGui\":";
    appendJsonString(feedback, dossier::nationalTime(std::chrono::system_clock::now()));
    feedback += ",\"CongKhai\":\"0\"}";
    journey(code, "Công dân gửi phản ánh về hồ sơ trên Cổng DVCQG");
    queuePush({std::chrono::steady_clock::now(), "/phananh", code, feedback});
    return {200, answer("0", "Đã gửi phản ánh")};
  }
  if (path == "/sim/outage" && method == "POST") {
    int seconds = 0;
    for (const auto& [k, v] : u.getQueryParameters()) {
      if (k == "seconds") seconds = std::stoi(v);
    }
    std::lock_guard lock(mutex_);
    outage_until_ = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    return {200, answer("0", "outage for " + std::to_string(seconds) + " s")};
  }

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
      journey(code, std::string("DongBoHoSoMC") + (updating ? " (cập nhật)" : "") +
                        ": trạng thái " + status_[code]);
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
      const std::string st = text(p->get("TrangThai"));
      const bool new_request = st == "5" && status_[code] != "5";  // not a note while at 5
      if (!st.empty()) status_[code] = st;
      std::string who = text(p->get("NguoiXuLy"));
      if (!text(p->get("PhongBanXuLy")).empty()) who += ", " + text(p->get("PhongBanXuLy"));
      journey(code, "CapNhatTienDoHoSoMC: trạng thái " + st + " — " + text(p->get("NoiDungXuLy")) +
                        (who.empty() ? "" : " (" + who + ")"));
      if (new_request && !s_.push.empty()) {  // the citizen answers the supplement request
        std::string request = "BS-1";
        const std::string note = text(p->get("NoiDungXuLy"));
        if (auto open = note.find('['); open != std::string::npos) {
          if (auto close = note.find(']', open); close != std::string::npos) {
            request = note.substr(open + 1, close - open - 1);
          }
        }
        std::string reply = "{\"MaHoSo\":";
        appendJsonString(reply, code);
        reply += ",\"MaYeuCau\":";
        appendJsonString(reply, request);
        reply += ",\"ThoiDiemTraLoi\":";
        appendJsonString(reply, dossier::nationalTime(std::chrono::system_clock::now()));
        reply +=
            ",\"NoiDung\":\"Gửi bổ sung giấy tờ theo yêu cầu\",\"TaiLieuNop\":[{"
            "\"TenTep\":\"giay-bo-sung.pdf\",\"NoiDung\":\"JVBERi0xLjQK\"}]}";
        queuePush({std::chrono::steady_clock::now() + std::chrono::milliseconds(s_.answer_ms),
                   "/traloibosung", code, reply});
        journey(code, "Công dân trả lời yêu cầu bổ sung " + request + " trên Cổng DVCQG");
      }
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
    out += "],\"journey\":[";
    const auto& events = journey_[code];
    for (std::size_t i = 0; i < events.size(); ++i) out += (i ? "," : "") + events[i];
    out += "]}";
  }
  return out + "]}";
}

}  // namespace lienthong::sim

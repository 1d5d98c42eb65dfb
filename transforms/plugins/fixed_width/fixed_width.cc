// The fixed-width dossier export converter: a transformation plugin (include/lienthong/
// plugin.h) built with the project. It reads the legacy one-stop export, one dossier per
// line, Vietnamese text in TCVN3 or Windows-1258, and writes the canonical dossier list:
//
//   columns   field                      becomes
//   1-13      agency code                MaCoQuan
//   14-38     dossier code               MaHoSo
//   39-78     applicant name             ChuHoSo (converted to UTF-8, trailing blanks cut)
//   79-86     receipt date, ddMMyyyy     NgayTiepNhan  yyyyMMdd000000
//   87-94     appointment date, ddMMyyyy NgayHenTra    yyyyMMdd000000
//   95-96     status code, 1-10          TrangThaiHoSo
//
// Settings: `encoding: tcvn3 | windows-1258` (default windows-1258). Blank lines are
// skipped; a line of another length, a bad date or status is an invalid message naming
// the line.

#include <iconv.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "lienthong/plugin.h"

namespace {

struct Converter {
  std::string charset;  // iconv name
};

constexpr std::size_t kAgency = 13, kDossier = 25, kName = 40, kDate = 8, kStatus = 2;
constexpr std::size_t kRecord = kAgency + kDossier + kName + kDate + kDate + kStatus;

void setError(char* error, std::size_t size, const std::string& text) {
  if (size == 0) return;
  std::snprintf(error, size, "%s", text.c_str());
}

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return std::string(s.substr(b, e - b));
}

bool toUtf8(const std::string& charset, std::string_view in, std::string& out) {
  iconv_t cd = iconv_open("UTF-8", charset.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return false;
  out.assign(in.size() * 4 + 16, '\0');
  char* src = const_cast<char*>(in.data());
  std::size_t src_left = in.size();
  char* dst = out.data();
  std::size_t dst_left = out.size();
  const std::size_t r = iconv(cd, &src, &src_left, &dst, &dst_left);
  iconv_close(cd);
  if (r == static_cast<std::size_t>(-1)) return false;
  out.resize(out.size() - dst_left);
  return true;
}

// ddMMyyyy -> yyyyMMdd000000, or "" when not a date.
std::string date(std::string_view d) {
  for (char c : d) {
    if (c < '0' || c > '9') return "";
  }
  const int day = std::stoi(std::string(d.substr(0, 2)));
  const int month = std::stoi(std::string(d.substr(2, 2)));
  const int year = std::stoi(std::string(d.substr(4, 4)));
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1 || day > kDays[month - 1] || year < 1900) return "";
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month == 2 && day == 29 && !leap) return "";
  return std::string(d.substr(4, 4)) + std::string(d.substr(2, 2)) + std::string(d.substr(0, 2)) +
         "000000";
}

void appendEscaped(std::string& out, const std::string& text) {
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
      default:
        out += c;
    }
  }
}

void* create(const lt_setting* settings, std::size_t count, char* error, std::size_t size) {
  auto* c = new Converter{"WINDOWS-1258"};
  for (std::size_t i = 0; i < count; ++i) {
    const std::string key = settings[i].key, value = settings[i].value;
    if (key == "encoding") {
      if (value == "tcvn3") {
        c->charset = "TCVN5712-1";
      } else if (value == "windows-1258") {
        c->charset = "WINDOWS-1258";
      } else {
        setError(error, size, "encoding must be tcvn3 or windows-1258, not '" + value + "'");
        delete c;
        return nullptr;
      }
    } else {
      setError(error, size, "unknown setting '" + key + "' (known: encoding)");
      delete c;
      return nullptr;
    }
  }
  return c;
}

void destroy(void* instance) { delete static_cast<Converter*>(instance); }

int transform(void* instance, const char* body, std::size_t body_size, lt_sink* out, char* error,
              std::size_t size) {
  const auto* c = static_cast<const Converter*>(instance);
  std::string xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DanhSachHoSo xmlns=\"urn:lienthong:hoso:1\">\n";
  std::string_view text(body, body_size);
  std::size_t line_no = 0, records = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) continue;
    const std::string where = "line " + std::to_string(line_no) + ": ";
    if (line.size() != kRecord) {
      setError(error, size,
               where + "expected " + std::to_string(kRecord) + " bytes, found " +
                   std::to_string(line.size()));
      return LT_INVALID_MESSAGE;
    }
    std::size_t at = 0;
    auto field = [&](std::size_t width) {
      std::string_view f = line.substr(at, width);
      at += width;
      return f;
    };
    const std::string agency = trim(field(kAgency));
    const std::string dossier = trim(field(kDossier));
    std::string name;
    if (!toUtf8(c->charset, field(kName), name)) {
      setError(error, size, where + "applicant name is not valid " + c->charset);
      return LT_INVALID_MESSAGE;
    }
    name = trim(name);
    const std::string received = date(field(kDate));
    const std::string due = date(field(kDate));
    const std::string status = trim(field(kStatus));
    if (agency.empty() || dossier.empty()) {
      setError(error, size, where + "agency code and dossier code are required");
      return LT_INVALID_MESSAGE;
    }
    if (received.empty() || due.empty()) {
      setError(error, size, where + "dates must be ddMMyyyy");
      return LT_INVALID_MESSAGE;
    }
    int code = 0;
    for (char ch : status) code = (ch >= '0' && ch <= '9') ? code * 10 + (ch - '0') : -100;
    if (status.empty() || code < 1 || code > 10) {
      setError(error, size, where + "status must be 1 to 10, not '" + status + "'");
      return LT_INVALID_MESSAGE;
    }
    xml += "  <HoSo>\n    <MaCoQuan>";
    appendEscaped(xml, agency);
    xml += "</MaCoQuan>\n    <MaHoSo>";
    appendEscaped(xml, dossier);
    xml += "</MaHoSo>\n    <ChuHoSo>";
    appendEscaped(xml, name);
    xml += "</ChuHoSo>\n    <NgayTiepNhan>" + received + "</NgayTiepNhan>\n    <NgayHenTra>" + due +
           "</NgayHenTra>\n    <TrangThaiHoSo>" + std::to_string(code) +
           "</TrangThaiHoSo>\n  </HoSo>\n";
    ++records;
  }
  xml += "</DanhSachHoSo>\n";
  out->append_body(out->ctx, xml.data(), xml.size());
  out->set_content_type(out->ctx, "application/xml");
  out->set_header(out->ctx, "SoHoSo", std::to_string(records).c_str());
  return LT_OK;
}

const lt_plugin_info kInfo = {
    LT_PLUGIN_ABI_VERSION, "fixed-width-dossier", LT_PLUGIN_TRANSFORM, create, destroy, transform};

}  // namespace

extern "C" __attribute__((visibility("default"))) const lt_plugin_info* lienthong_plugin_v1() {
  return &kInfo;
}

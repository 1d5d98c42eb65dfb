#include "adapters/portal/portal_mapping.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <map>
#include <vector>

#include "core/json_text.h"
#include "core/xml_document.h"

namespace lienthong::adapters::portal {
namespace {

// A list wrapper of the dossier family and the name of its items.
const std::map<std::string, std::string, std::less<>>& wrappers() {
  static const std::map<std::string, std::string, std::less<>> kWrappers = {
      {"TaiLieuNop", "TaiLieu"},
      {"DanhSachLePhi", "LePhi"},
      {"DanhSachHoSoBoSung", "HoSoBoSung"},
      {"DanhSachGiayToKetQua", "GiayToKetQua"},
      {"DinhDanhCHS", "DinhDanh"},
      {"DanhSachGiayToBoSung", "TaiLieu"},
      {"GiayToCanBoSung", "GiayTo"},
      {"TepDinhKem", "Tep"},
      {"TieuChi", "DanhGiaTieuChi"},
  };
  return kWrappers;
}

// The fields of each record, in the schema's order (sequences need it; xs:all takes any).
const std::map<std::string, std::vector<std::string>, std::less<>>& fields() {
  static const std::map<std::string, std::vector<std::string>, std::less<>> kFields = {
      {"HoSo",
       {"MaHoSo",
        "MaCoQuan",
        "MaTTHC",
        "TenTTHC",
        "MaLinhVuc",
        "TenLinhVuc",
        "SoBienNhan",
        "ChuHoSo",
        "LoaiDoiTuong",
        "MaDoiTuong",
        "ThongTinKhac",
        "Email",
        "Fax",
        "SoDienThoai",
        "TrichYeuHoSo",
        "NgayTiepNhan",
        "NgayHenTra",
        "TrangThaiHoSo",
        "NgayTra",
        "ThongTinTra",
        "HinhThuc",
        "NgayKetThucXuLy",
        "DonViXuLy",
        "GhiChu",
        "KenhThucHien",
        "SoGiayToChuHoSo",
        "NoiNopHoSo",
        "NgayNopHoSo",
        "NgayTuChoi",
        "DuocThanhToanTrucTuyen",
        "TaiKhoanDuocXacThucVoiVNeID",
        "DiaChiChuHoSo",
        "DiaChiNhanKetQua",
        "TaiLieuNop",
        "DanhSachLePhi",
        "DanhSachHoSoBoSung",
        "DanhSachGiayToKetQua",
        "DinhDanhCHS"}},
      {"TaiLieu",
       {"TenTep", "LoaiTep", "NoiDung", "DuongDan", "MaBam", "MaThanhPhanHoSo",
        "TenThanhPhanHoSo"}},
      {"GiayToKetQua",
       {"TenTep", "LoaiTep", "NoiDung", "DuongDan", "MaBam", "TenGiayTo", "MaThanhPhanHoSo",
        "SoKyHieu", "NgayKy", "NguoiKy"}},
      {"LePhi", {"TenPhiLePhi", "MaPhiLePhi", "HinhThucThu", "Gia", "LoaiPhiLePhi", "DaThanhToan"}},
      {"HoSoBoSung",
       {"MaHoSoBoSung", "NguoiYeuCauBoSung", "NoiDungBoSung", "NgayBoSung", "NguoiTiepNhanBoSung",
        "ThongTinTiepNhan", "NgayTiepNhanBoSung", "TrangThaiBoSung", "NgayHenTraTruoc",
        "NgayHenTraMoi", "DanhSachGiayToBoSung"}},
      {"DinhDanh", {"LoaiDinhDanh", "SoDinhDanh"}},
      {"DiaChiChuHoSo", {"ChiTiet", "MaXa", "TenXa", "MaHuyen", "TenHuyen", "MaTinh", "TenTinh"}},
      {"DiaChiNhanKetQua",
       {"ChiTiet", "MaXa", "TenXa", "MaHuyen", "TenHuyen", "MaTinh", "TenTinh"}},
      {"TrangThai",
       {"MaHoSo", "Ma", "ThoiDiem", "MaCoQuan", "NguoiXuLy", "ChucDanh", "PhongBanXuLy",
        "NoiDungXuLy", "NgayBatDau", "NgayKetThucTheoQuyDinh", "NgayHenTra", "QuaHan"}},
      {"YeuCauBoSung",
       {"MaHoSo", "MaYeuCau", "ThoiDiemYeuCau", "NguoiYeuCau", "MaCoQuan", "NoiDungYeuCau",
        "GiayToCanBoSung", "HanBoSung"}},
      {"TraLoiBoSung", {"MaHoSo", "MaYeuCau", "ThoiDiemTraLoi", "NoiDung", "TaiLieuNop"}},
      {"PhanAnh",
       {"MaPhanAnh", "MaCoQuan", "MaHoSo", "NguoiGui", "TieuDe", "NoiDung", "ThoiDiemGui",
        "CongKhai", "TepDinhKem"}},
      {"NguoiGui", {"HoTen", "SoDienThoai", "Email", "DiaChi"}},
      {"Tep", {"TenTep", "LoaiTep", "NoiDung", "DuongDan", "MaBam"}},
      {"DanhGia", {"MaHoSo", "MaCoQuan", "ThoiDiemDanhGia", "MucDo", "TieuChi", "GopY"}},
      {"DanhGiaTieuChi", {"MaTieuChi", "MucDo"}},
  };
  return kFields;
}

std::string name(xmlNodePtr n) { return reinterpret_cast<const char*>(n->name); }

bool hasElementChildren(xmlNodePtr n) {
  for (xmlNodePtr c = n->children; c; c = c->next) {
    if (c->type == XML_ELEMENT_NODE) return true;
  }
  return false;
}

std::string text(xmlNodePtr n) {
  xmlChar* content = xmlNodeGetContent(n);
  std::string out = content ? reinterpret_cast<const char*>(content) : "";
  xmlFree(content);
  return out;
}

void appendElementJson(std::string& out, xmlNodePtr n);

// `portal`: the dossier as the portal takes it, without the handling agency.
void appendObjectJson(std::string& out, xmlNodePtr record, bool portal = true) {
  out += '{';
  bool first = true;
  for (xmlNodePtr c = record->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    // The handling agency is lienthong's (routing), not a field of the portal's dossier.
    if (portal && record->parent && record->parent->type == XML_DOCUMENT_NODE &&
        name(c) == "MaCoQuan") {
      continue;
    }
    if (!first) out += ',';
    first = false;
    appendJsonString(out, name(c));
    out += ':';
    if (wrappers().count(name(c)) != 0) {
      out += '[';
      bool first_item = true;
      for (xmlNodePtr item = c->children; item; item = item->next) {
        if (item->type != XML_ELEMENT_NODE) continue;
        if (!first_item) out += ',';
        first_item = false;
        appendElementJson(out, item);
      }
      out += ']';
    } else {
      appendElementJson(out, c);
    }
  }
  out += '}';
}

void appendElementJson(std::string& out, xmlNodePtr n) {
  if (hasElementChildren(n)) {
    appendObjectJson(out, n);
  } else {
    appendJsonString(out, text(n));
  }
}

Result<void> expect(xmlNodePtr n, const char* root) {
  if (!n || n->type != XML_ELEMENT_NODE || name(n) != root) {
    return Error(ErrorCode::kInvalidMessage, std::string("the body is not a canonical ") + root +
                                                 " (its root element is " +
                                                 (n ? "<" + name(n) + ">" : "missing") + ")");
  }
  return {};
}

std::string scalar(const Poco::Dynamic::Var& v) {
  if (v.isEmpty()) return {};
  if (v.type() == typeid(bool)) return v.extract<bool>() ? "1" : "0";  // the portal's flags
  try {
    return v.convert<std::string>();
  } catch (const Poco::Exception&) {
    return {};
  }
}

void appendRecordXml(std::string& out, const std::string& element, const Poco::JSON::Object& o,
                     const std::string& where, std::string& dropped);

void appendMemberXml(std::string& out, const std::string& member, const Poco::Dynamic::Var& v,
                     const std::string& where, std::string& dropped) {
  auto wrapper = wrappers().find(member);
  if (wrapper != wrappers().end()) {
    if (v.type() != typeid(Poco::JSON::Array::Ptr)) {
      dropped += (dropped.empty() ? "" : ",") + where + member + " (not an array)";
      return;
    }
    const auto items = v.extract<Poco::JSON::Array::Ptr>();
    if (!items || items->size() == 0) return;  // an empty list is no list in the schema
    out += "<" + member + ">";
    for (std::size_t i = 0; i < items->size(); ++i) {
      const Poco::Dynamic::Var item = items->get(static_cast<unsigned>(i));
      if (fields().count(wrapper->second) == 0) {  // a list of text items
        const std::string value = scalar(item);
        if (value.empty() || item.type() == typeid(Poco::JSON::Object::Ptr) ||
            item.type() == typeid(Poco::JSON::Array::Ptr)) {
          dropped += (dropped.empty() ? "" : ",") + where + member + "[" + std::to_string(i) + "]";
          continue;
        }
        out += "<" + wrapper->second + ">";
        appendXmlEscaped(out, value);
        out += "</" + wrapper->second + ">";
        continue;
      }
      if (item.type() != typeid(Poco::JSON::Object::Ptr)) {
        dropped += (dropped.empty() ? "" : ",") + where + member + "[" + std::to_string(i) + "]";
        continue;
      }
      appendRecordXml(out, wrapper->second, *item.extract<Poco::JSON::Object::Ptr>(),
                      where + member + "[" + std::to_string(i) + "].", dropped);
    }
    out += "</" + member + ">";
    return;
  }
  if (v.type() == typeid(Poco::JSON::Object::Ptr) && fields().count(member) != 0) {
    appendRecordXml(out, member, *v.extract<Poco::JSON::Object::Ptr>(), where + member + ".",
                    dropped);
    return;
  }
  if (v.type() == typeid(Poco::JSON::Object::Ptr) || v.type() == typeid(Poco::JSON::Array::Ptr)) {
    dropped += (dropped.empty() ? "" : ",") + where + member + " (not a text field)";
    return;
  }
  const std::string value = scalar(v);
  if (value.empty()) return;  // null or "": absent in the schema
  out += "<" + member + ">";
  appendXmlEscaped(out, value);
  out += "</" + member + ">";
}

void appendRecordXml(std::string& out, const std::string& element, const Poco::JSON::Object& o,
                     const std::string& where, std::string& dropped) {
  const std::vector<std::string>& order = fields().at(element);
  out += "<" + element + ">";
  // A file is its content or its link, not both: the content wins.
  const bool content = o.has("NoiDung") && !scalar(o.get("NoiDung")).empty();
  for (const std::string& member : order) {
    if (!o.has(member)) continue;
    if (member == "DuongDan" && content) {
      dropped += (dropped.empty() ? "" : ",") + where + member + " (beside NoiDung)";
      continue;
    }
    appendMemberXml(out, member, o.get(member), where, dropped);
  }
  for (const auto& [member, value] : o) {
    if (std::find(order.begin(), order.end(), member) == order.end()) {
      dropped += (dropped.empty() ? "" : ",") + where + member;
    }
  }
  out += "</" + element + ">";
}

}  // namespace

Result<std::string> dossierJson(xmlNodePtr hoso) {
  if (auto ok = expect(hoso, "HoSo"); !ok.ok()) return ok.error();
  std::string out;
  appendObjectJson(out, hoso);
  return out;
}

Result<std::string> progressJson(xmlNodePtr trang_thai) {
  if (auto ok = expect(trang_thai, "TrangThai"); !ok.ok()) return ok.error();
  static const std::map<std::string, std::string, std::less<>> kRenamed = {
      {"Ma", "TrangThai"}, {"ThoiDiem", "ThoiDiemXuLy"}};
  static const std::vector<std::string> kLeftOut = {"MaCoQuan", "NgayHenTra", "QuaHan"};
  std::string out = "{";
  bool first = true;
  for (xmlNodePtr c = trang_thai->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    std::string key = name(c);
    if (std::find(kLeftOut.begin(), kLeftOut.end(), key) != kLeftOut.end()) continue;
    if (auto r = kRenamed.find(key); r != kRenamed.end()) key = r->second;
    if (!first) out += ',';
    first = false;
    appendJsonString(out, key);
    out += ':';
    appendJsonString(out, text(c));
  }
  out += '}';
  return out;
}

Result<std::string> dossierXml(const std::string& json, std::string* dropped) {
  return canonicalXml("HoSo", json, dropped);
}

std::string_view canonicalNamespace(std::string_view root) {
  if (root == "PhanAnh" || root == "DanhGia") return "urn:lienthong:phananh:1";
  if (root == "HoSo" || root == "TrangThai" || root == "YeuCauBoSung" || root == "TraLoiBoSung") {
    return "urn:lienthong:hoso:1";
  }
  return {};
}

Result<std::string> canonicalXml(std::string_view root, const std::string& json,
                                 std::string* dropped) {
  const std::string_view ns = canonicalNamespace(root);
  if (ns.empty()) {
    return Error(ErrorCode::kInvalidMessage,
                 "no canonical message <" + std::string(root) +
                     "> (HoSo, TrangThai, YeuCauBoSung, TraLoiBoSung, PhanAnh, DanhGia)");
  }
  const std::string element(root);
  Poco::JSON::Object::Ptr o;
  try {
    Poco::JSON::Parser parser;
    o = parser.parse(json).extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception& e) {
    return Error(ErrorCode::kInvalidMessage,
                 "the " + element + " is not a JSON object: " + e.what());
  }
  if (!o) return Error(ErrorCode::kInvalidMessage, "the " + element + " is not a JSON object");
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  std::string left;
  std::string body;
  appendRecordXml(body, element, *o, "", left);
  // The namespace on the root element.
  out += "<" + element + " xmlns=\"" + std::string(ns) + "\">" + body.substr(element.size() + 2);
  if (dropped) *dropped = left;
  return out;
}

std::string canonicalJson(xmlNodePtr root) {
  std::string out;
  appendObjectJson(out, root, false);
  return out;
}

}  // namespace lienthong::adapters::portal

#pragma once
// Between the canonical messages (schemas/, docs/messages.md) and the national portal's
// JSON: element names are the portal's field names, so the mapping is mostly a renaming
// of structure — a record is an object, a text field a string, a list wrapper
// (TaiLieuNop, DanhSachLePhi, ...) an array of its items.

#include <libxml/tree.h>

#include <string>
#include <string_view>

#include "lienthong/result.h"

namespace lienthong::adapters::portal {

// A canonical HoSo element as the portal's dossier object (JSON text).
Result<std::string> dossierJson(xmlNodePtr hoso);

// A canonical TrangThai element as the portal's progress object for CapNhatTienDoHoSoMC:
// Ma becomes TrangThai and ThoiDiem becomes ThoiDiemXuLy; the other fields keep their
// names; fields the service does not take (MaCoQuan, NgayHenTra, QuaHan) are left out.
Result<std::string> progressJson(xmlNodePtr trang_thai);

// The portal's dossier object (JSON text) as a canonical HoSo document (XML text, in
// urn:lienthong:hoso:1): members in the order of hoso-v1.xsd's documentation, arrays as
// their list wrappers, members the schema does not know dropped (named in `dropped`,
// comma-separated, when given).
Result<std::string> dossierXml(const std::string& json, std::string* dropped = nullptr);

// The same for every canonical message the portal and the one-stop systems exchange as
// JSON: `root` is HoSo, TrangThai, YeuCauBoSung, TraLoiBoSung, PhanAnh or DanhGia (in
// urn:lienthong:phananh:1 for the last two).
Result<std::string> canonicalXml(std::string_view root, const std::string& json,
                                 std::string* dropped = nullptr);
// The namespace of a canonical message's root element; "" for another name.
std::string_view canonicalNamespace(std::string_view root);
// A canonical message as JSON: an element with children an object, a list wrapper an
// array, a text field a string (the handling agency MaCoQuan kept).
std::string canonicalJson(xmlNodePtr root);

}  // namespace lienthong::adapters::portal

#include "transforms/dossier/admin_units.h"

#include <algorithm>
#include <fstream>
#include <mutex>
#include <sstream>
#include <system_error>

#include "core/encoding.h"
#include "lienthong/exchange.h"

namespace lienthong::transforms::dossier {
namespace {

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

// Spreadsheets drop the leading zeros of numeric codes ("01" -> "1"): all-digit codes
// are padded back to their width (province 2, district 3, commune 5).
std::string code(std::string_view text, std::size_t width) {
  std::string c = trim(text);
  if (!c.empty() && c.size() < width &&
      std::all_of(c.begin(), c.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
    c.insert(0, width - c.size(), '0');
  }
  return c;
}

struct Row {
  int line = 0;
  std::vector<std::string> fields;
};

// RFC 4180 rows (quoted fields, "" inside quotes, CRLF), with the line each starts on;
// '#' at the start of a row makes a comment line. A quote left open is an error.
Result<std::vector<Row>> csvRows(std::string_view text, const std::string& name) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // a spreadsheet's BOM
  std::vector<Row> rows;
  std::size_t i = 0;
  int line = 1;
  while (i < text.size()) {
    Row row;
    row.line = line;
    if (text[i] == '#') {  // a comment line
      while (i < text.size() && text[i] != '\n') ++i;
      ++i;
      ++line;
      continue;
    }
    std::string field;
    bool quoted = false;
    bool was_quoted = false;
    bool ended = false;
    for (; i < text.size() && !ended; ++i) {
      const char c = text[i];
      if (quoted) {
        if (c == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            field += '"';
            ++i;
          } else {
            quoted = false;
          }
        } else {
          if (c == '\n') ++line;
          field += c;
        }
        continue;
      }
      switch (c) {
        case '"':
          // A quote opens a field (after spaces at most); inside an unquoted one it is text.
          if (field.find_first_not_of(" \t") == std::string::npos && !was_quoted) {
            field.clear();
            quoted = was_quoted = true;
          } else {
            field += c;
          }
          break;
        case ',':
          row.fields.push_back(was_quoted ? field : trim(field));
          field.clear();
          was_quoted = false;
          break;
        case '\n':
          ++line;
          ended = true;
          break;
        case '\r':
          break;
        default:
          field += c;
      }
    }
    if (quoted) {
      return Error(ErrorCode::kInvalidConfig,
                   name + ":" + std::to_string(row.line) + ": a quoted field is not closed");
    }
    row.fields.push_back(was_quoted ? field : trim(field));
    // A row of empty fields (a spreadsheet's trailing ",,,,") is no row.
    const bool blank = std::all_of(row.fields.begin(), row.fields.end(),
                                   [](const std::string& f) { return f.empty(); });
    if (!blank) rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

Result<std::shared_ptr<const AdminUnitTable>> AdminUnitTable::load(
    const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return Error(ErrorCode::kInvalidConfig,
                 "cannot read the administrative-unit table " + file.string());
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), file.string());
}

Result<std::shared_ptr<const AdminUnitTable>> AdminUnitTable::parse(const std::string& text,
                                                                    const std::string& name) {
  auto rows = csvRows(text, name);
  if (!rows.ok()) return rows.error();
  if (rows->empty()) {
    return Error(ErrorCode::kInvalidConfig, name + ": no header line and no units");
  }
  auto table = std::make_shared<AdminUnitTable>();
  table->name_ = name;
  const Row& header = rows->front();
  enum Column { kTinh, kTenTinh, kXa, kTenXa, kTinhCu, kHuyenCu, kXaCu, kTenXaCu };
  static const char* const kNames[] = {"ma_tinh",    "ten_tinh",    "ma_xa",    "ten_xa",
                                       "ma_tinh_cu", "ma_huyen_cu", "ma_xa_cu", "ten_xa_cu"};
  constexpr int kColumns = 8;
  int at[kColumns];
  std::fill(std::begin(at), std::end(at), -1);
  for (std::size_t i = 0; i < header.fields.size(); ++i) {
    const std::string h = asciiLower(trim(header.fields[i]));
    for (int c = 0; c < kColumns; ++c) {
      if (h == kNames[c]) {
        if (at[c] >= 0) {
          return Error(ErrorCode::kInvalidConfig, name + ":" + std::to_string(header.line) +
                                                      ": column " + kNames[c] + " twice");
        }
        at[c] = static_cast<int>(i);
      }
    }
  }
  for (int c : {kTinh, kTenTinh, kXa, kTenXa}) {
    if (at[c] < 0) {
      return Error(ErrorCode::kInvalidConfig,
                   name + ":" + std::to_string(header.line) + ": no column " + kNames[c] +
                       " (the header names ma_tinh, ten_tinh, ma_xa, ten_xa and, for the "
                       "units before 2025, ma_tinh_cu, ma_huyen_cu, ma_xa_cu, ten_xa_cu)");
    }
  }
  std::map<std::string, int> current_line;  // commune code -> its first line
  std::map<std::string, std::pair<std::string, int>> province_name;  // code -> name, line
  std::map<std::string, int> old_line;
  for (std::size_t r = 1; r < rows->size(); ++r) {
    const Row& row = (*rows)[r];
    const std::string where = name + ":" + std::to_string(row.line) + ": ";
    auto field = [&](int c) -> std::string {
      if (at[c] < 0 || static_cast<std::size_t>(at[c]) >= row.fields.size()) return {};
      return row.fields[static_cast<std::size_t>(at[c])];
    };
    AdminUnit u{code(field(kTinh), 2), field(kTenTinh), code(field(kXa), 5), field(kTenXa)};
    for (int c : {kTinh, kTenTinh, kXa, kTenXa}) {
      if (field(c).empty()) {
        return Error(ErrorCode::kInvalidConfig, where + kNames[c] + " is empty");
      }
    }
    auto [p, fresh_province] = province_name.try_emplace(u.province_code, u.province, row.line);
    if (!fresh_province && p->second.first != u.province) {
      return Error(ErrorCode::kInvalidConfig, where + "province " + u.province_code + " is '" +
                                                  u.province + "' here, '" + p->second.first +
                                                  "' at line " + std::to_string(p->second.second));
    }
    auto [c, fresh] = table->current_.try_emplace(u.ward_code, u);
    if (fresh) {
      current_line[u.ward_code] = row.line;
    } else if (c->second.ward != u.ward || c->second.province_code != u.province_code) {
      return Error(ErrorCode::kInvalidConfig, where + "commune " + u.ward_code + " is '" + u.ward +
                                                  "' of province " + u.province_code + " here, '" +
                                                  c->second.ward + "' of province " +
                                                  c->second.province_code + " at line " +
                                                  std::to_string(current_line[u.ward_code]));
    }
    const std::string old_ward = code(field(kXaCu), 5);
    if (old_ward.empty()) {
      if (!field(kTinhCu).empty() || !field(kHuyenCu).empty()) {
        return Error(ErrorCode::kInvalidConfig,
                     where + "ma_xa_cu is empty but the row names an old province or district");
      }
      continue;
    }
    OldUnit o{code(field(kTinhCu), 2), code(field(kHuyenCu), 3), field(kTenXaCu), {}};
    if (o.province_code.empty()) {
      return Error(ErrorCode::kInvalidConfig,
                   where + "ma_tinh_cu is empty for the old commune " + old_ward);
    }
    auto [e, fresh_old] = table->old_.try_emplace(old_ward, o);
    if (fresh_old) {
      old_line[old_ward] = row.line;
    } else if (e->second.name != o.name && !o.name.empty() && !e->second.name.empty()) {
      return Error(ErrorCode::kInvalidConfig, where + "old commune " + old_ward + " is '" + o.name +
                                                  "' here, '" + e->second.name + "' at line " +
                                                  std::to_string(old_line[old_ward]));
    } else if (e->second.province_code != o.province_code ||
               e->second.district_code != o.district_code) {
      return Error(ErrorCode::kInvalidConfig,
                   where + "old commune " + old_ward + " is in province " + o.province_code +
                       ", district " + o.district_code + " here, in province " +
                       e->second.province_code + ", district " + e->second.district_code +
                       " at line " + std::to_string(old_line[old_ward]));
    }
    auto& became = e->second.became;
    if (std::find(became.begin(), became.end(), u.ward_code) == became.end()) {
      became.push_back(u.ward_code);
    }
    auto& went = table->old_provinces_[o.province_code];
    if (std::find(went.begin(), went.end(), u.province_code) == went.end()) {
      went.push_back(u.province_code);
    }
  }
  if (table->current_.empty()) {
    return Error(ErrorCode::kInvalidConfig, name + ": the table lists no unit");
  }
  return std::shared_ptr<const AdminUnitTable>(std::move(table));
}

std::string AdminUnitTable::describe(const AdminUnit& u) const {
  return u.ward_code + " (" + u.ward + ", " + u.province + ")";
}

Result<ResolvedUnit> AdminUnitTable::resolve(const std::string& province_text,
                                             const std::string& district_text,
                                             const std::string& ward_text) const {
  const std::string province = code(province_text, 2);
  const std::string district = code(district_text, 3);
  const std::string ward = code(ward_text, 5);
  if (ward.empty()) return Error(ErrorCode::kInvalidMessage, "the address has no commune code");
  const bool is_current = current_.count(ward) != 0;
  const bool is_old = old_.count(ward) != 0;
  // A district is the mark of an address written before 2025.
  if (is_old && (!district.empty() || !is_current)) return old(province, district, ward);
  if (is_current) {
    // A district beside a current commune: an old-style address, made current.
    auto r = current(province, ward);
    if (r.ok() && !district.empty()) r->changed = true;
    return r;
  }
  return Error(ErrorCode::kInvalidMessage,
               "commune " + ward + (province.empty() ? "" : " of province " + province) +
                   " is in neither the current nor the pre-2025 list of " + name_);
}

Result<ResolvedUnit> AdminUnitTable::current(const std::string& province,
                                             const std::string& ward) const {
  const AdminUnit& u = current_.at(ward);
  if (!province.empty() && province != u.province_code) {
    // The old code of a province that merged into this one is still understood.
    auto went = old_provinces_.find(province);
    const bool merged =
        went != old_provinces_.end() &&
        std::find(went->second.begin(), went->second.end(), u.province_code) != went->second.end();
    if (!merged) {
      return Error(ErrorCode::kInvalidMessage, "commune " + describe(u) + " is in province " +
                                                   u.province_code + ", not " + province);
    }
  }
  return ResolvedUnit{u, !province.empty() && province != u.province_code};
}

Result<ResolvedUnit> AdminUnitTable::old(const std::string& province, const std::string& district,
                                         const std::string& ward) const {
  const OldUnit& o = old_.at(ward);
  const std::string what = "the pre-2025 commune " + ward + " (" + o.name + ")";
  if (!province.empty() && province != o.province_code) {
    const bool now_there = std::any_of(o.became.begin(), o.became.end(), [&](const std::string& c) {
      return current_.at(c).province_code == province;
    });
    if (!now_there) {
      return Error(ErrorCode::kInvalidMessage,
                   what + " was in province " + o.province_code + ", not " + province);
    }
  }
  if (!district.empty() && !o.district_code.empty() && district != o.district_code) {
    return Error(ErrorCode::kInvalidMessage,
                 what + " was in district " + o.district_code + ", not " + district);
  }
  if (o.became.size() > 1) {
    std::string among;
    for (const std::string& c : o.became)
      among += (among.empty() ? "" : ", ") + describe(current_.at(c));
    return Error(ErrorCode::kInvalidMessage, what + " was divided among " + among +
                                                 ": the address must name its current commune");
  }
  const AdminUnit& u = current_.at(o.became.front());
  return ResolvedUnit{
      u, u.ward_code != ward || u.province_code != o.province_code || !district.empty()};
}

Result<std::shared_ptr<const AdminUnitTable>> adminUnitTable(const std::filesystem::path& file) {
  struct Cached {
    std::weak_ptr<const AdminUnitTable> table;
    std::filesystem::file_time_type modified;
    std::uintmax_t size = 0;
  };
  static std::mutex mutex;
  static std::map<std::string, Cached> cache;
  std::error_code ec;
  const auto modified = std::filesystem::last_write_time(file, ec);
  const auto size = ec ? 0 : std::filesystem::file_size(file, ec);
  std::lock_guard lock(mutex);
  Cached& slot = cache[file.string()];
  if (!ec) {
    if (auto kept = slot.table.lock(); kept && slot.modified == modified && slot.size == size) {
      return kept;
    }
  }
  auto loaded = AdminUnitTable::load(file);
  if (!loaded.ok()) return loaded.error();
  slot = {*loaded, modified, size};
  return *loaded;
}

Result<StepOutcome> AdminUnitsStep::process(Exchange& exchange) {
  Message& m = exchange.message();
  auto render = [&](const std::shared_ptr<const Template>& t) {
    return t ? t->render(exchange) : std::string();
  };
  const std::string province = render(s_.province);
  const std::string district = render(s_.district);
  const std::string ward = render(s_.ward);
  const std::string detail = trim(render(s_.detail));
  auto set = [&](const char* what, const std::string& value) {
    m.setHeader(s_.into + "." + what, value);
  };
  auto r = s_.table->resolve(province, district, ward);
  if (!r.ok()) {
    if (!s_.keep_unknown) {
      return Error(r.error().code, "admin-units: " + r.error().message);
    }
    set("province-code", trim(province));
    set("province", "");
    set("ward-code", trim(ward));
    set("ward", "");
    set("address", detail);
    set("changed", "0");
    set("known", "0");
    return StepOutcome::kContinue;
  }
  const AdminUnit& u = r->unit;
  set("province-code", u.province_code);
  set("province", u.province);
  set("ward-code", u.ward_code);
  set("ward", u.ward);
  set("address", (detail.empty() ? "" : detail + ", ") + u.ward + ", " + u.province);
  set("changed", r->changed ? "1" : "0");
  set("known", "1");
  return StepOutcome::kContinue;
}

}  // namespace lienthong::transforms::dossier

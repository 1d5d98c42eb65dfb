#pragma once
// Vietnam's administrative units since the 2025 reorganisation: two tiers (province, and
// commune/ward/special zone), where there were three (province, district, commune). An
// address written before may carry codes that no longer exist. The table (a CSV file,
// docs/postal.md) lists the current units and, for each unit of the old list, the current
// unit it became; the `admin-units` step turns an address's codes into the current ones.

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lienthong/result.h"
#include "lienthong/step.h"
#include "lienthong/template.h"

namespace lienthong::transforms::dossier {

struct AdminUnit {
  std::string province_code;
  std::string province;  // its name
  std::string ward_code;
  std::string ward;
};

// A resolved address: the current unit, and whether its codes differ from those given.
struct ResolvedUnit {
  AdminUnit unit;
  bool changed = false;  // the current codes differ from those given
};

class AdminUnitTable {
 public:
  // Reads the CSV table. Lines starting with '#' and blank lines are skipped; the first
  // other line names the columns: ma_tinh, ten_tinh, ma_xa, ten_xa (the current unit,
  // required) and ma_tinh_cu, ma_huyen_cu, ma_xa_cu, ten_xa_cu (the old commune that
  // became it, empty on a row that only lists a current unit), in any order; other
  // columns (ten_tinh_cu, ten_huyen_cu, notes) are ignored. Numeric codes a spreadsheet
  // stripped of their leading zeros are padded back (province 2 digits, district 3,
  // commune 5). Fields may be quoted ("..."). An error names
  // file:line and what is wrong (a missing column, a code given two names, an old commune
  // in two provinces or districts).
  static Result<std::shared_ptr<const AdminUnitTable>> load(const std::filesystem::path& file);
  // The same, from text; `name` stands for the file in messages.
  static Result<std::shared_ptr<const AdminUnitTable>> parse(const std::string& text,
                                                             const std::string& name);

  // The current unit of an address. `ward` is required; `province` and `district` may be
  // empty. A district means a pre-2025 address: the old list is searched first, else the
  // current one is. A current commune code with the province of another is an error, as
  // is an old commune divided among several current ones (the address must then name the
  // current commune) and a code in neither list.
  Result<ResolvedUnit> resolve(const std::string& province, const std::string& district,
                               const std::string& ward) const;

  const std::string& name() const { return name_; }
  std::size_t currentCount() const { return current_.size(); }
  std::size_t oldCount() const { return old_.size(); }

 private:
  struct OldUnit {
    std::string province_code;
    std::string district_code;
    std::string name;                 // of the old commune
    std::vector<std::string> became;  // current commune codes (more than one: divided)
  };
  Result<ResolvedUnit> current(const std::string& province, const std::string& ward) const;
  Result<ResolvedUnit> old(const std::string& province, const std::string& district,
                           const std::string& ward) const;
  std::string describe(const AdminUnit& u) const;

  std::string name_;
  std::map<std::string, AdminUnit> current_;  // by current commune code
  std::map<std::string, OldUnit> old_;        // by old commune code
  // Old province code -> the current provinces its communes went to.
  std::map<std::string, std::vector<std::string>> old_provinces_;
};

// The table of a file, shared while any step holds it; read again when the file changes
// (a reload then sees the new list).
Result<std::shared_ptr<const AdminUnitTable>> adminUnitTable(const std::filesystem::path& file);

struct AdminUnitsSettings {
  std::shared_ptr<const AdminUnitTable> table;
  std::shared_ptr<const Template> province;  // may be null (not given)
  std::shared_ptr<const Template> district;  // may be null
  std::shared_ptr<const Template> ward;
  std::shared_ptr<const Template> detail;  // house, street, hamlet: may be null
  std::string into;                        // the headers' prefix
  bool keep_unknown = false;               // on-unknown: keep
};

// The `admin-units` step: sets headers <into>.province-code, <into>.province,
// <into>.ward-code, <into>.ward, <into>.address ("detail, ward, province"),
// <into>.changed ("1" when the current codes differ from those given) and <into>.known. A code that
// does not resolve (unknown, divided, of another province or district) is an
// InvalidMessage saying why (a dead letter), unless on-unknown is keep: the codes given
// are passed on, names empty, known "0".
class AdminUnitsStep final : public Step {
 public:
  explicit AdminUnitsStep(AdminUnitsSettings s) : s_(std::move(s)) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  AdminUnitsSettings s_;
};

}  // namespace lienthong::transforms::dossier

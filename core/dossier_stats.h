#pragma once
// Dossier resolution figures from the dossiers' latest states, as the status stream leaves
// them: received, resolved on time, resolved late, refused, withdrawn, stopped, in process
// and overdue, grouped by agency, procedure and/or month of receipt, as JSON or CSV.
// Times are the national format yyyyMMddHHmmss (Asia/Ho_Chi_Minh); comparing them as text
// orders them. Pure; any thread.

#include <map>
#include <string>
#include <vector>

#include "lienthong/result.h"

namespace lienthong::dossier {

// What is known of one dossier now.
struct DossierState {
  std::string code;         // MaHoSo
  std::string agency;       // the handling agency (MaCoQuan)
  std::string procedure;    // MaTTHC
  std::string received;     // NgayTiepNhan
  std::string appointment;  // NgayHenTra; "" = none
  int status = 0;           // the national status 1..10
  std::string resolved;     // when it first reached 9 (resolved) or 10; "" = not yet
};

// month: of receipt, or of the day in the dossier's code while its receipt is not known.
enum class GroupBy { kAgency, kProcedure, kMonth };

struct Figures {
  long received = 0;
  long resolved_on_time = 0;
  long resolved_late = 0;
  long refused = 0;     // 3
  long withdrawn = 0;   // 7
  long stopped = 0;     // 8
  long in_process = 0;  // not ended, appointment not passed (or none)
  long overdue = 0;     // not ended, appointment passed
};

struct StatsRow {
  std::vector<std::string> key;  // one value per GroupBy, in order
  Figures figures;
};

struct Stats {
  std::vector<GroupBy> by;
  std::string now;             // the time "overdue" was judged at
  std::vector<StatsRow> rows;  // ordered by key
  Figures total;
};

// `now` in the national format. A state with an unknown status (not 1..10) is counted as
// received and in process or overdue, as one not ended.
Stats computeStats(const std::vector<DossierState>& states, const std::vector<GroupBy>& by,
                   const std::string& now);

// The dossiers overdue at `now`: not ended (status not 3, 7, 8, 9 or 10), with an
// appointment before `now` and, when `since` is given, not before it (those that fell
// due in that window). Ordered by appointment, then code.
std::vector<DossierState> overdueDossiers(const std::vector<DossierState>& states,
                                          const std::string& now, const std::string& since = "");

// "agency", "procedure", "month" (comma-separated for several); InvalidConfig otherwise.
Result<std::vector<GroupBy>> parseGroupBy(const std::string& text);

std::string statsJson(const Stats& stats);
// A header line then a line per row and a "total" line; RFC 4180 quoting.
std::string statsCsv(const Stats& stats);

}  // namespace lienthong::dossier

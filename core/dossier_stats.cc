#include "core/dossier_stats.h"

#include <algorithm>

#include <cstdio>

#include "core/dossier_code.h"
#include "core/json_text.h"

namespace lienthong::dossier {
namespace {

const char* name(GroupBy g) {
  switch (g) {
    case GroupBy::kAgency:
      return "agency";
    case GroupBy::kProcedure:
      return "procedure";
    case GroupBy::kMonth:
      return "month";
  }
  return "?";
}

std::string keyOf(const DossierState& s, GroupBy g) {
  switch (g) {
    case GroupBy::kAgency: {  // the handling agency; not known yet: the one of its code
      if (!s.agency.empty()) return s.agency;
      auto code = parse(s.code);
      return code.ok() ? code->agency : std::string();
    }
    case GroupBy::kProcedure:
      return s.procedure;
    case GroupBy::kMonth: {  // yyyy-MM of receipt; not known yet: the day in its code
      if (s.received.size() >= 6) return s.received.substr(0, 4) + "-" + s.received.substr(4, 2);
      auto code = parse(s.code);
      if (!code.ok()) return {};
      char month[16];
      std::snprintf(month, sizeof month, "%04d-%02d", code->received.year % 10000,
                    code->received.month % 100);
      return month;
    }
  }
  return {};
}

void count(Figures& f, const DossierState& s, const std::string& now) {
  ++f.received;
  switch (s.status) {
    case 9:
    case 10: {
      // On time: resolved by the appointment (none set: on time). A dossier that reached
      // 9/10 without a recorded time is judged by now.
      const std::string& when = s.resolved.empty() ? now : s.resolved;
      if (s.appointment.empty() || when <= s.appointment) {
        ++f.resolved_on_time;
      } else {
        ++f.resolved_late;
      }
      return;
    }
    case 3:
      ++f.refused;
      return;
    case 7:
      ++f.withdrawn;
      return;
    case 8:
      ++f.stopped;
      return;
    default:
      if (!s.appointment.empty() && s.appointment < now) {
        ++f.overdue;
      } else {
        ++f.in_process;
      }
  }
}

void add(Figures& to, const Figures& f) {
  to.received += f.received;
  to.resolved_on_time += f.resolved_on_time;
  to.resolved_late += f.resolved_late;
  to.refused += f.refused;
  to.withdrawn += f.withdrawn;
  to.stopped += f.stopped;
  to.in_process += f.in_process;
  to.overdue += f.overdue;
}

const char* const kColumns[] = {"received",  "resolved_on_time", "resolved_late", "refused",
                                "withdrawn", "stopped",          "in_process",    "overdue"};

std::vector<long> values(const Figures& f) {
  return {f.received,  f.resolved_on_time, f.resolved_late, f.refused,
          f.withdrawn, f.stopped,          f.in_process,    f.overdue};
}

void appendFiguresJson(std::string& out, const Figures& f) {
  const auto v = values(f);
  for (std::size_t i = 0; i < v.size(); ++i) {
    out += ",\"";
    out += kColumns[i];
    out += "\":" + std::to_string(v[i]);
  }
}

void appendCsvField(std::string& out, const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) {
    out += field;
    return;
  }
  out += '"';
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

}  // namespace

Stats computeStats(const std::vector<DossierState>& states, const std::vector<GroupBy>& by,
                   const std::string& now) {
  Stats stats;
  stats.by = by;
  stats.now = now;
  std::map<std::vector<std::string>, Figures> groups;
  for (const DossierState& s : states) {
    std::vector<std::string> key;
    key.reserve(by.size());
    for (GroupBy g : by) key.push_back(keyOf(s, g));
    Figures one;
    count(one, s, now);
    add(groups[key], one);
    add(stats.total, one);
  }
  for (auto& [key, figures] : groups) stats.rows.push_back(StatsRow{key, figures});
  return stats;
}

Result<std::vector<GroupBy>> parseGroupBy(const std::string& text) {
  std::vector<GroupBy> by;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string word = text.substr(start, comma - start);
    if (word == "agency") {
      by.push_back(GroupBy::kAgency);
    } else if (word == "procedure") {
      by.push_back(GroupBy::kProcedure);
    } else if (word == "month") {
      by.push_back(GroupBy::kMonth);
    } else {
      return Error(ErrorCode::kInvalidConfig,
                   "'" + word + "' is not a grouping (agency, procedure, month)");
    }
    start = comma + 1;
    if (comma == text.size()) break;
  }
  return by;
}

std::string statsJson(const Stats& stats) {
  std::string out = "{\"by\":[";
  for (std::size_t i = 0; i < stats.by.size(); ++i) {
    out += (i ? ",\"" : "\"") + std::string(name(stats.by[i])) + "\"";
  }
  out += "],\"now\":";
  appendJsonString(out, stats.now);
  out += ",\"rows\":[";
  for (std::size_t r = 0; r < stats.rows.size(); ++r) {
    out += r ? ",{" : "{";
    bool first = true;
    for (std::size_t i = 0; i < stats.by.size(); ++i) {
      out += first ? "\"" : ",\"";
      first = false;
      out += name(stats.by[i]);
      out += "\":";
      appendJsonString(out, stats.rows[r].key[i]);
    }
    std::string figures;
    appendFiguresJson(figures, stats.rows[r].figures);
    out += first ? figures.substr(1) : figures;
    out += "}";
  }
  out += "],\"total\":{";
  std::string total;
  appendFiguresJson(total, stats.total);
  out += total.substr(1) + "}}";
  return out;
}

std::string statsCsv(const Stats& stats) {
  std::string out;
  for (GroupBy g : stats.by) out += std::string(name(g)) + ",";
  for (std::size_t i = 0; i < std::size(kColumns); ++i)
    out += (i ? "," : "") + std::string(kColumns[i]);
  out += "\r\n";
  auto line = [&](const std::vector<std::string>& key, const Figures& f) {
    for (const std::string& k : key) {
      appendCsvField(out, k);
      out += ',';
    }
    const auto v = values(f);
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + std::to_string(v[i]);
    out += "\r\n";
  };
  for (const StatsRow& row : stats.rows) line(row.key, row.figures);
  std::vector<std::string> total_key(stats.by.size());
  if (!total_key.empty()) total_key[0] = "total";
  line(total_key, stats.total);
  return out;
}

std::vector<DossierState> overdueDossiers(const std::vector<DossierState>& states,
                                          const std::string& now, const std::string& since) {
  std::vector<DossierState> out;
  for (const DossierState& s : states) {
    const bool ended =
        s.status == 3 || s.status == 7 || s.status == 8 || s.status == 9 || s.status == 10;
    if (ended || s.appointment.empty() || s.appointment >= now) continue;
    if (!since.empty() && s.appointment < since) continue;
    out.push_back(s);
  }
  std::sort(out.begin(), out.end(), [](const DossierState& a, const DossierState& b) {
    return a.appointment != b.appointment ? a.appointment < b.appointment : a.code < b.code;
  });
  return out;
}

}  // namespace lienthong::dossier

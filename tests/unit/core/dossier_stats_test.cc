#include "core/dossier_stats.h"

#include <gtest/gtest.h>

namespace lienthong::dossier {
namespace {

// Two agencies, two procedures, two months; judged on 20 March 2024 at noon.
const std::vector<DossierState> kStates = {
    // resolved on time (resolved before the appointment), and one without an appointment
    {"000.00.01.H22-240305-0001", "000.00.01.H22", "1.001612", "20240305080000", "20240310170000",
     10, "20240309100000"},
    {"000.00.01.H22-240305-0002", "000.00.01.H22", "1.001193", "20240305090000", "", 9,
     "20240306100000"},
    // resolved late
    {"000.00.01.H22-240306-0001", "000.00.01.H22", "1.001612", "20240306080000", "20240308170000",
     10, "20240311090000"},
    // refused, withdrawn, stopped
    {"000.00.01.H22-240307-0001", "000.00.01.H22", "1.001612", "20240307080000", "20240312170000",
     3, ""},
    {"000.00.01.H22-240307-0002", "000.00.01.H22", "1.001193", "20240307080000", "20240312170000",
     7, ""},
    {"000.20.25.H12-240228-0001", "000.20.25.H12", "2.000908", "20240228080000", "20240301170000",
     8, ""},
    // in process (appointment ahead), overdue (appointment passed, not ended)
    {"000.20.25.H12-240318-0001", "000.20.25.H12", "2.000908", "20240318080000", "20240322170000",
     4, ""},
    {"000.20.25.H12-240229-0001", "000.20.25.H12", "2.000908", "20240229080000", "20240305170000",
     5, ""},
};
constexpr const char* kNow = "20240320120000";

TEST(DossierStats, FiguresPerAgency) {
  const Stats s = computeStats(kStates, {GroupBy::kAgency}, kNow);
  ASSERT_EQ(s.rows.size(), 2u);
  EXPECT_EQ(s.rows[0].key, std::vector<std::string>{"000.00.01.H22"});
  const Figures& a = s.rows[0].figures;
  EXPECT_EQ(a.received, 5);
  EXPECT_EQ(a.resolved_on_time, 2);
  EXPECT_EQ(a.resolved_late, 1);
  EXPECT_EQ(a.refused, 1);
  EXPECT_EQ(a.withdrawn, 1);
  const Figures& b = s.rows[1].figures;
  EXPECT_EQ(b.received, 3);
  EXPECT_EQ(b.stopped, 1);
  EXPECT_EQ(b.in_process, 1);
  EXPECT_EQ(b.overdue, 1);
  EXPECT_EQ(s.total.received, 8);
  EXPECT_EQ(s.total.resolved_on_time + s.total.resolved_late + s.total.refused + s.total.withdrawn +
                s.total.stopped + s.total.in_process + s.total.overdue,
            s.total.received);
}

TEST(DossierStats, PerProcedureAndMonthAsJsonAndCsv) {
  auto by = parseGroupBy("procedure,month");
  ASSERT_TRUE(by.ok());
  const Stats s = computeStats(kStates, *by, kNow);
  // 1.001193/2024-03, 1.001612/2024-03, 2.000908/2024-02, 2.000908/2024-03
  ASSERT_EQ(s.rows.size(), 4u);
  EXPECT_EQ(s.rows[2].key, (std::vector<std::string>{"2.000908", "2024-02"}));
  EXPECT_EQ(s.rows[2].figures.received, 2);
  const std::string json = statsJson(s);
  EXPECT_EQ(json.substr(0, 60), R"({"by":["procedure","month"],"now":"20240320120000","rows":[{)");
  EXPECT_NE(json.find(R"({"procedure":"2.000908","month":"2024-02","received":2,)"
                      R"("resolved_on_time":0,"resolved_late":0,"refused":0,"withdrawn":0,)"
                      R"("stopped":1,"in_process":0,"overdue":1})"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("total":{"received":8,)"), std::string::npos) << json;
  const std::string csv = statsCsv(s);
  EXPECT_EQ(csv.substr(0, csv.find("\r\n")),
            "procedure,month,received,resolved_on_time,resolved_late,refused,withdrawn,stopped,"
            "in_process,overdue");
  EXPECT_NE(csv.find("2.000908,2024-02,2,0,0,0,0,1,0,1\r\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("total,,8,2,1,1,1,1,1,1\r\n"), std::string::npos) << csv;
  EXPECT_FALSE(parseGroupBy("agency,week").ok());
}

TEST(DossierStats, CsvQuotesWhatNeedsIt) {
  const Stats s =
      computeStats({{"c", "A,\"B\"", "p", "20240301000000", "", 4, ""}}, {GroupBy::kAgency}, kNow);
  EXPECT_NE(statsCsv(s).find("\"A,\"\"B\"\"\",1,"), std::string::npos) << statsCsv(s);
}

}  // namespace
}  // namespace lienthong::dossier

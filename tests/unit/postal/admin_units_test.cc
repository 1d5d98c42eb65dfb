// The administrative-unit table (two tiers since 2025): current codes pass, pre-2025
// codes become the current ones, a divided commune, a wrong province or district and an
// unknown code are refused with what is wrong; the CSV's mistakes are reported at
// file:line; the step sets the address headers; the shipped sample table loads.

#include "transforms/dossier/admin_units.h"

#include <gtest/gtest.h>

#include "core/daemon.h"
#include "integration/test_support.h"

namespace lienthong::transforms::dossier {
namespace {

const char* const kTable =
    "# a comment\n"
    "ma_tinh_cu,ma_huyen_cu,ma_xa_cu,ten_xa_cu,ma_tinh,ten_tinh,ma_xa,ten_xa\n"
    "97,971,90001,Phường Trần Phú,97,Tỉnh Sông Núi,95001,Phường Trần Phú\n"
    "97,971,90002,Phường Minh Khai,97,Tỉnh Sông Núi,95001,Phường Trần Phú\n"
    "98,981,90011,Xã Tam Xuân I,97,Tỉnh Sông Núi,95011,Xã Tam Xuân\n"
    "98,981,90013,Xã Tam Anh Bắc,97,Tỉnh Sông Núi,95011,Xã Tam Xuân\n"
    "98,981,90013,Xã Tam Anh Bắc,97,Tỉnh Sông Núi,95012,Xã Tam Mỹ\n"
    "\n"
    "99,991,90021,Xã Đảo Ngọc,99,Tỉnh Biển,90021,Xã Đảo Ngọc\n"
    ",,,,97,Tỉnh Sông Núi,95020,Phường Mới\n";

std::shared_ptr<const AdminUnitTable> table() {
  auto t = AdminUnitTable::parse(kTable, "units.csv");
  EXPECT_TRUE(t.ok()) << t.error().message;
  return *t;
}

std::string refusal(const Result<ResolvedUnit>& r) {
  EXPECT_FALSE(r.ok());
  return r.ok() ? std::string() : r.error().message;
}

TEST(AdminUnits, CurrentCodesPassAndOldOnesBecomeTheCurrentOnes) {
  auto t = table();
  EXPECT_EQ(t->currentCount(), 5u);
  EXPECT_EQ(t->oldCount(), 5u);

  auto r = t->resolve("97", "", "95001");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->unit.ward, "Phường Trần Phú");
  EXPECT_EQ(r->unit.province, "Tỉnh Sông Núi");
  EXPECT_FALSE(r->changed);

  // A merged commune of an address written before 2025, with or without its district.
  r = t->resolve("97", "971", "90002");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->unit.ward_code, "95001");
  EXPECT_TRUE(r->changed);
  r = t->resolve("", "", "90011");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->unit.ward_code, "95011");
  EXPECT_EQ(r->unit.province_code, "97");
  EXPECT_TRUE(r->changed);

  // The old province of a province that merged, with a current commune.
  r = t->resolve("98", "", "95011");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->unit.province_code, "97");
  EXPECT_TRUE(r->changed);

  // A commune that kept its code: current without a district, old (changed) with one.
  r = t->resolve("99", "", "90021");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->changed);
  r = t->resolve("99", "991", "90021");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->unit.ward_code, "90021");
  EXPECT_TRUE(r->changed);

  // A district beside a current commune: an old-style address, made current.
  r = t->resolve("97", "971", "95001");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->unit.ward_code, "95001");
  EXPECT_TRUE(r->changed);

  // Leading zeros a spreadsheet dropped.
  auto z = AdminUnitTable::parse("ma_tinh,ten_tinh,ma_xa,ten_xa\n1,Thành phố A,4,Phường B\n", "z");
  ASSERT_TRUE(z.ok()) << z.error().message;
  r = (*z)->resolve("01", "", "00004");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->unit.ward_code, "00004");
  EXPECT_EQ(r->unit.province_code, "01");
}

TEST(AdminUnits, WhatDoesNotResolveIsRefusedSayingWhy) {
  auto t = table();
  EXPECT_EQ(refusal(t->resolve("97", "", "90013")),
            "the pre-2025 commune 90013 (Xã Tam Anh Bắc) was divided among 95011 (Xã Tam "
            "Xuân, Tỉnh Sông Núi), 95012 (Xã Tam Mỹ, Tỉnh Sông Núi): the address must name "
            "its current commune");
  EXPECT_EQ(refusal(t->resolve("99", "", "95001")),
            "commune 95001 (Phường Trần Phú, Tỉnh Sông Núi) is in province 97, not 99");
  EXPECT_EQ(refusal(t->resolve("97", "972", "90001")),
            "the pre-2025 commune 90001 (Phường Trần Phú) was in district 971, not 972");
  EXPECT_EQ(refusal(t->resolve("99", "", "90001")),
            "the pre-2025 commune 90001 (Phường Trần Phú) was in province 97, not 99");
  EXPECT_EQ(refusal(t->resolve("01", "", "00004")),
            "commune 00004 of province 01 is in neither the current nor the pre-2025 list of "
            "units.csv");
  EXPECT_EQ(refusal(t->resolve("97", "", " ")), "the address has no commune code");
}

TEST(AdminUnits, MistakesOfTheTableAreReportedAtTheirLine) {
  auto error = [](const std::string& text) {
    auto t = AdminUnitTable::parse(text, "units.csv");
    EXPECT_FALSE(t.ok());
    return t.ok() ? std::string() : t.error().message;
  };
  EXPECT_EQ(error("# only a comment\nma_tinh,ten_tinh,ma_xa\n").substr(0, 28),
            "units.csv:2: no column ten_x");
  EXPECT_EQ(error("ma_tinh,ten_tinh,ma_xa,ten_xa\n97,A,95001,X\n97,A,95001,Y\n"),
            "units.csv:3: commune 95001 is 'Y' of province 97 here, 'X' of province 97 at line 2");
  EXPECT_EQ(error("ma_tinh,ten_tinh,ma_xa,ten_xa\n97,A,95001,X\n97,B,95002,Y\n"),
            "units.csv:3: province 97 is 'B' here, 'A' at line 2");
  EXPECT_EQ(error("ma_tinh,ten_tinh,ma_xa,ten_xa\n97,A,,X\n"), "units.csv:2: ma_xa is empty");
  EXPECT_EQ(error("ma_tinh,ten_tinh,ma_xa,ten_xa\n97,\"A,\n95001,X\n"),
            "units.csv:2: a quoted field is not closed");
  EXPECT_EQ(error("ma_tinh_cu,ma_xa_cu,ma_tinh,ten_tinh,ma_xa,ten_xa\n"
                  "97,90001,97,A,95001,X\n98,90001,97,A,95001,X\n"),
            "units.csv:3: old commune 90001 is in province 98, district  here, in province "
            "97, district  at line 2");
  EXPECT_EQ(error("ma_tinh,ten_tinh,ma_xa,ten_xa\n"), "units.csv: the table lists no unit");
  EXPECT_EQ(error("ma_tinh_cu,ma_xa_cu,ten_xa_cu,ma_tinh,ten_tinh,ma_xa,ten_xa\n"
                  "97,90001,Xã A,97,A,95001,X\n97,90001,Xã B,97,A,95002,Y\n"),
            "units.csv:3: old commune 90001 is 'Xã B' here, 'Xã A' at line 2");
  // A spreadsheet's export: BOM, CRLF, a quoted name with a comma and a quote.
  auto t = AdminUnitTable::parse(
      "\xEF\xBB\xBFma_tinh,ten_tinh,ma_xa,ten_xa\r\n97,A,95001,\"Phường \"\"Mới\"\", khu 1\"\r\n",
      "units.csv");
  ASSERT_TRUE(t.ok()) << t.error().message;
  auto r = (*t)->resolve("97", "", "95001");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->unit.ward, "Phường \"Mới\", khu 1");
  // Rows of empty fields, a space before a quote, a quote inside an unquoted field.
  t = AdminUnitTable::parse(
      "ma_tinh,ten_tinh,ma_xa,ten_xa\n97, \"Tỉnh A\",95001,Phường 5 \"B\"\n,,,\n , , ,\n",
      "units.csv");
  ASSERT_TRUE(t.ok()) << t.error().message;
  r = (*t)->resolve("97", "", "95001");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->unit.province, "Tỉnh A");
  EXPECT_EQ(r->unit.ward, "Phường 5 \"B\"");
}

std::string h(const Exchange& e, const char* name) {
  const std::string* v = e.message().header(name);
  return v ? *v : "(absent)";
}

std::shared_ptr<const Template> templ(const std::string& text) {
  TemplateError error;
  return std::make_shared<const Template>(*Template::compile(text, &error));
}

TEST(AdminUnitsStep, SetsTheAddressHeadersOrRefusesOrKeepsTheUnknown) {
  AdminUnitsSettings s;
  s.table = table();
  s.province = templ("${MaTinh}");
  s.district = templ("${MaHuyen}");
  s.ward = templ("${MaXa}");
  s.detail = templ("${ChiTiet}");
  s.into = "receiver";
  Message m;
  m.setHeader("MaTinh", "98");
  m.setHeader("MaHuyen", "981");
  m.setHeader("MaXa", "90011");
  m.setHeader("ChiTiet", "Thôn 3");
  Exchange e(m, "r", ExchangePattern::kOneWay);
  AdminUnitsStep step(s);
  ASSERT_TRUE(step.process(e).ok());
  EXPECT_EQ(h(e, "receiver.province-code"), "97");
  EXPECT_EQ(h(e, "receiver.province"), "Tỉnh Sông Núi");
  EXPECT_EQ(h(e, "receiver.ward-code"), "95011");
  EXPECT_EQ(h(e, "receiver.ward"), "Xã Tam Xuân");
  EXPECT_EQ(h(e, "receiver.address"), "Thôn 3, Xã Tam Xuân, Tỉnh Sông Núi");
  EXPECT_EQ(h(e, "receiver.changed"), "1");
  EXPECT_EQ(h(e, "receiver.known"), "1");

  // Keep passes on an address that does not resolve for any reason: a divided commune.
  e.message().setHeader("MaXa", "90013");
  {
    AdminUnitsSettings k = s;
    k.keep_unknown = true;
    AdminUnitsStep keep_divided(k);
    ASSERT_TRUE(keep_divided.process(e).ok());
    EXPECT_EQ(h(e, "receiver.known"), "0");
    EXPECT_EQ(h(e, "receiver.ward-code"), "90013");
  }
  e.message().setHeader("MaXa", "12345");
  auto refused = step.process(e);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidMessage);
  EXPECT_EQ(refused.error().message,
            "admin-units: commune 12345 of province 98 is in neither the current nor the "
            "pre-2025 list of units.csv");

  s.keep_unknown = true;
  AdminUnitsStep keeping(s);
  ASSERT_TRUE(keeping.process(e).ok());
  EXPECT_EQ(h(e, "receiver.ward-code"), "12345");
  EXPECT_EQ(h(e, "receiver.ward"), "");
  EXPECT_EQ(h(e, "receiver.address"), "Thôn 3");
  EXPECT_EQ(h(e, "receiver.known"), "0");
}

TEST(AdminUnitsStep, TheShippedSampleTableLoadsAndAStepNamesABadTableAtItsPlace) {
  auto shipped = adminUnitTable(LIENTHONG_SOURCE_DIR "/config/don-vi-hanh-chinh.csv");
  ASSERT_TRUE(shipped.ok()) << shipped.error().message;
  EXPECT_GE((*shipped)->oldCount(), 10u);
  auto again = adminUnitTable(LIENTHONG_SOURCE_DIR "/config/don-vi-hanh-chinh.csv");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(shipped->get(), again->get());  // one table while it is held
  // Read again when the file changes.
  testing::TempHome files;
  files.write("units.csv", "ma_tinh,ten_tinh,ma_xa,ten_xa\n97,A,95001,X\n");
  auto before = adminUnitTable(files.path("units.csv"));
  ASSERT_TRUE(before.ok());
  files.write("units.csv", "ma_tinh,ten_tinh,ma_xa,ten_xa\n97,A,95001,X\n97,A,95002,Y\n");
  auto after = adminUnitTable(files.path("units.csv"));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*before)->currentCount(), 1u);
  EXPECT_EQ((*after)->currentCount(), 2u);

  testing::TempHome home;
  home.write("units.csv", "ma_tinh,ten_tinh,ma_xa\n97,A,95001\n");
  home.write("config.yaml",
             "listeners:\n  public: { http: { port: 0 } }\n"
             "routes: [ routes ]\n");
  home.write("routes/r.yaml",
             "routes:\n"
             "  - id: x\n"
             "    pattern: one-way\n"
             "    from: { http: { listener: public, path: /in } }\n"
             "    steps:\n"
             "      - admin-units: { table: units.csv, ward: \"${MaXa}\", into: a }\n"
             "      - admin-units: { table: units.csv, into: \"a b\", on-unknown: drop }\n"
             "    to: { file: { dir: out } }\n");
  ConfigErrors errors;
  EXPECT_FALSE(Daemon::create(home.path("config.yaml").string(), errors));
  EXPECT_NE(
      errors.str().find("r.yaml:6:31: " + home.path("units.csv").string() + ":1: no column ten_xa"),
      std::string::npos)
      << errors.str();
  EXPECT_NE(errors.str().find("r.yaml:7:22: admin-units step needs 'ward'"), std::string::npos)
      << errors.str();
  EXPECT_NE(errors.str().find("'into' is a header prefix"), std::string::npos) << errors.str();
  EXPECT_NE(errors.str().find("on-unknown"), std::string::npos) << errors.str();
}

}  // namespace
}  // namespace lienthong::transforms::dossier

#include "core/dossier_code.h"

#include <gtest/gtest.h>

namespace lienthong::dossier {
namespace {

TEST(DossierCode, ParsesTheNationalForm) {
  auto code = parse("000.00.01.H22-240315-0001");
  ASSERT_TRUE(code.ok()) << code.error().message;
  EXPECT_EQ(code->agency, "000.00.01.H22");
  EXPECT_EQ(code->received, (Day{2024, 3, 15}));
  EXPECT_EQ(code->sequence, 1u);
  // Five digits are taken; leap days are days.
  code = parse("000.20.25.H12-240229-12345");
  ASSERT_TRUE(code.ok()) << code.error().message;
  EXPECT_EQ(code->sequence, 12345u);
  EXPECT_EQ(code->received, (Day{2024, 2, 29}));
  EXPECT_TRUE(parse("H22.G01-251231-9999").ok());
}

// Each wrong part is named, with the character where it starts.
TEST(DossierCode, SaysWhatIsWrongAndWhere) {
  struct Case {
    const char* text;
    const char* says;
  };
  const Case cases[] = {
      {"", "not <agency>-<YYMMDD>-<sequence> (character 1)"},
      {"000.00.01.H22", "not <agency>-<YYMMDD>-<sequence>"},
      {"000.00.01.H22-240315", "not <agency>-<YYMMDD>-<sequence>"},
      {"000-00.01.H22-240315-0001", "too many '-'"},
      {"000.00.01.h22-240315-0001", "has 'h' (digits, capital letters and dots only)"},
      {"000.00.01.22-240315-0001", "must end with a group of a letter then digits"},
      {"000.00.01.H-240315-0001", "must end with a group of a letter then digits"},
      {"000..01.H22-240315-0001", "has an empty group"},
      {"H22-240315-0001", "needs dot-separated groups"},
      {"000.00.01.H22-2403150-0001", "the date '2403150' is not YYMMDD (character 15)"},
      {"000.00.01.H22-24031x-0001", "is not YYMMDD (character 20)"},
      {"000.00.01.H22-230229-0001", "29 February 2023 is no date (character 15)"},
      {"000.00.01.H22-241301-0001", "month 13 is no month"},
      {"000.00.01.H22-240431-0001", "31 April 2024 is no date"},
      {"000.00.01.H22-240315-001", "the sequence '001' must have 4 or 5 digits (character 22)"},
      {"000.00.01.H22-240315-123456", "must have 4 or 5 digits"},
      {"000.00.01.H22-240315-00a1", "must be digits (character 24)"},
      {"000.00.01.H22-240315-0000", "the sequence starts at 0001"},
  };
  for (const Case& c : cases) {
    auto code = parse(c.text);
    ASSERT_FALSE(code.ok()) << c.text;
    EXPECT_EQ(code.error().code, ErrorCode::kInvalidMessage);
    EXPECT_NE(code.error().message.find(c.says), std::string::npos)
        << c.text << ": " << code.error().message;
    EXPECT_EQ(code.error().message.rfind("dossier code '" + std::string(c.text) + "': ", 0), 0u)
        << code.error().message;
  }
}

TEST(DossierCode, FormatsWithFourDigitsAndFiveOnlyPastThem) {
  EXPECT_EQ(*format(Code{"000.00.01.H22", {2024, 3, 15}, 7}), "000.00.01.H22-240315-0007");
  EXPECT_EQ(*format(Code{"000.00.01.H22", {2024, 3, 15}, 10000}), "000.00.01.H22-240315-10000");
  EXPECT_FALSE(format(Code{"000.00.01.H22", {2024, 3, 15}, 0}).ok());
  EXPECT_FALSE(format(Code{"000.00.01.H22", {2024, 3, 15}, 100000}).ok());
  EXPECT_FALSE(format(Code{"000.00.01.H22", {2023, 2, 29}, 1}).ok());
  EXPECT_FALSE(format(Code{"000.00.01.H22", {1999, 12, 31}, 1}).ok());
  EXPECT_FALSE(format(Code{"bad agency", {2024, 3, 15}, 1}).ok());
  // What format writes, parse reads back.
  auto back = parse(*format(Code{"000.00.01.H22", {2031, 12, 31}, 42}));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->received, (Day{2031, 12, 31}));
  EXPECT_EQ(back->sequence, 42u);
}

TEST(DossierCode, TheNextCodeOfTheDayAndTheFirst) {
  EXPECT_EQ(*first("000.00.01.H22", {2024, 3, 15}), "000.00.01.H22-240315-0001");
  auto last = parse("000.00.01.H22-240315-0041");
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*next(*last), "000.00.01.H22-240315-0042");
  last = parse("000.00.01.H22-240315-9999");
  EXPECT_EQ(*next(*last), "000.00.01.H22-240315-10000");
  last = parse("000.00.01.H22-240315-99999");
  auto full = next(*last);
  ASSERT_FALSE(full.ok());
  EXPECT_NE(full.error().message.find("used up for the day"), std::string::npos);
  EXPECT_FALSE(first("000.00.01.H22", {2024, 2, 30}).ok());
}

TEST(NationalTime, ParsesWhatItFormatsAndRefusesTheRest) {
  const auto t = std::chrono::sys_days{std::chrono::year{2024} / 3 / 15} + std::chrono::hours(1);
  EXPECT_EQ(nationalTime(t), "20240315080000");
  EXPECT_EQ(parseNationalTime("20240315080000"), t);
  EXPECT_FALSE(parseNationalTime("20240230080000"));  // no such day
  EXPECT_FALSE(parseNationalTime("20240315250000"));
  EXPECT_FALSE(parseNationalTime("2024-03-15T08:00"));
}

}  // namespace
}  // namespace lienthong::dossier

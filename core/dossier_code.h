#pragma once
// Dossier codes (MaHoSo) of the national public service portal:
//   <agency code>-<YYMMDD>-<NNNN>      e.g. 000.00.01.H22-240315-0001
// The agency code is dot-separated groups of digits and capital letters, at least two,
// the last a capital letter then digits (H22); the date is the day of receipt; the
// sequence counts that agency's dossiers of the day. Sequences of 4 or 5 digits are
// accepted; 4 are written (5 only past 9999). Pure functions, any thread.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lienthong/result.h"

namespace lienthong::dossier {

struct Day {
  int year = 0;  // 2000..2099 (two digits in the code)
  int month = 0;
  int day = 0;
  friend bool operator==(const Day&, const Day&) = default;
};

struct Code {
  std::string agency;  // 000.00.01.H22
  Day received;
  std::uint32_t sequence = 0;  // 1..99999
};

inline constexpr std::uint32_t kMaxSequence = 99'999;

// Why `agency` is not an agency code ("" when it is).
std::string agencyProblem(std::string_view agency);

// Parses a dossier code. The error (InvalidMessage) says which part is wrong and at which
// character (1-based), e.g. "dossier code '000.00.01.H22-240230-0001': 30 February 2024
// is no date (character 15)".
Result<Code> parse(std::string_view text);

// The code's text: the sequence with 4 digits at least. InvalidMessage when a part is out
// of range (an agency code that parse() would refuse, no such day, sequence 0 or past
// kMaxSequence).
Result<std::string> format(const Code& code);

// The code after `last` for the same agency and day: sequence + 1. InvalidMessage past
// kMaxSequence (the agency's day is full).
Result<std::string> next(const Code& last);

// The first code of `agency` on `day` (sequence 1).
Result<std::string> first(std::string_view agency, const Day& day);

// A time as the national portal writes it: yyyyMMddHHmmss in the zone `utc_offset` ahead
// of UTC (Asia/Ho_Chi_Minh by default; Vietnam keeps +07:00 all year).
std::string nationalTime(std::chrono::system_clock::time_point t,
                         std::chrono::minutes utc_offset = std::chrono::hours(7));
// Whether `text` has that form (14 digits; the calendar is not checked).
bool isNationalTime(std::string_view text);
// The time a national-format text names (nullopt when it is not one, calendar included).
std::optional<std::chrono::system_clock::time_point> parseNationalTime(
    std::string_view text, std::chrono::minutes utc_offset = std::chrono::hours(7));

}  // namespace lienthong::dossier

#include "core/dossier_code.h"

#include <cstdio>

namespace lienthong::dossier {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isUpper(char c) { return c >= 'A' && c <= 'Z'; }

bool leap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int daysIn(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && leap(year) ? 29 : kDays[month - 1];
}

const char* const kMonths[] = {"January",   "February", "March",    "April",
                               "May",       "June",     "July",     "August",
                               "September", "October",  "November", "December"};

// Why `d` is no day of 2000..2099 ("" when it is one).
std::string dayProblem(const Day& d) {
  if (d.year < 2000 || d.year > 2099) {
    return "year " + std::to_string(d.year) + " is not one of 2000..2099";
  }
  if (d.month < 1 || d.month > 12) return "month " + std::to_string(d.month) + " is no month";
  if (d.day < 1 || d.day > daysIn(d.year, d.month)) {
    return std::to_string(d.day) + " " + kMonths[d.month - 1] + " " + std::to_string(d.year) +
           " is no date";
  }
  return {};
}

Error invalid(std::string_view text, const std::string& why, std::size_t at) {
  return Error(ErrorCode::kInvalidMessage, "dossier code '" + std::string(text) + "': " + why +
                                               " (character " + std::to_string(at + 1) + ")");
}

int twoDigits(std::string_view s, std::size_t at) { return (s[at] - '0') * 10 + (s[at + 1] - '0'); }

}  // namespace

std::string agencyProblem(std::string_view agency) {
  if (agency.empty()) return "the agency code is empty";
  std::size_t groups = 0;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = agency.find('.', start);
    const std::string_view group =
        agency.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    ++groups;
    if (group.empty()) return "the agency code '" + std::string(agency) + "' has an empty group";
    for (char c : group) {
      if (!isDigit(c) && !isUpper(c)) {
        return "the agency code '" + std::string(agency) + "' has '" + std::string(1, c) +
               "' (digits, capital letters and dots only)";
      }
    }
    if (dot == std::string_view::npos) {
      // The last group: capital letters, then digits (H22).
      std::size_t i = 0;
      while (i < group.size() && isUpper(group[i])) ++i;
      const std::size_t letters = i;
      while (i < group.size() && isDigit(group[i])) ++i;
      if (letters == 0 || i == letters || i != group.size()) {
        return "the agency code '" + std::string(agency) + "' must end with a group of a letter " +
               "then digits (such as H22), not '" + std::string(group) + "'";
      }
      break;
    }
    start = dot + 1;
  }
  if (groups < 2) {
    return "the agency code '" + std::string(agency) +
           "' needs dot-separated groups (such as 000.00.01.H22)";
  }
  return {};
}

Result<Code> parse(std::string_view text) {
  // From the end: the sequence, the date, then the agency code (which has no '-').
  const std::size_t last_dash = text.rfind('-');
  if (last_dash == std::string_view::npos || last_dash == 0) {
    return invalid(text, "not <agency>-<YYMMDD>-<sequence>", 0);
  }
  const std::size_t date_dash = text.rfind('-', last_dash - 1);
  if (date_dash == std::string_view::npos) {
    return invalid(text, "not <agency>-<YYMMDD>-<sequence>", 0);
  }
  Code code;
  code.agency = std::string(text.substr(0, date_dash));
  if (code.agency.find('-') != std::string::npos) {
    return invalid(text, "not <agency>-<YYMMDD>-<sequence> (too many '-')", code.agency.find('-'));
  }
  if (std::string why = agencyProblem(code.agency); !why.empty()) return invalid(text, why, 0);

  const std::string_view date = text.substr(date_dash + 1, last_dash - date_dash - 1);
  if (date.size() != 6) {
    return invalid(text, "the date '" + std::string(date) + "' is not YYMMDD", date_dash + 1);
  }
  for (std::size_t i = 0; i < date.size(); ++i) {
    if (!isDigit(date[i])) {
      return invalid(text, "the date '" + std::string(date) + "' is not YYMMDD", date_dash + 1 + i);
    }
  }
  code.received = Day{2000 + twoDigits(date, 0), twoDigits(date, 2), twoDigits(date, 4)};
  if (std::string why = dayProblem(code.received); !why.empty()) {
    return invalid(text, why, date_dash + 1);
  }

  const std::string_view sequence = text.substr(last_dash + 1);
  if (sequence.size() < 4 || sequence.size() > 5) {
    return invalid(text, "the sequence '" + std::string(sequence) + "' must have 4 or 5 digits",
                   last_dash + 1);
  }
  for (std::size_t i = 0; i < sequence.size(); ++i) {
    if (!isDigit(sequence[i])) {
      return invalid(text, "the sequence '" + std::string(sequence) + "' must be digits",
                     last_dash + 1 + i);
    }
    code.sequence = code.sequence * 10 + static_cast<std::uint32_t>(sequence[i] - '0');
  }
  if (code.sequence == 0) return invalid(text, "the sequence starts at 0001", last_dash + 1);
  return code;
}

Result<std::string> format(const Code& code) {
  if (std::string why = agencyProblem(code.agency); !why.empty()) {
    return Error(ErrorCode::kInvalidMessage, why);
  }
  if (std::string why = dayProblem(code.received); !why.empty()) {
    return Error(ErrorCode::kInvalidMessage, "dossier code of " + code.agency + ": " + why);
  }
  if (code.sequence == 0 || code.sequence > kMaxSequence) {
    return Error(ErrorCode::kInvalidMessage,
                 "dossier code of " + code.agency + ": sequence " + std::to_string(code.sequence) +
                     " is not one of 1.." + std::to_string(kMaxSequence));
  }
  char tail[32];
  std::snprintf(tail, sizeof tail, "-%02d%02d%02d-%04u", code.received.year % 100,
                code.received.month, code.received.day, code.sequence);
  return code.agency + tail;
}

Result<std::string> next(const Code& last) {
  if (last.sequence >= kMaxSequence) {
    return Error(ErrorCode::kInvalidMessage, "dossier codes of " + last.agency +
                                                 " are used up for the day (" +
                                                 std::to_string(kMaxSequence) + ")");
  }
  Code following = last;
  ++following.sequence;
  return format(following);
}

Result<std::string> first(std::string_view agency, const Day& day) {
  return format(Code{std::string(agency), day, 1});
}

std::string nationalTime(std::chrono::system_clock::time_point t, std::chrono::minutes utc_offset) {
  using namespace std::chrono;
  const auto local = floor<seconds>(t + utc_offset);
  const sys_days day = floor<days>(local);
  const year_month_day ymd(day);
  const hh_mm_ss hms(local - day);
  char out[48];  // room for any int the compiler imagines
  std::snprintf(out, sizeof out, "%04d%02u%02u%02ld%02ld%02ld", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<long>(hms.hours().count()), static_cast<long>(hms.minutes().count()),
                static_cast<long>(hms.seconds().count()));
  return out;
}

std::optional<std::chrono::system_clock::time_point> parseNationalTime(
    std::string_view text, std::chrono::minutes utc_offset) {
  using namespace std::chrono;
  if (!isNationalTime(text)) return std::nullopt;
  auto n = [&](std::size_t at, std::size_t len) {
    int v = 0;
    for (std::size_t i = at; i < at + len; ++i) v = v * 10 + (text[i] - '0');
    return v;
  };
  const year_month_day ymd{year{n(0, 4)}, month{static_cast<unsigned>(n(4, 2))},
                           day{static_cast<unsigned>(n(6, 2))}};
  const int h = n(8, 2), mi = n(10, 2), s = n(12, 2);
  if (!ymd.ok() || h > 23 || mi > 59 || s > 59) return std::nullopt;
  return sys_days(ymd) + hours(h) + minutes(mi) + seconds(s) - utc_offset;
}

bool isNationalTime(std::string_view text) {
  return text.size() == 14 && text.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace lienthong::dossier

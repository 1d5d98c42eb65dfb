#include "core/vietnamese_text.h"

#include <iconv.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include <cerrno>
#include <cstdint>
#include <vector>

namespace lienthong::vietnamese {
namespace {

// TCVN3 (ABC) byte -> code point, 0xA1-0xFE; 0 where the encoding has no letter (the
// byte is then kept as the Latin-1 character it is).
constexpr std::uint16_t kTcvn3[0x100 - 0xA0] = {
    /* A0 */ 0x00A0, 0x0102, 0x00C2, 0x00CA, 0x00D4, 0x01A0, 0x01AF, 0x0110,
    /* A8 */ 0x0103, 0x00E2, 0x00EA, 0x00F4, 0x01A1, 0x01B0, 0x0111, 0x00AF,
    /* B0 */ 0x00B0, 0x00B1, 0x00B2, 0x00B3, 0x00B4, 0x00E0, 0x1EA3, 0x00E3,
    /* B8 */ 0x00E1, 0x1EA1, 0x00BA, 0x1EB1, 0x1EB3, 0x1EB5, 0x1EAF, 0x00BF,
    /* C0 */ 0x00C0, 0x00C1, 0x00C2, 0x00C3, 0x00C4, 0x00C5, 0x1EB7, 0x1EA7,
    /* C8 */ 0x1EA9, 0x1EAB, 0x1EA5, 0x1EAD, 0x00E8, 0x00CD, 0x1EBB, 0x1EBD,
    /* D0 */ 0x00E9, 0x1EB9, 0x1EC1, 0x1EC3, 0x1EC5, 0x1EBF, 0x1EC7, 0x00EC,
    /* D8 */ 0x1EC9, 0x00D9, 0x00DA, 0x00DB, 0x0129, 0x00ED, 0x1ECB, 0x00F2,
    /* E0 */ 0x00E0, 0x1ECF, 0x00F5, 0x00F3, 0x1ECD, 0x1ED3, 0x1ED5, 0x1ED7,
    /* E8 */ 0x1ED1, 0x1ED9, 0x1EDD, 0x1EDF, 0x1EE1, 0x1EDB, 0x1EE3, 0x00F9,
    /* F0 */ 0x00F0, 0x1EE7, 0x0169, 0x00FA, 0x1EE5, 0x1EEB, 0x1EED, 0x1EEF,
    /* F8 */ 0x1EE9, 0x1EF1, 0x1EF3, 0x1EF7, 0x1EF9, 0x00FD, 0x1EF5, 0x00FF,
};

// Bytes A0-FF that TCVN3 uses for a letter.
bool tcvn3Letter(unsigned c) {
  if (c < 0xA1 || c > 0xFE) return false;
  switch (c) {
    case 0xAF:
    case 0xB0:
    case 0xB1:
    case 0xB2:
    case 0xB3:
    case 0xB4:
    case 0xBA:
    case 0xBF:
    case 0xC0:
    case 0xC1:
    case 0xC2:
    case 0xC3:
    case 0xC4:
    case 0xC5:
    case 0xCD:
    case 0xD9:
    case 0xDA:
    case 0xDB:
    case 0xE0:
    case 0xF0:
      return false;
    default:
      return true;
  }
}

// The Latin-1 letters Vietnamese uses (À Á Â Ã È É Ê Ì Í Ò Ó Ô Õ Ù Ú Ý and lower case).
bool vietnameseLatin1(unsigned c) {
  switch (c | 0x20) {
    case 0xE0:
    case 0xE1:
    case 0xE2:
    case 0xE3:
    case 0xE8:
    case 0xE9:
    case 0xEA:
    case 0xEC:
    case 0xED:
    case 0xF2:
    case 0xF3:
    case 0xF4:
    case 0xF5:
    case 0xF9:
    case 0xFA:
    case 0xFD:
      return c >= 0xC0;
    default:
      return false;
  }
}

void appendUtf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// The code point at `i` of valid UTF-8 and its length.
std::uint32_t codePoint(std::string_view s, std::size_t i, std::size_t* length) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) {
    *length = 1;
    return c;
  }
  if (c < 0xE0) {
    *length = 2;
    return ((c & 0x1Fu) << 6) | (b(1) & 0x3Fu);
  }
  if (c < 0xF0) {
    *length = 3;
    return ((c & 0x0Fu) << 12) | ((b(1) & 0x3Fu) << 6) | (b(2) & 0x3Fu);
  }
  *length = 4;
  return ((c & 0x07u) << 18) | ((b(1) & 0x3Fu) << 12) | ((b(2) & 0x3Fu) << 6) | (b(3) & 0x3Fu);
}

// Where a field of text ends: markup (XML, JSON) and line ends.
bool fieldBreak(std::uint32_t cp) {
  return cp == '<' || cp == '>' || cp == '"' || cp == '{' || cp == '}' || cp == '[' || cp == ']' ||
         cp == '\r' || cp == '\n';
}

}  // namespace

std::optional<std::size_t> invalidUtf8At(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t min = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 1, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3, min = 0x10000;
    } else {
      return i;
    }
    std::uint32_t cp = c & (0x3Fu >> n);
    for (std::size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return i;
      const unsigned char t = static_cast<unsigned char>(s[i + k]);
      if ((t & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (t & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += n + 1;
  }
  return std::nullopt;
}

std::string_view name(Legacy encoding) {
  return encoding == Legacy::kTcvn3 ? "tcvn3" : "windows-1258";
}

Legacy guessLegacy(std::string_view bytes) {
  // TCVN3: its letters that Windows-1258 has as symbols (Ă Â Ê Ô Ơ Ư Đ ă â ê ô ơ ư đ à ả ã
  // á ạ ằ ẳ ẵ ắ). Windows-1258: a tone mark (CC D2 DE EC F2) right after a vowel.
  std::size_t tcvn = 0;
  std::size_t cp1258 = 0;
  auto vowel = [](unsigned c) {
    switch (c | 0x20) {
      case 'a':
      case 'e':
      case 'i':
      case 'o':
      case 'u':
      case 'y':
        return c < 0x80;
      default:
        return c == 0xC2 || c == 0xE2 || c == 0xCA || c == 0xEA || c == 0xD4 || c == 0xF4 ||
               c == 0xC3 || c == 0xE3 || c == 0xD5 || c == 0xF5 || c == 0xDD || c == 0xFD;
    }
  };
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const unsigned c = static_cast<unsigned char>(bytes[i]);
    if ((c >= 0xA1 && c <= 0xAE) || (c >= 0xB5 && c <= 0xB9) || (c >= 0xBB && c <= 0xBE)) ++tcvn;
    const bool tone = c == 0xCC || c == 0xD2 || c == 0xDE || c == 0xEC || c == 0xF2;
    if (tone && i > 0 && vowel(static_cast<unsigned char>(bytes[i - 1]))) ++cp1258;
  }
  return tcvn > cp1258 ? Legacy::kTcvn3 : Legacy::kWindows1258;
}

Result<std::string> decode(std::string_view bytes, Legacy encoding) {
  std::string out;
  if (encoding == Legacy::kTcvn3) {
    out.reserve(bytes.size() * 2);
    for (char ch : bytes) {
      const unsigned c = static_cast<unsigned char>(ch);
      if (c < 0x80) {
        out += ch;
      } else if (c >= 0xA0) {
        appendUtf8(out, kTcvn3[c - 0xA0]);
      } else {
        appendUtf8(out, c);  // C1 controls: kept as the code points they are
      }
    }
    return toNfc(out);
  }
  iconv_t cd = iconv_open("UTF-8", "WINDOWS-1258");
  if (cd == reinterpret_cast<iconv_t>(-1)) {
    return Error(ErrorCode::kInternal, "no Windows-1258 converter (iconv)");
  }
  out.resize(bytes.size() * 4 + 16);
  char* src = const_cast<char*>(bytes.data());
  std::size_t left = bytes.size();
  char* dst = out.data();
  std::size_t room = out.size();
  std::size_t r = iconv(cd, &src, &left, &dst, &room);
  const int err = errno;
  // The last letter waits for a tone mark that may follow: flush it.
  if (r != static_cast<std::size_t>(-1)) r = iconv(cd, nullptr, nullptr, &dst, &room);
  iconv_close(cd);
  if (r == static_cast<std::size_t>(-1)) {
    const std::size_t at = bytes.size() - left;
    return Error(ErrorCode::kInvalidMessage,
                 "byte " + std::to_string(at) + " is not Windows-1258 (" +
                     std::to_string(static_cast<unsigned char>(bytes[at < bytes.size() ? at : 0])) +
                     (err == EILSEQ ? ")" : ", cut short)"));
  }
  out.resize(out.size() - room);
  return toNfc(out);
}

namespace {

// What one field of UTF-8 text says about TCVN3 (see repairTcvn3Words).
struct FieldSigns {
  bool latin1_only = true;  // no character beyond U+00FF
  bool ascii_letter = false;
  bool all_upper = true;  // its ASCII letters (two at least) are upper case
  int ascii_letters = 0;
  int strong = 0;  // TCVN3 letters no Latin text has as letters (symbols, Ç inside "TrÇn")
  int weak = 0;    // TCVN3 letters that are letters of other Latin languages (ü ñ ç ...)
};

FieldSigns signsOf(std::string_view s, std::size_t begin, std::size_t end) {
  FieldSigns w;
  bool prev_lower = false;
  for (std::size_t k = begin; k < end;) {
    std::size_t n = 0;
    const std::uint32_t cp = codePoint(s, k, &n);
    k += n;
    const bool ascii_lower = cp >= 'a' && cp <= 'z';
    const bool ascii_upper = cp >= 'A' && cp <= 'Z';
    if (ascii_lower || ascii_upper) {
      w.ascii_letter = true;
      ++w.ascii_letters;
      if (ascii_lower) w.all_upper = false;
    } else if (cp > 0xFF) {
      w.latin1_only = false;
    } else if (cp >= 0xA0 && tcvn3Letter(cp)) {
      const bool upper_latin1 = cp >= 0xC0 && cp <= 0xDE;
      if (cp <= 0xBE || (upper_latin1 && (prev_lower || !vietnameseLatin1(cp)))) {
        ++w.strong;  // a symbol, or an upper-case letter inside a lower-case word
      } else if (!vietnameseLatin1(cp)) {
        ++w.weak;
      }
    }
    prev_lower = ascii_lower || (cp >= 0xDF && cp <= 0xFF);
  }
  if (w.ascii_letters < 2) w.all_upper = false;
  return w;
}

// The end of the field starting at `i` (the next break), or `i` when `i` is a break.
std::size_t fieldEnd(std::string_view s, std::size_t i) {
  while (i < s.size()) {
    std::size_t n = 0;
    if (fieldBreak(codePoint(s, i, &n))) break;
    i += n;
  }
  return i;
}

}  // namespace

std::string repairTcvn3Words(std::string_view s, std::size_t* repaired) {
  if (repaired) *repaired = 0;
  if (invalidUtf8At(s)) return std::string(s);
  // First pass: is there TCVN3 in this text at all? A field with a strong sign and a
  // letter says so; only then do weak signs count. A field without letters (20×30, £5)
  // is never TCVN3.
  bool tcvn3_seen = false;
  for (std::size_t i = 0; i < s.size() && !tcvn3_seen;) {
    const std::size_t end = fieldEnd(s, i);
    if (end == i) {
      std::size_t n = 0;
      codePoint(s, i, &n);
      i += n;
      continue;
    }
    const FieldSigns w = signsOf(s, i, end);
    tcvn3_seen = w.latin1_only && w.strong > 0 && w.ascii_letter;
    i = end;
  }
  if (!tcvn3_seen) return toNfc(s);
  std::string out;
  out.reserve(s.size() + 16);
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t end = fieldEnd(s, i);
    if (end == i) {
      std::size_t n = 0;
      codePoint(s, i, &n);
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    const FieldSigns w = signsOf(s, i, end);
    // A field of TCVN3: every TCVN3 letter in it is one, the ambiguous ones too (é in
    // "Hµ Néi" is ộ).
    if (w.latin1_only && w.ascii_letter && (w.strong > 0 || w.weak > 0)) {
      for (std::size_t k = i; k < end;) {
        std::size_t n = 0;
        const std::uint32_t cp = codePoint(s, k, &n);
        std::uint32_t mapped = cp >= 0xA0 && cp <= 0xFF && tcvn3Letter(cp) ? kTcvn3[cp - 0xA0] : cp;
        // .VnTimeH (the upper-case fonts) draws the lower-case codes in upper case.
        if (w.all_upper && mapped != cp) mapped = static_cast<std::uint32_t>(u_toupper(mapped));
        appendUtf8(out, mapped);
        k += n;
      }
      if (repaired) ++*repaired;
    } else {
      out.append(s.substr(i, end - i));
    }
    i = end;
  }
  return toNfc(out);
}

std::string toNfc(std::string_view utf8) {
  UErrorCode status = U_ZERO_ERROR;
  const UNormalizer2* n = unorm2_getNFCInstance(&status);
  if (U_FAILURE(status) || utf8.empty()) return std::string(utf8);
  int32_t length = 0;
  u_strFromUTF8(nullptr, 0, &length, utf8.data(), static_cast<int32_t>(utf8.size()), &status);
  if (status != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(status)) return std::string(utf8);
  status = U_ZERO_ERROR;
  std::u16string wide(static_cast<std::size_t>(length), u'\0');
  u_strFromUTF8(wide.data(), length, nullptr, utf8.data(), static_cast<int32_t>(utf8.size()),
                &status);
  if (U_FAILURE(status)) return std::string(utf8);
  if (unorm2_isNormalized(n, wide.data(), length, &status) || U_FAILURE(status)) {
    return std::string(utf8);
  }
  status = U_ZERO_ERROR;
  std::u16string composed(wide.size() + 16, u'\0');
  int32_t out_length = unorm2_normalize(n, wide.data(), length, composed.data(),
                                        static_cast<int32_t>(composed.size()), &status);
  if (status == U_BUFFER_OVERFLOW_ERROR) {  // NFC may also grow text: the size it needs
    status = U_ZERO_ERROR;
    composed.assign(static_cast<std::size_t>(out_length), u'\0');
    out_length = unorm2_normalize(n, wide.data(), length, composed.data(), out_length, &status);
  }
  if (U_FAILURE(status)) return std::string(utf8);
  std::string out(static_cast<std::size_t>(out_length) * 3 + 1, '\0');
  int32_t bytes = 0;
  u_strToUTF8(out.data(), static_cast<int32_t>(out.size()), &bytes, composed.data(), out_length,
              &status);
  if (U_FAILURE(status)) return std::string(utf8);
  out.resize(static_cast<std::size_t>(bytes));
  return out;
}

}  // namespace lienthong::vietnamese

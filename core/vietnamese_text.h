#pragma once
// Vietnamese text from legacy systems, brought to Unicode (UTF-8, NFC):
//  - bytes in a legacy 8-bit encoding: Windows-1258 (tones as combining marks) or TCVN3
//    (ABC, the .VnTime fonts);
//  - "TCVN3 text in Unicode": text typed with a TCVN3 font and stored as the Latin-1
//    letters those bytes are ("TrÇn V¨n B×nh" for "Trần Văn Bình"), common in old
//    databases and spreadsheets. It is repaired field by field (a field: the text between
//    markup — XML tags, JSON quotes and brackets — or line ends): a field is TCVN3 when
//    all its letters are ASCII or Latin-1 and it has a sign of TCVN3 — a symbol that is a
//    TCVN3 letter (¨ © ª « ¬ ® µ ¶ · ¸ ¹ » ...) beside letters, or an upper-case Latin-1
//    letter inside a lower-case word ("TiÕng"); once a text has such a field, the letters
//    of other languages that are TCVN3 letters (ü ñ ç å ...) count as signs too. Genuine
//    Vietnamese, which has letters beyond Latin-1 (đ ă ơ ư ạ ...), is left as it is, and
//    so is Latin text without TCVN3 signs ("Müller", "20×30"). Fields in upper case
//    (the .VnTimeH fonts) come out in upper case.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "lienthong/result.h"

namespace lienthong::vietnamese {

// The offset of the first byte that is not part of valid UTF-8; nullopt when all is.
std::optional<std::size_t> invalidUtf8At(std::string_view text);

enum class Legacy { kWindows1258, kTcvn3 };
std::string_view name(Legacy encoding);  // "windows-1258", "tcvn3"

// Which legacy encoding bytes that are not UTF-8 most likely are: TCVN3 when they use its
// letters A1-AE (Ă Â Ê Ô Ơ Ư Đ ă â ê ô ơ ư đ), which Windows-1258 has as symbols.
Legacy guessLegacy(std::string_view bytes);

// The bytes decoded to UTF-8 NFC; InvalidMessage naming the offset of a byte the encoding
// does not have.
Result<std::string> decode(std::string_view bytes, Legacy encoding);

// UTF-8 text with its "TCVN3 text in Unicode" fields repaired (see above), in NFC;
// `repaired` counts the fields changed.
std::string repairTcvn3Words(std::string_view utf8, std::size_t* repaired = nullptr);

// UTF-8 text in NFC (the text itself when it is, or is not valid UTF-8).
std::string toNfc(std::string_view utf8);

}  // namespace lienthong::vietnamese

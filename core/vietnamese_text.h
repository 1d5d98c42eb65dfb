#pragma once
// Vietnamese text from legacy systems, brought to Unicode (UTF-8, NFC):
//  - bytes in a legacy 8-bit encoding: Windows-1258 (tones as combining marks) or TCVN3
//    (ABC, the .VnTime fonts);
//  - "TCVN3 text in Unicode": text typed with a TCVN3 font and stored as the Latin-1
//    letters those bytes are ("TrÇn V¨n B×nh" for "Trần Văn Bình"), common in old
//    databases and spreadsheets. A word is repaired when all its non-ASCII letters are
//    Latin-1 and one of them never occurs in Vietnamese (¨ © ª « ¬ ® µ ¶ · ¸ ¹ » ... å ç
//    ë î ï ñ ö ÷ ø û ü þ): genuine Vietnamese words, which use letters beyond Latin-1
//    (đ ă ơ ư ạ ...) or only its Vietnamese ones, are left as they are.

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

// UTF-8 text with its "TCVN3 text in Unicode" words repaired (see above), in NFC;
// `repaired` counts the words changed.
std::string repairTcvn3Words(std::string_view utf8, std::size_t* repaired = nullptr);

// UTF-8 text in NFC (the text itself when it is, or is not valid UTF-8).
std::string toNfc(std::string_view utf8);

}  // namespace lienthong::vietnamese

// Vietnamese text from legacy systems: TCVN3 and Windows-1258 bytes decoded, "TCVN3 text
// in Unicode" words repaired and genuine Vietnamese left alone, the result in NFC.

#include "core/vietnamese_text.h"

#include <gtest/gtest.h>

namespace lienthong::vietnamese {
namespace {

TEST(VietnameseText, InvalidUtf8IsFoundAtItsByte) {
  EXPECT_FALSE(invalidUtf8At("Trần Văn Bình"));
  EXPECT_EQ(invalidUtf8At("ab\xE2\x82"), 2u);    // cut short
  EXPECT_EQ(invalidUtf8At("x\xC0\xAF"), 1u);     // overlong
  EXPECT_EQ(invalidUtf8At("\xED\xA0\x80"), 0u);  // a surrogate
  EXPECT_EQ(invalidUtf8At("ok\xFF"), 2u);
}

TEST(VietnameseText, Tcvn3BytesAreDecoded) {
  // "Trần Văn Bình, phường Đông Hải" in TCVN3 (ABC).
  const std::string tcvn3 =
      "Tr\xC7n V\xA8n B\xD7nh, ph\xAD\xEAng \xA7\xAB"
      "ng H\xB6i";
  EXPECT_EQ(guessLegacy(tcvn3), Legacy::kTcvn3);
  auto text = decode(tcvn3, Legacy::kTcvn3);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "Trần Văn Bình, phường Đông Hải");
}

TEST(VietnameseText, Windows1258BytesAreDecodedAndComposed) {
  // "Trần Văn Đức" in Windows-1258: the tones as combining marks (0xCC grave, 0xEC acute).
  const std::string cp1258 =
      "Tr\xE2\xCCn V\xE3n \xD0\xFD\xEC"
      "c";
  EXPECT_EQ(guessLegacy(cp1258), Legacy::kWindows1258);
  auto text = decode(cp1258, Legacy::kWindows1258);
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_EQ(*text, "Trần Văn Đức");  // precomposed (NFC)
}

TEST(VietnameseText, Tcvn3FieldsInUnicodeAreRepairedAndOtherTextIsLeftAlone) {
  std::size_t fields = 0;
  // "TrÇn V¨n B×nh", "Hµ Néi" as Latin-1 letters in UTF-8, beside genuine Vietnamese.
  EXPECT_EQ(repairTcvn3Words("<ChuHoSo>Tr\u00C7n V\u00A8n B\u00D7nh</ChuHoSo><DiaChi>H\u00B5 "
                             "N\u00E9i</DiaChi><GhiChu>Nguyễn Thị Hồng Nhung, Bình</GhiChu>",
                             &fields),
            "<ChuHoSo>Trần Văn Bình</ChuHoSo><DiaChi>Hà Nội</DiaChi>"
            "<GhiChu>Nguyễn Thị Hồng Nhung, Bình</GhiChu>");
  EXPECT_EQ(fields, 2u);
  EXPECT_EQ(repairTcvn3Words("Xin chào các bạn, tôi là Hà", &fields),
            "Xin chào các bạn, tôi là Hà");
  EXPECT_EQ(fields, 0u);
  EXPECT_EQ(repairTcvn3Words("{\"x\":\"B\u00B6o Th\u00BEng\",\"y\":\"c\u00F1a\"}", &fields),
            "{\"x\":\"Bảo Thắng\",\"y\":\"của\"}");  // ñ counts once TCVN3 is seen
  EXPECT_EQ(fields, 2u);
  // Latin text without a sign of TCVN3 is not touched; nor are symbols beside digits.
  EXPECT_EQ(repairTcvn3Words("<a>M\u00FCller, Fran\u00E7ois</a><b>20\u00D730 \u00A35</b>", &fields),
            "<a>M\u00FCller, Fran\u00E7ois</a><b>20\u00D730 \u00A35</b>");
  EXPECT_EQ(fields, 0u);
  // The upper-case fonts: upper case out.
  EXPECT_EQ(repairTcvn3Words("TR\u00C7N V\u00A1N B\u00D7NH"), "TRẦN VĂN BÌNH");
  // Decomposed Vietnamese comes out composed.
  EXPECT_EQ(repairTcvn3Words("Vie\u0302\u0323t"), "Việt");
}

TEST(VietnameseText, TheLegacyEncodingIsGuessedFromItsSigns) {
  EXPECT_EQ(guessLegacy("H\xB5 N\xE9i"), Legacy::kTcvn3);           // "Hà Nội"
  EXPECT_EQ(guessLegacy("Vi\xEA\xF2t Nam"), Legacy::kWindows1258);  // tones after vowels
  EXPECT_EQ(*decode("H\xB5 N\xE9i", Legacy::kTcvn3), "Hà Nội");
}

}  // namespace
}  // namespace lienthong::vietnamese

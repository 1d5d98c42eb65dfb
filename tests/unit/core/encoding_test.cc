// Base64 both ways of writing it (RFC 4648 test vectors) and UTC text.

#include "core/encoding.h"

#include <gtest/gtest.h>

namespace lienthong {
namespace {

TEST(Encoding, Base64WithPaddingAndBase64UrlWithout) {
  const char* const kVectors[][2] = {{"", ""},
                                     {"f", "Zg=="},
                                     {"fo", "Zm8="},
                                     {"foo", "Zm9v"},
                                     {"foob", "Zm9vYg=="},
                                     {"fooba", "Zm9vYmE="},
                                     {"foobar", "Zm9vYmFy"}};
  for (const auto& v : kVectors) EXPECT_EQ(base64Encode(v[0]), v[1]) << v[0];
  EXPECT_EQ(base64Encode("\xfb\xff\xfe"), "+//+");
  EXPECT_EQ(base64Encode("\xfb\xff\xfe", true), "-__-");
  EXPECT_EQ(base64Encode("fo", true), "Zm8");
  EXPECT_EQ(base64Encode("f", true), "Zg");
}

TEST(Encoding, UtcText) {
  EXPECT_EQ(utcText(std::time_t{0}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(utcText(std::time_t{1795773600}), "2026-11-27T10:00:00Z");
}

}  // namespace
}  // namespace lienthong

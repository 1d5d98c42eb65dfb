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

TEST(Encoding, TraceparentIsReadAsW3CTraceContextSaysAndMadeForAHop) {
  EXPECT_EQ(traceIdOf("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(traceIdOf("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later"),
            "4bf92f3577b34da6a3ce929d0e0e4736");  // a later version's first fields
  for (const char* bad :
       {"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // 00 is exact
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",        // version ff
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",        // zero trace
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",        // zero parent
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",        // upper case
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"}) {
    EXPECT_EQ(traceIdOf(bad), "") << bad;
  }
  const std::string hop = traceparentFor("4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(traceIdOf(hop), "4bf92f3577b34da6a3ce929d0e0e4736") << hop;
  EXPECT_EQ(hop.substr(52), "-01");
  EXPECT_NE(hop, traceparentFor("4bf92f3577b34da6a3ce929d0e0e4736"));  // a new parent id
  EXPECT_TRUE(isTraceparent("Traceparent"));
  EXPECT_FALSE(isTraceparent("tracestate"));
}

TEST(Encoding, UtcText) {
  EXPECT_EQ(utcText(std::time_t{0}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(utcText(std::time_t{1795773600}), "2026-11-27T10:00:00Z");
}

}  // namespace
}  // namespace lienthong

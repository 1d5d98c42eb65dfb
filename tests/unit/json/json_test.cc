// The XML <-> JSON mapping: lossless round trips, namespaces, mixed content, errors.

#include <gtest/gtest.h>

#include "core/xpath.h"
#include "transforms/json/json_steps.h"

namespace lienthong {
namespace {

using transforms::json::jsonToXml;
using transforms::json::xmlToJson;

std::string toJson(const std::string& xml, bool keep_whitespace = false) {
  Message m;
  m.setBody(xml);
  Exchange ex(m, "r", ExchangePattern::kOneWay);
  auto r = xmlToJson(ex, keep_whitespace);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : "";
}

TEST(XmlJson, MapsNamespacesAttributesAndTextAsDocumented) {
  EXPECT_EQ(toJson("<h:HoSo xmlns:h=\"urn:lienthong:hoso:1\" h:phienBan=\"2\">"
                   "<h:MaHoSo>HS-1</h:MaHoSo><h:Trong/><h:GhiChu loai=\"a\">x &amp; y</h:GhiChu>"
                   "</h:HoSo>"),
            "{\"h:HoSo\":{\"@xmlns:h\":\"urn:lienthong:hoso:1\",\"@h:phienBan\":\"2\",\"#\":["
            "{\"h:MaHoSo\":\"HS-1\"},{\"h:Trong\":\"\"},"
            "{\"h:GhiChu\":{\"@loai\":\"a\",\"#\":[\"x & y\"]}}]}}");
  EXPECT_EQ(toJson("<a xmlns=\"urn:x\">mixed <b>bold</b> text</a>"),
            "{\"a\":{\"@xmlns\":\"urn:x\",\"#\":[\"mixed \",{\"b\":\"bold\"},\" text\"]}}");
}

TEST(XmlJson, RoundTripsWithoutLoss) {
  const char* docs[] = {
      "<h:HoSo xmlns:h=\"urn:lienthong:hoso:1\" xmlns:x=\"urn:x\" x:a=\"1\">\n"
      "  <h:MaHoSo>000.00.01.H22-240315-0001</h:MaHoSo>\n"
      "  <h:ChuHoSo>Nguyễn Văn An</h:ChuHoSo>\n"
      "  <h:TaiLieu><h:Ten>Giấy &lt;1&gt;</h:Ten><h:Ten/></h:TaiLieu>\n"
      "</h:HoSo>",
      "<p xmlns=\"urn:d\">text <i>in</i> between <![CDATA[<raw>]]> end</p>",
      "<e a=\"quote &quot; and tab\"/>",
  };
  for (const char* doc : docs) {
    std::string json = toJson(doc);
    auto xml = jsonToXml(json);
    ASSERT_TRUE(xml.ok()) << xml.error().message << "\n" << json;
    EXPECT_EQ(toJson(*xml), json) << *xml;  // the same document again
  }
}

TEST(XmlJson, WhitespaceBetweenElementsIsDroppedUnlessKept) {
  const std::string doc = "<a>\n  <b>1</b>\n</a>";
  EXPECT_EQ(toJson(doc), "{\"a\":{\"#\":[{\"b\":\"1\"}]}}");
  EXPECT_EQ(toJson(doc, true), "{\"a\":{\"#\":[\"\\n  \",{\"b\":\"1\"},\"\\n\"]}}");
}

TEST(XmlJson, JsonOutsideTheMappingIsAnInvalidMessage) {
  struct Case {
    const char* json;
    const char* part;
  } cases[] = {
      {"not json", "not JSON"},
      {"[1,2]", "an element must be an object"},
      {"{\"a\":1,\"b\":2}", "exactly one key, found 2"},
      {"{\"a\":{\"x\":\"1\"}}", "unexpected key 'x'"},
      {"{\"a b\":\"1\"}", "not an element name"},
      {"{\"p:a\":\"1\"}", "Namespace prefix p"},  // undeclared prefix
  };
  for (const auto& c : cases) {
    auto r = jsonToXml(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidMessage);
    EXPECT_NE(r.error().message.find(c.part), std::string::npos)
        << c.json << ": " << r.error().message;
  }
}

}  // namespace
}  // namespace lienthong

#include "lienthong/template.h"

#include <gtest/gtest.h>

#include <regex>

namespace lienthong {
namespace {

std::string render(std::string_view text, const Exchange& ex) {
  TemplateError err;
  auto t = Template::compile(text, &err);
  EXPECT_TRUE(t) << err.message;
  return t ? t->render(ex) : "";
}

Exchange sample() {
  Message m;
  m.setId("m-1");
  m.setCorrelationId("c-1");
  m.setHeader("MaHoSo", "000.00.01.H22-240315-0001");
  m.setHeader("Empty", "");
  m.setBody("<x/>");
  m.setContentType("application/xml");
  Exchange ex(m, "route-a", ExchangePattern::kOneWay);
  ex.setTraceId("0123456789abcdef0123456789abcdef");
  return ex;
}

TEST(Template, RendersHeadersFieldsAndLiterals) {
  Exchange ex = sample();
  EXPECT_EQ(render("hs=${MaHoSo};", ex), "hs=000.00.01.H22-240315-0001;");
  EXPECT_EQ(render("${Missing}|${Missing:-none}|${Empty:-dflt}", ex), "|none|dflt");
  EXPECT_EQ(render("${message.id}/${message.correlation-id}/${message.content-type}", ex),
            "m-1/c-1/application/xml");
  EXPECT_EQ(render("${route.id} ${trace.id} ${body}", ex),
            "route-a 0123456789abcdef0123456789abcdef <x/>");
  EXPECT_EQ(render("$${literal}", ex), "${literal}");
  EXPECT_EQ(render("${header.body}", ex), "");
}

TEST(Template, NowUsesVietnamTimeAndPatterns) {
  Exchange ex = sample();
  EXPECT_TRUE(std::regex_match(render("${now:yyyyMMddHHmmss}", ex), std::regex("[0-9]{14}")));
  EXPECT_TRUE(std::regex_match(render("${now}", ex),
                               std::regex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\+07:00")));
  EXPECT_TRUE(std::regex_match(render("${now:yyMMdd'T'HH}", ex), std::regex("[0-9]{6}T[0-9]{2}")));
}

TEST(Template, UuidIsNewEachTime) {
  Exchange ex = sample();
  TemplateError err;
  auto t = Template::compile("${uuid}", &err);
  ASSERT_TRUE(t);
  EXPECT_NE(t->render(ex), t->render(ex));
  EXPECT_EQ(t->render(ex).size(), 36u);
}

TEST(Template, ReportsErrorsWithOffsets) {
  struct Case {
    const char* text;
    std::size_t offset;
    const char* message_part;
  } cases[] = {
      {"abc ${MaHoSo", 4, "unclosed"},
      {"${}", 0, "empty"},
      {"x ${message.size}", 4, "unknown message field"},
      {"${route.name}", 2, "unknown route field"},
      {"${now:yyyyQQ}", 10, "bad time pattern"},
      {"ab${Ma Ho}", 6, "invalid character ' '"},
      {"${:-x}", 2, "missing header name"},
  };
  for (const auto& c : cases) {
    TemplateError err;
    EXPECT_FALSE(Template::compile(c.text, &err)) << c.text;
    EXPECT_EQ(err.offset, c.offset) << c.text;
    EXPECT_NE(err.message.find(c.message_part), std::string::npos) << c.text << ": " << err.message;
  }
}

}  // namespace
}  // namespace lienthong

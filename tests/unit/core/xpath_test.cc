#include "core/xpath.h"

#include <gtest/gtest.h>

namespace lienthong {
namespace {

Exchange withHeaders(std::initializer_list<std::pair<const char*, const char*>> headers) {
  Message m;
  for (const auto& [k, v] : headers) m.setHeader(k, v);
  return Exchange(m, "r", ExchangePattern::kOneWay);
}

bool eval(const char* expr, Exchange& ex) {
  XPath::CompileError err;
  auto p = XPath::compile(expr, {}, &err);
  EXPECT_TRUE(p) << expr << ": " << err.message;
  if (!p) return false;
  auto r = p->evaluate(ex);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() && *r;
}

TEST(XPath, HeadersAreXPathVariables) {
  auto ex = withHeaders({{"TrangThai", "10"}, {"KenhThucHien", "2"}});
  EXPECT_TRUE(eval("$TrangThai = '10'", ex));
  EXPECT_FALSE(eval("$TrangThai = '9'", ex));
  EXPECT_TRUE(eval("$TrangThai = '10' and $KenhThucHien != '1'", ex));
  EXPECT_TRUE(eval("$TrangThai > 9", ex));
  EXPECT_TRUE(eval("not($Missing)", ex));
  EXPECT_TRUE(eval("$Missing = ''", ex));
  EXPECT_TRUE(eval("starts-with($TrangThai, '1') or false()", ex));
  EXPECT_TRUE(eval("contains(concat($TrangThai, '-', $KenhThucHien), '10-2')", ex));
}

TEST(XPath, SyntaxErrorsCarryTheOffset) {
  XPath::CompileError err;
  EXPECT_FALSE(XPath::compile("$TrangThai = = '10'", {}, &err));
  EXPECT_FALSE(err.message.empty());
  EXPECT_GE(err.offset, 11u);
  EXPECT_LE(err.offset, 14u);
}

TEST(XPath, UnknownFunctionAndPrefixAreFoundAtCompileTime) {
  XPath::CompileError err;
  EXPECT_FALSE(XPath::compile("frobnicate($X)", {}, &err));
  EXPECT_NE(err.message.find("function"), std::string::npos) << err.message;
  EXPECT_FALSE(XPath::compile("count(/h:HoSo) = 0", {}, &err));
  EXPECT_TRUE(XPath::compile("count(/h:HoSo) = 0", {{"h", "urn:lienthong:hoso:1"}}, &err));
}

}  // namespace
}  // namespace lienthong

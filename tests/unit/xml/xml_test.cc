// The safe parse, XPath on the body, and the extract, filter, validate and transform steps.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/builtins.h"
#include "core/loader.h"
#include "core/xml_document.h"
#include "core/xpath.h"
#include "transforms/xml/xml_steps.h"

namespace lienthong {
namespace {

namespace fs = std::filesystem;
using transforms::xml::ExtractSettings;
using transforms::xml::ExtractStep;
using transforms::xml::FilterStep;
using transforms::xml::Schema;
using transforms::xml::Stylesheet;
using transforms::xml::TransformSettings;
using transforms::xml::TransformStep;
using transforms::xml::ValidateStep;

const std::map<std::string, std::string> kNs = {{"h", "urn:lienthong:hoso:1"}};

const char* kDossier =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<h:HoSo xmlns:h=\"urn:lienthong:hoso:1\">\n"
    "  <h:MaHoSo>000.00.01.H22-240315-0001</h:MaHoSo>\n"
    "  <h:TrangThai>4</h:TrangThai>\n"
    "  <h:ChuHoSo>Nguyễn Văn An</h:ChuHoSo>\n"
    "</h:HoSo>\n";

Exchange exchangeOf(std::string body) {
  Message m;
  m.setBody(std::move(body));
  m.setContentType("application/xml");
  return Exchange(m, "r", ExchangePattern::kOneWay);
}

class TempFiles {
 public:
  TempFiles() {
    static int n = 0;
    dir_ = fs::temp_directory_path() /
           ("lienthong-xml-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
    fs::create_directories(dir_);
  }
  ~TempFiles() { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  const fs::path& dir() const { return dir_; }

 private:
  fs::path dir_;
};

std::string errorOf(const std::string& body) {
  auto r = XmlDocument::parse(body);
  EXPECT_FALSE(r.ok()) << body;
  if (r.ok()) return "";
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidMessage);
  return r.error().message;
}

TEST(XmlParse, ParsesOncePerBodyAndShares) {
  initXml();
  Exchange ex = exchangeOf(kDossier);
  auto a = xmlOf(ex);
  auto b = xmlOf(ex);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());  // one parse for every step
  ex.message().setBody(std::string(kDossier));
  auto c = xmlOf(ex);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(a->get(), c->get());  // a new body is parsed again
}

TEST(XmlParse, DeclaredLegacyEncodingsAreReadAsUtf8) {
  // "Hà Nội" in Windows-1258 (a combining dot below after 'o' with circumflex) and in
  // ISO-8859-1 ("café").
  auto w = XmlDocument::parse(
      "<?xml version=\"1.0\" encoding=\"windows-1258\"?><a>H\xE0 N\xF4\xF2i</a>");
  ASSERT_TRUE(w.ok()) << w.error().message;
  xmlChar* text = xmlNodeGetContent((*w)->root());
  // glibc composes the base letter and the mark: the result is NFC ("ộ", U+1ED9).
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(text)), "H\u00e0 N\u1ed9i");
  xmlFree(text);
  auto l = XmlDocument::parse("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>caf\xE9</a>");
  ASSERT_TRUE(l.ok()) << l.error().message;
  text = xmlNodeGetContent((*l)->root());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(text)), "caf\u00e9");
  xmlFree(text);
}

TEST(XmlParse, VietnameseTextIsNormalisedToNfc) {
  // "Nguyễn" decomposed: e, combining circumflex (U+0302), combining tilde (U+0303); and
  // in an attribute "Hà" as a + combining grave (U+0300).
  Exchange ex = exchangeOf(
      "<h:HoSo xmlns:h=\"urn:lienthong:hoso:1\" noi=\"Ha\xCC\x80 N\xE1\xBB\x99i\">"
      "<h:ChuHoSo>Nguye\xCC\x82\xCC\x83n Va\xCC\x86n An</h:ChuHoSo></h:HoSo>");
  ExtractSettings s;
  XPath::CompileError err;
  s.headers.emplace_back("ChuHoSo", *XPath::compile("//h:ChuHoSo", kNs, &err));
  s.headers.emplace_back("Noi", *XPath::compile("/h:HoSo/@noi", kNs, &err));
  ExtractStep step(std::move(s));
  ASSERT_TRUE(step.process(ex).ok());
  EXPECT_EQ(*ex.message().header("ChuHoSo"), "Nguy\u1ec5n V\u0103n An");
  EXPECT_EQ(*ex.message().header("Noi"), "H\u00e0 N\u1ed9i");
  // A comparison with the composed form holds whatever form the sender used.
  auto p = XPath::compile("//h:ChuHoSo = 'Nguy\u1ec5n V\u0103n An'", kNs, &err);
  ASSERT_TRUE(p);
  EXPECT_TRUE(*p->evaluate(ex));
}

TEST(XmlParse, ErrorsCarryLineAndColumn) {
  std::string e = errorOf("<a>\n  <b>text</c>\n</a>");
  EXPECT_NE(e.find("XML line 2, column"), std::string::npos) << e;
  e = errorOf("<a>caf\xC3</a>");  // invalid UTF-8
  EXPECT_NE(e.find("line 1"), std::string::npos) << e;
  EXPECT_NE(e.find("UTF-8"), std::string::npos) << e;
}

TEST(XmlParse, RefusesEveryDoctypeSoNoEntityAttackCanWork) {
  const char* attacks[] = {
      // XXE, file
      "<?xml version=\"1.0\"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "
      "\"file:///etc/passwd\">]>\n<d>&x;</d>",
      // XXE, http
      "<!DOCTYPE d [<!ENTITY x SYSTEM \"http://127.0.0.1:1/x\">]><d>&x;</d>",
      // external DTD
      "<!DOCTYPE d SYSTEM \"http://127.0.0.1:1/d.dtd\"><d/>",
      // billion laughs
      "<!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
      "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">"
      "]><l>&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;</l>",
  };
  for (const char* doc : attacks) {
    std::string e = errorOf(doc);
    EXPECT_NE(e.find("DOCTYPE is not accepted"), std::string::npos) << e;
  }
  // quadratic blow-up: one big entity referenced many times
  std::string quad = "<!DOCTYPE q [<!ENTITY e \"" + std::string(50000, 'x') + "\">]><q>";
  for (int i = 0; i < 5000; ++i) quad += "&e;";
  quad += "</q>";
  EXPECT_NE(errorOf(quad).find("DOCTYPE is not accepted"), std::string::npos);
  // an entity reference without a declaration is an error too, not an expansion
  EXPECT_FALSE(XmlDocument::parse("<d>&x;</d>").ok());
}

TEST(XmlParse, LimitsOnDepthNodesAndSize) {
  XmlLimits saved = xmlLimits();
  setXmlLimits({1000, 20, 50});
  std::string deep;
  for (int i = 0; i < 30; ++i) deep += "<e>";
  for (int i = 0; i < 30; ++i) deep += "</e>";
  EXPECT_NE(errorOf(deep).find("nested deeper than 20"), std::string::npos);
  std::string wide = "<r>";
  for (int i = 0; i < 60; ++i) wide += "<i/>";
  wide += "</r>";
  EXPECT_NE(errorOf(wide).find("more than 50 nodes"), std::string::npos);
  EXPECT_NE(errorOf("<r>" + std::string(2000, 'x') + "</r>").find("over the limit of 1000"),
            std::string::npos);
  setXmlLimits(saved);
  EXPECT_TRUE(XmlDocument::parse(deep).ok());
}

TEST(XmlXPath, PredicatesSeeTheBodyAndTheHeaders) {
  Exchange ex = exchangeOf(kDossier);
  ex.message().setHeader("Wanted", "4");
  XPath::CompileError err;
  auto p = XPath::compile("/h:HoSo/h:TrangThai = $Wanted and starts-with(//h:MaHoSo, '000.')", kNs,
                          &err);
  ASSERT_TRUE(p) << err.message;
  auto r = p->evaluate(ex);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(*r);
  ex.message().setHeader("Wanted", "9");
  EXPECT_FALSE(*p->evaluate(ex));
  // A body that looks like XML but is broken is an InvalidMessage, not "false".
  Exchange broken = exchangeOf("<h:HoSo xmlns:h=\"urn:lienthong:hoso:1\">");
  auto b = p->evaluate(broken);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, ErrorCode::kInvalidMessage);
}

TEST(XmlSteps, ExtractSetsHeadersFromTheBody) {
  ExtractSettings s;
  XPath::CompileError err;
  s.headers.emplace_back("MaHoSo", *XPath::compile("/h:HoSo/h:MaHoSo", kNs, &err));
  s.headers.emplace_back("ChuHoSo", *XPath::compile("string(//h:ChuHoSo)", kNs, &err));
  s.headers.emplace_back("Missing", *XPath::compile("//h:Nothing", kNs, &err));
  ExtractStep step(std::move(s));
  Exchange ex = exchangeOf(kDossier);
  ASSERT_TRUE(step.process(ex).ok());
  EXPECT_EQ(*ex.message().header("MaHoSo"), "000.00.01.H22-240315-0001");
  EXPECT_EQ(*ex.message().header("ChuHoSo"), "Nguyễn Văn An");
  EXPECT_EQ(*ex.message().header("Missing"), "");
}

TEST(XmlSteps, FilterStopsWhenFalse) {
  XPath::CompileError err;
  FilterStep keep_in_process(*XPath::compile("//h:TrangThai = '4'", kNs, &err));
  FilterStep keep_resolved(*XPath::compile("//h:TrangThai = '9'", kNs, &err));
  Exchange ex = exchangeOf(kDossier);
  EXPECT_EQ(*keep_in_process.process(ex), StepOutcome::kContinue);
  EXPECT_EQ(*keep_resolved.process(ex), StepOutcome::kStop);
}

const char* kXsd =
    "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\"\n"
    "           targetNamespace=\"urn:lienthong:hoso:1\" xmlns:h=\"urn:lienthong:hoso:1\"\n"
    "           elementFormDefault=\"qualified\">\n"
    "  <xs:element name=\"HoSo\"><xs:complexType><xs:sequence>\n"
    "    <xs:element name=\"MaHoSo\"><xs:simpleType><xs:restriction base=\"xs:string\">\n"
    "      <xs:pattern value=\"[0-9A-Z.]+-[0-9]{6}-[0-9]{4,5}\"/></xs:restriction></xs:simpleType>"
    "</xs:element>\n"
    "    <xs:element name=\"TrangThai\" type=\"xs:positiveInteger\"/>\n"
    "    <xs:element name=\"ChuHoSo\" type=\"xs:string\"/>\n"
    "  </xs:sequence></xs:complexType></xs:element>\n"
    "</xs:schema>\n";

TEST(XmlSteps, ValidateReportsEveryViolationWithItsLine) {
  TempFiles files;
  std::vector<std::string> errors;
  auto schema = Schema::load(files.write("hoso.xsd", kXsd), errors);
  ASSERT_TRUE(schema) << (errors.empty() ? "" : errors[0]);
  ValidateStep step(schema);
  Exchange good = exchangeOf(kDossier);
  EXPECT_TRUE(step.process(good).ok());
  Exchange bad = exchangeOf(
      "<h:HoSo xmlns:h=\"urn:lienthong:hoso:1\">\n"
      "  <h:MaHoSo>not-a-code</h:MaHoSo>\n"
      "  <h:TrangThai>-3</h:TrangThai>\n"
      "  <h:ChuHoSo>x</h:ChuHoSo>\n"
      "</h:HoSo>\n");
  auto r = step.process(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidMessage);
  EXPECT_NE(r.error().message.find("2 violation(s)"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("line 2:"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("line 3:"), std::string::npos) << r.error().message;
}

TEST(XmlSteps, TransformUsesParamsAndExslt) {
  TempFiles files;
  std::string xsl = files.write(
      "t.xsl",
      "<xsl:stylesheet version=\"1.0\" xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\"\n"
      "  xmlns:h=\"urn:lienthong:hoso:1\" xmlns:str=\"http://exslt.org/strings\"\n"
      "  extension-element-prefixes=\"str\">\n"
      "  <xsl:param name=\"agency\"/>\n"
      "  <xsl:template match=\"/\">\n"
      "    <TienDo coQuan=\"{$agency}\" ma=\"{h:HoSo/h:MaHoSo}\">\n"
      "      <Phan><xsl:value-of select=\"str:tokenize(h:HoSo/h:MaHoSo, '-')[2]\"/></Phan>\n"
      "    </TienDo>\n"
      "  </xsl:template>\n"
      "</xsl:stylesheet>\n");
  std::vector<std::string> errors;
  TransformSettings s;
  s.stylesheet = Stylesheet::load(xsl, errors);
  ASSERT_TRUE(s.stylesheet) << (errors.empty() ? "" : errors[0]);
  TemplateError te;
  s.params.emplace_back("agency",
                        std::make_shared<const Template>(*Template::compile("${MaCoQuan}", &te)));
  TransformStep step(std::move(s));
  Exchange ex = exchangeOf(kDossier);
  ex.message().setHeader("MaCoQuan", "000.00.01.H22");
  auto r = step.process(ex);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const std::string& out = ex.message().body();
  EXPECT_NE(out.find("coQuan=\"000.00.01.H22\""), std::string::npos) << out;
  EXPECT_NE(out.find("<Phan>240315</Phan>"), std::string::npos) << out;
  EXPECT_EQ(ex.message().contentType(), "application/xml");
}

TEST(XmlSteps, StylesheetCannotReadLocalFiles) {
  TempFiles files;
  files.write("secret.xml", "<secret>do-not-leak</secret>");
  std::string xsl = files.write(
      "steal.xsl",
      "<xsl:stylesheet version=\"1.0\" xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\">\n"
      "  <xsl:template match=\"/\">\n"
      "    <out><xsl:copy-of select=\"document('" +
          (files.dir() / "secret.xml").string() +
          "')\"/></out>\n"
          "  </xsl:template>\n"
          "</xsl:stylesheet>\n");
  std::vector<std::string> errors;
  TransformSettings s;
  s.stylesheet = Stylesheet::load(xsl, errors);
  ASSERT_TRUE(s.stylesheet);
  TransformStep step(std::move(s));
  Exchange ex = exchangeOf(kDossier);
  auto r = step.process(ex);
  EXPECT_EQ(ex.message().body().find("do-not-leak"), std::string::npos);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("steal.xsl failed"), std::string::npos) << r.error().message;
}

// Records the parts a split hands to its nested steps; fails the part named `fail_at`.
class RecordingStep : public Step {
 public:
  explicit RecordingStep(std::vector<Message>& seen, std::string fail_at = "")
      : seen_(seen), fail_at_(std::move(fail_at)) {}
  Result<StepOutcome> process(Exchange& ex) override {
    seen_.push_back(ex.message());
    if (*ex.message().header("split.index") == fail_at_) {
      return Error(ErrorCode::kInvalidMessage, "part refused");
    }
    return StepOutcome::kContinue;
  }

 private:
  std::vector<Message>& seen_;
  std::string fail_at_;
};

TEST(XmlSteps, SplitRunsTheNestedStepsOncePerNode) {
  const std::string list =
      "<h:DanhSachHoSo xmlns:h=\"urn:lienthong:hoso:1\">"
      "<h:HoSo><h:MaHoSo>HS-1</h:MaHoSo></h:HoSo>"
      "<h:HoSo><h:MaHoSo>HS-2</h:MaHoSo></h:HoSo>"
      "<h:HoSo><h:MaHoSo>HS-3</h:MaHoSo></h:HoSo></h:DanhSachHoSo>";
  std::vector<Message> seen;
  XPath::CompileError err;
  std::vector<std::unique_ptr<Step>> nested;
  ExtractSettings ex_settings;  // runs on each part: the part is a document of its own
  ex_settings.headers.emplace_back("MaHoSo", *XPath::compile("/h:HoSo/h:MaHoSo", kNs, &err));
  nested.push_back(std::make_unique<ExtractStep>(std::move(ex_settings)));
  nested.push_back(std::make_unique<RecordingStep>(seen));
  transforms::xml::SplitStep split(*XPath::compile("/h:DanhSachHoSo/h:HoSo", kNs, &err),
                                   std::move(nested));
  Exchange ex = exchangeOf(list);
  ex.message().setHeader("Nguon", "portal");
  auto r = split.process(ex);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, StepOutcome::kContinue);
  ASSERT_EQ(seen.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(*seen[i].header("MaHoSo"), "HS-" + std::to_string(i + 1));
    EXPECT_EQ(*seen[i].header("split.index"), std::to_string(i + 1));
    EXPECT_EQ(*seen[i].header("split.size"), "3");
    EXPECT_EQ(*seen[i].header("split.correlation"), ex.message().id());
    EXPECT_EQ(*seen[i].header("Nguon"), "portal");
    EXPECT_NE(seen[i].body().find("xmlns:h=\"urn:lienthong:hoso:1\""), std::string::npos)
        << seen[i].body();
  }
  EXPECT_EQ(ex.message().body(), list);  // the original goes on unchanged

  std::vector<Message> seen2;
  std::vector<std::unique_ptr<Step>> failing;
  failing.push_back(std::make_unique<RecordingStep>(seen2, "2"));
  transforms::xml::SplitStep strict(*XPath::compile("//h:HoSo", kNs, &err), std::move(failing));
  Exchange ex2 = exchangeOf(list);
  auto f = strict.process(ex2);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, ErrorCode::kInvalidMessage);
  EXPECT_NE(f.error().message.find("split part 2 of 3: part refused"), std::string::npos);
}

TEST(XmlFactories, RoutesWithXmlStepsLoadAndBadOnesAreRefusedAtTheirPlace) {
  TempFiles files;
  files.write("hoso.xsd", kXsd);
  files.write("broken.xsd", "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\"><xs:nope/>");
  files.write("config.yaml", "listeners:\n  public: { http: { port: 0 } }\nroutes: [ r.yaml ]\n");
  const std::string route =
      "namespaces: { h: \"urn:lienthong:hoso:1\" }\n"
      "routes:\n"
      "  - id: xml\n"
      "    pattern: request-reply\n"
      "    from: { http: { listener: public, path: /x } }\n"
      "    steps:\n"
      "      - validate: { xsd: hoso.xsd }\n"
      "      - extract: { MaHoSo: \"/h:HoSo/h:MaHoSo\" }\n"
      "      - filter: \"//h:TrangThai != '10'\"\n";
  files.write("r.yaml", route);
  Registry registry;
  registerBuiltins(registry);
  Loader loader(registry, true);
  ConfigErrors errors;
  auto config = loader.loadConfig((files.dir() / "config.yaml").string(), errors);
  ASSERT_TRUE(config) << errors.str();
  EXPECT_TRUE(loader.loadRoutes(*config, config->route_paths, errors)) << errors.str();

  files.write("r.yaml",
              "namespaces: { h: \"urn:lienthong:hoso:1\" }\n"
              "routes:\n"
              "  - id: xml\n"
              "    pattern: request-reply\n"
              "    from: { http: { listener: public, path: /x } }\n"
              "    steps:\n"
              "      - validate: { xsd: broken.xsd }\n"
              "      - extract: { MaHoSo: \"/q:HoSo\" }\n");
  ConfigErrors bad;
  EXPECT_FALSE(loader.loadRoutes(*config, config->route_paths, bad));
  std::string text = bad.str();
  EXPECT_NE(text.find("r.yaml:7:26: "), std::string::npos) << text;  // the broken schema
  EXPECT_NE(text.find("broken.xsd"), std::string::npos) << text;
  EXPECT_NE(text.find("r.yaml:8:29: XPath: Undefined namespace prefix"), std::string::npos) << text;
}

}  // namespace
}  // namespace lienthong

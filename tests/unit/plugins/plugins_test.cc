// The plugin loader (ABI checks, duplicates) and the fixed-width dossier converter.

#include <gtest/gtest.h>
#include <iconv.h>
#include <yaml-cpp/yaml.h>

#include <future>

#include "core/builtins.h"
#include "core/engine.h"
#include "core/plugins.h"
#include "core/xml_document.h"

namespace lienthong {
namespace {

const std::string kBin = LIENTHONG_BINARY_DIR;
const std::string kFixedWidth = kBin + "/plugins/liblienthong-fixed-width.so";

// A build context for calling a plugin's step factory directly.
class TestContext : public BuildContext {
 public:
  ConfigErrors& errors() override { return errors_; }
  const std::string& file() const override { return file_; }
  const std::string& routeId() const override { return file_; }
  ExchangePattern pattern() const override { return ExchangePattern::kOneWay; }
  bool checkOnly() const override { return false; }
  const std::map<std::string, std::string>& namespaces() const override { return ns_; }
  std::optional<std::string> path(const YAML::Node&, PathKind) override { return {}; }
  std::shared_ptr<Listener> listener(const YAML::Node&, std::string_view) override { return {}; }
  std::shared_ptr<Connection> connection(const YAML::Node&, std::string_view) override {
    return {};
  }
  std::optional<std::vector<std::unique_ptr<Step>>> steps(const YAML::Node&) override { return {}; }
  std::shared_ptr<OutboundEndpoint> outbound(const YAML::Node&) override { return {}; }
  std::shared_ptr<const Template> compileTemplate(const YAML::Node&) override { return {}; }
  ConfigErrors errors_;

 private:
  std::string file_ = "test";
  std::map<std::string, std::string> ns_;
};

std::string loadErrors(const std::vector<std::string>& libs, Registry& registry) {
  PluginSet plugins;
  ConfigErrors errors;
  EXPECT_FALSE(plugins.load(libs, registry, errors, {"config.yaml", 12, 1}));
  return errors.str();
}

TEST(Plugins, LoadsAndRegistersAStep) {
  Registry registry;
  PluginSet plugins;
  ConfigErrors errors;
  ASSERT_TRUE(plugins.load({kFixedWidth}, registry, errors, {})) << errors.str();
  EXPECT_NE(registry.step("fixed-width-dossier"), nullptr);
}

TEST(Plugins, RefusesMismatchesWithAClearMessage) {
  Registry registry;
  registerBuiltins(registry);
  std::string e = loadErrors({kBin + "/test-plugins/libtest-plugin-old_abi.so"}, registry);
  EXPECT_NE(e.find("config.yaml:12:1: plugin "), std::string::npos) << e;
  EXPECT_NE(e.find("ABI version 99, this lienthongd speaks 1"), std::string::npos) << e;
  e = loadErrors({kBin + "/test-plugins/libtest-plugin-no_entry.so"}, registry);
  EXPECT_NE(e.find("no entry point 'lienthong_plugin_v1'"), std::string::npos) << e;
  e = loadErrors({kBin + "/test-plugins/missing.so"}, registry);
  EXPECT_NE(e.find("cannot load"), std::string::npos) << e;
  PluginSet first;
  ConfigErrors none;
  ASSERT_TRUE(first.load({kFixedWidth}, registry, none, {}));
  e = loadErrors({kFixedWidth}, registry);  // the same name twice
  EXPECT_NE(e.find("duplicate step 'fixed-width-dossier'"), std::string::npos) << e;
}

TEST(Plugins, AThrowingPluginFailsItsMessageAndTheEngineGoesOn) {
  Registry registry;
  PluginSet plugins;
  ConfigErrors errors;
  ASSERT_TRUE(
      plugins.load({kBin + "/test-plugins/libtest-plugin-throws.so"}, registry, errors, {}));
  auto route = std::make_shared<Route>();
  route->id = "plugin-route";
  route->pattern = ExchangePattern::kRequestReply;
  route->retry.attempts = 1;
  TestContext ctx;
  route->steps.push_back((*registry.step("throwing-test"))(YAML::Node(), ctx));
  ASSERT_TRUE(route->steps.back());
  Engine engine(EngineSettings{1, 4, 4, std::chrono::seconds(1)});
  engine.start();
  for (int i = 0; i < 2; ++i) {
    std::promise<Outcome> p;
    auto f = p.get_future();
    ASSERT_EQ(engine.submit(route, 1, Message(), [&](Outcome&& o) { p.set_value(std::move(o)); }),
              Admission::kAccepted);
    Outcome o = f.get();
    EXPECT_EQ(o.status, Outcome::Status::kFailed);
    EXPECT_EQ(o.error.code, ErrorCode::kInternal);
    EXPECT_NE(o.error.message.find("test plugin bug"), std::string::npos);
  }
  EXPECT_EQ(engine.stats().running, 0u);
}

// Encodes UTF-8 text into a legacy charset, as the old one-stop systems wrote it.
std::string encode(const std::string& utf8, const char* charset) {
  iconv_t cd = iconv_open(charset, "UTF-8");
  std::string out(utf8.size() * 2 + 8, '\0');
  char* src = const_cast<char*>(utf8.data());
  std::size_t src_left = utf8.size();
  char* dst = out.data();
  std::size_t dst_left = out.size();
  EXPECT_NE(iconv(cd, &src, &src_left, &dst, &dst_left), static_cast<std::size_t>(-1));
  iconv_close(cd);
  out.resize(out.size() - dst_left);
  return out;
}

std::string pad(std::string s, std::size_t width) {
  s.resize(width, ' ');
  return s;
}

std::string record(const std::string& name_bytes, const char* received, const char* status) {
  return pad("000.00.01.H22", 13) + pad("000.00.01.H22-240315-0001", 25) + pad(name_bytes, 40) +
         received + "22032024" + status;
}

struct Converted {
  Result<StepOutcome> result = StepOutcome::kContinue;
  Message message;
};

Converted convert(const std::string& encoding, const std::string& body) {
  Registry registry;
  PluginSet plugins;
  ConfigErrors errors;
  EXPECT_TRUE(plugins.load({kFixedWidth}, registry, errors, {}));
  YAML::Node settings;
  settings["encoding"] = encoding;
  TestContext ctx;
  auto step = (*registry.step("fixed-width-dossier"))(settings, ctx);
  EXPECT_TRUE(step) << ctx.errors_.str();
  Message m;
  m.setBody(body);
  Exchange ex(m, "r", ExchangePattern::kOneWay);
  Converted c;
  c.result = step->process(ex);
  c.message = ex.message();
  return c;
}

TEST(FixedWidthPlugin, ConvertsWindows1258AndTcvn3ToTheCanonicalDossierList) {
  for (const char* charset : {"WINDOWS-1258", "TCVN5712-1"}) {
    const std::string encoding = std::string(charset) == "WINDOWS-1258" ? "windows-1258" : "tcvn3";
    const std::string name = encode("Nguyễn Thị Hồng Nhung", charset);
    Converted c = convert(encoding, record(name, "15032024", " 2") + "\r\n\n" +
                                        record(encode("Trần Văn Đức", charset), "01022024", "10"));
    ASSERT_TRUE(c.result.ok()) << charset << ": " << c.result.error().message;
    const std::string& xml = c.message.body();
    EXPECT_NE(xml.find("<ChuHoSo>Nguyễn Thị Hồng Nhung</ChuHoSo>"), std::string::npos) << xml;
    EXPECT_NE(xml.find("<ChuHoSo>Trần Văn Đức</ChuHoSo>"), std::string::npos) << xml;
    EXPECT_NE(xml.find("<NgayTiepNhan>20240315000000</NgayTiepNhan>"), std::string::npos);
    EXPECT_NE(xml.find("<TrangThaiHoSo>10</TrangThaiHoSo>"), std::string::npos);
    EXPECT_EQ(*c.message.header("SoHoSo"), "2");
    EXPECT_EQ(c.message.contentType(), "application/xml");
    EXPECT_TRUE(XmlDocument::parse(xml).ok());  // well-formed
  }
}

TEST(FixedWidthPlugin, BadLinesAreInvalidMessagesNamingTheLine) {
  const std::string good = record("An", "15032024", " 2");
  Converted c = convert("windows-1258", good + "\n" + record("Binh", "31022024", " 2"));
  ASSERT_FALSE(c.result.ok());
  EXPECT_EQ(c.result.error().code, ErrorCode::kInvalidMessage);
  EXPECT_NE(c.result.error().message.find("line 2: dates must be ddMMyyyy"), std::string::npos)
      << c.result.error().message;
  c = convert("windows-1258", good + "\nshort line\n");
  EXPECT_NE(c.result.error().message.find("line 2: expected 96 bytes, found 10"),
            std::string::npos);
  c = convert("windows-1258", record("An", "15032024", "11"));
  EXPECT_NE(c.result.error().message.find("status must be 1 to 10"), std::string::npos);
}

}  // namespace
}  // namespace lienthong

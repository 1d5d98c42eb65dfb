// The canonical messages (schemas/) against the sample documents of tests/data/messages:
// every good one validates with the schema it names and its dossier codes parse; every
// bad one is refused at the line it names, with the reason it names. Each sample says
// what it expects in its first comment:
//   <!-- schema: hoso/hoso-v1.xsd -->
//   <!-- schema: hoso/hoso-v1.xsd; line: 4; expect: not accepted by the pattern | MaHoSo -->

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>

#include "core/dossier_code.h"
#include "transforms/xml/xml_steps.h"

namespace lienthong {
namespace {

namespace fs = std::filesystem;
using transforms::xml::Schema;
using transforms::xml::ValidateStep;

const fs::path kSamples = fs::path(LIENTHONG_SOURCE_DIR) / "tests/data/messages";
const fs::path kSchemas = fs::path(LIENTHONG_SOURCE_DIR) / "schemas";

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> samples(const std::string& kind) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(kSamples / kind)) {
    if (e.path().extension() == ".xml") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

struct Expectation {
  std::string schema;
  int line = 0;
  std::vector<std::string> says;
};

Expectation expectationOf(const std::string& text) {
  static const std::regex header(
      R"(<!-- schema: ([^; ]+)(?:; line: ([0-9]+); expect: (.*?))? -->)");
  std::smatch m;
  Expectation e;
  if (!std::regex_search(text, m, header)) return e;
  e.schema = m[1].str();
  if (m[2].matched) e.line = std::stoi(m[2].str());
  std::string says = m[3].str();
  for (std::size_t at = 0; at <= says.size();) {
    std::size_t bar = says.find(" | ", at);
    if (bar == std::string::npos) bar = says.size();
    if (bar > at) e.says.push_back(says.substr(at, bar - at));
    at = bar + 3;
  }
  return e;
}

// Compiled once per schema file for the whole run.
std::shared_ptr<const Schema> schemaOf(const std::string& name) {
  static std::map<std::string, std::shared_ptr<const Schema>> cache;
  auto& slot = cache[name];
  if (!slot) {
    std::vector<std::string> errors;
    slot = Schema::load((kSchemas / name).string(), errors);
    EXPECT_TRUE(slot) << name << ": " << (errors.empty() ? "" : errors.front());
  }
  return slot;
}

Result<StepOutcome> validate(const std::string& schema, const std::string& body) {
  Message m;
  m.setBody(body);
  m.setContentType("application/xml");
  Exchange exchange(m, "messages", ExchangePattern::kOneWay);
  ValidateStep step(schemaOf(schema));
  return step.process(exchange);
}

std::string testName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

class GoodMessage : public ::testing::TestWithParam<std::string> {};

TEST_P(GoodMessage, ValidatesAndItsDossierCodesParse) {
  const std::string text = readFile(kSamples / "good" / (GetParam() + ".xml"));
  const Expectation e = expectationOf(text);
  ASSERT_FALSE(e.schema.empty()) << "no <!-- schema: ... --> comment";
  auto r = validate(e.schema, text);
  EXPECT_TRUE(r.ok()) << r.error().message;
  static const std::regex code(R"(<(?:[A-Za-z]+:)?MaHoSo>([^<]*)<)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), code); it != std::sregex_iterator();
       ++it) {
    auto parsed = dossier::parse((*it)[1].str());
    EXPECT_TRUE(parsed.ok()) << parsed.error().message;
  }
}

INSTANTIATE_TEST_SUITE_P(Samples, GoodMessage, ::testing::ValuesIn(samples("good")), testName);

class BadMessage : public ::testing::TestWithParam<std::string> {};

TEST_P(BadMessage, IsRefusedAtItsLineWithItsReason) {
  const std::string text = readFile(kSamples / "bad" / (GetParam() + ".xml"));
  const Expectation e = expectationOf(text);
  ASSERT_FALSE(e.schema.empty()) << "no <!-- schema: ...; line: N; expect: ... --> comment";
  ASSERT_GT(e.line, 0);
  ASSERT_FALSE(e.says.empty());
  auto r = validate(e.schema, text);
  ASSERT_FALSE(r.ok()) << "validated, but should not";
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidMessage);
  const std::string& message = r.error().message;
  EXPECT_NE(message.find("line " + std::to_string(e.line) + ":"), std::string::npos) << message;
  for (const std::string& s : e.says) EXPECT_NE(message.find(s), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(Samples, BadMessage, ::testing::ValuesIn(samples("bad")), testName);

// Every schema compiles on its own (a route's validate step loads one file).
TEST(CanonicalSchemas, EveryOneCompiles) {
  int count = 0;
  for (const auto& e : fs::recursive_directory_iterator(kSchemas)) {
    if (e.path().extension() != ".xsd") continue;
    ++count;
    std::vector<std::string> errors;
    EXPECT_TRUE(Schema::load(e.path().string(), errors))
        << e.path() << ": " << (errors.empty() ? "" : errors.front());
  }
  EXPECT_GE(count, 8);
}

}  // namespace
}  // namespace lienthong

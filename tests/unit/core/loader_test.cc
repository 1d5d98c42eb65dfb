// The loader refuses bad routes with file:line:col and reports every error of a run.

#include "core/loader.h"
#include "lienthong/template.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/builtins.h"
#include "core/xpath.h"

namespace lienthong {
namespace {

namespace fs = std::filesystem;

class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    initXml();
    dir_ = fs::temp_directory_path() /
           ("lienthong-loader-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "routes");
    fs::create_directories(dir_ / "templates");
    write("templates/ok.xml", "<ok>${MaHoSo}</ok>");
    write("config.yaml",
          "listeners:\n"
          "  public: { http: { port: 0 } }\n"
          "connections:\n"
          "  backend: { http: { url: \"http://127.0.0.1:9\" } }\n"
          "routes: [ routes ]\n");
    registerBuiltins(registry_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }

  // Loads config.yaml and routes/; returns the errors.
  ConfigErrors load() {
    ConfigErrors errors;
    Loader loader(registry_, /*check_only=*/true);
    auto config = loader.loadConfig((dir_ / "config.yaml").string(), errors);
    EXPECT_TRUE(config) << errors.str();
    if (!config) return errors;
    table_ = loader.loadRoutes(*config, config->route_paths, errors);
    EXPECT_EQ(table_ == nullptr, !errors.empty());
    return errors;
  }

  std::string routeFile() const { return (dir_ / "routes" / "r.yaml").lexically_normal().string(); }

  fs::path dir_;
  Registry registry_;
  std::shared_ptr<RouteTable> table_;
};

// Where `anchor` first appears in `text`: 1-based line and column.
std::pair<int, int> positionOf(const std::string& text, const std::string& anchor) {
  std::size_t at = text.find(anchor);
  EXPECT_NE(at, std::string::npos) << "anchor '" << anchor << "' not in test text";
  int line = 1, col = 1;
  for (std::size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

const char* kGood =
    "routes:\n"
    "  - id: good\n"
    "    pattern: request-reply\n"
    "    from: { http: { listener: public, path: /good } }\n"
    "    to: { http: { connection: backend, path: /x } }\n";

struct BadCase {
  const char* name;
  const char* yaml;
  const char* anchor;   // the error must be at this text's position (plus `shift` columns)
  const char* message;  // part of the message
  int shift = 0;
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class BadRoute : public LoaderTest, public ::testing::WithParamInterface<BadCase> {};

TEST_P(BadRoute, IsRefusedAtItsPlace) {
  const BadCase& c = GetParam();
  write("routes/r.yaml", c.yaml);
  ConfigErrors errors = load();
  ASSERT_EQ(errors.size(), 1u) << errors.str();
  const ConfigError& e = errors.all()[0];
  auto [line, col] = positionOf(c.yaml, c.anchor);
  EXPECT_EQ(e.where.file, routeFile());
  EXPECT_EQ(e.where.line, line) << e.str();
  EXPECT_EQ(e.where.column, col + c.shift) << e.str();
  EXPECT_NE(e.message.find(c.message), std::string::npos) << e.str();
}

const BadCase kBadCases[] = {
    {"UnknownTopLevelKey", "routes: []\nextras: 1\n", "extras",
     "unknown key 'extras' in route file"},
    {"UnknownRouteKey",
     "routes:\n  - id: a\n    pattern: one-way\n    descripton: typo\n"
     "    from: { http: { listener: public, path: /a } }\n",
     "descripton", "unknown key 'descripton' in route"},
    {"MissingPattern", "routes:\n  - id: a\n    from: { http: { listener: public, path: /a } }\n",
     "id: a", "route needs 'pattern'"},
    {"BadPatternValue",
     "routes:\n  - id: a\n    pattern: async\n    from: { http: { listener: public, path: /a } }\n",
     "async", "must be one of: request-reply, one-way"},
    {"WrongTypeDuration",
     "routes:\n  - id: a\n    pattern: one-way\n    timeout: fast\n"
     "    from: { http: { listener: public, path: /a } }\n",
     "fast", "'timeout' must be a duration"},
    {"WrongTypeBoolean",
     "routes:\n  - id: a\n    pattern: one-way\n    enabled: maybe\n"
     "    from: { http: { listener: public, path: /a } }\n",
     "maybe", "'enabled' must be true or false"},
    {"UnknownStep",
     "routes:\n  - id: a\n    pattern: one-way\n    from: { http: { listener: public, path: /a } "
     "}\n"
     "    steps:\n      - log: hi\n      - frobnicate: { x: 1 }\n",
     "frobnicate",
     "unknown step 'frobnicate' (known: admin-units, aggregate, choice, dossier-code, extract, "
     "filter, from-onestop, from-portal, json-to-xml, log, normalize-text, oidc-verify, "
     "overdue-dossiers, "
     "overdue-note, payment-checksum"},
    {"UnknownInboundEndpoint",
     "routes:\n  - id: a\n    pattern: one-way\n    from: { ftp: { host: x } }\n", "ftp",
     "unknown inbound endpoint 'ftp' (known: amqp, file, http, postal, schedule)"},
    {"TwoOutboundEndpoints",
     "routes:\n  - id: a\n    pattern: one-way\n    from: { http: { listener: public, path: /a } "
     "}\n"
     "    to: { http: { connection: backend }, file: { dir: out } }\n",
     "{ http: { connection: backend }", "expected one endpoint", 0},
    {"DuplicateRouteId",
     "routes:\n  - id: same\n    pattern: one-way\n    from: { http: { listener: public, path: /a "
     "} }\n"
     "  - id: same-b\n    pattern: one-way\n    from: { http: { listener: public, path: /b } }\n"
     "  - id: same\n    pattern: one-way\n    from: { http: { listener: public, path: /c } }\n",
     "same\n    pattern: one-way\n    from: { http: { listener: public, path: /c",
     "duplicate route id 'same' (first defined at "},
    {"BadRouteId",
     "routes:\n  - id: Bad_Id\n    pattern: one-way\n    from: { http: { listener: public, path: "
     "/a } }\n",
     "Bad_Id", "route id 'Bad_Id' must be lower-case"},
    {"MissingReferencedFile",
     "routes:\n  - id: a\n    pattern: request-reply\n    from: { http: { listener: public, path: "
     "/a } }\n"
     "    steps:\n      - set-body: { file: templates/none.xml }\n",
     "templates/none.xml", "file not found: "},
    {"UnclosedTemplate",
     "routes:\n  - id: a\n    pattern: one-way\n    from: { http: { listener: public, path: /a } "
     "}\n"
     "    steps:\n      - set-header: { X-Dossier: \"hs-${MaHoSo\" }\n",
     "\"hs-${MaHoSo", "unclosed '${'", 4},
    {"UnknownTemplateField",
     "routes:\n  - id: a\n    pattern: one-way\n    from: { http: { listener: public, path: /a } "
     "}\n"
     "    steps:\n      - log: ${message.size} arrived\n",
     "${message.size}", "unknown message field 'message.size'", 2},
    {"UnknownListener",
     "routes:\n  - id: a\n    pattern: one-way\n    from: { http: { listener: nowhere, path: /a } "
     "}\n",
     "nowhere", "unknown listener 'nowhere' (defined: public)"},
    {"UnknownConnection",
     "routes:\n  - id: a\n    pattern: one-way\n    from: { http: { listener: public, path: /a } "
     "}\n"
     "    to: { http: { connection: elsewhere } }\n",
     "elsewhere", "unknown connection 'elsewhere' (defined: backend)"},
    {"UnknownEndpointKey",
     "routes:\n  - id: a\n    pattern: one-way\n"
     "    from: { http: { listener: public, path: /a, mehtods: [POST] } }\n",
     "mehtods", "unknown key 'mehtods'"},
    {"BadXPathInChoice",
     "routes:\n  - id: a\n    pattern: one-way\n    from: { http: { listener: public, path: /a } "
     "}\n"
     "    steps:\n      - choice:\n          - when: \"$TrangThai = = '10'\"\n            steps: "
     "[]\n",
     "\"$TrangThai", "XPath: Invalid expression", 14},
    {"OtherwiseNotLast",
     "routes:\n  - id: a\n    pattern: one-way\n    from: { http: { listener: public, path: /a } "
     "}\n"
     "    steps:\n      - choice:\n          - otherwise:\n            steps: []\n"
     "          - when: \"$A = '1'\"\n            steps: []\n",
     "when: \"$A", "'otherwise' must be the last branch"},
    {"RetryInitialAboveMax",
     "routes:\n  - id: a\n    pattern: one-way\n    from: { http: { listener: public, path: /a } "
     "}\n"
     "    delivery: { retry: { initial: 10m, max: 1m } }\n",
     "{ initial: 10m", "retry 'initial' is longer than 'max'"},
    {"UnknownDeadLetterRoute",
     "routes:\n  - id: a\n    pattern: one-way\n    from: { http: { listener: public, path: /a } "
     "}\n"
     "    delivery: { dead-letter: { route: nowhere } }\n",
     "nowhere", "unknown dead-letter route 'nowhere'"},
    {"DeadLetterRouteChain",
     "routes:\n  - id: a\n    pattern: one-way\n    from: { http: { listener: public, path: /a } "
     "}\n"
     "    delivery: { dead-letter: { route: b } }\n"
     "  - id: b\n    pattern: one-way\n    from: { http: { listener: public, path: /b } }\n"
     "    delivery: { dead-letter: { route: c } }\n"
     "  - id: c\n    pattern: one-way\n    from: { http: { listener: public, path: /c } }\n",
     "b }", "dead-letter route 'b' sends its own dead letters to route 'c'"},
    {"DeadLetterRouteRequestReply",
     "routes:\n  - id: a\n    pattern: one-way\n    from: { http: { listener: public, path: /a } "
     "}\n"
     "    delivery: { dead-letter: { route: b } }\n"
     "  - id: b\n    pattern: request-reply\n    from: { http: { listener: public, path: /b } "
     "}\n",
     "b }", "dead-letter route 'b' must be one-way"},
    {"OrderingOnRequestReply",
     "routes:\n  - id: a\n    pattern: request-reply\n    from: { http: { listener: public, "
     "path: /a } }\n"
     "    delivery: { ordering: { key: \"${MaHoSo}\" } }\n",
     "{ key:", "'ordering' is for one-way routes"},
    {"CircuitBreakerWithoutFailures",
     "routes:\n  - id: a\n    pattern: one-way\n    from: { http: { listener: public, path: /a } "
     "}\n"
     "    delivery: { circuit-breaker: { open-for: 10s } }\n",
     "{ open-for", "circuit-breaker needs 'failures'"},
    {"CircuitBreakerOpenForZero",
     "routes:\n  - id: a\n    pattern: one-way\n    from: { http: { listener: public, path: /a } "
     "}\n"
     "    delivery: { circuit-breaker: { failures: 3, open-for: 0s } }\n",
     "0s }", "'open-for' must be longer than 0"},
    {"StepsNotAList",
     "routes:\n  - id: a\n    pattern: one-way\n    from: { http: { listener: public, path: /a } "
     "}\n"
     "    steps: { log: hi }\n",
     "{ log: hi }", "steps must be a list"},
    {"SamePathTwice",
     "routes:\n  - id: a\n    pattern: one-way\n    from: { http: { listener: public, path: /a } "
     "}\n"
     "  - id: b\n    pattern: one-way\n    from: {http: {listener: public, path: /a}}\n",
     "{http:", "already used by route 'a'"},
};

std::string caseName(const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Loader, BadRoute, ::testing::ValuesIn(kBadCases), caseName);

TEST_F(LoaderTest, GoodRoutesLoad) {
  write("routes/r.yaml", kGood);
  ConfigErrors errors = load();
  EXPECT_TRUE(errors.empty()) << errors.str();
  ASSERT_TRUE(table_);
  ASSERT_EQ(table_->routes.size(), 1u);
  EXPECT_EQ(table_->routes[0]->id, "good");
  EXPECT_EQ(table_->routes[0]->pattern, ExchangePattern::kRequestReply);
  EXPECT_EQ(table_->routes[0]->retry.attempts, 1u);
}

TEST_F(LoaderTest, DeliveryPolicyLoads) {
  write("routes/r.yaml",
        "routes:\n"
        "  - id: status\n"
        "    pattern: one-way\n"
        "    from: { http: { listener: public, path: /status } }\n"
        "    delivery:\n"
        "      retry: { attempts: 20, backoff: exponential, initial: 2s, max: 10m }\n"
        "      attempt-timeout: 15s\n"
        "      circuit-breaker: { failures: 5, open-for: 1m }\n"
        "      dead-letter: { route: status-dlq }\n"
        "      ordering: { key: \"${MaHoSo}\" }\n"
        "    to: { http: { connection: backend } }\n"
        "  - id: status-dlq\n"
        "    pattern: one-way\n"
        "    from: { http: { listener: public, path: /dlq } }\n"
        "    delivery: { dead-letter: store }\n");
  ConfigErrors errors = load();
  ASSERT_TRUE(errors.empty()) << errors.str();
  auto r = table_->find("status");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->retry.attempts, 20u);
  EXPECT_EQ(r->attempt_timeout, std::chrono::seconds(15));
  EXPECT_EQ(r->breaker.failures, 5u);
  EXPECT_EQ(r->breaker.open_for, std::chrono::minutes(1));
  EXPECT_EQ(r->dead_letter_route, "status-dlq");
  ASSERT_TRUE(r->order_key);
  EXPECT_EQ(r->order_key->source(), "${MaHoSo}");
  EXPECT_EQ(table_->find("status-dlq")->dead_letter_route, "");
}

// "name:line:col" of the first `anchor` in `text`.
std::string at(const std::string& name, const std::string& text, const std::string& anchor) {
  auto [line, col] = positionOf(text, anchor);
  return name + ":" + std::to_string(line) + ":" + std::to_string(col);
}

TEST_F(LoaderTest, ReportsEveryErrorOfEveryFileAtOnce) {
  const std::string a =
      "routes:\n  - id: a\n    pattern: one-way\n    timeout: soon\n"
      "    from: { http: { listener: nowhere, path: /a } }\n"
      "    steps:\n      - frobnicate: 1\n      - log: \"${\"\n";
  const std::string b = "routes:\n  - id: a\n    pattern: sometimes\n    frm: {}\n";
  write("routes/a.yaml", a);
  write("routes/b.yaml", b);
  write("routes/b_test.yaml", "this is a route test, never loaded as routes: [\n");
  ConfigErrors errors = load();
  std::string text = errors.str();
  EXPECT_EQ(errors.size(), 8u) << text;
  for (const std::string& part : {at("a.yaml", a, "soon") + ": 'timeout' must be a duration",
                                  at("a.yaml", a, "nowhere") + ": unknown listener 'nowhere'",
                                  at("a.yaml", a, "frobnicate") + ": unknown step 'frobnicate'",
                                  at("a.yaml", a, "${") + ": unclosed '${'",
                                  at("b.yaml", b, "a\n") + ": duplicate route id 'a'",
                                  at("b.yaml", b, "sometimes") + ": 'pattern' must be one of",
                                  at("b.yaml", b, "frm") + ": unknown key 'frm'",
                                  at("b.yaml", b, "id: a") + ": route needs 'from'"}) {
    EXPECT_NE(text.find(part), std::string::npos) << "missing: " << part << "\n" << text;
  }
}

TEST_F(LoaderTest, TemplateFileErrorsPointIntoTheTemplateFile) {
  write("templates/bad.xml", "<a>\n  <b>${MaHoSo</b>\n</a>\n");
  write("routes/r.yaml",
        "routes:\n  - id: a\n    pattern: request-reply\n"
        "    from: { http: { listener: public, path: /a } }\n"
        "    steps:\n      - set-body: { file: templates/bad.xml }\n");
  ConfigErrors errors = load();
  ASSERT_EQ(errors.size(), 1u) << errors.str();
  EXPECT_EQ(errors.all()[0].where.file, (dir_ / "templates/bad.xml").lexically_normal().string());
  EXPECT_EQ(errors.all()[0].where.line, 2);
  EXPECT_EQ(errors.all()[0].where.column, 6);
  EXPECT_NE(errors.all()[0].message.find("unclosed '${'"), std::string::npos);
}

TEST_F(LoaderTest, YamlSyntaxErrorNamesTheFileAndLine) {
  write("routes/r.yaml", "routes:\n  - id: a\n    pattern: [one-way\n");
  ConfigErrors errors = load();
  ASSERT_EQ(errors.size(), 1u) << errors.str();
  EXPECT_EQ(errors.all()[0].where.file, routeFile());
  EXPECT_GE(errors.all()[0].where.line, 3);
  EXPECT_NE(errors.all()[0].message.find("YAML syntax"), std::string::npos);
}

TEST_F(LoaderTest, BadDaemonConfigIsReportedWithItsPlace) {
  const std::string c =
      "engine: { workers: many }\n"
      "listeners:\n  public: { http: { port: 70000 } }\n  other: { smtp: {} }\n"
      "routes: [ nowhere ]\n";
  write("config.yaml", c);
  ConfigErrors errors;
  Loader loader(registry_, true);
  EXPECT_FALSE(loader.loadConfig((dir_ / "config.yaml").string(), errors));
  std::string text = errors.str();
  EXPECT_EQ(errors.size(), 4u) << text;
  for (const std::string& part :
       {at("config.yaml", c, "many") + ": 'workers' must be an integer",
        at("config.yaml", c, "70000") + ": 'port' must be between 0 and 65535",
        at("config.yaml", c, "smtp") + ": unknown listener kind 'smtp' (known: http)",
        at("config.yaml", c, "nowhere") + ": routes path not found"}) {
    EXPECT_NE(text.find(part), std::string::npos) << "missing: " << part << "\n" << text;
  }
}

// The store and engine settings of cluster mode, each error at its place.
TEST_F(LoaderTest, BadStoreAndAdmissionSettingsAreReportedAtTheirPlace) {
  const std::string both =
      "engine: { admission-wait: soon }\n"
      "store:\n  path: var/l.db\n  postgresql: { url: \"postgresql://db/l\" }\n";
  const std::string pg =
      "store:\n  postgresql: { urll: \"postgresql://db/l\", take-over-every: 0s,\n"
      "                password-env: LIENTHONG_TEST_UNSET_VARIABLE }\n";
  struct Case {
    std::string config;
    std::vector<std::pair<std::string, std::string>> errors;  // at which text: what
  };
  const std::vector<Case> cases = {
      {both,
       {{"soon", "'admission-wait'"},
        {"{ url", "a store is either embedded ('path') or 'postgresql', not both"}}},
      {pg,
       {{"{ urll", "'url'"},
        {"urll", "unknown key 'urll'"},
        {"0s", "'take-over-every' must be longer than 0"},
        {"LIENTHONG_TEST_UNSET_VARIABLE",
         "environment variable LIENTHONG_TEST_UNSET_VARIABLE is not set"}}},
  };
  for (const Case& c : cases) {
    write("config.yaml", c.config);
    ConfigErrors errors;
    Loader loader(registry_, false);
    EXPECT_FALSE(loader.loadConfig((dir_ / "config.yaml").string(), errors));
    const std::string text = errors.str();
    EXPECT_EQ(errors.size(), c.errors.size()) << text;
    for (const auto& [where, what] : c.errors) {
      EXPECT_NE(text.find(at("config.yaml", c.config, where)), std::string::npos)
          << "no error at '" << where << "'\n"
          << text;
      EXPECT_NE(text.find(what), std::string::npos) << "missing: " << what << "\n" << text;
    }
  }
}

}  // namespace
}  // namespace lienthong

#include "adapters/file/file_factory.h"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "core/loader.h"
#include "unit/file/file_test_util.h"

namespace lienthong::adapters::file {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::writeFile;

// Loads one route file through the real loader, with only the file endpoints registered.
class FileFactoryTest : public ::testing::Test {
 protected:
  FileFactoryTest() { registerFile(registry_); }

  std::shared_ptr<RouteTable> load(const std::string& yaml, bool check_only = true) {
    const fs::path file = tmp_ / "routes.yaml";
    writeFile(file, yaml);
    file_ = file.string();
    Loader loader(registry_, check_only);
    return loader.loadRoutes(Loader::emptyConfig(tmp_.path().string()), {file_}, errors_);
  }

  // The one error expected, checked for its place and a piece of its text.
  void expectOneError(int line, int column, const std::string& text) {
    ASSERT_EQ(errors_.size(), 1u) << errors_.str();
    const ConfigError& e = errors_.all()[0];
    EXPECT_EQ(e.where.file, file_);
    EXPECT_EQ(e.where.line, line) << e.str();
    EXPECT_EQ(e.where.column, column) << e.str();
    EXPECT_NE(e.message.find(text), std::string::npos) << e.str();
  }

  TempDir tmp_;
  Registry registry_;
  ConfigErrors errors_;
  std::string file_;
};

TEST_F(FileFactoryTest, ValidInputAndOutputAreBuilt) {
  auto table = load(R"(routes:
  - id: files
    pattern: one-way
    from: { file: { dir: in, include: "*.xml", interval: 250ms, stable-for: 2s } }
    to: { file: { dir: out, name: "${MaHoSo}.xml" } }
)");
  ASSERT_TRUE(table) << errors_.str();
  ASSERT_EQ(table->routes.size(), 1u);
  const Route& route = *table->routes[0];
  EXPECT_EQ(route.from->describe(), "file " + (tmp_ / "in").string());
  EXPECT_EQ(route.to->describe(), "file " + (tmp_ / "out").string() + "/${MaHoSo}.xml");
  Message m;
  m.setHeader("MaHoSo", "HS-1");
  Exchange ex(std::move(m), "files", ExchangePattern::kOneWay);
  EXPECT_EQ(route.to->target(ex), "file " + (tmp_ / "out").string() + "/HS-1.xml");
}

TEST_F(FileFactoryTest, LintCreatesNoFolder) {
  auto table = load(R"(routes:
  - id: files
    pattern: one-way
    from: { file: { dir: in, done-dir: archive } }
    to: { file: { dir: out } }
)",
                    /*check_only=*/true);
  ASSERT_TRUE(table) << errors_.str();
  EXPECT_FALSE(fs::exists(tmp_ / "in"));
  EXPECT_FALSE(fs::exists(tmp_ / "archive"));
  EXPECT_FALSE(fs::exists(tmp_ / "out"));
}

TEST_F(FileFactoryTest, OutputFolderIsCreatedAtStart) {
  auto table = load(R"(routes:
  - id: files
    pattern: one-way
    from: { file: { dir: in } }
    to: { file: { dir: out/sub } }
)",
                    /*check_only=*/false);
  ASSERT_TRUE(table) << errors_.str();
  EXPECT_TRUE(fs::is_directory(tmp_ / "out" / "sub"));
}

TEST_F(FileFactoryTest, UnknownInputKeyIsReportedAtItsLine) {
  EXPECT_FALSE(load(R"(routes:
  - id: files
    pattern: one-way
    from:
      file:
        dir: in
        intervall: 5s
)"));
  expectOneError(7, 9, "unknown key 'intervall'");
}

TEST_F(FileFactoryTest, WrongTypeIsReportedAtTheValue) {
  EXPECT_FALSE(load(R"(routes:
  - id: files
    pattern: one-way
    from:
      file:
        dir: in
        stable-for: [1s]
)"));
  expectOneError(7, 21, "'stable-for' must be a duration");
}

TEST_F(FileFactoryTest, MissingDirIsReported) {
  EXPECT_FALSE(load(R"(routes:
  - id: files
    pattern: one-way
    from:
      file: { include: "*.xml" }
)"));
  expectOneError(5, 13, "needs 'dir'");
}

TEST_F(FileFactoryTest, RequestReplyRouteIsRefused) {
  EXPECT_FALSE(load(R"(routes:
  - id: files
    pattern: request-reply
    from:
      file:
        dir: in
)"));
  expectOneError(6, 9, "file input needs pattern: one-way");
}

TEST_F(FileFactoryTest, BadIncludeAndIntervalAreRefused) {
  EXPECT_FALSE(load(R"(routes:
  - id: files
    pattern: one-way
    from:
      file:
        dir: in
        include: "sub/*.xml"
        interval: 0ms
)"));
  ASSERT_EQ(errors_.size(), 2u) << errors_.str();
  EXPECT_EQ(errors_.all()[0].where.line, 7);
  EXPECT_EQ(errors_.all()[1].where.line, 8);
}

TEST_F(FileFactoryTest, WorkFolderMustDifferFromTheOthers) {
  EXPECT_FALSE(load(R"(routes:
  - id: files
    pattern: one-way
    from:
      file:
        dir: in
        work-dir: in/done
)"));
  expectOneError(7, 19, "'work-dir' must differ");
}

TEST_F(FileFactoryTest, TwoRoutesCannotPollOneFolder) {
  EXPECT_FALSE(load(R"(routes:
  - id: first
    pattern: one-way
    from: { file: { dir: in } }
  - id: second
    pattern: one-way
    from: { file: { dir: ./in } }
)"));
  ASSERT_EQ(errors_.size(), 1u) << errors_.str();
  EXPECT_EQ(errors_.all()[0].where.line, 7);
  EXPECT_NE(errors_.all()[0].message.find("first"), std::string::npos) << errors_.str();
}

TEST_F(FileFactoryTest, UnknownOutputKeyIsReported) {
  EXPECT_FALSE(load(R"(routes:
  - id: files
    pattern: one-way
    from: { file: { dir: in } }
    to:
      file:
        dir: out
        mode: "0644"
)"));
  expectOneError(8, 9, "unknown key 'mode'");
}

TEST_F(FileFactoryTest, BadNameTemplateIsReported) {
  EXPECT_FALSE(load(R"(routes:
  - id: files
    pattern: one-way
    from: { file: { dir: in } }
    to:
      file:
        dir: out
        name: ${message.nope}
)"));
  ASSERT_EQ(errors_.size(), 1u) << errors_.str();
  EXPECT_EQ(errors_.all()[0].where.line, 8);
}

TEST_F(FileFactoryTest, ConstantNameWithSlashIsRefusedAtLoad) {
  EXPECT_FALSE(load(R"(routes:
  - id: files
    pattern: one-way
    from: { file: { dir: in } }
    to:
      file:
        dir: out
        name: sub/out.xml
)"));
  expectOneError(8, 15, "contains '/'");
}

TEST(FileRegistration, RegistersBothEndpointsOnce) {
  Registry registry;
  registerFile(registry);
  EXPECT_NE(registry.inbound("file"), nullptr);
  EXPECT_NE(registry.outbound("file"), nullptr);
  EXPECT_THROW(registerFile(registry), std::logic_error);
}

}  // namespace
}  // namespace lienthong::adapters::file

#include "adapters/file/file_outbound.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "unit/file/file_test_util.h"

namespace lienthong::adapters::file {
namespace {

namespace fs = std::filesystem;
using testing::listDir;
using testing::readFile;
using testing::TempDir;
using testing::writeFile;

std::shared_ptr<const Template> compile(const std::string& text) {
  TemplateError error;
  auto t = Template::compile(text, &error);
  EXPECT_TRUE(t.has_value()) << error.message;
  return t ? std::make_shared<const Template>(std::move(*t)) : nullptr;
}

Exchange exchangeWith(const std::string& body, Headers headers = {}) {
  Message m;
  m.setBody(body);
  m.headers() = std::move(headers);
  return Exchange(std::move(m), "file-out-test", ExchangePattern::kOneWay);
}

class FileOutboundTest : public ::testing::Test {
 protected:
  FileOutbound output(const std::string& name_template = "") {
    FileOutboundSettings s;
    s.dir = tmp_ / "out";
    if (!name_template.empty()) s.name = compile(name_template);
    return FileOutbound(std::move(s));
  }
  fs::path out(const std::string& name) const { return tmp_ / "out" / name; }

  TempDir tmp_;
};

TEST_F(FileOutboundTest, WritesUnderTheMessageIdWithNoTemporaryFileLeft) {
  fs::create_directories(tmp_ / "out");
  FileOutbound endpoint = output();
  Exchange exchange = exchangeWith("<KetQua>ok</KetQua>");
  const Delivery d = endpoint.send(exchange);
  ASSERT_EQ(d.status, Delivery::Status::kAccepted) << d.detail;
  EXPECT_EQ(listDir(tmp_ / "out"), (std::set<std::string>{exchange.message().id()}));
  EXPECT_EQ(readFile(out(exchange.message().id())), "<KetQua>ok</KetQua>");
}

TEST_F(FileOutboundTest, NameComesFromTheTemplate) {
  FileOutbound endpoint = output("${MaHoSo}-${message.attempt}.xml");
  Exchange exchange = exchangeWith("body", {{"MaHoSo", "000.00.01.H22-240315-0001"}});
  ASSERT_EQ(endpoint.send(exchange).status, Delivery::Status::kAccepted);
  EXPECT_EQ(listDir(tmp_ / "out"), (std::set<std::string>{"000.00.01.H22-240315-0001-0.xml"}));
  EXPECT_EQ(readFile(out("000.00.01.H22-240315-0001-0.xml")), "body");
}

TEST_F(FileOutboundTest, ReplacesAnExistingFileOfTheSameName) {
  writeFile(out("fixed.txt"), "a much longer old content");
  FileOutbound endpoint = output("fixed.txt");
  Exchange exchange = exchangeWith("new");
  ASSERT_EQ(endpoint.send(exchange).status, Delivery::Status::kAccepted);
  EXPECT_EQ(readFile(out("fixed.txt")), "new");
  EXPECT_EQ(listDir(tmp_ / "out").size(), 1u);
}

TEST_F(FileOutboundTest, CreatesTheFolderWhenMissing) {
  FileOutbound endpoint = output("a.txt");
  Exchange exchange = exchangeWith("x");
  ASSERT_EQ(endpoint.send(exchange).status, Delivery::Status::kAccepted);
  EXPECT_EQ(readFile(out("a.txt")), "x");
}

TEST_F(FileOutboundTest, RejectsUnusableRenderedNames) {
  fs::create_directories(tmp_ / "out");
  FileOutbound endpoint = output("${Name}");
  for (const char* bad : {"", "a/b", "../escape", ".", ".."}) {
    Exchange exchange = exchangeWith("x", {{"Name", bad}});
    const Delivery d = endpoint.send(exchange);
    EXPECT_EQ(d.status, Delivery::Status::kRejected) << "'" << bad << "'";
    EXPECT_FALSE(d.detail.empty());
  }
  Exchange too_long = exchangeWith("x", {{"Name", std::string(256, 'a')}});
  EXPECT_EQ(endpoint.send(too_long).status, Delivery::Status::kRejected);
  EXPECT_TRUE(listDir(tmp_ / "out").empty());
  EXPECT_TRUE(listDir(tmp_.path()).count("escape") == 0);
}

TEST_F(FileOutboundTest, LongestNameIsWritten) {
  FileOutbound endpoint = output("${Name}");
  const std::string name(255, 'n');
  Exchange exchange = exchangeWith("x", {{"Name", name}});
  const Delivery d = endpoint.send(exchange);
  ASSERT_EQ(d.status, Delivery::Status::kAccepted) << d.detail;
  EXPECT_EQ(listDir(tmp_ / "out"), (std::set<std::string>{name}));
}

TEST_F(FileOutboundTest, FilesystemErrorIsRetriedWithTheReasonAndLeavesNoTemporary) {
  fs::create_directories(out("taken"));  // a folder where the file should go: EISDIR
  FileOutbound endpoint = output("taken");
  Exchange exchange = exchangeWith("x");
  const Delivery d = endpoint.send(exchange);
  EXPECT_EQ(d.status, Delivery::Status::kRetry);
  EXPECT_EQ(d.failure, Delivery::Failure::kRemote);
  EXPECT_NE(d.detail.find(std::error_code(EISDIR, std::generic_category()).message()),
            std::string::npos)
      << d.detail;
  EXPECT_EQ(listDir(tmp_ / "out"), (std::set<std::string>{"taken"}));
}

TEST_F(FileOutboundTest, FolderThatIsAFileIsRetried) {
  writeFile(tmp_ / "out", "not a folder");
  FileOutbound endpoint = output("a.txt");
  Exchange exchange = exchangeWith("x");
  const Delivery d = endpoint.send(exchange);
  EXPECT_EQ(d.status, Delivery::Status::kRetry);
  EXPECT_NE(d.detail.find(std::error_code(ENOTDIR, std::generic_category()).message()),
            std::string::npos)
      << d.detail;
}

TEST_F(FileOutboundTest, DescribeShowsFolderAndNameTemplate) {
  EXPECT_EQ(output().describe(), "file " + (tmp_ / "out").string() + "/${message.id}");
  EXPECT_EQ(output("${MaHoSo}.xml").describe(),
            "file " + (tmp_ / "out").string() + "/${MaHoSo}.xml");
}

TEST(FileNames, BadFileName) {
  EXPECT_EQ(badFileName("ok.xml"), "");
  EXPECT_EQ(badFileName(".hidden"), "");
  EXPECT_NE(badFileName(""), "");
  EXPECT_NE(badFileName("."), "");
  EXPECT_NE(badFileName(".."), "");
  EXPECT_NE(badFileName("a/b"), "");
  EXPECT_NE(badFileName(std::string("a\0b", 3)), "");
  EXPECT_EQ(badFileName(std::string(255, 'a')), "");
  EXPECT_NE(badFileName(std::string(256, 'a')), "");
}

}  // namespace
}  // namespace lienthong::adapters::file

// The log: what identifies a person is hidden; lines written while a message runs name
// it (trace id, route, dossier, message id), in text or JSON; routes may keep the text.

#include "lienthong/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/builtins.h"
#include "core/loader.h"
#include "integration/test_support.h"

namespace lienthong {
namespace {

// What the log writes to stderr while `body` runs.
template <typename Body>
std::string captured(Body body) {
  std::fflush(stderr);
  char path[] = "/tmp/lienthong-log-XXXXXX";
  const int fd = ::mkstemp(path);
  const int saved = ::dup(2);
  ::dup2(fd, 2);
  body();
  ::dup2(saved, 2);
  ::close(saved);
  ::close(fd);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  ::unlink(path);
  return text.str();
}

TEST(Log, PersonalIdentifiersAreHidden) {
  EXPECT_EQ(log::redact("CCCD 001190012345, ĐT 0912 345 678 hoặc +84903111222, thư "
                        "nhung.nth@example.vn"),
            "CCCD <id>, ĐT <phone> hoặc <phone>, thư <email>");
  EXPECT_EQ(log::redact("<HoSo><DiaChiChuHoSo><ChiTiet>Số 12, tổ 5</ChiTiet><MaXa>90002</MaXa>"
                        "</DiaChiChuHoSo><h:DiaChi>x</h:DiaChi></HoSo>"),
            "<HoSo><DiaChiChuHoSo><ChiTiet><address></ChiTiet><MaXa>90002</MaXa></DiaChiChuHoSo>"
            "<h:DiaChi><address></h:DiaChi></HoSo>");
  EXPECT_EQ(log::redact(R"({"SenderAddress": "Số 12", "DiaChi":"Thôn 3","MaXa":"95001"})"),
            R"({"SenderAddress":"<address>", "DiaChi":"<address>","MaXa":"95001"})");
  // What is not a person's: dossier codes, times, trace ids, amounts.
  const std::string kept =
      "hồ sơ 000.00.01.H22-240315-0001 lúc 20240315083000, trace "
      "4bf92f3577b34da6a3ce929d0e0e4736, 200000 đồng, mã 95001";
  EXPECT_EQ(log::redact(kept), kept);
}

TEST(Log, LinesNameTheMessageTheyAreAbout) {
  const std::string text = captured([] {
    log::info("ngoai", "no message: 0912345678");
    log::Scope scope({"4bf92f3577b34da6a3ce929d0e0e4736", "dvcqg-hoso", "000.00.01.H22-240315-0001",
                      "m-1", true});
    log::warn("engine", "gửi lại cho 0912345678");
    {
      log::Scope inner({"4bf92f3577b34da6a3ce929d0e0e4736", "mo", "", "m-2", false});
      log::info("step", "giữ nguyên 0912345678");
    }
    log::info("engine", "lại ngoài");
  });
  EXPECT_NE(text.find("info  ngoai: no message: <phone>\n"), std::string::npos) << text;
  EXPECT_NE(text.find("warn  engine: gửi lại cho <phone> trace=4bf92f3577b34da6a3ce929d0e0e4736 "
                      "route=dvcqg-hoso dossier=000.00.01.H22-240315-0001 msg=m-1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("step: giữ nguyên 0912345678 trace=4bf92f3577b34da6a3ce929d0e0e4736 "
                      "route=mo msg=m-2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("engine: lại ngoài trace=4bf92f3577b34da6a3ce929d0e0e4736 route=dvcqg-hoso"),
            std::string::npos)
      << text;
}

TEST(Log, TheJsonFormatIsOneObjectALine) {
  const std::string text = captured([] {
    log::setFormat(log::Format::kJson);
    log::Scope scope(
        {"4bf92f3577b34da6a3ce929d0e0e4736", "r", "000.00.01.H22-240315-0001", "m", true});
    log::error("engine", "dead letter: \"x\" 0912345678");
    log::setFormat(log::Format::kText);
  });
  EXPECT_NE(text.find(R"(,"level":"error","component":"engine","message":"dead letter: \"x\" )"
                      R"(<phone>","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","route":"r",)"
                      R"("dossier":"000.00.01.H22-240315-0001","message_id":"m"}
)"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.rfind("{\"time\":\"", 0), 0u) << text;
}

TEST(Log, ARouteMayKeepTheTextAndTheDaemonSetsTheDefault) {
  testing::TempHome home;
  home.write("config.yaml",
             "log: { redact: false, format: json }\nlisteners:\n  public: { http: { port: 0 } }\n"
             "routes: [ routes ]\n");
  home.write("routes/r.yaml",
             "routes:\n"
             "  - id: a\n    pattern: one-way\n"
             "    from: { http: { listener: public, path: /a } }\n"
             "  - id: b\n    pattern: one-way\n    redact-logs: true\n"
             "    from: { http: { listener: public, path: /b } }\n");
  Registry registry;
  registerBuiltins(registry);
  ConfigErrors errors;
  Loader loader(registry, true);
  auto config = loader.loadConfig(home.path("config.yaml").string(), errors);
  ASSERT_TRUE(config) << errors.str();
  EXPECT_FALSE(config->log_redact);
  EXPECT_TRUE(config->log_json);
  auto table = loader.loadRoutes(*config, config->route_paths, errors);
  ASSERT_TRUE(table) << errors.str();
  EXPECT_FALSE(table->find("a")->redact_logs);  // the daemon's default
  EXPECT_TRUE(table->find("b")->redact_logs);   // its own
}

}  // namespace
}  // namespace lienthong

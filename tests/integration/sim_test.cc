// The portal endpoint against the simulated national portal (apps/lienthong-sim) run as
// a real process: dossier sync and its update, progress in order through an outage of
// the portal, sessions that end, and a lookup answered as a canonical dossier.

#include <gtest/gtest.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/daemon.h"
#include "core/store.h"
#include "integration/sim_process.h"
#include "integration/test_support.h"

namespace lienthong {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::eventually;
using testing::httpCall;

std::string readFile(const fs::path& p) { return testing::readText(p); }

// lienthong-sim portal as a child process, its output in a file.
class PortalSimProcess {
 public:
  PortalSimProcess(const fs::path& log, int session_calls)
      : sim_(log, {"portal", "--username", "h22", "--password", "mat-khau", "--dstcode", "DST-H22",
                   "--session-calls", std::to_string(session_calls)}) {}
  const std::string& url() const { return sim_.url(); }
  std::uint16_t port() const { return sim_.port(); }
  // The simulated portal's dossiers: MaHoSo -> {status, progress statuses in order}.
  std::map<std::string, std::pair<std::string, std::vector<std::string>>> dossiers() const {
    std::map<std::string, std::pair<std::string, std::vector<std::string>>> out;
    auto a = httpCall(port(), "GET", "/sim/dossiers");
    if (a.status != 200) return out;
    auto o = Poco::JSON::Parser().parse(a.body).extract<Poco::JSON::Object::Ptr>();
    auto list = o->getArray("dossiers");
    for (std::size_t i = 0; i < list->size(); ++i) {
      auto d = list->getObject(static_cast<unsigned>(i));
      auto& entry = out[d->getValue<std::string>("MaHoSo")];
      entry.first = d->getValue<std::string>("TrangThaiHoSo");
      auto progress = d->getArray("progress");
      for (std::size_t j = 0; j < progress->size(); ++j) {
        entry.second.push_back(
            progress->getObject(static_cast<unsigned>(j))->getValue<std::string>("TrangThai"));
      }
    }
    return out;
  }

 private:
  testing::SimProcess sim_;
};

std::string sample(const std::string& name) {
  return readFile(fs::path(LIENTHONG_SOURCE_DIR) / "tests/data/messages/good" / (name + ".xml"));
}

std::string status(const std::string& code, int value, const std::string& at) {
  return "<TrangThai xmlns=\"urn:lienthong:hoso:1\"><MaHoSo>" + code + "</MaHoSo><Ma>" +
         std::to_string(value) + "</Ma><ThoiDiem>" + at +
         "</ThoiDiem><NguoiXuLy>Trần Văn Bình</NguoiXuLy></TrangThai>";
}

TEST(PortalSim, DossiersAndProgressReachThePortalInOrderThroughAnOutage) {
  testing::TempHome home;
  PortalSimProcess portal(home.path("sim.log"), 3);  // a session ends every 3 calls
  ASSERT_NE(portal.port(), 0) << readFile(home.path("sim.log"));
  home.write("config.yaml",
             "log: { level: warn }\n"
             "listeners:\n  public: { http: { port: 0 } }\n"
             "connections:\n"
             "  dvcqg:\n"
             "    portal:\n"
             "      url: " +
                 portal.url() +
                 "\n"
                 "      username: h22\n"
                 "      password-env: LIENTHONG_TEST_PORTAL_PASSWORD\n"
                 "      dstcode: DST-H22\n"
                 "      madonvi: 000.00.01.H22\n"
                 "store: { path: var/lienthong.db }\n"
                 "routes: [ routes ]\n");
  ::setenv("LIENTHONG_TEST_PORTAL_PASSWORD", "mat-khau", 1);
  const std::string schemas = std::string(LIENTHONG_SOURCE_DIR) + "/schemas";
  home.write("routes/r.yaml",
             "routes:\n"
             "  - id: sync\n"
             "    pattern: one-way\n"
             "    from: { http: { listener: public, path: /hoso } }\n"
             "    delivery: { retry: { backoff: fixed, initial: 200ms } }\n"
             "    steps: [ { validate: { xsd: " +
                 schemas +
                 "/hoso/hoso-v1.xsd } } ]\n"
                 "    to: { portal: { connection: dvcqg, service: DongBoHoSoMC } }\n"
                 "  - id: progress\n"
                 "    pattern: one-way\n"
                 "    from: { http: { listener: public, path: /progress } }\n"
                 "    delivery:\n"
                 "      retry: { backoff: fixed, initial: 200ms }\n"
                 "      ordering: { key: \"${MaHoSo}\" }\n"
                 "    steps:\n"
                 "      - validate: { xsd: " +
                 schemas +
                 "/hoso/status-v1.xsd }\n"
                 "    to: { portal: { connection: dvcqg, service: CapNhatTienDoHoSoMC } }\n"
                 "  - id: lookup\n"
                 "    pattern: request-reply\n"
                 "    from: { http: { listener: public, path: /lookup, methods: [GET] } }\n"
                 "    to: { portal: { connection: dvcqg, service: TraCuuHoSo, params: { MaHoSo: "
                 "\"${http.query}\" } } }\n");
  std::unique_ptr<Daemon> daemon;
  const std::uint16_t port = testing::startDaemon(home.path("config.yaml"), daemon);
  ASSERT_NE(port, 0);
  const std::string code = "000.00.01.H22-240315-0001";
  const std::map<std::string, std::string> xml{{"Content-Type", "application/xml"},
                                               {"MaHoSo", code}};

  ASSERT_EQ(httpCall(port, "POST", "/hoso", sample("hoso"), xml).status, 202);
  ASSERT_TRUE(eventually([&] { return portal.dossiers().count(code) == 1; }, 20s));
  // The same dossier again: the portal has it, so it goes as an update (no dead letter).
  ASSERT_EQ(httpCall(port, "POST", "/hoso", sample("hoso"), xml).status, 202);

  ASSERT_EQ(httpCall(port, "POST", "/progress", status(code, 4, "20240316090000"), xml).status,
            202);
  ASSERT_TRUE(eventually([&] { return portal.dossiers()[code].second.size() == 1; }, 20s));
  // The portal goes down for maintenance; what comes meanwhile arrives after, in order.
  ASSERT_EQ(httpCall(portal.port(), "POST", "/sim/outage?seconds=2").status, 200);
  for (int s : {5, 4, 9, 10}) {
    ASSERT_EQ(httpCall(port, "POST", "/progress",
                       status(code, s, "2024031710000" + std::to_string(s % 10)), xml)
                  .status,
              202);
  }
  ASSERT_TRUE(eventually([&] { return portal.dossiers()[code].second.size() == 5; }, 30s))
      << portal.dossiers()[code].second.size();
  const auto d = portal.dossiers()[code];
  EXPECT_EQ(d.second, (std::vector<std::string>{"4", "5", "4", "9", "10"}));
  EXPECT_EQ(d.first, "10");

  // A lookup answers with the canonical dossier, as the portal now has it.
  auto found = httpCall(port, "GET", "/lookup?" + code);
  EXPECT_EQ(found.status, 200) << found.body;
  EXPECT_NE(found.body.find("<TrangThaiHoSo>10</TrangThaiHoSo>"), std::string::npos) << found.body;
  EXPECT_NE(found.body.find("<ChuHoSo>Nguyễn Thị Hồng Nhung</ChuHoSo>"), std::string::npos);
  daemon->stop();
  daemon.reset();
  // Nothing was given up on the way, nothing is left to deliver.
  StoreSettings settings;
  settings.path = home.path("var/lienthong.db").string();
  auto store = openStore(settings, false);
  ASSERT_TRUE(store.ok()) << store.error().message;
  auto dead = (*store)->deadLetters({});
  ASSERT_TRUE(dead.ok());
  EXPECT_TRUE(dead->empty()) << (dead->empty() ? "" : dead->front().reason);
  EXPECT_TRUE((*store)->pending()->empty());
}

}  // namespace
}  // namespace lienthong

// End to end: the shipped public-service routes (routes/dvc/) on the default config
// (config/lienthong.yaml, only its ports and paths changed), against the simulators run as
// processes — the national portal pushing what citizens submit, and three one-stop
// systems (REST/JSON, SOAP, shared folder) working their dossiers through. Every flow:
// intake by agency, statuses back to the portal, supplement both ways, feedback, lookups,
// the catalogue pull, overdue detection, and a portal outage in the middle.

#include <gtest/gtest.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <filesystem>

#include "core/daemon.h"
#include "integration/fixtures.h"
#include "integration/sim_process.h"
#include "integration/test_support.h"
#include "transforms/identity/jwt.h"

namespace lienthong {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::eventually;
using testing::httpCall;

std::string readFile(const fs::path& p) { return testing::readText(p); }

void replaceAll(std::string& text, const std::string& from, const std::string& to) {
  ASSERT_NE(text.find(from), std::string::npos) << "'" << from << "' not found";
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

using Sim = testing::SimProcess;

// A token of the demo identity provider (config/demo/sso-signing-key.pem) for `id`.
std::string demoToken(const std::string& id, long long expires_in) {
  const std::string pem =
      readFile(fs::path(LIENTHONG_SOURCE_DIR) / "config/demo/sso-signing-key.pem");
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  const long long now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  const std::string input =
      identity::base64UrlEncode(R"({"alg":"RS256","typ":"JWT","kid":"sso-demo-1"})") + "." +
      identity::base64UrlEncode(R"({"iss":"https://sso.dichvucong.gov.vn","aud":"lienthong-demo",)"
                                R"("sub":")" +
                                id + R"(","so_dinh_danh":")" + id + R"(","acr":"LoA2","exp":)" +
                                std::to_string(now + expires_in) + "}");
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, key);
  std::size_t length = 0;
  EVP_DigestSign(md, nullptr, &length, reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  std::string sig(length, '\0');
  EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &length,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(key);
  sig.resize(length);
  return input + "." + identity::base64UrlEncode(sig);
}

Poco::JSON::Object::Ptr parse(const std::string& text) {
  return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
}

struct PortalDossier {
  std::string status;
  std::vector<std::string> progress;  // TrangThai of each progress, in order
  std::vector<std::string> notes;     // NoiDungXuLy of each
};

class DvcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path src = LIENTHONG_SOURCE_DIR;
    // The simulators call the daemon, so its port is chosen before it starts.
    std::string why;
    port_ = testing::unusedPort(&why);
    ASSERT_NE(port_, 0) << why;
    const std::string daemon = "http://127.0.0.1:" + std::to_string(port_);
    portal_ = std::make_unique<Sim>(
        home_.path("portal.log"),
        std::vector<std::string>{"portal", "--push", daemon + "/dvcqg", "--answer-ms", "1500"});
    rest_ = std::make_unique<Sim>(
        home_.path("tranphu.log"),
        std::vector<std::string>{"onestop", "--name", "tranphu", "--flavor", "rest", "--callback",
                                 daemon + "/motcua/tranphu", "--step-ms", "150"});
    soap_ = std::make_unique<Sim>(
        home_.path("sotuphap.log"),
        std::vector<std::string>{"onestop", "--name", "sotuphap", "--flavor", "soap", "--callback",
                                 daemon + "/motcua/sotuphap", "--step-ms", "150"});
    folder_ = std::make_unique<Sim>(
        home_.path("tamxuan.log"),
        std::vector<std::string>{"onestop", "--name", "tamxuan", "--flavor", "folder", "--dir",
                                 home_.path("var/onestop/tamxuan").string(), "--step-ms", "150",
                                 "--payment", daemon + "/thanh-toan/yeu-cau"});
    payment_ = std::make_unique<Sim>(
        home_.path("payment.log"),
        std::vector<std::string>{"payment", "--callback", daemon + "/thanh-toan/xac-nhan",
                                 "--pay-ms", "100"});
    postal_ = std::make_unique<Sim>(
        home_.path("postal.log"),
        std::vector<std::string>{"postal", "--step-ms", "100", "--first-id", "0"});
    ASSERT_TRUE(portal_->port() && rest_->port() && soap_->port() && folder_->port() &&
                payment_->port() && postal_->port());

    // The default config, with this test's ports and home.
    std::string config = readFile(src / "config/lienthong.yaml");
    replaceAll(config, "home: ..", "home: " + home_.path("").string());
    replaceAll(config, "port: 8080", "port: " + std::to_string(port_));
    replaceAll(config, "http://127.0.0.1:8080", daemon);
    replaceAll(config, "http://127.0.0.1:8090", portal_->origin());
    replaceAll(config, "http://127.0.0.1:8091", rest_->origin());
    replaceAll(config, "http://127.0.0.1:8092", soap_->origin());
    replaceAll(config, "http://127.0.0.1:8094", payment_->origin());
    replaceAll(config, "http://127.0.0.1:8095", postal_->origin());
    replaceAll(config, "plugins: [ build/plugins ]", "");
    replaceAll(config, "build/tests/pki", std::string(LIENTHONG_BINARY_DIR) + "/tests/pki");
    replaceAll(config, "level: info", "level: warn");
    home_.write("config/lienthong.yaml", config);
    home_.write("config/demo/dvcqg.password", readFile(src / "config/demo/dvcqg.password"));
    home_.write("config/demo/sso-jwks.json", readFile(src / "config/demo/sso-jwks.json"));
    home_.write("config/demo/thanhtoan.secret", readFile(src / "config/demo/thanhtoan.secret"));
    home_.write("config/demo/buudien.secret", readFile(src / "config/demo/buudien.secret"));
    home_.write("config/don-vi-hanh-chinh.csv", readFile(src / "config/don-vi-hanh-chinh.csv"));
    fs::copy(src / "schemas", home_.path("schemas"), fs::copy_options::recursive);
    fs::copy(src / "routes/dvc", home_.path("routes/dvc"), fs::copy_options::recursive);
    for (const auto& e : fs::directory_iterator(home_.path("routes/dvc"))) {
      if (e.path().filename().string().ends_with("_test.yaml")) fs::remove(e.path());
    }
    // The nightly routes every second, so that they run within the test that looks at
    // them (elsewhere they would only add calls to the portal).
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    if (test == "ASupplementGoesBothWaysAndAnOverdueDossierIsTold") everySecond();
    ASSERT_EQ(testing::startDaemon(home_.path("config/lienthong.yaml"), daemon_), port_);
  }
  void everySecond() {
    std::string catalogue = readFile(home_.path("routes/dvc/danhmuc.yaml"));
    for (const char* cron : {"30 1 * * *", "40 1 * * *", "50 1 * * *"}) {
      replaceAll(catalogue, std::string("cron: \"") + cron + "\", timezone: Asia/Ho_Chi_Minh",
                 "every: 1s");
    }
    home_.write("routes/dvc/danhmuc.yaml", catalogue);
    std::string overdue = readFile(home_.path("routes/dvc/quahan.yaml"));
    replaceAll(overdue, "cron: \"0 7 * * *\", timezone: Asia/Ho_Chi_Minh", "every: 1s");
    home_.write("routes/dvc/quahan.yaml", overdue);
  }
  void TearDown() override {
    if (daemon_) daemon_->stop();
  }

  // Submits a dossier on the simulated portal; its code.
  std::string submit(const std::string& query) {
    auto a = httpCall(portal_->port(), "POST", "/sim/submit?" + query);
    EXPECT_EQ(a.status, 200) << a.body;
    return a.status == 200 ? parse(a.body)->getValue<std::string>("MaHoSo") : "";
  }

  std::map<std::string, PortalDossier> portalDossiers() {
    std::map<std::string, PortalDossier> out;
    auto a = httpCall(portal_->port(), "GET", "/sim/dossiers");
    if (a.status != 200) return out;
    auto list = parse(a.body)->getArray("dossiers");
    for (std::size_t i = 0; i < list->size(); ++i) {
      auto d = list->getObject(static_cast<unsigned>(i));
      auto& entry = out[d->getValue<std::string>("MaHoSo")];
      entry.status = d->getValue<std::string>("TrangThaiHoSo");
      auto progress = d->getArray("progress");
      for (std::size_t j = 0; j < progress->size(); ++j) {
        auto p = progress->getObject(static_cast<unsigned>(j));
        entry.progress.push_back(p->getValue<std::string>("TrangThai"));
        entry.notes.push_back(p->has("NoiDungXuLy") ? p->getValue<std::string>("NoiDungXuLy") : "");
      }
    }
    return out;
  }

  // A simulator's journal records of a dossier, each made by `line` from the record.
  template <typename Line>
  std::vector<std::string> journal(const Sim& sim, const std::string& code, Line line) {
    std::vector<std::string> out;
    auto a = httpCall(sim.port(), "GET", "/sim/messages");
    if (a.status != 200) return out;
    auto list = parse(a.body)->getArray("messages");
    for (std::size_t i = 0; i < list->size(); ++i) {
      auto m = list->getObject(static_cast<unsigned>(i));
      if (m->getValue<std::string>("MaHoSo") == code) out.push_back(line(*m));
    }
    return out;
  }

  // What a one-stop system received and sent for a dossier: "in HoSo", "out TrangThai", ...
  std::vector<std::string> onestopMessages(const Sim& sim, const std::string& code) {
    return journal(sim, code, [](const Poco::JSON::Object& m) {
      return m.getValue<std::string>("direction") + " " + m.getValue<std::string>("message");
    });
  }

  // What a simulator's journal says of each message of a dossier.
  std::vector<std::string> journalDetails(const Sim& sim, const std::string& code) {
    return journal(sim, code,
                   [](const Poco::JSON::Object& m) { return m.getValue<std::string>("detail"); });
  }

  bool returned(const std::string& code) {
    auto all = portalDossiers();
    return all.count(code) != 0 && all[code].status == "10";
  }

  testing::TempHome home_;
  std::uint16_t port_ = 0;
  std::unique_ptr<Sim> portal_, rest_, soap_, folder_, payment_, postal_;
  std::unique_ptr<Daemon> daemon_;
};

// A dossier submitted online reaches the one-stop system of its agency — REST, SOAP or
// the shared folder — and every status it goes through reaches the portal, in order.
TEST_F(DvcTest, DossiersReachTheirAgencysSystemAndTheirStatusesReachThePortal) {
  const std::string rest = submit("procedure=1.001612");  // Trần Phú, REST
  const std::string soap = submit("procedure=2.000908");  // Sở Tư pháp, SOAP
  const std::string folder = submit("procedure=1.001193&agency=000.00.12.H49");  // the folder
  ASSERT_FALSE(rest.empty() || soap.empty() || folder.empty());
  for (const auto& code : {rest, soap, folder}) {
    EXPECT_TRUE(eventually([&] { return returned(code); }, 30s)) << code;
  }
  auto all = portalDossiers();
  for (const auto& code : {rest, soap, folder}) {
    EXPECT_EQ(all[code].progress, (std::vector<std::string>{"2", "4", "9", "10"})) << code;
    EXPECT_EQ(all[code].notes.front(), "Tiếp nhận hồ sơ") << code;
  }
  EXPECT_EQ(onestopMessages(*rest_, rest),
            (std::vector<std::string>{"in HoSo", "out TrangThai", "out TrangThai", "out TrangThai",
                                      "out TrangThai"}));
  EXPECT_EQ(onestopMessages(*soap_, soap).front(), "in HoSo");
  EXPECT_TRUE(onestopMessages(*rest_, soap).empty());  // not another agency's system
  EXPECT_TRUE(onestopMessages(*folder_, rest).empty());

  // A lookup through lienthong answers with the dossier as the portal has it now.
  auto found = httpCall(port_, "GET", "/tra-cuu/hoso", "", {{"MaHoSo", rest}});
  EXPECT_EQ(found.status, 200) << found.body;
  EXPECT_NE(found.body.find("<TrangThaiHoSo>10</TrangThaiHoSo>"), std::string::npos) << found.body;
  auto procedure = httpCall(port_, "GET", "/tra-cuu/thu-tuc", "", {{"MaTTHC", "1.001612"}});
  EXPECT_EQ(procedure.status, 200);
  EXPECT_NE(procedure.body.find("Đăng ký thành lập hộ kinh doanh"), std::string::npos);
  auto bad = httpCall(port_, "GET", "/tra-cuu/hoso", "", {{"MaHoSo", "H22-1"}});
  EXPECT_EQ(bad.status, 400) << bad.body;

  // The statistics from what the routes kept.
  daemon_->stop();
  daemon_.reset();
  int rc = 0;
  const std::string json = testing::runCommand(
      std::string(LIENTHONG_BINARY_DIR) + "/apps/lienthongctl/lienthongctl stats --config " +
          home_.path("config/lienthong.yaml").string() + " --by agency",
      &rc);
  EXPECT_EQ(rc, 0) << json;
  EXPECT_NE(json.find(R"({"agency":"000.00.01.H22","received":1,"resolved_on_time":1,)"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"({"agency":"000.20.25.H12","received":1,"resolved_on_time":1,)"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"({"agency":"000.00.12.H49","received":1,"resolved_on_time":1,)"),
            std::string::npos)
      << json;
}

// The folder system asks for a supplement; the request reaches the portal (progress 5
// with it), the citizen's answer comes back through lienthong to the folder, and the
// dossier goes on to its result. Meanwhile, it was overdue: told to the portal too.
TEST_F(DvcTest, ASupplementGoesBothWaysAndAnOverdueDossierIsTold) {
  const std::string code = submit("procedure=1.000894&due-hours=-2");  // Tam Xuân: the folder
  ASSERT_EQ(code.substr(0, 13), "000.00.12.H49");
  EXPECT_TRUE(eventually([&] { return returned(code); }, 40s));
  auto d = portalDossiers()[code];
  // 2, 4, 5, then 4, 9, 10 after the answer; an overdue note (its status then) in between.
  std::vector<std::string> statuses;
  bool overdue_told = false;
  for (std::size_t i = 0; i < d.progress.size(); ++i) {
    if (d.notes[i].find("quá hạn") != std::string::npos) {
      overdue_told = true;
      continue;
    }
    statuses.push_back(d.progress[i]);
  }
  EXPECT_EQ(statuses, (std::vector<std::string>{"2", "4", "5", "4", "9", "10"}));
  EXPECT_TRUE(overdue_told);
  const auto request = std::find(d.progress.begin(), d.progress.end(), "5") - d.progress.begin();
  EXPECT_EQ(d.notes[request].rfind("Yêu cầu bổ sung [BS-1]: ", 0), 0u) << d.notes[request];
  EXPECT_EQ(onestopMessages(*folder_, code),
            (std::vector<std::string>{"in HoSo", "out TrangThai", "out TrangThai",
                                      "out YeuCauBoSung", "in TraLoiBoSung", "out TrangThai",
                                      "out TrangThai", "out TrangThai"}));
  EXPECT_FALSE(testing::filesIn(home_.path("var/qua-han")).empty());
  // The catalogue was pulled and kept.
  EXPECT_TRUE(eventually(
      [&] {
        return fs::exists(home_.path("var/danhmuc/thu-tuc.json")) &&
               fs::exists(home_.path("var/danhmuc/co-quan.json")) &&
               fs::exists(home_.path("var/danhmuc/linh-vuc.json"));
      },
      10s));
  EXPECT_NE(readFile(home_.path("var/danhmuc/thu-tuc.json")).find("\"MaTTHC\":\"1.000894\""),
            std::string::npos);

  // A citizen's feedback on it reaches the agency's system.
  EXPECT_EQ(httpCall(portal_->port(), "POST", "/sim/feedback?MaHoSo=" + code).status, 200);
  EXPECT_TRUE(eventually(
      [&] {
        auto m = onestopMessages(*folder_, code);
        return std::find(m.begin(), m.end(), "in PhanAnh") != m.end();
      },
      10s));
}

// The portal goes down while a dossier is worked through: its statuses wait in the
// journal and arrive once the portal is back, all of them, in order.
TEST_F(DvcTest, ThroughAPortalOutageTheStatusesArriveAfterInOrder) {
  ASSERT_EQ(httpCall(portal_->port(), "POST", "/sim/outage?seconds=120").status, 200);
  // The portal's own push still goes (the outage is of its adapter); the dossier's
  // statuses come while the adapter answers 503.
  const std::string code = submit("procedure=1.001612");
  ASSERT_TRUE(eventually(
      [&] {
        auto m = onestopMessages(*rest_, code);
        return m.size() == 5;  // in HoSo, then the four statuses sent to lienthong
      },
      20s));
  EXPECT_TRUE(portalDossiers()[code].progress.empty());                               // still down
  ASSERT_EQ(httpCall(portal_->port(), "POST", "/sim/outage?seconds=0").status, 200);  // back
  EXPECT_TRUE(eventually([&] { return returned(code); }, 40s));
  EXPECT_EQ(portalDossiers()[code].progress, (std::vector<std::string>{"2", "4", "9", "10"}));
  int rc = 0;
  daemon_->stop();
  daemon_.reset();
  const std::string dead = testing::runCommand(
      std::string(LIENTHONG_BINARY_DIR) + "/apps/lienthongctl/lienthongctl dlq list --config " +
          home_.path("config/lienthong.yaml").string(),
      &rc);
  EXPECT_NE(dead.find("0 dead letter(s)"), std::string::npos) << dead;
}

// A dossier posted with its applicant's token reaches the agency's system with the
// identity attached; another citizen's token, or an expired one, is a 401 and nothing is
// sent.
TEST_F(DvcTest, ADossierWithItsApplicantsTokenIsTakenAndAnotherCitizensIsNot) {
  const std::string dossier =
      R"({"MaHoSo":"000.20.25.H12-240401-0042","MaTTHC":"2.000908",)"
      R"("TenTTHC":"Cấp bản sao trích lục hộ tịch","ChuHoSo":"Lê Minh Tuấn","LoaiDoiTuong":"1",)"
      R"("NgayTiepNhan":"20240401093000","TrangThaiHoSo":"1","KenhThucHien":"2",)"
      R"("SoGiayToChuHoSo":"031088004567"})";
  const std::map<std::string, std::string> json{{"Content-Type", "application/json"}};
  auto post = [&](const std::string& token) {
    auto headers = json;
    headers["Authorization"] = "Bearer " + token;
    return httpCall(port_, "POST", "/dvc/hoso", dossier, headers);
  };
  auto other = post(demoToken("079203000001", 600));
  EXPECT_EQ(other.status, 401);
  EXPECT_NE(other.body.find("the token's so_dinh_danh '079203000001' is not"), std::string::npos)
      << other.body;
  auto expired = post(demoToken("031088004567", -3600));
  EXPECT_EQ(expired.status, 401);
  EXPECT_NE(expired.body.find("the token expired at"), std::string::npos) << expired.body;
  EXPECT_TRUE(onestopMessages(*soap_, "000.20.25.H12-240401-0042").empty());
  auto ok = post(demoToken("031088004567", 600));
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(onestopMessages(*soap_, "000.20.25.H12-240401-0042").front(), "in HoSo");
  // Synced to the portal first (DongBoHoSoMC), so its statuses there have a dossier to go to.
  EXPECT_TRUE(eventually([&] { return returned("000.20.25.H12-240401-0042"); }, 30s));
  auto d = portalDossiers()["000.20.25.H12-240401-0042"];
  EXPECT_EQ(d.progress, (std::vector<std::string>{"2", "4", "9", "10"}));
}

// The simulated identity provider's token (lienthong-sim idp, the demo keys) opens the
// level 3/4 intake for its citizen; its JWK set is the one the route trusts.
TEST_F(DvcTest, TheIdentityProvidersTokenOpensTheIntakeForItsCitizen) {
  const fs::path src = LIENTHONG_SOURCE_DIR;
  Sim idp(home_.path("idp.log"),
          {"idp", "--key", (src / "config/demo/sso-signing-key.pem").string(), "--jwks",
           (src / "config/demo/sso-jwks.json").string()});
  ASSERT_NE(idp.port(), 0);
  EXPECT_EQ(httpCall(idp.port(), "GET", "/jwks").body, readFile(src / "config/demo/sso-jwks.json"));
  EXPECT_EQ(httpCall(idp.port(), "POST", "/token?so_dinh_danh=999").status, 404);
  auto t = httpCall(idp.port(), "POST", "/token?so_dinh_danh=031088004567");
  ASSERT_EQ(t.status, 200) << t.body;
  const std::string token = parse(t.body)->getValue<std::string>("access_token");
  const std::string dossier =
      R"({"MaHoSo":"000.20.25.H12-240401-0043","MaTTHC":"2.000908",)"
      R"("TenTTHC":"Cấp bản sao trích lục hộ tịch","ChuHoSo":"Lê Minh Tuấn","LoaiDoiTuong":"1",)"
      R"("NgayTiepNhan":"20240401093000","TrangThaiHoSo":"1","KenhThucHien":"2",)"
      R"("SoGiayToChuHoSo":"031088004567"})";
  auto ok = httpCall(port_, "POST", "/dvc/hoso", dossier,
                     {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + token}});
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(onestopMessages(*soap_, "000.20.25.H12-240401-0043").front(), "in HoSo");
}

// A dossier sent by post: a pickup order at the postal service (OAuth2, the dossier code as
// its number), whose tracking records come back through the postal input and are kept.
TEST_F(DvcTest, ADossierSentByPostGetsAPickupOrderWhoseTrackingComesBack) {
  const std::string code = submit("procedure=1.001612&channel=3");
  ASSERT_FALSE(code.empty());
  EXPECT_TRUE(eventually(
      [&] {
        auto m = onestopMessages(*postal_, code);
        return !m.empty() && m.front() == "in BuuGui";
      },
      20s));
  // The last record under its final name (a file output writes a temporary one first).
  EXPECT_TRUE(eventually(
      [&] { return fs::exists(home_.path("var/buudien/hanh-trinh/3-DELIVERED.json")); }, 30s));
  EXPECT_TRUE(fs::exists(home_.path("var/buudien/hanh-trinh/1-PICKED_UP.json")));
  EXPECT_TRUE(fs::exists(home_.path("var/buudien/hanh-trinh/2-IN_TRANSIT.json")));
  EXPECT_NE(readFile(home_.path("var/buudien/hanh-trinh/3-DELIVERED.json")).find(code),
            std::string::npos);
  EXPECT_TRUE(eventually([&] { return returned(code); }, 30s));  // the agency's work goes on
}

// An electronic result: signed with the agency's key, kept, told to the portal; the
// lookup answers it verified, and refuses it once tampered with.
TEST_F(DvcTest, AResultIsSignedKeptToldAndLookedUpVerified) {
  const std::string code = submit("procedure=1.001612");
  ASSERT_TRUE(eventually([&] { return returned(code); }, 30s));
  const std::map<std::string, std::string> headers{{"MaHoSo", code},
                                                   {"Content-Type", "application/xml"}};
  auto posted = httpCall(port_, "POST", "/ket-qua",
                         "<GiayChungNhan xmlns=\"urn:vi:gcn\"><So>0101234567</So><MaHoSo>" + code +
                             "</MaHoSo><ChuHo>Nguyễn Thị Hồng Nhung</ChuHo></GiayChungNhan>",
                         headers);
  ASSERT_EQ(posted.status, 200) << posted.body;
  ASSERT_TRUE(eventually(
      [&] {
        const auto notes = portalDossiers()[code].notes;
        return !notes.empty() && notes.back().find("Kết quả điện tử đã ký số") != std::string::npos;
      },
      20s));
  auto found = httpCall(port_, "GET", "/tra-cuu/ket-qua", "", {{"MaHoSo", code}});
  EXPECT_EQ(found.status, 200) << found.body;
  EXPECT_NE(found.body.find("<ChuHo>Nguyễn Thị Hồng Nhung</ChuHo>"), std::string::npos);
  EXPECT_NE(found.body.find("SignatureValue"), std::string::npos);
  EXPECT_NE(found.body.find("<HopLe>1</HopLe><NguoiKy>"), std::string::npos) << found.body;
  EXPECT_NE(found.body.find("<ThuatToan>rsa-sha256</ThuatToan>"), std::string::npos) << found.body;
  // Changed after it was signed: the lookup refuses it, with the reason.
  const fs::path kept = home_.path("var/ket-qua/" + code + ".xml");
  std::string text = readFile(kept);
  text.replace(text.find("0101234567"), 10, "0109999999");
  home_.write(kept.lexically_relative(home_.path("")).string(), text);
  auto tampered = httpCall(port_, "GET", "/tra-cuu/ket-qua", "", {{"MaHoSo", code}});
  EXPECT_EQ(tampered.status, 401) << tampered.body;
}

// Both ways by post: a pickup order for the dossier; resolved, its result signed and kept
// and a delivery order (-KQ) for it; the post delivers, and the dossier is returned (10).
TEST_F(DvcTest, ADossierCollectedByPostIsResolvedSignedAndReturnedByPost) {
  const std::string code = submit("procedure=1.001612&channel=3&return=1");
  ASSERT_FALSE(code.empty());
  EXPECT_TRUE(eventually([&] { return returned(code); }, 30s));
  const auto orders = onestopMessages(*postal_, code);
  EXPECT_EQ(orders, (std::vector<std::string>{"in BuuGui", "in BuuGui"}));  // pickup, delivery
  // The citizen's address, written with pre-2025 codes (commune 90002 of district 971),
  // goes out with the current ones on both orders.
  const auto details = journalDetails(*postal_, code);
  ASSERT_EQ(details.size(), 2u);
  const std::string address = "(Số 12, tổ 5, Phường Trần Phú, Tỉnh Sông Núi [95001/97])";
  EXPECT_NE(details[0].find("Nguyễn Thị Hồng Nhung " + address + " → "), std::string::npos)
      << details[0];
  EXPECT_NE(details[1].find(" → Nguyễn Thị Hồng Nhung " + address), std::string::npos)
      << details[1];
  EXPECT_TRUE(fs::exists(home_.path("var/ket-qua/" + code + ".xml")));
  const auto d = portalDossiers()[code];
  EXPECT_EQ(d.progress.back(), "10");
  EXPECT_NE(d.notes.back().find("Bưu điện đã phát kết quả cho công dân"), std::string::npos)
      << d.notes.back();
  const auto at_agency = onestopMessages(*rest_, code);
  EXPECT_EQ(at_agency.back(), "in TrangThai");  // told by lienthong that it was returned
}

// A dossier with a fee: the agency's system asks for payment (6) through lienthong, the
// payment platform confirms with its checksum, and the dossier goes back to in process on
// the portal and at the agency, which then resolves it.
TEST_F(DvcTest, AFeeIsAskedPaidAndConfirmedAndTheDossierGoesOn) {
  const std::string code = submit("procedure=2.001023");  // Sở Tư pháp, SOAP, 200.000 đồng
  ASSERT_FALSE(code.empty());
  EXPECT_TRUE(eventually([&] { return returned(code); }, 30s));
  EXPECT_EQ(portalDossiers()[code].progress,
            (std::vector<std::string>{"2", "6", "4", "4", "9", "10"}));
  EXPECT_EQ(portalDossiers()[code].notes[2].rfind("Đã thanh toán 200000 đồng (giao dịch TT-", 0),
            0u);
  EXPECT_EQ(onestopMessages(*payment_, code),
            (std::vector<std::string>{"in ThanhToan", "out ThanhToan"}));
  const auto at_agency = onestopMessages(*soap_, code);
  EXPECT_NE(std::find(at_agency.begin(), at_agency.end(), "in TrangThai"), at_agency.end());
}

// Bad input from a one-stop system is answered at once with the reason; from the portal
// it is a dead letter with the reason, against its dossier code.
TEST_F(DvcTest, BadInputIsRefusedOrDeadLetteredWithTheReason) {
  auto unknown = httpCall(
      port_, "POST", "/motcua/tranphu/trangthai",
      R"({"MaHoSo":"000.00.01.H22-240315-0001","TrangThai":"DA_XONG","ThoiDiem":"20240315090000"})",
      {{"Content-Type", "application/json"}});
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.body.find("unknown status 'DA_XONG'"), std::string::npos) << unknown.body;
  auto accepted = httpCall(
      port_, "POST", "/dvcqg/hoso",
      R"({"data":[{"MaHoSo":"000.00.01.H22-241315-0009","MaTTHC":"1.001612","TenTTHC":"x",)"
      R"("ChuHoSo":"Nguyễn Văn A","LoaiDoiTuong":"1","NgayTiepNhan":"20240315080000",)"
      R"("TrangThaiHoSo":"1","KenhThucHien":"2"}]})",
      {{"Content-Type", "application/json"}});
  EXPECT_EQ(accepted.status, 202);
  daemon_->stop();  // what was accepted is settled first
  daemon_.reset();
  int rc = 0;
  // Found by its dossier code: kept against it, though it came without one.
  const std::string dead = testing::runCommand(
      std::string(LIENTHONG_BINARY_DIR) + "/apps/lienthongctl/lienthongctl dlq list --config " +
          home_.path("config/lienthong.yaml").string() + " --dossier 000.00.01.H22-241315-0009",
      &rc);
  EXPECT_EQ(rc, 0) << dead;
  EXPECT_NE(dead.find("1 dead letter(s)"), std::string::npos) << dead;
  EXPECT_NE(dead.find("dvcqg-hoso"), std::string::npos) << dead;
  EXPECT_NE(dead.find("000.00.01.H22-241315-0009"), std::string::npos) << dead;
  EXPECT_NE(dead.find("month 13 is no month"), std::string::npos) << dead;
}

}  // namespace
}  // namespace lienthong

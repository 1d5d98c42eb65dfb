// The portal endpoint against a scripted portal (an HTTP peer speaking the adapter
// protocol): login and session, the dossier sync with its update on "already exists",
// progress, lookups, and how error codes map to delivered / retry / rejected.

#include <gtest/gtest.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "adapters/portal/portal_endpoints.h"
#include "core/daemon.h"
#include "fakes/http_peer.h"
#include "integration/fixtures.h"
#include "integration/test_support.h"
#include "transforms/dossier/dossier_steps.h"
#include "transforms/dossier/payment.h"
#include "transforms/xml/xml_steps.h"

namespace lienthong::adapters::portal {
namespace {

using testing::HttpPeer;
using namespace std::chrono_literals;

std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string sample(const std::string& name) {
  return readFile(std::filesystem::path(LIENTHONG_SOURCE_DIR) / "tests/data/messages/good" /
                  (name + ".xml"));
}

Poco::JSON::Object::Ptr json(const std::string& text) {
  Poco::JSON::Parser parser;
  return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
}

// A portal: sessions "S1", "S2", ... from /auth; each call's answer from `answer` (given
// the parsed body), "error_code 0" by default; a call with an unknown session answers -1.
class Portal {
 public:
  Portal() {
    peer_.setHandler([this](const HttpPeer::Request& r) {
      auto body = json(r.body);
      std::lock_guard lock(mutex_);
      if (r.uri == "/adapter/auth") {
        ++auth_calls_;
        const auto dst = r.headers.find("dstcode");
        if (dst == r.headers.end() || dst->second != "DST-H22" ||
            body->getValue<std::string>("password") != "mat-khau") {
          return ok(R"({"error_code":"401","message":"Sai thông tin đăng nhập"})");
        }
        session_ = "S" + std::to_string(++logins_);
        return ok(R"({"error_code":0,"session":")" + session_ + R"("})");
      }
      calls_.push_back(body);
      if (body->getValue<std::string>("session") != session_) {
        return ok(R"({"error_code":"-1","message":"Phiên làm việc đã hết hạn"})");
      }
      return answer_ ? answer_(*body) : ok(R"({"error_code":"0","message":"Thành công"})");
    });
  }
  static HttpPeer::Response ok(std::string body) {
    return HttpPeer::Response{200, std::move(body), "application/json"};
  }
  void answer(std::function<HttpPeer::Response(const Poco::JSON::Object&)> a) {
    std::lock_guard lock(mutex_);
    answer_ = std::move(a);
  }
  void expireSession() {
    std::lock_guard lock(mutex_);
    session_ = "gone";
  }
  std::vector<Poco::JSON::Object::Ptr> calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  int authCalls() {
    std::lock_guard lock(mutex_);
    return auth_calls_;
  }
  int logins() {
    std::lock_guard lock(mutex_);
    return logins_;
  }
  std::string url() const { return peer_.url() + "/adapter"; }

 private:
  HttpPeer peer_;
  std::mutex mutex_;
  std::string session_;
  int logins_ = 0;
  int auth_calls_ = 0;
  std::vector<Poco::JSON::Object::Ptr> calls_;
  std::function<HttpPeer::Response(const Poco::JSON::Object&)> answer_;
};

std::shared_ptr<PortalConnection> connect(const Portal& portal, const std::string& password) {
  http::HttpConnectionSettings hs;
  hs.url = portal.url();
  hs.read_timeout = 5s;
  auto h = http::HttpConnection::create(hs);
  EXPECT_TRUE(h.ok());
  PortalSettings s;
  s.name = "dvcqg";
  s.http = *h;
  s.username = "lienthong";
  s.password = password;
  s.dstcode = "DST-H22";
  s.madonvi = "000.00.01.H22";
  return std::make_shared<PortalConnection>(std::move(s));
}

Exchange exchangeOf(const std::string& body) {
  Message m;
  m.setBody(body);
  m.setContentType("application/xml");
  m.setHeader("MaHoSo", "000.00.01.H22-240315-0001");
  return Exchange(m, "r", ExchangePattern::kOneWay);
}

PortalOutbound endpoint(std::shared_ptr<PortalConnection> c, const std::string& service) {
  PortalOutboundSettings s;
  s.connection = std::move(c);
  s.service = service;
  return PortalOutbound(std::move(s));
}

TEST(Portal, TheDossierIsSyncedAfterALoginWithItsFieldsAndLists) {
  Portal portal;
  auto out = endpoint(connect(portal, "mat-khau"), "DongBoHoSoMC");
  Exchange ex = exchangeOf(sample("hoso"));
  Delivery d = out.send(ex);
  ASSERT_EQ(d.status, Delivery::Status::kAccepted) << d.detail;
  EXPECT_EQ(portal.logins(), 1);
  ASSERT_EQ(portal.calls().size(), 1u);
  auto call = portal.calls()[0];
  EXPECT_EQ(call->getValue<std::string>("session"), "S1");
  EXPECT_EQ(call->getValue<std::string>("madonvi"), "000.00.01.H22");
  EXPECT_EQ(call->getValue<std::string>("service"), "DongBoHoSoMC");
  EXPECT_EQ(call->getValue<std::string>("isUpdating"), "False");
  auto data = call->getArray("data");
  ASSERT_EQ(data->size(), 1u);
  auto dossier = data->getObject(0);
  EXPECT_EQ(dossier->getValue<std::string>("MaHoSo"), "000.00.01.H22-240315-0001");
  EXPECT_EQ(dossier->getValue<std::string>("ChuHoSo"), "Nguyễn Thị Hồng Nhung");
  EXPECT_EQ(dossier->getValue<std::string>("NgayTiepNhan"), "20240315083000");
  auto files = dossier->getArray("TaiLieuNop");
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ(files->getObject(0)->getValue<std::string>("TenTep"), "giay-de-nghi.pdf");
  EXPECT_EQ(files->getObject(1)->getValue<std::string>("DuongDan"),
            "https://dichvucong.gov.vn/tep/7f3a9c");
  EXPECT_EQ(dossier->getArray("DanhSachLePhi")->getObject(0)->getValue<std::string>("Gia"),
            "100000");
  EXPECT_EQ(dossier->getArray("DinhDanhCHS")->getObject(0)->getValue<std::string>("SoDinhDanh"),
            "022190001234");
  ASSERT_TRUE(d.reply);
  ASSERT_NE(d.reply->header("portal.error_code"), nullptr);
  EXPECT_EQ(*d.reply->header("portal.error_code"), "0");

  // The session is kept: a second message, no second login.
  Exchange again = exchangeOf(sample("hoso"));
  ASSERT_EQ(out.send(again).status, Delivery::Status::kAccepted);
  EXPECT_EQ(portal.logins(), 1);
}

TEST(Portal, ADossierThePortalHasAlreadyIsSentAgainAsAnUpdate) {
  Portal portal;
  portal.answer([](const Poco::JSON::Object& call) {
    if (call.getValue<std::string>("isUpdating") == "False") {
      return Portal::ok(R"({"error_code":"1","message":"HỒ SƠ ĐÃ TỒN TẠI TRÊN HỆ THỐNG"})");
    }
    return Portal::ok(R"({"error_code":"0"})");
  });
  auto out = endpoint(connect(portal, "mat-khau"), "DongBoHoSoMC");
  Exchange ex = exchangeOf(sample("hoso"));
  Delivery d = out.send(ex);
  ASSERT_EQ(d.status, Delivery::Status::kAccepted) << d.detail;
  ASSERT_EQ(portal.calls().size(), 2u);
  EXPECT_EQ(portal.calls()[1]->getValue<std::string>("isUpdating"), "True");
}

TEST(Portal, AnEndedSessionLogsInAgainOnceAndTheCallGoesThrough) {
  Portal portal;
  auto out = endpoint(connect(portal, "mat-khau"), "DongBoHoSoMC");
  Exchange first = exchangeOf(sample("hoso"));
  ASSERT_EQ(out.send(first).status, Delivery::Status::kAccepted);
  portal.expireSession();
  Exchange second = exchangeOf(sample("hoso"));
  Delivery d = out.send(second);
  ASSERT_EQ(d.status, Delivery::Status::kAccepted) << d.detail;
  EXPECT_EQ(portal.logins(), 2);
  ASSERT_EQ(portal.calls().size(), 3u);  // ok, refused (-1), ok with the new session
  EXPECT_EQ(portal.calls()[2]->getValue<std::string>("session"), "S2");
}

// A portal that says "session ended" with HTTP 401 and a JSON body: read like any answer.
TEST(Portal, ASessionEndedAnsweredWithHttp401LogsInAgain) {
  Portal portal;
  std::atomic<int> calls{0};
  portal.answer([&](const Poco::JSON::Object&) {
    if (calls++ == 0) {
      return HttpPeer::Response{401, R"({"error_code":"-1","message":"Hết phiên"})",
                                "application/json"};
    }
    return Portal::ok(R"({"error_code":"0"})");
  });
  auto out = endpoint(connect(portal, "mat-khau"), "DongBoHoSoMC");
  Exchange ex = exchangeOf(sample("hoso"));
  Delivery d = out.send(ex);
  EXPECT_EQ(d.status, Delivery::Status::kAccepted) << d.detail;
  EXPECT_EQ(portal.logins(), 2);
}

TEST(Portal, ErrorCodesMapToRetryOrRejectedWithThePortalsMessage) {
  Portal portal;
  std::atomic<int> code{503};
  portal.answer([&](const Poco::JSON::Object&) {
    if (code == 500) return HttpPeer::Response{500, "down", "text/plain"};
    return Portal::ok(R"({"error_code":")" + std::to_string(code.load()) +
                      R"(","message":"Lỗi số )" + std::to_string(code.load()) + R"("})");
  });
  auto out = endpoint(connect(portal, "mat-khau"), "DongBoHoSoMC");
  Exchange ex = exchangeOf(sample("hoso"));
  Delivery d = out.send(ex);
  EXPECT_EQ(d.status, Delivery::Status::kRetry);  // a retry code of the settings
  EXPECT_NE(d.detail.find("portal dvcqg DongBoHoSoMC: error_code 503: Lỗi số 503"),
            std::string::npos)
      << d.detail;
  code = 7;
  d = out.send(ex);
  EXPECT_EQ(d.status, Delivery::Status::kRejected);
  EXPECT_NE(d.detail.find("error_code 7: Lỗi số 7"), std::string::npos) << d.detail;
  code = 500;
  d = out.send(ex);
  EXPECT_EQ(d.status, Delivery::Status::kRetry);  // HTTP 5xx
}

TEST(Portal, RefusedCredentialsAreRetriedAndSaySo) {
  Portal portal;
  auto out = endpoint(connect(portal, "sai"), "DongBoHoSoMC");
  Exchange ex = exchangeOf(sample("hoso"));
  Delivery d = out.send(ex);
  EXPECT_EQ(d.status, Delivery::Status::kRetry);
  EXPECT_NE(d.detail.find("portal dvcqg login: error_code 401: Sai thông tin đăng nhập"),
            std::string::npos)
      << d.detail;
  EXPECT_TRUE(portal.calls().empty());
  // The refusal is remembered for a while: the next messages do not log in again (a
  // refused password tried by every message would lock the account).
  Exchange again = exchangeOf(sample("hoso"));
  EXPECT_EQ(out.send(again).status, Delivery::Status::kRetry);
  EXPECT_EQ(portal.authCalls(), 1);
}

TEST(Portal, ProgressCarriesTheStatusUnderThePortalsNames) {
  Portal portal;
  auto out = endpoint(connect(portal, "mat-khau"), "CapNhatTienDoHoSoMC");
  Exchange ex = exchangeOf(sample("trang-thai"));
  ASSERT_EQ(out.send(ex).status, Delivery::Status::kAccepted);
  auto item = portal.calls()[0]->getArray("data")->getObject(0);
  EXPECT_EQ(item->getValue<std::string>("MaHoSo"), "000.00.01.H22-240315-0001");
  EXPECT_EQ(item->getValue<std::string>("TrangThai"), "4");
  EXPECT_EQ(item->getValue<std::string>("ThoiDiemXuLy"), "20240316090512");
  EXPECT_EQ(item->getValue<std::string>("NguoiXuLy"), "Trần Văn Bình");
  EXPECT_FALSE(item->has("MaCoQuan"));
  EXPECT_FALSE(item->has("Ma"));
}

TEST(Portal, ABodyThatIsNotTheServicesMessageIsRejectedWithTheReason) {
  Portal portal;
  auto out = endpoint(connect(portal, "mat-khau"), "CapNhatTienDoHoSoMC");
  Exchange ex = exchangeOf(sample("hoso"));
  Delivery d = out.send(ex);
  EXPECT_EQ(d.status, Delivery::Status::kRejected);
  EXPECT_NE(d.detail.find("not a canonical TrangThai (its root element is <HoSo>)"),
            std::string::npos)
      << d.detail;
  EXPECT_TRUE(portal.calls().empty());
}

TEST(Portal, ALookupReturnsTheDossierAsACanonicalHoSo) {
  Portal portal;
  portal.answer([](const Poco::JSON::Object& call) {
    return Portal::ok(R"({"error_code":"0","data":[{"MaHoSo":")" +
                      call.getValue<std::string>("MaHoSo") +
                      R"(","MaTTHC":"1.001612","TenTTHC":"Đăng ký thành lập hộ kinh doanh & <khác>",
            "ChuHoSo":"Nguyễn Văn An","LoaiDoiTuong":1,"NgayTiepNhan":"20240315083000",
            "TrangThaiHoSo":"4","KenhThucHien":"2","TruongMoi":"x","Email":null,
            "DuocThanhToanTrucTuyen":true,"TrichYeuHoSo":"dán từ Word\u000b\r\n",
            "TaiLieuNop":[{"TenTep":"a.pdf","DuongDan":"https://dvc.gov.vn/a.pdf",
                           "MaThanhPhanHoSo":"TP01"},
                          {"TenTep":"b.pdf","NoiDung":"JVBERi0xLjQK","DuongDan":"https://x"}],
            "DanhSachLePhi":[]}]})");
  });
  PortalOutboundSettings s;
  s.connection = connect(portal, "mat-khau");
  s.service = "TraCuuHoSo";
  s.params.emplace_back("MaHoSo",
                        std::make_shared<const Template>(*Template::compile("${MaHoSo}", nullptr)));
  PortalOutbound out(std::move(s));
  Exchange ex = exchangeOf("<q/>");
  Delivery d = out.send(ex);
  ASSERT_EQ(d.status, Delivery::Status::kAccepted) << d.detail;
  EXPECT_EQ(portal.calls()[0]->getValue<std::string>("MaHoSo"), "000.00.01.H22-240315-0001");
  ASSERT_TRUE(d.reply);
  EXPECT_EQ(d.reply->contentType(), "application/xml");
  ASSERT_NE(d.reply->header("portal.dropped"), nullptr);
  EXPECT_EQ(*d.reply->header("portal.dropped"),
            "TaiLieuNop[1].DuongDan (beside NoiDung),TruongMoi");
  EXPECT_NE(d.reply->body().find("<DuocThanhToanTrucTuyen>1</DuocThanhToanTrucTuyen>"),
            std::string::npos);
  // The reply is a dossier the canonical schema takes.
  std::vector<std::string> load_errors;
  auto schema = transforms::xml::Schema::load(
      std::string(LIENTHONG_SOURCE_DIR) + "/schemas/hoso/hoso-v1.xsd", load_errors);
  ASSERT_TRUE(schema);
  Message m = *d.reply;
  Exchange reply(m, "r", ExchangePattern::kOneWay);
  transforms::xml::ValidateStep validate(schema);
  auto valid = validate.process(reply);
  EXPECT_TRUE(valid.ok()) << valid.error().message << "\n" << d.reply->body();
  EXPECT_NE(d.reply->body().find("&amp; &lt;khác&gt;"), std::string::npos) << d.reply->body();
}

// The dossier-code step: the parts of a good code as headers; a wrong one refused with
// the fault, calendar included.
TEST(DossierCodeStep, SetsThePartsOrRefusesTheCode) {
  transforms::dossier::DossierCodeSettings s;
  s.code = std::make_shared<const Template>(*Template::compile("${MaHoSo}", nullptr));
  transforms::dossier::DossierCodeStep step(s);
  Exchange good = exchangeOf("<x/>");
  ASSERT_TRUE(step.process(good).ok());
  EXPECT_EQ(*good.message().header("dossier.agency"), "000.00.01.H22");
  EXPECT_EQ(*good.message().header("dossier.received"), "20240315");
  EXPECT_EQ(*good.message().header("dossier.sequence"), "1");
  Exchange bad = exchangeOf("<x/>");
  bad.message().setHeader("MaHoSo", "000.00.01.H22-240230-0001");
  auto r = step.process(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidMessage);
  EXPECT_EQ(r.error().message,
            "dossier code '000.00.01.H22-240230-0001': 30 February 2024 is no date (character 15)");
  Exchange none = exchangeOf("<x/>");
  none.message().removeHeader("MaHoSo");
  r = step.process(none);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "no dossier code: '${MaHoSo}' is empty for this message");
}

// The portal's dossier, as it pushes it, becomes a canonical HoSo; the daemon routes it by
// the agency of its code, and answers a wrong one with the reason.
TEST(FromPortal, APushedDossierBecomesACanonicalHoSoRoutedByItsAgency) {
  testing::TempHome home;
  home.write("config.yaml", testing::kPublicListenerConfig);
  home.write("routes/r.yaml",
             "routes:\n"
             "  - id: intake\n"
             "    pattern: request-reply\n"
             "    from: { http: { listener: public, path: /hoso } }\n"
             "    steps:\n"
             "      - from-portal: {}\n"
             "      - validate: { xsd: " +
                 std::string(LIENTHONG_SOURCE_DIR) +
                 "/schemas/hoso/hoso-v1.xsd }\n"
                 "      - extract: { MaHoSo: \"//*[local-name()='MaHoSo']\" }\n"
                 "      - dossier-code: {}\n"
                 "      - set-body: { template: \"${dossier.agency} ${dossier.received} "
                 "${dossier.sequence}\" }\n");
  std::unique_ptr<Daemon> daemon;
  const std::uint16_t port = testing::startDaemon(home.path("config.yaml"), daemon);
  ASSERT_NE(port, 0u);
  const std::string dossier =
      R"({"session":"S1","madonvi":"000.00.01.H22","data":[{"MaHoSo":"CODE",
          "MaTTHC":"1.001612","TenTTHC":"Đăng ký thành lập hộ kinh doanh","ChuHoSo":"Lê Văn Cường",
          "LoaiDoiTuong":"1","NgayTiepNhan":"20240315083000","TrangThaiHoSo":"2",
          "KenhThucHien":"2","TaiLieuNop":[{"TenTep":"don.pdf","NoiDung":"JVBERi0xLjQK"}]}]})";
  auto post = [&](const std::string& code) {
    std::string body = dossier;
    body.replace(body.find("CODE"), 4, code);
    return testing::httpCall(port, "POST", "/hoso", body, {{"Content-Type", "application/json"}});
  };
  auto ok = post("000.20.25.H12-250702-0042");
  EXPECT_EQ(ok.status, 200) << ok.body;  // the canonical HoSo passed hoso-v1.xsd
  EXPECT_EQ(ok.body, "000.20.25.H12 20250702 42");
  auto bad = post("000.20.25.H12-250231-0042");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("31 February 2025 is no date"), std::string::npos) << bad.body;
  daemon->stop();
}

TEST(FromPortal, ABodyWithoutOneDossierIsRefused) {
  FromPortalStep step;
  Exchange two = exchangeOf(R"({"data":[{"MaHoSo":"a"},{"MaHoSo":"b"}]})");
  auto r = step.process(two);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("holds 2 dossiers; one per message"), std::string::npos);
  Exchange text = exchangeOf("not json");
  r = step.process(text);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("from-portal: the body is not a JSON object"),
            std::string::npos);
}

// The dossiers and their statuses, kept by track-dossier in the store, give the
// resolution figures of lienthongctl stats.
TEST(TrackDossier, StatusesKeptInTheStoreGiveTheFigures) {
  testing::TempHome home;
  home.write("config.yaml",
             std::string(testing::kPublicListenerConfig) + "store: { path: var/lienthong.db }\n");
  home.write("routes/r.yaml",
             "routes:\n"
             "  - id: track\n"
             "    pattern: request-reply\n"
             "    from: { http: { listener: public, path: /track } }\n"
             "    steps: [ { track-dossier: {} } ]\n");
  std::unique_ptr<Daemon> daemon;
  const std::uint16_t port = testing::startDaemon(home.path("config.yaml"), daemon);
  ASSERT_NE(port, 0u);
  const std::map<std::string, std::string> xml{{"Content-Type", "application/xml"}};
  auto post = [&](const std::string& body) {
    return testing::httpCall(port, "POST", "/track", body, xml).status;
  };
  auto status = [](const std::string& code, int s, const std::string& at) {
    return "<TrangThai xmlns=\"urn:lienthong:hoso:1\"><MaHoSo>" + code + "</MaHoSo><Ma>" +
           std::to_string(s) + "</Ma><ThoiDiem>" + at + "</ThoiDiem></TrangThai>";
  };
  // Handled by another agency than the one of its code; a status event does not move it.
  std::string hoso = sample("hoso");  // received 20240315083000, appointment 20240320170000
  hoso.replace(hoso.find("<MaCoQuan>000.00.01.H22</MaCoQuan>"), 34,
               "<MaCoQuan>000.00.09.H22</MaCoQuan>");
  ASSERT_EQ(post(hoso), 200);
  ASSERT_EQ(post(status("000.00.01.H22-240315-0001", 4, "20240316090000")), 200);
  ASSERT_EQ(post(status("000.00.01.H22-240315-0001", 9, "20240319100000")), 200);
  ASSERT_EQ(post(sample("hoso-ket-qua")), 200);  // 000.20.25.H12: 10, resolved 20250703150000
  ASSERT_EQ(post(status("000.00.01.H22-240316-0002", 4, "20240316100000")), 200);
  EXPECT_EQ(post("<x/>"), 400);  // neither a HoSo nor a TrangThai
  EXPECT_EQ(post(status("000.00.01.H22-240315-0001", 10, "2024-03-21T10:00")), 400);
  daemon->stop();
  daemon.reset();

  int rc = 0;
  const std::string ctl = std::string(LIENTHONG_BINARY_DIR) + "/apps/lienthongctl/lienthongctl";
  const std::string json =
      testing::runCommand(ctl + " stats --config " + home.path("config.yaml").string() +
                              " --by agency --now 20240401000000",
                          &rc);
  EXPECT_EQ(rc, 0) << json;
  EXPECT_NE(json.find(R"({"agency":"000.00.01.H22","received":1,"resolved_on_time":0,)"
                      R"("resolved_late":0,"refused":0,"withdrawn":0,"stopped":0,)"
                      R"("in_process":1,"overdue":0})"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"({"agency":"000.00.09.H22","received":1,"resolved_on_time":1,)"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("agency":"000.20.25.H12","received":1,"resolved_on_time":1,)"),
            std::string::npos)
      << json;
  const std::string csv = testing::runCommand(
      ctl + " stats --config " + home.path("config.yaml").string() + " --by month --csv", &rc);
  EXPECT_EQ(rc, 0) << csv;
  EXPECT_NE(csv.find("2024-03,2,"), std::string::npos) << csv;
  EXPECT_NE(csv.find("2025-07,1,1,"), std::string::npos) << csv;
}

// Without a store there is nowhere to keep dossiers: said at the step.
TEST(TrackDossier, NeedsAStore) {
  testing::TempHome home;
  home.write("config.yaml", testing::kPublicListenerConfig);
  home.write("routes/r.yaml",
             "routes:\n"
             "  - id: track\n"
             "    pattern: one-way\n"
             "    from: { http: { listener: public, path: /track } }\n"
             "    steps: [ { track-dossier: {} } ]\n");
  ConfigErrors errors;
  EXPECT_FALSE(Daemon::create(home.path("config.yaml").string(), errors));
  EXPECT_NE(errors.str().find("r.yaml:5:31: track-dossier keeps dossiers in the daemon's store: "
                              "the config has no 'store'"),
            std::string::npos)
      << errors.str();
  // lint says the same, though it opens no store.
  int rc = 0;
  const std::string lint = testing::runCommand(
      std::string(LIENTHONG_BINARY_DIR) + "/apps/lienthongctl/lienthongctl lint --config " +
          home.path("config.yaml").string(),
      &rc);
  EXPECT_NE(rc, 0) << lint;
  EXPECT_NE(lint.find("track-dossier keeps dossiers in the daemon's store"), std::string::npos)
      << lint;
}

// Config mistakes are reported at their place, before anything is dialed.
TEST(PortalConfig, BadSettingsAreReportedAtTheirPlace) {
  testing::TempHome home;
  home.write("config.yaml",
             "listeners:\n  public: { http: { port: 0 } }\n"
             "connections:\n"
             "  dvcqg:\n"
             "    portal:\n"
             "      url: ftp://dichvucong.gov.vn/adapter\n"
             "      username: lienthong\n"
             "      auth-path: auth\n"
             "  web: { http: { url: \"http://127.0.0.1:1\" } }\n"
             "routes: [ routes ]\n");
  home.write("routes/r.yaml", "routes: []\n");
  ConfigErrors errors;
  EXPECT_FALSE(Daemon::create(home.path("config.yaml").string(), errors));
  std::string text = errors.str();
  EXPECT_NE(text.find("config.yaml:6:7: portal connection needs 'madonvi'"), std::string::npos)
      << text;
  EXPECT_NE(text.find("config.yaml:6:12: http connection 'dvcqg': "), std::string::npos) << text;
  EXPECT_NE(text.find("config.yaml:8:18: 'auth-path' must start with '/'"), std::string::npos)
      << text;

  home.write("config.yaml",
             "listeners:\n  public: { http: { port: 0 } }\n"
             "connections:\n"
             "  dvcqg: { portal: { url: \"http://127.0.0.1:1/adapter\", username: u, madonvi: "
             "\"000.00.01.H22\" } }\n"
             "  web: { http: { url: \"http://127.0.0.1:1\" } }\n"
             "routes: [ routes ]\n");
  home.write("routes/r.yaml",
             "routes:\n"
             "  - id: sync\n"
             "    pattern: one-way\n"
             "    from: { http: { listener: public, path: /in } }\n"
             "    to: { portal: { connection: web, service: DongBoHoSoMC } }\n"
             "  - id: lookup\n"
             "    pattern: request-reply\n"
             "    from: { http: { listener: public, path: /q } }\n"
             "    to: { portal: { connection: dvcqg, service: TraCuuHoSo, params: { madonvi: x } "
             "} }\n");
  errors = ConfigErrors();
  EXPECT_FALSE(Daemon::create(home.path("config.yaml").string(), errors));
  text = errors.str();
  EXPECT_NE(text.find("r.yaml:5:33: connection 'web' is a http connection, not portal"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("'madonvi' is set by the portal endpoint, not by params"), std::string::npos)
      << text;
}

// MaXacThuc: sha256 hex over the fields and the secret joined with '|' (the value
// computed apart, with Python's hashlib); signed bodies verify, changed ones do not.
TEST(PaymentChecksum, IsTheSha256OfTheFieldsAndTheSecretAndVerifies) {
  using transforms::dossier::PaymentChecksumSettings;
  using transforms::dossier::PaymentChecksumStep;
  EXPECT_EQ(transforms::dossier::paymentChecksum({"LIENTHONG-DEMO", "000.00.01.H22-240315-0001",
                                                  "TT-0001", "50000", "00", "20240318090000"},
                                                 "lienthong-demo-secret"),
            "b23d6cd86884c8b6d710b78c39346a778a03c2a19ee1471be9c5ffc6db10892d");
  PaymentChecksumSettings sign;
  sign.fields = {"MaHoSo", "SoTien"};
  sign.secret = "bi-mat";
  PaymentChecksumSettings check = sign;
  check.verify = true;
  Message m;
  m.setBody(R"({"MaHoSo":"000.00.01.H22-240315-0001","SoTien":50000})");
  Exchange e(m, "r", ExchangePattern::kOneWay);
  ASSERT_TRUE(PaymentChecksumStep(sign).process(e).ok());
  EXPECT_NE(e.message().body().find("\"MaXacThuc\":\"" +
                                    transforms::dossier::paymentChecksum(
                                        {"000.00.01.H22-240315-0001", "50000"}, "bi-mat") +
                                    "\""),
            std::string::npos)
      << e.message().body();
  ASSERT_TRUE(PaymentChecksumStep(check).process(e).ok());
  EXPECT_EQ(*e.message().header("payment.SoTien"), "50000");
  std::string changed = e.message().body();
  changed.replace(changed.find("50000"), 5, "90000");
  e.message().setBody(changed);
  auto bad = PaymentChecksumStep(check).process(e);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kUnauthorized);
  EXPECT_EQ(bad.error().message,
            "payment-checksum: MaXacThuc does not match (dossier 000.00.01.H22-240315-0001)");
  // An old confirmation, played again, is refused when the step keeps a window.
  TemplateError terr;
  PaymentChecksumSettings fresh = check;
  fresh.fields = {"MaHoSo", "ThoiGian"};
  fresh.max_age = std::chrono::hours(24);
  PaymentChecksumSettings signer = sign;
  signer.fields = fresh.fields;
  signer.set = {{"ThoiGian", std::make_shared<const Template>(
                                 *Template::compile("${now:yyyyMMddHHmmss}", &terr))}};
  e.message().setBody(R"({"MaHoSo":"000.00.01.H22-240315-0001"})");
  ASSERT_TRUE(PaymentChecksumStep(signer).process(e).ok());
  EXPECT_TRUE(PaymentChecksumStep(fresh).process(e).ok());
  PaymentChecksumSettings old_signer = sign;
  old_signer.fields = fresh.fields;
  old_signer.set = {
      {"ThoiGian", std::make_shared<const Template>(*Template::compile("20240318090000", &terr))}};
  ASSERT_TRUE(PaymentChecksumStep(old_signer).process(e).ok());
  auto replayed = PaymentChecksumStep(fresh).process(e);
  ASSERT_FALSE(replayed.ok());
  EXPECT_EQ(replayed.error().message,
            "payment-checksum: ThoiGian '20240318090000' is older than 86400 s (an old message "
            "played again?) (dossier 000.00.01.H22-240315-0001)");
  e.message().setBody(R"({"MaHoSo":"H|50000","SoTien":"1"})");
  auto pipe = PaymentChecksumStep(sign).process(e);
  ASSERT_FALSE(pipe.ok());
  EXPECT_EQ(pipe.error().message,
            "payment-checksum: field MaHoSo holds '|', which separates the fields");
  e.message().setBody(R"({"MaHoSo":"x"})");
  auto missing = PaymentChecksumStep(sign).process(e);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message,
            "payment-checksum: the body has no field SoTien (text or number)");
}

}  // namespace
}  // namespace lienthong::adapters::portal

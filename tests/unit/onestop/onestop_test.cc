// The one-stop systems' endpoint (adapters/onestop): what each flavour sends (JSON, a SOAP
// envelope, a file), how the answers map to delivered / retry / rejected, the choice of
// the system by agency, what `from-onestop` makes of what the systems send, the overdue
// detection over a real store, and config mistakes at their place.

#include <gtest/gtest.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "adapters/onestop/onestop.h"
#include "core/daemon.h"
#include "core/dossier_code.h"
#include "fakes/http_peer.h"
#include "integration/test_support.h"

namespace lienthong::adapters::onestop {
namespace {

namespace fs = std::filesystem;
using testing::HttpPeer;
using namespace std::chrono_literals;

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string sample(const std::string& name) {
  return readFile(fs::path(LIENTHONG_SOURCE_DIR) / "tests/data/messages/good" / (name + ".xml"));
}

const std::map<std::string, int> kStatusWords = {
    {"TIEP_NHAN", 2}, {"DANG_XU_LY", 4}, {"YEU_CAU_BO_SUNG", 5}, {"DA_CO_KET_QUA", 9}};

std::shared_ptr<OnestopConnection> httpSystem(const HttpPeer& peer, Flavor flavor,
                                              std::map<std::string, int> map = kStatusWords) {
  http::HttpConnectionSettings hs;
  hs.url = peer.url() + "/motcua";
  hs.read_timeout = 5s;
  auto h = http::HttpConnection::create(hs);
  EXPECT_TRUE(h.ok());
  OnestopSettings s;
  s.name = flavor == Flavor::kRest ? "tranphu" : "sotuphap";
  s.flavor = flavor;
  s.http = *h;
  s.agencies = {"000.00.01.H22"};
  s.status_map = std::move(map);
  return std::make_shared<OnestopConnection>(std::move(s));
}

Exchange exchangeOf(const std::string& body, const std::string& path = "") {
  Message m;
  m.setBody(body);
  m.setContentType(body.find('{') == 0 ? "application/json" : "application/xml");
  if (!path.empty()) m.setHeader("http.path", path);
  return Exchange(m, "r", ExchangePattern::kOneWay);
}

OnestopOutbound to(std::shared_ptr<OnestopConnection> c) {
  OnestopOutboundSettings s;
  s.connection = std::move(c);
  return OnestopOutbound(std::move(s));
}

Poco::JSON::Object::Ptr json(const std::string& text) {
  return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
}

TEST(Onestop, ARestSystemGetsJsonWithItsOwnStatusWords) {
  HttpPeer peer;
  std::atomic<int> answer{200};
  peer.setHandler([&](const HttpPeer::Request&) {
    return HttpPeer::Response{answer.load(), "{\"ok\":true}", "application/json"};
  });
  auto out = to(httpSystem(peer, Flavor::kRest));
  Exchange e = exchangeOf(sample("hoso"));  // TrangThaiHoSo 2
  Delivery d = out.send(e);
  ASSERT_EQ(d.status, Delivery::Status::kAccepted) << d.detail;
  auto requests = peer.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].uri, "/motcua/hoso");
  EXPECT_EQ(requests[0].headers.at("Content-Type"), "application/json; charset=utf-8");
  auto o = json(requests[0].body);
  EXPECT_EQ(o->getValue<std::string>("MaHoSo"), "000.00.01.H22-240315-0001");
  EXPECT_EQ(o->getValue<std::string>("MaCoQuan"), "000.00.01.H22");  // the agency's own
  EXPECT_EQ(o->getValue<std::string>("TrangThaiHoSo"), "TIEP_NHAN");
  EXPECT_GE(o->getArray("TaiLieuNop")->size(), 1u);

  Exchange answer_of = exchangeOf(sample("tra-loi-bo-sung"));
  ASSERT_EQ(out.send(answer_of).status, Delivery::Status::kAccepted);
  EXPECT_EQ(peer.requests().back().uri, "/motcua/traloibosung");

  answer = 409;  // has it already: a delivery after a lost answer
  EXPECT_EQ(out.send(e).status, Delivery::Status::kAccepted);
  answer = 400;
  Delivery refused = out.send(e);
  EXPECT_EQ(refused.status, Delivery::Status::kRejected);
  EXPECT_NE(refused.detail.find("onestop tranphu: "), std::string::npos) << refused.detail;
  answer = 503;
  EXPECT_EQ(out.send(e).status, Delivery::Status::kRetry);

  Exchange other = exchangeOf("<HoSo xmlns=\"urn:khac\"><MaHoSo>x</MaHoSo></HoSo>");
  Delivery not_canonical = out.send(other);
  EXPECT_EQ(not_canonical.status, Delivery::Status::kRejected);
  EXPECT_NE(not_canonical.detail.find("not a canonical message"), std::string::npos);
}

TEST(Onestop, ASoapSystemGetsAnEnvelopeAndItsFaultsSayRetryOrNot) {
  HttpPeer peer;
  std::atomic<int> mode{0};
  peer.setHandler([&](const HttpPeer::Request&) {
    const char* fault =
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault>"
        "<faultcode>s:%s</faultcode><faultstring>%s</faultstring></s:Fault></s:Body>"
        "</s:Envelope>";
    char buf[512];
    switch (mode.load()) {
      case 1:
        std::snprintf(buf, sizeof buf, fault, "Client", "Mã thủ tục không hợp lệ");
        return HttpPeer::Response{500, buf, "text/xml"};
      case 2:
        std::snprintf(buf, sizeof buf, fault, "Server", "Cơ sở dữ liệu bận");
        return HttpPeer::Response{500, buf, "text/xml"};
      case 3:  // SOAP 1.2: the code is Code/Value, not the Subcode's
        return HttpPeer::Response{
            500,
            "<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\"><env:Body>"
            "<env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>"
            "m:ServerBusy</env:Value></env:Subcode></env:Code><env:Reason><env:Text "
            "xml:lang=\"vi\">Thiếu mã hồ sơ</env:Text></env:Reason><env:Detail><env:Value>"
            "x</env:Value></env:Detail></env:Fault></env:Body></env:Envelope>",
            "application/soap+xml"};
      default:
        return HttpPeer::Response{200, "<ok/>", "text/xml"};
    }
  });
  auto out = to(httpSystem(peer, Flavor::kSoap, {{"01", 2}, {"02", 4}}));
  Exchange e = exchangeOf(sample("trang-thai"));  // Ma 4
  ASSERT_EQ(out.send(e).status, Delivery::Status::kAccepted);
  const auto r = peer.requests().at(0);
  EXPECT_EQ(r.uri, "/motcua");
  EXPECT_EQ(r.headers.at("SOAPAction"), "\"urn:lienthong:motcua#TrangThai\"");
  EXPECT_NE(r.body.find("<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                        "<soap:Body><TrangThai xmlns=\"urn:lienthong:hoso:1\">"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("<Ma>02</Ma>"), std::string::npos) << r.body;  // 4 as the system says it
  mode = 1;
  Delivery client = out.send(e);
  EXPECT_EQ(client.status, Delivery::Status::kRejected);
  EXPECT_NE(client.detail.find("SOAP fault s:Client: Mã thủ tục không hợp lệ"), std::string::npos)
      << client.detail;
  mode = 2;
  Delivery server = out.send(e);
  EXPECT_EQ(server.status, Delivery::Status::kRetry);
  EXPECT_NE(server.detail.find("Cơ sở dữ liệu bận"), std::string::npos) << server.detail;
  mode = 3;
  Delivery sender = out.send(e);
  EXPECT_EQ(sender.status, Delivery::Status::kRejected);
  EXPECT_NE(sender.detail.find("SOAP fault env:Sender: Thiếu mã hồ sơ"), std::string::npos)
      << sender.detail;
}

TEST(Onestop, AFolderSystemGetsOneFileAMessageUnderItsName) {
  testing::TempHome home;
  OnestopSettings s;
  s.name = "tamxuan";
  s.flavor = Flavor::kFolder;
  s.dir = home.path("xa");
  auto out = to(std::make_shared<OnestopConnection>(s));
  Exchange e = exchangeOf(sample("yeu-cau-bo-sung"));
  ASSERT_EQ(out.send(e).status, Delivery::Status::kAccepted);
  std::vector<fs::path> files;
  for (const auto& f : fs::directory_iterator(home.path("xa/inbox"))) files.push_back(f.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].filename().string(),
            "YeuCauBoSung-000.00.01.H22-240315-0001-" + e.message().id() + ".xml");
  const std::string text = readFile(files[0]);
  EXPECT_NE(text.find("<YeuCauBoSung xmlns=\"urn:lienthong:hoso:1\"><MaHoSo>"), std::string::npos)
      << text;
  EXPECT_NE(text.find("<GiayTo>Hợp đồng thuê mặt bằng (bản sao chứng thực)</GiayTo>"),
            std::string::npos)
      << text;
}

TEST(Onestop, TheSystemIsChosenByAgencyOrTheMessageIsRefusedWithWhy) {
  HttpPeer a;
  HttpPeer b;
  auto first = httpSystem(a, Flavor::kRest);
  OnestopSettings s;
  s.name = "sotuphap";
  s.flavor = Flavor::kRest;
  http::HttpConnectionSettings hs;
  hs.url = b.url();
  s.http = *http::HttpConnection::create(hs);
  s.agencies = {"000.20.25.H12"};
  auto second = std::make_shared<OnestopConnection>(s);
  OnestopOutboundSettings os;
  TemplateError error;
  os.agency = std::make_shared<const Template>(*Template::compile("${dossier.agency}", &error));
  os.candidates = {{"tranphu", first}, {"sotuphap", second}};
  OnestopOutbound out(os);
  EXPECT_EQ(out.describe(), "onestop by agency ${dossier.agency}");

  Exchange e = exchangeOf(sample("hoso-ket-qua"));
  e.message().setHeader("dossier.agency", "000.20.25.H12");
  EXPECT_EQ(out.target(e), "onestop sotuphap");
  ASSERT_EQ(out.send(e).status, Delivery::Status::kAccepted);
  EXPECT_EQ(a.requests().size(), 0u);
  EXPECT_EQ(b.requests().size(), 1u);

  e.message().setHeader("dossier.agency", "000.00.77.H22");
  EXPECT_EQ(out.refusal(e), "no one-stop system serves agency '000.00.77.H22' (${dossier.agency})");
  Delivery d = out.send(e);
  EXPECT_EQ(d.status, Delivery::Status::kRejected);
  EXPECT_EQ(d.detail, out.refusal(e));
}

TEST(FromOnestop, JsonBecomesTheCanonicalMessageTheLastPathSegmentNames) {
  HttpPeer peer;
  FromOnestopStep step(httpSystem(peer, Flavor::kRest), "");
  Exchange e = exchangeOf(R"({"MaHoSo":"000.00.01.H22-240315-0001","TrangThai":"DANG_XU_LY",)"
                          R"("ThoiDiem":"20240316090000","NguoiXuLy":"Trần Văn Bình","Khac":"x"})",
                          "/motcua/tranphu/trangthai");
  auto r = step.process(e);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const std::string& body = e.message().body();
  EXPECT_NE(body.find("<TrangThai xmlns=\"urn:lienthong:hoso:1\"><MaHoSo>000.00.01.H22-240315-"
                      "0001</MaHoSo><Ma>4</Ma><ThoiDiem>20240316090000</ThoiDiem>"),
            std::string::npos)
      << body;
  EXPECT_EQ(*e.message().header("onestop.system"), "tranphu");
  EXPECT_EQ(*e.message().header("onestop.message"), "TrangThai");
  EXPECT_EQ(*e.message().header("onestop.dropped"), "Khac");

  Exchange unknown = exchangeOf(R"({"MaHoSo":"000.00.01.H22-240315-0001","TrangThai":"XONG"})",
                                "/motcua/tranphu/trangthai");
  auto bad = step.process(unknown);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidMessage);
  EXPECT_EQ(bad.error().message,
            "from-onestop tranphu: dossier 000.00.01.H22-240315-0001: unknown status 'XONG' "
            "(the system's: DANG_XU_LY=4, DA_CO_KET_QUA=9, TIEP_NHAN=2, YEU_CAU_BO_SUNG=5)");

  Exchange no_name = exchangeOf(R"({"MaHoSo":"x"})", "/motcua/tranphu");
  auto unnamed = step.process(no_name);
  ASSERT_FALSE(unnamed.ok());
  EXPECT_NE(unnamed.error().message.find("which message is this JSON?"), std::string::npos);

  FromOnestopStep named(httpSystem(peer, Flavor::kRest), "YeuCauBoSung");
  Exchange request =
      exchangeOf(R"({"MaHoSo":"000.00.01.H22-240315-0001","MaYeuCau":"BS-1","ThoiDiemYeuCau":)"
                 R"("20240317100000","NoiDungYeuCau":"Bổ sung","GiayToCanBoSung":["Hợp đồng"]})");
  ASSERT_TRUE(named.process(request).ok());
  EXPECT_NE(
      request.message().body().find("<GiayToCanBoSung><GiayTo>Hợp đồng</GiayTo></GiayToCanBoSung>"),
      std::string::npos)
      << request.message().body();
}

TEST(FromOnestop, ASoapEnvelopeOrABareFileBecomesTheCanonicalMessage) {
  HttpPeer peer;
  FromOnestopStep soap(httpSystem(peer, Flavor::kSoap, {{"01", 2}, {"04", 9}}), "");
  Exchange e = exchangeOf(
      "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Header/><s:Body>"
      "<m:TrangThai xmlns:m=\"urn:cu\" m:x=\"1\"><m:MaHoSo>000.00.01.H22-240315-0001</m:MaHoSo>"
      "<m:Ma>04</m:Ma><m:ThoiDiem>20240319100000</m:ThoiDiem><!-- ghi chú -->"
      "<m:NoiDungXuLy>Đã có kết quả &amp; trả</m:NoiDungXuLy></m:TrangThai></s:Body></s:Envelope>");
  ASSERT_TRUE(soap.process(e).ok());
  EXPECT_EQ(e.message().body(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<TrangThai "
            "xmlns=\"urn:lienthong:hoso:1\"><MaHoSo>000.00.01.H22-240315-0001</MaHoSo><Ma>9</"
            "Ma><ThoiDiem>20240319100000</ThoiDiem><NoiDungXuLy>Đã có kết quả &amp; "
            "trả</NoiDungXuLy></TrangThai>\n");
  EXPECT_EQ(e.message().contentType(), "application/xml");

  OnestopSettings s;
  s.name = "tamxuan";
  s.flavor = Flavor::kFolder;
  FromOnestopStep folder(std::make_shared<OnestopConnection>(s), "");
  Exchange file =
      exchangeOf("<TrangThai><MaHoSo>000.00.12.H49-240315-0003</MaHoSo><Ma>11</Ma></TrangThai>");
  auto bad = folder.process(file);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message,
            "from-onestop tamxuan: dossier 000.00.12.H49-240315-0003: unknown status '11' "
            "(national codes 1..10)");
  Exchange other = exchangeOf("<BaoCao/>");
  auto wrong = folder.process(other);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("<BaoCao> is no message of a one-stop system"),
            std::string::npos);
  Exchange doctype = exchangeOf("<!DOCTYPE x [<!ENTITY e \"e\">]><TrangThai/>");
  auto refused = folder.process(doctype);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("DOCTYPE"), std::string::npos);
}

// Dossiers kept by track-dossier whose appointment passed are listed, each as a
// TrangThai with QuaHan 1; `within` keeps those that fell due in that last span.
TEST(OverdueDossiers, TheDossiersFallenDueAreListedFromTheStore) {
  testing::TempHome home;
  home.write("config.yaml",
             std::string(testing::kPublicListenerConfig) + "store: { path: var/lienthong.db }\n");
  home.write("routes/r.yaml",
             "routes:\n"
             "  - id: track\n"
             "    pattern: request-reply\n"
             "    from: { http: { listener: public, path: /track } }\n"
             "    steps: [ { track-dossier: {} } ]\n"
             "  - id: all\n"
             "    pattern: request-reply\n"
             "    from: { http: { listener: public, path: /all } }\n"
             "    steps: [ { overdue-dossiers: {} } ]\n"
             "  - id: day\n"
             "    pattern: request-reply\n"
             "    from: { http: { listener: public, path: /day } }\n"
             "    steps: [ { overdue-dossiers: { within: 1d } } ]\n");
  std::unique_ptr<Daemon> daemon;
  const std::uint16_t port = testing::startDaemon(home.path("config.yaml"), daemon);
  ASSERT_NE(port, 0u);
  const auto now = std::chrono::system_clock::now();
  const std::string two_hours_ago = dossier::nationalTime(now - 2h);
  const std::string tomorrow = dossier::nationalTime(now + 24h);
  auto hoso = [&](const std::string& code, int status, const std::string& due) {
    return "<HoSo xmlns=\"urn:lienthong:hoso:1\"><MaHoSo>" + code +
           "</MaHoSo><MaTTHC>1.001612</MaTTHC><NgayTiepNhan>20240315080000</NgayTiepNhan>"
           "<NgayHenTra>" +
           due + "</NgayHenTra><TrangThaiHoSo>" + std::to_string(status) +
           "</TrangThaiHoSo></HoSo>";
  };
  const std::map<std::string, std::string> xml{{"Content-Type", "application/xml"}};
  auto post = [&](const std::string& body) {
    return testing::httpCall(port, "POST", "/track", body, xml).status;
  };
  ASSERT_EQ(post(hoso("000.00.01.H22-240315-0001", 4, "20240320170000")), 200);  // long overdue
  ASSERT_EQ(post(hoso("000.00.01.H22-240315-0002", 2, two_hours_ago)), 200);     // fell due today
  ASSERT_EQ(post(hoso("000.00.01.H22-240315-0003", 9, two_hours_ago)), 200);     // resolved
  ASSERT_EQ(post(hoso("000.00.01.H22-240315-0004", 4, tomorrow)), 200);          // not yet
  ASSERT_EQ(post(hoso("000.00.01.H22-240315-0005", 7, "20240320170000")), 200);  // withdrawn

  auto all = testing::httpCall(port, "POST", "/all", "x");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_NE(all.body.find("SoLuong=\"2\""), std::string::npos) << all.body;
  EXPECT_NE(all.body.find("<TrangThai><MaHoSo>000.00.01.H22-240315-0001</MaHoSo><Ma>4</Ma>"),
            std::string::npos)
      << all.body;
  EXPECT_NE(all.body.find("<NgayHenTra>20240320170000</NgayHenTra><QuaHan>1</QuaHan>"),
            std::string::npos)
      << all.body;
  EXPECT_LT(all.body.find("240315-0001"), all.body.find("240315-0002"));  // by appointment
  auto day = testing::httpCall(port, "POST", "/day", "x");
  ASSERT_EQ(day.status, 200) << day.body;
  EXPECT_NE(day.body.find("SoLuong=\"1\""), std::string::npos) << day.body;
  EXPECT_NE(day.body.find("000.00.01.H22-240315-0002"), std::string::npos) << day.body;
  daemon->stop();
}

// An overdue note takes the dossier's status as kept now, and a dossier ended since gets
// none; other bodies go on as they are.
TEST(OverdueNote, TakesTheStatusKeptNowAndStopsForAnEndedDossier) {
  testing::TempHome home;
  home.write("config.yaml",
             std::string(testing::kPublicListenerConfig) + "store: { path: var/lienthong.db }\n");
  home.write("routes/r.yaml",
             "routes:\n"
             "  - id: track\n"
             "    pattern: request-reply\n"
             "    from: { http: { listener: public, path: /track } }\n"
             "    steps: [ { track-dossier: {} } ]\n"
             "  - id: note\n"
             "    pattern: request-reply\n"
             "    from: { http: { listener: public, path: /note } }\n"
             "    steps: [ { overdue-note: {} } ]\n"
             "  - id: went-on\n"
             "    pattern: request-reply\n"
             "    from: { http: { listener: public, path: /went-on } }\n"
             "    steps: [ { overdue-note: {} }, { set-body: { template: went-on } } ]\n");
  std::unique_ptr<Daemon> daemon;
  const std::uint16_t port = testing::startDaemon(home.path("config.yaml"), daemon);
  ASSERT_NE(port, 0u);
  auto status = [](const std::string& code, int ma, const std::string& extra) {
    return "<TrangThai xmlns=\"urn:lienthong:hoso:1\"><MaHoSo>" + code + "</MaHoSo><Ma>" +
           std::to_string(ma) + "</Ma><ThoiDiem>20240316090000</ThoiDiem>" + extra + "</TrangThai>";
  };
  const std::map<std::string, std::string> xml{{"Content-Type", "application/xml"}};
  ASSERT_EQ(
      testing::httpCall(port, "POST", "/track", status("000.00.01.H22-240315-0001", 5, ""), xml)
          .status,
      200);
  ASSERT_EQ(
      testing::httpCall(port, "POST", "/track", status("000.00.01.H22-240315-0002", 9, ""), xml)
          .status,
      200);
  const std::string overdue = "<QuaHan>1</QuaHan>";
  // Listed at 4, the dossier is at 5 by now: the note says 5.
  auto now5 = testing::httpCall(port, "POST", "/note",
                                status("000.00.01.H22-240315-0001", 4, overdue), xml);
  EXPECT_EQ(now5.status, 200);
  EXPECT_NE(now5.body.find("<Ma>5</Ma>"), std::string::npos) << now5.body;
  // Resolved since: no note.
  EXPECT_EQ(testing::httpCall(port, "POST", "/went-on",
                              status("000.00.01.H22-240315-0002", 4, overdue), xml)
                .body.find("went-on"),
            std::string::npos);
  // Not a note, or a dossier not kept: as it is.
  EXPECT_EQ(
      testing::httpCall(port, "POST", "/went-on", status("000.00.01.H22-240315-0002", 4, ""), xml)
          .body,
      "went-on");
  auto unknown = testing::httpCall(port, "POST", "/note",
                                   status("000.00.01.H22-240315-0009", 4, overdue), xml);
  EXPECT_NE(unknown.body.find("<Ma>4</Ma>"), std::string::npos) << unknown.body;
  daemon->stop();
}

TEST(OnestopConfig, BadSettingsAreReportedAtTheirPlace) {
  testing::TempHome home;
  home.write("config.yaml",
             "listeners:\n  public: { http: { port: 0 } }\n"
             "connections:\n"
             "  a: { onestop: { url: \"http://127.0.0.1:1\" } }\n"
             "  b: { onestop: { flavor: folder, url: \"http://127.0.0.1:1\" } }\n"
             "  c: { onestop: { flavor: rest, url: \"http://127.0.0.1:1\", status-map: { X: 11 },"
             " agencies: [ H22 ], paths: { Ho: /x } } }\n"
             "routes: [ routes ]\n");
  home.write("routes/r.yaml", "routes: []\n");
  ConfigErrors errors;
  EXPECT_FALSE(Daemon::create(home.path("config.yaml").string(), errors));
  const std::string text = errors.str();
  EXPECT_NE(text.find("config.yaml:4:17: onestop connection needs 'flavor'"), std::string::npos)
      << text;
  EXPECT_NE(text.find("config.yaml:5:40: 'url' is for a rest or soap system, not a folder"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("config.yaml:5:17: a folder one-stop system needs a 'dir'"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("status 'X' must map to a national code 1..10, not '11'"), std::string::npos)
      << text;
  EXPECT_NE(text.find("'H22' is not an agency code"), std::string::npos) << text;
  EXPECT_NE(text.find("'Ho' is not a message"), std::string::npos) << text;

  home.write("config.yaml",
             "listeners:\n  public: { http: { port: 0 } }\n"
             "connections:\n"
             "  a: { onestop: { flavor: rest, url: \"http://127.0.0.1:1\" } }\n"
             "routes: [ routes ]\n");
  home.write("routes/r.yaml",
             "routes:\n"
             "  - id: x\n"
             "    pattern: one-way\n"
             "    from: { http: { listener: public, path: /in } }\n"
             "    steps: [ { from-onestop: { connection: a, message: Khac } } ]\n"
             "    to: { onestop: { connection: a, agency: \"${dossier.agency}\" } }\n");
  errors = ConfigErrors();
  EXPECT_FALSE(Daemon::create(home.path("config.yaml").string(), errors));
  const std::string routes = errors.str();
  EXPECT_NE(routes.find("'message' must be HoSo, TrangThai, YeuCauBoSung, TraLoiBoSung, PhanAnh "
                        "or DanhGia, not 'Khac'"),
            std::string::npos)
      << routes;
  EXPECT_NE(routes.find("r.yaml:6:20: a onestop endpoint names either its 'connection' or the "
                        "'agency'"),
            std::string::npos)
      << routes;
}

}  // namespace
}  // namespace lienthong::adapters::onestop

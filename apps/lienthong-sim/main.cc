// lienthong-sim: the systems lienthong connects, simulated for the demo and the
// end-to-end tests: the national public service portal (docs/portal.md) and the
// agencies' one-stop systems (docs/onestop.md).
//
//   lienthong-sim portal  [--address A] [--port N] [--username U] [--password P]
//                         [--dstcode D] [--session-calls N] [--push URL] [--answer-ms N]
//   lienthong-sim onestop [--address A] [--port N] --name NAME --flavor rest|soap|folder
//                         [--callback URL] [--dir D] [--step-ms N] [--payment URL]
//                         [--result URL]
//   lienthong-sim payment [--address A] [--port N] --callback URL [--secret S] [--pay-ms N]
//   lienthong-sim idp     [--address A] [--port N] [--key PEM] [--jwks FILE]
//   lienthong-sim postal  [--address A] [--port N] [--client-id I] [--client-secret S]
//                         [--step-ms N] [--first-id N]
//   lienthong-sim all     [--daemon URL] [--home D] [--step-ms N]
//        the demo's systems on fixed ports, wired to the default config: the portal on
//        8090 pushing to {daemon}/dvcqg, one-stop systems tranphu (rest, 8091),
//        sotuphap (soap, 8092) and tamxuan (folder D/var/onestop/tamxuan, 8093), and the
//        payment platform (8094) confirming to {daemon}/thanh-toan/xac-nhan, the postal
//        service (8095), the identity provider (8096) with the demo keys of D/config/demo
//   lienthong-sim demo    [--portal URL] [--onestop URL]... [--procedure MaTTHC]
//                         [--agency code] [--timeout SECONDS]
//                         [--identity SoDinhDanh [--idp URL] [--daemon URL]] [--by-post yes]
//        with --identity: a token from the identity provider, the dossier posted with it
//        to lienthong's level 3/4 intake (/dvc/hoso), then its journey
//        submits a sample dossier on the portal and prints its journey until its result
//        is returned (exit 0) or the time is up (exit 1)
//
// Servers print "<what> listening on http://ADDRESS:PORT..." (flushed) once they accept
// connections, and exit 0 on SIGTERM or SIGINT.

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "apps/lienthong-sim/idp_sim.h"
#include "apps/lienthong-sim/onestop_sim.h"
#include "apps/lienthong-sim/payment_sim.h"
#include "apps/lienthong-sim/portal_sim.h"
#include "apps/lienthong-sim/postal_sim.h"
#include "core/dossier_code.h"

namespace {

using namespace lienthong::sim;

[[noreturn]] void usage(int code) {
  std::fprintf(
      code == 0 ? stdout : stderr,
      "usage: lienthong-sim portal  [--address A] [--port N] [--username U] [--password P]\n"
      "                             [--dstcode D] [--session-calls N] [--push URL]\n"
      "                             [--answer-ms N]\n"
      "       lienthong-sim onestop [--address A] [--port N] --name NAME\n"
      "                             --flavor rest|soap|folder [--callback URL] [--dir D]\n"
      "                             [--step-ms N] [--payment URL] [--result URL]\n"
      "       lienthong-sim payment [--address A] [--port N] --callback URL [--secret S]\n"
      "                             [--pay-ms N]\n"
      "       lienthong-sim idp     [--address A] [--port N] [--key PEM] [--jwks FILE]\n"
      "       lienthong-sim postal  [--address A] [--port N] [--client-id I]\n"
      "                             [--client-secret S] [--step-ms N] [--first-id N]\n"
      "       lienthong-sim all     [--daemon URL] [--home D] [--step-ms N]\n"
      "       lienthong-sim demo    [--portal URL] [--onestop URL]... [--procedure MaTTHC]\n"
      "                             [--agency code] [--timeout SECONDS]\n"
      "                             [--identity SoDinhDanh [--idp URL] [--daemon URL]]\n"
      "                             [--by-post yes]\n");
  std::exit(code);
}

sigset_t blockStopSignals() {
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  return sigs;
}

// An HTTP server for a simulator; prints its line once it listens.
std::unique_ptr<Poco::Net::HTTPServer> serve(Poco::Net::HTTPRequestHandlerFactory* factory,
                                             const std::string& address, int port,
                                             const std::string& what, const std::string& path) {
  Poco::Net::ServerSocket socket(
      Poco::Net::SocketAddress(address, static_cast<Poco::UInt16>(port)));
  auto* params = new Poco::Net::HTTPServerParams;
  params->setKeepAlive(true);
  params->setMaxThreads(16);
  auto server = std::make_unique<Poco::Net::HTTPServer>(factory, socket, params);
  server->start();
  std::printf("%s listening on http://%s:%u%s\n", what.c_str(), address.c_str(),
              static_cast<unsigned>(socket.address().port()), path.c_str());
  std::fflush(stdout);
  return server;
}

// Stops a server and waits (a while) until no request is being handled, so that the
// simulator it calls may go.
void stop(Poco::Net::HTTPServer& server) {
  server.stopAll(true);
  for (int i = 0; i < 500 && server.currentConnections() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Arguments after the command as --key value pairs; --onestop may repeat.
std::multimap<std::string, std::string> options(int argc, char** argv,
                                                const std::set<std::string>& known) {
  std::multimap<std::string, std::string> out;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") usage(0);
    if (arg.rfind("--", 0) != 0 || known.count(arg.substr(2)) == 0 || i + 1 >= argc) usage(2);
    out.emplace(arg.substr(2), argv[++i]);
  }
  return out;
}

std::string option(const std::multimap<std::string, std::string>& o, const std::string& key,
                   const std::string& fallback) {
  auto it = o.find(key);
  return it == o.end() ? fallback : it->second;
}

// Serves one simulator on --address/--port until SIGTERM or SIGINT (blocked in `sigs`).
int serveUntilStopped(const sigset_t& sigs, Poco::Net::HTTPRequestHandlerFactory* factory,
                      const std::multimap<std::string, std::string>& o, const std::string& what,
                      const std::string& path) {
  auto server = serve(factory, option(o, "address", "127.0.0.1"),
                      std::atoi(option(o, "port", "0").c_str()), what, path);
  int sig = 0;
  sigwait(&sigs, &sig);
  stop(*server);
  return 0;
}

struct HttpAnswer {
  int status = 0;
  std::string body;
};

HttpAnswer call(const std::string& url, const std::string& method, const std::string& body = "",
                const std::string& authorization = "") {
  try {
    const Poco::URI u(url);
    Poco::Net::HTTPClientSession session(u.getHost(), u.getPort());
    session.setTimeout(Poco::Timespan(5, 0));
    Poco::Net::HTTPRequest request(method, u.getPathEtc(), Poco::Net::HTTPMessage::HTTP_1_1);
    if (!authorization.empty()) request.set("Authorization", authorization);
    if (!body.empty()) request.setContentType("application/json; charset=utf-8");
    request.setContentLength(static_cast<std::streamsize>(body.size()));
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    HttpAnswer a;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), a.body);
    a.status = static_cast<int>(response.getStatus());
    return a;
  } catch (const std::exception& e) {
    return {0, e.what()};
  }
}

std::string show(const std::string& at) {  // yyyyMMddHHmmss[.mmm] -> HH:mm:ss[.mmm]
  if (at.size() < 14) return at;
  return at.substr(8, 2) + ":" + at.substr(10, 2) + ":" + at.substr(12, 2) + at.substr(14);
}

int demo(const std::multimap<std::string, std::string>& o) {
  const std::string portal = option(o, "portal", "http://127.0.0.1:8090");
  std::vector<std::string> onestops;
  for (auto [it, end] = o.equal_range("onestop"); it != end; ++it) onestops.push_back(it->second);
  if (onestops.empty()) {
    onestops = {"http://127.0.0.1:8091", "http://127.0.0.1:8092", "http://127.0.0.1:8093",
                "http://127.0.0.1:8094", "http://127.0.0.1:8095"};
  }
  const int timeout = std::atoi(option(o, "timeout", "60").c_str());
  std::string code;
  if (const std::string citizen = option(o, "identity", ""); !citizen.empty()) {
    // Submitted at the province's portal with the citizen's token from the identity
    // provider, straight to lienthong's level 3/4 intake.
    const HttpAnswer t =
        call(option(o, "idp", "http://127.0.0.1:8096") + "/token?so_dinh_danh=" + citizen, "POST");
    if (t.status != 200) {
      std::fprintf(stderr, "lienthong-sim demo: no token for %s: %d %s\n", citizen.c_str(),
                   t.status, t.body.c_str());
      return 1;
    }
    const std::string token = Poco::JSON::Parser()
                                  .parse(t.body)
                                  .extract<Poco::JSON::Object::Ptr>()
                                  ->getValue<std::string>("access_token");
    const auto now = std::chrono::system_clock::now();
    const std::string at = lienthong::dossier::nationalTime(now);
    code = "000.00.01.H22-" + at.substr(2, 6) + "-9" + at.substr(11, 3);
    std::string body = R"({"MaHoSo":")" + code +
                       R"(","MaTTHC":"1.001193","TenTTHC":"Đăng ký khai sinh",)"
                       R"("ChuHoSo":"Nguyễn Thị Hồng Nhung","LoaiDoiTuong":"1",)"
                       R"("NgayTiepNhan":")" +
                       at + R"(","TrangThaiHoSo":"1","KenhThucHien":"2","SoGiayToChuHoSo":")" +
                       citizen + R"("})";
    const HttpAnswer r = call(option(o, "daemon", "http://127.0.0.1:8080") + "/dvc/hoso", "POST",
                              body, "Bearer " + token);
    std::printf("Hồ sơ %s, nộp với định danh %s: HTTP %d %s\n", code.c_str(), citizen.c_str(),
                r.status, r.status == 200 ? "" : r.body.c_str());
    if (r.status != 200) return 1;
  } else {
    std::string url = portal + "/sim/submit?procedure=" + option(o, "procedure", "1.001612");
    if (auto a = option(o, "agency", ""); !a.empty()) url += "&agency=" + a;
    if (option(o, "by-post", "") == "yes") url += "&channel=3&return=1";  // both ways by post
    const HttpAnswer submitted = call(url, "POST");
    if (submitted.status != 200) {
      std::fprintf(stderr, "lienthong-sim demo: the portal at %s did not take the dossier: %d %s\n",
                   portal.c_str(), submitted.status, submitted.body.c_str());
      return 1;
    }
    code = Poco::JSON::Parser()
               .parse(submitted.body)
               .extract<Poco::JSON::Object::Ptr>()
               ->getValue<std::string>("MaHoSo");
    std::printf("Hồ sơ %s\n", code.c_str());
  }
  std::fflush(stdout);
  std::set<std::string> printed;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(timeout);
  while (std::chrono::steady_clock::now() < until) {
    // Every event of the dossier so far, from the portal and the one-stop systems.
    std::vector<std::pair<std::string, std::string>> events;  // at, line
    std::string status;
    const HttpAnswer d = call(portal + "/sim/dossiers", "GET");
    if (d.status == 200) {
      auto list = Poco::JSON::Parser().parse(d.body).extract<Poco::JSON::Object::Ptr>()->getArray(
          "dossiers");
      for (std::size_t i = 0; list && i < list->size(); ++i) {
        auto x = list->getObject(static_cast<unsigned>(i));
        if (x->getValue<std::string>("MaHoSo") != code) continue;
        status = x->getValue<std::string>("TrangThaiHoSo");
        auto j = x->getArray("journey");
        for (std::size_t k = 0; j && k < j->size(); ++k) {
          auto e = j->getObject(static_cast<unsigned>(k));
          events.emplace_back(e->getValue<std::string>("at"),
                              "[Cổng DVCQG]  " + e->getValue<std::string>("event"));
        }
      }
    }
    for (const std::string& s : onestops) {
      const HttpAnswer m = call(s + "/sim/messages", "GET");
      if (m.status != 200) continue;
      auto list = Poco::JSON::Parser().parse(m.body).extract<Poco::JSON::Object::Ptr>()->getArray(
          "messages");
      for (std::size_t i = 0; list && i < list->size(); ++i) {
        auto x = list->getObject(static_cast<unsigned>(i));
        if (x->getValue<std::string>("MaHoSo") != code) continue;
        const std::string dir = x->getValue<std::string>("direction");
        events.emplace_back(
            x->getValue<std::string>("at"),
            (x->getValue<std::string>("system") == "thanh-toan" ? std::string("[Thanh toán]  ")
             : x->getValue<std::string>("system") == "buu-dien"
                 ? std::string("[Bưu điện]  ")
                 : "[Một cửa " + x->getValue<std::string>("system") + "]  ") +
                (dir == "in"    ? "nhận "
                 : dir == "out" ? "gửi "
                                : "bị từ chối ") +
                x->getValue<std::string>("message") + ": " + x->getValue<std::string>("detail"));
      }
    }
    std::stable_sort(events.begin(), events.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [at, line] : events) {
      if (!printed.insert(at + line).second) continue;
      std::printf("%s  %s\n", show(at).c_str(), line.c_str());
      std::fflush(stdout);
    }
    if (status == "10") {
      std::printf("Hồ sơ %s: đã trả kết quả (trạng thái 10)\n", code.c_str());
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  std::fprintf(stderr, "lienthong-sim demo: dossier %s not returned within %d s\n", code.c_str(),
               timeout);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage(2);
  const std::string_view what = argv[1];
  if (what == "-h" || what == "--help") usage(0);
  try {
    if (what == "demo") {
      return demo(options(argc, argv,
                          {"portal", "onestop", "procedure", "agency", "timeout", "identity", "idp",
                           "daemon", "by-post"}));
    }
    if (what == "portal") {
      auto o = options(argc, argv,
                       {"address", "port", "username", "password", "dstcode", "session-calls",
                        "push", "answer-ms"});
      PortalSimSettings s;
      s.username = option(o, "username", s.username);
      s.password = option(o, "password", s.password);
      s.dstcode = option(o, "dstcode", s.dstcode);
      s.session_calls = std::atoi(option(o, "session-calls", "0").c_str());
      s.push = option(o, "push", "");
      s.answer_ms = std::atoi(option(o, "answer-ms", "300").c_str());
      sigset_t sigs = blockStopSignals();
      PortalSim sim(s);
      return serveUntilStopped(sigs, sim.factory(), o, "portal", "/adapter");
    }
    if (what == "onestop") {
      auto o =
          options(argc, argv,
                  {"address", "port", "name", "flavor", "callback", "dir", "step-ms", "payment"});
      OnestopSimSettings s;
      s.name = option(o, "name", s.name);
      s.flavor = option(o, "flavor", s.flavor);
      if (s.flavor != "rest" && s.flavor != "soap" && s.flavor != "folder") usage(2);
      s.callback = option(o, "callback", "");
      s.dir = option(o, "dir", "");
      if (s.flavor == "folder" ? s.dir.empty() : s.callback.empty()) usage(2);
      s.step_ms = std::atoi(option(o, "step-ms", "300").c_str());
      s.payment = option(o, "payment", "");
      s.result = option(o, "result", "");
      if (!s.callback.empty()) {  // the daemon's, beside the callback
        const Poco::URI u(s.callback);
        const std::string origin = u.getScheme() + "://" + u.getAuthority();
        if (s.payment.empty()) s.payment = origin + "/thanh-toan/yeu-cau";
        if (s.result.empty()) s.result = origin + "/ket-qua";
      }
      sigset_t sigs = blockStopSignals();
      OnestopSim sim(s);
      return serveUntilStopped(sigs, sim.factory(), o, "onestop " + s.name, "");
    }
    if (what == "payment") {
      auto o = options(argc, argv, {"address", "port", "callback", "secret", "pay-ms"});
      PaymentSimSettings s;
      s.callback = option(o, "callback", "");
      if (s.callback.empty()) usage(2);
      s.secret = option(o, "secret", s.secret);
      s.pay_ms = std::atoi(option(o, "pay-ms", "500").c_str());
      sigset_t sigs = blockStopSignals();
      PaymentSim sim(s);
      return serveUntilStopped(sigs, sim.factory(), o, "payment", "/thanh-toan");
    }
    if (what == "idp") {
      auto o = options(argc, argv, {"address", "port", "key", "jwks"});
      IdpSimSettings s;
      s.key_file = option(o, "key", s.key_file);
      s.jwks_file = option(o, "jwks", s.jwks_file);
      sigset_t sigs = blockStopSignals();
      IdpSim sim(s);
      return serveUntilStopped(sigs, sim.factory(), o, "idp", "/token");
    }
    if (what == "postal") {
      auto o = options(argc, argv,
                       {"address", "port", "client-id", "client-secret", "step-ms", "first-id"});
      PostalSimSettings s;
      if (const std::string f = option(o, "first-id", ""); !f.empty())
        s.first_id = std::atoll(f.c_str());
      s.client_id = option(o, "client-id", s.client_id);
      s.client_secret = option(o, "client-secret", s.client_secret);
      s.step_ms = std::atoi(option(o, "step-ms", "1000").c_str());
      sigset_t sigs = blockStopSignals();
      PostalSim sim(s);
      return serveUntilStopped(sigs, sim.factory(), o, "postal", "/api");
    }
    if (what == "all") {
      auto o = options(argc, argv, {"daemon", "home", "step-ms"});
      const std::string daemon = option(o, "daemon", "http://127.0.0.1:8080");
      const std::string home = option(o, "home", ".");
      const int step = std::atoi(option(o, "step-ms", "1000").c_str());
      sigset_t sigs = blockStopSignals();
      PortalSimSettings ps;
      ps.push = daemon + "/dvcqg";
      ps.answer_ms = 2 * step;
      PortalSim portal(ps);
      const std::string pay = daemon + "/thanh-toan/yeu-cau";
      const std::string result = daemon + "/ket-qua";
      OnestopSimSettings rs{"tranphu", "rest", daemon + "/motcua/tranphu", "", step, pay, result};
      OnestopSimSettings ss{"sotuphap", "soap", daemon + "/motcua/sotuphap", "", step, pay, result};
      OnestopSimSettings fs{"tamxuan", "folder", "",    home + "/var/onestop/tamxuan",
                            step,      pay,      result};
      OnestopSim rest(rs);
      OnestopSim soap(ss);
      OnestopSim folder(fs);
      PaymentSim payment({"lienthong-demo-secret", daemon + "/thanh-toan/xac-nhan", 2 * step});
      auto s1 = serve(portal.factory(), "127.0.0.1", 8090, "portal", "/adapter");
      auto s2 = serve(rest.factory(), "127.0.0.1", 8091, "onestop tranphu", "/motcua");
      auto s3 = serve(soap.factory(), "127.0.0.1", 8092, "onestop sotuphap", "/ws/motcua");
      auto s4 = serve(folder.factory(), "127.0.0.1", 8093, "onestop tamxuan", "/sim/messages");
      auto s5 = serve(payment.factory(), "127.0.0.1", 8094, "payment", "/thanh-toan");
      IdpSimSettings is;
      is.key_file = home + "/config/demo/sso-signing-key.pem";
      is.jwks_file = home + "/config/demo/sso-jwks.json";
      IdpSim idp(is);
      auto s6 = serve(idp.factory(), "127.0.0.1", 8096, "idp", "/token");
      PostalSimSettings ps2;
      ps2.step_ms = 2 * step;
      PostalSim postal(ps2);
      auto s7 = serve(postal.factory(), "127.0.0.1", 8095, "postal", "/api");
      int sig = 0;
      sigwait(&sigs, &sig);
      for (auto* s : {s1.get(), s2.get(), s3.get(), s4.get(), s5.get(), s6.get(), s7.get()}) {
        stop(*s);
      }
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lienthong-sim %s: %s\n", std::string(what).c_str(), e.what());
    return 1;
  }
  usage(2);
}

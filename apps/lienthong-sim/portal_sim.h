#pragma once
// A simulated national public service portal speaking its adapter protocol
// (docs/portal.md): login with dstcode, sessions that end after a number of calls,
// DongBoHoSoMC (an existing dossier without isUpdating "True" is answered "đã tồn tại"),
// CapNhatTienDoHoSoMC (the dossier must exist; its status follows), TraCuuHoSo, and the
// catalogue services with Vietnamese sample data. For the demo and the end-to-end tests:
//   GET  /sim/dossiers         every dossier with its progress and journey, as JSON
//   POST /sim/outage?seconds=N answers 503 to every call for N seconds
// With a push URL it also plays the citizens' side, sending to lienthong:
//   POST /sim/submit[?procedure=MaTTHC][&agency=code][&due-hours=N]  a new dossier,
//        submitted online (due N hours from now, else in the procedure's days);
//        &channel=3: sent by post (KenhThucHien), &return=1: the result by post (HinhThuc)
//        (status 1), pushed to {push}/hoso as {"data":[dossier]}; answers {"MaHoSo":...}
//   POST /sim/feedback?MaHoSo=code  a citizen's feedback on it, pushed to {push}/phananh
//   and, when a progress asks for a supplement (TrangThai 5), the citizen's answer a
//   moment later, pushed to {push}/traloibosung. A push the daemon does not take (down,
//   busy) is sent again every half second, in order.

#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace lienthong::sim {

struct PortalSimSettings {
  std::string username = "lienthong";
  std::string password = "lienthong";
  std::string dstcode = "DST-DEMO";
  int session_calls = 0;  // a session ends after this many calls (0: never)
  std::string push;       // lienthong's base URL for the portal's pushes ("" = none)
  int answer_ms = 300;    // how long a citizen takes to answer a supplement request
};

class PortalSim {
 public:
  explicit PortalSim(PortalSimSettings s);
  ~PortalSim();  // stops the pusher
  // A factory for a Poco HTTPServer; the simulator must outlive the server.
  Poco::Net::HTTPRequestHandlerFactory* factory();

  // The answer to one request: status, JSON body. Thread-safe.
  std::pair<int, std::string> handle(const std::string& method, const std::string& uri,
                                     const std::string& body, const std::string& dstcode);

 private:
  std::string call(const std::string& body);
  std::string dossiersJson();
  std::pair<int, std::string> submit(const std::string& procedure, const std::string& agency,
                                     std::optional<int> due_hours, const std::string& channel,
                                     const std::string& by_post);
  void journey(const std::string& code, const std::string& event);  // under mutex_
  struct Push {
    std::chrono::steady_clock::time_point at;
    std::string path;  // under the push URL
    std::string code;
    std::string body;
  };
  void queuePush(Push p);  // under mutex_
  void pushAll();

  const PortalSimSettings s_;
  std::mutex mutex_;
  std::map<std::string, int> sessions_;          // session -> calls made with it
  std::map<std::string, std::string> dossiers_;  // MaHoSo -> the dossier object (JSON text)
  std::map<std::string, std::vector<std::string>> progress_;  // MaHoSo -> progress objects
  std::map<std::string, std::string> status_;                 // MaHoSo -> TrangThaiHoSo
  std::map<std::string, std::vector<std::string>> journey_;   // MaHoSo -> events (JSON)
  std::map<std::string, int> sequence_;                       // agency-yymmdd -> last
  std::uint64_t next_session_ = 0;
  std::chrono::steady_clock::time_point outage_until_;
  std::vector<Push> pushes_;  // in time order
  std::condition_variable push_cv_;
  bool stop_ = false;
  std::thread pusher_;
};

}  // namespace lienthong::sim

#pragma once
// A simulated national public service portal speaking its adapter protocol
// (docs/portal.md): login with dstcode, sessions that end after a number of calls,
// DongBoHoSoMC (an existing dossier without isUpdating "True" is answered "đã tồn tại"),
// CapNhatTienDoHoSoMC (the dossier must exist; its status follows), TraCuuHoSo, and the
// catalogue services with Vietnamese sample data. For the demo and the end-to-end tests:
//   GET  /sim/dossiers         every dossier with its progress, as JSON
//   POST /sim/outage?seconds=N answers 503 to every call for N seconds

#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace lienthong::sim {

struct PortalSimSettings {
  std::string username = "lienthong";
  std::string password = "lienthong";
  std::string dstcode = "DST-DEMO";
  int session_calls = 0;  // a session ends after this many calls (0: never)
};

class PortalSim {
 public:
  explicit PortalSim(PortalSimSettings s) : s_(std::move(s)) {}
  // A factory for a Poco HTTPServer; the simulator must outlive the server.
  Poco::Net::HTTPRequestHandlerFactory* factory();

  // The answer to one request: status, JSON body. Thread-safe.
  std::pair<int, std::string> handle(const std::string& method, const std::string& uri,
                                     const std::string& body, const std::string& dstcode);

 private:
  std::string call(const std::string& body);
  std::string dossiersJson();

  const PortalSimSettings s_;
  std::mutex mutex_;
  std::map<std::string, int> sessions_;          // session -> calls made with it
  std::map<std::string, std::string> dossiers_;  // MaHoSo -> the dossier object (JSON text)
  std::map<std::string, std::vector<std::string>> progress_;  // MaHoSo -> progress objects
  std::map<std::string, std::string> status_;                 // MaHoSo -> TrangThaiHoSo
  std::uint64_t next_session_ = 0;
  std::chrono::steady_clock::time_point outage_until_;
};

}  // namespace lienthong::sim

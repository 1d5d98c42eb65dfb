#pragma once
// A simulated payment platform of the national portal (docs/dvc.md): every message both
// ways carries MaXacThuc (sha256 hex of its fields and the partner's secret).
//   POST {base}/khoi-tao  {"MaDoiTac","MaHoSo","SoTien","NoiDung","ThoiGian","MaXacThuc"}
//        -> {"MaGiaoDich","Url"}; a checksum that does not match is 401.
// The citizen pays `pay_ms` later: the platform posts the confirmation to `callback`
//   {"MaDoiTac","MaHoSo","MaGiaoDich","SoTien","TrangThai":"00","ThoiGian","MaXacThuc"}
// (again every half second until taken).
//   GET /sim/messages   what it received and sent, as the one-stop simulators do

#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "apps/lienthong-sim/sim_journal.h"

namespace lienthong::sim {

struct PaymentSimSettings {
  std::string secret = "lienthong-demo-secret";
  std::string callback;  // where confirmations go (http://host:port/path)
  int pay_ms = 500;
};

class PaymentSim {
 public:
  explicit PaymentSim(PaymentSimSettings s);
  ~PaymentSim();
  Poco::Net::HTTPRequestHandlerFactory* factory();
  // One request: status, body (JSON). Thread-safe.
  std::pair<int, std::string> handle(const std::string& method, const std::string& uri,
                                     const std::string& body);

 private:
  struct Confirmation {
    std::chrono::steady_clock::time_point at;
    std::string code;
    std::string body;
  };
  void confirmAll();

  const PaymentSimSettings s_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Confirmation> pending_;
  SimJournal journal_{"thanh-toan"};
  int next_ = 0;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace lienthong::sim

#pragma once
// A simulated one-stop system of an agency (docs/onestop.md), in one of three flavours:
//   rest    POST {base}/hoso, /traloibosung, /phananh, /danhgia with JSON; statuses and
//           supplement requests go to {callback}/trangthai and {callback}/yeucaubosung as
//           JSON, with local status words (TIEP_NHAN, DANG_XU_LY, ...)
//   soap    POST {base} with a SOAP 1.1 envelope holding the message; statuses and
//           requests go to {callback} as envelopes, with legacy numeric codes (01, 02, ...)
//   folder  reads {dir}/inbox/*.xml (moved to {dir}/done/), writes {dir}/outbox/*.xml,
//           with the national codes
// Each dossier it receives is worked through: received, in process, resolved, result
// returned, a step every `step_ms`; a marriage registration (1.000894) first asks for a
// supplement and waits for the citizen's answer; a criminal record extract (2.001023) has a
// fee: the system asks for payment (status 6, then a request to `payment`) and goes on
// once lienthong tells it the dossier is paid (a TrangThai 4); a dossier whose result goes
// back by post (HinhThuc 1) is resolved with its result document sent to lienthong to be
// signed and a HoSo saying so, and is returned when the post delivers it (a TrangThai 10
// from lienthong). What went in and out is listed by
//   GET /sim/messages   {"messages":[{"at","direction","message","MaHoSo","detail"}]}

#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "apps/lienthong-sim/sim_journal.h"

namespace lienthong::sim {

struct OnestopSimSettings {
  std::string name = "tranphu";
  std::string flavor = "rest";  // rest | soap | folder
  std::string callback;         // rest/soap: where statuses go (http://host:port/path)
  std::filesystem::path dir;    // folder
  int step_ms = 300;
  std::string payment;  // where fees are asked for (lienthong's /thanh-toan/yeu-cau)
  std::string result;   // where signed results go (lienthong's /ket-qua)
  std::string officer = "Trần Văn Bình";
  std::string department = "Bộ phận Một cửa";
};

class OnestopSim {
 public:
  explicit OnestopSim(OnestopSimSettings s);
  ~OnestopSim();  // stops the worker
  Poco::Net::HTTPRequestHandlerFactory* factory();

  // One request to the system: status, content type, body. Thread-safe.
  struct Answer {
    int status = 200;
    std::string content_type = "application/json; charset=utf-8";
    std::string body;
  };
  Answer handle(const std::string& method, const std::string& uri, const std::string& body);

  // The local status word for a national code in this flavour.
  std::string localStatus(int national) const;

 private:
  struct Job {
    std::chrono::steady_clock::time_point at;
    std::string code;  // MaHoSo
    int status = 0;    // national; 5 also sends a YeuCauBoSung; 0: ask for the fee;
                       // -1: the result, to be returned by post (the document, then the HoSo)
    std::string note;
  };
  // A received canonical message (its name, its fields); "" and the reason otherwise.
  std::string receive(const std::string& kind, const std::map<std::string, std::string>& fields);
  void plan(const std::string& code, bool ask_supplement, bool by_post);
  void work();
  void pollFolder();
  bool emit(const Job& job);
  // POSTs `body`; true when it was taken, or refused for good (recorded then).
  bool post(const std::string& url, const std::string& body, const std::string& content_type,
            const std::string& soap_action, const std::string& code, const std::string& kind,
            const std::string& dossier_header = "");
  // A message of the system to lienthong in its flavour: a file, JSON or a SOAP envelope.
  bool send(const std::string& kind, const std::vector<std::pair<std::string, std::string>>& fields,
            const std::string& code);

  const OnestopSimSettings s_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;                                                // in time order
  std::set<std::string> dossiers_;                                      // received
  std::set<std::string> waiting_;                                       // waiting for a supplement
  std::set<std::string> unpaid_;                                        // waiting for the fee
  std::map<std::string, std::map<std::string, std::string>> received_;  // MaHoSo -> fields
  SimJournal journal_;
  std::uint64_t emitted_ = 0;
  bool stop_ = false;
  std::thread worker_;
  std::thread poller_;
};

}  // namespace lienthong::sim

#pragma once
// The national public service portal's adapter protocol (docs/portal.md): a session from
// `POST {adapter}{auth-path}` with the `dstcode` header, kept and shared by every call;
// each call `POST {adapter}{call-path}` with `{session, madonvi, service, ...}`; an
// answer's `error_code` says success ("0", "00"), a session to renew (log in again, once,
// and call again), or a failure to retry or to give up.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "adapters/http/http_outbound.h"
#include "lienthong/endpoint.h"

namespace Poco::JSON {
class Object;
}

namespace lienthong::adapters::portal {

struct PortalSettings {
  std::string name;  // the connection's name, for messages
  std::shared_ptr<http::HttpConnection> http;
  std::string username;
  std::string password;
  std::string dstcode;
  std::string madonvi;  // the unit code every call carries
  std::string auth_path = "/auth";
  std::string call_path;  // "" = the adapter URL itself
  // error_code values meaning "log in again" (besides a login refused).
  std::vector<std::string> session_error_codes{"-1", "401"};
  // error_code values worth a retry later (the portal busy or down for maintenance).
  std::vector<std::string> retry_error_codes{"503", "-2"};
  // Words of an answer's message meaning "this dossier already exists", in any case
  // (Vietnamese letters included; text in decomposed form is not matched).
  std::vector<std::string> exists_messages{"đã tồn tại", "da ton tai", "already exist"};
  std::vector<std::string> exists_error_codes;
  // How long a failed login is not tried again: refused by the portal, or not answered.
  std::chrono::milliseconds login_refused_pause{30'000};
  std::chrono::milliseconds login_failed_pause{2'000};
};

// A call's answer: the delivery (accepted, retry or rejected, with the portal's error code
// and message), and the answer's JSON text when there was one.
struct PortalAnswer {
  Delivery delivery;
  std::string json;        // the whole answer
  std::string error_code;  // as the portal wrote it ("" when the answer had none)
  std::string message;     // the portal's message, if any
  bool exists = false;     // the answer says the dossier exists already
};

class PortalConnection final : public Connection {
 public:
  explicit PortalConnection(PortalSettings settings);
  std::string describe() const override;
  const PortalSettings& settings() const { return s_; }

  // Engine worker threads, concurrently. `fields_json` is the call's own members, a JSON
  // object's text without braces ("\"isUpdating\":\"False\",\"data\":[...]"); session,
  // madonvi and service are added. Logs in when there is no session yet, and once more
  // when the portal says the session is gone.
  PortalAnswer call(const std::string& service, const std::string& fields_json,
                    std::chrono::steady_clock::time_point deadline, const Message& original);

  // Logins so far (tests, figures). Thread-safe.
  std::uint64_t logins() const;

 private:
  // The current session, logging in if there is none; "" and the failure otherwise.
  std::string session(std::chrono::steady_clock::time_point deadline, const Message& original,
                      Delivery& failure);
  void forget(const std::string& session);
  PortalAnswer post(const std::string& service, const std::string& body,
                    std::chrono::steady_clock::time_point deadline, const Message& original);

  const PortalSettings s_;
  mutable std::mutex mutex_;
  // Under mutex_. One login at a time: the others wait (until their own deadline) for its
  // result and share it, success or failure; a failed login is not tried again for a
  // while (a refused password would otherwise lock the account).
  std::string session_;
  std::uint64_t logins_ = 0;
  bool logging_in_ = false;
  std::uint64_t login_round_ = 0;  // counts the logins that ended
  std::condition_variable login_cv_;
  Delivery login_failure_;
  std::chrono::steady_clock::time_point login_failed_until_;
};

}  // namespace lienthong::adapters::portal

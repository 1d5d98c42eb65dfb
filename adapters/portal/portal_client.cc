#include "adapters/portal/portal_client.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequest.h>

#include <algorithm>
#include <cctype>

#include "core/json_text.h"
#include "lienthong/log.h"

namespace lienthong::adapters::portal {
namespace {

void appendUtf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// Lower case of the letters Vietnamese uses (ASCII, Latin-1, Ă Đ Ĩ Ũ Ơ Ư and the
// Latin Extended Additional block); other text is copied as it is.
std::string lower(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    char32_t c = b;
    std::size_t n = 1;
    if (b >= 0xC0 && b < 0xE0 && i + 1 < s.size()) {
      c = ((b & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
      n = 2;
    } else if (b >= 0xE0 && b < 0xF0 && i + 2 < s.size()) {
      c = ((b & 0x0Fu) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 6) |
          (static_cast<unsigned char>(s[i + 2]) & 0x3Fu);
      n = 3;
    } else if (b >= 0x80) {
      out += s.substr(i, 1);
      ++i;
      continue;
    }
    if (c >= 'A' && c <= 'Z') {
      c += 0x20;
    } else if (c >= 0xC0 && c <= 0xDE && c != 0xD7) {
      c += 0x20;
    } else if (c == 0x102 || c == 0x110 || c == 0x128 || c == 0x168 || c == 0x1A0 || c == 0x1AF ||
               (c >= 0x1EA0 && c <= 0x1EF9 && c % 2 == 0)) {
      c += 1;
    }
    if (n == 1 && c < 0x80) {
      out += static_cast<char>(c);
    } else {
      appendUtf8(out, c);
    }
    i += n;
  }
  return out;
}

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// A member of an answer as text ("" when absent): error codes come as strings or numbers.
std::string member(const Poco::JSON::Object& o, const std::string& name) {
  if (!o.has(name)) return {};
  const Poco::Dynamic::Var v = o.get(name);
  if (v.isEmpty()) return {};
  try {
    return v.convert<std::string>();
  } catch (const Poco::Exception&) {
    return {};
  }
}

bool success(const std::string& code) { return code == "0" || code == "00"; }

}  // namespace

PortalConnection::PortalConnection(PortalSettings settings) : s_(std::move(settings)) {}

std::string PortalConnection::describe() const {
  return "portal connection " + s_.name + " " + s_.http->settings().url;
}

std::uint64_t PortalConnection::logins() const {
  std::lock_guard lock(mutex_);
  return logins_;
}

PortalAnswer PortalConnection::post(const std::string& service, const std::string& body,
                                    std::chrono::steady_clock::time_point deadline,
                                    const Message& original) {
  const bool login = service.empty();
  const std::string path = s_.http->basePath() + (login ? s_.auth_path : s_.call_path);
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, path.empty() ? "/" : path,
                                 Poco::Net::HTTPMessage::HTTP_1_1);
  request.setContentType("application/json; charset=utf-8");
  if (login && !s_.dstcode.empty()) request.set("dstcode", s_.dstcode);
  const std::string what = "portal " + s_.name + (login ? " login" : " " + service);

  PortalAnswer answer;
  Delivery d = s_.http->execute(request, body, deadline, original);
  if (d.reply) answer.json = d.reply->body();
  const std::string* http_status = d.reply ? d.reply->header("http.status") : nullptr;
  const bool denied = http_status && (*http_status == "401" || *http_status == "403");
  if (d.status != Delivery::Status::kAccepted && !denied) {  // HTTP: 5xx, timeout, 4xx
    answer.delivery = std::move(d);
    answer.delivery.detail = what + ": " + answer.delivery.detail;
    return answer;
  }
  // A 401 or 403 may say in its body that the session ended: read like any answer.
  Poco::JSON::Object::Ptr o;
  try {
    Poco::JSON::Parser parser;
    o = parser.parse(answer.json).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception& e) {
    answer.delivery = Delivery::retry(
        Delivery::Failure::kRemote,
        what + ": the answer is not a JSON object (" + e.displayText() + ")", d.reply);
    return answer;
  } catch (const std::exception& e) {
    answer.delivery =
        Delivery::retry(Delivery::Failure::kRemote,
                        what + ": the answer is not a JSON object (" + e.what() + ")", d.reply);
    return answer;
  }
  if (!o) {
    answer.delivery =
        Delivery::retry(Delivery::Failure::kRemote, what + ": the answer is not a JSON object");
    return answer;
  }
  answer.error_code = member(*o, "error_code");
  answer.message = member(*o, "message");
  if (answer.message.empty()) answer.message = member(*o, "error_message");
  if (success(answer.error_code)) {
    answer.delivery = Delivery::accepted(std::move(d.reply));
    return answer;
  }
  const std::string detail = what + ": error_code " +
                             (answer.error_code.empty() ? "missing" : answer.error_code) +
                             (answer.message.empty() ? "" : ": " + answer.message);
  const std::string text = lower(answer.message);
  for (const std::string& words : s_.exists_messages) {
    if (!words.empty() && text.find(lower(words)) != std::string::npos) answer.exists = true;
  }
  if (contains(s_.exists_error_codes, answer.error_code)) answer.exists = true;
  if (contains(s_.retry_error_codes, answer.error_code) || answer.error_code.empty()) {
    answer.delivery = Delivery::retry(Delivery::Failure::kRemote, detail, std::move(d.reply));
  } else {
    answer.delivery = Delivery::rejected(detail, std::move(d.reply));
  }
  return answer;
}

std::string PortalConnection::session(std::chrono::steady_clock::time_point deadline,
                                      const Message& original, Delivery& failure) {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (!session_.empty()) return session_;
    if (std::chrono::steady_clock::now() < login_failed_until_) {
      failure = login_failure_;  // the last login's failure, not a new login
      return {};
    }
    if (!logging_in_) break;
    const std::uint64_t round = login_round_;
    if (!login_cv_.wait_until(lock, deadline, [&] { return login_round_ != round; })) {
      failure = Delivery::retry(Delivery::Failure::kTimeout,
                                "portal " + s_.name + ": the deadline passed waiting for a login");
      return {};
    }
  }
  logging_in_ = true;
  lock.unlock();

  std::string body = "{\"username\":";
  appendJsonString(body, s_.username);
  body += ",\"password\":";
  appendJsonString(body, s_.password);
  body += "}";
  PortalAnswer a = post("", body, deadline, original);
  std::string got;
  Delivery failed;
  std::chrono::milliseconds pause = s_.login_failed_pause;
  if (a.delivery.status == Delivery::Status::kAccepted) {
    try {
      Poco::JSON::Parser parser;
      auto o = parser.parse(a.json).extract<Poco::JSON::Object::Ptr>();
      got = member(*o, "session");
    } catch (const std::exception&) {
    }
    if (got.empty()) {
      failed = Delivery::retry(Delivery::Failure::kRemote,
                               "portal " + s_.name + " login: the answer has no session");
    }
  } else {
    // Refused credentials will not get better by themselves, but the portal may be the
    // one at fault: the login is tried again after a pause, and the log says why.
    if (!a.error_code.empty()) pause = s_.login_refused_pause;
    failed =
        Delivery::retry(a.delivery.failure == Delivery::Failure::kNone ? Delivery::Failure::kRemote
                                                                       : a.delivery.failure,
                        a.delivery.detail);
    log::warn("portal",
              failed.detail + "; no new login for " + std::to_string(pause.count()) + "ms");
  }

  lock.lock();
  logging_in_ = false;
  ++login_round_;
  if (got.empty()) {
    login_failure_ = failed;
    login_failed_until_ = std::chrono::steady_clock::now() + pause;
    failure = std::move(failed);
  } else {
    session_ = got;
    ++logins_;
  }
  lock.unlock();
  login_cv_.notify_all();
  return got;
}

void PortalConnection::forget(const std::string& session) {
  std::lock_guard lock(mutex_);
  if (session_ == session) session_.clear();  // not one a concurrent login just made
}

PortalAnswer PortalConnection::call(const std::string& service, const std::string& fields_json,
                                    std::chrono::steady_clock::time_point deadline,
                                    const Message& original) {
  for (int attempt = 0;; ++attempt) {
    PortalAnswer answer;
    const std::string sid = session(deadline, original, answer.delivery);
    if (sid.empty()) return answer;
    std::string body = "{\"session\":";
    appendJsonString(body, sid);
    body += ",\"madonvi\":";
    appendJsonString(body, s_.madonvi);
    body += ",\"service\":";
    appendJsonString(body, service);
    if (!fields_json.empty()) body += "," + fields_json;
    body += "}";
    answer = post(service, body, deadline, original);
    const bool session_gone = !success(answer.error_code) &&
                              contains(s_.session_error_codes, answer.error_code) &&
                              answer.delivery.status != Delivery::Status::kAccepted;
    if (!session_gone) return answer;
    forget(sid);
    if (attempt == 1) {  // a fresh session refused at once: not a session matter
      answer.delivery = Delivery::retry(Delivery::Failure::kRemote,
                                        answer.delivery.detail + " (with a fresh session too)");
      return answer;
    }
    log::info("portal", "portal " + s_.name + ": session ended (error_code " + answer.error_code +
                            "); logging in again");
  }
}

}  // namespace lienthong::adapters::portal

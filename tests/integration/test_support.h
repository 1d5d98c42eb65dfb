#pragma once
// Shared helpers of the integration tests: a temporary home with a config and routes,
// an HTTP client, a daemon started in process, and waiting for a condition with a deadline.

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "adapters/http/http_listener.h"
#include "core/daemon.h"

namespace lienthong::testing {

namespace fs = std::filesystem;

// A daemon config with only the public listener (port 0) and the routes/ folder.
inline constexpr const char* kPublicListenerConfig =
    "listeners:\n  public: { http: { port: 0 } }\nroutes: [ routes ]\n";

class TempHome {
 public:
  TempHome() {
    static int counter = 0;
    dir_ = fs::temp_directory_path() /
           ("lienthong-it-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "routes");
  }
  ~TempHome() { fs::remove_all(dir_); }
  const fs::path& dir() const { return dir_; }
  fs::path path(const std::string& rel) const { return dir_ / rel; }
  void write(const std::string& rel, const std::string& text) const {
    fs::create_directories((dir_ / rel).parent_path());
    std::ofstream(dir_ / rel) << text;
  }
  // Puts a whole file into a watched folder as a careful producer does: written under a
  // hidden name the file inputs skip, then renamed into place.
  void put(const std::string& rel, const std::string& text) const {
    const fs::path to = dir_ / rel;
    const fs::path hidden = to.parent_path() / ("." + to.filename().string() + ".tmp");
    fs::create_directories(to.parent_path());
    std::ofstream(hidden) << text;
    fs::rename(hidden, to);
  }
  std::string read(const fs::path& p) const {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  fs::path dir_;
};

struct HttpAnswer {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
};

inline HttpAnswer httpCall(std::uint16_t port, const std::string& method, const std::string& path,
                           const std::string& body = {},
                           const std::map<std::string, std::string>& headers = {}) {
  HttpAnswer out;
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", port);
    session.setTimeout(Poco::Timespan(20, 0));
    Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [k, v] : headers) req.set(k, v);
    req.setContentLength(static_cast<std::streamsize>(body.size()));
    session.sendRequest(req) << body;
    Poco::Net::HTTPResponse resp;
    std::istream& in = session.receiveResponse(resp);
    Poco::StreamCopier::copyToString(in, out.body);
    out.status = static_cast<int>(resp.getStatus());
    for (const auto& [k, v] : resp) out.headers[k] = v;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "HTTP " << method << " " << path << " failed: " << e.what();
  }
  return out;
}

// Polls `condition` until it holds or `timeout` passes (for things with no event, such as
// a file appearing in a folder).
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

// Creates and starts the daemon of `config` into `daemon`; returns the port of its HTTP
// listener `public` (0, with a test failure, when anything went wrong).
inline std::uint16_t startDaemon(const fs::path& config, std::unique_ptr<Daemon>& daemon) {
  ConfigErrors errors;
  daemon = Daemon::create(config.string(), errors);
  if (!daemon) {
    ADD_FAILURE() << errors.str();
    return 0;
  }
  Result<void> r = daemon->start();
  if (!r.ok()) {
    ADD_FAILURE() << r.error().message;
    return 0;
  }
  auto listener =
      std::dynamic_pointer_cast<adapters::http::HttpListener>(daemon->listener("public"));
  if (!listener || listener->port() == 0) ADD_FAILURE() << "no http listener 'public'";
  return listener ? listener->port() : 0;
}

inline std::vector<fs::path> filesIn(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file()) out.push_back(e.path());
  }
  return out;
}

}  // namespace lienthong::testing

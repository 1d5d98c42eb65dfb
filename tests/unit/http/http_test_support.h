#pragma once
// Helpers for the http adapter tests: a recording POCO peer that knows which connection
// each request came on, a small HTTP client, a BuildContext for factory tests, and a
// self-signed certificate made with the openssl command line.

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/ThreadPool.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fakes/http_peer.h"
#include "lienthong/config.h"
#include "lienthong/endpoint.h"
#include "lienthong/step.h"
#include "lienthong/template.h"

namespace lienthong::testing::http {

// A latch a test opens once; waiters block until then.
class Latch {
 public:
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  // False when the latch stayed shut for `timeout`.
  bool wait(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

using RecordingPeer = lienthong::testing::HttpPeer;

// One answer seen by a test client.
struct Answer {
  int status = 0;
  std::string body;
  std::string content_type;
  std::map<std::string, std::string> headers;
};

struct Call {
  std::string method = "POST";
  std::string uri = "/";
  std::string body;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  bool chunked = false;
};

// Sends one request on `session` and reads the whole answer.
inline Answer roundTrip(Poco::Net::HTTPClientSession& session, const Call& call) {
  Poco::Net::HTTPRequest request(call.method, call.uri, Poco::Net::HTTPMessage::HTTP_1_1);
  for (const auto& [k, v] : call.headers) request.add(k, v);
  if (!call.content_type.empty()) request.setContentType(call.content_type);
  if (call.chunked) {
    request.setChunkedTransferEncoding(true);
  } else if (!call.body.empty() || call.method == "POST" || call.method == "PUT") {
    request.setContentLength(static_cast<std::streamsize>(call.body.size()));
  }
  std::ostream& out = session.sendRequest(request);
  out << call.body;
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  Answer a;
  a.status = static_cast<int>(response.getStatus());
  Poco::StreamCopier::copyToString(in, a.body);
  a.content_type = response.getContentType();
  for (const auto& [k, v] : response) a.headers[k] = v;
  return a;
}

// One request on a new connection to 127.0.0.1:port.
inline Answer request(std::uint16_t port, const Call& call) {
  Poco::Net::HTTPClientSession session("127.0.0.1", port);
  session.setTimeout(Poco::Timespan(10, 0));
  return roundTrip(session, call);
}

// A BuildContext over fixed listeners and connections, with files relative to `home`.
class FakeBuildContext : public BuildContext {
 public:
  explicit FakeBuildContext(std::string home = ".",
                            ExchangePattern pattern = ExchangePattern::kRequestReply)
      : home_(std::move(home)), pattern_(pattern) {}

  std::map<std::string, std::shared_ptr<Listener>> listeners;
  std::map<std::string, std::shared_ptr<Connection>> connections;

  ConfigErrors& errors() override { return errors_; }
  const std::string& file() const override { return file_; }
  const std::string& routeId() const override { return route_id_; }
  ExchangePattern pattern() const override { return pattern_; }
  bool checkOnly() const override { return false; }
  const std::map<std::string, std::string>& namespaces() const override { return namespaces_; }

  std::optional<std::string> path(const YAML::Node& node, PathKind kind) override {
    if (!node.IsScalar() || node.Scalar().empty()) {
      error(node, "expected a path");
      return std::nullopt;
    }
    std::filesystem::path p(node.Scalar());
    if (p.is_relative()) p = std::filesystem::path(home_) / p;
    std::error_code ec;
    if (kind == PathKind::kFile && !std::filesystem::is_regular_file(p, ec)) {
      error(node, "file not found: " + p.string());
      return std::nullopt;
    }
    if (kind == PathKind::kDirectory && !std::filesystem::is_directory(p, ec)) {
      error(node, "directory not found: " + p.string());
      return std::nullopt;
    }
    return p.string();
  }
  std::shared_ptr<Listener> listener(const YAML::Node& name, std::string_view) override {
    return named(name, listeners, "listener");
  }
  std::shared_ptr<Connection> connection(const YAML::Node& name, std::string_view) override {
    return named(name, connections, "connection");
  }
  std::optional<std::vector<std::unique_ptr<Step>>> steps(const YAML::Node& seq) override {
    error(seq, "no steps in this test");
    return std::nullopt;
  }
  std::shared_ptr<OutboundEndpoint> outbound(const YAML::Node& node) override {
    error(node, "no endpoints in this test");
    return nullptr;
  }
  std::shared_ptr<const Template> compileTemplate(const YAML::Node& node) override {
    if (!node.IsScalar()) {
      error(node, "expected a template string");
      return nullptr;
    }
    TemplateError te;
    auto t = Template::compile(node.Scalar(), &te);
    if (!t) {
      error(node, te.message);
      return nullptr;
    }
    return std::make_shared<const Template>(std::move(*t));
  }

  // The first error, for assertions.
  const ConfigError& first() const { return errors_.all().front(); }
  bool hasErrorAt(int line, int column, std::string_view text) const {
    for (const auto& e : errors_.all()) {
      if (e.where.line == line && e.where.column == column &&
          e.message.find(text) != std::string::npos) {
        return true;
      }
    }
    return false;
  }

 private:
  template <typename T>
  std::shared_ptr<T> named(const YAML::Node& name,
                           const std::map<std::string, std::shared_ptr<T>>& m,
                           const std::string& what) {
    if (!name.IsScalar()) {
      error(name, "expected a " + what + " name");
      return nullptr;
    }
    auto it = m.find(name.Scalar());
    if (it == m.end()) {
      error(name, "unknown " + what + " '" + name.Scalar() + "'");
      return nullptr;
    }
    return it->second;
  }

  ConfigErrors errors_;
  std::string file_ = "test.yaml";
  std::string route_id_ = "test-route";
  std::string home_;
  ExchangePattern pattern_;
  std::map<std::string, std::string> namespaces_;
};

// A temporary folder holding a self-signed certificate for localhost / 127.0.0.1, made
// with the openssl command line (its own CA: use cert() as the CA bundle).
class SelfSignedCert {
 public:
  SelfSignedCert() {
    std::string pattern = (std::filesystem::temp_directory_path() / "lienthong-http-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) return;
    dir_ = pattern;
    ok_ = make("server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1") &&
          make("client", "/CN=test-client", "subjectAltName=DNS:test-client");
  }
  ~SelfSignedCert() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  SelfSignedCert(const SelfSignedCert&) = delete;
  SelfSignedCert& operator=(const SelfSignedCert&) = delete;

  bool ok() const { return ok_; }
  std::string dir() const { return dir_; }
  std::string cert() const { return dir_ + "/server.pem"; }
  std::string key() const { return dir_ + "/server.key"; }
  std::string clientCert() const { return dir_ + "/client.pem"; }
  std::string clientKey() const { return dir_ + "/client.key"; }

 private:
  bool make(const std::string& name, const std::string& subject, const std::string& san) {
    const std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
        "-nodes -days 2 -subj '" +
        subject + "' -addext '" + san + "' -keyout '" + dir_ + "/" + name + ".key' -out '" + dir_ +
        "/" + name + ".pem' >/dev/null 2>&1";
    return std::system(command.c_str()) == 0;  // NOLINT(cert-env33-c): test helper
  }

  std::string dir_;
  bool ok_ = false;
};

}  // namespace lienthong::testing::http

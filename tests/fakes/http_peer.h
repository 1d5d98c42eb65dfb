#pragma once
// A real HTTP server on 127.0.0.1, port 0, for tests: records every request with the
// client's address (one address = one TCP connection) and answers through a handler the
// test sets (default: 200 and the request body echoed with its content type). Its
// destructor waits for handlers still running.

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/ThreadPool.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace lienthong::testing {

class HttpPeer {
 public:
  struct Request {
    std::string method;
    std::string uri;
    std::map<std::string, std::string> headers;
    std::string body;
    std::string client;  // ip:port of the connection
  };
  struct Response {
    int status = 200;
    std::string body;
    std::string content_type = "application/octet-stream";
    bool close_after = false;  // shut the connection after answering, though keep-alive
  };
  using Handler = std::function<Response(const Request&)>;

  HttpPeer() : pool_(2, 16) {
    socket_.bind(Poco::Net::SocketAddress("127.0.0.1", 0), true, false);
    socket_.listen(64);
    Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(16);
    params->setKeepAlive(true);
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), pool_, socket_, params);
    server_->start();
  }
  ~HttpPeer() {
    server_->stopAll(true);
    pool_.joinAll();
  }

  std::uint16_t port() const { return socket_.address().port(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }

  void setHandler(Handler h) {
    std::lock_guard lock(mutex_);
    handler_ = std::move(h);
  }
  std::vector<Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  // Waits until at least n requests arrived; false on timeout.
  bool waitForRequests(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
  }
  std::set<std::string> clients() const {
    std::lock_guard lock(mutex_);
    std::set<std::string> out;
    for (const auto& r : requests_) out.insert(r.client);
    return out;
  }

 private:
  class Handle : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handle(HttpPeer& peer) : peer_(peer) {}
    void handleRequest(Poco::Net::HTTPServerRequest& req,
                       Poco::Net::HTTPServerResponse& resp) override {
      Request r;
      r.method = req.getMethod();
      r.uri = req.getURI();
      for (const auto& [k, v] : req) r.headers[k] = v;
      Poco::StreamCopier::copyToString(req.stream(), r.body);
      r.client = req.clientAddress().toString();
      Handler h;
      {
        std::lock_guard lock(peer_.mutex_);
        peer_.requests_.push_back(r);
        h = peer_.handler_;
      }
      peer_.cv_.notify_all();
      Response out;
      if (h) {
        out = h(r);
      } else {
        out.body = r.body;
        auto ct = r.headers.find("Content-Type");
        if (ct != r.headers.end()) out.content_type = ct->second;
      }
      resp.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(out.status));
      resp.setContentType(out.content_type);
      resp.setContentLength(static_cast<std::streamsize>(out.body.size()));
      std::ostream& os = resp.send();
      os << out.body;
      os.flush();
      // The answer said keep-alive; now POCO is told otherwise, so it closes the
      // connection without reading another request from it.
      if (out.close_after) resp.setKeepAlive(false);
    }

   private:
    HttpPeer& peer_;
  };
  class Factory : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(HttpPeer& peer) : peer_(peer) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
      return new Handle(peer_);
    }

   private:
    HttpPeer& peer_;
  };

  Poco::ThreadPool pool_;
  Poco::Net::ServerSocket socket_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  Handler handler_;
  std::vector<Request> requests_;
};

}  // namespace lienthong::testing

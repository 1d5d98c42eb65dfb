// OAuth2 client credentials on an http connection: the token is fetched once with the
// client's Basic credentials and reused, renewed when it nears its expiry or when the
// peer answers 401, and a token endpoint that refuses or is away makes a retry with its
// reason, not a request without a token.

#include <gtest/gtest.h>

#include <Poco/Net/HTTPRequest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "adapters/http/http_outbound.h"
#include "fakes/http_peer.h"

namespace lienthong::adapters::http {
namespace {

using lienthong::testing::HttpPeer;
using namespace std::chrono_literals;

// A token endpoint and an API behind it, on one peer: /oauth/token gives "t1", "t2", ...
// valid for `expires_in` seconds; /api answers 200 to the current token, 401 otherwise.
class Provider {
 public:
  Provider() {
    peer_.setHandler([this](const HttpPeer::Request& r) {
      std::lock_guard lock(mutex_);
      if (r.uri == "/oauth/token") {
        ++fetches_;
        last_token_request_ = r;
        if (refuse_)
          return HttpPeer::Response{401, R"({"error":"invalid_client"})", "application/json"};
        current_ = "t" + std::to_string(fetches_);
        return HttpPeer::Response{200,
                                  R"({"access_token":")" + current_ +
                                      R"(","token_type":"Bearer",)"
                                      R"("expires_in":)" +
                                      std::to_string(expires_in_) + "}",
                                  "application/json"};
      }
      ++calls_;
      const auto auth = r.headers.find("Authorization");
      if (auth == r.headers.end() || auth->second != "Bearer " + current_) {
        return HttpPeer::Response{401, "{}", "application/json"};
      }
      return HttpPeer::Response{200, R"({"Code":"00"})", "application/json"};
    });
  }
  std::shared_ptr<HttpConnection> connect() {
    HttpConnectionSettings s;
    s.url = peer_.url() + "/api";
    s.read_timeout = 5s;
    s.oauth2 = HttpOAuth2{peer_.url() + "/oauth/token", "buudien-h22", "bi mat:1", "orders"};
    auto c = HttpConnection::create(s);
    EXPECT_TRUE(c.ok()) << c.error().message;
    return *c;
  }
  Delivery call(HttpConnection& c) {
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, "/api/orders",
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    Message original;
    return c.execute(request, R"({"OrderNumber":"000.00.01.H22-240315-0001"})",
                     std::chrono::steady_clock::now() + 5s, original);
  }
  void rotate() {  // the provider ends the current token early
    std::lock_guard lock(mutex_);
    current_ = "revoked";
  }
  void refuse(bool on) {
    std::lock_guard lock(mutex_);
    refuse_ = on;
  }
  void expiresIn(int s) {
    std::lock_guard lock(mutex_);
    expires_in_ = s;
  }
  int fetches() {
    std::lock_guard lock(mutex_);
    return fetches_;
  }
  int calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  HttpPeer::Request lastTokenRequest() {
    std::lock_guard lock(mutex_);
    return last_token_request_;
  }

 private:
  HttpPeer peer_;
  std::mutex mutex_;
  std::string current_;
  int fetches_ = 0;
  int calls_ = 0;
  int expires_in_ = 3600;
  bool refuse_ = false;
  HttpPeer::Request last_token_request_;
};

TEST(OAuth2, OneTokenServesManyCallsAndIsAskedForWithTheClientsCredentials) {
  Provider p;
  auto c = p.connect();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(p.call(*c).status, Delivery::Status::kAccepted);
  EXPECT_EQ(p.fetches(), 1);
  EXPECT_EQ(c->tokensFetched(), 1u);
  const auto r = p.lastTokenRequest();
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.body, "grant_type=client_credentials&scope=orders");
  EXPECT_EQ(r.headers.at("Content-Type"), "application/x-www-form-urlencoded");
  // base64 of the form-encoded "buudien-h22" ":" "bi mat:1" (RFC 6749 2.3.1)
  EXPECT_EQ(r.headers.at("Authorization"), "Basic YnV1ZGllbi1oMjI6YmkrbWF0JTNBMQ==");
}

TEST(OAuth2, ATokenEndedEarlyIsRenewedOnceAndTheCallGoesThrough) {
  Provider p;
  auto c = p.connect();
  ASSERT_EQ(p.call(*c).status, Delivery::Status::kAccepted);
  p.rotate();
  EXPECT_EQ(p.call(*c).status, Delivery::Status::kAccepted);
  EXPECT_EQ(p.fetches(), 2);
  EXPECT_EQ(p.calls(), 3);  // the 401, then the call again
}

TEST(OAuth2, ATokenNearItsExpiryIsRenewedBeforeUse) {
  Provider p;
  p.expiresIn(1);  // renewed at once: less than its margin is left
  auto c = p.connect();
  ASSERT_EQ(p.call(*c).status, Delivery::Status::kAccepted);
  std::this_thread::sleep_for(1100ms);  // the token's own life, measured by the clock
  ASSERT_EQ(p.call(*c).status, Delivery::Status::kAccepted);
  EXPECT_EQ(p.fetches(), 2);
}

TEST(OAuth2, RefusedCredentialsAreARetryWithTheReasonAndAreNotHammered) {
  Provider p;
  p.refuse(true);
  auto c = p.connect();
  Delivery d = p.call(*c);
  EXPECT_EQ(d.status, Delivery::Status::kRetry);
  EXPECT_NE(d.detail.find("oauth2 token from "), std::string::npos) << d.detail;
  EXPECT_NE(d.detail.find("401"), std::string::npos) << d.detail;
  EXPECT_EQ(p.call(*c).status, Delivery::Status::kRetry);
  EXPECT_EQ(p.fetches(), 1);  // the second call within 2 s did not ask again
  EXPECT_EQ(p.calls(), 0);    // and nothing went out without a token
}

}  // namespace
}  // namespace lienthong::adapters::http

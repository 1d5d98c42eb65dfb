// The http factories: good config builds the objects, bad config is refused with
// file:line:col.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "adapters/http/http_factory.h"
#include "adapters/http/http_inbound.h"
#include "adapters/http/http_listener.h"
#include "adapters/http/http_outbound.h"
#include "unit/http/http_test_support.h"

namespace lienthong::adapters::http {
namespace {

using lienthong::testing::http::FakeBuildContext;

class NotHttp : public Listener {
 public:
  Result<void> start() override { return {}; }
  void stop() override {}
  std::string describe() const override { return "other"; }
};

class HttpFactoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registerHttp(registry_);
    auto listener = HttpListener::create("public", HttpListenerSettings{});
    ASSERT_TRUE(listener.ok());
    ctx_.listeners["public"] = std::move(listener).value();
    ctx_.listeners["other"] = std::make_shared<NotHttp>();
    HttpConnectionSettings settings;
    settings.url = "http://127.0.0.1:9000/api";
    auto connection = HttpConnection::create(settings);
    ASSERT_TRUE(connection.ok());
    ctx_.connections["backend"] = std::move(connection).value();
  }

  std::shared_ptr<Listener> listener(const std::string& yaml) {
    return (*registry_.listener("http"))("public", YAML::Load(yaml), ctx_);
  }
  std::shared_ptr<Connection> connection(const std::string& yaml) {
    return (*registry_.connection("http"))("backend", YAML::Load(yaml), ctx_);
  }
  std::unique_ptr<InboundEndpoint> inbound(const std::string& yaml) {
    return (*registry_.inbound("http"))(YAML::Load(yaml), ctx_);
  }
  std::shared_ptr<OutboundEndpoint> outbound(const std::string& yaml) {
    return (*registry_.outbound("http"))(YAML::Load(yaml), ctx_);
  }
  std::string errors() { return ctx_.errors().str(); }

  Registry registry_;
  FakeBuildContext ctx_;
};

TEST_F(HttpFactoryTest, RegistersEveryKindAndRefusesASecondRegistration) {
  EXPECT_NE(registry_.listener("http"), nullptr);
  EXPECT_NE(registry_.connection("http"), nullptr);
  EXPECT_NE(registry_.inbound("http"), nullptr);
  EXPECT_NE(registry_.outbound("http"), nullptr);
  EXPECT_THROW(registerHttp(registry_), std::logic_error);
}

TEST_F(HttpFactoryTest, ListenerSettingsAreRead) {
  auto l = listener(
      "address: 0.0.0.0\nport: 0\nmax-body: 64KiB\nheader-timeout: 2s\n"
      "idle-timeout: 1m\nthreads: 16\n");
  ASSERT_NE(l, nullptr) << errors();
  auto http = std::dynamic_pointer_cast<HttpListener>(l);
  ASSERT_NE(http, nullptr);
  EXPECT_EQ(http->settings().address, "0.0.0.0");
  EXPECT_EQ(http->settings().port, 0);
  EXPECT_EQ(http->settings().max_body, 64u * 1024);
  EXPECT_EQ(http->settings().header_timeout, std::chrono::seconds(2));
  EXPECT_EQ(http->settings().idle_timeout, std::chrono::minutes(1));
  EXPECT_EQ(http->settings().threads, 16);
  EXPECT_FALSE(http->tls());
  // An empty map: every default.
  EXPECT_NE(listener("{}"), nullptr) << errors();
}

TEST_F(HttpFactoryTest, ListenerUnknownKeyWrongTypeAndMissingTlsFilesAreRefused) {
  EXPECT_EQ(listener("address: 127.0.0.1\nprot: 80\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(2, 1, "unknown key 'prot'")) << errors();
  EXPECT_EQ(ctx_.first().where.file, "test.yaml");

  EXPECT_EQ(listener("port: eighty\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(1, 7, "'port' must be an integer")) << errors();

  EXPECT_EQ(listener("port: 70000\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(1, 7, "between 0 and 65535")) << errors();

  EXPECT_EQ(listener("threads: 4\nheader-timeout: soon\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(2, 17, "duration")) << errors();

  EXPECT_EQ(listener("tls:\n  cert: /nonexistent/a.pem\n  pass: x\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(2, 9, "file not found")) << errors();
  EXPECT_TRUE(ctx_.hasErrorAt(2, 3, "needs 'key'")) << errors();
  EXPECT_TRUE(ctx_.hasErrorAt(3, 3, "unknown key 'pass'")) << errors();

  EXPECT_EQ(listener("- a\n- b\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(1, 1, "must be a map")) << errors();
}

TEST_F(HttpFactoryTest, InboundIsBuiltOnANamedHttpListener) {
  auto in = inbound("listener: public\npath: /dossiers/*\nmethods: [post, GET]\n");
  ASSERT_NE(in, nullptr) << errors();
  auto http = dynamic_cast<HttpInbound*>(in.get());
  ASSERT_NE(http, nullptr);
  EXPECT_EQ(http->settings().path, "/dossiers/*");
  EXPECT_EQ(http->settings().methods, (std::vector<std::string>{"POST", "GET"}));
  EXPECT_EQ(http->settings().listener, ctx_.listeners["public"]);

  auto defaults = inbound("listener: public\npath: /x\n");
  ASSERT_NE(defaults, nullptr) << errors();
  EXPECT_EQ(dynamic_cast<HttpInbound*>(defaults.get())->settings().methods,
            (std::vector<std::string>{"POST"}));
  EXPECT_TRUE(ctx_.errors().empty()) << errors();
}

TEST_F(HttpFactoryTest, InboundBadConfigIsRefusedWithItsPlace) {
  EXPECT_EQ(inbound("path: /x\n"), nullptr);  // no listener
  EXPECT_TRUE(ctx_.hasErrorAt(1, 1, "needs 'listener'")) << errors();

  EXPECT_EQ(inbound("listener: nope\npath: /x\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(1, 11, "unknown listener 'nope'")) << errors();

  EXPECT_EQ(inbound("listener: other\npath: /x\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(1, 11, "not an http listener")) << errors();

  EXPECT_EQ(inbound("listener: public\npath: x/*/y\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(2, 7, "must start with '/'")) << errors();

  EXPECT_EQ(inbound("listener: public\npath: /a/*/b\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(2, 7, "'*' may only end a path")) << errors();

  EXPECT_EQ(inbound("listener: public\npath: /x\nmethods: [POST, FETCH]\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(3, 17, "unknown method 'FETCH'")) << errors();

  EXPECT_EQ(inbound("listener: public\npath: /x\nmethods: POST\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(3, 10, "list of strings")) << errors();

  EXPECT_EQ(inbound("listener: public\npath: /x\ntimeout: 5s\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(3, 1, "unknown key 'timeout'")) << errors();
}

TEST_F(HttpFactoryTest, OutboundOnAConnectionOrAUrl) {
  auto named = outbound(
      "connection: backend\npath: /intake/${MaHoSo}\nmethod: PUT\n"
      "headers: { X-Agency: \"${Agency:-none}\" }\nforward-headers: [X-Trace]\n");
  ASSERT_NE(named, nullptr) << errors();
  EXPECT_EQ(named->describe(), "http PUT http://127.0.0.1:9000/api/intake/${MaHoSo}");
  auto http = std::dynamic_pointer_cast<HttpOutbound>(named);
  ASSERT_NE(http, nullptr);
  EXPECT_EQ(http->settings().connection, ctx_.connections["backend"]);
  ASSERT_EQ(http->settings().headers.size(), 1u);
  EXPECT_EQ(http->settings().headers[0].first, "X-Agency");
  EXPECT_EQ(http->settings().forward_headers, (std::vector<std::string>{"X-Trace"}));

  auto direct = outbound("url: http://10.0.0.1:8080/svc\n");
  ASSERT_NE(direct, nullptr) << errors();
  EXPECT_EQ(direct->describe(), "http POST http://10.0.0.1:8080/svc");
  EXPECT_TRUE(ctx_.errors().empty()) << errors();
}

TEST_F(HttpFactoryTest, OutboundBadConfigIsRefusedWithItsPlace) {
  EXPECT_EQ(outbound("path: /x\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(1, 1, "needs 'connection' or 'url'")) << errors();

  EXPECT_EQ(outbound("connection: backend\nurl: http://h/\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(2, 6, "not both")) << errors();

  EXPECT_EQ(outbound("url: ftp://h/\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(1, 6, "http://")) << errors();

  EXPECT_EQ(outbound("connection: nope\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(1, 13, "unknown connection 'nope'")) << errors();

  EXPECT_EQ(outbound("connection: backend\nmethod: FETCH\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(2, 9, "must be one of")) << errors();

  EXPECT_EQ(outbound("connection: backend\nheaders: [a, b]\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(2, 10, "must be a map")) << errors();

  EXPECT_EQ(outbound("connection: backend\nheaders: { \"bad name\": x }\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(2, 12, "header names")) << errors();

  EXPECT_EQ(outbound("connection: backend\npath: \"/x/${oops\"\n"), nullptr);
  EXPECT_EQ(ctx_.errors().all().back().where.line, 2) << errors();

  EXPECT_EQ(outbound("connection: backend\nforward-headers: [ok, \"no way\"]\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(2, 23, "header names")) << errors();

  EXPECT_EQ(outbound("connection: backend\nretries: 3\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(2, 1, "unknown key 'retries'")) << errors();
}

TEST_F(HttpFactoryTest, ConnectionSettingsAreReadAndBadOnesRefused) {
  auto c = connection(
      "url: http://127.0.0.1:9000/base\nconnect-timeout: 2s\nread-timeout: 250ms\npool: 4\n");
  ASSERT_NE(c, nullptr) << errors();
  auto http = std::dynamic_pointer_cast<HttpConnection>(c);
  ASSERT_NE(http, nullptr);
  EXPECT_EQ(http->settings().connect_timeout, std::chrono::seconds(2));
  EXPECT_EQ(http->settings().read_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(http->settings().pool, 4u);
  EXPECT_EQ(http->basePath(), "/base");
  EXPECT_TRUE(ctx_.errors().empty()) << errors();

  EXPECT_EQ(connection("connect-timeout: 2s\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(1, 1, "needs 'url'")) << errors();

  EXPECT_EQ(connection("url: http://h/\npool: many\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(2, 7, "'pool' must be an integer")) << errors();

  EXPECT_EQ(connection("url: http://h/\ntls: { verify: false }\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(2, 6, "https URLs only")) << errors();

  EXPECT_EQ(connection("url: https://h/\ntls: { verify: maybe, ca: x }\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(2, 16, "true or false")) << errors();
  EXPECT_TRUE(ctx_.hasErrorAt(2, 23, "unknown key 'ca'")) << errors();

  EXPECT_EQ(connection("url: https://h/\ntls: { ca-bundle: /nonexistent.pem }\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(2, 19, "file not found")) << errors();
  ::setenv("LIENTHONG_TEST_OAUTH2_SECRET", "bi-mat", 1);
  auto o = connection(
      "url: https://buudien.example/api\n"
      "oauth2: { token-url: \"https://buudien.example/token\", client-id: h22,\n"
      "          client-secret-env: LIENTHONG_TEST_OAUTH2_SECRET, scope: orders }\n");
  ASSERT_NE(o, nullptr) << errors();
  auto with_oauth2 = std::dynamic_pointer_cast<HttpConnection>(o);
  ASSERT_NE(with_oauth2, nullptr);
  const HttpOAuth2 oauth2 = with_oauth2->settings().oauth2.value_or(HttpOAuth2{});
  EXPECT_EQ(oauth2.client_id, "h22");
  EXPECT_EQ(oauth2.client_secret, "bi-mat");
  EXPECT_EQ(oauth2.scope, "orders");
  EXPECT_EQ(connection("url: http://h/\noauth2: { token-url: \"http://h/t\" }\n"), nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(2, 9, "needs 'client-id'")) << errors();
  EXPECT_TRUE(ctx_.hasErrorAt(2, 9, "client-secret-file")) << errors();
  EXPECT_EQ(connection("url: http://h/\noauth2: { token-url: \"ftp://h/t\", client-id: a, "
                       "client-secret-env: LIENTHONG_TEST_OAUTH2_SECRET }\n"),
            nullptr);
  EXPECT_TRUE(ctx_.hasErrorAt(2, 9, "oauth2 token-url: URL 'ftp://h/t' must start with http://"))
      << errors();
}

}  // namespace
}  // namespace lienthong::adapters::http

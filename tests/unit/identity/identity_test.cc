// Identity tokens (transforms/identity): RS256, PS256 and ES256 tokens made here with
// keys made here, checked against their JWK set — and refused when expired, not yet
// valid, for another audience or issuer, at a level not accepted, signed with a key the
// set does not have, tampered with, or claiming "none"; the step with keys fetched from
// a URL that rotate, and in a route, where a bad token is a 401.

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <atomic>

#include "core/daemon.h"
#include "core/pki.h"
#include "fakes/http_peer.h"
#include "integration/test_support.h"
#include "transforms/identity/identity_steps.h"
#include "transforms/identity/jwt.h"

namespace lienthong::identity {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

// A key pair made for the test, with its JWK.
struct TestKey {
  std::string kid;
  std::string alg;
  std::shared_ptr<EVP_PKEY> key;
  std::string jwk;  // the public JWK (JSON)
};

std::string bnParam(EVP_PKEY* k, const char* name) {
  BIGNUM* bn = nullptr;
  EVP_PKEY_get_bn_param(k, name, &bn);
  std::string out(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

TestKey makeKey(const std::string& kid, const std::string& alg) {
  TestKey t{kid, alg, nullptr, ""};
  if (alg == "ES256") {
    t.key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free);
    unsigned char point[65];
    std::size_t length = 0;
    EVP_PKEY_get_octet_string_param(t.key.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point,
                                    &length);
    const std::string p(reinterpret_cast<char*>(point), length);
    t.jwk = R"({"kty":"EC","crv":"P-256","use":"sig","kid":")" + kid + R"(","x":")" +
            base64UrlEncode(p.substr(1, 32)) + R"(","y":")" + base64UrlEncode(p.substr(33, 32)) +
            R"("})";
  } else {
    t.key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)),
                EVP_PKEY_free);
    t.jwk = R"({"kty":"RSA","kid":")" + kid + R"(","n":")" +
            base64UrlEncode(bnParam(t.key.get(), OSSL_PKEY_PARAM_RSA_N)) + R"(","e":")" +
            base64UrlEncode(bnParam(t.key.get(), OSSL_PKEY_PARAM_RSA_E)) + R"("})";
  }
  return t;
}

std::string sign(const TestKey& k, const std::string& input) {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  EVP_DigestSignInit(md, &pctx, EVP_sha256(), nullptr, k.key.get());
  if (k.alg == "PS256") {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  std::size_t length = 0;
  EVP_DigestSign(md, nullptr, &length, reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  std::string sig(length, '\0');
  EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &length,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  sig.resize(length);
  EVP_MD_CTX_free(md);
  if (k.alg == "ES256") {  // DER -> r || s
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(es);
    return raw;
  }
  return sig;
}

long long epoch(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// A token signed with `k`; `claims` is the payload's JSON members (without braces).
std::string token(const TestKey& k, const std::string& claims, std::string alg = "") {
  if (alg.empty()) alg = k.alg;
  const std::string header = R"({"alg":")" + alg + R"(","typ":"JWT","kid":")" + k.kid + R"("})";
  const std::string input = base64UrlEncode(header) + "." + base64UrlEncode("{" + claims + "}");
  return input + "." + base64UrlEncode(sign(k, input));
}

std::string claims(long long exp, const std::string& aud = "lienthong-h22",
                   const std::string& iss = "https://sso.dichvucong.gov.vn",
                   const std::string& extra = "") {
  return R"("iss":")" + iss + R"(","sub":"001190012345","aud":")" + aud +
         R"(","acr":"LoA1","exp":)" + std::to_string(exp) +
         R"(,"so_dinh_danh":"001190012345","ho_ten":"Nguyễn Thị Hồng Nhung")" + extra;
}

Expectations expectations() {
  Expectations e;
  e.issuer = "https://sso.dichvucong.gov.vn";
  e.audiences = {"lienthong-h22"};
  e.levels = {"LoA1", "LoA2"};
  return e;
}

class Tokens : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = new TestKey(makeKey("rsa-1", "RS256"));
    pss_ = new TestKey(makeKey("rsa-pss", "PS256"));
    ec_ = new TestKey(makeKey("ec-1", "ES256"));
    other_ = new TestKey(makeKey("rsa-2", "RS256"));
  }
  static void TearDownTestSuite() {
    delete rsa_;
    delete pss_;
    delete ec_;
    delete other_;
  }
  static KeySet set(std::initializer_list<const TestKey*> keys) {
    std::string json = R"({"keys":[)";
    bool first = true;
    for (const TestKey* k : keys) {
      json += (first ? "" : ",") + k->jwk;
      first = false;
    }
    auto s = KeySet::parse(json + "]}");
    EXPECT_TRUE(s.ok()) << s.error().message;
    return *s;
  }
  static std::string why(const Result<Verified>& r) {
    EXPECT_FALSE(r.ok());
    if (r.ok()) return {};
    EXPECT_EQ(r.error().code, ErrorCode::kUnauthorized);
    return r.error().message;
  }

  static TestKey* rsa_;
  static TestKey* pss_;
  static TestKey* ec_;
  static TestKey* other_;
  const Clock::time_point now_ = Clock::now();
};
TestKey* Tokens::rsa_ = nullptr;
TestKey* Tokens::pss_ = nullptr;
TestKey* Tokens::ec_ = nullptr;
TestKey* Tokens::other_ = nullptr;

TEST_F(Tokens, RsaPssAndEcTokensVerifyAndGiveTheirClaims) {
  const KeySet keys = set({rsa_, pss_, ec_});
  for (const TestKey* k : {rsa_, pss_, ec_}) {
    auto v = verify(token(*k, claims(epoch(now_) + 600)), keys, expectations(), now_);
    ASSERT_TRUE(v.ok()) << k->alg << ": " << v.error().message;
    EXPECT_EQ(v->alg, k->alg);
    EXPECT_EQ(v->kid, k->kid);
    EXPECT_EQ(v->claims.at("sub"), "001190012345");
    EXPECT_EQ(v->claims.at("ho_ten"), "Nguyễn Thị Hồng Nhung");
  }
}

TEST_F(Tokens, EachBadTokenIsRefusedWithItsReason) {
  const KeySet keys = set({rsa_, ec_});
  const long long in_ten_minutes = epoch(now_) + 600;
  EXPECT_NE(why(verify(token(*rsa_, claims(epoch(now_) - 3600)), keys, expectations(), now_))
                .find("the token expired at "),
            std::string::npos);
  EXPECT_EQ(
      why(verify(token(*rsa_, claims(in_ten_minutes, "cong-khac")), keys, expectations(), now_)),
      "audience 'cong-khac' is not 'lienthong-h22'");
  EXPECT_EQ(why(verify(token(*rsa_, claims(in_ten_minutes, "lienthong-h22", "https://gia-mao.vn")),
                       keys, expectations(), now_)),
            "issuer 'https://gia-mao.vn' is not 'https://sso.dichvucong.gov.vn'");
  EXPECT_EQ(why(verify(token(*other_, claims(in_ten_minutes)), keys, expectations(), now_)),
            "no key 'rsa-2' in the JWK set (rsa-1, ec-1)");
  EXPECT_NE(why(verify(token(*rsa_, claims(in_ten_minutes, "lienthong-h22",
                                           "https://sso.dichvucong.gov.vn",
                                           R"(,"nbf":)" + std::to_string(epoch(now_) + 3600))),
                       keys, expectations(), now_))
                .find("the token is not valid before "),
            std::string::npos);
  // A level of assurance not accepted.
  std::string low = claims(in_ten_minutes);
  low.replace(low.find("LoA1"), 4, "LoA0");
  EXPECT_EQ(why(verify(token(*rsa_, low), keys, expectations(), now_)),
            "level of assurance 'LoA0' is not accepted");
  // Tampered: the payload changed after signing (another citizen's number).
  std::string t = token(*rsa_, claims(in_ten_minutes));
  const std::size_t a = t.find('.') + 1;
  const std::size_t b = t.find('.', a);
  std::string payload;
  ASSERT_TRUE(base64UrlDecode(t.substr(a, b - a), payload));
  payload.replace(payload.find("001190012345"), 12, "079203000001");
  t.replace(a, b - a, base64UrlEncode(payload));
  EXPECT_EQ(why(verify(t, keys, expectations(), now_)),
            "the signature does not verify with key 'rsa-1'");
  // "none", an HMAC, or a key of another kind: never.
  const std::string unsigned_token = base64UrlEncode(R"({"alg":"none","kid":"rsa-1"})") + "." +
                                     base64UrlEncode("{" + claims(in_ten_minutes) + "}") + ".";
  EXPECT_EQ(why(verify(unsigned_token, keys, expectations(), now_)),
            "algorithm 'none' is not accepted (accepted: RS256, PS256, ES256)");
  EXPECT_NE(why(verify(token(*rsa_, claims(in_ten_minutes), "HS256"), keys, expectations(), now_))
                .find("algorithm 'HS256' is not accepted"),
            std::string::npos);
  EXPECT_EQ(why(verify(token(*rsa_, claims(in_ten_minutes), "ES256"), keys, expectations(), now_)),
            "key 'rsa-1' (RSA) is not for ES256");
  EXPECT_EQ(why(verify("abc.def", keys, expectations(), now_)),
            "not a signed token (header.payload.signature)");
  // One token, one text: padding or the other alphabet is not the token.
  const std::string good = token(*rsa_, claims(in_ten_minutes));
  EXPECT_TRUE(verify(good, keys, expectations(), now_).ok());
  EXPECT_EQ(why(verify(good + "=", keys, expectations(), now_)), "the token is not base64url");
  // An audience with a comma in it is one audience, not two.
  EXPECT_EQ(why(verify(token(*rsa_, claims(in_ten_minutes, "x,lienthong-h22")), keys,
                       expectations(), now_)),
            "audience 'x,lienthong-h22' is not 'lienthong-h22'");
  EXPECT_EQ(why(verify(token(*rsa_, claims(in_ten_minutes, "lienthong-h22",
                                           "https://sso.dichvucong.gov.vn", R"(,"nbf":"soon")")),
                       keys, expectations(), now_)),
            "the token's nbf is not a number of seconds");
  // Within the leeway, an expiry a moment ago still holds.
  EXPECT_TRUE(verify(token(*rsa_, claims(epoch(now_) - 30)), keys, expectations(), now_).ok());
}

// Keys from a URL: fetched on first use; a token signed with a key the provider rotated
// in since makes the step fetch the set again.
TEST_F(Tokens, KeysFromAUrlAreFetchedAgainWhenTheProviderRotatesThem) {
  testing::HttpPeer provider;
  std::atomic<int> fetches{0};
  std::atomic<bool> rotated{false};
  const std::string before = R"({"keys":[)" + rsa_->jwk + "]}";
  const std::string after = R"({"keys":[)" + rsa_->jwk + "," + other_->jwk + "]}";
  provider.setHandler([&](const testing::HttpPeer::Request& r) {
    ++fetches;
    EXPECT_EQ(r.uri, "/sso/jwks");
    return testing::HttpPeer::Response{200, rotated ? after : before, "application/json"};
  });
  adapters::http::HttpConnectionSettings hs;
  hs.url = provider.url() + "/sso";
  auto http = adapters::http::HttpConnection::create(hs);
  ASSERT_TRUE(http.ok());
  auto source = std::make_shared<JwksSource>(*http, "/jwks", std::chrono::hours(1));
  source->refetch_pause = 0ms;
  OidcVerifySettings s;
  TemplateError error;
  s.token = std::make_shared<const Template>(*Template::compile("${Authorization}", &error));
  s.jwks = source;
  s.expect = expectations();
  s.claims = {{"identity.so-dinh-danh", "so_dinh_danh"}};
  OidcVerifyStep step(s);

  Message m;
  m.setHeader("Authorization", "Bearer " + token(*rsa_, claims(epoch(now_) + 600)));
  Exchange e(m, "r", ExchangePattern::kRequestReply);
  ASSERT_TRUE(step.process(e).ok());
  EXPECT_EQ(*e.message().header("identity.subject"), "001190012345");
  EXPECT_EQ(*e.message().header("identity.level"), "LoA1");
  EXPECT_EQ(*e.message().header("identity.so-dinh-danh"), "001190012345");
  EXPECT_EQ(fetches.load(), 1);
  ASSERT_TRUE(step.process(e).ok());
  EXPECT_EQ(fetches.load(), 1);  // kept

  rotated = true;
  e.message().setHeader("Authorization", "Bearer " + token(*other_, claims(epoch(now_) + 600)));
  auto r = step.process(e);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(fetches.load(), 2);
}

// In a route: a request without a valid token is answered 401 with the reason.
TEST_F(Tokens, ARouteAnswers401ToABadTokenAndPassesTheIdentityOn) {
  testing::TempHome home;
  home.write("sso-jwks.json", R"({"keys":[)" + rsa_->jwk + "]}");
  home.write("config.yaml", testing::kPublicListenerConfig);
  home.write("routes/r.yaml",
             "routes:\n"
             "  - id: who\n"
             "    pattern: request-reply\n"
             "    from: { http: { listener: public, path: /who } }\n"
             "    steps:\n"
             "      - oidc-verify:\n"
             "          jwks: { file: sso-jwks.json }\n"
             "          issuer: https://sso.dichvucong.gov.vn\n"
             "          audience: [ lienthong-h22, lienthong-h12 ]\n"
             "          levels: [ LoA1, LoA2 ]\n"
             "          claims: { identity.ho-ten: ho_ten }\n"
             "      - set-body: { template: \"${identity.subject} ${identity.ho-ten}\" }\n");
  std::unique_ptr<Daemon> daemon;
  const std::uint16_t port = testing::startDaemon(home.path("config.yaml"), daemon);
  ASSERT_NE(port, 0u);
  auto ok =
      testing::httpCall(port, "POST", "/who", "",
                        {{"Authorization", "Bearer " + token(*rsa_, claims(epoch(now_) + 600))}});
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.body, "001190012345 Nguyễn Thị Hồng Nhung");
  auto expired =
      testing::httpCall(port, "POST", "/who", "",
                        {{"Authorization", "Bearer " + token(*rsa_, claims(epoch(now_) - 3600))}});
  EXPECT_EQ(expired.status, 401);
  EXPECT_NE(expired.body.find("oidc-verify: the token expired at"), std::string::npos)
      << expired.body;
  auto none = testing::httpCall(port, "POST", "/who", "");
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(none.body.find("oidc-verify: no token (${Authorization} is empty)"), std::string::npos)
      << none.body;
  daemon->stop();
}

TEST(OidcVerifyConfig, MistakesAreReportedAtTheirPlace) {
  testing::TempHome home;
  home.write("bad-jwks.json", R"({"keys":[{"kty":"oct","k":"c2VjcmV0"}]})");
  home.write("config.yaml", testing::kPublicListenerConfig);
  home.write("routes/r.yaml",
             "routes:\n"
             "  - id: who\n"
             "    pattern: request-reply\n"
             "    from: { http: { listener: public, path: /who } }\n"
             "    steps:\n"
             "      - oidc-verify:\n"
             "          jwks: { file: bad-jwks.json }\n"
             "          issuer: x\n"
             "          audience: y\n"
             "          algorithms: [ RS256, HS256 ]\n");
  ConfigErrors errors;
  EXPECT_FALSE(Daemon::create(home.path("config.yaml").string(), errors));
  const std::string text = errors.str();
  EXPECT_NE(text.find("r.yaml:7:25: "), std::string::npos) << text;
  EXPECT_NE(text.find("the JWK set has no key that can verify a signature"), std::string::npos)
      << text;
  EXPECT_NE(text.find("r.yaml:10:23: algorithm 'HS256' is not one of RS256, PS256, ES256"),
            std::string::npos)
      << text;
}

// VNeID's wrapped responses: an AES key encrypted to the agency's RSA key (the test
// PKI's agency key), the data encrypted with it; decrypted here, refused when tampered or
// for another key.
struct Wrapped {
  std::string key, iv, data;  // base64
};

std::string b64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Wrapped wrap(const std::string& plain, EVP_PKEY* to) {
  std::string aes(32, '\0'), iv(12, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(aes.data()), 32);
  RAND_bytes(reinterpret_cast<unsigned char*>(iv.data()), 12);
  EVP_PKEY_CTX* p = EVP_PKEY_CTX_new(to, nullptr);
  EVP_PKEY_encrypt_init(p);
  EVP_PKEY_CTX_set_rsa_padding(p, RSA_PKCS1_OAEP_PADDING);
  EVP_PKEY_CTX_set_rsa_oaep_md(p, EVP_sha256());
  EVP_PKEY_CTX_set_rsa_mgf1_md(p, EVP_sha256());
  std::size_t length = 0;
  EVP_PKEY_encrypt(p, nullptr, &length, reinterpret_cast<const unsigned char*>(aes.data()), 32);
  std::string wrapped(length, '\0');
  EVP_PKEY_encrypt(p, reinterpret_cast<unsigned char*>(wrapped.data()), &length,
                   reinterpret_cast<const unsigned char*>(aes.data()), 32);
  wrapped.resize(length);
  EVP_PKEY_CTX_free(p);
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), nullptr, nullptr, nullptr);
  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, nullptr);
  EVP_EncryptInit_ex(c, nullptr, nullptr, reinterpret_cast<const unsigned char*>(aes.data()),
                     reinterpret_cast<const unsigned char*>(iv.data()));
  std::string out(plain.size() + 16, '\0');
  int n = 0;
  EVP_EncryptUpdate(c, reinterpret_cast<unsigned char*>(out.data()), &n,
                    reinterpret_cast<const unsigned char*>(plain.data()),
                    static_cast<int>(plain.size()));
  int m = 0;
  EVP_EncryptFinal_ex(c, reinterpret_cast<unsigned char*>(out.data()) + n, &m);
  out.resize(static_cast<std::size_t>(n + m));
  char tag[16];
  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag);
  EVP_CIPHER_CTX_free(c);
  return {b64(wrapped), b64(iv), b64(out + std::string(tag, 16))};
}

TEST(VneidDecrypt, AWrappedResponseIsOpenedWithTheAgencysKeyAndRefusedWhenTampered) {
  const std::string pki = std::string(LIENTHONG_BINARY_DIR) + "/tests/pki/";
  pki::SigningKey::Settings ks;
  ks.name = "agency";
  ks.key_file = pki + "agency-key.pem";
  ks.cert_file = pki + "agency-chain.pem";
  auto key = pki::SigningKey::load(ks);
  ASSERT_TRUE(key.ok()) << key.error().message;
  WrappedResponseSettings s;
  s.key = *key;
  WrappedResponseStep step(s);
  const std::string userinfo =
      R"({"so_dinh_danh":"001190012345","ho_ten":"Nguyễn Thị Hồng Nhung","muc_do":"2"})";
  const Wrapped w = wrap(userinfo, (*key)->key());
  auto body = [](const Wrapped& x) {
    return R"({"encryptedKey":")" + x.key + R"(","iv":")" + x.iv + R"(","encryptedData":")" +
           x.data + R"("})";
  };
  Message m;
  m.setBody(body(w));
  Exchange e(m, "r", ExchangePattern::kRequestReply);
  auto r = step.process(e);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(e.message().body(), userinfo);
  EXPECT_EQ(e.message().contentType(), "application/json");

  Wrapped tampered = w;
  tampered.data[5] = tampered.data[5] == 'A' ? 'B' : 'A';
  e.message().setBody(body(tampered));
  auto bad = step.process(e);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kUnauthorized);
  EXPECT_EQ(bad.error().message,
            "vneid-decrypt: the data does not decrypt (tampered, or for another key)");
  // Wrapped for another key: the AES key does not unwrap.
  const TestKey other = makeKey("x", "RS256");
  e.message().setBody(body(wrap(userinfo, other.key.get())));
  auto foreign = step.process(e);
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.error().message, "vneid-decrypt: the key does not unwrap with key 'agency'");
  e.message().setBody(R"({"iv":"AAAA"})");
  auto missing = step.process(e);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kInvalidMessage);
  EXPECT_EQ(missing.error().message, "vneid-decrypt: the body has no encryptedKey in base64");
}

}  // namespace
}  // namespace lienthong::identity

#include "transforms/identity/jwt.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <ctime>

#include "core/encoding.h"

namespace lienthong::identity {
namespace {

using Poco::JSON::Object;

Error unauthorized(std::string why) { return Error(ErrorCode::kUnauthorized, std::move(why)); }

std::string text(const Object& o, const std::string& key) {
  if (!o.has(key)) return {};
  const Poco::Dynamic::Var v = o.get(key);
  if (v.isEmpty()) return {};
  try {
    if (v.type() == typeid(Poco::JSON::Array::Ptr)) {
      auto a = v.extract<Poco::JSON::Array::Ptr>();
      std::string out;
      for (std::size_t i = 0; a && i < a->size(); ++i) {
        out += (i ? "," : "") + a->get(static_cast<unsigned>(i)).convert<std::string>();
      }
      return out;
    }
    if (v.type() == typeid(Object::Ptr)) return {};
    return v.convert<std::string>();
  } catch (const Poco::Exception&) {
    return {};
  }
}

Object::Ptr parseObject(const std::string& json) {
  try {
    return Poco::JSON::Parser().parse(json).extract<Object::Ptr>();
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::shared_ptr<EVP_PKEY> own(EVP_PKEY* k) { return std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free); }

BIGNUM* bignum(const std::string& b64) {
  std::string bytes;
  if (!base64UrlDecode(b64, bytes) || bytes.empty()) return nullptr;
  return BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                   static_cast<int>(bytes.size()), nullptr);
}

// A public key from its parameters (OpenSSL 3 provider form); nullptr when they are bad.
std::shared_ptr<EVP_PKEY> fromParams(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* key = nullptr;
  if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1) {
    if (EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) key = nullptr;
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return key ? own(key) : nullptr;
}

std::shared_ptr<EVP_PKEY> rsaKey(const Object& jwk) {
  BIGNUM* n = bignum(text(jwk, "n"));
  BIGNUM* e = bignum(text(jwk, "e"));
  std::shared_ptr<EVP_PKEY> key;
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  if (n && e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1) {
    key = fromParams("RSA", bld);
  }
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(e);
  return key;
}

std::shared_ptr<EVP_PKEY> ecKey(const Object& jwk) {
  if (text(jwk, "crv") != "P-256") return nullptr;
  std::string x, y;
  if (!base64UrlDecode(text(jwk, "x"), x) || !base64UrlDecode(text(jwk, "y"), y) ||
      x.size() != 32 || y.size() != 32) {
    return nullptr;
  }
  std::string point = "\x04" + x + y;
  std::shared_ptr<EVP_PKEY> key;
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  char group[] = "prime256v1";
  if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) ==
          1) {
    key = fromParams("EC", bld);
  }
  OSSL_PARAM_BLD_free(bld);
  return key;
}

// Verifies `signature` over `input` with `key` by the token's algorithm.
bool signatureHolds(const std::string& alg, EVP_PKEY* key, const std::string& input,
                    std::string signature) {
  if (alg == "ES256") {  // JOSE: r || s, 32 bytes each; OpenSSL wants DER
    if (signature.size() != 64) return false;
    ECDSA_SIG* sig = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()), 32, nullptr);
    BIGNUM* s =
        BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()) + 32, 32, nullptr);
    if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
      BN_free(r);
      BN_free(s);
      ECDSA_SIG_free(sig);
      return false;
    }
    unsigned char* der = nullptr;
    const int length = i2d_ECDSA_SIG(sig, &der);
    ECDSA_SIG_free(sig);
    if (length <= 0) return false;
    signature.assign(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
    OPENSSL_free(der);
  }
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok = md && EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), nullptr, key) == 1;
  if (ok && alg == "PS256") {
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
  }
  ok = ok && EVP_DigestVerify(
                 md, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                 reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(md);
  return ok;
}

bool contains(const std::vector<std::string>& list, const std::string& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

}  // namespace

std::string utcText(long long seconds) {
  return lienthong::utcText(static_cast<std::time_t>(seconds));
}

std::string base64UrlEncode(std::string_view bytes) { return base64Encode(bytes, true); }

bool base64UrlDecode(std::string_view text, std::string& out) {
  // Strict: the URL alphabet, no padding, no stray bits, so that one token has one text.
  out.clear();
  unsigned v = 0;
  int bits = 0;
  for (char c : text) {
    int d;
    if (c >= 'A' && c <= 'Z') {
      d = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      d = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      d = c - '0' + 52;
    } else if (c == '-') {
      d = 62;
    } else if (c == '_') {
      d = 63;
    } else {
      return false;
    }
    v = (v << 6) | static_cast<unsigned>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((v >> bits) & 0xFF);
    }
  }
  // A lone trailing character cannot be; the bits left over must be zero.
  return bits < 6 && (v & ((1u << bits) - 1)) == 0;
}

Result<KeySet> KeySet::parse(const std::string& json) {
  Object::Ptr o = parseObject(json);
  if (!o || !o->has("keys") || o->get("keys").type() != typeid(Poco::JSON::Array::Ptr)) {
    return Error(ErrorCode::kInvalidConfig, "not a JWK set (a JSON object with \"keys\": [...])");
  }
  KeySet set;
  auto keys = o->getArray("keys");
  for (std::size_t i = 0; i < keys->size(); ++i) {
    Object::Ptr k = keys->getObject(static_cast<unsigned>(i));
    if (!k) continue;
    const std::string use = text(*k, "use");
    if (!use.empty() && use != "sig") continue;  // an encryption key does not sign
    Jwk jwk{text(*k, "kid"), text(*k, "kty"), text(*k, "alg"), nullptr};
    if (jwk.kty == "RSA") jwk.key = rsaKey(*k);
    if (jwk.kty == "EC") jwk.key = ecKey(*k);
    if (jwk.key) set.keys_.push_back(std::move(jwk));
  }
  if (set.keys_.empty()) {
    return Error(ErrorCode::kInvalidConfig,
                 "the JWK set has no key that can verify a signature (RSA, or EC P-256)");
  }
  return set;
}

const Jwk* KeySet::find(const std::string& kid) const {
  if (kid.empty()) return keys_.size() == 1 ? &keys_.front() : nullptr;
  for (const Jwk& k : keys_) {
    if (k.kid == kid) return &k;
  }
  return nullptr;
}

std::string KeySet::kids() const {
  std::string out;
  for (const Jwk& k : keys_) out += (out.empty() ? "" : ", ") + (k.kid.empty() ? "-" : k.kid);
  return out;
}

std::string keyIdOf(std::string_view token) {
  const std::size_t dot = token.find('.');
  std::string header;
  if (dot == std::string_view::npos || !base64UrlDecode(token.substr(0, dot), header)) return {};
  Object::Ptr h = parseObject(header);
  return h ? text(*h, "kid") : std::string();
}

Result<Verified> verify(std::string_view token, const KeySet& keys, const Expectations& expect,
                        std::chrono::system_clock::time_point now) {
  const std::size_t first = token.find('.');
  const std::size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return unauthorized("not a signed token (header.payload.signature)");
  }
  std::string header_json, payload_json, signature;
  if (!base64UrlDecode(token.substr(0, first), header_json) ||
      !base64UrlDecode(token.substr(first + 1, second - first - 1), payload_json) ||
      !base64UrlDecode(token.substr(second + 1), signature)) {
    return unauthorized("the token is not base64url");
  }
  Object::Ptr header = parseObject(header_json);
  Object::Ptr claims = parseObject(payload_json);
  if (!header || !claims) return unauthorized("the token's header or claims are not JSON objects");
  Verified v;
  v.alg = text(*header, "alg");
  v.kid = text(*header, "kid");
  if (!contains(expect.algorithms, v.alg)) {
    return unauthorized("algorithm '" + v.alg + "' is not accepted (accepted: " + [&] {
      std::string all;
      for (const auto& a : expect.algorithms) all += (all.empty() ? "" : ", ") + a;
      return all;
    }() + ")");
  }
  const Jwk* key = keys.find(v.kid);
  if (!key) {
    return unauthorized("no key '" + v.kid + "' in the JWK set (" + keys.kids() + ")");
  }
  const bool ec = v.alg == "ES256";
  if ((ec && key->kty != "EC") || (!ec && key->kty != "RSA") ||
      (!key->alg.empty() && key->alg != v.alg)) {
    return unauthorized("key '" + v.kid + "' (" + key->kty +
                        (key->alg.empty() ? "" : " " + key->alg) + ") is not for " + v.alg);
  }
  const std::string input(token.substr(0, second));
  if (!signatureHolds(v.alg, key->key.get(), input, signature)) {
    return unauthorized("the signature does not verify with key '" + v.kid + "'");
  }
  // The claims, now that they are the issuer's.
  for (const auto& [name, value] : *claims) v.claims[name] = text(*claims, name);
  const long long t =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const long long leeway = expect.leeway.count();
  // A NumericDate: a JSON number of seconds, within reason.
  auto number = [&](const char* name, long long& out) {
    if (!claims->has(name) || !claims->get(name).isNumeric()) return false;
    double d = 0;
    try {
      d = claims->get(name).convert<double>();
    } catch (const Poco::Exception&) {
      return false;
    }
    if (!(d > -1e12 && d < 1e12)) return false;  // also NaN
    out = static_cast<long long>(d);
    return true;
  };
  long long exp = 0;
  if (!number("exp", exp)) return unauthorized("the token has no expiry (exp, a number)");
  if (t > exp + leeway) {
    return unauthorized("the token expired at " + utcText(exp) + " (now " + utcText(t) + ")");
  }
  long long nbf = 0;
  if (claims->has("nbf") && !number("nbf", nbf)) {
    return unauthorized("the token's nbf is not a number of seconds");
  }
  if (claims->has("nbf") && t + leeway < nbf) {
    return unauthorized("the token is not valid before " + utcText(nbf) + " (now " + utcText(t) +
                        ")");
  }
  if (!expect.issuer.empty() && text(*claims, "iss") != expect.issuer) {
    return unauthorized("issuer '" + text(*claims, "iss") + "' is not '" + expect.issuer + "'");
  }
  if (!expect.audiences.empty()) {
    // A string, or an array of them: compared whole, never split.
    std::vector<std::string> aud;
    const std::string all = text(*claims, "aud");
    if (claims->has("aud") && claims->get("aud").type() == typeid(Poco::JSON::Array::Ptr)) {
      auto a = claims->getArray("aud");
      for (std::size_t i = 0; a && i < a->size(); ++i) {
        try {
          aud.push_back(a->get(static_cast<unsigned>(i)).convert<std::string>());
        } catch (const Poco::Exception&) {
        }
      }
    } else if (claims->has("aud") && claims->get("aud").isString()) {
      aud.push_back(all);
    }
    bool found = false;
    for (const auto& a : aud) found |= contains(expect.audiences, a);
    if (!found) {
      return unauthorized("audience '" + all + "' is not " + [&] {
        std::string want;
        for (const auto& a : expect.audiences) want += (want.empty() ? "'" : " or '") + a + "'";
        return want;
      }());
    }
  }
  if (!expect.levels.empty() && !contains(expect.levels, text(*claims, "acr"))) {
    return unauthorized("level of assurance '" + text(*claims, "acr") + "' is not accepted");
  }
  return v;
}

}  // namespace lienthong::identity

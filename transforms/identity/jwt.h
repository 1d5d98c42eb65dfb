#pragma once
// JSON Web Tokens as the identity providers issue them (the national SSO's OIDC ID and
// access tokens, VNeID's): a JWK set of public keys (RSA and EC P-256), and the check of
// a token against it — signature (RS256, PS256, ES256; never "none" or an HMAC, whose
// secret a public key set cannot hold), issuer, audience, expiry, not-before and the
// level of assurance (acr).

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lienthong/result.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace lienthong::identity {

// One public key of a JWK set.
struct Jwk {
  std::string kid;
  std::string kty;  // "RSA" or "EC"
  std::string alg;  // as the set says, "" when it does not
  std::shared_ptr<EVP_PKEY> key;
};

class KeySet {
 public:
  // A JWK set's JSON ({"keys":[...]}). Keys of other kinds (oct, OKP) or curves are
  // skipped; a set with none that can verify is InvalidConfig, as is broken JSON.
  static Result<KeySet> parse(const std::string& json);
  // The key with this kid (any key when the token names none and the set has one).
  const Jwk* find(const std::string& kid) const;
  std::size_t size() const { return keys_.size(); }
  std::string kids() const;  // "k1, k2" for messages

 private:
  std::vector<Jwk> keys_;
};

struct Expectations {
  std::string issuer;                  // "" = any (not advised)
  std::vector<std::string> audiences;  // the token's aud must hold one; empty = any
  std::vector<std::string> algorithms{"RS256", "PS256", "ES256"};
  std::vector<std::string> levels;  // accepted acr values; empty = any
  std::chrono::seconds leeway{60};  // clock skew allowed on exp and nbf
};

// A token that verified: its claims, text for strings and numbers, arrays joined with ",".
struct Verified {
  std::string kid;
  std::string alg;
  std::map<std::string, std::string> claims;
};

// The kid a token's header names ("" when none, or when it is not a token).
std::string keyIdOf(std::string_view token);

// Checks `token` (compact JWS: header.payload.signature). Unauthorized with the reason
// otherwise: malformed, an algorithm not accepted, no key with its kid, a signature that
// does not verify, or a claim that does not hold (each named, with the values).
Result<Verified> verify(std::string_view token, const KeySet& keys, const Expectations& expect,
                        std::chrono::system_clock::time_point now);

// Seconds since the epoch as UTC text (2026-11-27T13:02:11Z).
std::string utcText(long long seconds);

// base64url without padding, both ways (tests and the tools make tokens too).
std::string base64UrlEncode(std::string_view bytes);
bool base64UrlDecode(std::string_view text, std::string& out);

}  // namespace lienthong::identity

#pragma once
// The `oidc-verify` step: the identity behind a request, from the identity provider's
// signed token (docs/identity.md).

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "adapters/http/http_outbound.h"
#include "lienthong/step.h"
#include "lienthong/template.h"
#include "transforms/identity/jwt.h"

namespace lienthong::identity {

// Where the provider's public keys come from: a file (read at load), or a URL of an http
// connection, fetched on first use, kept for `refresh`, and fetched again at once when a
// token names a key the set does not have (the provider rotated its keys) — at most once
// per `refetch_pause`. Thread-safe.
class JwksSource {
 public:
  explicit JwksSource(std::shared_ptr<const KeySet> fixed) : keys_(std::move(fixed)) {}
  JwksSource(std::shared_ptr<adapters::http::HttpConnection> http, std::string path,
             std::chrono::milliseconds refresh)
      : http_(std::move(http)), path_(std::move(path)), refresh_(refresh) {}

  // The keys; fetched when there are none yet or they are older than `refresh`. Transient
  // error when they cannot be had (and none were had before).
  Result<std::shared_ptr<const KeySet>> keys(std::chrono::steady_clock::time_point deadline);
  // The keys, fetched again now if a URL gives them and the last fetch is not too recent.
  Result<std::shared_ptr<const KeySet>> refetch(std::chrono::steady_clock::time_point deadline);
  std::string describe() const;

  std::chrono::milliseconds refetch_pause{30'000};

 private:
  Result<std::shared_ptr<const KeySet>> fetch(std::chrono::steady_clock::time_point deadline);
  // Fetches with `lock` released; others meanwhile use the keys there are.
  Result<std::shared_ptr<const KeySet>> update(std::unique_lock<std::mutex>& lock,
                                               std::chrono::steady_clock::time_point deadline);

  std::shared_ptr<adapters::http::HttpConnection> http_;  // null: fixed keys
  std::string path_;
  std::chrono::milliseconds refresh_{3'600'000};
  std::mutex mutex_;
  std::condition_variable fetched_;
  bool fetching_ = false;
  std::shared_ptr<const KeySet> keys_;
  std::chrono::steady_clock::time_point fetched_at_;
};

struct OidcVerifySettings {
  std::shared_ptr<const Template> token;  // default ${Authorization}; "Bearer " is dropped
  std::shared_ptr<JwksSource> jwks;
  Expectations expect;
  std::map<std::string, std::string> claims;  // header -> claim
  // claim -> the value it must have for this message (the dossier's applicant, say)
  std::map<std::string, std::shared_ptr<const Template>> require;
};

// Verifies the token (identity/jwt.h) and sets identity.subject (sub), identity.issuer,
// identity.level (acr), identity.expires (exp, UTC) and the headers of `claims`. A token
// that does not verify, or none, is Unauthorized with the reason (401 to a caller, the
// dead letter's reason); so is a token whose `require`d claims are not this message's
// (a citizen's token on another citizen's dossier). Keys that cannot be fetched are a
// transient error.
class OidcVerifyStep final : public Step {
 public:
  explicit OidcVerifyStep(OidcVerifySettings s) : s_(std::move(s)) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  OidcVerifySettings s_;
};

}  // namespace lienthong::identity

namespace lienthong::pki {
class SigningKey;
}

namespace lienthong::identity {

// How the national identity app (VNeID) wraps a response (a token or userinfo answer): a
// fresh AES key encrypted to the agency's RSA key, and the data encrypted with it.
struct WrappedResponseSettings {
  std::shared_ptr<const pki::SigningKey> key;  // the agency's RSA key (daemon config `keys:`)
  std::string cipher = "aes-256-gcm";          // aes-{128,256}-{gcm,cbc}
  std::string padding = "oaep-sha256";         // RSA: oaep-sha256, oaep-sha1, pkcs1
  std::string key_field = "encryptedKey";      // members of the JSON body, base64
  std::string iv_field = "iv";
  std::string data_field = "encryptedData";  // GCM: ciphertext then the 16-byte tag
};

// The `vneid-decrypt` step: the wrapped response's data, decrypted, replaces the body
// (content type application/json). A body without the members, or not base64, is an
// InvalidMessage; a key or data that does not decrypt (another key, tampered, a GCM tag
// that does not hold) is Unauthorized.
class WrappedResponseStep final : public Step {
 public:
  explicit WrappedResponseStep(WrappedResponseSettings s) : s_(std::move(s)) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  WrappedResponseSettings s_;
};

}  // namespace lienthong::identity

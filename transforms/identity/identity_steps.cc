#include "transforms/identity/identity_steps.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <ctime>
#include <utility>

#include "core/pki.h"

namespace lienthong::identity {
namespace {

using Clock = std::chrono::steady_clock;

// exp as UTC text (the claim as it is when it is no number).
std::string expiresText(const std::string& epoch_seconds) {
  try {
    return utcText(std::stoll(epoch_seconds));
  } catch (const std::exception&) {
    return epoch_seconds;
  }
}

}  // namespace

std::string JwksSource::describe() const {
  return http_ ? "JWK set " + http_->origin() + http_->basePath() + path_ : "JWK set (file)";
}

Result<std::shared_ptr<const KeySet>> JwksSource::fetch(Clock::time_point deadline) {
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, http_->basePath() + path_,
                                 Poco::Net::HTTPMessage::HTTP_1_1);
  Message none;
  Delivery d = http_->execute(request, "", deadline, none);
  if (d.status != Delivery::Status::kAccepted || !d.reply) {
    return Error(ErrorCode::kTransient, describe() + ": " + d.detail);
  }
  auto set = KeySet::parse(d.reply->body());
  if (!set.ok()) return Error(ErrorCode::kTransient, describe() + ": " + set.error().message);
  return std::make_shared<const KeySet>(std::move(*set));
}

// One fetch at a time, outside the lock: the others go on with the keys there are (or,
// when there are none yet, wait for that fetch until their deadline).
Result<std::shared_ptr<const KeySet>> JwksSource::update(std::unique_lock<std::mutex>& lock,
                                                         Clock::time_point deadline) {
  fetching_ = true;
  lock.unlock();
  auto fresh = fetch(deadline);
  lock.lock();
  fetching_ = false;
  fetched_at_ = Clock::now();
  if (fresh.ok()) keys_ = *fresh;
  fetched_.notify_all();
  if (!fresh.ok() && !keys_) return fresh.error();
  return keys_;  // on a failure, the keys of the last fetch (the provider is away)
}

Result<std::shared_ptr<const KeySet>> JwksSource::keys(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  if (!http_) return keys_;
  if (keys_ && (fetching_ || Clock::now() - fetched_at_ < refresh_)) return keys_;
  if (fetching_) {  // none yet: the fetch under way
    fetched_.wait_until(lock, deadline, [this] { return !fetching_; });
    if (keys_) return keys_;
    return Error(ErrorCode::kTransient, describe() + ": no keys yet");
  }
  return update(lock, deadline);
}

Result<std::shared_ptr<const KeySet>> JwksSource::refetch(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  if (!http_ || fetching_ || (keys_ && Clock::now() - fetched_at_ < refetch_pause)) return keys_;
  return update(lock, deadline);
}

Result<StepOutcome> OidcVerifyStep::process(Exchange& exchange) {
  std::string token = s_.token->render(exchange);
  if (token.size() > 7 &&
      (token.compare(0, 7, "Bearer ") == 0 || token.compare(0, 7, "bearer ") == 0)) {
    token.erase(0, 7);
  }
  if (token.empty()) {
    return Error(ErrorCode::kUnauthorized,
                 "oidc-verify: no token (" + s_.token->source() + " is empty)");
  }
  const Clock::time_point deadline =
      std::min(exchange.deadline(), Clock::now() + std::chrono::seconds(10));
  auto keys = s_.jwks->keys(deadline);
  if (!keys.ok()) return Error(keys.error().code, "oidc-verify: " + keys.error().message);
  std::shared_ptr<const KeySet> set = *keys;
  if (!set->find(keyIdOf(token))) {  // a key the provider rotated in since
    if (auto again = s_.jwks->refetch(deadline); again.ok() && *again) set = *again;
  }
  auto v = verify(token, *set, s_.expect, std::chrono::system_clock::now());
  if (!v.ok()) return Error(v.error().code, "oidc-verify: " + v.error().message);
  for (const auto& [name, value] : s_.require) {
    const std::string want = value->render(exchange);
    auto it = v->claims.find(name);
    const std::string have = it == v->claims.end() ? std::string() : it->second;
    if (want.empty() || have != want) {
      return Error(ErrorCode::kUnauthorized, "oidc-verify: the token's " + name + " '" + have +
                                                 "' is not " + value->source() + " '" + want + "'");
    }
  }
  Message& m = exchange.message();
  auto claim = [&](const char* name) {
    auto it = v->claims.find(name);
    return it == v->claims.end() ? std::string() : it->second;
  };
  m.setHeader("identity.subject", claim("sub"));
  m.setHeader("identity.issuer", claim("iss"));
  m.setHeader("identity.level", claim("acr"));
  m.setHeader("identity.expires", expiresText(claim("exp")));
  for (const auto& [header, name] : s_.claims) {
    auto it = v->claims.find(name);
    if (it == v->claims.end()) {
      m.removeHeader(header);
    } else {
      m.setHeader(header, it->second);
    }
  }
  return StepOutcome::kContinue;
}

}  // namespace lienthong::identity

namespace lienthong::identity {
namespace {

bool base64Decode(const std::string& text, std::string& out) {
  std::string clean;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == ' ') continue;
    clean += c == '-' ? '+' : c == '_' ? '/' : c;  // either alphabet
  }
  while (clean.size() % 4 != 0) clean += '=';
  out.assign(clean.size() / 4 * 3 + 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(clean.data()),
                                static_cast<int>(clean.size()));
  if (n < 0) return false;
  std::size_t length = static_cast<std::size_t>(n);
  for (auto it = clean.rbegin(); it != clean.rend() && *it == '='; ++it) --length;
  out.resize(length);
  return true;
}

std::string jsonText(const Poco::JSON::Object& o, const std::string& name) {
  try {
    return o.has(name) ? o.get(name).convert<std::string>() : std::string();
  } catch (const Poco::Exception&) {
    return {};
  }
}

}  // namespace

Result<StepOutcome> WrappedResponseStep::process(Exchange& exchange) {
  const std::string what = "vneid-decrypt";
  Poco::JSON::Object::Ptr o;
  try {
    o = Poco::JSON::Parser().parse(exchange.message().body()).extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception&) {
  }
  if (!o) return Error(ErrorCode::kInvalidMessage, what + ": the body is not a JSON object");
  std::string wrapped, iv, data;
  for (const auto& [field, out] :
       {std::pair<const std::string&, std::string*>{s_.key_field, &wrapped},
        {s_.iv_field, &iv},
        {s_.data_field, &data}}) {
    const std::string text = jsonText(*o, field);
    if (text.empty() || !base64Decode(text, *out)) {
      return Error(ErrorCode::kInvalidMessage, what + ": the body has no " + field + " in base64");
    }
  }
  // The AES key, unwrapped with the agency's RSA key.
  EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new(s_.key->key(), nullptr);
  std::string aes(512, '\0');
  std::size_t aes_length = aes.size();
  bool ok = pctx && EVP_PKEY_decrypt_init(pctx) == 1;
  if (ok && s_.padding != "pkcs1") {
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_oaep_md(pctx,
                                      s_.padding == "oaep-sha1" ? EVP_sha1() : EVP_sha256()) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx,
                                      s_.padding == "oaep-sha1" ? EVP_sha1() : EVP_sha256()) == 1;
  } else if (ok) {
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
  }
  ok = ok && EVP_PKEY_decrypt(pctx, reinterpret_cast<unsigned char*>(aes.data()), &aes_length,
                              reinterpret_cast<const unsigned char*>(wrapped.data()),
                              wrapped.size()) == 1;
  EVP_PKEY_CTX_free(pctx);
  const bool gcm = s_.cipher.size() > 4 && s_.cipher.substr(s_.cipher.size() - 3) == "gcm";
  const std::size_t want = s_.cipher.rfind("aes-128", 0) == 0 ? 16 : 32;
  if (!ok || aes_length != want) {
    return Error(ErrorCode::kUnauthorized,
                 what + ": the key does not unwrap with key '" + s_.key->name() + "'");
  }
  aes.resize(aes_length);
  const EVP_CIPHER* cipher = EVP_get_cipherbyname(s_.cipher.c_str());
  if (!cipher) return Error(ErrorCode::kInternal, what + ": no cipher " + s_.cipher);
  std::string tag;
  if (gcm) {
    if (data.size() < 16) {
      return Error(ErrorCode::kUnauthorized, what + ": the data is shorter than its GCM tag");
    }
    tag = data.substr(data.size() - 16);
    data.resize(data.size() - 16);
  }
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  std::string plain(data.size() + 32, '\0');
  int n = 0;
  int total = 0;
  ok = c && EVP_DecryptInit_ex(c, cipher, nullptr, nullptr, nullptr) == 1;
  if (ok && gcm) {
    ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv.size()), nullptr) == 1;
  } else if (ok && iv.size() != 16) {
    ok = false;
  }
  ok = ok &&
       EVP_DecryptInit_ex(c, nullptr, nullptr, reinterpret_cast<const unsigned char*>(aes.data()),
                          reinterpret_cast<const unsigned char*>(iv.data())) == 1;
  ok = ok && EVP_DecryptUpdate(c, reinterpret_cast<unsigned char*>(plain.data()), &n,
                               reinterpret_cast<const unsigned char*>(data.data()),
                               static_cast<int>(data.size())) == 1;
  total = n;
  if (ok && gcm) {
    ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag.data()) == 1;
  }
  ok =
      ok && EVP_DecryptFinal_ex(c, reinterpret_cast<unsigned char*>(plain.data()) + total, &n) == 1;
  EVP_CIPHER_CTX_free(c);
  OPENSSL_cleanse(aes.data(), aes.size());
  if (!ok) {
    return Error(ErrorCode::kUnauthorized,
                 what + ": the data does not decrypt (tampered, or for another key)");
  }
  plain.resize(static_cast<std::size_t>(total + n));
  Message& m = exchange.message();
  m.setBody(std::move(plain));
  m.setContentType("application/json");
  return StepOutcome::kContinue;
}

}  // namespace lienthong::identity

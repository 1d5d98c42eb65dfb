#include "transforms/identity/identity_steps.h"

#include <Poco/Net/HTTPRequest.h>

#include <ctime>

namespace lienthong::identity {
namespace {

using Clock = std::chrono::steady_clock;

std::string utcText(const std::string& epoch_seconds) {
  try {
    const std::time_t t = static_cast<std::time_t>(std::stoll(epoch_seconds));
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
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
  m.setHeader("identity.expires", utcText(claim("exp")));
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

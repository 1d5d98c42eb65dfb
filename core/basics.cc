// Small definitions of the SDK value types.

#include <cstdio>
#include <random>

#include "lienthong/exchange.h"
#include "lienthong/message.h"
#include "lienthong/result.h"

namespace lienthong {

std::string_view errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidConfig:
      return "InvalidConfig";
    case ErrorCode::kInvalidMessage:
      return "InvalidMessage";
    case ErrorCode::kTransient:
      return "Transient";
    case ErrorCode::kPermanent:
      return "Permanent";
    case ErrorCode::kUnauthorized:
      return "Unauthorized";
    case ErrorCode::kTimeout:
      return "Timeout";
    case ErrorCode::kBusy:
      return "Busy";
    case ErrorCode::kInternal:
      return "Internal";
  }
  return "Internal";
}

std::string_view patternName(ExchangePattern pattern) {
  return pattern == ExchangePattern::kRequestReply ? "request-reply" : "one-way";
}

namespace {
const Body& emptyBody() {
  static const Body kEmpty = std::make_shared<const std::string>();
  return kEmpty;
}

// A per-thread generator seeded from the OS: ids need uniqueness, not secrecy.
std::mt19937_64& idGenerator() {
  thread_local std::mt19937_64 gen = [] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }();
  return gen;
}
}  // namespace

std::string newId() {
  auto& gen = idGenerator();
  std::uint64_t hi = gen();
  std::uint64_t lo = gen();
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 1
  char out[37];
  std::snprintf(out, sizeof out, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return out;
}

std::string newTraceId() {
  auto& gen = idGenerator();
  std::uint64_t hi = gen() | 1;  // never all zero
  std::uint64_t lo = gen();
  char out[33];
  std::snprintf(out, sizeof out, "%016llx%016llx", static_cast<unsigned long long>(hi),
                static_cast<unsigned long long>(lo));
  return out;
}

Message::Message() : id_(newId()), body_(emptyBody()) {}

Message::Message(std::string id) : id_(std::move(id)), body_(emptyBody()) {}

const std::string* Message::header(std::string_view name) const {
  auto it = headers_.find(name);
  return it == headers_.end() ? nullptr : &it->second;
}

void Message::removeHeader(std::string_view name) {
  auto it = headers_.find(name);
  if (it != headers_.end()) headers_.erase(it);
}

void Message::setBody(Body body) { body_ = body ? std::move(body) : emptyBody(); }

}  // namespace lienthong

#pragma once
// Result<T> and Error: the data plane never throws.

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace lienthong {

enum class ErrorCode {
  kInvalidConfig,   // a route or config file is wrong; found at load time
  kInvalidMessage,  // the message itself is wrong; retrying will not help
  kTransient,       // a peer or resource is unavailable for now; retry later
  kPermanent,       // the peer refused the message for good
  kUnauthorized,    // credentials or signature missing or wrong
  kTimeout,         // a deadline passed (treated as transient by delivery)
  kBusy,            // the engine is full; the input should push back
  kInternal,        // a bug or an impossible state
};

std::string_view errorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  Error() = default;
  Error(ErrorCode c, std::string m) : code(c), message(std::move(m)) {}
  bool transient() const {
    return code == ErrorCode::kTransient || code == ErrorCode::kTimeout || code == ErrorCode::kBusy;
  }
};

// A value or an Error. Deliberately small: has_value(), value(), error().
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

inline Error makeError(ErrorCode code, std::string message) { return {code, std::move(message)}; }

}  // namespace lienthong

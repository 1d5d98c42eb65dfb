#pragma once
// Endpoints: where routes take messages from (inbound) and deliver them to (outbound),
// plus the named listeners and connections of the daemon config that endpoints share.

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "lienthong/exchange.h"
#include "lienthong/result.h"

namespace lienthong {

// What an outbound endpoint did with a message.
struct Delivery {
  enum class Status {
    kAccepted,  // the peer took it (2xx); `reply` holds its answer, if any
    kRetry,     // transient: connection refused, timeout, 408/429/5xx
    kRejected,  // permanent: the peer refused it (other 4xx)
  };
  enum class Failure { kNone, kConnect, kTimeout, kRemote };

  Status status = Status::kAccepted;
  Failure failure = Failure::kNone;
  std::optional<Message> reply;  // the peer's answer, also for kRetry/kRejected if it sent one
  std::string detail;            // human-readable reason when not accepted

  static Delivery accepted(std::optional<Message> reply = std::nullopt) {
    return {Status::kAccepted, Failure::kNone, std::move(reply), {}};
  }
  static Delivery retry(Failure failure, std::string detail,
                        std::optional<Message> reply = std::nullopt) {
    return {Status::kRetry, failure, std::move(reply), std::move(detail)};
  }
  static Delivery rejected(std::string detail, std::optional<Message> reply = std::nullopt) {
    return {Status::kRejected, Failure::kRemote, std::move(reply), std::move(detail)};
  }
};

// Contract: send() is called from engine worker threads, concurrently; it blocks until
// the peer settled the message or the exchange's deadline/endpoint timeout passed. It
// never throws.
//
// An endpoint whose peer settles many messages in flight (a broker) may also say
// asynchronous(): the engine then calls sendAsync() instead, which starts the delivery
// and returns at once, so that a worker is not held while the peer settles.
class OutboundEndpoint {
 public:
  using SendDone = std::function<void(Delivery)>;

  virtual ~OutboundEndpoint() = default;
  virtual Delivery send(Exchange& exchange) = 0;
  // Whether the engine should use sendAsync(). Constant for the endpoint's life.
  virtual bool asynchronous() const { return false; }
  // Engine worker threads, concurrently; never throws. Reads the exchange only during
  // the call (it may be gone or in use elsewhere once `done` ran). `done` is called
  // exactly once, from any thread and possibly before sendAsync() returns, by the
  // exchange's deadline or the endpoint's own timeout at the latest; it only queues
  // the result and takes no lock of the endpoint's.
  virtual void sendAsync(Exchange& exchange, SendDone done) { done(send(exchange)); }
  // A short description for logs, e.g. "http POST http://host:port/path".
  virtual std::string describe() const = 0;
  // Where this exchange goes: the description with its templates rendered for it
  // ("http POST http://host:port/in/000.00.01.H22-240315-0001"). Thread-safe.
  virtual std::string target(const Exchange& /*exchange*/) const { return describe(); }
  // Why the endpoint would reject this exchange before sending anything (a file name it
  // cannot use, a header with a line break), or "" when it would send it. Thread-safe.
  virtual std::string refusal(const Exchange& /*exchange*/) const { return {}; }
  // The peer this endpoint reaches ("http://host:port"): endpoints with the same peer
  // share a circuit breaker. Thread-safe.
  virtual std::string peer() const { return describe(); }
  // Thread-safe: false while the endpoint knows it cannot deliver (a broker connection
  // that is down). A one-way message that would only be held in memory (no store) is
  // then refused at its input instead of acknowledged.
  virtual bool ready() const { return true; }
};

// The final outcome of one exchange, given to the inbound endpoint that submitted it.
struct Outcome {
  enum class Status {
    kDelivered,     // steps ran and the `to` endpoint (if any) accepted
    kStopped,       // a step ended the route early (filter); nothing to deliver
    kFailed,        // an error ended the exchange (see error/delivery)
    kDeadLettered,  // given up after retries, or rejected; the reason is in error
    kAbandoned,     // the daemon stopped before the message was delivered: an input that
                    // can, keeps it for the next start (a file stays in the work folder)
  };
  Status status = Status::kDelivered;
  Message message{std::string()};    // the result (reply of `to`, or the message after steps)
  Error error;                       // set when not delivered
  std::optional<Delivery> delivery;  // the last attempt's delivery, when `to` was called
};

using Completion = std::function<void(Outcome&&)>;

enum class Admission {
  kAccepted,     // the engine took the message; the completion will be called exactly once
  kBusy,         // the engine is full: push back (HTTP 503, pause the input)
  kStopping,     // the daemon is shutting down
  kUnavailable,  // a one-way message cannot be kept now (the store: full disk, I/O error,
                 // not open; without a store: the output is down): push back, as for kBusy;
                 // the daemon log says why
};

// The route's side of an inbound endpoint. Provided by the engine to start().
class InboundContext {
 public:
  virtual ~InboundContext() = default;
  // Thread-safe. Hands a message to the route; when the engine is full it waits up to
  // the daemon's `admission-wait` for a place before it answers kBusy. When it returns
  // kAccepted, `done` is
  // called exactly once, from an engine thread or, for a request-reply route, possibly on
  // the calling thread before submit() returns (when a worker slot is free).
  virtual Admission submit(Message message, Completion done) = 0;

  struct Admitted {
    Admission admission = Admission::kBusy;
    // Set when the exchange was admitted to run on the caller's thread: the caller calls
    // it (after releasing its own locks), and it calls the completion. If it is dropped
    // without a call, its destructor runs the exchange.
    std::function<void()> run;
  };
  // Thread-safe. For an input whose caller waits for the outcome anyway (request-reply):
  // like submit(), except that when a worker slot is free the exchange is handed back in
  // `run` instead of being run inside this call, saving two thread hand-offs.
  virtual Admitted admit(Message message, Completion done) {
    return {submit(std::move(message), std::move(done)), {}};
  }
  virtual const std::string& routeId() const = 0;
  virtual ExchangePattern pattern() const = 0;
  // How long a request-reply caller may wait for the outcome (the route's `timeout`).
  virtual std::chrono::milliseconds timeout() const = 0;
  // Thread-safe: whether an accepted one-way message is already kept (journalled in the
  // store) when submit() returns, so that the input may settle it then; otherwise it
  // should wait for the outcome.
  virtual bool journalled() const { return false; }
};

// Contract: start() and stop() are called from the control thread (start-up, reload,
// shutdown). The context outlives the endpoint's started period. stop() returns once no
// new message will be submitted; messages already submitted finish on their own.
class InboundEndpoint {
 public:
  virtual ~InboundEndpoint() = default;
  virtual Result<void> start(InboundContext& context) = 0;
  virtual void stop() = 0;
  virtual std::string describe() const = 0;
  // Whether the input's source keeps each message until the input settles it by its
  // outcome (a broker queue): the engine then does not journal it (the broker is its
  // journal), and a route's idempotency keys are recorded when a message is delivered.
  virtual bool keepsMessages() const { return false; }
  // A key no other route's inbound endpoint may share (e.g. "http public /dossiers"), so
  // that the loader refuses two routes bound to the same input. Empty: no such limit.
  virtual std::string exclusiveKey() const { return {}; }
};

// A named listener of the daemon config (an HTTP port, say). Started before the routes,
// stopped after them; shared by every route that names it. Control thread only.
class Listener {
 public:
  virtual ~Listener() = default;
  virtual Result<void> start() = 0;
  virtual void stop() = 0;
  virtual std::string describe() const = 0;
};

// A named outbound connection of the daemon config (URL, TLS, pool). Shared by routes.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual std::string describe() const = 0;
};

}  // namespace lienthong

#pragma once
// An AMQP 1.0 connection of the daemon config (Qpid Proton C++): one container on its
// own thread, one connection with failover URLs and reconnect, the senders and receivers
// of every route that names it. Proton objects live on that thread only; other threads
// reach them through the container's work queue. Nothing connects until the first
// route uses the connection (so that `lienthongctl lint` never dials a broker).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lienthong/endpoint.h"
#include "lienthong/result.h"

namespace lienthong::adapters::amqp {

struct AmqpConnectionSettings {
  std::string name;
  std::vector<std::string> urls;  // amqp://host:port or amqps://...; tried in order
  std::string user;
  std::string password;
  std::string sasl_mechanisms;       // "" = Proton's choice; "ANONYMOUS", "PLAIN", "EXTERNAL"
  bool sasl_allow_insecure = false;  // PLAIN over a connection without TLS
  struct Tls {
    std::string ca;    // the broker's CA (PEM); "" = the system's
    std::string cert;  // client certificate (PEM), for EXTERNAL or mutual TLS
    std::string key;
    bool verify = true;  // check the broker's certificate and name
  } tls;
  std::chrono::milliseconds reconnect_initial{100};
  std::chrono::milliseconds reconnect_max{10'000};
  std::chrono::milliseconds idle_timeout{30'000};
};

// What a receiver took, until it is settled.
struct Received {
  Message message{std::string()};
  std::uint64_t key = 0;  // for settle(); valid on the connection it came on only
};

enum class Settle {
  kAccept,   // kept (journalled) or delivered
  kReject,   // permanent: the broker dead-letters or drops it, with the reason
  kRelease,  // transient, not tried: the broker hands it out again as it was
  kModify,   // transient, tried: delivery-failed, counted by the broker
};

class AmqpConnection final : public Connection {
 public:
  using Clock = std::chrono::steady_clock;
  // On the AMQP thread: a message arrived. It must be settled (any thread) exactly once.
  using OnMessage = std::function<void(Received)>;

  static Result<std::shared_ptr<AmqpConnection>> create(AmqpConnectionSettings settings);
  // Why `url` is not one a connection takes ("" when it is: amqp:// or amqps://).
  static std::string urlProblem(const std::string& url);
  static bool isTls(const std::string& url);
  ~AmqpConnection() override;
  AmqpConnection(const AmqpConnection&) = delete;
  AmqpConnection& operator=(const AmqpConnection&) = delete;

  std::string describe() const override;
  const AmqpConnectionSettings& settings() const { return settings_; }

  // Any thread. Sends a durable message to `address`; `done` gets the broker's
  // settlement, once, on the AMQP thread (or on this one when it cannot go out): accepted,
  // rejected (permanent, with the broker's reason) or anything else (retry), or a retry
  // at `deadline` (a minute when max()); a send still waiting for credit at its deadline
  // is not sent. `group_id` "" = none. What it needs from `message` is copied before it
  // returns.
  void sendAsync(const std::string& address, const Message& message, const std::string& group_id,
                 Clock::time_point deadline, std::function<void(Delivery)> done);

  // Control thread. Opens a receiver on `address` (again after every reconnect) with at
  // most `credit` messages unsettled; returns its id.
  std::uint64_t subscribe(const std::string& address, std::uint32_t credit, OnMessage on_message);
  // Control thread. Closes the receiver and waits until the AMQP thread let go of it:
  // no call of its OnMessage follows. Its unsettled messages go back to the broker.
  void unsubscribe(std::uint64_t id);
  // Thread-safe. Settles a received message; a key from a connection that was lost since
  // is ignored (the broker hands the message out again).
  void settle(std::uint64_t key, Settle how, const std::string& reason = {});

  // Thread-safe: whether the connection is up now.
  bool connected() const;
  // Thread-safe: starts connecting (once); routes that use the connection call it when
  // they are built for the daemon, so that it is up when their first message comes.
  void start() { ensureStarted(); }
  // Thread-safe: whether a send could go now; the first call starts the connection (and
  // says false until it is up).
  bool readyToSend();

 private:
  explicit AmqpConnection(AmqpConnectionSettings settings);
  void ensureStarted();

  class Handler;
  AmqpConnectionSettings settings_;
  std::unique_ptr<Handler> handler_;
};

}  // namespace lienthong::adapters::amqp

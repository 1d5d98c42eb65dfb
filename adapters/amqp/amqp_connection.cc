#include "adapters/amqp/amqp_connection.h"

#include <proton/delivery.h>
#include <proton/disposition.h>
#include <proton/codec/map.hpp>
#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/container.hpp>
#include <proton/delivery.hpp>
#include <proton/error_condition.hpp>
#include <proton/message.hpp>
#include <proton/message_id.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver.hpp>
#include <proton/receiver_options.hpp>
#include <proton/reconnect_options.hpp>
#include <proton/scalar.hpp>
#include <proton/sender.hpp>
#include <proton/sender_options.hpp>
#include <proton/session.hpp>
#include <proton/source.hpp>
#include <proton/source_options.hpp>
#include <proton/ssl.hpp>
#include <proton/target.hpp>
#include <proton/target_options.hpp>
#include <proton/tracker.hpp>
#include <proton/transport.hpp>
#include <proton/types.hpp>
#include <proton/work_queue.hpp>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "lienthong/log.h"

// Proton's C++ binding has no public way to give a rejection its reason (an AMQP error
// condition on the disposition); the delivery class befriends this factory, which hands
// out the C object for that one call.
namespace proton::internal {
template <>
class factory<proton::delivery> {
 public:
  static pn_delivery_t* lienthongRawDelivery(const proton::delivery& d) { return d.pn_object(); }
};
}  // namespace proton::internal

namespace lienthong::adapters::amqp {

namespace {

using std::chrono::milliseconds;

proton::duration toDuration(milliseconds ms) {
  return proton::duration(static_cast<proton::duration::numeric_type>(ms.count()));
}

// A value of an application property or an id, as text.
std::string text(const proton::scalar& v) {
  if (v.empty()) return {};
  switch (v.type()) {
    case proton::STRING:
      return proton::get<std::string>(v);
    case proton::SYMBOL:
      return proton::get<proton::symbol>(v);
    case proton::BINARY: {
      const proton::binary b = proton::get<proton::binary>(v);
      return std::string(b.begin(), b.end());
    }
    default:
      return proton::to_string(v);
  }
}

std::string text(const proton::message_id& id) {
  if (id.empty()) return {};
  switch (id.type()) {
    case proton::STRING:
      return proton::get<std::string>(id);
    case proton::BINARY: {
      const proton::binary b = proton::get<proton::binary>(id);
      return std::string(b.begin(), b.end());
    }
    default:
      return proton::to_string(id);
  }
}

// Headers that describe a transport, not the message: not sent as properties.
bool transportHeader(const std::string& name) {
  return name.rfind("http.", 0) == 0 || name.rfind("amqp.", 0) == 0 || name.rfind("file.", 0) == 0;
}

}  // namespace

class AmqpConnection::Handler final : public proton::messaging_handler {
 public:
  Handler(const AmqpConnectionSettings& s, std::string description)
      : s_(s), description_(std::move(description)) {}
  ~Handler() override { stop(); }

  // Any thread: the container starts on its own thread once.
  void start() {
    std::lock_guard lock(start_mutex_);
    if (stopped_ || container_) return;
    started_ = true;
    container_ = std::make_unique<proton::container>(*this, "lienthong-" + s_.name);
    container_->auto_stop(false);  // it runs until stop(), connected or not
    queue_ = std::make_unique<proton::work_queue>(*container_);
    thread_ = std::thread([this] {
      try {
        container_->run();
      } catch (const std::exception& e) {
        log::error("amqp", "connection " + s_.name + ": the AMQP thread ended: " + e.what());
      }
    });
  }

  // Closes the connection (the broker gets our last settlements), then the container.
  // Never holds start_mutex_ while the AMQP thread runs: its handlers take it.
  void stop() {
    {
      std::lock_guard lock(start_mutex_);
      if (stopped_ || !container_) {
        stopped_ = true;
        return;
      }
      closing_ = true;
      if (connection_queue_) {
        connection_queue_->add([this] {
          if (connection_ && connection_.active()) connection_.close();
        });
      }
    }
    {
      std::unique_lock lock(closed_mutex_);
      closed_cv_.wait_for(lock, std::chrono::seconds(2), [&] { return !connected_.load(); });
    }
    {
      std::lock_guard lock(start_mutex_);
      stopped_ = true;
      connection_queue_ = nullptr;
    }
    container_->stop();
    if (thread_.joinable()) thread_.join();
    {
      std::lock_guard lock(start_mutex_);  // post() and start() read them under it
      queue_.reset();
      container_.reset();
    }
    // The AMQP thread is gone: what it had not settled is failed here.
    const Delivery closed =
        Delivery::retry(Delivery::Failure::kConnect, "the connection was closed at stop");
    failOutbox(closed);
    failSends(everySend, closed);
  }

  bool connected() const { return connected_.load(); }
  bool started() const { return started_.load(); }

  // Any thread: runs `fn` on the AMQP thread; false when the container is gone. Through
  // the connection's own queue while it is open, so that what `fn` does (a send, a
  // settlement) goes out at once: the container's queue would not wake the connection.
  bool post(std::function<void()> fn) {
    std::lock_guard lock(start_mutex_);
    if (stopped_ || !queue_) return false;
    if (connection_queue_) return connection_queue_->add(std::move(fn));
    return queue_->add(std::move(fn));
  }

  // --- sends -----------------------------------------------------------------------
  struct PendingSend {
    std::string address;
    proton::message message;
    Clock::time_point deadline;
    std::function<void(Delivery)> done;
    bool finished = false;  // AMQP thread only (or after it ended)
  };

  // Any thread: sends and settlements wait in one outbox, and the AMQP thread is woken
  // once for all that gathered meanwhile, not once each.
  void enqueueSend(std::shared_ptr<PendingSend> p) {
    Op op;
    op.send = std::move(p);
    enqueue(std::move(op));
  }
  void enqueueSettle(std::uint64_t key, Settle how, const std::string& reason) {
    Op op;
    op.key = key;
    op.how = how;
    op.reason = reason;
    enqueue(std::move(op));
  }

  // AMQP thread.
  void send(const std::shared_ptr<PendingSend>& p) {
    if (!connection_ || !connected_) {
      finish(*p, Delivery::retry(Delivery::Failure::kConnect, "not connected to the broker"));
      return;
    }
    auto it = senders_.find(p->address);
    if (it == senders_.end()) {
      proton::sender_options options;
      options.delivery_mode(proton::delivery_mode::AT_LEAST_ONCE);
      // A durable terminus: a broker that creates the queue on attach (RabbitMQ's
      // /queue/NAME) makes it durable, and agrees with one declared durable.
      options.target(proton::target_options().durability_mode(proton::terminus::CONFIGURATION));
      options.auto_settle(true);
      // Each link on a session of its own: RabbitMQ ends the session (its channel) of a
      // link it refuses, and that must not take the other links with it.
      proton::sender s = connection_.open_session().open_sender(p->address, options);
      log::debug("amqp", "connection " + s_.name + ": opening a sender to " + p->address);
      it = senders_.emplace(p->address, Sender{s, {}}).first;
    }
    it->second.used = Clock::now();
    waiting_[p->address].push_back(p);
    flush(p->address);
  }

  // --- receivers -------------------------------------------------------------------
  struct Subscription {
    std::string address;
    std::uint32_t credit = 0;
    OnMessage on_message;
    proton::receiver receiver;
    bool open = false;
    bool closing = false;                      // unsubscribed: waits for the broker's detach
    Clock::time_point reattach_at;             // when the sweep attaches it again; {} = not
    std::chrono::milliseconds reattach_in{0};  // the next wait once the broker detaches it
    std::string last_trouble;                  // the last reason logged, and when
    Clock::time_point last_trouble_logged;
  };

  // AMQP thread.
  void subscribe(std::uint64_t id, Subscription sub) {
    auto& s = subscriptions_[id] = std::move(sub);
    if (connection_ && connected_) openReceiver(id, s);
  }

  // AMQP thread. No call of its OnMessage follows this one.
  void unsubscribe(std::uint64_t id) {
    auto it = subscriptions_.find(id);
    if (it == subscriptions_.end()) return;
    it->second.on_message = nullptr;
    if (connected_ && it->second.receiver) {  // open, or its attach under way
      it->second.closing = true;
      it->second.receiver.close();  // the broker's detach answer removes it (or a loss)
      return;
    }
    subscriptions_.erase(it);
  }

  // AMQP thread.
  void settle(std::uint64_t key, Settle how, const std::string& reason) {
    auto it = received_.find(key);
    if (it == received_.end()) return;  // from a connection lost since: redelivered
    proton::delivery d = it->second.delivery;
    const std::uint64_t sub = it->second.subscription;
    const proton::receiver from = d.receiver();
    received_.erase(it);
    switch (how) {
      case Settle::kAccept:
        d.accept();
        break;
      case Settle::kReject: {
        pn_delivery_t* raw = proton::internal::factory<proton::delivery>::lienthongRawDelivery(d);
        pn_condition_t* c = pn_disposition_condition(pn_delivery_local(raw));
        pn_condition_set_name(c, "amqp:not-allowed");
        pn_condition_set_description(c, reason.c_str());
        d.reject();
        break;
      }
      case Settle::kRelease:
        d.release();
        break;
      case Settle::kModify: {
        // delivery-failed: the broker counts the attempt (the binding's modify() does not).
        pn_delivery_t* raw = proton::internal::factory<proton::delivery>::lienthongRawDelivery(d);
        pn_disposition_set_failed(pn_delivery_local(raw), true);
        d.modify();
        break;
      }
    }
    auto s = subscriptions_.find(sub);
    if (s != subscriptions_.end() && s->second.open && s->second.receiver == from &&
        s->second.receiver.active() && !s->second.closing) {
      s->second.receiver.add_credit(1);
    }
  }

  // --- events ----------------------------------------------------------------------
  void on_container_start(proton::container& c) override {
    connection_ = c.connect(s_.urls.front(), connectionOptions());
    c.schedule(sweepEvery(), [this] { sweep(); });
  }

  proton::connection_options connectionOptions() const {
    proton::connection_options o;
    o.idle_timeout(toDuration(s_.idle_timeout));
    if (!s_.user.empty()) o.user(s_.user);
    if (!s_.password.empty()) o.password(s_.password);
    o.sasl_enabled(true);
    if (!s_.sasl_mechanisms.empty()) o.sasl_allowed_mechs(s_.sasl_mechanisms);
    o.sasl_allow_insecure_mechs(s_.sasl_allow_insecure);
    if (isTls(s_.urls.front())) {
      const auto mode = s_.tls.verify ? proton::ssl::VERIFY_PEER_NAME : proton::ssl::ANONYMOUS_PEER;
      if (!s_.tls.cert.empty()) {
        o.ssl_client_options(proton::ssl_client_options(
            proton::ssl_certificate(s_.tls.cert, s_.tls.key), s_.tls.ca, mode));
      } else if (!s_.tls.ca.empty()) {
        o.ssl_client_options(proton::ssl_client_options(s_.tls.ca, mode));
      } else {
        o.ssl_client_options(proton::ssl_client_options(mode));
      }
    }
    proton::reconnect_options r;
    r.delay(toDuration(s_.reconnect_initial));
    r.delay_multiplier(2.0F);
    r.max_delay(toDuration(s_.reconnect_max));
    o.reconnect(r);
    if (s_.urls.size() > 1) {
      o.failover_urls(std::vector<std::string>(s_.urls.begin() + 1, s_.urls.end()));
    }
    return o;
  }

  void on_connection_open(proton::connection& c) override {
    connection_ = c;
    {
      std::lock_guard lock(start_mutex_);
      connection_queue_ = &c.work_queue();
    }
    connected_ = true;
    log::info(
        "amqp",
        "connection " + s_.name + " open (" + c.transport().connection().container_id() +
            (c.reconnected() ? ", reconnected" : "") +
            (failed_attempts_ ? " after " + std::to_string(failed_attempts_) + " failed attempt(s))"
                              : ")"));
    failed_attempts_ = 0;
    last_failure_.clear();
    error_seen_ = false;
    opened_at_ = Clock::now();
    for (auto& [id, sub] : subscriptions_) openReceiver(id, sub);
  }

  // A transport error with reconnect on: Proton reconnects, and no transport close follows.
  // A connection the broker closed (with an error or without) ends with a transport close
  // without a condition, which Proton does not reconnect: dialed again here. Each failure
  // is counted once, with the first reason said.
  void on_transport_error(proton::transport& t) override {
    error_seen_ = true;
    lost("transport: " + t.error().what());
  }
  void on_connection_error(proton::connection& c) override {
    error_seen_ = true;
    lost("connection: " + c.error().what());
  }
  void on_connection_close(proton::connection&) override {
    if (closing_) {
      lost("closed by us");
    } else {
      lost("closed by the broker", !std::exchange(error_seen_, true));
    }
  }
  void on_transport_close(proton::transport&) override {
    lost("closed", !std::exchange(error_seen_, false));
    if (closing_ || stopped_.load()) return;
    // A broker that closes each connection as it opens is not dialed ever faster: the
    // wait starts over only after a connection that lasted.
    if (Clock::now() - opened_at_ > std::chrono::seconds(30)) redial_in_ = {};
    const std::chrono::milliseconds wait =
        redial_in_.count() > 0 ? redial_in_ : s_.reconnect_initial;
    redial_in_ = std::min(wait * 2, s_.reconnect_max);
    redial_at_ = Clock::now() + wait;  // the sweep dials
    log::warn("amqp", "connection " + s_.name + ": dialing again in " +
                          std::to_string(wait.count()) + "ms");
  }

  void on_error(const proton::error_condition& e) override {
    log::error("amqp", "connection " + s_.name + ": " + e.what());
  }

  void on_sender_open(proton::sender& s) override {
    log::debug("amqp", "connection " + s_.name + ": sender open to " + s.target().address() +
                           ", credit " + std::to_string(s.credit()));
  }
  void on_sendable(proton::sender& s) override {
    log::debug("amqp",
               "connection " + s_.name + ": sendable, credit " + std::to_string(s.credit()));
    for (auto& [address, sender] : senders_) {
      if (sender.link == s) {
        flush(address);
        return;
      }
    }
  }

  void on_sender_error(proton::sender& s) override {
    const std::string why = s.error().what();
    for (auto it = senders_.begin(); it != senders_.end(); ++it) {
      if (it->second.link != s) continue;
      log::error("amqp", "connection " + s_.name + ": sender to " + it->first + ": " + why);
      failWaiting(it->first,
                  Delivery::retry(Delivery::Failure::kRemote,
                                  "the broker closed the link to " + it->first + ": " + why));
      senders_.erase(it);
      s.session().close();  // the link's own; the next send attaches anew
      return;
    }
  }
  // RabbitMQ answers a closing detach with a non-closing one: both end the sender.
  void on_sender_close(proton::sender& s) override { senderEnded(s); }
  void on_sender_detach(proton::sender& s) override { senderEnded(s); }
  void senderEnded(proton::sender& s) {
    for (auto it = senders_.begin(); it != senders_.end(); ++it) {
      if (it->second.link == s) {
        failWaiting(it->first, Delivery::retry(Delivery::Failure::kRemote, "the link closed"));
        senders_.erase(it);
        s.session().close();
        return;
      }
    }
  }

  void on_tracker_accept(proton::tracker& t) override { settled(t, Delivery::accepted()); }
  void on_tracker_reject(proton::tracker& t) override {
    settled(t, Delivery::rejected("the broker rejected the message"));
  }
  void on_tracker_release(proton::tracker& t) override {
    settled(t, Delivery::retry(Delivery::Failure::kRemote, "the broker released the message"));
  }
  void on_tracker_settle(proton::tracker& t) override {
    settled(
        t, Delivery::retry(Delivery::Failure::kRemote, "settled by the broker without an outcome"));
  }

  void on_receiver_open(proton::receiver& r) override {
    log::debug("amqp", "connection " + s_.name + ": receiver open on " + r.source().address());
    for (auto& [id, sub] : subscriptions_) {
      if (sub.receiver == r) {
        sub.open = true;
        r.add_credit(sub.credit);
        return;
      }
    }
  }
  void on_receiver_error(proton::receiver&) override {}  // said when it ends, below
  // RabbitMQ answers a closing detach with a non-closing one: both end the receiver.
  void on_receiver_close(proton::receiver& r) override { receiverEnded(r); }
  void on_receiver_detach(proton::receiver& r) override { receiverEnded(r); }

  void on_message(proton::delivery& d, proton::message& m) override {
    proton::receiver r = d.receiver();
    std::uint64_t sub_id = 0;
    Subscription* sub = nullptr;
    for (auto& [id, s] : subscriptions_) {
      if (s.receiver == r) {
        sub_id = id;
        sub = &s;
        break;
      }
    }
    if (!sub || !sub->on_message) {
      d.release();
      return;
    }
    if (sub->reattach_in.count() > 0) {  // attached again, and working
      sub->reattach_in = std::chrono::milliseconds(0);
      sub->last_trouble.clear();
    }
    Received got;
    got.key = ++next_key_;
    Message& msg = got.message;
    const std::string id = text(m.id());
    msg = id.empty() ? Message() : Message(id);  // without an id, a fresh one
    msg.setCorrelationId(text(m.correlation_id()));
    msg.setContentType(m.content_type());
    const proton::value& body = m.body();
    std::string unreadable;  // why the message cannot be taken, if it cannot
    switch (body.type()) {
      case proton::BINARY: {
        const proton::binary b = proton::get<proton::binary>(body);
        msg.setBody(std::string(b.begin(), b.end()));
        break;
      }
      case proton::STRING:
        msg.setBody(proton::get<std::string>(body));
        break;
      case proton::NULL_TYPE:
        msg.setBody(std::string());
        break;
      default:
        unreadable = "the body is an AMQP " + proton::type_name(body.type()) +
                     " value; lienthong takes data (binary) or string bodies";
        break;
    }
    if (!m.properties().empty()) {
      std::map<std::string, proton::scalar> properties;
      try {
        proton::get(m.properties().value(), properties);
      } catch (const proton::error&) {
        unreadable = "its application properties are not all string keys with simple values";
      }
      for (const auto& [name, value] : properties) msg.setHeader(name, text(value));
    }
    if (!m.group_id().empty()) msg.setHeader("amqp.group-id", m.group_id());
    if (!m.subject().empty()) msg.setHeader("amqp.subject", m.subject());
    msg.setHeader("amqp.address", sub->address);
    received_[got.key] = {d, sub_id};
    if (!unreadable.empty()) {
      log::warn("amqp", "connection " + s_.name + ": rejected message " + msg.id() + " on " +
                            sub->address + ": " + unreadable);
      settle(got.key, Settle::kReject, unreadable);
      return;
    }
    sub->on_message(std::move(got));
  }

 private:
  struct Taken {
    proton::delivery delivery;
    std::uint64_t subscription = 0;
  };

  void openReceiver(std::uint64_t id, Subscription& sub) {
    proton::receiver_options o;
    o.auto_accept(false);
    o.source(proton::source_options().durability_mode(proton::terminus::CONFIGURATION));
    o.credit_window(0);  // credit is granted by hand: one per settled message
    o.name("lienthong-" + s_.name + "-" + std::to_string(id));
    sub.open = false;
    sub.reattach_at = {};
    sub.receiver = connection_.open_session().open_receiver(sub.address, o);
  }

  void receiverEnded(proton::receiver& r) {
    for (auto it = subscriptions_.begin(); it != subscriptions_.end(); ++it) {
      if (it->second.receiver != r) continue;
      r.session().close();  // the link's own (closed by us: on_session_close skips it)
      linkEnded(it, r.error().empty() ? "detached" : r.error().what());
      return;
    }
  }

  // The broker ended a link's session (RabbitMQ does so when it refuses an attach, with
  // the reason): a receiver is attached again later, a sender at the next send.
  void on_session_error(proton::session&) override {}  // said by on_session_close
  void on_session_close(proton::session& ss) override {
    if (closing_) return;
    const std::string why = ss.error().empty() ? "ended" : ss.error().what();
    for (auto it = subscriptions_.begin(); it != subscriptions_.end(); ++it) {
      if (!it->second.receiver || it->second.receiver.session() != ss) continue;
      linkEnded(it, why);
      return;
    }
    for (auto it = senders_.begin(); it != senders_.end(); ++it) {
      if (it->second.link.session() != ss) continue;
      log::error("amqp", "connection " + s_.name + ": sender to " + it->first + ": " + why);
      failWaiting(it->first,
                  Delivery::retry(Delivery::Failure::kRemote,
                                  "the broker closed the link to " + it->first + ": " + why));
      senders_.erase(it);
      return;
    }
  }

  // A receiver's link ended: what came through it is void (the broker hands it out
  // again; its settlement is ignored and grants no credit to the next link).
  void linkEnded(std::map<std::uint64_t, Subscription>::iterator it, const std::string& why) {
    const std::uint64_t id = it->first;
    std::erase_if(received_, [id](const auto& taken) { return taken.second.subscription == id; });
    if (it->second.closing) {
      subscriptions_.erase(it);
      return;
    }
    it->second.receiver = proton::receiver();
    it->second.open = false;
    reattachLater(it->second, why);
  }

  // The broker detached a receiver while the connection stays up (the attach was
  // refused, an operator closed the consumer): the sweep attaches it again after a wait
  // that doubles up to the reconnect maximum and is reset by a message received. Said at
  // ERROR when the reason changes, and once a minute while it stays the same.
  void reattachLater(Subscription& sub, const std::string& why) {
    if (!connection_ || !connected_ || closing_ || stopped_.load()) return;  // reconnect does
    const std::chrono::milliseconds wait =
        sub.reattach_in.count() > 0 ? sub.reattach_in : s_.reconnect_initial;
    sub.reattach_in = std::min(wait * 2, s_.reconnect_max);
    const auto now = Clock::now();
    if (why != sub.last_trouble || now - sub.last_trouble_logged >= std::chrono::minutes(1)) {
      log::error("amqp", "connection " + s_.name + ": the broker detached the receiver on " +
                             sub.address + " (" + why + "); attaching it again in " +
                             std::to_string(wait.count()) + "ms, and on after that");
      sub.last_trouble = why;
      sub.last_trouble_logged = now;
    }
    sub.reattach_at = now + wait;
  }

  void flush(const std::string& address) {
    auto s = senders_.find(address);
    auto w = waiting_.find(address);
    if (s == senders_.end() || w == waiting_.end()) return;
    proton::sender& sender = s->second.link;
    const auto now = Clock::now();
    while (!w->second.empty() && sender.active() && sender.credit() > 0) {
      std::shared_ptr<PendingSend> p = std::move(w->second.front());
      w->second.pop_front();
      if (p->finished) continue;
      if (p->deadline <= now) {  // too late: its retry would make a second copy
        finish(*p, late());
        continue;
      }
      const std::uint64_t tag = ++next_tag_;
      sender.send(p->message, proton::binary(reinterpret_cast<const char*>(&tag),
                                             reinterpret_cast<const char*>(&tag) + sizeof tag));
      unsettled_[tag] = std::move(p);
    }
  }

  void settled(proton::tracker& t, Delivery outcome) {
    const proton::binary tag = t.tag();
    std::uint64_t key = 0;
    if (tag.size() != sizeof key) return;
    std::memcpy(&key, tag.data(), sizeof key);
    auto it = unsettled_.find(key);
    if (it == unsettled_.end()) return;  // failed already (deadline, lost link)
    std::shared_ptr<PendingSend> p = std::move(it->second);
    unsettled_.erase(it);
    finish(*p, std::move(outcome));
  }

  void finish(PendingSend& p, Delivery outcome) {
    if (p.finished) return;
    p.finished = true;
    if (outcome.status != Delivery::Status::kAccepted) {
      outcome.detail = description_ + " " + p.address + ": " + outcome.detail;
    }
    auto done = std::move(p.done);
    done(std::move(outcome));
  }

  static Delivery late() {
    return Delivery::retry(Delivery::Failure::kTimeout, "no settlement from the broker in time");
  }

  // AMQP thread (or stop(), once it has ended): fails, and forgets, every send waiting or
  // unsettled that `matches`; a late settlement of one of them finds nothing.
  template <typename Matches>
  void failSends(const Matches& matches, const Delivery& why) {
    for (auto w = waiting_.begin(); w != waiting_.end();) {
      auto& list = w->second;
      for (auto it = list.begin(); it != list.end();) {
        if (matches(**it)) {
          finish(**it, why);
          it = list.erase(it);
        } else {
          ++it;
        }
      }
      w = list.empty() ? waiting_.erase(w) : std::next(w);
    }
    for (auto it = unsettled_.begin(); it != unsettled_.end();) {
      if (matches(*it->second)) {
        finish(*it->second, why);
        it = unsettled_.erase(it);
      } else {
        ++it;
      }
    }
  }
  static bool everySend(const PendingSend&) { return true; }

  // AMQP thread, every sweepEvery(): sends past their deadline fail (retry) now;
  // receivers due are attached again; senders idle for kSenderIdle are closed with their
  // session (sends to an address rendered per message must not pile links up); a
  // connection the broker closed is dialed again. Short waits only: a long timer would
  // hold container::run() past stop().
  void sweep() {
    const auto now = Clock::now();
    failSends([now](const PendingSend& p) { return p.deadline <= now; }, late());
    const bool up = connection_ && connected_ && !closing_ && !stopped_.load();
    for (auto& [id, sub] : subscriptions_) {
      if (sub.reattach_at != Clock::time_point{} && sub.reattach_at <= now) {
        sub.reattach_at = {};
        if (up && !sub.closing && !sub.receiver) openReceiver(id, sub);
      }
    }
    for (auto it = senders_.begin(); it != senders_.end();) {
      if (now - it->second.used < kSenderIdle || waiting_.count(it->first) != 0) {
        ++it;
        continue;
      }
      proton::sender link = it->second.link;
      it = senders_.erase(it);  // its sends are settled or failed: their deadlines passed
      if (link.active()) link.session().close();
    }
    if (redial_at_ != Clock::time_point{} && redial_at_ <= now) {
      redial_at_ = {};
      if (!closing_ && !stopped_.load() && !connected_) {
        connection_ = container_->connect(s_.urls.front(), connectionOptions());
      }
    }
    if (!stopped_.load()) container_->schedule(sweepEvery(), [this] { sweep(); });
  }
  // Longer than any send's deadline (a minute at most), so an idle sender has nothing
  // unsettled.
  static constexpr auto kSenderIdle = std::chrono::minutes(5);

  struct Op {
    std::shared_ptr<PendingSend> send;  // a send, or else a settlement:
    std::uint64_t key = 0;
    Settle how = Settle::kAccept;
    std::string reason;
  };

  void enqueue(Op op) {
    bool wake = false;
    {
      std::lock_guard lock(outbox_mutex_);
      outbox_.push_back(std::move(op));
      wake = !outbox_posted_;
      outbox_posted_ = true;
    }
    if (wake && !post([this] { runOutbox(); })) {
      // The container is gone: sends fail now; settlements do not matter any more (the
      // broker hands the messages out again).
      failOutbox(Delivery::retry(Delivery::Failure::kConnect, "the connection is closed"));
    }
  }

  // Everything in the outbox, which is empty (and not posted) afterwards.
  std::vector<Op> takeOutbox() {
    std::vector<Op> ops;
    std::lock_guard lock(outbox_mutex_);
    ops.swap(outbox_);
    outbox_posted_ = false;
    return ops;
  }

  void failOutbox(const Delivery& why) {
    for (Op& op : takeOutbox()) {
      if (op.send) finish(*op.send, why);
    }
  }

  // AMQP thread.
  void runOutbox() {
    for (Op& op : takeOutbox()) {
      if (op.send) {
        send(op.send);
      } else {
        settle(op.key, op.how, op.reason);
      }
    }
  }

  void failWaiting(const std::string& address, const Delivery& why) {
    failSends([&](const PendingSend& p) { return p.address == address; }, why);
  }

  // The connection is gone (Proton reconnects by itself): what was under way is not.
  void lost(const std::string& why, bool new_failure = true) {
    {
      std::lock_guard lock(start_mutex_);
      connection_queue_ = nullptr;
    }
    const bool was = connected_.exchange(false);
    { std::lock_guard lock(closed_mutex_); }
    closed_cv_.notify_all();
    if (was && closing_) {
      log::info("amqp", "connection " + s_.name + " closed");
    } else if (was) {
      log::warn("amqp", "connection " + s_.name + " lost (" + why + "); reconnecting");
    } else if (!closing_ && new_failure) {
      // An attempt failed (refused, TLS, login): said when the reason changes, and once a
      // minute while it stays the same, so that a broken setting is seen but not flooded.
      ++failed_attempts_;
      const auto now = Clock::now();
      if (why != last_failure_ || now - last_failure_logged_ >= std::chrono::minutes(1)) {
        log::warn("amqp", "connection " + s_.name + " cannot connect (" + why + "); " +
                              std::to_string(failed_attempts_) +
                              " failed attempt(s) so far, trying again");
        last_failure_ = why;
        last_failure_logged_ = now;
      }
    }
    failSends(everySend, Delivery::retry(Delivery::Failure::kConnect,
                                         "the connection to the broker was lost (" + why + ")"));
    senders_.clear();
    received_.clear();  // the broker hands those out again
    for (auto it = subscriptions_.begin(); it != subscriptions_.end();) {
      if (it->second.closing) {
        it = subscriptions_.erase(it);
      } else {
        it->second.open = false;
        ++it;
      }
    }
    // A run of the outbox posted to the closed connection's queue may never come: what
    // waits there is handled now (sends fail, settlements of lost deliveries are void).
    runOutbox();
  }

  static proton::duration sweepEvery() { return proton::duration(250); }

  const AmqpConnectionSettings& s_;
  const std::string description_;  // "amqp connection NAME URL, ...", for failures
  std::mutex start_mutex_;
  std::atomic<bool> stopped_{false};  // set under start_mutex_; read by the sweep too
  std::mutex outbox_mutex_;
  std::vector<Op> outbox_;
  bool outbox_posted_ = false;  // a runOutbox() is on its way
  std::unique_ptr<proton::container> container_;
  std::unique_ptr<proton::work_queue> queue_;
  proton::work_queue* connection_queue_ = nullptr;  // the open connection's
  std::thread thread_;
  std::atomic<bool> started_{false};  // start() ran: callers skip its lock
  std::atomic<bool> connected_{false};
  std::atomic<bool> closing_{false};   // stop() closes the connection: not a loss
  std::uint64_t failed_attempts_ = 0;  // since the connection was last up (AMQP thread)
  bool error_seen_ = false;            // this transport's failure was counted
  std::string last_failure_;           // the reason of the last attempt logged
  Clock::time_point last_failure_logged_;
  std::mutex closed_mutex_;  // stop() waits for the connection to close
  std::condition_variable closed_cv_;

  // AMQP thread only.
  proton::connection connection_;
  struct Sender {
    proton::sender link;
    Clock::time_point used;  // the last send through it
  };
  std::map<std::string, Sender> senders_;  // by address
  Clock::time_point redial_at_;            // the sweep dials again then; {} = no
  std::chrono::milliseconds redial_in_{0};
  Clock::time_point opened_at_;  // when the connection last opened
  std::map<std::string, std::deque<std::shared_ptr<PendingSend>>> waiting_;
  std::unordered_map<std::uint64_t, std::shared_ptr<PendingSend>> unsettled_;  // by tag
  std::uint64_t next_tag_ = 0;
  std::map<std::uint64_t, Subscription> subscriptions_;
  std::map<std::uint64_t, Taken> received_;
  std::uint64_t next_key_ = 0;
};

std::string AmqpConnection::urlProblem(const std::string& url) {
  if (url.rfind("amqp://", 0) == 0 || isTls(url)) return {};
  return "'" + url + "' is not an amqp:// or amqps:// URL";
}

bool AmqpConnection::isTls(const std::string& url) { return url.rfind("amqps://", 0) == 0; }

Result<std::shared_ptr<AmqpConnection>> AmqpConnection::create(AmqpConnectionSettings settings) {
  if (settings.urls.empty()) {
    return makeError(ErrorCode::kInvalidConfig, "an amqp connection needs at least one URL");
  }
  for (const auto& url : settings.urls) {
    if (std::string why = urlProblem(url); !why.empty()) {
      return makeError(ErrorCode::kInvalidConfig, why);
    }
  }
  return std::shared_ptr<AmqpConnection>(new AmqpConnection(std::move(settings)));
}

AmqpConnection::AmqpConnection(AmqpConnectionSettings settings)
    : settings_(std::move(settings)), handler_(std::make_unique<Handler>(settings_, describe())) {}

AmqpConnection::~AmqpConnection() { handler_->stop(); }

std::string AmqpConnection::describe() const {
  std::string out = "amqp connection " + settings_.name + " ";
  for (std::size_t i = 0; i < settings_.urls.size(); ++i) {
    out += (i ? ", " : "") + settings_.urls[i];
  }
  return out;
}

void AmqpConnection::ensureStarted() {
  if (!handler_->started()) handler_->start();
}

bool AmqpConnection::connected() const { return handler_->connected(); }

bool AmqpConnection::readyToSend() {
  ensureStarted();
  return handler_->connected();
}

void AmqpConnection::sendAsync(const std::string& address, const Message& message,
                               const std::string& group_id, Clock::time_point deadline,
                               std::function<void(Delivery)> done) {
  ensureStarted();
  if (!handler_->connected()) {
    done(
        Delivery::retry(Delivery::Failure::kConnect, describe() + ": not connected to the broker"));
    return;
  }
  auto p = std::make_shared<Handler::PendingSend>();
  p->address = address;
  // Without a deadline (one-way), a settlement that never comes must not hold the
  // message for ever.
  p->deadline =
      deadline == Clock::time_point::max() ? Clock::now() + std::chrono::seconds(60) : deadline;
  proton::message& m = p->message;
  m.id(message.id());
  if (!message.correlationId().empty()) m.correlation_id(message.correlationId());
  m.durable(true);
  if (!message.contentType().empty()) m.content_type(message.contentType());
  if (!group_id.empty()) m.group_id(group_id);
  const std::string& body = message.body();
  m.body(proton::binary(body.begin(), body.end()));
  for (const auto& [name, value] : message.headers()) {
    if (!transportHeader(name)) m.properties().put(name, value);
  }
  p->done = std::move(done);
  handler_->enqueueSend(std::move(p));
}

std::uint64_t AmqpConnection::subscribe(const std::string& address, std::uint32_t credit,
                                        OnMessage on_message) {
  static std::atomic<std::uint64_t> next{0};
  const std::uint64_t id = ++next;
  ensureStarted();
  Handler::Subscription sub;
  sub.address = address;
  sub.credit = credit;
  sub.on_message = std::move(on_message);
  Handler* h = handler_.get();
  auto shared = std::make_shared<Handler::Subscription>(std::move(sub));
  h->post([h, id, shared] { h->subscribe(id, std::move(*shared)); });
  return id;
}

void AmqpConnection::unsubscribe(std::uint64_t id) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> ran = done->get_future();
  Handler* h = handler_.get();
  if (!h->post([h, id, done] {
        h->unsubscribe(id);
        done->set_value();
      })) {
    return;  // the container is gone: nothing calls back any more
  }
  ran.wait();  // the AMQP thread runs its queue whether connected or not
}

void AmqpConnection::settle(std::uint64_t key, Settle how, const std::string& reason) {
  handler_->enqueueSettle(key, how, reason);
}

}  // namespace lienthong::adapters::amqp

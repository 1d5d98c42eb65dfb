// The bound of bench/amqp/run.sh: a plain Qpid Proton C++ sender or receiver, through the
// same broker, doing what lienthong's amqp endpoints do (durable messages, settled by
// the broker; received with manual accept and a bounded credit), with nothing else.
//   lienthong-proton-bench send URL ADDRESS COUNT SIZE   -> "sent N in S s: R msg/s"
//   lienthong-proton-bench recv URL ADDRESS COUNT CREDIT -> "received N in S s: R msg/s"

#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/container.hpp>
#include <proton/delivery.hpp>
#include <proton/message.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver.hpp>
#include <proton/receiver_options.hpp>
#include <proton/source_options.hpp>
#include <proton/sender.hpp>
#include <proton/sender_options.hpp>
#include <proton/target_options.hpp>
#include <proton/tracker.hpp>
#include <proton/types.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

using Clock = std::chrono::steady_clock;

proton::connection_options options() {
  proton::connection_options o;
  o.user("guest");
  o.password("guest");
  o.sasl_allowed_mechs("PLAIN");
  o.sasl_allow_insecure_mechs(true);
  return o;
}

class Sender : public proton::messaging_handler {
 public:
  Sender(std::string url, std::string address, long count, std::size_t size)
      : url_(std::move(url)), address_(std::move(address)), count_(count), body_(size, 'x') {}
  void on_container_start(proton::container& c) override {
    proton::sender_options so;
    so.auto_settle(true);
    // Durable termini, as lienthong's: the queue RabbitMQ creates is durable, like its.
    so.target(proton::target_options().durability_mode(proton::terminus::CONFIGURATION));
    proton::connection conn = c.connect(url_, options());
    conn.open_sender(address_, so);
  }
  void on_sendable(proton::sender& s) override {
    if (sent_ == 0) start_ = Clock::now();
    while (s.credit() > 0 && sent_ < count_) {
      proton::message m;
      m.durable(true);
      m.id(std::to_string(sent_));
      m.body(proton::binary(body_.begin(), body_.end()));
      s.send(m);
      ++sent_;
    }
  }
  void on_tracker_accept(proton::tracker& t) override {
    if (++accepted_ == count_) {
      done_ = Clock::now();
      t.connection().close();
    }
  }
  void on_error(const proton::error_condition& e) override {
    std::fprintf(stderr, "send: %s\n", e.what().c_str());
    std::exit(1);
  }
  double seconds() const { return std::chrono::duration<double>(done_ - start_).count(); }
  long accepted() const { return accepted_; }

 private:
  std::string url_, address_;
  long count_, sent_ = 0, accepted_ = 0;
  std::string body_;
  Clock::time_point start_, done_;
};

class Receiver : public proton::messaging_handler {
 public:
  Receiver(std::string url, std::string address, long count, int credit)
      : url_(std::move(url)), address_(std::move(address)), count_(count), credit_(credit) {}
  void on_container_start(proton::container& c) override {
    proton::receiver_options ro;
    ro.auto_accept(false);
    ro.credit_window(credit_);
    ro.source(proton::source_options().durability_mode(proton::terminus::CONFIGURATION));
    proton::connection conn = c.connect(url_, options());
    conn.open_receiver(address_, ro);
  }
  void on_message(proton::delivery& d, proton::message&) override {
    if (received_ == 0) start_ = Clock::now();
    d.accept();
    if (++received_ == count_) {
      done_ = Clock::now();
      d.receiver().close();
      d.connection().close();
    }
  }
  void on_error(const proton::error_condition& e) override {
    std::fprintf(stderr, "recv: %s\n", e.what().c_str());
    std::exit(1);
  }
  double seconds() const { return std::chrono::duration<double>(done_ - start_).count(); }
  long received() const { return received_; }

 private:
  std::string url_, address_;
  long count_, received_ = 0;
  int credit_;
  Clock::time_point start_, done_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr,
                 "usage: %s send URL ADDRESS COUNT SIZE | recv URL ADDRESS COUNT CREDIT\n",
                 argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  const long count = std::atol(argv[4]);
  try {
    if (mode == "send") {
      Sender s(argv[2], argv[3], count, static_cast<std::size_t>(std::atol(argv[5])));
      proton::container(s).run();
      std::printf("sent %ld in %.3f s: %.0f msg/s\n", s.accepted(), s.seconds(),
                  static_cast<double>(s.accepted()) / s.seconds());
    } else if (mode == "recv") {
      Receiver r(argv[2], argv[3], count, std::atoi(argv[5]));
      proton::container(r).run();
      std::printf("received %ld in %.3f s: %.0f msg/s\n", r.received(), r.seconds(),
                  static_cast<double>(r.received()) / r.seconds());
    } else {
      std::fprintf(stderr, "unknown mode '%s'\n", mode.c_str());
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}

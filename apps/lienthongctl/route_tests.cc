#include "apps/lienthongctl/route_tests.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "core/engine.h"
#include "core/files.h"
#include "core/xpath.h"
#include "transforms/xml/xml_steps.h"

namespace lienthong::ctl {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// A canned answer of a fake outbound endpoint.
struct Reply {
  int status = 200;
  enum class Fail { kNone, kConnect, kTimeout } fail = Fail::kNone;
  std::optional<std::string> body;
  std::string content_type;
  std::map<std::string, std::string> headers;
};

struct Sent {
  std::string to;  // where the real endpoint would have sent it (OutboundEndpoint::target)
  Message message{std::string()};
};

// What the fakes of one test file share: the replies still to give and what was sent.
class FakeBook {
 public:
  void reset(std::deque<Reply> replies) {
    std::lock_guard lock(mutex_);
    replies_ = std::move(replies);
    sent_.clear();
  }
  Delivery send(const std::string& to, const Message& message) {
    Reply reply;
    {
      std::lock_guard lock(mutex_);
      sent_.push_back({to, message});
      if (!replies_.empty()) {
        reply = std::move(replies_.front());
        replies_.pop_front();
      }
    }
    if (reply.fail == Reply::Fail::kConnect) {
      return Delivery::retry(Delivery::Failure::kConnect, "connection refused (test reply)");
    }
    if (reply.fail == Reply::Fail::kTimeout) {
      return Delivery::retry(Delivery::Failure::kTimeout, "timed out (test reply)");
    }
    std::optional<Message> answer;
    if (reply.body || !reply.headers.empty()) {
      answer.emplace();
      answer->setBody(reply.body.value_or(""));
      answer->setContentType(reply.content_type.empty() ? "application/xml" : reply.content_type);
      for (const auto& [k, v] : reply.headers) answer->setHeader(k, v);
    }
    const std::string status = "HTTP " + std::to_string(reply.status) + " (test reply)";
    if (reply.status >= 200 && reply.status < 300) return Delivery::accepted(std::move(answer));
    if (reply.status == 408 || reply.status == 429 || reply.status >= 500) {
      return Delivery::retry(Delivery::Failure::kRemote, status, std::move(answer));
    }
    return Delivery::rejected(status, std::move(answer));
  }
  std::vector<Sent> sent() const {
    std::lock_guard lock(mutex_);
    return sent_;
  }

 private:
  mutable std::mutex mutex_;
  std::deque<Reply> replies_;
  std::vector<Sent> sent_;
};

// Takes the place of a real endpoint (built from the route file, never sent through):
// records where the real one would have sent each message and answers from the book.
class FakeOutbound final : public OutboundEndpoint {
 public:
  FakeOutbound(std::shared_ptr<OutboundEndpoint> real, std::shared_ptr<FakeBook> book)
      : real_(std::move(real)), book_(std::move(book)) {}
  Delivery send(Exchange& exchange) override {
    // What the real endpoint would refuse before sending is refused here too.
    if (std::string why = real_->refusal(exchange); !why.empty()) return Delivery::rejected(why);
    return book_->send(real_->target(exchange), exchange.message());
  }
  std::string describe() const override { return real_->describe(); }
  std::string target(const Exchange& exchange) const override { return real_->target(exchange); }

 private:
  std::shared_ptr<OutboundEndpoint> real_;
  std::shared_ptr<FakeBook> book_;
};

std::string where(const std::string& file, const YAML::Node& node) {
  const YAML::Mark m = node.Mark();
  if (m.line < 0) return file;
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

std::string shown(const std::string& text) {
  constexpr std::size_t kMax = 400;
  std::string out = "\"";
  for (char c : text.substr(0, kMax)) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  out += text.size() > kMax ? "\"..." : "\"";
  return out;
}

std::string outcomeName(const Outcome& o) {
  switch (o.status) {
    case Outcome::Status::kDelivered:
      return "delivered";
    case Outcome::Status::kStopped:
      return "stopped";
    case Outcome::Status::kFailed:
      return o.error.transient() ? "failed" : "rejected";
    case Outcome::Status::kDeadLettered:
      return "dead-lettered";
    case Outcome::Status::kAbandoned:
      return "abandoned";
  }
  return "?";
}

// Problems found in one test: where (file:line:col) and what.
class Findings {
 public:
  Findings(std::string file, std::string test) : file_(std::move(file)), test_(std::move(test)) {}
  void add(const YAML::Node& at, const std::string& what) {
    lines_.push_back(where(file_, at) + ": " + test_ + ": " + what);
  }
  void addAt(const std::string& place, const std::string& what) {
    lines_.push_back(place + ": " + test_ + ": " + what);
  }
  bool empty() const { return lines_.empty(); }
  const std::vector<std::string>& lines() const { return lines_; }
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::string test_;
  std::vector<std::string> lines_;
};

// Reports keys of `node` outside `known`.
bool onlyKeys(const YAML::Node& node, std::initializer_list<std::string_view> known,
              const std::string& what, Findings& f) {
  if (!node.IsMap()) {
    f.add(node, what + " must be a map");
    return false;
  }
  bool ok = true;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string key = it->first.Scalar();
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string list;
      for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      f.add(it->first, "unknown key '" + key + "' in " + what + " (known: " + list + ")");
      ok = false;
    }
  }
  return ok;
}

std::optional<std::string> scalar(const YAML::Node& node, const std::string& what, Findings& f) {
  if (!node.IsScalar()) {
    f.add(node, what + " must be a string");
    return std::nullopt;
  }
  return node.Scalar();
}

// Whether `node` is text (a YAML scalar); a failure at it when not. A map or a list
// where text belongs must fail the test, never compare as "".
bool isText(const YAML::Node& node, const std::string& what, Findings& f) {
  if (node.IsScalar()) return true;
  f.add(node, what + " must be text, not " +
                  (node.IsMap()        ? "a map"
                   : node.IsSequence() ? "a list"
                                       : "empty"));
  return false;
}

class TestFile {
 public:
  TestFile(const Registry& registry, const DaemonConfig& config, std::string file, std::FILE* out)
      : registry_(registry), config_(config), file_(std::move(file)), out_(out) {}

  RouteTestTotals run() {
    RouteTestTotals totals;
    Findings file_level(file_, "test file");
    YAML::Node doc;
    try {
      doc = YAML::LoadFile(file_);
    } catch (const YAML::Exception& e) {
      std::fprintf(out_, "%s:%d:%d: %s\n", file_.c_str(), e.mark.line + 1, e.mark.column + 1,
                   e.msg.c_str());
      totals.failed = 1;
      return totals;
    }
    if (!doc.IsMap() ||
        !onlyKeys(doc, {"routes", "namespaces", "tests"}, "a test file", file_level) ||
        !loadRoutes(doc, file_level) || !readNamespaces(doc, file_level)) {
      if (file_level.empty()) file_level.add(doc, "a test file must be a map with 'tests'");
      print(file_level);
      totals.failed = 1;
      return totals;
    }
    const YAML::Node tests = doc["tests"];
    if (!tests || !tests.IsSequence() || tests.size() == 0) {
      file_level.add(tests ? tests : doc, "'tests' must be a non-empty list");
      print(file_level);
      totals.failed = 1;
      return totals;
    }
    // One worker: a test's exchanges run one after the other, so the order of what the
    // fakes receive, and of the replies they give, is the route's own.
    EngineSettings settings = config_.engine;
    settings.workers = 1;
    Engine engine(settings);
    engine.start();
    startSteps(engine);
    for (const auto& test : tests) {
      Findings f(file_, testName(test));
      try {
        runOne(engine, test, f);
      } catch (const YAML::Exception& e) {
        f.addAt(
            file_ + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1),
            "the test does not read: " + e.msg);
      }
      // Whatever happened, what steps hold goes on as at a stop and everything settles
      // before the next test: tests share nothing.
      for (auto& [step, emitter] : steps_) step->stop(true);
      if (!settle(engine)) f.add(test, "exchanges still running 60 s after the test");
      for (auto& [step, emitter] : steps_) step->start(*emitter, nullptr);
      if (f.empty()) {
        ++totals.passed;
      } else {
        ++totals.failed;
        print(f);
      }
    }
    for (auto& [step, emitter] : steps_) step->stop(true);
    engine.drain(5s);
    return totals;
  }

 private:
  void print(const Findings& f) {
    for (const auto& line : f.lines()) std::fprintf(out_, "%s\n", line.c_str());
  }

  static std::string testName(const YAML::Node& test) {
    if (test.IsMap() && test["name"] && test["name"].IsScalar()) {
      return "'" + test["name"].Scalar() + "'";
    }
    return "test at line " + std::to_string(test.Mark().line + 1);
  }

  // The routes under test: `routes:` (relative to the test file), else the file whose
  // name is the test file's without `_test`.
  bool loadRoutes(const YAML::Node& doc, Findings& f) {
    const fs::path dir = fs::path(file_).parent_path();
    std::vector<std::string> paths;
    if (const YAML::Node r = doc["routes"]) {
      std::vector<YAML::Node> items;
      if (r.IsSequence()) {
        for (const auto& i : r) items.push_back(i);
      } else {
        items.push_back(r);
      }
      for (const auto& i : items) {
        auto s = scalar(i, "routes", f);
        if (!s) return false;
        paths.push_back((dir / *s).lexically_normal().string());
      }
    } else {
      std::string name = fs::path(file_).filename().string();
      name = name.substr(0, name.size() - std::string_view("_test.yaml").size()) + ".yaml";
      paths.push_back((dir / name).string());
      if (!fs::exists(paths.back())) {
        f.add(doc, "no route file " + paths.back() + " beside it; name one with 'routes:'");
        return false;
      }
    }
    book_ = std::make_shared<FakeBook>();
    Loader loader(registry_, /*check_only=*/true);
    auto book = book_;
    loader.setOutboundFilter([book](std::shared_ptr<OutboundEndpoint> real, const std::string&) {
      return std::make_shared<FakeOutbound>(std::move(real), book);
    });
    ConfigErrors errors;
    table_ = loader.loadRoutes(config_, paths, errors);
    if (!table_) {
      for (const auto& e : errors.all()) f.addAt(e.str(), "the routes under test do not load");
      return false;
    }
    table_->version = 1;
    for (auto& route : table_->routes) {
      // Retries run at once: a test sees the outcome after the last attempt, not later.
      // Unlimited attempts (one-way routes by default) become 10, so a test ends.
      route->retry.initial = 1ms;
      route->retry.max = 1ms;
      if (route->retry.attempts == 0) route->retry.attempts = 10;
    }
    return true;
  }

  bool readNamespaces(const YAML::Node& doc, Findings& f) {
    const YAML::Node ns = doc["namespaces"];
    if (!ns) return true;
    if (!ns.IsMap()) {
      f.add(ns, "namespaces must be a map of prefix -> URI");
      return false;
    }
    for (auto it = ns.begin(); it != ns.end(); ++it) {
      auto uri = scalar(it->second, "a namespace URI", f);
      if (!uri) return false;
      namespaces_[it->first.Scalar()] = *uri;
    }
    return true;
  }

  void startSteps(Engine& engine) {
    for (const auto& route : table_->routes) {
      for (std::size_t i = 0; i < route->steps.size(); ++i) {
        auto emitter = std::make_unique<RouteStepEmitter>(engine, route, table_->version, i);
        route->steps[i]->start(*emitter, nullptr);
        steps_.emplace_back(route->steps[i].get(), std::move(emitter));
      }
    }
  }

  std::optional<Message> inputMessage(const YAML::Node& in, Findings& f) {
    if (!onlyKeys(in, {"headers", "body", "body-file", "content-type"}, "input", f)) {
      return std::nullopt;
    }
    Message m;
    if (in["body"] && in["body-file"]) {
      f.add(in, "input has both 'body' and 'body-file'");
      return std::nullopt;
    }
    if (const YAML::Node b = in["body"]) {
      auto s = scalar(b, "body", f);
      if (!s) return std::nullopt;
      m.setBody(*s);
    } else if (const YAML::Node bf = in["body-file"]) {
      auto s = scalar(bf, "body-file", f);
      if (!s) return std::nullopt;
      fs::path p = fs::path(file_).parent_path() / *s;
      auto text = readFile(p.string());
      if (!text) {
        f.add(bf, "cannot read " + p.string());
        return std::nullopt;
      }
      m.setBody(std::move(*text));
    }
    if (const YAML::Node h = in["headers"]) {
      if (!h.IsMap()) {
        f.add(h, "headers must be a map");
        return std::nullopt;
      }
      for (auto it = h.begin(); it != h.end(); ++it) {
        auto v = scalar(it->second, "a header value", f);
        if (!v) return std::nullopt;
        m.setHeader(it->first.Scalar(), *v);
      }
    }
    if (const YAML::Node ct = in["content-type"]) {
      auto s = scalar(ct, "content-type", f);
      if (!s) return std::nullopt;
      m.setContentType(*s);
    } else {
      m.setContentType(looksLikeXml(m.body()) ? "application/xml" : "text/plain; charset=utf-8");
    }
    return m;
  }

  std::optional<std::deque<Reply>> replies(const YAML::Node& node, Findings& f) {
    std::deque<Reply> out;
    if (!node) return out;
    if (!node.IsSequence()) {
      f.add(node, "replies must be a list");
      return std::nullopt;
    }
    for (const auto& r : node) {
      if (!onlyKeys(r, {"status", "fail", "body", "content-type", "headers"}, "a reply", f)) {
        return std::nullopt;
      }
      Reply reply;
      if (const YAML::Node s = r["status"]) {
        int status = 0;
        if (!YAML::convert<int>::decode(s, status) || status < 100 || status > 599) {
          f.add(s, "status must be an HTTP status code");
          return std::nullopt;
        }
        reply.status = status;
      }
      if (const YAML::Node fail = r["fail"]) {
        if (!isText(fail, "fail", f)) return std::nullopt;
        if (fail.Scalar() == "connect") {
          reply.fail = Reply::Fail::kConnect;
        } else if (fail.Scalar() == "timeout") {
          reply.fail = Reply::Fail::kTimeout;
        } else {
          f.add(fail, "fail must be connect or timeout");
          return std::nullopt;
        }
      }
      if (const YAML::Node b = r["body"]) {
        if (!isText(b, "a reply's body", f)) return std::nullopt;
        reply.body = b.Scalar();
      }
      if (const YAML::Node ct = r["content-type"]) {
        if (!isText(ct, "a reply's content-type", f)) return std::nullopt;
        reply.content_type = ct.Scalar();
      }
      if (const YAML::Node h = r["headers"]) {
        if (!h.IsMap()) {
          f.add(h, "a reply's headers must be a map");
          return std::nullopt;
        }
        for (auto it = h.begin(); it != h.end(); ++it) {
          if (!isText(it->second, "a header value", f)) return std::nullopt;
          reply.headers[it->first.Scalar()] = it->second.Scalar();
        }
      }
      out.push_back(std::move(reply));
    }
    return out;
  }

  // Submits one message and waits for its outcome.
  std::optional<Outcome> submit(Engine& engine, const std::shared_ptr<Route>& route,
                                Message message, const YAML::Node& at, Findings& f) {
    auto promise = std::make_shared<std::promise<Outcome>>();
    std::future<Outcome> future = promise->get_future();
    Admission a = engine.submit(route, table_->version, std::move(message),
                                [promise](Outcome&& o) { promise->set_value(std::move(o)); });
    if (a != Admission::kAccepted) {
      f.add(at, "the engine did not take the message");
      return std::nullopt;
    }
    if (future.wait_for(60s) != std::future_status::ready) {
      f.add(at, "no outcome within 60s");
      return std::nullopt;
    }
    return future.get();
  }

  // Waits until no exchange is queued, running or waiting for a retry; false after 60 s.
  static bool settle(Engine& engine) {
    auto give_up = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < give_up) {
      Engine::Stats s = engine.stats();
      if (s.queued == 0 && s.running == 0 && s.retrying == 0 && s.held_one_way == 0) return true;
      std::this_thread::sleep_for(1ms);
    }
    return false;
  }

  void runOne(Engine& engine, const YAML::Node& test, Findings& f) {
    if (!onlyKeys(test, {"name", "route", "input", "inputs", "replies", "expect"}, "a test", f)) {
      return;
    }
    if (!test["name"]) f.add(test, "a test needs a 'name'");
    std::shared_ptr<Route> route;
    if (const YAML::Node r = test["route"]) {
      if (!isText(r, "route", f)) return;
      route = table_->find(r.Scalar());
      if (!route) {
        std::string ids;
        for (const auto& x : table_->routes) ids += (ids.empty() ? "" : ", ") + x->id;
        f.add(r, "no route '" + r.Scalar() + "' in the routes under test (" + ids + ")");
        return;
      }
    } else if (table_->routes.size() == 1) {
      route = table_->routes.front();
    } else {
      f.add(test, "name the route under test with 'route:' (the file has several)");
      return;
    }
    std::vector<YAML::Node> inputs;
    if (test["input"] && test["inputs"]) {
      f.add(test, "a test has 'input' or 'inputs', not both");
      return;
    }
    if (const YAML::Node in = test["input"]) inputs.push_back(in);
    if (const YAML::Node ins = test["inputs"]) {
      if (!ins.IsSequence() || ins.size() == 0) {
        f.add(ins, "inputs must be a non-empty list");
        return;
      }
      for (const auto& i : ins) inputs.push_back(i);
    }
    if (inputs.empty()) {
      f.add(test, "a test needs an 'input'");
      return;
    }
    const YAML::Node expect = test["expect"];
    if (!expect) {
      f.add(test, "a test needs 'expect'");
      return;
    }
    if (!onlyKeys(expect, {"outcome", "error", "body", "content-type", "headers", "sent"}, "expect",
                  f)) {
      return;
    }
    auto canned = replies(test["replies"], f);
    if (!canned || !f.empty()) return;

    book_->reset(std::move(*canned));
    std::optional<Outcome> last;
    for (const auto& in : inputs) {
      auto message = inputMessage(in, f);
      if (!message) return;
      last = submit(engine, route, std::move(*message), in, f);
      if (!last) return;
    }
    // What steps still hold (an aggregation) goes on as at a stop; then all settles
    // (the test loop starts them again).
    for (auto& [step, emitter] : steps_) step->stop(true);
    (void)settle(engine);

    checkOutcome(expect, *last, f);
    if (const YAML::Node sent = expect["sent"]) checkSent(sent, f);
  }

  void checkOutcome(const YAML::Node& expect, const Outcome& outcome, Findings& f) {
    const std::string got = outcomeName(outcome);
    const std::string why = outcome.error.message.empty() ? "" : " (" + outcome.error.message + ")";
    if (const YAML::Node o = expect["outcome"]; o && isText(o, "outcome", f)) {
      static const std::set<std::string> kNames = {"delivered", "stopped", "rejected", "failed",
                                                   "dead-lettered"};
      if (!kNames.count(o.Scalar())) {
        f.add(o, "outcome must be one of delivered, stopped, rejected, failed, dead-lettered");
      } else if (o.Scalar() != got) {
        f.add(o, "outcome: expected " + o.Scalar() + ", got " + got + why);
      }
    } else if (got != "delivered" && got != "stopped") {
      f.add(expect, "outcome: expected delivered, got " + got + why);
    }
    if (const YAML::Node e = expect["error"]; e && isText(e, "error", f)) {
      if (outcome.error.message.find(e.Scalar()) == std::string::npos) {
        f.add(e, "error: expected a message containing " + shown(e.Scalar()) + ", got " +
                     shown(outcome.error.message));
      }
    }
    checkMessage(expect, outcome.message, "", f);
  }

  void checkSent(const YAML::Node& sent, Findings& f) {
    if (!sent.IsSequence()) {
      f.add(sent, "sent must be a list of the messages the endpoints received, in order");
      return;
    }
    std::vector<Sent> got = book_->sent();
    if (got.size() != sent.size()) {
      std::string list;
      for (const auto& s : got) list += (list.empty() ? "" : "; ") + s.to;
      f.add(sent, "sent: expected " + std::to_string(sent.size()) + " message(s), got " +
                      std::to_string(got.size()) + (list.empty() ? "" : " (" + list + ")"));
      return;
    }
    for (std::size_t i = 0; i < got.size(); ++i) {
      const YAML::Node item = sent[i];
      if (!onlyKeys(item, {"to", "body", "content-type", "headers"}, "a sent message", f)) {
        continue;
      }
      const std::string which = "sent[" + std::to_string(i) + "] ";
      if (const YAML::Node to = item["to"]; to && isText(to, which + "to", f)) {
        if (got[i].to.find(to.Scalar()) == std::string::npos) {
          f.add(to, which + "to: expected an endpoint matching " + shown(to.Scalar()) + ", got " +
                        shown(got[i].to));
        }
      }
      checkMessage(item, got[i].message, which, f);
    }
  }

  // body, content-type and headers of `spec` against `m`.
  void checkMessage(const YAML::Node& spec, const Message& m, const std::string& which,
                    Findings& f) {
    if (const YAML::Node ct = spec["content-type"]; ct && isText(ct, which + "content-type", f)) {
      if (m.contentType() != ct.Scalar()) {
        f.add(ct, which + "content-type: expected " + shown(ct.Scalar()) + ", got " +
                      shown(m.contentType()));
      }
    }
    if (const YAML::Node h = spec["headers"]) {
      if (!h.IsMap()) {
        f.add(h, which + "headers must be a map (a null value: the header must be absent)");
      } else {
        for (auto it = h.begin(); it != h.end(); ++it) {
          const std::string name = it->first.Scalar();
          const std::string* value = m.header(name);
          if (!it->second.IsNull() && !isText(it->second, which + "header " + name, f)) {
            continue;
          }
          if (it->second.IsNull()) {
            if (value)
              f.add(it->second, which + "header " + name + ": expected none, got " + shown(*value));
          } else if (!value) {
            f.add(it->second, which + "header " + name + ": expected " +
                                  shown(it->second.Scalar()) + ", got none");
          } else if (*value != it->second.Scalar()) {
            f.add(it->second, which + "header " + name + ": expected " +
                                  shown(it->second.Scalar()) + ", got " + shown(*value));
          }
        }
      }
    }
    if (const YAML::Node b = spec["body"]) checkBody(b, m, which, f);
  }

  void checkBody(const YAML::Node& b, const Message& m, const std::string& which, Findings& f) {
    const std::string& body = m.body();
    if (b.IsScalar()) {
      if (body != b.Scalar()) {
        f.add(b, which + "body: expected " + shown(b.Scalar()) + ", got " + shown(body));
      }
      return;
    }
    if (!onlyKeys(b, {"equals", "equals-file", "contains", "xpath", "xsd"}, which + "body", f)) {
      return;
    }
    if (const YAML::Node e = b["equals"];
        e && isText(e, which + "equals", f) && body != e.Scalar()) {
      f.add(e, which + "body: expected " + shown(e.Scalar()) + ", got " + shown(body));
    }
    if (const YAML::Node e = b["equals-file"]; e && isText(e, which + "equals-file", f)) {
      fs::path p = fs::path(file_).parent_path() / e.Scalar();
      auto text = readFile(p.string());
      if (!text) {
        f.add(e, "cannot read " + p.string());
      } else if (*text != body) {
        f.add(e, which + "body differs from " + p.string() + ": got " + shown(body));
      }
    }
    if (const YAML::Node c = b["contains"]) {
      std::vector<std::string> parts;
      if (c.IsSequence() && c.size() > 0) {
        for (const auto& x : c) {
          if (isText(x, which + "contains", f)) parts.push_back(x.Scalar());
        }
      } else if (isText(c, which + "contains", f)) {
        parts.push_back(c.Scalar());
      }
      for (const auto& part : parts) {
        if (body.find(part) == std::string::npos) {
          f.add(c, which + "body: expected it to contain " + shown(part) + ", got " + shown(body));
        }
      }
    }
    if (const YAML::Node x = b["xpath"]) {
      if (!x.IsMap()) {
        f.add(x, "xpath must be a map of expression -> expected string value");
      } else {
        for (auto it = x.begin(); it != x.end(); ++it)
          checkXPath(it->first, it->second, m, which, f);
      }
    }
    if (const YAML::Node xsd = b["xsd"]; xsd && isText(xsd, which + "xsd", f)) {
      fs::path p = xsd.Scalar();
      if (p.is_relative()) p = fs::path(config_.home) / p;
      std::vector<std::string> problems;
      auto schema = transforms::xml::Schema::load(p.string(), problems);
      if (!schema) {
        f.add(xsd, "schema " + p.string() +
                       " does not load: " + (problems.empty() ? std::string() : problems.front()));
        return;
      }
      transforms::xml::ValidateStep validate(schema);
      Exchange ex(m, "test", ExchangePattern::kOneWay);
      auto r = validate.process(ex);
      if (!r.ok()) f.add(xsd, which + "body: " + r.error().message);
    }
  }

  void checkXPath(const YAML::Node& expr, const YAML::Node& expected, const Message& m,
                  const std::string& which, Findings& f) {
    if (!isText(expr, "an XPath", f) || !isText(expected, "an XPath's expected value", f)) return;
    XPath::CompileError err;
    auto xpath = XPath::compile(expr.Scalar(), namespaces_, &err);
    if (!xpath) {
      f.add(expr, "XPath: " + err.message);
      return;
    }
    Exchange ex(m, "test", ExchangePattern::kOneWay);
    auto value = xpath->evaluateString(ex);
    if (!value.ok()) {
      f.add(expr, which + "body: " + value.error().message);
    } else if (*value != expected.Scalar()) {
      f.add(expected, which + "xpath " + expr.Scalar() + ": expected " + shown(expected.Scalar()) +
                          ", got " + shown(*value));
    }
  }

  const Registry& registry_;
  const DaemonConfig& config_;
  std::string file_;
  std::FILE* out_;
  std::shared_ptr<FakeBook> book_;
  std::shared_ptr<RouteTable> table_;
  std::map<std::string, std::string> namespaces_;
  std::vector<std::pair<Step*, std::unique_ptr<RouteStepEmitter>>> steps_;
};

}  // namespace

std::vector<std::string> routeTestFiles(const std::vector<std::string>& paths,
                                        ConfigErrors& errors) {
  std::vector<std::string> out;
  auto isTest = [](const fs::path& p) { return p.filename().string().ends_with("_test.yaml"); };
  for (const auto& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      for (auto it = fs::recursive_directory_iterator(path, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file() && isTest(it->path())) out.push_back(it->path().string());
      }
    } else if (fs::is_regular_file(path, ec)) {
      out.push_back(path);
    } else {
      errors.add({path, 0, 0}, "no such file or directory");
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

RouteTestTotals runRouteTests(const Registry& registry, const DaemonConfig& config,
                              const std::vector<std::string>& files, std::FILE* out) {
  RouteTestTotals totals;
  for (const auto& file : files) {
    TestFile t(registry, config, file, out);
    RouteTestTotals one = t.run();
    totals.passed += one.passed;
    totals.failed += one.failed;
  }
  return totals;
}

}  // namespace lienthong::ctl

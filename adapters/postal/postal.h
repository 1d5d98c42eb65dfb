#pragma once
// The public postal service (docs/postal.md): a `postal` connection (the service's API
// over an http connection, OAuth2 client credentials, the agency's customer code) and the
// `postal` output: `order` creates a pickup or delivery order whose number is the dossier
// code, `cancel` cancels one. The service answers JSON with a result code: "00" is done,
// a code of `retry-codes` is worth another attempt, any other is a refusal with its
// message.

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "adapters/http/http_outbound.h"
#include "lienthong/endpoint.h"
#include "lienthong/template.h"

namespace lienthong::adapters::postal {

struct PostalSettings {
  std::string name;
  std::shared_ptr<http::HttpConnection> http;  // with oauth2, usually
  std::string customer_code;                   // the agency's CustomerCode
  std::string order_path = "/orders";
  std::string cancel_path = "/orders/cancel";
  std::vector<std::string> retry_codes{"99"};  // the service busy
};

class PostalConnection final : public Connection {
 public:
  explicit PostalConnection(PostalSettings s) : s_(std::move(s)) {}
  std::string describe() const override { return "postal " + s_.name; }
  const PostalSettings& settings() const { return s_; }

 private:
  PostalSettings s_;
};

enum class PostalService { kOrder, kCancel };

struct PostalOutboundSettings {
  std::shared_ptr<PostalConnection> connection;
  PostalService service = PostalService::kOrder;
  std::shared_ptr<const Template> order_number;  // default ${MaHoSo}
  // order: the order's other members (SenderFullname, ReceiverAddress, CODAmount, ...)
  std::vector<std::pair<std::string, std::shared_ptr<const Template>>> fields;
};

// Engine worker threads. The request is JSON: CustomerCode, OrderNumber and, for an
// order, the rendered fields. Accepted: the reply is the service's answer, with headers
// postal.code and postal.item-code (the tracking number, when it gives one).
class PostalOutbound final : public OutboundEndpoint {
 public:
  explicit PostalOutbound(PostalOutboundSettings s) : s_(std::move(s)) {}
  Delivery send(Exchange& exchange) override;
  std::string describe() const override;
  std::string target(const Exchange& exchange) const override;
  std::string refusal(const Exchange& exchange) const override;
  std::string peer() const override { return s_.connection->settings().http->origin(); }

 private:
  PostalOutboundSettings s_;
};

}  // namespace lienthong::adapters::postal

namespace lienthong::adapters::postal {

struct TrackingInboundSettings {
  std::shared_ptr<PostalConnection> connection;
  std::string path = "/tracking";
  std::chrono::milliseconds every{30'000};
  int page_size = 1000;               // the service takes at most 1000
  std::filesystem::path cursor_file;  // where the last record's Id is kept (state-dir/
                                      // <connection>-tracking.cursor)
};

// The `postal` input: polls the service's tracking records after a cursor
// (GET {url}{path}?customerCode=C&lastId=N&pageSize=M -> {"Code":"00","Data":[records]}),
// one message per record in order: the record's JSON, headers MaHoSo (its OrderNumber),
// postal.id, postal.item-code, postal.status (StatusCode), postal.event-time, postal.pos.
// The cursor moves past a record once the route has it (journalled; without a store,
// delivered) and is kept in `cursor_file` (fsynced), so a restart or a reload neither
// loses nor repeats one. A full page is followed at once by the next; a failed poll, or a
// record without Id, is tried at the next tick.
class TrackingInbound final : public InboundEndpoint {
 public:
  explicit TrackingInbound(TrackingInboundSettings s) : s_(std::move(s)) {}
  ~TrackingInbound() override { stop(); }
  Result<void> start(InboundContext& context) override;
  void stop() override;
  std::string describe() const override;
  std::string exclusiveKey() const override { return "postal tracking " + s_.cursor_file.string(); }

 private:
  void run(InboundContext& context);
  // One page: how many records the route took; -1 when the poll failed or the route did
  // not take one (tried again at the next tick).
  int poll(InboundContext& context);
  bool submitAndWait(InboundContext& context, Message m);
  void saveCursor();
  bool stopping();

  TrackingInboundSettings s_;
  std::string cursor_ = "0";
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace lienthong::adapters::postal

#pragma once
// The public postal service (docs/postal.md): a `postal` connection (the service's API
// over an http connection, OAuth2 client credentials, the agency's customer code) and the
// `postal` output: `order` creates a pickup or delivery order whose number is the dossier
// code, `cancel` cancels one. The service answers JSON with a result code: "00" is done,
// a code of `retry-codes` is worth another attempt, any other is a refusal with its
// message.

#include <memory>
#include <string>
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

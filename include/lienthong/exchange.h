#pragma once
// Exchange: one message's trip through one route.

#include <chrono>
#include <memory>
#include <string>

#include "lienthong/message.h"

namespace lienthong {

class XmlDocument;  // core/xml_document.h

enum class ExchangePattern {
  kRequestReply,  // the caller waits; the route's result is the answer
  kOneWay,        // accepted first, delivered later
};

std::string_view patternName(ExchangePattern pattern);

class Exchange {
 public:
  using Clock = std::chrono::steady_clock;

  Exchange(Message message, std::string route_id, ExchangePattern pattern)
      : message_(std::move(message)), route_id_(std::move(route_id)), pattern_(pattern) {}

  Message& message() { return message_; }
  const Message& message() const { return message_; }

  const std::string& routeId() const { return route_id_; }
  ExchangePattern pattern() const { return pattern_; }

  // Trace id shared by every hop of this message (W3C trace-id form: 32 hex digits).
  const std::string& traceId() const { return trace_id_; }
  void setTraceId(std::string id) { trace_id_ = std::move(id); }

  // Time by which a request-reply exchange must be answered; max() when none.
  Clock::time_point deadline() const { return deadline_; }
  void setDeadline(Clock::time_point deadline) { deadline_ = deadline; }

  // The route's ordering key rendered for this message ("" when the route has none):
  // an AMQP output sends it as the group id.
  const std::string& orderKey() const { return order_key_; }
  void setOrderKey(std::string key) { order_key_ = std::move(key); }

  // Its message's entry in the store's journal (one-way, with a store); 0 when none.
  std::int64_t journalSeq() const { return journal_seq_; }
  void setJournalSeq(std::int64_t seq) { journal_seq_ = seq; }

  // The version of the route table this exchange started on.
  std::uint64_t routeVersion() const { return route_version_; }
  void setRouteVersion(std::uint64_t v) { route_version_ = v; }

  // The body parsed as XML, shared by every step (see xmlOf() in core/xml_document.h).
  // Valid only while the message's body is the one it was parsed from.
  const std::shared_ptr<const XmlDocument>& xmlCache(const Body** parsed_body) const {
    *parsed_body = &xml_body_;
    return xml_cache_;
  }
  void setXmlCache(Body parsed_body, std::shared_ptr<const XmlDocument> doc) {
    xml_body_ = std::move(parsed_body);
    xml_cache_ = std::move(doc);
  }

 private:
  Message message_;
  std::string route_id_;
  ExchangePattern pattern_;
  std::int64_t journal_seq_ = 0;
  std::string order_key_;
  std::string trace_id_;
  Clock::time_point deadline_ = Clock::time_point::max();
  std::uint64_t route_version_ = 0;
  Body xml_body_;  // held, so that its address cannot be reused by another body
  std::shared_ptr<const XmlDocument> xml_cache_;
};

}  // namespace lienthong

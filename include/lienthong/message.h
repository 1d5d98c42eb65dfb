#pragma once
// Message: the value that travels through a route. Cheap to copy: the body is shared and
// immutable; changing it means replacing the pointer.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace lienthong {

using Headers = std::map<std::string, std::string, std::less<>>;
using Body = std::shared_ptr<const std::string>;

class Message {
 public:
  Message();  // new unique id, empty body
  // A message with the given id: no new id is made (for replies and placeholders).
  explicit Message(std::string id);

  const std::string& id() const { return id_; }
  void setId(std::string id) { id_ = std::move(id); }
  const std::string& correlationId() const { return correlation_id_; }
  void setCorrelationId(std::string id) { correlation_id_ = std::move(id); }

  const Headers& headers() const { return headers_; }
  Headers& headers() { return headers_; }
  // Returns nullptr when the header is absent.
  const std::string* header(std::string_view name) const;
  void setHeader(std::string name, std::string value) {
    headers_.insert_or_assign(std::move(name), std::move(value));
  }
  void removeHeader(std::string_view name);

  const std::string& body() const { return *body_; }
  const Body& sharedBody() const { return body_; }
  void setBody(std::string body) { body_ = std::make_shared<const std::string>(std::move(body)); }
  void setBody(Body body);

  const std::string& contentType() const { return content_type_; }
  void setContentType(std::string type) { content_type_ = std::move(type); }

  // How many delivery attempts were made so far (0 before the first).
  std::uint32_t attempt() const { return attempt_; }
  void setAttempt(std::uint32_t attempt) { attempt_ = attempt; }

  // The ordering key (the dossier code for most routes); empty when none.
  const std::string& dossierKey() const { return dossier_key_; }
  void setDossierKey(std::string key) { dossier_key_ = std::move(key); }

 private:
  std::string id_;
  std::string correlation_id_;
  Headers headers_;
  Body body_;
  std::string content_type_;
  std::uint32_t attempt_ = 0;
  std::string dossier_key_;
};

// A new random identifier (UUID v4 text). Thread-safe.
std::string newId();
// A new W3C trace id: 32 lower-case hex digits, not all zero. Thread-safe.
std::string newTraceId();

}  // namespace lienthong

#pragma once
// The agencies' electronic one-stop systems (docs/onestop.md). A `onestop` connection is
// one such system: how it talks (`rest`: JSON over HTTP, `soap`: SOAP 1.1 over HTTP,
// `folder`: files in a shared folder), the agencies it serves, and its local status model
// as a map to the national codes. The `onestop` output sends a canonical message to it
// (to a named system, or to the one serving the dossier's agency); the `from-onestop`
// step turns what it sends (JSON, a SOAP envelope or a bare XML file) into a canonical
// message with national status codes.

#include <libxml/tree.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/file/file_outbound.h"
#include "adapters/http/http_outbound.h"
#include "lienthong/endpoint.h"
#include "lienthong/step.h"
#include "lienthong/template.h"

namespace lienthong::adapters::onestop {

enum class Flavor { kRest, kSoap, kFolder };

struct OnestopSettings {
  std::string name;
  Flavor flavor = Flavor::kRest;
  std::shared_ptr<http::HttpConnection> http;         // rest, soap
  std::filesystem::path dir;                          // folder: inbox/ (to it), outbox/ (from it)
  std::vector<std::string> agencies;                  // agency codes it serves
  std::map<std::string, int> status_map;              // local status -> national code (1..10)
  std::map<std::string, std::string> paths;           // rest: canonical message -> path
  std::string soap_action = "urn:lienthong:motcua#";  // + the message's name
};

class OnestopConnection final : public Connection {
 public:
  explicit OnestopConnection(OnestopSettings settings);
  std::string describe() const override;
  const OnestopSettings& settings() const { return s_; }
  bool serves(std::string_view agency) const;

  // A local status as a national code: the map's, or the code itself when there is no
  // map; 0 when unknown.
  int national(const std::string& local) const;
  // A national code as the system's local status (the first mapped to it); the code
  // itself when there is no map.
  std::string local(const std::string& national) const;

  // Engine worker threads, concurrently. `xml` is a canonical message (its root `kind`).
  Delivery send(const std::string& kind, xmlNodePtr root, Exchange& exchange) const;

 private:
  Delivery sendHttp(const std::string& kind, xmlNodePtr root, Exchange& exchange) const;
  Delivery sendFolder(const std::string& kind, xmlNodePtr root, Exchange& exchange) const;

  OnestopSettings s_;
  std::unique_ptr<file::FileOutbound> inbox_;  // folder
};

struct OnestopOutboundSettings {
  std::shared_ptr<OnestopConnection> connection;  // this one, or
  std::shared_ptr<const Template> agency;         // the one serving this agency
  std::map<std::string, std::shared_ptr<OnestopConnection>> candidates;
};

class OnestopOutbound final : public OutboundEndpoint {
 public:
  explicit OnestopOutbound(OnestopOutboundSettings s) : s_(std::move(s)) {}
  // Engine worker threads. A body that is not a canonical message, or an agency no
  // system serves, is rejected (to the dead letters, with the reason).
  Delivery send(Exchange& exchange) override;
  // "onestop tranphu" or "onestop by agency ${dossier.agency}"
  std::string describe() const override;
  std::string target(const Exchange& exchange) const override;
  std::string refusal(const Exchange& exchange) const override;
  std::string peer() const override;

 private:
  // The system for this exchange, or nullptr with the reason.
  std::shared_ptr<OnestopConnection> choose(const Exchange& exchange, std::string* why) const;

  OnestopOutboundSettings s_;
};

// The `from-onestop` step. The message is the body's JSON object (its name from the
// step's `message`, else from the last segment of the request path, e.g.
// POST /motcua/tranphu/trangthai), a SOAP envelope (the first element of its Body), or a
// bare XML document (its root element), in any namespace. It becomes the canonical
// message in its namespace, the status (TrangThai/Ma, HoSo/TrangThaiHoSo) mapped to the
// national code; a status the system's map does not know is an InvalidMessage naming it.
class FromOnestopStep final : public Step {
 public:
  FromOnestopStep(std::shared_ptr<OnestopConnection> connection, std::string message)
      : c_(std::move(connection)), message_(std::move(message)) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  std::shared_ptr<OnestopConnection> c_;
  std::string message_;  // "" = from the path
};

// The canonical message named by a word of a path or an operation, in any case
// ("trangthai" -> "TrangThai"); "" when none.
std::string canonicalName(std::string_view word);

}  // namespace lienthong::adapters::onestop

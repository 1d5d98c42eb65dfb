#pragma once
// The `portal` outbound endpoint: one service of the national portal per endpoint.
//   DongBoHoSoMC         the body is a canonical HoSo; sent as data:[dossier] with
//                        isUpdating "False", and again as "True" when the portal says the
//                        dossier exists already
//   CapNhatTienDoHoSoMC  the body is a canonical TrangThai; sent as data:[progress]
//   any other (pulls)    `params` rendered per message become the call's members; the
//                        reply is the portal's JSON answer, except for TraCuuHoSo, whose
//                        dossier comes back as a canonical HoSo

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "adapters/portal/portal_client.h"
#include "lienthong/step.h"
#include "lienthong/template.h"

namespace lienthong::adapters::portal {

struct PortalOutboundSettings {
  std::shared_ptr<PortalConnection> connection;  // required
  std::string service;                           // required
  std::vector<std::pair<std::string, std::shared_ptr<const Template>>> params;
};

class PortalOutbound final : public OutboundEndpoint {
 public:
  explicit PortalOutbound(PortalOutboundSettings settings) : s_(std::move(settings)) {}
  // Engine worker threads, concurrently. Never throws.
  Delivery send(Exchange& exchange) override;
  // "portal dvcqg DongBoHoSoMC"
  std::string describe() const override;
  std::string peer() const override { return s_.connection->settings().http->origin(); }

 private:
  // The call's members for this message, or the reason it cannot be sent.
  Result<std::string> fields(Exchange& exchange) const;
  Delivery reply(PortalAnswer answer, const Message& original) const;

  PortalOutboundSettings s_;
};

// The `from-portal` step: a dossier as the portal sends it (the dossier object, or a call
// body with `data: [dossier]`) becomes a canonical HoSo (XML). Members the schema does not
// have are dropped and named in the header portal.dropped; a body that is not JSON, or
// holds no dossier or several, is an InvalidMessage. With `message: TraLoiBoSung` (or
// PhanAnh, DanhGia, YeuCauBoSung, TrangThai) the object is that message instead.
class FromPortalStep final : public Step {
 public:
  explicit FromPortalStep(std::string root = "HoSo") : root_(std::move(root)) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  std::string root_;
};

}  // namespace lienthong::adapters::portal

#pragma once
// The national portal's payment platform: its checksum `MaXacThuc`, the lower-case hex
// SHA-256 of the message's fields joined with '|' and the partner's secret as the last
// of them: sha256(f1|f2|...|fn|secret).

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lienthong/step.h"
#include "lienthong/template.h"

namespace lienthong::transforms::dossier {

// sha256 hex (lower case) of the values and the secret, joined with '|'.
std::string paymentChecksum(const std::vector<std::string>& values, const std::string& secret);

struct PaymentChecksumSettings {
  std::vector<std::string> fields;  // members of the JSON body, in the order hashed
  std::string secret;
  bool verify = false;  // check the body's checksum instead of setting it
  std::string member = "MaXacThuc";
  // sign: members set (rendered) before the checksum is made (MaDoiTac, ThoiGian, ...)
  std::vector<std::pair<std::string, std::shared_ptr<const Template>>> set;
  // verify: the message's time (yyyyMMddHHmmss, UTC+7) must not be older than this, so
  // that an old confirmation cannot be played again (0 = not checked)
  std::chrono::milliseconds max_age{0};
  std::string time_field = "ThoiGian";
};

// The `payment-checksum` step, on a JSON object body. Sign: sets the `set` members, then
// the checksum member. Verify: the checksum member must match (compared in constant time),
// else Unauthorized naming the dossier (MaHoSo); the fields are then set as headers
// payment.<field>. A field missing or not text/number is an InvalidMessage naming it.
class PaymentChecksumStep final : public Step {
 public:
  explicit PaymentChecksumStep(PaymentChecksumSettings s) : s_(std::move(s)) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  PaymentChecksumSettings s_;
};

}  // namespace lienthong::transforms::dossier

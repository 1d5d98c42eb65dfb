#pragma once
// The `dossier-code` step: checks a dossier code (MaHoSo) with core/dossier_code.h —
// calendar and all, which a schema pattern cannot — and sets its parts as headers:
// dossier.agency (000.00.01.H22), dossier.received (yyyyMMdd), dossier.sequence.
// A wrong code is an InvalidMessage naming the fault (400, or the dead letter's reason).

#include <memory>

#include "lienthong/step.h"
#include "lienthong/template.h"

namespace lienthong::transforms::dossier {

struct DossierCodeSettings {
  std::shared_ptr<const Template> code;  // default ${MaHoSo}
};

class DossierCodeStep final : public Step {
 public:
  explicit DossierCodeStep(DossierCodeSettings s) : s_(std::move(s)) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  DossierCodeSettings s_;
};

}  // namespace lienthong::transforms::dossier

#pragma once
// The `dossier-code` step: checks a dossier code (MaHoSo) with core/dossier_code.h —
// calendar and all, which a schema pattern cannot — and sets its parts as headers:
// dossier.agency (000.00.01.H22), dossier.received (yyyyMMdd), dossier.sequence.
// A wrong code is an InvalidMessage naming the fault (400, or the dead letter's reason).

#include <memory>

#include "lienthong/step.h"
#include "lienthong/template.h"

namespace lienthong {
class StoreSlot;  // core/store.h
}

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

// The `track-dossier` step: keeps what a canonical HoSo or TrangThai says of its dossier
// in the daemon's store (core/store.h, trackDossier), for the resolution figures and the
// overdue detection. A HoSo: agency (MaCoQuan, else that of its code), procedure,
// receipt, appointment, status, at its end of processing when resolved, else at receipt.
// A TrangThai: its status at ThoiDiem, and the appointment it moves. Another body is an
// InvalidMessage; a store that cannot write now is a transient error (retried).
class TrackDossierStep final : public Step {
 public:
  // `slot` null: the tools (lint, route tests), which record nothing.
  explicit TrackDossierStep(std::shared_ptr<StoreSlot> slot) : slot_(std::move(slot)) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  std::shared_ptr<StoreSlot> slot_;
};

}  // namespace lienthong::transforms::dossier

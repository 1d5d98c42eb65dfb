#pragma once
// The `dossier-code` step: checks a dossier code (MaHoSo) with core/dossier_code.h —
// calendar and all, which a schema pattern cannot — and sets its parts as headers:
// dossier.agency (000.00.01.H22), dossier.received (yyyyMMdd), dossier.sequence.
// A wrong code is an InvalidMessage naming the fault (400, or the dead letter's reason).

#include <chrono>
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

// The `overdue-dossiers` step: the dossiers the store knows as overdue now (appointment
// passed, status not 3/7/8/9/10; with `within`, only those that fell due in that last
// span, so that a schedule of the same period tells each once) replace the body as
//   <DanhSachQuaHan xmlns="urn:lienthong:hoso:1" ThoiDiem="now" SoLuong="n">
//     <TrangThai> MaHoSo, Ma (its status), ThoiDiem, MaCoQuan, NoiDungXuLy, NgayHenTra,
//                 QuaHan 1 </TrangThai>...
// a canonical TrangThai per dossier, to split and send on; header overdue.count.
class OverdueDossiersStep final : public Step {
 public:
  OverdueDossiersStep(std::shared_ptr<StoreSlot> slot, std::chrono::milliseconds within)
      : slot_(std::move(slot)), within_(within) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  std::shared_ptr<StoreSlot> slot_;   // null in the tools: an empty list
  std::chrono::milliseconds within_;  // 0 = every overdue dossier
};

// The `normalize-text` step: the body's Vietnamese text brought to Unicode (core/
// vietnamese_text.h). `from: auto` (the default): a body that is not UTF-8 is decoded as
// the legacy encoding it most likely is (TCVN3 or Windows-1258), and "TCVN3 text in
// Unicode" fields are repaired; `from: windows-1258` or `tcvn3`: the body is in that
// encoding (UTF-8 bodies are left to the repair); `from: utf-8`: a body that is not UTF-8
// is an InvalidMessage naming the byte, nothing is repaired. What was done is said in the
// header text.normalized ("windows-1258", "tcvn3", "tcvn3 fields: 2"); NFC throughout.
class NormalizeTextStep final : public Step {
 public:
  enum class From { kAuto, kWindows1258, kTcvn3, kUtf8 };
  explicit NormalizeTextStep(From from) : from_(from) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  From from_;
};

// The `overdue-note` step, in the dossier's ordered lane before its progress goes to the
// portal: an overdue note (a canonical TrangThai with QuaHan 1) takes the dossier's status
// as the store keeps it now (the statuses before it in the lane are kept by then), so that
// a note never sets the portal back; a dossier that has ended since (3, 7, 8, 9, 10) is
// no longer overdue and the route stops. Any other body goes on as it is.
class OverdueNoteStep final : public Step {
 public:
  explicit OverdueNoteStep(std::shared_ptr<StoreSlot> slot) : slot_(std::move(slot)) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  std::shared_ptr<StoreSlot> slot_;  // null in the tools: the note as it is
};

}  // namespace lienthong::transforms::dossier

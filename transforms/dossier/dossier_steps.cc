#include "transforms/dossier/dossier_steps.h"

#include <cstdio>

#include "core/dossier_code.h"

namespace lienthong::transforms::dossier {

Result<StepOutcome> DossierCodeStep::process(Exchange& exchange) {
  const std::string text = s_.code->render(exchange);
  if (text.empty()) {
    return Error(ErrorCode::kInvalidMessage,
                 "no dossier code: '" + s_.code->source() + "' is empty for this message");
  }
  auto code = lienthong::dossier::parse(text);
  if (!code.ok()) return code.error();
  char day[16];
  std::snprintf(day, sizeof day, "%04d%02d%02d", code->received.year % 10000,
                code->received.month % 100, code->received.day % 100);
  Message& m = exchange.message();
  m.setHeader("dossier.agency", code->agency);
  m.setHeader("dossier.received", day);
  m.setHeader("dossier.sequence", std::to_string(code->sequence));
  return StepOutcome::kContinue;
}

}  // namespace lienthong::transforms::dossier

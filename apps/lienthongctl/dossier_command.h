#pragma once
// lienthongctl dossier-code: checks dossier codes, and numbers an agency's day.

#include <string>
#include <vector>

namespace lienthong::ctl {

// dossier-code CODE...            each code: "ok: AGENCY DAY SEQUENCE" or the fault
// dossier-code --next CODE        the code after CODE (same agency and day)
// dossier-code --first AGENCY DAY the first code of AGENCY on DAY (YYYY-MM-DD)
// Exit status: 0 all valid, 1 a code is wrong, 2 wrong usage.
int dossierCodeCommand(const std::vector<std::string>& args);

// stats [--config FILE] [--by agency,procedure,month] [--csv] [--now yyyyMMddHHmmss]
// The resolution figures of the dossiers the config's store keeps (track-dossier), while
// the daemon is stopped: JSON, or CSV. Exit status: 0 printed, 1 failed, 2 wrong usage.
int statsCommand(const std::vector<std::string>& args);

}  // namespace lienthong::ctl

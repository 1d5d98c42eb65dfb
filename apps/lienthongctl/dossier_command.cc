#include "apps/lienthongctl/dossier_command.h"

#include <cstdio>

#include "core/dossier_code.h"

namespace lienthong::ctl {
namespace {

int usage(const std::string& message) {
  std::fprintf(stderr,
               "lienthongctl dossier-code: %s\n"
               "usage: lienthongctl dossier-code CODE... | --next CODE | --first AGENCY "
               "YYYY-MM-DD\n",
               message.c_str());
  return 2;
}

}  // namespace

int dossierCodeCommand(const std::vector<std::string>& args) {
  if (args.empty()) return usage("give dossier codes, --next CODE or --first AGENCY DAY");
  if (args[0] == "--next") {
    if (args.size() != 2) return usage("--next takes one code");
    auto last = dossier::parse(args[1]);
    if (!last.ok()) {
      std::fprintf(stderr, "%s\n", last.error().message.c_str());
      return 1;
    }
    auto code = dossier::next(*last);
    if (!code.ok()) {
      std::fprintf(stderr, "%s\n", code.error().message.c_str());
      return 1;
    }
    std::printf("%s\n", code->c_str());
    return 0;
  }
  if (args[0] == "--first") {
    if (args.size() != 3) return usage("--first takes an agency code and a day");
    dossier::Day day;
    if (std::sscanf(args[2].c_str(), "%4d-%2d-%2d", &day.year, &day.month, &day.day) != 3 ||
        args[2].size() != 10) {
      return usage("'" + args[2] + "' is not a day (YYYY-MM-DD)");
    }
    auto code = dossier::first(args[1], day);
    if (!code.ok()) {
      std::fprintf(stderr, "%s\n", code.error().message.c_str());
      return 1;
    }
    std::printf("%s\n", code->c_str());
    return 0;
  }
  int status = 0;
  for (const std::string& text : args) {
    if (!text.empty() && text[0] == '-') return usage("unknown option '" + text + "'");
    auto code = dossier::parse(text);
    if (code.ok()) {
      std::printf("ok: %s agency %s, received %04d-%02d-%02d, number %u\n", text.c_str(),
                  code->agency.c_str(), code->received.year, code->received.month,
                  code->received.day, code->sequence);
    } else {
      std::printf("invalid: %s\n", code.error().message.c_str());
      status = 1;
    }
  }
  return status;
}

}  // namespace lienthong::ctl

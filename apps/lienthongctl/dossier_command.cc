#include "apps/lienthongctl/dossier_command.h"

#include <cstdio>

#include "apps/lienthongctl/admin_commands.h"
#include "apps/lienthongctl/ctl_config.h"
#include "core/dossier_code.h"
#include "core/dossier_stats.h"
#include "core/plugins.h"
#include "core/store.h"
#include "lienthong/registry.h"

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

int statsCommand(const std::vector<std::string>& args) {
  if (adminGiven(args)) return statsApiCommand(args);  // the running daemon's
  std::string config_file;
  std::string by = "agency";
  std::string now;
  bool csv = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const bool value = i + 1 < args.size();
    if (args[i] == "--csv") {
      csv = true;
    } else if (args[i] == "--config" && value) {
      config_file = args[++i];
    } else if (args[i] == "--by" && value) {
      by = args[++i];
    } else if (args[i] == "--now" && value) {
      now = args[++i];
    } else {
      std::fprintf(stderr, "lienthongctl stats: unknown option '%s' (see lienthongctl --help)\n",
                   args[i].c_str());
      return 2;
    }
  }
  auto groups = dossier::parseGroupBy(by);
  if (!groups.ok()) {
    std::fprintf(stderr, "lienthongctl stats: --by: %s\n", groups.error().message.c_str());
    return 2;
  }
  if (now.empty()) {
    now = dossier::nationalTime(std::chrono::system_clock::now());  // Asia/Ho_Chi_Minh
  } else if (!dossier::isNationalTime(now)) {
    std::fprintf(stderr, "lienthongctl stats: --now takes yyyyMMddHHmmss\n");
    return 2;
  }
  int status = 0;
  std::unique_ptr<Store> store =
      openConfigStore("stats", config_file, "no dossier is kept", status);
  if (!store) return status;
  auto states = store->dossierStates();
  if (!states.ok()) {
    std::fprintf(stderr, "%s\n", states.error().message.c_str());
    return 1;
  }
  const dossier::Stats stats = dossier::computeStats(*states, *groups, now);
  const std::string out = csv ? dossier::statsCsv(stats) : dossier::statsJson(stats) + "\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace lienthong::ctl

#pragma once
// lienthong-sim run as a child process for the end-to-end tests: its output in a file,
// the URL it says it listens on once it does, SIGTERM at the end.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "integration/test_support.h"

extern char** environ;

namespace lienthong::testing {

inline std::string readText(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class SimProcess {
 public:
  // `args` after the program: "portal", "--push", URL, ...
  SimProcess(const std::filesystem::path& log, std::vector<std::string> args) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    args.insert(args.begin(),
                std::string(LIENTHONG_BINARY_DIR) + "/apps/lienthong-sim/lienthong-sim");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    static const std::regex listening("listening on ((http://127\\.0\\.0\\.1:([0-9]+))\\S*)");
    EXPECT_TRUE(eventually(
        [&] {
          std::smatch m;
          const std::string text = readText(log);
          if (!std::regex_search(text, m, listening)) return false;
          url_ = m[1].str();
          origin_ = m[2].str();
          port_ = static_cast<std::uint16_t>(std::stoi(m[3].str()));
          return true;
        },
        std::chrono::seconds(30)))
        << readText(log);
  }
  ~SimProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  SimProcess(const SimProcess&) = delete;
  SimProcess& operator=(const SimProcess&) = delete;

  const std::string& url() const { return url_; }        // as printed: http://host:port/path
  const std::string& origin() const { return origin_; }  // http://host:port
  std::uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  std::string url_;
  std::string origin_;
  std::uint16_t port_ = 0;
};

}  // namespace lienthong::testing

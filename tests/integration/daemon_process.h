#pragma once
// lienthongd as a real process for the integration tests, and a client that posts one
// dossier status message to it.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

extern char** environ;

namespace lienthong::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline std::string readText(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// lienthongd with its output appended to a log file (read, never a pipe that could fill
// while nobody reads it).
class DaemonProcess {
 public:
  DaemonProcess(const fs::path& config, const fs::path& log) : log_(log) {
    std::error_code ec;
    offset_ = fs::exists(log, ec) ? fs::file_size(log, ec) : 0;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    std::string bin = std::string(LIENTHONG_BINARY_DIR) + "/apps/lienthongd/lienthongd";
    std::string flag = "--config";
    std::string path = config.string();
    char* argv[] = {bin.data(), flag.data(), path.data(), nullptr};
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv, environ), 0);
    posix_spawn_file_actions_destroy(&actions);
  }
  ~DaemonProcess() {
    if (pid_ > 0) kill(SIGKILL);
  }
  // The port of its public listener, once it is ready; 0 if it did not get there in 30 s.
  std::uint16_t waitReady() {
    static const std::regex listening("listener public on http://127\\.0\\.0\\.1:([0-9]+)");
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      std::string text = readText(log_).substr(offset_);
      std::smatch m;
      if (text.find("lienthongd: ready") != std::string::npos &&
          std::regex_search(text, m, listening)) {
        return static_cast<std::uint16_t>(std::stoi(m[1].str()));
      }
      if (exited()) return 0;
      std::this_thread::sleep_for(10ms);  // a file has no event to wait on
    }
    return 0;
  }
  // Whether its output since it started has `text` within `timeout` (false if it exits).
  bool waitForOutput(const std::string& text, std::chrono::seconds timeout = 30s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (readText(log_).find(text, offset_) != std::string::npos) return true;
      if (exited()) return false;
      std::this_thread::sleep_for(10ms);  // a file has no event to wait on
    }
    return false;
  }
  std::string output() const { return readText(log_).substr(offset_); }
  pid_t pid() const { return pid_; }
  // Sends `sig` and reaps the process; its exit status (128 + signal when killed).
  int kill(int sig) {
    ::kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  bool exited() {
    int status = 0;
    return waitpid(pid_, &status, WNOHANG) == pid_ && (pid_ = -1, true);
  }
  fs::path log_;
  std::uintmax_t offset_ = 0;
  pid_t pid_ = -1;
};

// One POST to the daemon; the HTTP status, or 0 when it could not be reached.
inline int post(std::uint16_t port, const std::string& dossier, int seq,
                const std::string& padding = {}) {
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", port);
    session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, "/status",
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    const std::string id = dossier + "-" + std::to_string(seq);
    request.set("MaHoSo", dossier);
    request.set("ThuTu", std::to_string(seq));
    request.set("MaThongDiep", id);
    request.setContentType("application/xml");
    const std::string body = "<TrangThai><MaHoSo>" + dossier + "</MaHoSo><ThuTu>" +
                             std::to_string(seq) + "</ThuTu>" + padding + "</TrangThai>";
    request.setContentLength(static_cast<std::streamsize>(body.size()));
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    std::string ignored;
    Poco::StreamCopier::copyToString(in, ignored);
    return response.getStatus();
  } catch (const Poco::Exception&) {
    return 0;
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace lienthong::testing

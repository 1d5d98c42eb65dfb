#pragma once
// The servers the CTest fixtures start for the integration tests (tests/fixtures/*.sh:
// RabbitMQ, PostgreSQL), each in a folder under LIENTHONG_TEST_FIXTURES_DIR.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace lienthong::testing {

// A fixture's folder ("rabbitmq", "postgresql"); "" outside ctest (the test skips).
inline std::string fixtureDir(const std::string& name) {
  const char* dir = std::getenv("LIENTHONG_TEST_FIXTURES_DIR");
  return dir ? std::string(dir) + "/" + name : "";
}

// The port a fixture's server listens on (its folder's `port` file, or another one:
// "tls-port").
inline std::string fixturePort(const std::string& dir, const std::string& file = "port") {
  std::ifstream in(dir + "/" + file);
  std::string port;
  std::getline(in, port);
  return port;
}

// The path of a fixture script ("rabbitmq.sh").
inline std::string fixtureScript(const std::string& name) {
  return std::string(LIENTHONG_SOURCE_DIR) + "/tests/fixtures/" + name;
}

// Runs a shell command; its output (stdout and stderr). `status`: its exit status.
inline std::string runCommand(const std::string& command, int* status = nullptr) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) {
    if (status) *status = -1;
    return out;
  }
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, p)) out += buffer;
  const int rc = ::pclose(p);
  if (status) *status = rc;
  return out;
}

// A loopback port no one listens on now, for a server its peers must be told of before it
// starts (tests/fixtures/unused-ports: below the kernel's ephemeral range); 0, with the
// script's words in `why`, if it found none.
inline std::uint16_t unusedPort(std::string* why = nullptr) {
  int status = 0;
  const std::string out = runCommand(fixtureScript("unused-ports"), &status);
  const long port = status == 0 ? std::strtol(out.c_str(), nullptr, 10) : 0;
  if (port <= 0 || port > 65535) {
    if (why) *why = out;
    return 0;
  }
  return static_cast<std::uint16_t>(port);
}

// Messages in a queue of the broker in `dir` (ready and unacknowledged), as the broker
// counts them; kNoSuchQueue, or kNoAnswer when the broker did not answer.
constexpr long kNoSuchQueue = -1;
constexpr long kNoAnswer = -2;
inline long queueDepth(const std::string& dir, const std::string& queue) {
  int status = 0;
  const std::string out = runCommand(
      fixtureScript("rabbitmq.sh") + " ctl " + dir + " list_queues name messages --quiet", &status);
  if (status != 0) return kNoAnswer;
  std::size_t at = 0;
  while (at < out.size()) {
    std::size_t end = out.find('\n', at);
    if (end == std::string::npos) end = out.size();
    char name[400];
    long n = 0;
    if (std::sscanf(out.substr(at, end - at).c_str(), "%399s %ld", name, &n) == 2 &&
        queue == name) {
      return n;
    }
    at = end + 1;
  }
  return kNoSuchQueue;
}

}  // namespace lienthong::testing

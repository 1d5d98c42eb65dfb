// lienthongd and lienthongctl as real processes: signals, exit codes, printed errors.

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <future>
#include <regex>

#include "core/pki.h"
#include "core/store.h"

#include "fakes/http_peer.h"
#include "integration/test_support.h"

extern char** environ;

namespace lienthong {
namespace {

using namespace std::chrono_literals;
using testing::httpCall;
using testing::HttpPeer;
using testing::TempHome;
namespace fs = std::filesystem;

std::string binary(const std::string& rel) { return std::string(LIENTHONG_BINARY_DIR) + "/" + rel; }

// A child process with its stderr (and stdout) read line by line.
class Process {
 public:
  explicit Process(std::vector<std::string> args, const std::string& cwd = "") {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0) << args[0];
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    fd_ = fds[0];
  }
  ~Process() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }

  // Reads output until a line matches or 2 minutes pass (the CTest timeout stops a hung
  // one sooner); returns the match (empty if none).
  std::smatch waitFor(const std::regex& re) {
    auto deadline = std::chrono::steady_clock::now() + 120s;
    std::string line;
    while (nextLine(line, deadline)) {
      held_ = line;
      std::smatch m;
      if (std::regex_search(held_, m, re)) return m;
    }
    return {};
  }
  std::string readAll() {
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + 120s;
    while (nextLine(line, deadline)) {
    }
    return lines_;
  }
  void signal(int sig) { kill(pid_, sig); }
  int wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  const std::string& output() const { return lines_; }

 private:
  // One line of output (without waiting past the deadline); false at EOF or timeout.
  bool nextLine(std::string& line, std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      auto nl = pending_.find('\n');
      if (nl != std::string::npos) {
        line = pending_.substr(0, nl + 1);
        pending_.erase(0, nl + 1);
        lines_ += line;
        return true;
      }
      if (eof_) return false;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char buf[4096];
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) {
        eof_ = true;
        if (!pending_.empty()) pending_ += '\n';
        continue;
      }
      pending_.append(buf, static_cast<std::size_t>(n));
    }
  }

  pid_t pid_ = -1;
  bool exited_ = false;
  int fd_ = -1;
  bool eof_ = false;
  std::string pending_;
  std::string lines_;
  std::string held_;
};

void writeDaemonFiles(const TempHome& home, const std::string& backend) {
  home.write("config.yaml",
             "engine: { workers: 2, drain-timeout: 10s }\n"
             "listeners:\n  public: { http: { port: 0 } }\n"
             "connections:\n  backend: { http: { url: \"" +
                 backend +
                 "\" } }\n"
                 "routes: [ routes ]\n");
  home.write("routes/r.yaml",
             "routes:\n"
             "  - id: proxy\n"
             "    pattern: request-reply\n"
             "    from: { http: { listener: public, path: /proxy } }\n"
             "    to: { http: { connection: backend } }\n");
}

TEST(Lienthongd, HelpAndBadArguments) {
  Process help({binary("apps/lienthongd/lienthongd"), "--help"});
  EXPECT_NE(help.readAll().find("--config FILE"), std::string::npos);
  EXPECT_EQ(help.wait(), 0);
  Process bad({binary("apps/lienthongd/lienthongd"), "--bogus"});
  bad.readAll();
  EXPECT_EQ(bad.wait(), 2);
}

TEST(Lienthongd, RefusesToStartOnABadRouteNamingItsPlace) {
  TempHome home;
  writeDaemonFiles(home, "http://127.0.0.1:1");
  home.write("routes/bad.yaml",
             "routes:\n  - id: bad\n    pattern: one-way\n    from: { ftp: {} }\n");
  Process p({binary("apps/lienthongd/lienthongd"), "--config", home.path("config.yaml").string()});
  std::string out = p.readAll();
  EXPECT_EQ(p.wait(), 1);
  EXPECT_NE(out.find("bad.yaml:4:13: unknown inbound endpoint 'ftp'"), std::string::npos) << out;
}

TEST(Lienthongd, ServesReloadsOnSighupAndDrainsOnSigterm) {
  TempHome home;
  HttpPeer peer;
  writeDaemonFiles(home, peer.url());
  Process d({binary("apps/lienthongd/lienthongd"), "--config", home.path("config.yaml").string()});
  auto m = d.waitFor(std::regex("listener public on http://127\\.0\\.0\\.1:([0-9]+)"));
  ASSERT_FALSE(m.empty()) << d.output();
  auto port = static_cast<std::uint16_t>(std::stoi(m[1].str()));
  ASSERT_FALSE(d.waitFor(std::regex("ready")).empty()) << d.output();
  EXPECT_EQ(httpCall(port, "POST", "/proxy", "one").body, "one");

  // An invalid route set is refused with every error; the running one keeps serving.
  home.write("routes/r.yaml",
             "routes:\n  - id: proxy\n    pattern: request-reply\n"
             "    from: { http: { listener: public, path: /proxy } }\n"
             "    steps: [ { nope: 1 } ]\n"
             "    to: { http: { connection: nowhere } }\n");
  d.signal(SIGHUP);
  ASSERT_FALSE(d.waitFor(std::regex("reload refused")).empty()) << d.output();
  EXPECT_FALSE(d.waitFor(std::regex("unknown connection 'nowhere'")).empty()) << d.output();
  EXPECT_EQ(httpCall(port, "POST", "/proxy", "two").body, "two");

  // A valid one replaces it.
  home.write("routes/r.yaml",
             "routes:\n  - id: proxy2\n    pattern: request-reply\n"
             "    from: { http: { listener: public, path: /proxy2 } }\n"
             "    to: { http: { connection: backend } }\n");
  d.signal(SIGHUP);
  ASSERT_FALSE(d.waitFor(std::regex("reload done")).empty()) << d.output();
  EXPECT_EQ(httpCall(port, "POST", "/proxy2", "three").body, "three");
  EXPECT_EQ(httpCall(port, "POST", "/proxy", "x").status, 404);

  // SIGTERM while a request is in flight: it is answered, then the daemon exits 0.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  peer.setHandler([released](const HttpPeer::Request& r) {
    released.wait();
    return HttpPeer::Response{200, r.body, "text/plain"};
  });
  auto inflight =
      std::async(std::launch::async, [&] { return httpCall(port, "POST", "/proxy2", "last"); });
  ASSERT_TRUE(peer.waitForRequests(4, 10s));
  d.signal(SIGTERM);
  ASSERT_FALSE(d.waitFor(std::regex("draining")).empty()) << d.output();
  release.set_value();
  auto answer = inflight.get();
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.body, "last");
  EXPECT_EQ(d.wait(), 0) << d.readAll();
}

TEST(Lienthongctl, LintPrintsEveryErrorAndExits1) {
  TempHome home;
  writeDaemonFiles(home, "http://127.0.0.1:1");
  home.write("routes/bad.yaml",
             "routes:\n  - id: Bad\n    pattern: one-way\n    timeout: 5 minutes\n"
             "    from: { http: { listener: public, path: /x } }\n"
             "    to: { http: { connection: nowhere } }\n");
  Process p({binary("apps/lienthongctl/lienthongctl"), "lint", "--config",
             home.path("config.yaml").string()});
  std::string out = p.readAll();
  EXPECT_EQ(p.wait(), 1);
  EXPECT_NE(out.find("bad.yaml:2:9: route id 'Bad' must be lower-case"), std::string::npos) << out;
  EXPECT_NE(out.find("bad.yaml:4:14: 'timeout' must be a duration"), std::string::npos) << out;
  EXPECT_NE(out.find("bad.yaml:6:31: unknown connection 'nowhere'"), std::string::npos) << out;
  EXPECT_NE(out.find("3 error(s)"), std::string::npos) << out;
}

TEST(Lienthongctl, LintAcceptsTheShippedRoutesAndConfig) {
  const char* src = LIENTHONG_SOURCE_DIR;
  Process p({binary("apps/lienthongctl/lienthongctl"), "lint"}, src);
  std::string out = p.readAll();
  EXPECT_EQ(p.wait(), 0) << out;
  EXPECT_NE(out.find("ok: "), std::string::npos) << out;
}

TEST(Lienthongctl, RouteTestsReportEveryFailureWithItsLine) {
  const std::string src = LIENTHONG_SOURCE_DIR;
  Process p({binary("apps/lienthongctl/lienthongctl"), "test", "--config",
             "tests/data/route-tests/config.yaml"},
            src);
  std::string out = p.readAll();
  EXPECT_EQ(p.wait(), 1) << out;
  const std::string f = src + "/tests/data/route-tests/forward_test.yaml:";
  const std::string expected =
      f + "17:16: 'wrong expectations': outcome: expected rejected, got delivered\n" + f +
      "18:21: 'wrong expectations': content-type: expected \"text/plain\", got "
      "\"application/xml\"\n" +
      f + "19:26: 'wrong expectations': header MaHoSo: expected \"HS-9\", got \"HS-2\"\n" + f +
      "19:44: 'wrong expectations': header X-Khong-Co: expected \"x\", got none\n" + f +
      "21:19: 'wrong expectations': body: expected it to contain \"Loi\", got \"<Ok/>\"\n" + f +
      "22:29: 'wrong expectations': xpath /Ok/@ma: expected \"1\", got \"\"\n" + f +
      "23:21: 'wrong expectations': sent[0] to: expected an endpoint matching \"/in/HS-9\", got "
      "\"http POST http://127.0.0.1:9/in/HS-2\"\n" +
      f +
      "29:16: 'a peer that refuses': outcome: expected delivered, got rejected (http POST "
      "http://127.0.0.1:9/in/${MaHoSo}: HTTP 422 (test reply))\n" +
      f +
      "30:14: 'a peer that refuses': error: expected a message containing \"HTTP 500\", got "
      "\"http POST http://127.0.0.1:9/in/${MaHoSo}: HTTP 422 (test reply)\"\n" +
      f +
      "31:13: 'a peer that refuses': sent: expected 0 message(s), got 1 (http POST "
      "http://127.0.0.1:9/in/HS-3)\n" +
      f +
      "34:31: 'a mistake in the test itself': unknown key 'header' in input (known: headers, "
      "body, body-file, content-type)\n" +
      f + "39:40: 'wrong types in the test': a reply's headers must be a map\n" + f +
      "45:14: 'an expectation of the wrong type': error must be text, not a map\n" + f +
      "46:25: 'an expectation of the wrong type': contains must be text, not a list\n"
      "4 passed, 5 failed\n";
  EXPECT_EQ(out, expected);
}

// Every shipped route file has a *_test.yaml beside it, and they all pass.
TEST(Lienthongctl, ShippedRoutesPassTheirTests) {
  const std::string src = LIENTHONG_SOURCE_DIR;
  std::size_t route_files = 0;
  for (const auto& e : fs::recursive_directory_iterator(src + "/routes")) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file() || !name.ends_with(".yaml") || name.ends_with("_test.yaml")) continue;
    ++route_files;
    fs::path test = e.path();
    test.replace_filename(name.substr(0, name.size() - 5) + "_test.yaml");
    EXPECT_TRUE(fs::exists(test)) << e.path() << " has no route tests";
  }
  EXPECT_GE(route_files, 5u);
  Process p({binary("apps/lienthongctl/lienthongctl"), "test"}, src);
  std::string out = p.readAll();
  EXPECT_EQ(p.wait(), 0) << out;
  std::smatch m;
  ASSERT_TRUE(std::regex_match(out, m, std::regex("([0-9]+) passed, 0 failed\n"))) << out;
  EXPECT_GE(std::stoul(m[1]), 2 * route_files);
}

// sign, verify and certs with the test PKI, offline, as an operator runs them.
TEST(Lienthongctl, SignVerifyAndCertsWithTheConfigsKeys) {
  TempHome home;
  const std::string pki = std::string(LIENTHONG_BINARY_DIR) + "/tests/pki";
  home.write("config.yaml", "home: " + pki +
                                "\n"
                                "keys:\n"
                                "  node: { key: agency-enc-key.pem, cert: agency-chain.pem, "
                                "passphrase-file: passphrase.txt }\n"
                                "  old: { key: expired-key.pem, cert: expired-chain.pem }\n"
                                "trust:\n"
                                "  agencies: { ca: root.pem, crl: crl.pem }\n");
  const std::string config = home.path("config.yaml").string();
  home.write("hoso.xml",
             "<HoSo xmlns=\"urn:lienthong:hoso:1\"><MaHoSo>000.00.01.H22-240315-0001</MaHoSo>"
             "<ChuHoSo>Nguyễn Văn An</ChuHoSo></HoSo>\n");
  const std::string ctl = binary("apps/lienthongctl/lienthongctl");
  const std::string signed_file = home.path("hoso-signed.xml").string();

  Process sign({ctl, "sign", "--config", config, "--key", "node", "--out", signed_file,
                home.path("hoso.xml").string()});
  EXPECT_EQ(sign.wait(), 0) << sign.readAll();
  Process verify({ctl, "verify", "--config", config, "--trust", "agencies", signed_file});
  std::string out = verify.readAll();
  EXPECT_EQ(verify.wait(), 0) << out;
  EXPECT_EQ(out.rfind("valid: enveloped signature, rsa-sha256, key RSA 2048, signer "
                      "'C=VN,O=UBND tinh Ha Giang,CN=So Tu phap tinh Ha Giang' (serial ",
                      0),
            0u)
      << out;

  std::string text = home.read(signed_file);
  text.replace(text.find("Nguyễn Văn An"), std::string("Nguyễn Văn An").size(), "Nguyễn Văn Ba");
  home.write("altered.xml", text);
  Process altered({ctl, "verify", "--config", config, "--trust", "agencies",
                   home.path("altered.xml").string()});
  out = altered.readAll();
  EXPECT_EQ(altered.wait(), 1);
  EXPECT_EQ(out,
            "invalid: signature: the digest of reference '' does not match: the signed content "
            "was changed\n");

  Process expired(
      {ctl, "sign", "--config", config, "--key", "old", home.path("hoso.xml").string()});
  out = expired.readAll();
  EXPECT_EQ(expired.wait(), 1);
  EXPECT_NE(out.find("key 'old': the certificate 'C=VN,O=UBND tinh Ha Giang,CN=Het han' expired "
                     "on 2021-01-01T00:00:00Z; refusing to sign"),
            std::string::npos)
      << out;

  Process certs({ctl, "certs", "--config", config});
  out = certs.readAll();
  EXPECT_EQ(certs.wait(), 1) << out;  // the old key's certificate expired
  EXPECT_NE(out.find("key old"), std::string::npos) << out;
  EXPECT_NE(out.find("EXPIRED"), std::string::npos) << out;
  EXPECT_NE(out.find("1 certificate(s) expired or expiring within 30 days"), std::string::npos)
      << out;
  // The test PKI's agency certificate is made for two years by the build.
  std::smatch days;
  ASSERT_TRUE(std::regex_search(out, days, std::regex("key node +signer +ok +([0-9]+) days")))
      << out;
  EXPECT_GT(std::stoi(days[1].str()), 30) << out;
  EXPECT_LE(std::stoi(days[1].str()), 731) << out;
  EXPECT_NE(out.find("trust agencies         CA"), std::string::npos) << out;

  Process usage({ctl, "verify", "--config", config, signed_file});
  usage.readAll();
  EXPECT_EQ(usage.wait(), 2);
}

// The dead letters of a stopped daemon's store, as an operator handles them.
TEST(Lienthongctl, DeadLettersAreListedShownReplayedAndPurged) {
  TempHome home;
  writeDaemonFiles(home, "http://127.0.0.1:1");
  home.write("config.yaml",
             home.read(home.path("config.yaml")) + "store: { path: var/lienthong.db }\n");
  const std::string db = home.path("var/lienthong.db").string();
  std::filesystem::create_directories(home.path("var"));
  {
    auto store = openSqliteStore(db);
    ASSERT_TRUE(store.ok()) << store.error().message;
    for (int i = 1; i <= 3; ++i) {
      Message m;
      m.setDossierKey("000.00.01.H22-240315-000" + std::to_string(i));
      m.setHeader("MaHoSo", m.dossierKey());
      m.setBody("<TrangThai>" + std::to_string(i) + "</TrangThai>");
      auto seq = (*store)->append("status", m);
      ASSERT_TRUE((*store)->deadLetter(*seq, i == 2 ? "Timeout: timed out" : "HTTP 400").ok());
    }
  }
  const std::string ctl = binary("apps/lienthongctl/lienthongctl");
  const std::string config = home.path("config.yaml").string();
  auto run = [&](std::vector<std::string> args, int expected) {
    args.insert(args.begin(), {ctl, "dlq"});
    args.insert(args.begin() + 3, {"--config", config});
    Process p(args);
    std::string out = p.readAll();
    EXPECT_EQ(p.wait(), expected) << out;
    return out;
  };
  std::string out = run({"list"}, 0);
  EXPECT_NE(out.find("3 dead letter(s)"), std::string::npos) << out;
  {
    Process figures({ctl, "store", "--config", config});
    out = figures.readAll();
    EXPECT_EQ(figures.wait(), 0) << out;
    EXPECT_NE(out.find("0 journalled, 3 dead letter(s)"), std::string::npos) << out;
  }
  out = run({"list", "--reason", "timed out"}, 0);
  EXPECT_NE(out.find("000.00.01.H22-240315-0002"), std::string::npos) << out;
  EXPECT_NE(out.find("1 dead letter(s)"), std::string::npos) << out;
  out = run({"list", "--json", "--dossier", "000.00.01.H22-240315-0003"}, 0);
  EXPECT_NE(out.find("\"dossier\":\"000.00.01.H22-240315-0003\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"reason\":\"HTTP 400\""), std::string::npos) << out;
  out = run({"show", "2"}, 0);
  EXPECT_NE(out.find("MaHoSo: 000.00.01.H22-240315-0002"), std::string::npos) << out;
  EXPECT_NE(out.find("<TrangThai>2</TrangThai>"), std::string::npos) << out;

  out = run({"replay", "--reason", "HTTP 400", "--dry-run"}, 0);
  EXPECT_NE(out.find("2 dead letter(s) would be replayed (dry run: nothing changed)"),
            std::string::npos)
      << out;
  run({"replay"}, 2);                          // no selection: refused
  run({"replay", "1", "--to", "nowhere"}, 1);  // no such route
  out = run({"replay", "1"}, 0);
  EXPECT_NE(out.find("1 dead letter(s) back in the journal"), std::string::npos) << out;
  out = run({"purge", "--all"}, 0);
  EXPECT_NE(out.find("2 dead letter(s) purged"), std::string::npos) << out;

  auto store = openSqliteStore(db);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->pending()->size(), 1u);
  EXPECT_TRUE((*store)->deadLetters({})->empty());
  EXPECT_EQ((*store)->actions()->size(), 3u);  // one replay, two purges, with who and when
  // On the audit chain too, each with the message's hash.
  auto records = (*store)->auditRecords("local", 0, 100);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 3u);
  EXPECT_EQ((*records)[0].action, "dlq replay");
  EXPECT_EQ((*records)[0].subject, "dead letter 1");
  EXPECT_EQ((*records)[0].detail, "to route status");
  EXPECT_EQ((*records)[0].actor.rfind("lienthongctl:", 0), 0u) << (*records)[0].actor;
  EXPECT_EQ((*records)[0].digest, pki::sha256Hex("<TrangThai>1</TrangThai>"));
  EXPECT_EQ((*records)[2].action, "dlq purge");
  EXPECT_TRUE(verifyAuditChain("local", *records, {}, {}).ok());
  store->reset();
  {
    Process figures({ctl, "store", "--config", config, "--json"});
    out = figures.readAll();
    EXPECT_EQ(figures.wait(), 0) << out;
    EXPECT_NE(out.find("{\"route\":\"status\",\"journalled\":1,\"oldest_age_s\":"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("\"dead_letters\":0}"), std::string::npos) << out;
  }
  store = openSqliteStore(db);
  ASSERT_TRUE(store.ok());
  out = run({"list"}, 1);  // the store is held (by this test, as by a running daemon)
  EXPECT_NE(out.find("is in use by another process"), std::string::npos) << out;
}

TEST(Lienthongctl, DossierCodesAreCheckedAndNumbered) {
  const std::string ctl = binary("apps/lienthongctl/lienthongctl");
  Process check({ctl, "dossier-code", "000.00.01.H22-240315-0001", "000.00.01.H22-240230-0001"});
  const std::string out = check.readAll();
  EXPECT_NE(out.find("ok: 000.00.01.H22-240315-0001 agency 000.00.01.H22, received 2024-03-15, "
                     "number 1"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("invalid: dossier code '000.00.01.H22-240230-0001': 30 February 2024 is no "
                     "date (character 15)"),
            std::string::npos)
      << out;
  EXPECT_EQ(check.wait(), 1);
  Process next({ctl, "dossier-code", "--next", "000.00.01.H22-240315-9999"});
  EXPECT_EQ(next.readAll(), "000.00.01.H22-240315-10000\n");
  EXPECT_EQ(next.wait(), 0);
  Process first({ctl, "dossier-code", "--first", "000.00.01.H22", "2026-11-27"});
  EXPECT_EQ(first.readAll(), "000.00.01.H22-261127-0001\n");
  EXPECT_EQ(first.wait(), 0);
  Process full({ctl, "dossier-code", "--next", "000.00.01.H22-240315-99999"});
  EXPECT_NE(full.readAll().find("used up for the day"), std::string::npos);
  EXPECT_EQ(full.wait(), 1);
  Process bad({ctl, "dossier-code", "--first", "000.00.01.H22", "27/11/2026"});
  bad.readAll();
  EXPECT_EQ(bad.wait(), 2);
}

TEST(Lienthongctl, HelpAndUsage) {
  Process help({binary("apps/lienthongctl/lienthongctl"), "--help"});
  EXPECT_NE(help.readAll().find("lint"), std::string::npos);
  EXPECT_EQ(help.wait(), 0);
  Process none({binary("apps/lienthongctl/lienthongctl"), "frobnicate"});
  none.readAll();
  EXPECT_EQ(none.wait(), 2);
}

}  // namespace
}  // namespace lienthong

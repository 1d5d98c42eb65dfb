#include "adapters/file/file_inbound.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>

#include "fakes/fake_inbound_context.h"
#include "unit/file/file_test_util.h"

namespace lienthong::adapters::file {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using lienthong::testing::FakeInboundContext;
using testing::listDir;
using testing::readFile;
using testing::TempDir;
using testing::waitUntil;
using testing::writeFile;

// Forwards to a FakeInboundContext and counts the submissions it refused.
class CountingContext : public InboundContext {
 public:
  explicit CountingContext(FakeInboundContext& inner) : inner_(inner) {}

  Admission submit(Message message, Completion done) override {
    const Admission admission = inner_.submit(std::move(message), std::move(done));
    {
      std::lock_guard lock(mutex_);
      if (admission != Admission::kAccepted) ++refused_;
    }
    cv_.notify_all();
    return admission;
  }
  const std::string& routeId() const override { return inner_.routeId(); }
  ExchangePattern pattern() const override { return inner_.pattern(); }
  std::chrono::milliseconds timeout() const override { return inner_.timeout(); }

  bool waitForRefused(int n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return refused_ >= n; });
  }

 private:
  FakeInboundContext& inner_;
  std::mutex mutex_;
  std::condition_variable cv_;
  int refused_ = 0;
};

Outcome outcomeOf(Outcome::Status status, const Message& message, Error error = {}) {
  Outcome outcome;
  outcome.status = status;
  outcome.message = message;
  outcome.error = std::move(error);
  return outcome;
}

class FileInboundTest : public ::testing::Test {
 protected:
  FileInboundTest() : context_(std::make_unique<FakeInboundContext>(ExchangePattern::kOneWay)) {
    settings_.dir = tmp_ / "in";
    settings_.interval = 20ms;
    settings_.stable_for = 40ms;
  }

  // Waits for every completion the fake started (it joins its threads when destroyed).
  void finishCompletions() { context_.reset(); }

  fs::path in(const std::string& name) const { return settings_.dir / name; }

  TempDir tmp_;
  FileInboundSettings settings_;
  std::unique_ptr<FakeInboundContext> context_;
};

TEST_F(FileInboundTest, StableFileIsClaimedSubmittedWithHeadersAndMovedToDone) {
  writeFile(in("dossier.xml"), "<HoSo/>");
  FileInbound input(settings_);
  ASSERT_TRUE(input.start(*context_).ok());
  ASSERT_TRUE(context_->waitForSubmitted(1, 5s));
  input.stop();

  const auto submitted = context_->submitted();
  ASSERT_EQ(submitted.size(), 1u);
  const Message& m = submitted[0];
  EXPECT_EQ(m.body(), "<HoSo/>");
  ASSERT_NE(m.header("file.name"), nullptr);
  EXPECT_EQ(*m.header("file.name"), "dossier.xml");
  ASSERT_NE(m.header("file.size"), nullptr);
  EXPECT_EQ(*m.header("file.size"), "7");
  EXPECT_EQ(m.contentType(), "application/xml");

  finishCompletions();
  EXPECT_EQ(readFile(in("done/dossier.xml")), "<HoSo/>");
  EXPECT_FALSE(fs::exists(in("dossier.xml")));
  EXPECT_TRUE(listDir(in(".work")).empty());
  EXPECT_TRUE(listDir(in("failed")).empty());
}

TEST_F(FileInboundTest, OutcomeDecidesDoneOrFailedWithErrorFile) {
  context_->setHandler([](const Message& m) {
    const std::string name = *m.header("file.name");
    if (name == "stopped.json") return outcomeOf(Outcome::Status::kStopped, m);
    if (name == "failed.json") {
      return outcomeOf(Outcome::Status::kFailed, m,
                       Error(ErrorCode::kInvalidMessage, "no MaHoSo in the body"));
    }
    if (name == "dead.json") {
      return outcomeOf(Outcome::Status::kDeadLettered, m,
                       Error(ErrorCode::kPermanent, "peer answered 400"));
    }
    if (name == "abandoned.json") {
      return outcomeOf(Outcome::Status::kAbandoned, m,
                       Error(ErrorCode::kTransient, "the daemon stopped"));
    }
    return outcomeOf(Outcome::Status::kDelivered, m);
  });
  writeFile(in("abandoned.json"), "{}");
  writeFile(in("ok.json"), "{}");
  writeFile(in("stopped.json"), "{}");
  writeFile(in("failed.json"), "{\"a\":1}");
  writeFile(in("dead.json"), "{\"b\":2}");
  FileInbound input(settings_);
  ASSERT_TRUE(input.start(*context_).ok());
  ASSERT_TRUE(context_->waitForSubmitted(5, 5s));
  input.stop();
  finishCompletions();

  EXPECT_EQ(listDir(in("done")), (std::set<std::string>{"ok.json", "stopped.json"}));
  EXPECT_EQ(listDir(in("failed")), (std::set<std::string>{"failed.json", "failed.json.error",
                                                          "dead.json", "dead.json.error"}));
  EXPECT_EQ(readFile(in("failed/dead.json")), "{\"b\":2}");
  const std::string dead_error = readFile(in("failed/dead.json.error"));
  EXPECT_NE(dead_error.find(errorCodeName(ErrorCode::kPermanent)), std::string::npos) << dead_error;
  EXPECT_NE(dead_error.find("peer answered 400"), std::string::npos) << dead_error;
  const std::string failed_error = readFile(in("failed/failed.json.error"));
  EXPECT_NE(failed_error.find(errorCodeName(ErrorCode::kInvalidMessage)), std::string::npos);
  EXPECT_NE(failed_error.find("no MaHoSo in the body"), std::string::npos);
  // Abandoned at stop: kept in the work folder for the next start.
  EXPECT_EQ(listDir(in(".work")), (std::set<std::string>{"abandoned.json"}));
}

TEST_F(FileInboundTest, IgnoresHiddenTemporaryNonMatchingAndNonRegularFiles) {
  settings_.include = "*.xml";
  writeFile(in(".hidden.xml"), "h");
  writeFile(in("upload.xml.tmp"), "t");
  writeFile(in("upload.xml.part"), "p");
  writeFile(in("notes.txt"), "n");
  fs::create_directories(in("folder.xml"));
  writeFile(tmp_ / "outside.xml", "o");
  fs::create_symlink(tmp_ / "outside.xml", in("link.xml"));
  ASSERT_EQ(::mkfifo(in("pipe.xml").c_str(), 0600), 0);
  writeFile(in("good.xml"), "g");

  FileInbound input(settings_);
  ASSERT_TRUE(input.start(*context_).ok());
  ASSERT_TRUE(context_->waitForSubmitted(1, 5s));
  // A file that arrives later is taken by a later round: the ignored ones had their
  // chances meanwhile.
  writeFile(in("later.xml"), "l");
  ASSERT_TRUE(context_->waitForSubmitted(2, 5s));
  input.stop();

  const auto submitted = context_->submitted();
  ASSERT_EQ(submitted.size(), 2u);
  EXPECT_EQ(*submitted[0].header("file.name"), "good.xml");
  EXPECT_EQ(*submitted[1].header("file.name"), "later.xml");
  for (const char* name : {".hidden.xml", "upload.xml.tmp", "upload.xml.part", "notes.txt",
                           "folder.xml", "link.xml", "pipe.xml"}) {
    EXPECT_TRUE(fs::exists(fs::symlink_status(in(name)))) << name;
  }
}

TEST_F(FileInboundTest, GrowingFileIsNotReadUntilStable) {
  settings_.stable_for = 2s;  // far above the writer's 20 ms, however busy the machine
  const fs::path path = in("growing.bin");
  writeFile(path, "0");
  std::string expected = "0";
  FileInbound input(settings_);
  ASSERT_TRUE(input.start(*context_).ok());

  // A slow writer: each append changes the size, so the file never looks stable.
  auto last_write = std::chrono::steady_clock::now();
  for (int i = 1; i <= 15; ++i) {
    std::this_thread::sleep_for(20ms);
    const std::string chunk = std::to_string(i % 10);
    testing::appendFile(path, chunk);
    expected += chunk;
    last_write = std::chrono::steady_clock::now();
    ASSERT_TRUE(context_->submitted().empty()) << "read while still growing, after " << i;
  }
  ASSERT_TRUE(context_->waitForSubmitted(1, 10s));
  const auto seen_at = std::chrono::steady_clock::now();
  input.stop();

  EXPECT_GE(seen_at - last_write, settings_.stable_for);
  EXPECT_EQ(context_->submitted()[0].body(), expected);
  EXPECT_EQ(*context_->submitted()[0].header("file.size"), std::to_string(expected.size()));
}

TEST_F(FileInboundTest, BusyPutsFileBackAndItIsProcessedLater) {
  context_->setAdmission(Admission::kBusy);
  CountingContext counting(*context_);
  writeFile(in("a.xml"), "A");
  writeFile(in("b.xml"), "B");
  FileInbound input(settings_);
  ASSERT_TRUE(input.start(counting).ok());
  // Refused in several rounds: the input paused and tried again at its next interval.
  ASSERT_TRUE(counting.waitForRefused(3, 5s));
  input.stop();

  EXPECT_TRUE(context_->submitted().empty());
  EXPECT_EQ(readFile(in("a.xml")), "A");
  EXPECT_EQ(readFile(in("b.xml")), "B");
  EXPECT_TRUE(listDir(in(".work")).empty());

  context_->setAdmission(Admission::kAccepted);
  ASSERT_TRUE(input.start(counting).ok());
  ASSERT_TRUE(context_->waitForSubmitted(2, 5s));
  input.stop();
  finishCompletions();
  EXPECT_EQ(listDir(in("done")), (std::set<std::string>{"a.xml", "b.xml"}));
  EXPECT_EQ(readFile(in("done/a.xml")), "A");
}

TEST_F(FileInboundTest, FileLeftInWorkFolderIsSubmittedAgainAtStart) {
  writeFile(in(".work/left-by-crash.xml"), "<old/>");
  writeFile(in("new.xml"), "<new/>");
  FileInbound input(settings_);
  ASSERT_TRUE(input.start(*context_).ok());
  ASSERT_TRUE(context_->waitForSubmitted(2, 5s));
  input.stop();

  const auto submitted = context_->submitted();
  ASSERT_EQ(submitted.size(), 2u);
  EXPECT_EQ(*submitted[0].header("file.name"), "left-by-crash.xml");  // recovery comes first
  EXPECT_EQ(submitted[0].body(), "<old/>");
  EXPECT_EQ(*submitted[1].header("file.name"), "new.xml");
  finishCompletions();
  EXPECT_EQ(listDir(in("done")), (std::set<std::string>{"left-by-crash.xml", "new.xml"}));
  EXPECT_TRUE(listDir(in(".work")).empty());
}

// A reload starts a new input on the same folder while the old one still has files in
// flight: the new one must not take them for a crash's leftovers and submit them again.
TEST_F(FileInboundTest, ANewInputOnTheSameFolderLeavesFilesInFlightAlone) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  context_->setHandler([released](const Message& m) {
    released.wait();
    return outcomeOf(Outcome::Status::kDelivered, m);
  });
  writeFile(in("busy.xml"), "<busy/>");
  FileInbound old_input(settings_);
  ASSERT_TRUE(old_input.start(*context_).ok());
  ASSERT_TRUE(context_->waitForSubmitted(1, 5s));  // claimed into .work, not settled

  FakeInboundContext next_context(ExchangePattern::kOneWay, "next");
  FileInbound new_input(settings_);
  ASSERT_TRUE(new_input.start(next_context).ok());
  old_input.stop();
  writeFile(in("fresh.xml"), "<fresh/>");
  ASSERT_TRUE(next_context.waitForSubmitted(1, 5s));
  new_input.stop();
  auto taken = next_context.submitted();
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(*taken[0].header("file.name"), "fresh.xml");
  release.set_value();
  finishCompletions();
}

TEST_F(FileInboundTest, NameTakenInDoneGetsATimestampSuffix) {
  writeFile(in("done/report.xml"), "older");
  writeFile(in("report.xml"), "newer");
  FileInbound input(settings_);
  ASSERT_TRUE(input.start(*context_).ok());
  ASSERT_TRUE(context_->waitForSubmitted(1, 5s));
  input.stop();
  finishCompletions();

  const auto done = listDir(in("done"));
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(readFile(in("done/report.xml")), "older");
  for (const std::string& name : done) {
    if (name == "report.xml") continue;
    EXPECT_EQ(name.rfind("report.", 0), 0u) << name;
    EXPECT_TRUE(name.ends_with(".xml")) << name;
    EXPECT_EQ(readFile(in("done/" + name)), "newer");
  }
}

TEST_F(FileInboundTest, CompletionAfterTheEndpointIsDestroyedStillMovesTheFile) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  context_->setHandler([released](const Message& m) {
    released.wait();
    return outcomeOf(Outcome::Status::kDeadLettered, m, Error(ErrorCode::kTimeout, "late"));
  });
  writeFile(in("slow.xml"), "s");
  {
    FileInbound input(settings_);
    ASSERT_TRUE(input.start(*context_).ok());
    ASSERT_TRUE(context_->waitForSubmitted(1, 5s));
  }  // stopped and destroyed while the message is in flight
  EXPECT_TRUE(fs::exists(in(".work/slow.xml")));
  release.set_value();
  finishCompletions();
  EXPECT_EQ(readFile(in("failed/slow.xml")), "s");
  EXPECT_TRUE(fs::exists(in("failed/slow.xml.error")));
}

TEST_F(FileInboundTest, StopWakesThePollerAtOnce) {
  settings_.interval = std::chrono::hours(1);
  FileInbound input(settings_);
  ASSERT_TRUE(input.start(*context_).ok());
  const auto before = std::chrono::steady_clock::now();
  input.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 5s);  // not the hour's interval
}

TEST_F(FileInboundTest, ConfiguredFoldersAreUsedAndCreated) {
  settings_.work_dir = tmp_ / "w";
  settings_.done_dir = tmp_ / "d";
  settings_.failed_dir = tmp_ / "f";
  writeFile(in("x.dat"), "x");
  FileInbound input(settings_);
  ASSERT_TRUE(input.start(*context_).ok());
  EXPECT_TRUE(fs::is_directory(tmp_ / "w"));
  EXPECT_TRUE(fs::is_directory(tmp_ / "f"));
  ASSERT_TRUE(context_->waitForSubmitted(1, 5s));
  EXPECT_EQ(context_->submitted()[0].contentType(), "application/octet-stream");
  input.stop();
  finishCompletions();
  EXPECT_EQ(readFile(tmp_ / "d" / "x.dat"), "x");
  EXPECT_FALSE(fs::exists(in("done")));
}

TEST_F(FileInboundTest, StartFailsWhenTheFolderCannotBeMade) {
  writeFile(tmp_ / "plain-file", "");
  settings_.dir = tmp_ / "plain-file";
  FileInbound input(settings_);
  const Result<void> started = input.start(*context_);
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.error().message.find("plain-file"), std::string::npos);
}

TEST(FileInboundDescribe, DescribeAndExclusiveKeyNameTheFolder) {
  FileInboundSettings s;
  s.dir = "/var/spool/in";
  FileInbound input(s);
  EXPECT_EQ(input.describe(), "file /var/spool/in");
  EXPECT_EQ(input.exclusiveKey(), "file /var/spool/in");
}

TEST(FileContentType, GuessedFromTheExtension) {
  EXPECT_EQ(contentTypeFor("a.xml"), "application/xml");
  EXPECT_EQ(contentTypeFor("A.XML"), "application/xml");
  EXPECT_EQ(contentTypeFor("b.json"), "application/json");
  EXPECT_EQ(contentTypeFor("c.pdf"), "application/octet-stream");
  EXPECT_EQ(contentTypeFor("noext"), "application/octet-stream");
}

}  // namespace
}  // namespace lienthong::adapters::file

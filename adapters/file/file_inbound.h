#pragma once
// The `file` input: polls a folder, claims each file once it is stable by renaming it into
// a work folder, submits it as one message, and moves it to the done or failed folder
// when the route has settled it.

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "lienthong/endpoint.h"

namespace lienthong::adapters::file {

struct FileInboundSettings {
  std::filesystem::path dir;  // where files arrive
  std::string include = "*";  // fnmatch(3) glob on the file name
  std::chrono::milliseconds interval{1000};
  // A file is claimed once its size and modification time stayed the same this long.
  std::chrono::milliseconds stable_for{1000};
  // Empty means the default: <dir>/.work, <dir>/done, <dir>/failed. The work folder must
  // be on the same filesystem as `dir` (claims are rename(2)).
  std::filesystem::path work_dir;
  std::filesystem::path done_dir;
  std::filesystem::path failed_dir;
};

// The content type guessed from a file name: .xml, .json, else application/octet-stream.
std::string contentTypeFor(const std::string& file_name);

class FileInbound : public InboundEndpoint {
 public:
  explicit FileInbound(FileInboundSettings settings);
  ~FileInbound() override;  // stops the poller

  // Control thread. Creates the folders, then starts the poller thread, which first
  // submits again the files a crash left in the work folder, then polls `dir` every
  // `interval`.
  Result<void> start(InboundContext& context) override;
  // Control thread. Wakes and joins the poller; returns once nothing more is submitted.
  // Files already submitted are moved by their completion, which may come later (even
  // after this endpoint is destroyed).
  void stop() override;
  std::string describe() const override;
  // Two routes polling one folder would take each other's files.
  std::string exclusiveKey() const override;

  // State shared with completions; defined in the .cc.
  struct Shared;

 private:
  // What was last seen of a file of `dir`, to decide when it is stable. Poller only.
  struct Seen {
    std::uintmax_t size = 0;
    std::int64_t mtime_ns = 0;
    std::uint64_t inode = 0;
    std::chrono::steady_clock::time_point since;
    bool claim_warned = false;  // a failed claim was reported once
  };

  void run(InboundContext& context);
  // Both return false when the round must end (back-pressure or stop).
  bool recoverRound(InboundContext& context);
  bool pollRound(InboundContext& context);
  enum class Submitted { kAccepted, kPushedBack, kGone };
  // Reads work/<name> and submits it; on push-back the file is left in the work folder.
  Submitted submitFromWork(InboundContext& context, const std::string& name);
  bool stopRequested();

  std::shared_ptr<Shared> shared_;

  std::thread poller_;
  std::mutex mutex_;  // guards stopping_
  std::condition_variable wake_;
  bool stopping_ = false;

  // Poller only.
  std::map<std::string, Seen> seen_;
  bool recovered_ = false;
  std::string last_listing_error_;
};

}  // namespace lienthong::adapters::file

#include "adapters/file/file_inbound.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>  // renameat2, RENAME_NOREPLACE (glibc >= 2.28)
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <map>
#include <set>
#include <system_error>
#include <utility>
#include <vector>

#include "lienthong/log.h"

namespace lienthong::adapters::file {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// The names in one work folder that were submitted and not yet settled. One per work
// folder in the process: after a reload the new input must not submit again the files
// that the old one still has in flight.
struct InFlight {
  std::mutex mutex;
  std::set<std::string> names;
};

std::shared_ptr<InFlight> inFlightFor(const std::filesystem::path& work_dir) {
  static std::mutex registry_mutex;
  static std::map<std::string, std::weak_ptr<InFlight>> registry;
  std::lock_guard lock(registry_mutex);
  std::string key = work_dir.lexically_normal().string();
  std::shared_ptr<InFlight> found = registry[key].lock();
  if (!found) {
    found = std::make_shared<InFlight>();
    registry[key] = found;
  }
  return found;
}

}  // namespace

struct FileInbound::Shared {
  FileInboundSettings settings;      // folders resolved; immutable after construction
  std::shared_ptr<InFlight> flight;  // shared with other inputs of the same work folder
};

namespace {

std::string errnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

// Problems no caller can be told about (the poller and completions run on their own).
void warn(const std::string& text) { log::warn("file input", text); }

bool endsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// rename(2) that never replaces an existing target: errno EEXIST instead. Falls back to a
// check-then-rename on filesystems without RENAME_NOREPLACE.
bool renameNoReplace(const fs::path& from, const fs::path& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return true;
  if (errno != EINVAL && errno != ENOSYS) return false;
  struct stat st {};
  if (::lstat(to.c_str(), &st) == 0) {
    errno = EEXIST;
    return false;
  }
  return ::rename(from.c_str(), to.c_str()) == 0;
}

std::string utcStamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf;
}

// "a.xml" -> "a.<stamp>.xml" (then "a.<stamp>-1.xml", ...): the extension is kept so that
// tools that open files by extension still do.
std::string suffixedName(const std::string& name, const std::string& stamp, int n) {
  const auto dot = name.rfind('.');
  const bool has_ext = dot != std::string::npos && dot != 0;
  std::string stem = has_ext ? name.substr(0, dot) : name;
  std::string ext = has_ext ? name.substr(dot) : std::string();
  stem += '.';
  stem += stamp;
  if (n > 0) stem += "-" + std::to_string(n);
  return stem + ext;
}

// Moves `from` into `dir` as `name`, or under a time-stamped name when `name` is taken
// there. Returns the final path, or nullopt with errno set.
std::optional<fs::path> moveUnique(const fs::path& from, const fs::path& dir,
                                   const std::string& name) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  const std::string stamp = utcStamp();
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const fs::path to = dir / (attempt == 0 ? name : suffixedName(name, stamp, attempt - 1));
    if (renameNoReplace(from, to)) return to;
    if (errno == EEXIST) continue;
    if (errno != EXDEV) return std::nullopt;
    // Another filesystem: copy, then remove the original.
    fs::copy_file(from, to, fs::copy_options::none, ec);
    if (ec == std::errc::file_exists) continue;
    if (ec) {
      errno = ec.value();
      return std::nullopt;
    }
    fs::remove(from, ec);
    return to;
  }
  errno = EEXIST;
  return std::nullopt;
}

bool writeWhole(const fs::path& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) return false;
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      errno = err;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return ::close(fd) == 0;
}

// Reads a whole file; nullopt with errno set on failure.
std::optional<std::string> readWhole(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  std::string data;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) data.reserve(static_cast<std::size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      errno = err;
      return std::nullopt;
    }
    data.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return data;
}

// Completion side: moves work/<name> to the done or failed folder. Runs on an engine
// thread, possibly after the endpoint was destroyed: it only touches `shared`.
void settle(FileInbound::Shared& shared, const std::string& name, const Outcome& outcome) {
  const FileInboundSettings& s = shared.settings;
  const fs::path from = s.work_dir / name;
  if (outcome.status == Outcome::Status::kAbandoned) {
    // The daemon stopped first: the file stays in the work folder for the next start.
    std::lock_guard lock(shared.flight->mutex);
    shared.flight->names.erase(name);
    return;
  }
  const bool delivered =
      outcome.status == Outcome::Status::kDelivered || outcome.status == Outcome::Status::kStopped;
  const fs::path& target = delivered ? s.done_dir : s.failed_dir;
  const auto moved = moveUnique(from, target, name);
  if (!moved) {
    // Left in the work folder: submitted again at the next start (at least once).
    warn("cannot move " + from.string() + " to " + target.string() + ": " + errnoText(errno));
  } else if (!delivered) {
    std::string text(errorCodeName(outcome.error.code));
    text += ": ";
    text += outcome.error.message;
    text += '\n';
    fs::path error_file = *moved;
    error_file += ".error";
    if (!writeWhole(error_file, text)) {
      warn("cannot write " + error_file.string() + ": " + errnoText(errno));
    }
  }
  std::lock_guard lock(shared.flight->mutex);
  shared.flight->names.erase(name);
}

bool ignoredName(const std::string& name, const std::string& include) {
  if (name.empty() || name[0] == '.') return true;
  if (endsWith(name, ".tmp") || endsWith(name, ".part")) return true;
  return ::fnmatch(include.c_str(), name.c_str(), 0) != 0;
}

std::int64_t mtimeNs(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

}  // namespace

std::string contentTypeFor(const std::string& file_name) {
  const auto dot = file_name.rfind('.');
  if (dot == std::string::npos) return "application/octet-stream";
  std::string ext = file_name.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == "xml") return "application/xml";
  if (ext == "json") return "application/json";
  return "application/octet-stream";
}

FileInbound::FileInbound(FileInboundSettings settings) : shared_(std::make_shared<Shared>()) {
  if (settings.work_dir.empty()) settings.work_dir = settings.dir / ".work";
  if (settings.done_dir.empty()) settings.done_dir = settings.dir / "done";
  if (settings.failed_dir.empty()) settings.failed_dir = settings.dir / "failed";
  shared_->flight = inFlightFor(settings.work_dir);
  shared_->settings = std::move(settings);
}

FileInbound::~FileInbound() { stop(); }

std::string FileInbound::describe() const { return "file " + shared_->settings.dir.string(); }

std::string FileInbound::exclusiveKey() const {
  return "file " + shared_->settings.dir.lexically_normal().string();
}

Result<void> FileInbound::start(InboundContext& context) {
  if (poller_.joinable()) return makeError(ErrorCode::kInternal, describe() + ": already started");
  const FileInboundSettings& s = shared_->settings;
  for (const fs::path* dir : {&s.dir, &s.work_dir, &s.done_dir, &s.failed_dir}) {
    std::error_code ec;
    fs::create_directories(*dir, ec);
    if (ec || !fs::is_directory(*dir, ec)) {
      return makeError(ErrorCode::kInvalidConfig,
                       describe() + ": cannot create folder " + dir->string() + ": " +
                           (ec ? ec.message() : std::string("not a directory")));
    }
  }
  struct stat in_st {};
  struct stat work_st {};
  if (::stat(s.dir.c_str(), &in_st) != 0 || ::stat(s.work_dir.c_str(), &work_st) != 0) {
    return makeError(ErrorCode::kInvalidConfig, describe() + ": " + errnoText(errno));
  }
  if (in_st.st_dev != work_st.st_dev) {
    return makeError(ErrorCode::kInvalidConfig, describe() + ": work-dir " + s.work_dir.string() +
                                                    " is not on the same filesystem as " +
                                                    s.dir.string());
  }
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  recovered_ = false;
  seen_.clear();
  poller_ = std::thread([this, &context] { run(context); });
  return {};
}

void FileInbound::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (poller_.joinable()) poller_.join();
}

bool FileInbound::stopRequested() {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void FileInbound::run(InboundContext& context) {
  const auto interval = shared_->settings.interval;
  for (;;) {
    const auto round_start = Clock::now();
    if (!recovered_) recovered_ = recoverRound(context);
    if (recovered_) pollRound(context);
    std::unique_lock lock(mutex_);
    if (wake_.wait_until(lock, round_start + interval, [this] { return stopping_; })) return;
  }
}

bool FileInbound::recoverRound(InboundContext& context) {
  const FileInboundSettings& s = shared_->settings;
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(s.work_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && name[0] != '.' && it->symlink_status(ec).type() == fs::file_type::regular)
      names.push_back(name);
  }
  if (ec) {
    warn("cannot list " + s.work_dir.string() + ": " + ec.message());
    return false;
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    if (stopRequested()) return false;
    {
      std::lock_guard lock(shared_->flight->mutex);
      if (shared_->flight->names.count(name) != 0) continue;
    }
    if (submitFromWork(context, name) == Submitted::kPushedBack) return false;
  }
  return true;
}

bool FileInbound::pollRound(InboundContext& context) {
  const FileInboundSettings& s = shared_->settings;
  struct Candidate {
    std::string name;
    std::int64_t mtime_ns;
  };
  std::vector<Candidate> ready;
  std::map<std::string, Seen> seen_now;
  const auto now = Clock::now();

  std::error_code ec;
  for (fs::directory_iterator it(s.dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (ignoredName(name, s.include)) continue;
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    Seen seen{static_cast<std::uintmax_t>(st.st_size), mtimeNs(st),
              static_cast<std::uint64_t>(st.st_ino), now, false};
    const auto before = seen_.find(name);
    if (before != seen_.end() && before->second.size == seen.size &&
        before->second.mtime_ns == seen.mtime_ns && before->second.inode == seen.inode) {
      seen.since = before->second.since;
      seen.claim_warned = before->second.claim_warned;
    }
    if (now - seen.since >= s.stable_for) ready.push_back({name, seen.mtime_ns});
    seen_now.emplace(name, seen);
  }
  if (ec) {
    if (ec.message() != last_listing_error_) {
      last_listing_error_ = ec.message();
      warn("cannot list " + s.dir.string() + ": " + last_listing_error_);
    }
    return false;
  }
  last_listing_error_.clear();
  seen_ = std::move(seen_now);

  // Oldest first, so that a backlog is taken roughly in arrival order.
  std::sort(ready.begin(), ready.end(), [](const Candidate& a, const Candidate& b) {
    return a.mtime_ns != b.mtime_ns ? a.mtime_ns < b.mtime_ns : a.name < b.name;
  });
  for (const Candidate& c : ready) {
    if (stopRequested()) return false;
    {
      // A file of that name is still being processed: its work-folder slot is taken.
      std::lock_guard lock(shared_->flight->mutex);
      if (shared_->flight->names.count(c.name) != 0) continue;
    }
    const fs::path from = s.dir / c.name;
    const fs::path work = s.work_dir / c.name;
    if (!renameNoReplace(from, work)) {
      // ENOENT: another claimer won. EEXIST: a leftover of that name sits in the work
      // folder (its move failed); it is submitted again at the next start.
      Seen& seen = seen_[c.name];
      if (errno != ENOENT && !seen.claim_warned) {
        seen.claim_warned = true;
        warn("cannot claim " + from.string() + ": " +
             (errno == EEXIST ? "a file of that name is in " + s.work_dir.string()
                              : errnoText(errno)));
      }
      continue;
    }
    const Seen seen = seen_[c.name];
    seen_.erase(c.name);
    if (submitFromWork(context, c.name) != Submitted::kPushedBack) continue;
    // Back-pressure: give the file back and pause until the next interval.
    if (renameNoReplace(work, from)) {
      seen_[c.name] = seen;  // still stable: taken at the next round without waiting again
    } else {
      // A new file of that name arrived meanwhile: keep ours in the work folder.
      recovered_ = false;
    }
    return false;
  }
  return true;
}

FileInbound::Submitted FileInbound::submitFromWork(InboundContext& context,
                                                   const std::string& name) {
  const fs::path path = shared_->settings.work_dir / name;
  auto data = readWhole(path);
  if (!data) {
    if (errno == ENOENT) return Submitted::kGone;
    const int err = errno;
    warn("cannot read " + path.string() + ": " + errnoText(err));
    Outcome failed;
    failed.status = Outcome::Status::kFailed;
    failed.error =
        Error(ErrorCode::kInternal, "cannot read " + path.string() + ": " + errnoText(err));
    {
      std::lock_guard lock(shared_->flight->mutex);
      shared_->flight->names.insert(name);
    }
    settle(*shared_, name, failed);
    return Submitted::kGone;
  }

  Message message;
  const std::size_t size = data->size();
  message.setBody(std::move(*data));
  message.setHeader("file.name", name);
  message.setHeader("file.size", std::to_string(size));
  message.setContentType(contentTypeFor(name));

  {
    // Before submit(): the completion may run before submit() returns.
    std::lock_guard lock(shared_->flight->mutex);
    shared_->flight->names.insert(name);
  }
  std::shared_ptr<Shared> shared = shared_;
  const Admission admission = context.submit(
      std::move(message), [shared, name](Outcome&& outcome) { settle(*shared, name, outcome); });
  if (admission == Admission::kAccepted) return Submitted::kAccepted;
  std::lock_guard lock(shared_->flight->mutex);
  shared_->flight->names.erase(name);
  return Submitted::kPushedBack;
}

}  // namespace lienthong::adapters::file

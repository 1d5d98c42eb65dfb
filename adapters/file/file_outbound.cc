#include "adapters/file/file_outbound.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <random>
#include <system_error>
#include <utility>

namespace lienthong::adapters::file {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kNameMax = 255;  // NAME_MAX of Linux filesystems
// Room left in a temporary name for ".", ".<16 hex>.tmp".
constexpr std::size_t kTempStemMax = kNameMax - 22;

std::string errnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

std::string tempName(const std::string& name) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(random()));
  return "." + name.substr(0, kTempStemMax) + "." + hex + ".tmp";
}

Delivery failed(const std::string& what, const fs::path& path, int err) {
  return Delivery::retry(Delivery::Failure::kRemote,
                         "file: " + what + " " + path.string() + ": " + errnoText(err));
}

// Writes all of `data`; false with errno set on failure.
bool writeAll(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

std::shared_ptr<const Template> defaultName() {
  TemplateError error;
  auto t = Template::compile("${message.id}", &error);
  return t ? std::make_shared<const Template>(std::move(*t)) : nullptr;
}

}  // namespace

std::string badFileName(const std::string& name) {
  if (name.empty()) return "the file name is empty";
  if (name == "." || name == "..") return "the file name is '" + name + "'";
  if (name.find('/') != std::string::npos) return "the file name contains '/'";
  if (name.find('\0') != std::string::npos) return "the file name contains a NUL byte";
  if (name.size() > kNameMax) {
    return "the file name is longer than " + std::to_string(kNameMax) + " bytes";
  }
  return {};
}

FileOutbound::FileOutbound(FileOutboundSettings settings) : settings_(std::move(settings)) {
  if (!settings_.name) settings_.name = defaultName();
}

std::string FileOutbound::describe() const {
  return "file " + settings_.dir.string() + "/" +
         (settings_.name ? settings_.name->source() : std::string("${message.id}"));
}

std::string FileOutbound::target(const Exchange& exchange) const {
  return "file " + settings_.dir.string() + "/" +
         (settings_.name ? settings_.name->render(exchange) : "");
}

std::string FileOutbound::refusal(const Exchange& exchange) const {
  if (!settings_.name) return "file: no name template";
  const std::string name = settings_.name->render(exchange);
  if (const std::string why = badFileName(name); !why.empty()) {
    std::string shown = name.substr(0, 80);
    for (char& c : shown) {
      if (c == '\0') c = '?';
    }
    return "file: " + why + " ('" + shown + "' from " + settings_.name->source() + ")";
  }
  return {};
}

Delivery FileOutbound::send(Exchange& exchange) {
  if (std::string why = refusal(exchange); !why.empty()) return Delivery::rejected(why);
  const std::string name = settings_.name->render(exchange);

  const fs::path& dir = settings_.dir;
  const fs::path target = dir / name;
  const fs::path temp = dir / tempName(name);
  constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
  int fd = ::open(temp.c_str(), kFlags, 0666);
  if (fd < 0 && errno == ENOENT) {
    // The folder was removed since start: make it again.
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return failed("cannot create folder", dir, ec.value());
    fd = ::open(temp.c_str(), kFlags, 0666);
  }
  if (fd < 0) return failed("cannot create", temp, errno);

  const std::string& body = exchange.message().body();
  if (!writeAll(fd, body) || ::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    return failed("cannot write", temp, err);
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    return failed("cannot write", temp, err);
  }
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    return failed("cannot rename into", target, err);
  }
  // The rename is durable only once the folder is.
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return failed("cannot open folder", dir, errno);
  if (::fsync(dir_fd) != 0) {
    const int err = errno;
    ::close(dir_fd);
    return failed("cannot sync folder", dir, err);
  }
  ::close(dir_fd);
  return Delivery::accepted();
}

}  // namespace lienthong::adapters::file

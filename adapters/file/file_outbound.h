#pragma once
// The `file` output: writes each message's body to a file of a folder, atomically (a
// temporary file, fsync, rename, fsync of the folder), so a reader never sees a part.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "lienthong/endpoint.h"
#include "lienthong/template.h"

namespace lienthong::adapters::file {

struct FileOutboundSettings {
  std::filesystem::path dir;             // created when missing
  std::shared_ptr<const Template> name;  // the file name; nullptr means ${message.id}
};

// Why a rendered file name cannot be used ("" when it can): empty, '/', NUL, "." or "..",
// or longer than a file name may be.
std::string badFileName(const std::string& name);

class FileOutbound : public OutboundEndpoint {
 public:
  explicit FileOutbound(FileOutboundSettings settings);

  // Thread-safe. Accepted once the file is durable under its final name; rejected when
  // the rendered name is unusable; retry on any filesystem error (full disk, I/O error,
  // permissions: an operator can fix those).
  Delivery send(Exchange& exchange) override;
  // "file <dir>/<name template>"
  std::string describe() const override;
  // "file <dir>/<rendered name>"
  std::string target(const Exchange& exchange) const override;
  // An unusable rendered name.
  std::string refusal(const Exchange& exchange) const override;

 private:
  FileOutboundSettings settings_;
};

}  // namespace lienthong::adapters::file

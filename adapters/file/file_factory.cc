#include "adapters/file/file_factory.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>

#include "adapters/file/file_inbound.h"
#include "adapters/file/file_outbound.h"

namespace lienthong::adapters::file {

namespace fs = std::filesystem;

namespace {

// A directory key: nullopt when absent or wrong (the error is already reported).
std::optional<fs::path> directory(MapReader& reader, BuildContext& ctx, std::string_view key,
                                  bool required) {
  const YAML::Node* node = reader.node(key, required);
  if (!node) return std::nullopt;
  auto path = ctx.path(*node, PathKind::kCreateDirectory);
  if (!path) return std::nullopt;
  return fs::path(*path).lexically_normal();
}

bool samePath(const fs::path& a, const fs::path& b) {
  return a.lexically_normal() == b.lexically_normal();
}

}  // namespace

std::unique_ptr<InboundEndpoint> buildFileInbound(const YAML::Node& config, BuildContext& ctx) {
  const std::size_t errors_before = ctx.errors().size();
  MapReader reader(config, ctx, "file input");
  if (!reader.valid()) return nullptr;
  if (ctx.pattern() != ExchangePattern::kOneWay) {
    // A file has no caller to answer: the route is acknowledged by moving the file.
    ctx.error(config, "file input needs pattern: one-way");
  }

  FileInboundSettings s;
  const auto dir = directory(reader, ctx, "dir", true);
  if (dir) s.dir = *dir;
  if (auto include = reader.string("include")) {
    const YAML::Node& at = *reader.node("include");
    if (include->empty()) {
      ctx.error(at, "'include' must not be empty");
    } else if (include->find('/') != std::string::npos) {
      ctx.error(at, "'include' is a pattern on the file name: it cannot contain '/'");
    }
    s.include = *include;
  }
  if (auto interval = reader.duration("interval")) {
    if (interval->count() <= 0) ctx.error(*reader.node("interval"), "'interval' must be above 0");
    s.interval = *interval;
  }
  if (auto stable = reader.duration("stable-for")) s.stable_for = *stable;

  const YAML::Node* work_node = reader.node("work-dir");
  const YAML::Node* done_node = reader.node("done-dir");
  const YAML::Node* failed_node = reader.node("failed-dir");
  if (auto p = directory(reader, ctx, "work-dir", false)) s.work_dir = *p;
  if (auto p = directory(reader, ctx, "done-dir", false)) s.done_dir = *p;
  if (auto p = directory(reader, ctx, "failed-dir", false)) s.failed_dir = *p;
  reader.finish();

  if (dir) {
    // The folders must be apart: a file moved to done/ must not be read again, and the
    // work folder holds only claimed files (everything in it is resubmitted at start).
    const fs::path work = s.work_dir.empty() ? s.dir / ".work" : s.work_dir;
    const fs::path done = s.done_dir.empty() ? s.dir / "done" : s.done_dir;
    const fs::path failed = s.failed_dir.empty() ? s.dir / "failed" : s.failed_dir;
    if (work_node && !s.work_dir.empty() &&
        (samePath(work, s.dir) || samePath(work, done) || samePath(work, failed))) {
      ctx.error(*work_node, "'work-dir' must differ from 'dir', 'done-dir' and 'failed-dir'");
    }
    if (done_node && !s.done_dir.empty() && samePath(done, s.dir)) {
      ctx.error(*done_node, "'done-dir' must differ from 'dir'");
    }
    if (failed_node && !s.failed_dir.empty() && samePath(failed, s.dir)) {
      ctx.error(*failed_node, "'failed-dir' must differ from 'dir'");
    }
  }

  if (ctx.errors().size() != errors_before) return nullptr;
  return std::make_unique<FileInbound>(std::move(s));
}

std::shared_ptr<OutboundEndpoint> buildFileOutbound(const YAML::Node& config, BuildContext& ctx) {
  const std::size_t errors_before = ctx.errors().size();
  MapReader reader(config, ctx, "file output");
  if (!reader.valid()) return nullptr;

  FileOutboundSettings s;
  if (auto dir = directory(reader, ctx, "dir", true)) s.dir = *dir;
  s.name = reader.templ("name");
  if (s.name && s.name->isConstant()) {
    // A fixed name can be checked now rather than on every message.
    Exchange probe(Message(), ctx.routeId(), ctx.pattern());
    if (const std::string why = badFileName(s.name->render(probe)); !why.empty()) {
      ctx.error(*reader.node("name"), "'name': " + why);
    }
  }
  reader.finish();

  if (ctx.errors().size() != errors_before) return nullptr;
  return std::make_shared<FileOutbound>(std::move(s));
}

void registerFile(Registry& registry) {
  if (auto added = registry.addInbound("file", buildFileInbound); !added) {
    throw std::logic_error(added.error().message);
  }
  if (auto added = registry.addOutbound("file", buildFileOutbound); !added) {
    throw std::logic_error(added.error().message);
  }
}

}  // namespace lienthong::adapters::file

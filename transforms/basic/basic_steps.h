#pragma once
// The basic steps: log, set-header, remove-header, set-body, choice and to. Each is built
// from a plain settings struct; the factories in basic_factory.cc read the YAML.

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/xpath.h"
#include "lienthong/endpoint.h"
#include "lienthong/log.h"
#include "lienthong/step.h"
#include "lienthong/template.h"

namespace lienthong::transforms::basic {

struct LogSettings {
  std::shared_ptr<const Template> message;
  log::Level level = log::Level::kInfo;
};

class LogStep final : public Step {
 public:
  explicit LogStep(LogSettings s) : s_(std::move(s)) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  LogSettings s_;
};

struct SetHeaderSettings {
  std::vector<std::pair<std::string, std::shared_ptr<const Template>>> headers;
};

class SetHeaderStep final : public Step {
 public:
  explicit SetHeaderStep(SetHeaderSettings s) : s_(std::move(s)) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  SetHeaderSettings s_;
};

struct RemoveHeaderSettings {
  std::vector<std::string> names;
};

class RemoveHeaderStep final : public Step {
 public:
  explicit RemoveHeaderStep(RemoveHeaderSettings s) : s_(std::move(s)) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  RemoveHeaderSettings s_;
};

struct SetBodySettings {
  std::shared_ptr<const Template> body;
  std::optional<std::string> content_type;
};

// The `read-file` step: the body becomes the file `name` (rendered) of `dir`, as it is
// (a result kept by a `file` output, say), with `content-type` when given. A name that
// is no plain file name is an InvalidMessage; no such file is one too, naming it.
struct ReadFileSettings {
  std::string dir;  // absolute
  std::shared_ptr<const Template> name;
  std::optional<std::string> content_type;
};

class ReadFileStep final : public Step {
 public:
  explicit ReadFileStep(ReadFileSettings s) : s_(std::move(s)) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  ReadFileSettings s_;
};

class SetBodyStep final : public Step {
 public:
  explicit SetBodyStep(SetBodySettings s) : s_(std::move(s)) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  SetBodySettings s_;
};

struct ChoiceBranch {
  std::optional<XPath> when;  // empty: otherwise
  std::vector<std::unique_ptr<Step>> steps;
};

// Runs the steps of the first branch whose predicate holds; none holds and no otherwise:
// the message goes on unchanged.
class ChoiceStep final : public Step {
 public:
  explicit ChoiceStep(std::vector<ChoiceBranch> branches) : branches_(std::move(branches)) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  std::vector<ChoiceBranch> branches_;
};

// Calls an endpoint mid-route: an accepted reply replaces the message; a transient
// failure is a transient error (the route's retry policy applies), a rejection permanent.
class ToStep final : public Step {
 public:
  explicit ToStep(std::shared_ptr<OutboundEndpoint> endpoint) : endpoint_(std::move(endpoint)) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  std::shared_ptr<OutboundEndpoint> endpoint_;
};

}  // namespace lienthong::transforms::basic

#pragma once
// aggregate: collects the messages that share a correlation key into one message, complete
// when the group reaches its size or when its time runs out.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "lienthong/step.h"
#include "lienthong/template.h"

namespace lienthong::transforms::basic {

struct AggregateSettings {
  std::shared_ptr<const Template> key;        // the correlation key
  std::optional<std::size_t> size;            // a fixed completion size
  std::shared_ptr<const Template> size_from;  // or the size carried by the messages
  std::chrono::milliseconds timeout{30'000};  // from a group's first message
  std::shared_ptr<const Template> order;      // sort key of the parts (numbers sort as such)
  enum class Combine { kXml, kConcat } combine = Combine::kXml;
  // kXml: the wrapper element; a prefix is resolved through the file's namespaces.
  std::string element = "Parts";
  std::string prefix;
  std::string ns;
  std::string separator = "\n";  // kConcat
  std::size_t max_groups = 10'000;
};

class AggregateStep final : public Step {
 public:
  explicit AggregateStep(AggregateSettings settings);
  ~AggregateStep() override;

  Result<StepOutcome> process(Exchange& exchange) override;
  void start(StepEmitter& emitter, Step* previous) override;
  void stop(bool final) override;

  // Groups open now (for tests and, later, metrics).
  std::size_t openGroups() const;

  class Groups;  // shared by the versions of one route across reloads

 private:
  std::shared_ptr<const AggregateSettings> s_;
  std::shared_ptr<Groups> groups_;
  StepEmitter* emitter_ = nullptr;
};

}  // namespace lienthong::transforms::basic

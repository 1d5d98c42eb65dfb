#include "transforms/basic/basic_steps.h"

#include <fstream>
#include <sstream>

#include "core/engine.h"

namespace lienthong::transforms::basic {

Result<StepOutcome> LogStep::process(Exchange& exchange) {
  if (log::enabled(s_.level)) {
    log::write(s_.level, "route " + exchange.routeId(),
               s_.message->render(exchange) + " [message " + exchange.message().id() + "]");
  }
  return StepOutcome::kContinue;
}

Result<StepOutcome> SetHeaderStep::process(Exchange& exchange) {
  // Render all first, so that every template sees the headers as they were.
  std::vector<std::string> values;
  values.reserve(s_.headers.size());
  for (const auto& [name, value] : s_.headers) values.push_back(value->render(exchange));
  for (std::size_t i = 0; i < values.size(); ++i) {
    exchange.message().setHeader(s_.headers[i].first, std::move(values[i]));
  }
  return StepOutcome::kContinue;
}

Result<StepOutcome> RemoveHeaderStep::process(Exchange& exchange) {
  for (const auto& name : s_.names) exchange.message().removeHeader(name);
  return StepOutcome::kContinue;
}

Result<StepOutcome> SetBodyStep::process(Exchange& exchange) {
  std::string body = s_.body->render(exchange);
  exchange.message().setBody(std::move(body));
  if (s_.content_type) exchange.message().setContentType(*s_.content_type);
  return StepOutcome::kContinue;
}

Result<StepOutcome> ChoiceStep::process(Exchange& exchange) {
  for (const auto& branch : branches_) {
    if (branch.when) {
      Result<bool> holds = branch.when->evaluate(exchange);
      if (!holds.ok()) return holds.error();
      if (!*holds) continue;
    }
    return runSteps(branch.steps, exchange);
  }
  return StepOutcome::kContinue;
}

Result<StepOutcome> ToStep::process(Exchange& exchange) {
  Delivery d = endpoint_->send(exchange);
  switch (d.status) {
    case Delivery::Status::kAccepted:
      if (d.reply) mergeReply(exchange.message(), std::move(*d.reply));
      return StepOutcome::kContinue;
    case Delivery::Status::kRetry:
      return Error(
          d.failure == Delivery::Failure::kTimeout ? ErrorCode::kTimeout : ErrorCode::kTransient,
          endpoint_->describe() + ": " + d.detail);
    case Delivery::Status::kRejected:
      return Error(ErrorCode::kPermanent, endpoint_->describe() + ": " + d.detail);
  }
  return Error(ErrorCode::kInternal, "unknown delivery status");
}

Result<StepOutcome> ReadFileStep::process(Exchange& exchange) {
  const std::string name = s_.name->render(exchange);
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos) {
    return Error(ErrorCode::kInvalidMessage,
                 "read-file: '" + name + "' is no file name (" + s_.name->source() + ")");
  }
  const std::string path = s_.dir + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(ErrorCode::kInvalidMessage, "read-file: no file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  Message& m = exchange.message();
  m.setBody(text.str());
  if (s_.content_type) m.setContentType(*s_.content_type);
  return StepOutcome::kContinue;
}

}  // namespace lienthong::transforms::basic

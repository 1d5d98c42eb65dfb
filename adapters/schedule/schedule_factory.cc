#include "adapters/schedule/schedule_factory.h"

#include <yaml-cpp/yaml.h>

#include <stdexcept>

#include "adapters/schedule/schedule_inbound.h"

namespace lienthong::adapters::schedule {
namespace {

std::unique_ptr<InboundEndpoint> makeInbound(const YAML::Node& node, BuildContext& ctx) {
  const std::size_t before = ctx.errors().size();
  MapReader r(node, ctx, "schedule endpoint");
  if (!r.valid()) return nullptr;
  ScheduleInboundSettings s;
  if (r.has("cron") == r.has("every")) {
    ctx.error(node, "a schedule needs one of 'cron' (\"0 2 * * *\") and 'every' (1h)");
  }
  if (auto v = r.string("cron")) {
    auto cron = Cron::parse(*v);
    if (cron.ok() &&
        cron->next(Clock::now(), std::chrono::minutes(0)) == Clock::time_point::max()) {
      ctx.error(*r.node("cron"), "cron '" + *v + "' never fires (no such day)");
    } else if (cron.ok()) {
      s.cron = std::move(cron).value();
    } else {
      ctx.error(*r.node("cron"), cron.error().message);
    }
  }
  if (auto v = r.positiveDuration("every")) s.every = *v;
  if (auto v = r.string("timezone")) {
    auto offset = parseUtcOffset(*v);
    if (offset.ok()) {
      s.utc_offset = *offset;
    } else {
      ctx.error(*r.node("timezone"), offset.error().message);
    }
  }
  if (auto v = r.string("body")) s.body = *v;
  if (auto v = r.string("content-type")) s.content_type = *v;
  r.finish();
  if (ctx.pattern() != ExchangePattern::kOneWay) {
    ctx.error(node, "a schedule feeds one-way routes (nobody waits for a reply)");
  }
  if (ctx.errors().size() != before) return nullptr;
  return std::make_unique<ScheduleInbound>(std::move(s));
}

}  // namespace

void registerSchedule(Registry& registry) {
  if (auto r = registry.addInbound("schedule", makeInbound); !r.ok()) {
    throw std::logic_error("registerSchedule: " + r.error().message);
  }
}

}  // namespace lienthong::adapters::schedule

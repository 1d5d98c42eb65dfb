#pragma once
// Step: one stage of a route.

#include <string_view>

#include "lienthong/exchange.h"
#include "lienthong/result.h"

namespace lienthong {

enum class StepOutcome {
  kContinue,    // go on with the next step
  kStop,        // the route is done; the current message is its result (a filter)
  kRetry,       // a transient condition; try the exchange again later
  kDeadLetter,  // give up on this message; it goes to the dead letters with a reason
};

// Contract: process() runs on an engine worker thread, possibly on several threads at
// once for different exchanges: a step is immutable after construction, or guards its
// own state. It never throws; an Error says why a message could not be handled (the
// error code decides between retry and dead letter).
class Step {
 public:
  virtual ~Step() = default;
  virtual Result<StepOutcome> process(Exchange& exchange) = 0;
};

}  // namespace lienthong

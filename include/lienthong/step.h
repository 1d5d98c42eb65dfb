#pragma once
// Step: one stage of a route.

#include <cstdint>
#include <string_view>
#include <vector>

#include "lienthong/exchange.h"
#include "lienthong/result.h"

namespace lienthong {

enum class StepOutcome {
  kContinue,    // go on with the next step
  kStop,        // the route is done; the current message is its result (a filter)
  kRetry,       // a transient condition; try the exchange again later
  kDeadLetter,  // give up on this message; it goes to the dead letters with a reason
  kHeld,        // the step keeps the message (an aggregation): the route is done with this
                // exchange, but a journalled message stays in the journal until the step
                // emits what it became (see StepEmitter::emit's `settles`)
};

// Given to a step that sends messages of its own accord (an aggregation whose time ran
// out): emit() runs `message` through the rest of the route, from the step after the
// emitting one, as a new exchange with the route's retries and dead letters. Thread-safe.
// False when the engine cannot take it now (full or stopping); the step keeps the
// message and tries again later. `past_limits`: the step is handing over what it holds
// at a stop or reload, and the message goes in even when the engine is full. `settles`:
// the journal entries (Exchange::journalSeq) of the messages the step held and this one
// replaces; they leave the journal in the same write that journals it, so a crash keeps
// either them or it.
class StepEmitter {
 public:
  virtual ~StepEmitter() = default;
  virtual bool emit(Message message, bool past_limits = false,
                    const std::vector<std::int64_t>& settles = {}) = 0;
};

// Contract: process() runs on an engine worker thread, possibly on several threads at
// once for different exchanges: a step is immutable after construction, or guards its
// own state. It never throws; an Error says why a message could not be handled (the
// error code decides between retry and dead letter).
class Step {
 public:
  virtual ~Step() = default;
  virtual Result<StepOutcome> process(Exchange& exchange) = 0;

  // Control thread, for steps that hold messages across exchanges. start(): the route
  // version goes live; `previous` is the step at the same place in the version it
  // replaces (or nullptr), whose held state the step may take over. stop(): the version
  // retires (final = false) or the daemon stops (final = true: emit what is held now).
  virtual void start(StepEmitter& /*emitter*/, Step* /*previous*/) {}
  virtual void stop(bool /*final*/) {}
};

}  // namespace lienthong

#pragma once
// sign and verify: XML signatures on the way out and in (core/xmldsig.h does the work).

#include <memory>
#include <string>

#include "core/pki.h"
#include "core/xmldsig.h"
#include "lienthong/step.h"
#include "lienthong/template.h"

namespace lienthong::transforms::xmldsig {

struct SignSettings {
  std::shared_ptr<const pki::SigningKey> key;
  lienthong::xmldsig::SignOptions options;
  std::shared_ptr<const Template> id;  // detached: the Id of the element to sign
};

// Replaces the XML body by its signed form; headers `signature.key` and
// `signature.algorithm` say how. An unusable key (expired certificate) is a permanent
// error: the message waits in the dead letters for a new key and a replay.
class SignStep final : public Step {
 public:
  explicit SignStep(SignSettings settings) : s_(std::move(settings)) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  SignSettings s_;
};

struct VerifySettings {
  std::shared_ptr<const pki::TrustStore> trust;
  lienthong::xmldsig::VerifyOptions options;
  std::shared_ptr<const Template> sender;  // selects a pinned key; null = by chain or KeyName
  bool strip = false;  // remove the verified signatures from the body (to sign it anew)
};

// Fails closed (Unauthorized, with the reason) unless the body carries the expected
// signatures made with trusted keys over the element the route uses. On success the
// headers signature.mode, .algorithm, .key, .signer, .subject, .issuer, .serial,
// .not-before, .not-after say who signed.
class VerifyStep final : public Step {
 public:
  explicit VerifyStep(VerifySettings settings) : s_(std::move(settings)) {}
  Result<StepOutcome> process(Exchange& exchange) override;

 private:
  VerifySettings s_;
};

}  // namespace lienthong::transforms::xmldsig

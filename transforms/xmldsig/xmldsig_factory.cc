#include "transforms/xmldsig/xmldsig_factory.h"

#include <yaml-cpp/yaml.h>

#include "core/xpath.h"
#include "lienthong/registry.h"
#include "transforms/xmldsig/xmldsig_steps.h"

namespace lienthong::transforms::xmldsig {

namespace {

std::unique_ptr<Step> makeSign(const YAML::Node& node, BuildContext& ctx) {
  MapReader r(node, ctx, "sign step");
  if (!r.valid()) return nullptr;
  SignSettings s;
  bool ok = true;
  if (const YAML::Node* k = r.node("key", true)) {
    s.key = ctx.signingKey(*k);
    if (!s.key) ok = false;
  } else {
    ok = false;
  }
  if (auto mode = r.oneOf("mode", {"enveloped", "enveloping", "detached"})) {
    s.options.mode = *mode == "enveloped"    ? lienthong::xmldsig::Mode::kEnveloped
                     : *mode == "enveloping" ? lienthong::xmldsig::Mode::kEnveloping
                                             : lienthong::xmldsig::Mode::kDetached;
  }
  if (r.has("id")) {
    s.id = r.templ("id");
    if (!s.id) ok = false;
    if (s.options.mode != lienthong::xmldsig::Mode::kDetached) {
      ctx.error(*r.node("id"), "'id' is for mode: detached");
      ok = false;
    }
  } else if (s.options.mode == lienthong::xmldsig::Mode::kDetached) {
    ctx.error(node, "mode: detached needs the 'id' of the element to sign");
    ok = false;
  }
  if (const YAML::Node* a = r.node("algorithm")) {
    auto name = r.string("algorithm");
    if (name && (!lienthong::xmldsig::knownAlgorithm(*name) || name->ends_with("sha1"))) {
      ctx.error(*a, "unknown or refused algorithm '" + *name +
                        "' (rsa-sha256, rsa-sha384, rsa-sha512, ecdsa-sha256, ecdsa-sha384, "
                        "ecdsa-sha512)");
      ok = false;
    } else if (name && s.key && name->starts_with("ecdsa") != (s.key->facts().kind == "ec")) {
      ctx.error(*a, "algorithm " + *name + " does not fit key '" + s.key->name() + "' (" +
                        s.key->facts().text + ")");
      ok = false;
    } else if (name) {
      s.options.algorithm = *name;
    }
  }
  if (auto d = r.oneOf("digest", {"sha256", "sha384", "sha512"})) s.options.digest = *d;
  if (auto kn = r.boolean("key-name")) s.options.key_name = *kn;
  r.finish();
  if (!ok) return nullptr;
  return std::make_unique<SignStep>(std::move(s));
}

std::unique_ptr<Step> makeVerify(const YAML::Node& node, BuildContext& ctx) {
  MapReader r(node, ctx, "verify step");
  if (!r.valid()) return nullptr;
  VerifySettings s;
  bool ok = true;
  if (const YAML::Node* t = r.node("trust", true)) {
    s.trust = ctx.trustStore(*t);
    if (!s.trust) ok = false;
  } else {
    ok = false;
  }
  if (r.has("sender")) {
    s.sender = r.templ("sender");
    if (!s.sender) ok = false;
  }
  if (auto strip = r.boolean("strip")) s.strip = *strip;
  if (auto n = r.integer("signatures", 1, 16)) s.options.signatures = static_cast<std::size_t>(*n);
  if (const YAML::Node* x = r.node("signed")) {
    if (!compileXPath(*x, ctx)) {
      ok = false;
    } else {
      s.options.signed_xpath = x->Scalar();
      s.options.namespaces = ctx.namespaces();
    }
  }
  r.finish();
  if (s.sender && s.trust && s.trust->allPinned().empty()) {
    ctx.error(node,
              "'sender' selects a pinned key, but trust store '" + s.trust->name() + "' pins none");
    ok = false;
  }
  if (!ok) return nullptr;
  return std::make_unique<VerifyStep>(std::move(s));
}

}  // namespace

void registerXmlDsigSteps(Registry& registry) {
  (void)registry.addStep("sign", makeSign);
  (void)registry.addStep("verify", makeVerify);
}

}  // namespace lienthong::transforms::xmldsig

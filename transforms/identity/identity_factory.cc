#include "transforms/identity/identity_factory.h"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/pki.h"
#include "transforms/identity/identity_steps.h"

namespace lienthong::identity {
namespace {

std::shared_ptr<JwksSource> makeJwks(const YAML::Node& node, BuildContext& ctx) {
  MapReader r(node, ctx, "jwks");
  if (!r.valid()) return nullptr;
  const std::size_t before = ctx.errors().size();
  std::shared_ptr<JwksSource> out;
  const YAML::Node* file = r.node("file");
  const YAML::Node* connection = r.node("connection");
  if ((file != nullptr) == (connection != nullptr)) {
    ctx.error(node, "'jwks' takes a 'file', or a 'connection' (and 'path') to fetch it from");
  } else if (file) {
    if (auto path = ctx.path(*file, PathKind::kFile)) {
      std::ifstream in(*path, std::ios::binary);
      std::ostringstream text;
      text << in.rdbuf();
      auto set = KeySet::parse(text.str());
      if (!set.ok()) {
        ctx.error(*file, *path + ": " + set.error().message);
      } else {
        out = std::make_shared<JwksSource>(std::make_shared<const KeySet>(std::move(*set)));
      }
    }
  } else {
    auto c = std::dynamic_pointer_cast<adapters::http::HttpConnection>(
        ctx.connection(*connection, "http"));
    std::string path = r.string("path").value_or("");
    if (!path.empty() && path.front() != '/') {
      ctx.error(*r.node("path"), "'path' must start with '/'");
    }
    std::chrono::milliseconds refresh{3'600'000};
    if (auto v = r.positiveDuration("refresh")) refresh = *v;
    if (c) out = std::make_shared<JwksSource>(c, path, refresh);
  }
  r.finish();
  if (ctx.errors().size() != before) return nullptr;
  return out;
}

std::vector<std::string> stringOrList(const YAML::Node& n, BuildContext& ctx, const char* what) {
  std::vector<std::string> out;
  if (n.IsScalar()) {
    out.push_back(n.Scalar());
  } else if (n.IsSequence()) {
    for (const auto& item : n) {
      if (!item.IsScalar()) {
        ctx.error(item, std::string("'") + what + "' takes text");
        continue;
      }
      out.push_back(item.Scalar());
    }
  } else {
    ctx.error(n, std::string("'") + what + "' takes text or a list of text");
  }
  return out;
}

std::unique_ptr<Step> makeOidcVerify(const YAML::Node& node, BuildContext& ctx) {
  const std::size_t before = ctx.errors().size();
  MapReader r(node, ctx, "oidc-verify step");
  if (!r.valid()) return nullptr;
  OidcVerifySettings s;
  if (r.has("token")) {
    s.token = r.templ("token");
  } else {
    YAML::Node fallback("${Authorization}");
    s.token = ctx.compileTemplate(fallback);
  }
  if (const YAML::Node* j = r.node("jwks", true)) s.jwks = makeJwks(*j, ctx);
  if (auto v = r.string("issuer", true)) s.expect.issuer = *v;
  if (const YAML::Node* a = r.node("audience", true)) {
    s.expect.audiences = stringOrList(*a, ctx, "audience");
  }
  if (const YAML::Node* a = r.node("algorithms")) {
    s.expect.algorithms = stringOrList(*a, ctx, "algorithms");
    for (const auto& alg : s.expect.algorithms) {
      if (alg != "RS256" && alg != "PS256" && alg != "ES256") {
        ctx.error(*a, "algorithm '" + alg + "' is not one of RS256, PS256, ES256");
      }
    }
  }
  if (const YAML::Node* l = r.node("levels")) s.expect.levels = stringOrList(*l, ctx, "levels");
  if (auto v = r.duration("leeway")) {
    s.expect.leeway = std::chrono::duration_cast<std::chrono::seconds>(*v);
  }
  if (const YAML::Node* c = r.node("claims")) {
    if (!c->IsMap()) {
      ctx.error(*c, "'claims' maps a header name to a claim name");
    } else {
      for (auto it = c->begin(); it != c->end(); ++it) {
        s.claims[it->first.Scalar()] = it->second.Scalar();
      }
    }
  }
  if (const YAML::Node* q = r.node("require")) {
    if (!q->IsMap()) {
      ctx.error(*q, "'require' maps a claim name to the value it must have (a template)");
    } else {
      for (auto it = q->begin(); it != q->end(); ++it) {
        if (auto t = ctx.compileTemplate(it->second)) s.require[it->first.Scalar()] = t;
      }
    }
  }
  r.finish();
  if (ctx.errors().size() != before || !s.jwks || !s.token) return nullptr;
  return std::make_unique<OidcVerifyStep>(std::move(s));
}

// vneid-decrypt: { key, cipher, padding, key-field, iv-field, data-field }
std::unique_ptr<Step> makeWrappedResponse(const YAML::Node& node, BuildContext& ctx) {
  const std::size_t before = ctx.errors().size();
  MapReader r(node, ctx, "vneid-decrypt step");
  if (!r.valid()) return nullptr;
  WrappedResponseSettings s;
  if (const YAML::Node* k = r.node("key", true)) {
    s.key = ctx.signingKey(*k);
    if (s.key && EVP_PKEY_get_base_id(s.key->key()) != EVP_PKEY_RSA) {
      ctx.error(*k, "key '" + k->Scalar() + "' is not an RSA key: it cannot unwrap an AES key");
    }
  }
  if (auto v = r.oneOf("cipher", {"aes-256-gcm", "aes-128-gcm", "aes-256-cbc", "aes-128-cbc"})) {
    s.cipher = *v;
  }
  if (auto v = r.oneOf("padding", {"oaep-sha256", "oaep-sha1", "pkcs1"})) s.padding = *v;
  if (auto v = r.string("key-field")) s.key_field = *v;
  if (auto v = r.string("iv-field")) s.iv_field = *v;
  if (auto v = r.string("data-field")) s.data_field = *v;
  r.finish();
  if (ctx.errors().size() != before || !s.key) return nullptr;
  return std::make_unique<WrappedResponseStep>(std::move(s));
}

}  // namespace

void registerIdentitySteps(Registry& registry) {
  for (auto& [name, factory] : {std::pair<const char*, StepFactory>{"oidc-verify", makeOidcVerify},
                                {"vneid-decrypt", makeWrappedResponse}}) {
    if (auto r = registry.addStep(name, factory); !r.ok()) {
      throw std::logic_error("registerIdentitySteps: " + r.error().message);
    }
  }
}

}  // namespace lienthong::identity

#include "adapters/onestop/onestop_factory.h"

#include <yaml-cpp/yaml.h>

#include <stdexcept>

#include "adapters/http/http_factory.h"
#include "adapters/onestop/onestop.h"
#include "core/dossier_code.h"

namespace lienthong::adapters::onestop {
namespace {

const char* const kHttpKeys[] = {"url", "connect-timeout", "read-timeout", "pool", "tls",
                                 "oauth2"};

std::shared_ptr<Connection> makeConnection(const std::string& name, const YAML::Node& node,
                                           BuildContext& ctx) {
  const std::size_t before = ctx.errors().size();
  MapReader r(node, ctx, "onestop connection");
  if (!r.valid()) return nullptr;
  OnestopSettings s;
  s.name = name;
  if (auto v = r.oneOf("flavor", {"rest", "soap", "folder"}, true)) {
    s.flavor = *v == "rest" ? Flavor::kRest : *v == "soap" ? Flavor::kSoap : Flavor::kFolder;
  }
  const bool folder = s.flavor == Flavor::kFolder;
  YAML::Node http(YAML::NodeType::Map);
  for (const char* key : kHttpKeys) {
    if (const YAML::Node* v = r.node(key)) {
      if (folder) {
        ctx.error(*v, std::string("'") + key + "' is for a rest or soap system, not a folder");
      }
      http[key] = *v;
    }
  }
  if (!folder && !http["url"]) ctx.error(node, "a rest or soap one-stop system needs a 'url'");
  if (const YAML::Node* d = r.node("dir")) {
    if (!folder) ctx.error(*d, "'dir' is for a folder one-stop system");
    if (auto p = ctx.path(*d, PathKind::kCreateDirectory)) {
      s.dir = std::filesystem::path(*p).lexically_normal();
      if (folder && !ctx.checkOnly()) {
        std::error_code ec;
        for (const char* sub : {"inbox", "outbox"}) {
          std::filesystem::create_directories(s.dir / sub, ec);
          if (ec) ctx.error(*d, "cannot create " + (s.dir / sub).string() + ": " + ec.message());
        }
      }
    }
  } else if (folder) {
    ctx.error(node, "a folder one-stop system needs a 'dir'");
  }
  if (auto v = r.stringList("agencies")) {
    for (const std::string& code : *v) {
      const std::string probe = code + "-240101-0001";
      if (!dossier::parse(probe).ok()) {
        ctx.error(*r.node("agencies"), "'" + code + "' is not an agency code (as 000.00.01.H22)");
      }
    }
    s.agencies = *v;
  }
  if (const YAML::Node* m = r.node("status-map")) {
    if (!m->IsMap()) {
      ctx.error(*m, "'status-map' must map each local status to a national code (1..10)");
    } else {
      for (auto it = m->begin(); it != m->end(); ++it) {
        int code = 0;
        try {
          code = it->second.as<int>();
        } catch (const YAML::Exception&) {
        }
        if (code < 1 || code > 10) {
          ctx.error(it->second, "status '" + it->first.Scalar() +
                                    "' must map to a national code 1..10, not '" +
                                    it->second.Scalar() + "'");
          continue;
        }
        s.status_map[it->first.Scalar()] = code;
      }
    }
  }
  if (const YAML::Node* p = r.node("paths")) {
    if (!p->IsMap() || folder) {
      ctx.error(*p, folder ? "'paths' is for a rest one-stop system"
                           : "'paths' must map a message (HoSo, TraLoiBoSung, ...) to a path");
    } else {
      for (auto it = p->begin(); it != p->end(); ++it) {
        const std::string kind = canonicalName(it->first.Scalar());
        if (kind.empty() || kind != it->first.Scalar()) {
          ctx.error(it->first, "'" + it->first.Scalar() +
                                   "' is not a message (HoSo, TrangThai, YeuCauBoSung, "
                                   "TraLoiBoSung, PhanAnh, DanhGia)");
        } else if (it->second.Scalar().empty() || it->second.Scalar().front() != '/') {
          ctx.error(it->second, "a path must start with '/'");
        } else {
          s.paths[kind] = it->second.Scalar();
        }
      }
    }
  }
  if (auto v = r.string("soap-action")) s.soap_action = *v;
  r.finish();
  if (!folder && http["url"]) {
    s.http =
        std::dynamic_pointer_cast<http::HttpConnection>(http::makeHttpConnection(name, http, ctx));
  }
  if (ctx.errors().size() != before || (!folder && !s.http)) return nullptr;
  return std::make_shared<OnestopConnection>(std::move(s));
}

std::shared_ptr<OnestopConnection> named(const YAML::Node& n, BuildContext& ctx) {
  std::shared_ptr<Connection> c = ctx.connection(n, "onestop");
  if (!c) return nullptr;
  auto o = std::dynamic_pointer_cast<OnestopConnection>(c);
  if (!o) ctx.error(n, "connection '" + n.Scalar() + "' is not a onestop connection");
  return o;
}

std::shared_ptr<OutboundEndpoint> makeOutbound(const YAML::Node& node, BuildContext& ctx) {
  const std::size_t before = ctx.errors().size();
  MapReader r(node, ctx, "onestop endpoint");
  if (!r.valid()) return nullptr;
  OnestopOutboundSettings s;
  const YAML::Node* connection = r.node("connection");
  const YAML::Node* agency = r.node("agency");
  if ((connection != nullptr) == (agency != nullptr)) {
    ctx.error(node,
              "a onestop endpoint names either its 'connection' or the 'agency' whose system "
              "gets the message (as \"${dossier.agency}\")");
  }
  if (connection) s.connection = named(*connection, ctx);
  if (agency) {
    s.agency = r.templ("agency");
    for (auto& [name, c] : ctx.connections("onestop")) {
      if (auto o = std::dynamic_pointer_cast<OnestopConnection>(c)) s.candidates[name] = o;
    }
  }
  r.finish();
  if (ctx.errors().size() != before || (!s.connection && !s.agency)) return nullptr;
  return std::make_shared<OnestopOutbound>(std::move(s));
}

std::unique_ptr<Step> makeFromOnestop(const YAML::Node& node, BuildContext& ctx) {
  const std::size_t before = ctx.errors().size();
  MapReader r(node, ctx, "from-onestop step");
  if (!r.valid()) return nullptr;
  std::shared_ptr<OnestopConnection> c;
  if (const YAML::Node* n = r.node("connection", true)) c = named(*n, ctx);
  std::string message;
  if (auto v = r.string("message")) {
    message = canonicalName(*v);
    if (message.empty() || message != *v) {
      ctx.error(*r.node("message"),
                "'message' must be HoSo, TrangThai, YeuCauBoSung, TraLoiBoSung, PhanAnh or "
                "DanhGia, not '" +
                    *v + "'");
    }
  }
  r.finish();
  if (ctx.errors().size() != before || !c) return nullptr;
  return std::make_unique<FromOnestopStep>(std::move(c), std::move(message));
}

void check(const Result<void>& result) {
  if (!result.ok()) throw std::logic_error("registerOnestop: " + result.error().message);
}

}  // namespace

void registerOnestop(Registry& registry) {
  check(registry.addConnection("onestop", makeConnection));
  check(registry.addOutbound("onestop", makeOutbound));
  check(registry.addStep("from-onestop", makeFromOnestop));
}

}  // namespace lienthong::adapters::onestop

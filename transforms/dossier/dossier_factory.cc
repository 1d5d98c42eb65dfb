#include "transforms/dossier/dossier_factory.h"

#include <yaml-cpp/yaml.h>

#include <stdexcept>

#include "transforms/dossier/admin_units.h"
#include "transforms/dossier/dossier_steps.h"
#include "transforms/dossier/payment.h"

namespace lienthong::transforms::dossier {
namespace {

// dossier-code: {}  or  dossier-code: { code: "${h:MaHoSo}" }
std::unique_ptr<Step> makeDossierCode(const YAML::Node& node, BuildContext& ctx) {
  const std::size_t before = ctx.errors().size();
  DossierCodeSettings s;
  if (node.IsNull() || (node.IsMap() && node.size() == 0)) {
    YAML::Node fallback("${MaHoSo}");
    s.code = ctx.compileTemplate(fallback);
  } else {
    MapReader r(node, ctx, "dossier-code step");
    if (!r.valid()) return nullptr;
    s.code = r.templ("code", true);
    r.finish();
  }
  if (ctx.errors().size() != before || !s.code) return nullptr;
  return std::make_unique<DossierCodeStep>(std::move(s));
}

// track-dossier: {}
std::unique_ptr<Step> makeTrackDossier(const YAML::Node& node, BuildContext& ctx) {
  if (!node.IsNull() && !(node.IsMap() && node.size() == 0)) {
    ctx.error(node, "track-dossier takes no settings: write 'track-dossier: {}'");
    return nullptr;
  }
  std::shared_ptr<StoreSlot> slot = ctx.storeSlot();
  if (!ctx.configHasStore()) {
    ctx.error(node,
              "track-dossier keeps dossiers in the daemon's store: the config has no "
              "'store'");
    return nullptr;
  }
  return std::make_unique<TrackDossierStep>(std::move(slot));
}

// overdue-dossiers: {}  or  overdue-dossiers: { within: 1d }
std::unique_ptr<Step> makeOverdueDossiers(const YAML::Node& node, BuildContext& ctx) {
  const std::size_t before = ctx.errors().size();
  std::chrono::milliseconds within{0};
  if (!node.IsNull() && !(node.IsMap() && node.size() == 0)) {
    MapReader r(node, ctx, "overdue-dossiers step");
    if (!r.valid()) return nullptr;
    if (auto v = r.positiveDuration("within")) within = *v;
    r.finish();
  }
  if (!ctx.configHasStore()) {
    ctx.error(node,
              "overdue-dossiers reads the dossiers kept in the daemon's store: the config has "
              "no 'store'");
  }
  if (ctx.errors().size() != before) return nullptr;
  return std::make_unique<OverdueDossiersStep>(ctx.storeSlot(), within);
}

// normalize-text: {}  or  normalize-text: { from: auto | windows-1258 | tcvn3 | utf-8 }
std::unique_ptr<Step> makeNormalizeText(const YAML::Node& node, BuildContext& ctx) {
  const std::size_t before = ctx.errors().size();
  NormalizeTextStep::From from = NormalizeTextStep::From::kAuto;
  if (!node.IsNull() && !(node.IsMap() && node.size() == 0)) {
    MapReader r(node, ctx, "normalize-text step");
    if (!r.valid()) return nullptr;
    if (auto v = r.oneOf("from", {"auto", "windows-1258", "tcvn3", "utf-8"})) {
      from = *v == "windows-1258" ? NormalizeTextStep::From::kWindows1258
             : *v == "tcvn3"      ? NormalizeTextStep::From::kTcvn3
             : *v == "utf-8"      ? NormalizeTextStep::From::kUtf8
                                  : NormalizeTextStep::From::kAuto;
    }
    r.finish();
  }
  if (ctx.errors().size() != before) return nullptr;
  return std::make_unique<NormalizeTextStep>(from);
}

// overdue-note: {}
std::unique_ptr<Step> makeOverdueNote(const YAML::Node& node, BuildContext& ctx) {
  if (!node.IsNull() && !(node.IsMap() && node.size() == 0)) {
    ctx.error(node, "overdue-note takes no settings: write 'overdue-note: {}'");
    return nullptr;
  }
  if (!ctx.configHasStore()) {
    ctx.error(node,
              "overdue-note reads the dossiers kept in the daemon's store: the config has "
              "no 'store'");
    return nullptr;
  }
  return std::make_unique<OverdueNoteStep>(ctx.storeSlot());
}

// payment-checksum: { fields: [...], secret-file | secret-env, mode: sign | verify,
//                     member: MaXacThuc, set: { name: template } }
std::unique_ptr<Step> makePaymentChecksum(const YAML::Node& node, BuildContext& ctx) {
  const std::size_t before = ctx.errors().size();
  MapReader r(node, ctx, "payment-checksum step");
  if (!r.valid()) return nullptr;
  PaymentChecksumSettings s;
  if (auto v = r.stringList("fields", true)) {
    if (v->empty()) ctx.error(*r.node("fields"), "'fields' names the members hashed, in order");
    s.fields = *v;
  }
  if (auto v = r.secret("secret")) {
    if (v->empty())
      ctx.error(node,
                "payment-checksum needs the partner's secret: 'secret-file' or "
                "'secret-env'");
    s.secret = *v;
  }
  if (auto v = r.oneOf("mode", {"sign", "verify"})) s.verify = *v == "verify";
  if (auto v = r.string("member")) s.member = *v;
  if (auto v = r.positiveDuration("max-age")) {
    if (!s.verify) ctx.error(*r.node("max-age"), "'max-age' is for mode: verify");
    s.max_age = *v;
  }
  if (auto v = r.string("time-field")) s.time_field = *v;
  if (const YAML::Node* set = r.node("set")) {
    if (!set->IsMap() || s.verify) {
      ctx.error(*set, s.verify ? "'set' is for mode: sign" : "'set' maps a member to a template");
    } else {
      for (auto it = set->begin(); it != set->end(); ++it) {
        if (auto t = ctx.compileTemplate(it->second)) s.set.emplace_back(it->first.Scalar(), t);
      }
    }
  }
  r.finish();
  if (ctx.errors().size() != before) return nullptr;
  return std::make_unique<PaymentChecksumStep>(std::move(s));
}

// admin-units: { table, ward, province?, district?, detail?, into, on-unknown? }
std::unique_ptr<Step> makeAdminUnits(const YAML::Node& node, BuildContext& ctx) {
  const std::size_t before = ctx.errors().size();
  MapReader r(node, ctx, "admin-units step");
  if (!r.valid()) return nullptr;
  AdminUnitsSettings s;
  if (const YAML::Node* t = r.node("table", true)) {
    if (auto p = ctx.path(*t, PathKind::kFile)) {
      auto table = adminUnitTable(*p);
      if (table.ok()) {
        s.table = *table;
      } else {
        ctx.error(*t, table.error().message);
      }
    }
  }
  s.ward = r.templ("ward", true);
  if (r.has("province")) s.province = r.templ("province");
  if (r.has("district")) s.district = r.templ("district");
  if (r.has("detail")) s.detail = r.templ("detail");
  if (auto v = r.string("into", true)) {
    if (v->empty() || v->find_first_of(" \t:") != std::string::npos) {
      ctx.error(*r.node("into"), "'into' is a header prefix (receiver, sender, ...)");
    }
    s.into = *v;
  }
  if (auto v = r.oneOf("on-unknown", {"refuse", "keep"})) s.keep_unknown = *v == "keep";
  r.finish();
  if (ctx.errors().size() != before || !s.table || !s.ward) return nullptr;
  return std::make_unique<AdminUnitsStep>(std::move(s));
}

}  // namespace

void registerDossierSteps(Registry& registry) {
  for (auto& [name, factory] :
       {std::pair<const char*, StepFactory>{"dossier-code", makeDossierCode},
        {"track-dossier", makeTrackDossier},
        {"overdue-dossiers", makeOverdueDossiers},
        {"normalize-text", makeNormalizeText},
        {"overdue-note", makeOverdueNote},
        {"payment-checksum", makePaymentChecksum},
        {"admin-units", makeAdminUnits}}) {
    if (auto r = registry.addStep(name, factory); !r.ok()) {
      throw std::logic_error("registerDossierSteps: " + r.error().message);
    }
  }
}

}  // namespace lienthong::transforms::dossier

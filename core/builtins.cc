#include "core/builtins.h"

#include "adapters/amqp/amqp_factory.h"
#include "adapters/file/file_factory.h"
#include "adapters/http/http_factory.h"
#include "adapters/onestop/onestop_factory.h"
#include "adapters/portal/portal_factory.h"
#include "adapters/postal/postal_factory.h"
#include "adapters/schedule/schedule_factory.h"
#include "transforms/basic/basic_factory.h"
#include "transforms/dossier/dossier_factory.h"
#include "transforms/identity/identity_factory.h"
#include "transforms/json/json_factory.h"
#include "transforms/xml/xml_factory.h"
#include "transforms/xmldsig/xmldsig_factory.h"

namespace lienthong {

void registerBuiltins(Registry& registry) {
  transforms::basic::registerBasicSteps(registry);
  transforms::xml::registerXmlSteps(registry);
  transforms::xmldsig::registerXmlDsigSteps(registry);
  transforms::json::registerJsonSteps(registry);
  transforms::dossier::registerDossierSteps(registry);
  identity::registerIdentitySteps(registry);
  adapters::http::registerHttp(registry);
  adapters::amqp::registerAmqp(registry);
  adapters::file::registerFile(registry);
  adapters::portal::registerPortal(registry);
  adapters::onestop::registerOnestop(registry);
  adapters::postal::registerPostal(registry);
  adapters::schedule::registerSchedule(registry);
}

}  // namespace lienthong

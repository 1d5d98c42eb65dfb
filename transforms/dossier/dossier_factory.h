#pragma once
// Registers the dossier steps (dossier-code).

#include "lienthong/registry.h"

namespace lienthong::transforms::dossier {

void registerDossierSteps(Registry& registry);

}  // namespace lienthong::transforms::dossier

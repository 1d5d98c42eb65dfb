#pragma once
// What every store must do with dossier events (core/store.h, trackDossier): shared by the
// embedded store's test and the shared store's.

#include <gtest/gtest.h>

#include "core/store.h"

namespace lienthong::testing {

inline void expectDossierTracking(Store& store) {
  const std::string a = "000.00.01.H22-240315-0001";
  auto track = [&](DossierEvent e) {
    auto r = store.trackDossier(e);
    ASSERT_TRUE(r.ok()) << r.error().message;
  };
  // The dossier, then its statuses; one arrives late (older than the last kept).
  track({a, "000.00.01.H22", "1.001612", "20240315083000", "20240320170000", 2, "20240315083000"});
  track({a, "", "", "", "", 4, "20240316090000"});
  track({a, "", "", "", "20240322170000", 5, "20240317090000"});  // the appointment moved
  track({a, "", "", "", "", 9, "20240321100000"});
  track({a, "", "", "", "", 10, "20240322090000"});  // resolved stays the first 9/10
  // Late: older than what is kept; neither its status nor its appointment undo newer ones.
  track({a, "", "", "", "20240320170000", 4, "20240316120000"});
  track({"000.20.25.H12-240301-0001", "000.20.25.H12", "2.000908", "20240301080000",
         "20240305170000", 5, "20240302080000"});
  EXPECT_FALSE(store.trackDossier({"", "", "", "", "", 4, "20240316090000"}).ok());

  auto states = store.dossierStates();
  ASSERT_TRUE(states.ok()) << states.error().message;
  ASSERT_EQ(states->size(), 2u);
  const dossier::DossierState& s = (*states)[0];
  EXPECT_EQ(s.code, a);
  EXPECT_EQ(s.agency, "000.00.01.H22");
  EXPECT_EQ(s.procedure, "1.001612");
  EXPECT_EQ(s.received, "20240315083000");
  EXPECT_EQ(s.appointment, "20240322170000");
  EXPECT_EQ(s.status, 10);
  EXPECT_EQ(s.resolved, "20240321100000");
  EXPECT_EQ((*states)[1].status, 5);
  EXPECT_EQ((*states)[1].resolved, "");
  // The figures from them: one resolved on time (the moved appointment), one overdue.
  const auto stats = dossier::computeStats(*states, {}, "20240320120000");
  EXPECT_EQ(stats.total.resolved_on_time, 1);
  EXPECT_EQ(stats.total.overdue, 1);
}

}  // namespace lienthong::testing

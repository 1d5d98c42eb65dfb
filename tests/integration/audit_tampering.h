#pragma once
// How the integration tests tamper with a stopped daemon's audit chain, in either store:
// the SQL of each kind of tampering (a record modified, deleted, a forged one inserted
// where record 3 was, records 3 and 4 swapped) and the record and kind that
// `lienthongctl audit verify` must name for it.

#include <string>
#include <vector>

#include "core/audit.h"

namespace lienthong::testing {

struct Tampering {
  std::string kind;
  std::int64_t first_bad = 0;
  std::vector<std::string> sql;
};

inline std::string sqlText(const std::string& v) {
  std::string out = "'";
  for (char c : v) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// `table`: audit (embedded) or lienthong_audit (shared); `chain`: the chain tampered
// with; `second`: that chain's record 2 as stored (the forged record claims to follow it).
inline std::vector<Tampering> tamperings(const std::string& table, const std::string& chain,
                                         const AuditRecord& second) {
  const std::string of = " AND chain = " + sqlText(chain);
  AuditRecord forged = second;
  forged.actor = "token:ke-gia-mao";
  forged.action = "POST /v1/dlq/1/purge";
  forged.detail = "HTTP 200";
  sealAuditRecord(forged, 2, second.hash);  // hashed as the daemon would
  const std::string insert =
      "INSERT INTO " + table +
      " (seq, chain, at_ms, actor, action, subject, message_id, trace_id, digest, version, "
      "detail, prev, hash) VALUES (3, " +
      sqlText(forged.chain) + ", " + std::to_string(forged.at_ms) + ", " + sqlText(forged.actor) +
      ", " + sqlText(forged.action) + ", " + sqlText(forged.subject) + ", " +
      sqlText(forged.message_id) + ", " + sqlText(forged.trace_id) + ", " + sqlText(forged.digest) +
      ", " + std::to_string(forged.version) + ", " + sqlText(forged.detail) + ", " +
      sqlText(forged.prev) + ", " + sqlText(forged.hash) + ")";
  return {
      {"modified", 3, {"UPDATE " + table + " SET detail = 'HTTP 200' WHERE seq = 3" + of}},
      {"deleted", 3, {"DELETE FROM " + table + " WHERE seq = 3" + of}},
      {"inserted",
       3,
       {"UPDATE " + table + " SET seq = seq + 1000000 WHERE seq >= 3" + of,
        "UPDATE " + table + " SET seq = seq - 999999 WHERE seq >= 1000000" + of, insert}},
      {"reordered",
       3,
       {"UPDATE " + table + " SET seq = -1 WHERE seq = 3" + of,
        "UPDATE " + table + " SET seq = 3 WHERE seq = 4" + of,
        "UPDATE " + table + " SET seq = 4 WHERE seq = -1" + of}},
  };
}

}  // namespace lienthong::testing

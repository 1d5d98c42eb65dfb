// The shared store of cluster mode: PostgreSQL through libpq. Like the embedded store, one
// writer thread commits every queued write in one transaction (group commit) and a second
// connection reads. Each daemon is a node: journal entries carry the node that accepted
// them, and the writer's session holds an advisory lock named after the node for as long
// as the daemon lives. A node whose lock is free (its process or its session ended) at
// two looks in a row has its entries claimed by a live node, which delivers them.

#include <libpq-fe.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <limits>
#include <mutex>
#include <set>

#include "core/batched_store.h"
#include "core/pki.h"

namespace lienthong {

namespace {

constexpr const char* kFormat = "lienthong-pg-1";

// Parameters of one statement: text values, and bytea values sent as binary.
class Params {
 public:
  Params& text(std::string v) { return add(std::move(v), 0); }
  Params& bytes(std::string v) { return add(std::move(v), 1); }
  Params& integer(std::int64_t v) { return add(std::to_string(v), 0); }
  int count() const { return static_cast<int>(values_.size()); }
  const char* const* values() {
    pointers_.clear();
    for (const auto& v : values_) pointers_.push_back(v.data());
    return pointers_.data();
  }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  Params& add(std::string v, int format) {
    lengths_.push_back(static_cast<int>(v.size()));
    formats_.push_back(format);
    values_.push_back(std::move(v));
    return *this;
  }
  std::deque<std::string> values_;  // stable addresses
  std::vector<const char*> pointers_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// A result, freed with its scope. Rows are read as text, except bytea columns, which
// come unescaped.
class Rows {
 public:
  explicit Rows(PGresult* r) : r_(r) {}
  ~Rows() { PQclear(r_); }
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;
  Rows(Rows&& other) noexcept : r_(other.r_) { other.r_ = nullptr; }
  Rows& operator=(Rows&&) = delete;
  PGresult* get() const { return r_; }
  bool ok() const {
    const auto s = PQresultStatus(r_);
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
  }
  int rows() const { return PQntuples(r_); }
  std::string text(int row, int col) const {
    return std::string(PQgetvalue(r_, row, col),
                       static_cast<std::size_t>(PQgetlength(r_, row, col)));
  }
  std::int64_t integer(int row, int col) const {
    return std::strtoll(PQgetvalue(r_, row, col), nullptr, 10);
  }
  std::string bytes(int row, int col) const {
    std::size_t n = 0;
    unsigned char* raw =
        PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r_, row, col)), &n);
    if (!raw) return {};
    std::string out(reinterpret_cast<const char*>(raw), n);
    PQfreemem(raw);
    return out;
  }
  std::int64_t affected() const { return std::strtoll(PQcmdTuples(r_), nullptr, 10); }
  std::string state() const {
    const char* s = PQresultErrorField(r_, PG_DIAG_SQLSTATE);
    return s ? s : "";
  }

 private:
  PGresult* r_;
};

// The columns of a journalled message, in this order, from `first` on.
constexpr const char* kMessageColumns =
    "route, accepted_ms, msg_id, correlation_id, dossier_key, content_type, headers, body";

Message messageAt(const Rows& r, int row, int first) {
  Message m(r.text(row, first + 2));
  m.setCorrelationId(r.text(row, first + 3));
  m.setDossierKey(r.text(row, first + 4));
  m.setContentType(r.text(row, first + 5));
  m.headers() = decodeStoredHeaders(r.bytes(row, first + 6));
  m.setBody(r.bytes(row, first + 7));
  return m;
}

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS lienthong_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO lienthong_meta VALUES ('format', 'lienthong-pg-1') ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS lienthong_journal (
  seq BIGSERIAL PRIMARY KEY, node TEXT NOT NULL, route TEXT NOT NULL,
  accepted_ms BIGINT NOT NULL, msg_id TEXT NOT NULL, correlation_id TEXT NOT NULL,
  dossier_key TEXT NOT NULL, content_type TEXT NOT NULL, headers BYTEA NOT NULL,
  body BYTEA NOT NULL, first_step INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS lienthong_journal_node ON lienthong_journal (node, seq);
CREATE TABLE IF NOT EXISTS lienthong_dead_letters (
  seq BIGINT PRIMARY KEY, route TEXT NOT NULL, accepted_ms BIGINT NOT NULL,
  msg_id TEXT NOT NULL, correlation_id TEXT NOT NULL, dossier_key TEXT NOT NULL,
  content_type TEXT NOT NULL, headers BYTEA NOT NULL, body BYTEA NOT NULL,
  dead_ms BIGINT NOT NULL, reason TEXT NOT NULL, first_step INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS lienthong_dead_letters_route ON lienthong_dead_letters (route, dead_ms);
CREATE TABLE IF NOT EXISTS lienthong_actions (
  id BIGSERIAL PRIMARY KEY, at_ms BIGINT NOT NULL, who TEXT NOT NULL, action TEXT NOT NULL,
  seq BIGINT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lienthong_idempotency (
  route TEXT NOT NULL, key TEXT NOT NULL, expires_ms BIGINT NOT NULL, PRIMARY KEY (route, key));
CREATE TABLE IF NOT EXISTS lienthong_dossiers (
  code TEXT PRIMARY KEY, agency TEXT NOT NULL, procedure TEXT NOT NULL,
  received TEXT NOT NULL, appointment TEXT NOT NULL, status INTEGER NOT NULL,
  status_at TEXT NOT NULL, resolved TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lienthong_audit (
  chain TEXT NOT NULL, seq BIGINT NOT NULL, at_ms BIGINT NOT NULL, actor TEXT NOT NULL,
  action TEXT NOT NULL, subject TEXT NOT NULL, message_id TEXT NOT NULL,
  trace_id TEXT NOT NULL, digest TEXT NOT NULL, version BIGINT NOT NULL,
  detail TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (chain, seq));
CREATE INDEX IF NOT EXISTS lienthong_audit_subject ON lienthong_audit (subject);
CREATE INDEX IF NOT EXISTS lienthong_audit_message ON lienthong_audit (message_id);
CREATE INDEX IF NOT EXISTS lienthong_audit_trace ON lienthong_audit (trace_id);
CREATE TABLE IF NOT EXISTS lienthong_audit_checkpoints (
  chain TEXT NOT NULL, seq BIGINT NOT NULL, hash TEXT NOT NULL, at_ms BIGINT NOT NULL,
  signer TEXT NOT NULL, cert_sha256 TEXT NOT NULL, signature TEXT NOT NULL,
  PRIMARY KEY (chain, seq));
CREATE TABLE IF NOT EXISTS lienthong_audit_certs (sha256 TEXT PRIMARY KEY, pem TEXT NOT NULL);
)";

std::vector<AuditRecord> auditRows(const Rows& r) {
  std::vector<AuditRecord> out;
  for (int i = 0; i < r.rows(); ++i) {
    AuditRecord a;
    a.seq = r.integer(i, 0);
    a.chain = r.text(i, 1);
    a.at_ms = r.integer(i, 2);
    a.actor = r.text(i, 3);
    a.action = r.text(i, 4);
    a.subject = r.text(i, 5);
    a.message_id = r.text(i, 6);
    a.trace_id = r.text(i, 7);
    a.digest = r.text(i, 8);
    a.version = static_cast<std::uint64_t>(r.integer(i, 9));
    a.detail = r.text(i, 10);
    a.prev = r.text(i, 11);
    a.hash = r.text(i, 12);
    out.push_back(std::move(a));
  }
  return out;
}

// The chain's last (seq, hash): its last record, else the checkpoint a pruning left.
constexpr const char* kAuditHead =
    "SELECT seq, hash FROM (SELECT seq, hash, 0 AS k FROM lienthong_audit WHERE chain = $1 "
    "UNION ALL SELECT seq, hash, 1 FROM lienthong_audit_checkpoints WHERE chain = $1) h "
    "ORDER BY k, seq DESC LIMIT 1";

// The advisory lock that says a node is alive: held by its writer's session.
constexpr const char* kNodeLock = "hashtextextended('lienthong-node:' || $1, 0)";

class PostgresStore final : public BatchedStore {
 public:
  ~PostgresStore() override {
    stopWriter();
    if (write_) PQfinish(write_);
    if (read_) PQfinish(read_);
  }

  static Result<std::unique_ptr<Store>> open(const StoreSettings& settings, bool as_node) {
    std::unique_ptr<PostgresStore> s(new PostgresStore(settings, as_node));
    if (auto e = s->init()) return *e;
    return std::unique_ptr<Store>(std::move(s));
  }

  bool shared() const override { return true; }

  Result<std::vector<StoredMessage>> takeOver() override {
    if (!as_node_) return std::vector<StoredMessage>();
    Op op(Op::kTakeOver);
    if (auto e = submit(op)) return *e;
    std::sort(op.claimed.begin(), op.claimed.end(),
              [](const StoredMessage& a, const StoredMessage& b) { return a.seq < b.seq; });
    return std::move(op.claimed);
  }

  Result<bool> known(const std::string& route, const std::string& key,
                     SystemClock::time_point now) override {
    Params p;
    p.text(route).text(key).integer(toEpochMs(now));
    auto r = read(
        "SELECT 1 FROM lienthong_idempotency WHERE route = $1 AND key = $2 AND expires_ms > $3", p,
        "reading the idempotency keys");
    if (!r.ok()) return r.error();
    return (*r)->rows() > 0;
  }

  Result<std::vector<StoredMessage>> pending() override {
    Params p;
    p.text(node_);
    auto r = read(std::string("SELECT seq, ") + kMessageColumns +
                      ", first_step FROM lienthong_journal WHERE node = $1 ORDER BY seq",
                  p, "reading the journal");
    if (!r.ok()) return r.error();
    std::vector<StoredMessage> out;
    const Rows& rows = **r;
    for (int i = 0; i < rows.rows(); ++i) out.push_back(storedAt(rows, i));
    return out;
  }

  Result<std::vector<DeadLetter>> deadLetters(const DeadLetterFilter& f) override {
    Params p;
    p.text(f.route).text(f.reason).text(f.dossier_key);
    p.integer(f.since ? toEpochMs(*f.since) : std::numeric_limits<std::int64_t>::min());
    p.integer(f.until ? toEpochMs(*f.until) : std::numeric_limits<std::int64_t>::max());
    p.integer(static_cast<std::int64_t>(f.limit));
    p.integer(f.seq);
    auto r = read(std::string("SELECT seq, ") + kMessageColumns +
                      ", dead_ms, reason FROM lienthong_dead_letters "
                      "WHERE ($1 = '' OR route = $1) AND ($2 = '' OR strpos(reason, $2) > 0) "
                      "AND ($3 = '' OR dossier_key = $3) AND dead_ms >= $4 AND dead_ms <= $5 "
                      "AND ($7 = 0 OR seq = $7) ORDER BY seq LIMIT $6",
                  p, "reading the dead letters");
    if (!r.ok()) return r.error();
    std::vector<DeadLetter> out;
    const Rows& rows = **r;
    for (int i = 0; i < rows.rows(); ++i) {
      DeadLetter d;
      d.seq = rows.integer(i, 0);
      d.route = rows.text(i, 1);
      d.accepted = fromEpochMs(rows.integer(i, 2));
      d.message = messageAt(rows, i, 1);
      d.dead = fromEpochMs(rows.integer(i, 9));
      d.reason = rows.text(i, 10);
      out.push_back(std::move(d));
    }
    return out;
  }

  Result<std::vector<dossier::DossierState>> dossierStates(const std::string& code) override {
    Params p;
    p.text(code);
    auto r = read(
        "SELECT code, agency, procedure, received, appointment, status, resolved "
        "FROM lienthong_dossiers WHERE $1 = '' OR code = $1 ORDER BY code",
        p, "reading the dossiers");
    if (!r.ok()) return r.error();
    std::vector<dossier::DossierState> out;
    for (int i = 0; i < (*r)->rows(); ++i) {
      out.push_back({(*r)->text(i, 0), (*r)->text(i, 1), (*r)->text(i, 2), (*r)->text(i, 3),
                     (*r)->text(i, 4), static_cast<int>((*r)->integer(i, 5)), (*r)->text(i, 6)});
    }
    return out;
  }

  Result<std::map<std::string, RouteDepth>> depths() override {
    Params none;
    auto journal =
        read("SELECT route, COUNT(*), MIN(accepted_ms) FROM lienthong_journal GROUP BY route", none,
             "reading the journal");
    if (!journal.ok()) return journal.error();
    std::map<std::string, RouteDepth> out;
    for (int i = 0; i < (*journal)->rows(); ++i) {
      RouteDepth d;
      d.depth = static_cast<std::size_t>((*journal)->integer(i, 1));
      d.oldest = fromEpochMs((*journal)->integer(i, 2));
      out[(*journal)->text(i, 0)] = d;
    }
    auto dead = read("SELECT route, COUNT(*) FROM lienthong_dead_letters GROUP BY route", none,
                     "reading the dead letters");
    if (!dead.ok()) return dead.error();
    for (int i = 0; i < (*dead)->rows(); ++i) {
      out[(*dead)->text(i, 0)].dead_letters = static_cast<std::size_t>((*dead)->integer(i, 1));
    }
    return out;
  }

  const std::string& auditChain() const override { return chain_; }

  Result<std::vector<std::string>> auditChains() override {
    Params none;
    auto r = read(
        "SELECT chain FROM lienthong_audit UNION SELECT chain FROM lienthong_audit_checkpoints "
        "ORDER BY 1",
        none, "reading the audit chains");
    if (!r.ok()) return r.error();
    std::vector<std::string> out;
    for (int i = 0; i < (*r)->rows(); ++i) out.push_back((*r)->text(i, 0));
    return out;
  }

  Result<std::vector<AuditRecord>> auditRecords(const std::string& chain, std::int64_t after,
                                                std::size_t limit) override {
    Params p;
    p.text(chain).integer(after).integer(static_cast<std::int64_t>(limit));
    auto r = read(std::string("SELECT ") + kAuditColumns +
                      " FROM lienthong_audit WHERE chain = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                  p, "reading the audit records");
    if (!r.ok()) return r.error();
    return auditRows(**r);
  }

  Result<std::vector<AuditRecord>> auditFind(const std::string& key, std::size_t limit) override {
    Params p;
    p.text(key).integer(static_cast<std::int64_t>(limit));
    auto r = read(std::string("SELECT ") + kAuditColumns +
                      " FROM lienthong_audit WHERE subject = $1 OR message_id = $1 OR "
                      "trace_id = $1 ORDER BY at_ms DESC, seq DESC LIMIT $2",
                  p, "reading the audit records");
    if (!r.ok()) return r.error();
    auto out = auditRows(**r);
    std::reverse(out.begin(), out.end());
    return out;
  }

  Result<std::vector<AuditCheckpoint>> auditCheckpoints(const std::string& chain) override {
    Params p;
    p.text(chain);
    auto r = read(
        "SELECT chain, seq, hash, at_ms, signer, signature, cert_sha256 FROM "
        "lienthong_audit_checkpoints WHERE chain = $1 ORDER BY seq",
        p, "reading the audit checkpoints");
    if (!r.ok()) return r.error();
    std::vector<AuditCheckpoint> out;
    const Rows& rows = **r;
    for (int i = 0; i < rows.rows(); ++i) {
      out.push_back({rows.text(i, 0), rows.integer(i, 1), rows.text(i, 2), rows.integer(i, 3),
                     rows.text(i, 4), std::string(), rows.text(i, 5), rows.text(i, 6)});
    }
    return out;
  }

  Result<AuditCerts> auditCerts() override {
    Params none;
    auto r = read("SELECT sha256, pem FROM lienthong_audit_certs", none,
                  "reading the audit certificates");
    if (!r.ok()) return r.error();
    AuditCerts out;
    for (int i = 0; i < (*r)->rows(); ++i) out.emplace((*r)->text(i, 0), (*r)->text(i, 1));
    return out;
  }

  Result<std::pair<std::int64_t, std::string>> auditHead(const std::string& chain) override {
    Params p;
    p.text(chain);
    auto r = read(kAuditHead, p, "reading the audit chain's head");
    if (!r.ok()) return r.error();
    if ((*r)->rows() == 0) return std::make_pair(std::int64_t{0}, std::string());
    return std::make_pair((*r)->integer(0, 0), (*r)->text(0, 1));
  }

  Result<std::vector<StoreAction>> actions() override {
    Params none;
    auto r = read("SELECT at_ms, who, action, seq, detail FROM lienthong_actions ORDER BY id", none,
                  "reading the actions");
    if (!r.ok()) return r.error();
    std::vector<StoreAction> out;
    const Rows& rows = **r;
    for (int i = 0; i < rows.rows(); ++i) {
      out.push_back({fromEpochMs(rows.integer(i, 0)), rows.text(i, 1), rows.text(i, 2),
                     rows.integer(i, 3), rows.text(i, 4)});
    }
    return out;
  }

 private:
  PostgresStore(const StoreSettings& settings, bool as_node)
      : settings_(settings),
        as_node_(as_node),
        node_(as_node ? settings.node : std::string()),
        chain_(settings.node.empty() ? std::string("tool") : settings.node) {}

  // Writer: op.audit (if any) goes onto the chain. The chain's lock (for this
  // transaction) keeps a tool that writes to the same chain in turn.
  bool writeAudit(Op& op, std::int64_t now) {
    if (!op.audit) return true;
    AuditRecord& r = *op.audit;
    r.chain = chain_;
    if (r.at_ms == 0) r.at_ms = now;
    if (!head_) {
      Params p;
      p.text(chain_);
      if (!exec("SELECT pg_advisory_xact_lock(hashtextextended('lienthong-audit:' || $1, 0))", p)
               .ok()) {
        return false;
      }
      Rows head = exec(kAuditHead, p);
      if (!head.ok()) return false;
      head_ = head.rows() == 0 ? std::make_pair(std::int64_t{0}, std::string())
                               : std::make_pair(head.integer(0, 0), head.text(0, 1));
    }
    sealAuditRecord(r, head_->first, head_->second);
    Params p;
    p.integer(r.seq).text(r.chain).integer(r.at_ms).text(r.actor).text(r.action).text(r.subject);
    p.text(r.message_id).text(r.trace_id).text(r.digest);
    p.integer(static_cast<std::int64_t>(r.version)).text(r.detail).text(r.prev).text(r.hash);
    if (!exec(std::string("INSERT INTO lienthong_audit (") + kAuditColumns +
                  ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
              p)
             .ok()) {
      return false;
    }
    head_ = std::make_pair(r.seq, r.hash);
    return true;
  }

  bool keepCheckpoint(Op& op) {
    const AuditCheckpoint& cp = *op.checkpoint;
    Params p;
    p.text(cp.chain).integer(cp.seq);
    Rows find = exec("SELECT hash FROM lienthong_audit WHERE chain = $1 AND seq = $2", p);
    if (!find.ok()) return false;
    if (cp.chain != chain_ || find.rows() == 0 || find.text(0, 0) != cp.hash) {
      op.error =
          Error(ErrorCode::kInvalidMessage, "audit chain " + cp.chain + " has no record " +
                                                std::to_string(cp.seq) + " with hash " + cp.hash);
      return true;
    }
    // A certificate is kept once, however many checkpoints it signed.
    const std::string fingerprint = pki::sha256Hex(cp.cert);
    Params c;
    c.text(fingerprint).text(cp.cert);
    if (!exec("INSERT INTO lienthong_audit_certs (sha256, pem) VALUES ($1, $2) ON CONFLICT DO "
              "NOTHING",
              c)
             .ok()) {
      return false;
    }
    Params k;
    k.text(cp.chain).integer(cp.seq).text(cp.hash).integer(cp.at_ms).text(cp.signer);
    k.text(fingerprint).text(cp.signature);
    return exec(
               "INSERT INTO lienthong_audit_checkpoints (chain, seq, hash, at_ms, signer, "
               "cert_sha256, signature) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO "
               "NOTHING",
               k)
        .ok();
  }

  bool pruneChain(Op& op, std::int64_t now) {
    Params p;
    p.text(chain_).integer(op.at);
    Rows find = exec(
        "SELECT c.seq FROM lienthong_audit_checkpoints c JOIN lienthong_audit a ON a.chain = "
        "c.chain AND a.seq = c.seq WHERE c.chain = $1 AND a.at_ms < $2 ORDER BY c.seq DESC "
        "LIMIT 1",
        p);
    if (!find.ok()) return false;
    if (find.rows() == 0) {
      op.seq = 0;  // nothing went: nothing to record
      return true;
    }
    const std::int64_t anchor = find.integer(0, 0);
    Params d;
    d.text(chain_).integer(anchor);
    Rows dropped = exec("DELETE FROM lienthong_audit WHERE chain = $1 AND seq <= $2", d);
    if (!dropped.ok()) return false;
    op.seq = dropped.affected();
    if (!exec("DELETE FROM lienthong_audit_checkpoints WHERE chain = $1 AND seq < $2", d).ok()) {
      return false;
    }
    op.audit->subject = "audit chain " + chain_;
    op.audit->detail = prunedDetail(op.seq, anchor, op.at);
    return writeAudit(op, now);
  }

  StoredMessage storedAt(const Rows& rows, int i) const {
    StoredMessage m;
    m.seq = rows.integer(i, 0);
    m.route = rows.text(i, 1);
    m.accepted = fromEpochMs(rows.integer(i, 2));
    m.message = messageAt(rows, i, 1);
    m.first_step = static_cast<std::size_t>(rows.integer(i, 9));
    return m;
  }

  Error failure(PGconn* c, const std::string& doing, const char* detail = nullptr) const {
    std::string why = detail ? detail : (c ? PQerrorMessage(c) : "no connection");
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return Error(ErrorCode::kTransient, settings_.describe() + ": " + doing + ": " + why);
  }

  PGconn* connect(std::optional<Error>& error) const {
    const std::string application = "lienthong" + (node_.empty() ? "" : " " + node_);
    // The URL is expanded (expand_dbname); what follows it overrides it.
    std::vector<const char*> keys = {"dbname", "application_name", "connect_timeout", "options"};
    std::vector<const char*> values = {settings_.url.c_str(), application.c_str(), "10",
                                       "-c client_min_messages=warning"};
    if (!settings_.password.empty()) {
      keys.push_back("password");
      values.push_back(settings_.password.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    PGconn* c = PQconnectdbParams(keys.data(), values.data(), 1);
    if (PQstatus(c) != CONNECTION_OK) {
      error = failure(c, "cannot connect");
      PQfinish(c);
      return nullptr;
    }
    return c;
  }

  // Runs `sql` on the writer's connection (writer thread, or init()).
  Rows exec(const std::string& sql, Params& p) {
    Rows r(PQexecParams(write_, sql.c_str(), p.count(), nullptr, p.values(), p.lengths(),
                        p.formats(), 0));
    if (!r.ok()) last_state_ = r.state();
    return r;
  }

  std::optional<Error> init() {
    std::optional<Error> e;
    write_ = connect(e);
    if (!write_) return e;
    read_ = connect(e);
    if (!read_) return e;
    Params none;
    // One node at a time creates the tables.
    {
      Rows lock = exec("SELECT pg_advisory_lock(hashtextextended('lienthong-schema', 0))", none);
      if (!lock.ok()) return failure(write_, "locking the schema");
      Rows created(PQexec(write_, kSchema));
      const bool ok = created.ok();
      const std::optional<Error> why =
          ok ? std::nullopt : std::optional<Error>(failure(write_, "creating the tables"));
      Rows unlock =
          exec("SELECT pg_advisory_unlock(hashtextextended('lienthong-schema', 0))", none);
      if (why) return why;
    }
    Rows format = exec("SELECT value FROM lienthong_meta WHERE name = 'format'", none);
    if (!format.ok() || format.rows() != 1 || format.text(0, 0) != kFormat) {
      return Error(ErrorCode::kInvalidConfig,
                   settings_.describe() + ": the database holds tables of another format (" +
                       (format.ok() && format.rows() == 1 ? format.text(0, 0) : "none") + ")");
    }
    if (as_node_ && !holdNodeLock(e)) return e;
    startWriter();
    return std::nullopt;
  }

  // The writer's session holds the node's lock: one daemon per node name, and the others
  // see it alive while it lasts.
  bool holdNodeLock(std::optional<Error>& error) {
    Params p;
    p.text(node_);
    Rows r = exec(std::string("SELECT pg_try_advisory_lock(") + kNodeLock + ")", p);
    if (!r.ok()) {
      error = failure(write_, "taking the node's lock");
      return false;
    }
    if (r.text(0, 0) != "t") {
      error = Error(ErrorCode::kInvalidConfig,
                    settings_.describe() + ": node '" + node_ +
                        "' is in use by another daemon (each node needs its own name: "
                        "store.postgresql.node)");
      return false;
    }
    return true;
  }

  // A read on the reading connection (reconnected when it was lost).
  Result<std::unique_ptr<Rows>> read(const std::string& sql, Params& p, const std::string& doing) {
    std::lock_guard lock(read_mutex_);
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (PQstatus(read_) != CONNECTION_OK) PQreset(read_);
      auto rows = std::make_unique<Rows>(PQexecParams(read_, sql.c_str(), p.count(), nullptr,
                                                      p.values(), p.lengths(), p.formats(), 0));
      if (rows->ok()) return rows;
      if (PQstatus(read_) == CONNECTION_OK) return failure(read_, doing);
    }
    return failure(read_, doing);
  }

  bool rememberKey(Op& op, std::int64_t now) {
    Params p;
    p.text(op.route).text(op.text).integer(op.at).integer(now);
    Rows r = exec(
        "INSERT INTO lienthong_idempotency (route, key, expires_ms) VALUES ($1, $2, $3) "
        "ON CONFLICT (route, key) DO UPDATE SET expires_ms = EXCLUDED.expires_ms "
        "WHERE lienthong_idempotency.expires_ms <= $4",
        p);
    if (!r.ok()) return false;
    op.fresh = r.affected() == 1;
    return true;
  }

  // One write inside the open transaction; false when it failed (the transaction is then
  // aborted).
  bool apply(Op& op) {
    const std::int64_t now = toEpochMs(SystemClock::now());
    switch (op.kind) {
      case Op::kAppend: {
        op.fresh = true;
        if (!op.text.empty()) {
          if (!rememberKey(op, now)) return false;
          if (!op.fresh) return true;
        }
        const Message& m = *op.message;
        Params p;
        p.text(node_).text(op.route).integer(now).text(m.id()).text(m.correlationId());
        p.text(m.dossierKey()).text(m.contentType()).bytes(encodeStoredHeaders(m.headers()));
        p.bytes(m.body()).integer(op.step);
        Rows r = exec(std::string("INSERT INTO lienthong_journal (node, ") + kMessageColumns +
                          ", first_step) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
                          "RETURNING seq",
                      p);
        if (!r.ok()) return false;
        op.seq = r.integer(0, 0);
        if (op.settles) {
          for (std::int64_t held : *op.settles) {
            Params d;
            d.integer(held);
            if (!exec("DELETE FROM lienthong_journal WHERE seq = $1", d).ok()) return false;
          }
        }
        return true;
      }
      case Op::kDelivered: {
        Params p;
        p.integer(op.seq);
        return exec("DELETE FROM lienthong_journal WHERE seq = $1", p).ok() && writeAudit(op, now);
      }
      case Op::kDeadLetter: {
        Params p;
        p.integer(op.seq).integer(now).text(op.text).text(op.route);
        Rows r = exec(
            "WITH moved AS (DELETE FROM lienthong_journal WHERE seq = $1 RETURNING *) INSERT "
            "INTO lienthong_dead_letters SELECT seq, route, accepted_ms, msg_id, correlation_id, "
            "CASE WHEN dossier_key = '' THEN $4 ELSE dossier_key END, content_type, headers, "
            "body, $2, $3, first_step FROM moved",
            p);
        if (!r.ok()) return false;
        if (r.affected() == 0) {
          op.error = Error(ErrorCode::kInternal, settings_.describe() + ": no journal entry " +
                                                     std::to_string(op.seq) + " to dead-letter");
          return true;
        }
        return writeAudit(op, now);
      }
      case Op::kReroute: {
        Params p;
        p.integer(op.seq).text(op.route).bytes(encodeStoredHeaders(op.message->headers()));
        Rows r = exec(
            "UPDATE lienthong_journal SET route = $2, headers = $3, first_step = 0 WHERE seq = $1",
            p);
        if (!r.ok()) return false;
        if (r.affected() == 0) {
          op.error = Error(ErrorCode::kInternal, settings_.describe() + ": no journal entry " +
                                                     std::to_string(op.seq) + " to reroute");
        }
        return true;
      }
      case Op::kRemember:
        return rememberKey(op, now);
      case Op::kTrack: {
        const DossierEvent& e = *op.event;
        Params p;
        p.text(e.code)
            .text(e.agency)
            .text(e.procedure)
            .text(e.received)
            .text(e.appointment)
            .integer(e.status)
            .text(e.at);
        return exec(
                   "INSERT INTO lienthong_dossiers (code, agency, procedure, received, "
                   "appointment, status, "
                   "status_at, resolved) VALUES ($1, $2, $3, $4, $5, $6, "
                   "CASE WHEN $6::int > 0 THEN $7 ELSE '' END, "
                   "CASE WHEN $6::int IN (9, 10) THEN $7 ELSE '' END) "
                   "ON CONFLICT (code) DO UPDATE SET "
                   "  agency = CASE WHEN excluded.agency <> '' THEN excluded.agency ELSE "
                   "lienthong_dossiers.agency END, "
                   "  procedure = CASE WHEN excluded.procedure <> '' THEN excluded.procedure ELSE "
                   "lienthong_dossiers.procedure END, "
                   "  received = CASE WHEN excluded.received <> '' THEN excluded.received ELSE "
                   "lienthong_dossiers.received END, "
                   "  appointment = CASE WHEN excluded.appointment <> '' AND (excluded.status_at "
                   ">= lienthong_dossiers.status_at OR lienthong_dossiers.appointment = '') THEN "
                   "excluded.appointment "
                   "                     ELSE lienthong_dossiers.appointment END, "
                   "  status = CASE WHEN excluded.status > 0 AND excluded.status_at >= "
                   "lienthong_dossiers.status_at "
                   "                THEN excluded.status ELSE lienthong_dossiers.status END, "
                   "  status_at = CASE WHEN excluded.status > 0 AND excluded.status_at >= "
                   "lienthong_dossiers.status_at "
                   "                   THEN excluded.status_at ELSE lienthong_dossiers.status_at "
                   "END, "
                   "  resolved = CASE WHEN excluded.resolved <> '' AND "
                   "(lienthong_dossiers.resolved = '' OR excluded.resolved < "
                   "lienthong_dossiers.resolved) "
                   "                  THEN excluded.resolved ELSE lienthong_dossiers.resolved END ",
                   p)
            .ok();
      }
      case Op::kExpire: {
        Params p;
        p.integer(op.at);
        Rows r = exec("DELETE FROM lienthong_idempotency WHERE expires_ms <= $1", p);
        if (!r.ok()) return false;
        op.seq = r.affected();
        return true;
      }
      case Op::kReplay:
      case Op::kPurge:
        return applyOperator(op, now);
      case Op::kTakeOver:
        return claim(op);
      case Op::kAudit:
        return writeAudit(op, now);
      case Op::kCheckpoint:
        return keepCheckpoint(op);
      case Op::kPruneAudit:
        return pruneChain(op, now);
    }
    return false;
  }

  bool applyOperator(Op& op, std::int64_t now) {
    const std::int64_t seq = op.seq;
    std::string route;
    {
      Params p;
      p.integer(seq);
      Rows find = exec("SELECT route FROM lienthong_dead_letters WHERE seq = $1 FOR UPDATE", p);
      if (!find.ok()) return false;
      if (find.rows() == 0) {
        op.error = Error(ErrorCode::kInvalidMessage, "no dead letter " + std::to_string(seq));
        return true;
      }
      route = find.text(0, 0);
    }
    if (op.kind == Op::kReplay) {
      // A replay belongs to no node: a live node claims it at its next look.
      const bool same = op.route.empty() || op.route == route;
      if (!same) route = op.route;
      Params p;
      p.integer(seq).text(route).integer(same ? 1 : 0);
      Rows back = exec(
          "INSERT INTO lienthong_journal (node, route, accepted_ms, msg_id, correlation_id, "
          "dossier_key, content_type, headers, body, first_step) SELECT '', $2, accepted_ms, "
          "msg_id, correlation_id, dossier_key, content_type, headers, body, CASE WHEN $3 = 1 "
          "THEN first_step ELSE 0 END FROM lienthong_dead_letters WHERE seq = $1 RETURNING seq",
          p);
      if (!back.ok()) return false;
      op.seq = back.integer(0, 0);
    }
    Params drop;
    drop.integer(seq);
    if (!exec("DELETE FROM lienthong_dead_letters WHERE seq = $1", drop).ok()) return false;
    Params record;
    record.integer(now).text(op.text).text(op.kind == Op::kReplay ? "replay" : "purge");
    record.integer(seq).text(op.kind == Op::kReplay ? "to route " + route : std::string());
    return exec(
               "INSERT INTO lienthong_actions (at_ms, who, action, seq, detail) "
               "VALUES ($1, $2, $3, $4, $5)",
               record)
               .ok() &&
           writeAudit(op, now);
  }

  // Claims the entries of no node, and of the nodes whose lock was free at this look and
  // the one before (a node restarting its session is not taken over at once).
  bool claim(Op& op) {
    Params none;
    Rows nodes = exec("SELECT DISTINCT node FROM lienthong_journal", none);
    if (!nodes.ok()) return false;
    std::set<std::string> gone;
    std::vector<std::string> take;
    for (int i = 0; i < nodes.rows(); ++i) {
      const std::string node = nodes.text(i, 0);
      if (node == node_) continue;
      if (node.empty()) {
        take.push_back(node);
        continue;
      }
      Params p;
      p.text(node);
      Rows free = exec(std::string("SELECT pg_try_advisory_xact_lock(") + kNodeLock + ")", p);
      if (!free.ok()) return false;
      if (free.text(0, 0) != "t") continue;  // alive
      gone.insert(node);
      if (seen_gone_.count(node)) take.push_back(node);
    }
    seen_gone_ = std::move(gone);
    for (const std::string& node : take) {
      Params p;
      p.text(node_).text(node);
      Rows r = exec(std::string("UPDATE lienthong_journal SET node = $1 WHERE node = $2 "
                                "RETURNING seq, ") +
                        kMessageColumns + ", first_step",
                    p);
      if (!r.ok()) return false;
      for (int i = 0; i < r.rows(); ++i) op.claimed.push_back(storedAt(r, i));
    }
    return true;
  }

  // The writer's connection is back after a loss: the node's lock is taken again.
  bool reconnect() {
    PQreset(write_);
    if (PQstatus(write_) != CONNECTION_OK) return false;
    std::optional<Error> e;
    return !as_node_ || holdNodeLock(e);
  }

  // A deadlock with another node's batch (keys taken in another order) aborts one of
  // them: it is tried again, up to three times.
  std::optional<Error> commitBatch(Batch& batch) override {
    std::optional<Error> failed;
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (PQstatus(write_) != CONNECTION_OK && !reconnect()) {
        return failure(write_, "the connection was lost");
      }
      for (Op* op : batch) {
        op->error.reset();
        op->claimed.clear();
      }
      last_state_.clear();
      head_.reset();  // read again in this transaction
      Params none;
      if (!exec("BEGIN", none).ok()) {
        failed = failure(write_, "starting a transaction");
        continue;
      }
      failed.reset();
      for (Op* op : batch) {
        if (!apply(*op)) {
          failed = failure(write_, "writing");
          break;
        }
      }
      if (!failed && !exec("COMMIT", none).ok()) failed = failure(write_, "committing");
      if (!failed) return std::nullopt;
      const std::string state = last_state_;
      exec("ROLLBACK", none);
      if (state != "40P01" && state != "40001") break;  // not a deadlock or a conflict
    }
    return failed;
  }

  const StoreSettings settings_;
  const bool as_node_;
  const std::string node_;   // "" for a tool that is no node
  const std::string chain_;  // the audit chain it writes: the node's name
  // Writer: the chain's head as this transaction has it (read at its first record).
  std::optional<std::pair<std::int64_t, std::string>> head_;
  PGconn* write_ = nullptr;  // the writer thread's (init() before it starts)
  PGconn* read_ = nullptr;   // under read_mutex_
  std::mutex read_mutex_;
  std::set<std::string> seen_gone_;  // writer thread: nodes whose lock was free last look
  std::string last_state_;           // writer thread: SQLSTATE of the last failed statement
};

}  // namespace

Result<std::unique_ptr<Store>> openPostgresStore(const StoreSettings& settings, bool as_node) {
  if (as_node && settings.node.empty()) {
    return makeError(ErrorCode::kInvalidConfig, settings.describe() + ": a node needs a name");
  }
  return PostgresStore::open(settings, as_node);
}

}  // namespace lienthong

// The embedded store: SQLite in WAL mode with synchronous=FULL (a commit is on disk when
// it returns), one writer thread that commits every queued write in one transaction
// (group commit: one fsync for many callers under load, one fsync's latency when idle),
// and a separate reading connection. An exclusive lock file keeps a second process out.

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <mutex>

#include "core/batched_store.h"
#include "core/pki.h"

namespace lienthong {

namespace {

class Statement {
 public:
  Statement(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  sqlite3_stmt* get() { return stmt_; }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  void bind(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void blob(int i, const std::string& s) {
    sqlite3_bind_blob(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void bind(int i, std::int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  std::string text(int col) {
    const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return t ? std::string(t, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))) : "";
  }
  std::string bytes(int col) {
    const auto* b = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return b ? std::string(b, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))) : "";
  }
  std::int64_t integer(int col) { return sqlite3_column_int64(stmt_, col); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// Columns route, accepted_ms, msg_id, correlation_id, dossier_key, content_type, headers,
// body, from column `first` on: the message as it was accepted.
Message messageAt(Statement& s, int first) {
  Message m(s.text(first + 2));
  m.setCorrelationId(s.text(first + 3));
  m.setDossierKey(s.text(first + 4));
  m.setContentType(s.text(first + 5));
  const std::string h = s.bytes(first + 6);
  m.headers() = decodeStoredHeaders(h);
  m.setBody(s.bytes(first + 7));
  return m;
}

// How many of the newest audit records a lookup by message id or trace id reads.
constexpr std::int64_t kAuditScan = 1'000'000;

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('format', 'lienthong-store-2');
CREATE TABLE IF NOT EXISTS journal (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, route TEXT NOT NULL, accepted_ms INTEGER NOT NULL,
  msg_id TEXT NOT NULL, correlation_id TEXT NOT NULL, dossier_key TEXT NOT NULL,
  content_type TEXT NOT NULL, headers BLOB NOT NULL, body BLOB NOT NULL,
  first_step INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letters (
  seq INTEGER PRIMARY KEY, route TEXT NOT NULL, accepted_ms INTEGER NOT NULL,
  msg_id TEXT NOT NULL, correlation_id TEXT NOT NULL, dossier_key TEXT NOT NULL,
  content_type TEXT NOT NULL, headers BLOB NOT NULL, body BLOB NOT NULL,
  dead_ms INTEGER NOT NULL, reason TEXT NOT NULL, first_step INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS dead_letters_route ON dead_letters (route, dead_ms);
CREATE TABLE IF NOT EXISTS actions (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, who TEXT NOT NULL,
  action TEXT NOT NULL, seq INTEGER NOT NULL, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
  route TEXT NOT NULL, key TEXT NOT NULL, expires_ms INTEGER NOT NULL,
  PRIMARY KEY (route, key));
CREATE TABLE IF NOT EXISTS dossiers (
  code TEXT PRIMARY KEY, agency TEXT NOT NULL, procedure TEXT NOT NULL,
  received TEXT NOT NULL, appointment TEXT NOT NULL, status INTEGER NOT NULL,
  status_at TEXT NOT NULL, resolved TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
  chain TEXT NOT NULL, seq INTEGER NOT NULL, at_ms INTEGER NOT NULL, actor TEXT NOT NULL,
  action TEXT NOT NULL, subject TEXT NOT NULL, message_id TEXT NOT NULL,
  trace_id TEXT NOT NULL, digest TEXT NOT NULL, version INTEGER NOT NULL,
  detail TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (chain, seq))
  WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS audit_subject ON audit (subject);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
  chain TEXT NOT NULL, seq INTEGER NOT NULL, hash TEXT NOT NULL, at_ms INTEGER NOT NULL,
  signer TEXT NOT NULL, cert_sha256 TEXT NOT NULL, signature TEXT NOT NULL,
  PRIMARY KEY (chain, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_certs (sha256 TEXT PRIMARY KEY, pem TEXT NOT NULL)
  WITHOUT ROWID;
)";

AuditRecord auditAt(Statement& s) {
  AuditRecord r;
  r.seq = s.integer(0);
  r.chain = s.text(1);
  r.at_ms = s.integer(2);
  r.actor = s.text(3);
  r.action = s.text(4);
  r.subject = s.text(5);
  r.message_id = s.text(6);
  r.trace_id = s.text(7);
  r.digest = s.text(8);
  r.version = static_cast<std::uint64_t>(s.integer(9));
  r.detail = s.text(10);
  r.prev = s.text(11);
  r.hash = s.text(12);
  return r;
}

class SqliteStore final : public BatchedStore {
 public:
  ~SqliteStore() override {
    stopWriter();
    append_.reset();
    delivered_.reset();
    dead_copy_.reset();
    dead_delete_.reset();
    remember_.reset();
    expire_.reset();
    track_.reset();
    audit_insert_.reset();
    if (write_db_) sqlite3_close(write_db_);
    if (read_db_) sqlite3_close(read_db_);
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }

  static Result<std::unique_ptr<Store>> open(const std::string& path) {
    std::unique_ptr<SqliteStore> s(new SqliteStore(path));
    if (auto e = s->init()) return *e;
    return std::unique_ptr<Store>(std::move(s));
  }

  Result<std::vector<StoreAction>> actions() override {
    std::lock_guard lock(read_mutex_);
    Statement s(read_db_, "SELECT at_ms, who, action, seq, detail FROM actions ORDER BY id");
    std::vector<StoreAction> out;
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
      out.push_back({fromEpochMs(s.integer(0)), s.text(1), s.text(2), s.integer(3), s.text(4)});
    }
    if (rc != SQLITE_DONE) return failure(read_db_, "reading the actions");
    return out;
  }

  Result<bool> known(const std::string& route, const std::string& key,
                     SystemClock::time_point now) override {
    std::lock_guard lock(read_mutex_);
    Statement s(read_db_,
                "SELECT 1 FROM idempotency WHERE route = ?1 AND key = ?2 AND expires_ms > ?3");
    s.bind(1, route);
    s.bind(2, key);
    s.bind(3, toEpochMs(now));
    const int rc = sqlite3_step(s.get());
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) return failure(read_db_, "reading the idempotency keys");
    return false;
  }

  Result<std::vector<StoredMessage>> pending() override {
    std::lock_guard lock(read_mutex_);
    Statement s(read_db_,
                "SELECT seq, route, accepted_ms, msg_id, correlation_id, dossier_key, "
                "content_type, headers, body, first_step FROM journal ORDER BY seq");
    std::vector<StoredMessage> out;
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
      StoredMessage m;
      m.seq = s.integer(0);
      m.route = s.text(1);
      m.accepted = fromEpochMs(s.integer(2));
      m.message = messageAt(s, 1);
      m.first_step = static_cast<std::size_t>(s.integer(9));
      out.push_back(std::move(m));
    }
    if (rc != SQLITE_DONE) return failure(read_db_, "reading the journal");
    return out;
  }

  Result<std::vector<DeadLetter>> deadLetters(const DeadLetterFilter& f) override {
    std::lock_guard lock(read_mutex_);
    Statement s(read_db_,
                "SELECT seq, route, accepted_ms, msg_id, correlation_id, dossier_key, "
                "content_type, headers, body, dead_ms, reason FROM dead_letters "
                "WHERE (?1 = '' OR route = ?1) AND (?2 = '' OR instr(reason, ?2) > 0) "
                "AND (?3 = '' OR dossier_key = ?3) AND dead_ms >= ?4 AND dead_ms <= ?5 "
                "AND (?7 = 0 OR seq = ?7) ORDER BY seq LIMIT ?6");
    s.bind(1, f.route);
    s.bind(2, f.reason);
    s.bind(3, f.dossier_key);
    s.bind(4, f.since ? toEpochMs(*f.since) : std::numeric_limits<std::int64_t>::min());
    s.bind(5, f.until ? toEpochMs(*f.until) : std::numeric_limits<std::int64_t>::max());
    s.bind(6, static_cast<std::int64_t>(f.limit));
    s.bind(7, f.seq);
    std::vector<DeadLetter> out;
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
      DeadLetter d;
      d.seq = s.integer(0);
      d.route = s.text(1);
      d.accepted = fromEpochMs(s.integer(2));
      d.message = messageAt(s, 1);
      d.dead = fromEpochMs(s.integer(9));
      d.reason = s.text(10);
      out.push_back(std::move(d));
    }
    if (rc != SQLITE_DONE) return failure(read_db_, "reading the dead letters");
    return out;
  }

  Result<std::vector<dossier::DossierState>> dossierStates(const std::string& code) override {
    std::lock_guard lock(read_mutex_);
    Statement s(read_db_,
                "SELECT code, agency, procedure, received, appointment, status, resolved "
                "FROM dossiers WHERE ?1 = '' OR code = ?1 ORDER BY code");
    s.bind(1, code);
    std::vector<dossier::DossierState> out;
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
      out.push_back({s.text(0), s.text(1), s.text(2), s.text(3), s.text(4),
                     static_cast<int>(s.integer(5)), s.text(6)});
    }
    if (rc != SQLITE_DONE) return failure(read_db_, "reading the dossiers");
    return out;
  }

  const std::string& auditChain() const override { return chain_; }

  Result<std::vector<std::string>> auditChains() override {
    std::lock_guard lock(read_mutex_);
    Statement s(read_db_,
                "SELECT chain FROM audit UNION SELECT chain FROM audit_checkpoints ORDER BY 1");
    std::vector<std::string> out;
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(s.text(0));
    if (rc != SQLITE_DONE) return failure(read_db_, "reading the audit chains");
    return out;
  }

  Result<std::vector<AuditRecord>> auditRecords(const std::string& chain, std::int64_t after,
                                                std::size_t limit) override {
    std::lock_guard lock(read_mutex_);
    Statement s(read_db_, (std::string("SELECT ") + kAuditColumns +
                           " FROM audit WHERE chain = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3")
                              .c_str());
    s.bind(1, chain);
    s.bind(2, after);
    s.bind(3, static_cast<std::int64_t>(limit));
    return readAudit(s);
  }

  Result<std::vector<AuditRecord>> auditFind(const std::string& key, std::size_t limit) override {
    std::lock_guard lock(read_mutex_);
    // By dossier code through its index, in the whole chain; by message id or trace id
    // (not indexed: two more indexes cost a sixth of the journal's throughput) in the
    // newest kAuditScan records.
    auto head = headOf(read_db_, chain_);
    if (!head) return failure(read_db_, "reading the audit chain's head");
    const std::string columns = std::string("SELECT ") + kAuditColumns;
    Statement s(read_db_, (columns + " FROM audit WHERE subject = ?1 UNION ALL " + columns +
                           " FROM audit WHERE chain = ?3 AND seq > ?4 AND subject <> ?1 AND "
                           "(message_id = ?1 OR trace_id = ?1) ORDER BY 3 DESC, 1 DESC LIMIT ?2")
                              .c_str());
    s.bind(1, key);
    s.bind(2, static_cast<std::int64_t>(limit));
    s.bind(3, chain_);
    s.bind(4, head->first - kAuditScan);
    auto found = readAudit(s);
    if (found.ok()) std::reverse(found->begin(), found->end());
    return found;
  }

  Result<std::vector<AuditCheckpoint>> auditCheckpoints(const std::string& chain) override {
    std::lock_guard lock(read_mutex_);
    Statement s(read_db_,
                "SELECT chain, seq, hash, at_ms, signer, signature, cert_sha256 FROM "
                "audit_checkpoints WHERE chain = ?1 ORDER BY seq");
    s.bind(1, chain);
    std::vector<AuditCheckpoint> out;
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
      out.push_back({s.text(0), s.integer(1), s.text(2), s.integer(3), s.text(4), std::string(),
                     s.text(5), s.text(6)});
    }
    if (rc != SQLITE_DONE) return failure(read_db_, "reading the audit checkpoints");
    return out;
  }

  Result<AuditCerts> auditCerts() override {
    std::lock_guard lock(read_mutex_);
    Statement s(read_db_, "SELECT sha256, pem FROM audit_certs");
    AuditCerts out;
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.emplace(s.text(0), s.text(1));
    if (rc != SQLITE_DONE) return failure(read_db_, "reading the audit certificates");
    return out;
  }

  Result<std::pair<std::int64_t, std::string>> auditHead(const std::string& chain) override {
    std::lock_guard lock(read_mutex_);
    auto head = headOf(read_db_, chain);
    if (!head) return failure(read_db_, "reading the audit chain's head");
    return *head;
  }

  Result<std::map<std::string, RouteDepth>> depths() override {
    std::lock_guard lock(read_mutex_);
    Statement s(read_db_, "SELECT route, COUNT(*), MIN(accepted_ms) FROM journal GROUP BY route");
    std::map<std::string, RouteDepth> out;
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
      RouteDepth d;
      d.depth = static_cast<std::size_t>(s.integer(1));
      d.oldest = fromEpochMs(s.integer(2));
      out[s.text(0)] = d;
    }
    if (rc != SQLITE_DONE) return failure(read_db_, "reading the journal");
    Statement dead(read_db_, "SELECT route, COUNT(*) FROM dead_letters GROUP BY route");
    while ((rc = sqlite3_step(dead.get())) == SQLITE_ROW) {
      out[dead.text(0)].dead_letters = static_cast<std::size_t>(dead.integer(1));
    }
    if (rc != SQLITE_DONE) return failure(read_db_, "reading the dead letters");
    return out;
  }

 private:
  explicit SqliteStore(std::string path) : path_(std::move(path)) {}

  Result<std::vector<AuditRecord>> readAudit(Statement& s) {
    std::vector<AuditRecord> out;
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(auditAt(s));
    if (rc != SQLITE_DONE) return failure(read_db_, "reading the audit records");
    return out;
  }

  // The chain's last (seq, hash): its last record, else the checkpoint a pruning left,
  // else (0, ""). nullopt when the read failed.
  static std::optional<std::pair<std::int64_t, std::string>> headOf(sqlite3* db,
                                                                    const std::string& chain) {
    for (const char* sql : {"SELECT seq, hash FROM audit WHERE chain = ?1 ORDER BY seq DESC "
                            "LIMIT 1",
                            "SELECT seq, hash FROM audit_checkpoints WHERE chain = ?1 ORDER BY "
                            "seq DESC LIMIT 1"}) {
      Statement s(db, sql);
      s.bind(1, chain);
      const int rc = sqlite3_step(s.get());
      if (rc == SQLITE_ROW) return std::make_pair(s.integer(0), s.text(1));
      if (rc != SQLITE_DONE) return std::nullopt;
    }
    return std::make_pair(std::int64_t{0}, std::string());
  }

  // Writer: op.audit (if any) goes onto the chain.
  bool writeAudit(Op& op, std::int64_t now) {
    if (!op.audit) return true;
    AuditRecord& r = *op.audit;
    r.chain = chain_;
    if (r.at_ms == 0) r.at_ms = now;
    if (!head_) {
      head_ = headOf(write_db_, chain_);
      if (!head_) return false;
    }
    sealAuditRecord(r, head_->first, head_->second);
    Statement& s = *audit_insert_;
    s.reset();
    s.bind(1, r.seq);
    s.bind(2, r.chain);
    s.bind(3, r.at_ms);
    s.bind(4, r.actor);
    s.bind(5, r.action);
    s.bind(6, r.subject);
    s.bind(7, r.message_id);
    s.bind(8, r.trace_id);
    s.bind(9, r.digest);
    s.bind(10, static_cast<std::int64_t>(r.version));
    s.bind(11, r.detail);
    s.bind(12, r.prev);
    s.bind(13, r.hash);
    if (sqlite3_step(s.get()) != SQLITE_DONE) return false;
    head_ = std::make_pair(r.seq, r.hash);
    return true;
  }

  bool keepCheckpoint(Op& op) {
    const AuditCheckpoint& cp = *op.checkpoint;
    Statement find(write_db_, "SELECT hash FROM audit WHERE chain = ?1 AND seq = ?2");
    find.bind(1, cp.chain);
    find.bind(2, cp.seq);
    const int rc = sqlite3_step(find.get());
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return false;
    if (cp.chain != chain_ || rc == SQLITE_DONE || find.text(0) != cp.hash) {
      op.error =
          Error(ErrorCode::kInvalidMessage, "audit chain " + cp.chain + " has no record " +
                                                std::to_string(cp.seq) + " with hash " + cp.hash);
      return true;
    }
    // A certificate is kept once, however many checkpoints it signed.
    const std::string fingerprint = pki::sha256Hex(cp.cert);
    Statement cert(write_db_, "INSERT OR IGNORE INTO audit_certs (sha256, pem) VALUES (?, ?)");
    cert.bind(1, fingerprint);
    cert.bind(2, cp.cert);
    if (sqlite3_step(cert.get()) != SQLITE_DONE) return false;
    Statement keep(write_db_,
                   "INSERT OR IGNORE INTO audit_checkpoints (chain, seq, hash, at_ms, signer, "
                   "cert_sha256, signature) VALUES (?, ?, ?, ?, ?, ?, ?)");
    keep.bind(1, cp.chain);
    keep.bind(2, cp.seq);
    keep.bind(3, cp.hash);
    keep.bind(4, cp.at_ms);
    keep.bind(5, cp.signer);
    keep.bind(6, fingerprint);
    keep.bind(7, cp.signature);
    return sqlite3_step(keep.get()) == SQLITE_DONE;
  }

  bool pruneChain(Op& op, std::int64_t now) {
    Statement find(write_db_,
                   "SELECT c.seq FROM audit_checkpoints c JOIN audit a ON a.chain = c.chain AND "
                   "a.seq = c.seq WHERE c.chain = ?1 AND a.at_ms < ?2 ORDER BY c.seq DESC LIMIT 1");
    find.bind(1, chain_);
    find.bind(2, op.at);
    const int rc = sqlite3_step(find.get());
    if (rc == SQLITE_DONE) {
      op.seq = 0;  // nothing went: nothing to record
      return true;
    }
    if (rc != SQLITE_ROW) return false;
    const std::int64_t anchor = find.integer(0);
    Statement drop(write_db_, "DELETE FROM audit WHERE chain = ?1 AND seq <= ?2");
    drop.bind(1, chain_);
    drop.bind(2, anchor);
    if (sqlite3_step(drop.get()) != SQLITE_DONE) return false;
    op.seq = sqlite3_changes(write_db_);
    Statement older(write_db_, "DELETE FROM audit_checkpoints WHERE chain = ?1 AND seq < ?2");
    older.bind(1, chain_);
    older.bind(2, anchor);
    if (sqlite3_step(older.get()) != SQLITE_DONE) return false;
    op.audit->subject = "audit chain " + chain_;
    op.audit->detail = prunedDetail(op.seq, anchor, op.at);
    return writeAudit(op, now);
  }
  Error failure(sqlite3* db, const std::string& doing) const {
    std::string what = "store " + path_ + ": " + doing + ": " + sqlite3_errmsg(db);
    // An I/O error says which: no space left, file too large, read-only file system.
    const int code = sqlite3_extended_errcode(db);
    if (const int os = sqlite3_system_errno(db); os != 0 && (code & 0xff) == SQLITE_IOERR) {
      what += " (" + std::string(std::strerror(os)) + ")";
    } else if (code == SQLITE_IOERR_WRITE) {
      what += " (a write failed: the disk is full or the file at its size limit)";
    } else if (code == SQLITE_IOERR_FSYNC) {
      what += " (fsync failed)";
    }
    return Error(ErrorCode::kTransient, what);
  }

  std::optional<Error> init() {
    // One process at a time: a second daemon on the same store would deliver twice.
    const std::string lock_path = path_ + ".lock";
    lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ < 0) {
      return Error(ErrorCode::kInvalidConfig,
                   "store " + path_ + ": cannot open " + lock_path + ": " + std::strerror(errno));
    }
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      char pid[32] = {0};
      const ssize_t n = ::pread(lock_fd_, pid, sizeof pid - 1, 0);
      return Error(ErrorCode::kInvalidConfig,
                   "store " + path_ + " is in use by another process" +
                       (n > 0 ? " (pid " + std::string(pid, static_cast<std::size_t>(n)) + ")"
                              : std::string()));
    }
    const std::string me = std::to_string(::getpid());
    if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, me.data(), me.size(), 0) < 0) {
      // The lock holds without the pid; it only makes the message above less precise.
    }

    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path_.c_str(), &write_db_, flags, nullptr) != SQLITE_OK) {
      return Error(ErrorCode::kInvalidConfig,
                   "store " + path_ + ": cannot open: " + sqlite3_errmsg(write_db_));
    }
    char* err = nullptr;
    const std::string setup = std::string(
                                  "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                                  "PRAGMA busy_timeout=5000;") +
                              kSchema;
    if (sqlite3_exec(write_db_, setup.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string why = err ? err : sqlite3_errmsg(write_db_);
      sqlite3_free(err);
      return Error(ErrorCode::kInvalidConfig,
                   "store " + path_ + " is not a lienthong store or is damaged: " + why);
    }
    {
      Statement format(write_db_, "SELECT value FROM meta WHERE name = 'format'");
      if (sqlite3_step(format.get()) != SQLITE_ROW || format.text(0) != "lienthong-store-2") {
        return Error(
            ErrorCode::kInvalidConfig,
            "store " + path_ + " is not a lienthong store (format " + format.text(0) + ")");
      }
    }
    if (sqlite3_open_v2(path_.c_str(), &read_db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      return Error(ErrorCode::kInvalidConfig,
                   "store " + path_ + ": cannot open for reading: " + sqlite3_errmsg(read_db_));
    }
    sqlite3_busy_timeout(read_db_, 5000);
    append_ = std::make_unique<Statement>(
        write_db_,
        "INSERT INTO journal (route, accepted_ms, msg_id, correlation_id, dossier_key, "
        "content_type, headers, body, first_step) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    delivered_ = std::make_unique<Statement>(write_db_, "DELETE FROM journal WHERE seq = ?");
    dead_copy_ = std::make_unique<Statement>(
        write_db_,
        "INSERT INTO dead_letters SELECT seq, route, accepted_ms, msg_id, correlation_id, "
        "CASE WHEN dossier_key = '' THEN ?4 ELSE dossier_key END, content_type, headers, body, "
        "?2, ?3, first_step FROM journal WHERE seq = ?1");
    dead_delete_ = std::make_unique<Statement>(write_db_, "DELETE FROM journal WHERE seq = ?");
    remember_ = std::make_unique<Statement>(
        write_db_,
        "INSERT INTO idempotency (route, key, expires_ms) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (route, key) DO UPDATE SET expires_ms = excluded.expires_ms "
        "WHERE idempotency.expires_ms <= ?4");
    expire_ =
        std::make_unique<Statement>(write_db_, "DELETE FROM idempotency WHERE expires_ms <= ?");
    track_ = std::make_unique<Statement>(
        write_db_,
        "INSERT INTO dossiers (code, agency, procedure, received, appointment, status, status_at, "
        "resolved) VALUES (?1, ?2, ?3, ?4, ?5, ?6, CASE WHEN ?6 > 0 THEN ?7 ELSE '' END, "
        "CASE WHEN ?6 IN (9, 10) THEN ?7 ELSE '' END) "
        "ON CONFLICT (code) DO UPDATE SET "
        "  agency = CASE WHEN excluded.agency <> '' THEN excluded.agency ELSE dossiers.agency END, "
        "  procedure = CASE WHEN excluded.procedure <> '' THEN excluded.procedure ELSE "
        "dossiers.procedure END, "
        "  received = CASE WHEN excluded.received <> '' THEN excluded.received ELSE "
        "dossiers.received END, "
        "  appointment = CASE WHEN excluded.appointment <> '' AND (excluded.status_at >= "
        "dossiers.status_at OR dossiers.appointment = '') THEN excluded.appointment "
        "                     ELSE dossiers.appointment END, "
        "  status = CASE WHEN excluded.status > 0 AND excluded.status_at >= dossiers.status_at "
        "                THEN excluded.status ELSE dossiers.status END, "
        "  status_at = CASE WHEN excluded.status > 0 AND excluded.status_at >= dossiers.status_at "
        "                   THEN excluded.status_at ELSE dossiers.status_at END, "
        "  resolved = CASE WHEN excluded.resolved <> '' AND (dossiers.resolved = '' OR "
        "excluded.resolved < dossiers.resolved) "
        "                  THEN excluded.resolved ELSE dossiers.resolved END ");
    audit_insert_ =
        std::make_unique<Statement>(write_db_, (std::string("INSERT INTO audit (") + kAuditColumns +
                                                ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                                                   .c_str());
    for (auto* s : {append_.get(), delivered_.get(), dead_copy_.get(), dead_delete_.get(),
                    remember_.get(), expire_.get(), track_.get(), audit_insert_.get()}) {
      if (!s->get()) return failure(write_db_, "preparing statements");
    }
    startWriter();
    return std::nullopt;
  }

  // Queues the write and waits until the batch it went into is committed.
  // Upserts the idempotency key op.text of op.route; op.fresh says whether it was new
  // (or expired). False when the write failed.
  bool rememberKey(Op& op, std::int64_t now) {
    remember_->reset();
    remember_->bind(1, op.route);
    remember_->bind(2, op.text);
    remember_->bind(3, op.at);
    remember_->bind(4, now);
    const int rc = sqlite3_step(remember_->get());
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return false;
    op.fresh = sqlite3_changes(write_db_) == 1;
    return true;
  }

  std::optional<Error> commitBatch(Batch& batch) override {
    if (sqlite3_exec(write_db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return failure(write_db_, "starting a transaction");
    }
    head_.reset();  // read again in this transaction
    std::optional<Error> failed;
    for (Op* op : batch) {
      if (!apply(*op)) {
        failed = failure(write_db_, "writing");
        break;
      }
    }
    if (!failed && sqlite3_exec(write_db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      failed = failure(write_db_, "committing");
    }
    if (failed) sqlite3_exec(write_db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return failed;
  }

  // One write inside the open transaction; false (with the error) when it failed.
  bool apply(Op& op) {
    const std::int64_t now = toEpochMs(SystemClock::now());
    auto stepDone = [&](Statement& s) {
      const int rc = sqlite3_step(s.get());
      return rc == SQLITE_DONE || rc == SQLITE_ROW;
    };
    switch (op.kind) {
      case Op::kAppend: {
        op.fresh = true;
        if (!op.text.empty()) {  // with an idempotency key: only if it is new
          if (!rememberKey(op, now)) return false;
          if (!op.fresh) return true;
        }
        Statement& s = *append_;
        s.reset();
        const Message& m = *op.message;
        s.bind(1, op.route);
        s.bind(2, now);
        s.bind(3, m.id());
        s.bind(4, m.correlationId());
        s.bind(5, m.dossierKey());
        s.bind(6, m.contentType());
        s.blob(7, encodeStoredHeaders(m.headers()));
        s.blob(8, m.body());
        s.bind(9, op.step);
        if (!stepDone(s)) return false;
        op.seq = sqlite3_last_insert_rowid(write_db_);
        if (op.settles) {
          for (std::int64_t held : *op.settles) {
            delivered_->reset();
            delivered_->bind(1, held);
            if (!stepDone(*delivered_)) return false;
          }
        }
        return true;
      }
      case Op::kDelivered:
        delivered_->reset();
        delivered_->bind(1, op.seq);
        return stepDone(*delivered_) && writeAudit(op, now);
      case Op::kDeadLetter:
        dead_copy_->reset();
        dead_copy_->bind(1, op.seq);
        dead_copy_->bind(2, now);
        dead_copy_->bind(3, op.text);
        dead_copy_->bind(4, op.route);
        if (!stepDone(*dead_copy_)) return false;
        if (sqlite3_changes(write_db_) == 0) {
          op.error = Error(ErrorCode::kInternal, "store " + path_ + ": no journal entry " +
                                                     std::to_string(op.seq) + " to dead-letter");
          return true;
        }
        dead_delete_->reset();
        dead_delete_->bind(1, op.seq);
        return stepDone(*dead_delete_) && writeAudit(op, now);
      case Op::kReroute: {
        Statement s(write_db_,
                    "UPDATE journal SET route = ?2, headers = ?3, first_step = 0 WHERE seq = ?1");
        s.bind(1, op.seq);
        s.bind(2, op.route);
        s.blob(3, encodeStoredHeaders(op.message->headers()));
        if (!stepDone(s)) return false;
        if (sqlite3_changes(write_db_) == 0) {
          op.error = Error(ErrorCode::kInternal, "store " + path_ + ": no journal entry " +
                                                     std::to_string(op.seq) + " to reroute");
        }
        return true;
      }
      case Op::kRemember:
        return rememberKey(op, now);
      case Op::kReplay:
      case Op::kPurge:
        return applyOperator(op, now);
      case Op::kTakeOver:
        return true;  // one node: nothing to claim
      case Op::kTrack: {
        const DossierEvent& e = *op.event;
        track_->reset();
        track_->bind(1, e.code);
        track_->bind(2, e.agency);
        track_->bind(3, e.procedure);
        track_->bind(4, e.received);
        track_->bind(5, e.appointment);
        track_->bind(6, static_cast<std::int64_t>(e.status));
        track_->bind(7, e.at);
        return stepDone(*track_);
      }
      case Op::kAudit:
        return writeAudit(op, now);
      case Op::kCheckpoint:
        return keepCheckpoint(op);
      case Op::kPruneAudit:
        return pruneChain(op, now);
      case Op::kExpire:
        expire_->reset();
        expire_->bind(1, op.at);
        if (!stepDone(*expire_)) return false;
        op.seq = sqlite3_changes(write_db_);
        return true;
    }
    return false;
  }

  // Replay or purge one dead letter, with its record, in the writer's transaction.
  bool applyOperator(Op& op, std::int64_t now) {
    const std::int64_t seq = op.seq;
    std::string route;
    {
      Statement find(write_db_, "SELECT route FROM dead_letters WHERE seq = ?");
      find.bind(1, seq);
      const int rc = sqlite3_step(find.get());
      if (rc == SQLITE_DONE) {
        op.error = Error(ErrorCode::kInvalidMessage, "no dead letter " + std::to_string(seq));
        return true;
      }
      if (rc != SQLITE_ROW) return false;
      route = find.text(0);
    }
    if (op.kind == Op::kReplay) {
      // Back to its own route: from the step it had reached (an aggregation's output
      // resumes after the aggregate); to another route: from that route's start.
      const bool same = op.route.empty() || op.route == route;
      if (!same) route = op.route;
      Statement back(write_db_,
                     "INSERT INTO journal (route, accepted_ms, msg_id, correlation_id, "
                     "dossier_key, content_type, headers, body, first_step) SELECT ?2, "
                     "accepted_ms, msg_id, correlation_id, dossier_key, content_type, headers, "
                     "body, CASE WHEN ?3 THEN first_step ELSE 0 END FROM dead_letters "
                     "WHERE seq = ?1");
      back.bind(3, static_cast<std::int64_t>(same ? 1 : 0));
      back.bind(1, seq);
      back.bind(2, route);
      if (sqlite3_step(back.get()) != SQLITE_DONE) return false;
      op.seq = sqlite3_last_insert_rowid(write_db_);
    }
    Statement drop(write_db_, "DELETE FROM dead_letters WHERE seq = ?");
    drop.bind(1, seq);
    if (sqlite3_step(drop.get()) != SQLITE_DONE) return false;
    Statement record(
        write_db_, "INSERT INTO actions (at_ms, who, action, seq, detail) VALUES (?, ?, ?, ?, ?)");
    record.bind(1, now);
    record.bind(2, op.text);
    record.bind(3, std::string(op.kind == Op::kReplay ? "replay" : "purge"));
    record.bind(4, seq);
    record.bind(5, op.kind == Op::kReplay ? "to route " + route : std::string());
    return sqlite3_step(record.get()) == SQLITE_DONE && writeAudit(op, now);
  }

  const std::string path_;
  const std::string chain_ = "local";
  // Writer: the chain's head as this transaction has it (read at its first record).
  std::optional<std::pair<std::int64_t, std::string>> head_;
  int lock_fd_ = -1;
  sqlite3* write_db_ = nullptr;  // the writer thread's
  sqlite3* read_db_ = nullptr;   // under read_mutex_
  std::mutex read_mutex_;
  std::unique_ptr<Statement> append_, delivered_, dead_copy_, dead_delete_, remember_, expire_,
      track_, audit_insert_;
};

}  // namespace

Result<std::unique_ptr<Store>> openSqliteStore(const std::string& path) {
  return SqliteStore::open(path);
}

}  // namespace lienthong

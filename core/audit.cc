#include "core/audit.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <limits>
#include <map>
#include <memory>

#include "core/json_text.h"
#include "core/pki.h"

namespace lienthong {

const char* const kAuditGenesis =
    "0000000000000000000000000000000000000000000000000000000000000000";

namespace {

void field(std::string& out, std::string_view value) {
  out += std::to_string(value.size());
  out += ':';
  out += value;
  out += '\n';
}

std::string hex(const unsigned char* data, std::size_t n) {
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 15];
  }
  return out;
}

std::optional<std::string> unhex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = nibble(text[i]), lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

// RSA and EC sign a SHA-256 digest; keys that hash by themselves (Ed25519) take none.
const EVP_MD* digestFor(EVP_PKEY* key) {
  const int id = EVP_PKEY_get_base_id(key);
  return id == EVP_PKEY_RSA || id == EVP_PKEY_EC || id == EVP_PKEY_RSA_PSS ? EVP_sha256() : nullptr;
}

// Every certificate of a PEM text, in order.
std::vector<pki::X509Ptr> certsFromPem(const std::string& pem) {
  std::vector<pki::X509Ptr> out;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  while (bio) {
    pki::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    out.push_back(std::move(cert));
  }
  pki::openSslErrors();  // the end of the text reads as an error
  return out;
}

std::string range(std::int64_t a, std::int64_t b) {
  return a == b ? "record " + std::to_string(a)
                : "records " + std::to_string(a) + " to " + std::to_string(b);
}

// What a signer's certificate says, worked out once however many checkpoints it signed.
struct SignerFacts {
  std::string unusable;  // why it cannot be used ("" when it can)
  std::vector<pki::X509Ptr> chain;
  std::string subject;
  bool same_key = false;      // the key of one of the node's certificates
  bool same_subject = false;  // the subject of one of them (or no certificate to compare)
};

SignerFacts signerFacts(const std::string& pem, const AuditSigners& signers) {
  SignerFacts f;
  f.chain = certsFromPem(pem);
  if (f.chain.empty()) {
    f.unusable = "its certificate cannot be read";
    return f;
  }
  EVP_PKEY* key = X509_get0_pubkey(f.chain.front().get());
  if (!key) {
    f.unusable = "its certificate has no usable public key";
    return f;
  }
  f.subject = pki::certFacts(f.chain.front().get(), 0).subject;
  f.same_subject = signers.certs.empty();
  for (const std::string& node_pem : signers.certs) {
    std::vector<pki::X509Ptr> node = certsFromPem(node_pem);
    if (node.empty()) continue;
    EVP_PKEY* node_key = X509_get0_pubkey(node.front().get());
    if (node_key && EVP_PKEY_eq(node_key, key) == 1) f.same_key = true;
    if (pki::certFacts(node.front().get(), 0).subject == f.subject) f.same_subject = true;
  }
  return f;
}

// Why a checkpoint cannot be believed; "" when its signature and signer are good.
std::string checkpointFault(const AuditCheckpoint& cp, const std::string& chain_name,
                            const AuditSigners& signers, const SignerFacts& f) {
  if (cp.chain != chain_name) return "it belongs to chain " + cp.chain;
  if (!f.unusable.empty()) return f.unusable;
  X509* cert = f.chain.front().get();
  const auto signature = unhex(cp.signature);
  if (!signature || signature->empty()) return "its signature is not hex";
  EVP_PKEY* key = X509_get0_pubkey(cert);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  const std::string text = checkpointText(cp);
  const bool good =
      md && EVP_DigestVerifyInit(md.get(), nullptr, digestFor(key), nullptr, key) == 1 &&
      EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(signature->data()),
                       signature->size(), reinterpret_cast<const unsigned char*>(text.data()),
                       text.size()) == 1;
  pki::openSslErrors();  // clears what a failed verification left
  if (!good) return "its signature does not match what it vouches for";
  if (cp.signer != f.subject) {
    return "it names " + cp.signer + " as signer, its certificate " + f.subject;
  }
  // The node's key (whatever certificate it has now), or the node's identity under the
  // trust store (a certificate renewed with a new key).
  if (f.same_key) return "";
  if (signers.trust) {
    if (!f.same_subject) return "it is signed by " + f.subject + ", not by the node";
    std::vector<X509*> extra;
    for (std::size_t i = 1; i < f.chain.size(); ++i) extra.push_back(f.chain[i].get());
    auto chained = signers.trust->verifyChain(cert, extra, cp.at_ms / 1000);
    if (!chained.ok()) return "its signer is not trusted: " + chained.error().message;
    return "";
  }
  if (!signers.certs.empty()) return "it is signed by " + f.subject + ", not by the node's key";
  return "";
}

}  // namespace

std::string auditHash(const AuditRecord& r) {
  std::string text = "lienthong-audit-1\n";
  field(text, r.prev);
  field(text, r.chain);
  field(text, std::to_string(r.at_ms));
  field(text, r.actor);
  field(text, r.action);
  field(text, r.subject);
  field(text, r.message_id);
  field(text, r.trace_id);
  field(text, r.digest);
  field(text, std::to_string(r.version));
  field(text, r.detail);
  return pki::sha256Hex(text);
}

void sealAuditRecord(AuditRecord& record, std::int64_t head_seq, const std::string& head_hash) {
  record.seq = head_seq + 1;
  record.prev = head_hash.empty() ? kAuditGenesis : head_hash;
  record.hash = auditHash(record);
}

std::string checkpointText(const AuditCheckpoint& cp) {
  return "lienthong audit checkpoint\nchain=" + cp.chain + "\nseq=" + std::to_string(cp.seq) +
         "\nhash=" + cp.hash + "\nat=" + std::to_string(cp.at_ms) + "\n";
}

Result<AuditCheckpoint> signCheckpoint(const pki::SigningKey& key, const std::string& chain,
                                       std::int64_t seq, const std::string& hash,
                                       std::int64_t at_ms) {
  if (auto usable = key.checkUsable(at_ms / 1000); !usable.ok()) return usable.error();
  AuditCheckpoint cp;
  cp.chain = chain;
  cp.seq = seq;
  cp.hash = hash;
  cp.at_ms = at_ms;
  cp.signer = pki::certFacts(key.cert(), at_ms / 1000).subject;
  for (const pki::X509Ptr& c : key.chain()) cp.cert += pki::certPem(c.get());
  cp.cert_sha256 = pki::sha256Hex(cp.cert);
  if (cp.cert.empty())
    return Error(ErrorCode::kInternal, "audit checkpoint: " + pki::openSslErrors());
  const std::string text = checkpointText(cp);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::size_t length = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  if (!md || EVP_DigestSignInit(md.get(), nullptr, digestFor(key.key()), nullptr, key.key()) != 1 ||
      EVP_DigestSign(md.get(), nullptr, &length, in, text.size()) != 1) {
    return Error(ErrorCode::kInternal, "audit checkpoint: " + pki::openSslErrors());
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(signature.data()), &length, in,
                     text.size()) != 1) {
    return Error(ErrorCode::kInternal, "audit checkpoint: " + pki::openSslErrors());
  }
  cp.signature = hex(reinterpret_cast<const unsigned char*>(signature.data()), length);
  return cp;
}

AuditVerifier::AuditVerifier(std::string chain, const std::vector<AuditCheckpoint>& checkpoints,
                             const AuditSigners& signers, const AuditCerts& certs)
    : chain_(std::move(chain)) {
  report_.chain = chain_;
  report_.checkpoints = static_cast<std::int64_t>(checkpoints.size());
  std::map<std::string, SignerFacts> seen;  // by the certificate's SHA-256
  // A checkpoint that cannot be believed is a problem where it stands: the first bad
  // thing in the chain's order is told, a record or a checkpoint.
  for (const AuditCheckpoint& cp : checkpoints) {
    // Its certificate given with it, or kept once and named by its SHA-256.
    std::string pem = cp.cert;
    if (pem.empty()) {
      auto kept = certs.find(cp.cert_sha256);
      if (kept != certs.end()) pem = kept->second;
    }
    const std::string fingerprint = pki::sha256Hex(pem);
    auto facts = seen.find(fingerprint);
    if (facts == seen.end()) facts = seen.emplace(fingerprint, signerFacts(pem, signers)).first;
    std::string why = !cp.cert_sha256.empty() && cp.cert_sha256 != fingerprint
                          ? "its certificate is not the one it names"
                          : checkpointFault(cp, chain_, signers, facts->second);
    if (!why.empty()) {
      forged_.emplace(
          cp.seq, "the checkpoint of record " + std::to_string(cp.seq) + " is not valid: " + why);
    } else {
      vouches_[cp.seq] = cp.hash;
    }
  }
}

bool AuditVerifier::fail(std::int64_t seq, const char* kind, std::string text) {
  report_.problem = AuditProblem{seq, kind, std::move(text)};
  return false;
}

bool AuditVerifier::forgedUpTo(std::int64_t seq) {
  if (forged_.empty() || forged_.begin()->first > seq) return false;
  fail(forged_.begin()->first, "checkpoint", forged_.begin()->second);
  return true;
}

bool AuditVerifier::start(const AuditRecord& first) {
  started_ = true;
  report_.first = first.seq;
  if (first.seq == 1) return true;
  if (forgedUpTo(first.seq - 1)) return false;
  auto anchor = vouches_.find(first.seq - 1);
  if (anchor == vouches_.end()) {
    return fail(1, "deleted",
                range(1, first.seq - 1) + " are missing and no checkpoint anchors record " +
                    std::to_string(first.seq) + " (pruning keeps one)");
  }
  // A pruning removes the checkpoints before its anchor and says so on the chain; records
  // removed up to a checkpoint without that record were deleted.
  if (vouches_.begin()->first < anchor->first) {
    return fail(vouches_.begin()->first + 1, "deleted",
                range(vouches_.begin()->first + 1, first.seq - 1) +
                    " are missing: the checkpoint of record " +
                    std::to_string(vouches_.begin()->first) + " is still there");
  }
  anchor_ = anchor->first;
  prev_seq_ = anchor->first;
  prev_hash_ = anchor->second;
  vouched_ = anchor->first;
  return true;
}

bool AuditVerifier::add(const std::vector<AuditRecord>& page,
                        const std::vector<AuditRecord>& ahead) {
  if (report_.problem) return false;
  for (std::size_t i = 0; i < page.size(); ++i) {
    const AuditRecord& r = page[i];
    if (!started_ && !start(r)) return false;
    ++report_.records;
    report_.last = r.seq;
    const std::int64_t expected = prev_seq_ + 1;
    if (r.seq != expected) {
      return fail(expected, "deleted",
                  range(expected, r.seq - 1) + (r.seq - 1 > expected ? " are" : " is") +
                      " missing: record " + std::to_string(prev_seq_) + " is followed by " +
                      std::to_string(r.seq));
    }
    if (r.chain != chain_) {
      return fail(r.seq, "inserted",
                  "record " + std::to_string(r.seq) + " belongs to chain " + r.chain);
    }
    if (forgedUpTo(r.seq - 1)) return false;
    const bool sealed = auditHash(r) == r.hash;
    if (r.prev != prev_hash_) {
      if (!before_prev_.empty() && r.prev == before_prev_) {
        return fail(prev_seq_, "inserted",
                    "record " + std::to_string(prev_seq_) + " is not part of the chain: record " +
                        std::to_string(r.seq) + " follows record " + std::to_string(prev_seq_ - 1));
      }
      // Linked to a record stored after it (within the records read ahead).
      const AuditRecord* later = nullptr;
      for (std::size_t j = i + 1; j < page.size() && !later; ++j) {
        if (page[j].hash == r.prev) later = &page[j];
      }
      for (std::size_t j = 0; j < ahead.size() && !later; ++j) {
        if (ahead[j].hash == r.prev) later = &ahead[j];
      }
      if (later) {
        return fail(r.seq, "reordered",
                    "record " + std::to_string(r.seq) + " is out of place: it follows record " +
                        std::to_string(later->seq));
      }
      if (!sealed) {
        return fail(r.seq, "modified",
                    "record " + std::to_string(r.seq) + " was modified: its content does not " +
                        "match its hash");
      }
      return fail(r.seq, "deleted",
                  "record " + std::to_string(r.seq) + " does not follow record " +
                      std::to_string(prev_seq_) +
                      ": a record between them was deleted and the rest renumbered (or record " +
                      std::to_string(prev_seq_) + " was rewritten with its hash)");
    }
    if (!sealed) {
      return fail(
          r.seq, "modified",
          "record " + std::to_string(r.seq) + " was modified: its content does not match its hash");
    }
    if (auto cp = vouches_.find(r.seq); cp != vouches_.end()) {
      if (cp->second != r.hash) {
        return fail(
            vouched_ + 1, "rewritten",
            range(vouched_ + 1, r.seq) + " do not end in the hash the checkpoint of record " +
                std::to_string(r.seq) + " signed: a record among them was rewritten with its hash");
      }
      vouched_ = r.seq;
    }
    if (anchor_ > 0 && r.action == "audit-prune" &&
        r.detail.find("records up to " + std::to_string(anchor_) + " ") != std::string::npos) {
      prune_recorded_ = true;
    }
    before_prev_ = prev_hash_;
    prev_hash_ = r.hash;
    prev_seq_ = r.seq;
  }
  return true;
}

AuditReport AuditVerifier::finish() {
  if (report_.problem) return report_;
  if (!started_) {
    if (forgedUpTo(std::numeric_limits<std::int64_t>::max())) return report_;
    // A pruning leaves its own record: a chain with checkpoints and no record lost them.
    if (!vouches_.empty()) {
      fail(1, "deleted",
           range(1, vouches_.rbegin()->first) + " are missing: the checkpoint of record " +
               std::to_string(vouches_.rbegin()->first) + " vouches for it");
    }
    return report_;
  }
  if (anchor_ > 0 && !prune_recorded_) {
    fail(1, "deleted",
         range(1, anchor_) + " are missing and no pruning up to record " + std::to_string(anchor_) +
             " is recorded");
    return report_;
  }
  if (forgedUpTo(std::numeric_limits<std::int64_t>::max())) return report_;
  if (!vouches_.empty() && vouches_.rbegin()->first > report_.last) {
    const std::int64_t beyond = vouches_.rbegin()->first;
    fail(report_.last + 1, "deleted",
         range(report_.last + 1, beyond) + (beyond > report_.last + 1 ? " are" : " is") +
             " missing: the checkpoint of record " + std::to_string(beyond) + " vouches for it");
    return report_;
  }
  report_.last_checkpoint = vouched_;
  if (vouched_ < report_.last) {
    report_.warnings.push_back(range(vouched_ + 1, report_.last) +
                               " come after the last checkpoint: their links are checked, a "
                               "rewrite of them with their hashes would not show");
  }
  return report_;
}

AuditReport verifyAuditChain(const std::string& chain, const std::vector<AuditRecord>& records,
                             const std::vector<AuditCheckpoint>& checkpoints,
                             const AuditSigners& signers, const AuditCerts& certs) {
  AuditVerifier verifier(chain, checkpoints, signers, certs);
  verifier.add(records);
  return verifier.finish();
}

void appendAuditJson(std::string& out, const AuditRecord& r) {
  auto str = [&](const char* name, const std::string& value, bool first = false) {
    if (!first) out += ',';
    out += '"';
    out += name;
    out += "\":";
    appendJsonString(out, value);
  };
  out += "{\"seq\":" + std::to_string(r.seq);
  str("chain", r.chain);
  out += ",\"at_ms\":" + std::to_string(r.at_ms);
  str("actor", r.actor);
  str("action", r.action);
  str("subject", r.subject);
  str("message_id", r.message_id);
  str("trace_id", r.trace_id);
  str("digest", r.digest);
  out += ",\"version\":" + std::to_string(r.version);
  str("detail", r.detail);
  str("prev", r.prev);
  str("hash", r.hash);
  out += '}';
}

void appendAuditJson(std::string& out, const AuditCheckpoint& cp) {
  out += "{\"seq\":" + std::to_string(cp.seq) + ",\"chain\":";
  appendJsonString(out, cp.chain);
  out += ",\"hash\":";
  appendJsonString(out, cp.hash);
  out += ",\"at_ms\":" + std::to_string(cp.at_ms) + ",\"signer\":";
  appendJsonString(out, cp.signer);
  out += ",\"cert_sha256\":";
  appendJsonString(out, cp.cert_sha256);
  if (!cp.cert.empty()) {
    out += ",\"cert\":";
    appendJsonString(out, cp.cert);
  }
  out += ",\"signature\":";
  appendJsonString(out, cp.signature);
  out += '}';
}

}  // namespace lienthong

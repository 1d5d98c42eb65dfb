#include "core/pki.h"

#include "core/files.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <map>
#include <mutex>
#include <optional>

namespace lienthong::pki {

void PkeyFree::operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
void X509Free::operator()(X509* c) const { X509_free(c); }
void StoreFree::operator()(X509_STORE* s) const { X509_STORE_free(s); }

namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

BioPtr memBio(const std::string& bytes) {
  return BioPtr(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

std::string nameText(const X509_NAME* name) {
  BioPtr out(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(out.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long n = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string timeText(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return "?";
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string subjectOf(X509* cert) { return nameText(X509_get_subject_name(cert)); }

}  // namespace

std::string openSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (out.find(buf) != std::string::npos) continue;  // OpenSSL repeats itself
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

KeyFacts keyFacts(EVP_PKEY* key) {
  KeyFacts f;
  if (!key) return f;
  f.bits = EVP_PKEY_get_bits(key);
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
      f.kind = "rsa";
      f.text = "RSA " + std::to_string(f.bits);
      break;
    case EVP_PKEY_EC: {
      f.kind = "ec";
      char group[64] = {0};
      std::size_t len = 0;
      EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group, &len);
      const int nid = OBJ_sn2nid(group);
      const char* nist = nid != NID_undef ? EC_curve_nid2nist(nid) : nullptr;
      f.text = "EC " + std::string(nist ? nist : group);
      break;
    }
    default:
      f.kind = "other";
      f.text = std::string(OBJ_nid2sn(EVP_PKEY_get_base_id(key))) + " " + std::to_string(f.bits);
      break;
  }
  return f;
}

std::string keyTooSmall(const KeyFacts& facts, const KeyPolicy& policy) {
  if (facts.kind == "rsa" && facts.bits < policy.min_rsa_bits) {
    return "the key is " + facts.text + ", below the minimum of RSA " +
           std::to_string(policy.min_rsa_bits);
  }
  if (facts.kind == "ec" && facts.bits < policy.min_ec_bits) {
    return "the key is " + facts.text + ", below the minimum of " +
           std::to_string(policy.min_ec_bits) + " bits";
  }
  if (facts.kind != "rsa" && facts.kind != "ec") {
    return "the key is " + facts.text + ": only RSA and EC keys are accepted";
  }
  return {};
}

std::string certPem(X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio || !cert || PEM_write_bio_X509(bio.get(), cert) != 1) return "";
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

CertFacts certFacts(X509* cert, std::time_t now) {
  CertFacts f;
  f.subject = subjectOf(cert);
  f.issuer = nameText(X509_get_issuer_name(cert));
  if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
    char* hex = BN_bn2hex(bn);
    f.serial = hex ? hex : "";
    OPENSSL_free(hex);
    BN_free(bn);
  }
  f.not_before = timeText(X509_get0_notBefore(cert));
  f.not_after = timeText(X509_get0_notAfter(cert));
  ASN1_TIME* at = ASN1_TIME_set(nullptr, now);
  int days = 0;
  int secs = 0;
  if (at && ASN1_TIME_diff(&days, &secs, at, X509_get0_notAfter(cert)) == 1) {
    f.days_left = days - ((days <= 0 && secs < 0) ? 1 : 0);
  }
  ASN1_TIME_free(at);
  f.key = keyFacts(X509_get0_pubkey(cert));
  return f;
}

std::string outsideValidity(X509* cert, std::time_t now) {
  std::time_t t = now;
  const int before = X509_cmp_time(X509_get0_notBefore(cert), &t);
  const int after = X509_cmp_time(X509_get0_notAfter(cert), &t);
  if (before == 0 || after == 0) {
    return "the certificate '" + subjectOf(cert) + "' has an unreadable validity period";
  }
  if (before > 0) {
    return "the certificate '" + subjectOf(cert) + "' is not valid before " +
           timeText(X509_get0_notBefore(cert));
  }
  if (after < 0) {
    return "the certificate '" + subjectOf(cert) + "' expired on " +
           timeText(X509_get0_notAfter(cert));
  }
  return {};
}

std::string cannotSign(X509* cert) {
  if (!(X509_get_extension_flags(cert) & EXFLAG_KUSAGE)) return {};
  if (X509_get_key_usage(cert) & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) return {};
  return "the certificate '" + subjectOf(cert) +
         "' does not allow signatures (key usage without digitalSignature or nonRepudiation)";
}

std::vector<X509Ptr> readCertificates(const std::string& file, std::string& error) {
  std::vector<X509Ptr> out;
  auto text = readFile(file);
  if (!text) {
    error = "cannot read " + file;
    return out;
  }
  BioPtr bio = memBio(*text);
  while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(c);
  ERR_clear_error();  // the end of the file reads as an error
  if (out.empty()) error = file + ": no PEM certificate found";
  return out;
}

X509Ptr certFromDer(const std::string& der) {
  // Agencies send the same few certificates with every document, and decoding one costs
  // about 90 µs with OpenSSL 3.0 (its key decoders): decoded certificates are kept, by
  // their bytes, and shared by reference count. Bounded; cleared when full.
  static std::mutex mutex;
  static std::map<std::string, X509Ptr, std::less<>> cache;
  constexpr std::size_t kMax = 256;
  constexpr std::size_t kMaxBytes = 16 * 1024;  // larger ones are decoded, not kept
  const bool keep = der.size() <= kMaxBytes;
  if (keep) {
    std::lock_guard lock(mutex);
    if (auto it = cache.find(der); it != cache.end()) {
      X509_up_ref(it->second.get());
      return X509Ptr(it->second.get());
    }
  }
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    ERR_clear_error();
    return nullptr;
  }
  // Fill OpenSSL's lazily computed extension cache now, before other threads share it.
  X509_check_purpose(cert.get(), -1, 0);
  if (!keep) return cert;
  std::lock_guard lock(mutex);
  if (cache.size() >= kMax) cache.clear();
  X509_up_ref(cert.get());
  cache.emplace(der, X509Ptr(cert.get()));
  return cert;
}

// ---------------------------------------------------------------------------------------
// SigningKey

Result<std::shared_ptr<const SigningKey>> SigningKey::load(const Settings& s) {
  auto key = std::shared_ptr<SigningKey>(new SigningKey());
  key->name_ = s.name;
  key->policy_ = s.policy;
  const std::string what = "key '" + s.name + "': ";
  if (!s.pkcs12_file.empty()) {
    auto bytes = readFile(s.pkcs12_file);
    if (!bytes) return Error(ErrorCode::kInvalidConfig, what + "cannot read " + s.pkcs12_file);
    BioPtr bio = memBio(*bytes);
    PKCS12* p12 = d2i_PKCS12_bio(bio.get(), nullptr);
    if (!p12) {
      return Error(ErrorCode::kInvalidConfig,
                   what + s.pkcs12_file + " is not a PKCS#12 file: " + openSslErrors());
    }
    EVP_PKEY* pkey = nullptr;
    X509* leaf = nullptr;
    STACK_OF(X509)* ca = nullptr;
    const int ok = PKCS12_parse(p12, s.passphrase.c_str(), &pkey, &leaf, &ca);
    PKCS12_free(p12);
    if (!ok) {
      return Error(ErrorCode::kInvalidConfig, what + "cannot open " + s.pkcs12_file +
                                                  " (wrong passphrase?): " + openSslErrors());
    }
    key->key_.reset(pkey);
    if (leaf) key->chain_.emplace_back(leaf);
    for (int i = 0; ca && i < sk_X509_num(ca); ++i) key->chain_.emplace_back(sk_X509_value(ca, i));
    sk_X509_free(ca);  // the certificates now belong to chain_
  } else {
    auto bytes = readFile(s.key_file);
    if (!bytes) return Error(ErrorCode::kInvalidConfig, what + "cannot read " + s.key_file);
    BioPtr bio = memBio(*bytes);
    // A null callback with a passphrase as user data: OpenSSL uses it for encrypted PEM.
    EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr,
                                             const_cast<char*>(s.passphrase.c_str()));
    if (!pkey) {
      return Error(ErrorCode::kInvalidConfig, what + "cannot read the private key in " +
                                                  s.key_file +
                                                  " (wrong passphrase?): " + openSslErrors());
    }
    key->key_.reset(pkey);
    if (s.cert_file.empty()) {
      return Error(ErrorCode::kInvalidConfig, what + "a PEM key needs its certificate ('cert')");
    }
    std::string error;
    key->chain_ = readCertificates(s.cert_file, error);
    if (key->chain_.empty()) return Error(ErrorCode::kInvalidConfig, what + error);
  }
  if (key->chain_.empty()) {
    return Error(ErrorCode::kInvalidConfig, what + "no certificate goes with the key");
  }
  if (X509_check_private_key(key->cert(), key->key()) != 1) {
    ERR_clear_error();
    return Error(ErrorCode::kInvalidConfig,
                 what + "the private key does not belong to the certificate '" +
                     subjectOf(key->cert()) + "'");
  }
  if (std::string why = keyTooSmall(key->facts(), key->policy_); !why.empty()) {
    return Error(ErrorCode::kInvalidConfig, what + why);
  }
  return std::shared_ptr<const SigningKey>(std::move(key));
}

Result<void> SigningKey::checkUsable(std::time_t now) const {
  const std::string what = "key '" + name_ + "': ";
  if (std::string why = outsideValidity(cert(), now); !why.empty()) {
    return makeError(ErrorCode::kPermanent, what + why + "; refusing to sign");
  }
  if (std::string why = cannotSign(cert()); !why.empty()) {
    return makeError(ErrorCode::kPermanent, what + why);
  }
  if (std::string why = keyTooSmall(facts(), policy_); !why.empty()) {
    return makeError(ErrorCode::kPermanent, what + why);
  }
  return {};
}

// ---------------------------------------------------------------------------------------
// TrustStore

TrustStore::~TrustStore() = default;

Result<std::shared_ptr<const TrustStore>> TrustStore::load(const Settings& s) {
  auto t = std::shared_ptr<TrustStore>(new TrustStore());
  t->name_ = s.name;
  t->policy_ = s.policy;
  t->algorithms_ = s.algorithms;
  t->digests_ = s.digests;
  t->transforms_ = s.transforms;
  t->select_by_key_name_ = s.select_by_key_name;
  t->allow_ca_signers_ = s.allow_ca_signers;
  const std::string what = "trust store '" + s.name + "': ";
  t->store_.reset(X509_STORE_new());
  if (!s.ca_file.empty()) {
    std::string error;
    auto certs = readCertificates(s.ca_file, error);
    if (certs.empty()) return Error(ErrorCode::kInvalidConfig, what + error);
    for (auto& c : certs) {
      X509_STORE_add_cert(t->store_.get(), c.get());
      ++t->anchors_;
      t->anchor_certs_.push_back(std::move(c));
    }
  }
  if (!s.intermediates_file.empty()) {
    std::string error;
    t->intermediates_ = readCertificates(s.intermediates_file, error);
    if (t->intermediates_.empty()) return Error(ErrorCode::kInvalidConfig, what + error);
  }
  if (!s.crl_file.empty()) {
    auto text = readFile(s.crl_file);
    if (!text) return Error(ErrorCode::kInvalidConfig, what + "cannot read " + s.crl_file);
    BioPtr bio = memBio(*text);
    int n = 0;
    while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) {
      X509_STORE_add_crl(t->store_.get(), crl);
      X509_CRL_free(crl);
      ++n;
    }
    ERR_clear_error();
    if (n == 0) return Error(ErrorCode::kInvalidConfig, what + s.crl_file + ": no PEM CRL found");
    t->crl_check_ = true;
    t->crl_flags_ = X509_V_FLAG_CRL_CHECK | (s.crl_whole_chain ? X509_V_FLAG_CRL_CHECK_ALL : 0);
  }
  for (const auto& [sender, file] : s.pinned) {
    Pinned p;
    p.name = sender;
    auto text = readFile(file);
    if (!text) return Error(ErrorCode::kInvalidConfig, what + "cannot read " + file);
    BioPtr bio = memBio(*text);
    if (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
      p.cert.reset(c);
      p.key.reset(X509_get_pubkey(c));
    } else {
      ERR_clear_error();
      BioPtr again = memBio(*text);
      p.key.reset(PEM_read_bio_PUBKEY(again.get(), nullptr, nullptr, nullptr));
    }
    if (!p.key) {
      ERR_clear_error();
      return Error(ErrorCode::kInvalidConfig, what + "pinned '" + sender + "': " + file +
                                                  " holds no PEM certificate or public key");
    }
    if (std::string why = keyTooSmall(keyFacts(p.key.get()), s.policy); !why.empty()) {
      return Error(ErrorCode::kInvalidConfig, what + "pinned '" + sender + "': " + why);
    }
    t->pinned_.emplace(sender, std::move(p));
  }
  if (t->anchors_ == 0 && t->pinned_.empty()) {
    return Error(ErrorCode::kInvalidConfig,
                 what + "has neither a CA bundle ('ca') nor pinned keys ('pinned')");
  }
  return std::shared_ptr<const TrustStore>(std::move(t));
}

const TrustStore::Pinned* TrustStore::pinned(std::string_view sender) const {
  auto it = pinned_.find(sender);
  return it == pinned_.end() ? nullptr : &it->second;
}

Result<void> TrustStore::verifyChain(X509* leaf, const std::vector<X509*>& extra,
                                     std::time_t now) const {
  const std::string who = "the certificate '" + subjectOf(leaf) + "'";
  if (anchors_ == 0) {
    return makeError(ErrorCode::kUnauthorized,
                     "trust store '" + name_ + "' has no CA to check " + who + " against");
  }
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (const auto& c : intermediates_) sk_X509_push(untrusted, c.get());
  for (X509* c : extra) sk_X509_push(untrusted, c);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  std::string failure;
  if (!ctx || X509_STORE_CTX_init(ctx, store_.get(), leaf, untrusted) != 1) {
    failure = "cannot check " + who + ": " + openSslErrors();
  } else {
    X509_STORE_CTX_set_time(ctx, 0, now);
    if (crl_check_) X509_STORE_CTX_set_flags(ctx, crl_flags_);
    if (X509_verify_cert(ctx) != 1) {
      const int err = X509_STORE_CTX_get_error(ctx);
      X509* at = X509_STORE_CTX_get_current_cert(ctx);
      failure = who + " is not trusted: " + X509_verify_cert_error_string(err);
      if (at && at != leaf) failure += " (at '" + subjectOf(at) + "')";
    }
  }
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted);
  ERR_clear_error();
  if (!failure.empty()) return makeError(ErrorCode::kUnauthorized, failure);
  if (!allow_ca_signers_ && X509_check_ca(leaf) != 0) {
    return makeError(ErrorCode::kUnauthorized,
                     who + " is a CA certificate, not a signer's (allow-ca-signers)");
  }
  if (std::string why = cannotSign(leaf); !why.empty()) {
    return makeError(ErrorCode::kUnauthorized, why);
  }
  if (std::string why = keyTooSmall(keyFacts(X509_get0_pubkey(leaf)), policy_); !why.empty()) {
    return makeError(ErrorCode::kUnauthorized, who + ": " + why);
  }
  return {};
}

}  // namespace lienthong::pki

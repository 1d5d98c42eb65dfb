#pragma once
// Keys and trust: signing keys with their certificate chains, trust stores (CA bundles,
// intermediates, CRLs, pinned certificates or public keys) and the checks both need.
// Loaded once from the daemon config on the control thread; immutable and shared by
// every thread afterwards.

#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lienthong/result.h"

typedef struct evp_pkey_st EVP_PKEY;
typedef struct x509_st X509;
typedef struct x509_store_st X509_STORE;

namespace lienthong::pki {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const;
};
struct X509Free {
  void operator()(X509* c) const;
};
struct StoreFree {
  void operator()(X509_STORE* s) const;
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

// Minimum key sizes (DOMAIN.md: RSA >= 2048, ECDSA >= 256 bits).
struct KeyPolicy {
  int min_rsa_bits = 2048;
  int min_ec_bits = 256;
};

// "RSA 2048", "EC P-256"; `bits` and `kind` ("rsa", "ec", "other") for checks.
struct KeyFacts {
  std::string kind;
  int bits = 0;
  std::string text;
};
KeyFacts keyFacts(EVP_PKEY* key);
// A key below the policy: the reason; "" when it is large enough.
std::string keyTooSmall(const KeyFacts& facts, const KeyPolicy& policy);

// The lower-case hex SHA-256 of `data` (payment checksums, admin token hashes).
std::string sha256Hex(std::string_view data);

// What a certificate says, for headers, logs and `lienthongctl certs`.
struct CertFacts {
  std::string subject;  // RFC 2253, e.g. "CN=So Tu phap,O=UBND tinh Ha Giang,C=VN"
  std::string issuer;
  std::string serial;      // hex, upper case
  std::string not_before;  // "2026-01-01T00:00:00Z"
  std::string not_after;
  long days_left = 0;  // whole days from `now` to not_after (negative: expired)
  KeyFacts key;
};
CertFacts certFacts(X509* cert, std::time_t now);

// A certificate outside its validity at `now`: the reason; "" when valid.
std::string outsideValidity(X509* cert, std::time_t now);
// A certificate whose key usage forbids signatures: the reason; "" when allowed (no key
// usage extension allows everything, RFC 5280).
std::string cannotSign(X509* cert);

// A private key and the certificate chain that goes with it (leaf first).
class SigningKey {
 public:
  struct Settings {
    std::string name;
    std::string key_file;     // PEM private key (with cert_file), or
    std::string cert_file;    // PEM: the leaf certificate first, then its chain
    std::string pkcs12_file;  // a PKCS#12 bundle with key, leaf and chain
    std::string passphrase;   // read from a file or the environment by the loader
    KeyPolicy policy;
  };
  static Result<std::shared_ptr<const SigningKey>> load(const Settings& settings);

  const std::string& name() const { return name_; }
  EVP_PKEY* key() const { return key_.get(); }
  X509* cert() const { return chain_.empty() ? nullptr : chain_.front().get(); }
  const std::vector<X509Ptr>& chain() const { return chain_; }  // leaf first
  const KeyPolicy& policy() const { return policy_; }
  KeyFacts facts() const { return keyFacts(key_.get()); }
  // Refuses a certificate that is expired or not yet valid at `now`, whose key usage
  // forbids signing, or a key below the policy. Checked before every signature.
  Result<void> checkUsable(std::time_t now) const;

 private:
  std::string name_;
  PkeyPtr key_;
  std::vector<X509Ptr> chain_;
  KeyPolicy policy_;
};

// The trust material a verification may use, and nothing else.
class TrustStore {
 public:
  struct Settings {
    std::string name;
    std::string ca_file;             // trust anchors (PEM, one or more)
    std::string intermediates_file;  // untrusted certificates to build chains
    std::string crl_file;            // CRLs (PEM)
    bool crl_whole_chain = false;    // every certificate of the chain needs a CRL, not just
                                     // the signer's
    std::map<std::string, std::string> pinned;  // sender -> certificate or public key (PEM)
    KeyPolicy policy;
    std::vector<std::string> algorithms;  // allowed signature methods (names, see xmldsig.h)
    std::vector<std::string> digests;
    std::vector<std::string> transforms;
    bool select_by_key_name = false;  // the document's KeyName may choose a pinned key
    bool allow_ca_signers = false;    // a CA certificate (CA:TRUE) may be the signer's
  };
  static Result<std::shared_ptr<const TrustStore>> load(const Settings& settings);
  ~TrustStore();

  struct Pinned {
    std::string name;
    X509Ptr cert;  // null when a bare public key was pinned
    PkeyPtr key;
  };
  const std::string& name() const { return name_; }
  const Pinned* pinned(std::string_view sender) const;
  const std::map<std::string, Pinned, std::less<>>& allPinned() const { return pinned_; }
  bool hasAnchors() const { return anchors_ > 0; }
  const std::vector<X509Ptr>& anchors() const { return anchor_certs_; }
  const std::vector<X509Ptr>& intermediates() const { return intermediates_; }
  const KeyPolicy& policy() const { return policy_; }
  const std::vector<std::string>& algorithms() const { return algorithms_; }
  const std::vector<std::string>& digests() const { return digests_; }
  const std::vector<std::string>& transforms() const { return transforms_; }
  bool selectByKeyName() const { return select_by_key_name_; }

  // Builds a chain from `leaf` to an anchor at `now`, with the store's intermediates and
  // `extra` (certificates the document carries: never trusted by themselves). Checks
  // validity, CRLs when configured, the leaf's key usage and key size. Thread-safe.
  Result<void> verifyChain(X509* leaf, const std::vector<X509*>& extra, std::time_t now) const;

 private:
  TrustStore() = default;
  std::string name_;
  std::unique_ptr<X509_STORE, StoreFree> store_;
  std::size_t anchors_ = 0;
  std::vector<X509Ptr> anchor_certs_;
  std::vector<X509Ptr> intermediates_;
  bool crl_check_ = false;
  unsigned long crl_flags_ = 0;
  std::map<std::string, Pinned, std::less<>> pinned_;
  KeyPolicy policy_;
  std::vector<std::string> algorithms_;
  std::vector<std::string> digests_;
  std::vector<std::string> transforms_;
  bool select_by_key_name_ = false;
  bool allow_ca_signers_ = false;
};

// A certificate as PEM text ("" when it cannot be written).
std::string certPem(X509* cert);
// Reads every certificate of a PEM file (in order). Empty with `error` set on failure.
std::vector<X509Ptr> readCertificates(const std::string& file, std::string& error);
// Parses a certificate from DER bytes (null when they are not exactly one certificate).
// Thread-safe; recently seen certificates are shared, not decoded again.
X509Ptr certFromDer(const std::string& der);
// The pending OpenSSL errors as one line (and clears them).
std::string openSslErrors();

}  // namespace lienthong::pki

#pragma once
// XML signatures (XML-DSig) over xmlsec1 and OpenSSL: sign with a configured key, verify
// with configured trust material only. Used by the `sign` and `verify` steps and by
// `lienthongctl sign|verify`, so the command line and the routes give the same answers.

#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/pki.h"
#include "lienthong/result.h"

typedef struct _xmlDoc xmlDoc;

namespace lienthong::xmldsig {

// Once, on the main thread, after initXml(). Installs a quiet error callback (xmlsec's
// reasons are collected per call and go into the error messages instead of stderr).
void init();

// Names of the algorithms, as routes and trust stores write them.
//   signature: rsa-sha256 rsa-sha384 rsa-sha512 ecdsa-sha256 ecdsa-sha384 ecdsa-sha512
//              (and, only when a trust store lists them: rsa-sha1 ecdsa-sha1)
//   digest:    sha256 sha384 sha512 (sha1 only when listed)
//   transform: enveloped-signature c14n c14n-with-comments c14n11 c14n11-with-comments
//              exc-c14n exc-c14n-with-comments (xpath, xpath2 only when listed)
bool knownAlgorithm(const std::string& name);
bool knownDigest(const std::string& name);
bool knownTransform(const std::string& name);
// The defaults of a trust store.
const std::vector<std::string>& defaultAlgorithms();
const std::vector<std::string>& defaultDigests();
const std::vector<std::string>& defaultTransforms();

enum class Mode {
  kEnveloped,   // the Signature goes inside the document element and covers all of it
  kEnveloping,  // the document goes into a ds:Object inside a new Signature root
  kDetached,    // the Signature goes inside the document element and covers one element
                // chosen by its Id attribute
};

struct SignOptions {
  Mode mode = Mode::kEnveloped;
  std::string id;         // kDetached: the Id value of the element to sign
  std::string algorithm;  // "" = rsa-sha256 or ecdsa-sha256 from the key
  std::string digest = "sha256";
  bool key_name = true;  // put the key's name in KeyInfo/KeyName
};

// Signs a copy of `doc` with exclusive C14N; the certificate chain goes in
// KeyInfo/X509Data. Checks the key's certificate at `now` first. Thread-safe.
Result<std::string> sign(const xmlDoc* doc, const pki::SigningKey& key, const SignOptions& options,
                         std::time_t now);

struct VerifyOptions {
  std::string sender;          // selects a pinned key; "" = chain to the CA, or KeyName
  std::size_t signatures = 1;  // exactly this many ds:Signature elements
  std::string signed_xpath;    // the element the route uses; "" = the document element
  std::map<std::string, std::string> namespaces;  // prefixes for signed_xpath
};

struct Verified {
  std::string mode;                    // enveloped | enveloping | detached
  std::string algorithm;               // rsa-sha256 ...
  std::string signer;                  // the pinned entry's name, when a pinned key verified it
  std::optional<pki::CertFacts> cert;  // the signer's certificate, when there is one
  pki::KeyFacts key;
};

// Verifies the document's signature with keys from `trust` only; fails closed with the
// reason (ErrorCode::kUnauthorized). `doc` gets its Id attributes registered, nothing
// else changes. Thread-safe for different documents.
Result<Verified> verify(xmlDoc* doc, const pki::TrustStore& trust, const VerifyOptions& options,
                        std::time_t now);

// The document without its ds:Signature elements (after a verification, so that a new
// signature can be made over the same content), serialised as UTF-8.
std::string withoutSignatures(const xmlDoc* doc);

}  // namespace lienthong::xmldsig

#include "core/xmldsig.h"

#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <xmlsec/base64.h>
#include <xmlsec/errors.h>
#include <xmlsec/keys.h>
#include <xmlsec/openssl/app.h>
#include <xmlsec/openssl/crypto.h>
#include <xmlsec/openssl/evp.h>
#include <xmlsec/openssl/x509.h>
#include <xmlsec/templates.h>
#include <xmlsec/transforms.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <mutex>

#include "core/xml_document.h"
#include "lienthong/log.h"

namespace lienthong::xmldsig {

namespace {

constexpr const char* kDsigNs = "http://www.w3.org/2000/09/xmldsig#";

using KlassFn = xmlSecTransformId (*)();

struct Named {
  const char* name;
  KlassFn klass;
};

// The names routes and trust stores use, and the xmlsec transform each stands for.
const Named kSignatureMethods[] = {
    {"rsa-sha256", xmlSecOpenSSLTransformRsaSha256GetKlass},
    {"rsa-sha384", xmlSecOpenSSLTransformRsaSha384GetKlass},
    {"rsa-sha512", xmlSecOpenSSLTransformRsaSha512GetKlass},
    {"ecdsa-sha256", xmlSecOpenSSLTransformEcdsaSha256GetKlass},
    {"ecdsa-sha384", xmlSecOpenSSLTransformEcdsaSha384GetKlass},
    {"ecdsa-sha512", xmlSecOpenSSLTransformEcdsaSha512GetKlass},
    {"rsa-sha1", xmlSecOpenSSLTransformRsaSha1GetKlass},
    {"ecdsa-sha1", xmlSecOpenSSLTransformEcdsaSha1GetKlass},
};
const Named kDigests[] = {
    {"sha256", xmlSecOpenSSLTransformSha256GetKlass},
    {"sha384", xmlSecOpenSSLTransformSha384GetKlass},
    {"sha512", xmlSecOpenSSLTransformSha512GetKlass},
    {"sha1", xmlSecOpenSSLTransformSha1GetKlass},
};
const Named kTransforms[] = {
    {"enveloped-signature", xmlSecTransformEnvelopedGetKlass},
    {"c14n", xmlSecTransformInclC14NGetKlass},
    {"c14n-with-comments", xmlSecTransformInclC14NWithCommentsGetKlass},
    {"c14n11", xmlSecTransformInclC14N11GetKlass},
    {"c14n11-with-comments", xmlSecTransformInclC14N11WithCommentsGetKlass},
    {"exc-c14n", xmlSecTransformExclC14NGetKlass},
    {"exc-c14n-with-comments", xmlSecTransformExclC14NWithCommentsGetKlass},
    {"xpath", xmlSecTransformXPathGetKlass},
    {"xpath2", xmlSecTransformXPath2GetKlass},
};
// Canonicalization methods of SignedInfo come from the same allowed transforms.
bool isC14n(std::string_view name) { return name.find("c14n") != std::string_view::npos; }

template <std::size_t N>
const Named* byName(const Named (&table)[N], std::string_view name) {
  for (const Named& n : table) {
    if (name == n.name) return &n;
  }
  return nullptr;
}

template <std::size_t N>
const Named* byHref(const Named (&table)[N], std::string_view href) {
  for (const Named& n : table) {
    const xmlChar* h = n.klass()->href;
    if (h && href == reinterpret_cast<const char*>(h)) return &n;
  }
  return nullptr;
}

const xmlChar* X(const char* s) { return reinterpret_cast<const xmlChar*>(s); }

std::string str(const xmlChar* s) { return s ? reinterpret_cast<const char*>(s) : ""; }

std::string attr(xmlNodePtr node, const char* name) {
  xmlChar* v = xmlGetProp(node, X(name));
  std::string out = str(v);
  xmlFree(v);
  return out;
}

bool isDsig(xmlNodePtr node, const char* local) {
  return node && node->type == XML_ELEMENT_NODE && node->ns &&
         std::strcmp(reinterpret_cast<const char*>(node->ns->href), kDsigNs) == 0 &&
         std::strcmp(reinterpret_cast<const char*>(node->name), local) == 0;
}

std::vector<xmlNodePtr> dsigChildren(xmlNodePtr parent, const char* local) {
  std::vector<xmlNodePtr> out;
  for (xmlNodePtr c = parent ? parent->children : nullptr; c; c = c->next) {
    if (isDsig(c, local)) out.push_back(c);
  }
  return out;
}

void collect(xmlNodePtr node, const std::function<void(xmlNodePtr)>& f) {
  for (xmlNodePtr c = node; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    f(c);
    collect(c->children, f);
  }
}

bool within(xmlNodePtr node, xmlNodePtr ancestor) {
  for (xmlNodePtr n = node; n; n = n->parent) {
    if (n == ancestor) return true;
  }
  return false;
}

std::string where(xmlNodePtr node) {
  std::string name = node->ns && node->ns->prefix ? str(node->ns->prefix) + ":" + str(node->name)
                                                  : str(node->name);
  return "<" + name + "> at line " + std::to_string(xmlGetLineNo(node));
}

// xmlsec reports through a global callback: each call collects its own reasons.
thread_local std::vector<std::string>* t_reasons = nullptr;

void quietErrors(const char* /*file*/, int /*line*/, const char* func, const char* /*object*/,
                 const char* subject, int reason, const char* msg) {
  if (!t_reasons) return;
  std::string line = subject ? subject : (func ? func : "xmlsec");
  // The reason's text is found by its code in xmlsec's table.
  for (xmlSecSize i = 0; const char* why = xmlSecErrorsGetMsg(i); ++i) {
    if (xmlSecErrorsGetCode(i) == reason) {
      line += std::string(": ") + why;
      break;
    }
  }
  if (msg && *msg) line += std::string(" (") + msg + ")";
  if (t_reasons->size() < 8) t_reasons->push_back(std::move(line));
}

struct Reasons {
  std::vector<std::string> lines;
  Reasons() { t_reasons = &lines; }
  ~Reasons() { t_reasons = nullptr; }
  std::string text() const {
    std::string out;
    for (const auto& l : lines) out += (out.empty() ? "" : "; ") + l;
    return out.empty() ? "no detail" : out;
  }
};

struct DsigCtxFree {
  void operator()(xmlSecDSigCtx* c) const { xmlSecDSigCtxDestroy(c); }  // frees signKey
};
using DsigCtxPtr = std::unique_ptr<xmlSecDSigCtx, DsigCtxFree>;
struct DocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
using DocPtr = std::unique_ptr<xmlDoc, DocFree>;

// A fresh xmlsec key over the (shared, reference-counted) OpenSSL objects.
xmlSecKeyPtr xmlsecKey(EVP_PKEY* pkey, const std::vector<X509*>& certs, X509* leaf,
                       const std::string& name) {
  xmlSecKeyPtr key = xmlSecKeyCreate();
  if (!key) return nullptr;
  EVP_PKEY_up_ref(pkey);
  xmlSecKeyDataPtr value = xmlSecOpenSSLEvpKeyAdopt(pkey);
  if (!value || xmlSecKeySetValue(key, value) < 0) {
    if (value) {
      xmlSecKeyDataDestroy(value);
    } else {
      EVP_PKEY_free(pkey);
    }
    xmlSecKeyDestroy(key);
    return nullptr;
  }
  if (!name.empty()) xmlSecKeySetName(key, X(name.c_str()));
  if (leaf || !certs.empty()) {
    xmlSecKeyDataPtr x509 = xmlSecKeyEnsureData(key, xmlSecOpenSSLKeyDataX509Id);
    if (!x509) {
      xmlSecKeyDestroy(key);
      return nullptr;
    }
    if (leaf) {
      X509_up_ref(leaf);
      if (xmlSecOpenSSLKeyDataX509AdoptKeyCert(x509, leaf) < 0) {
        X509_free(leaf);
        xmlSecKeyDestroy(key);
        return nullptr;
      }
    }
    for (X509* c : certs) {
      X509_up_ref(c);
      if (xmlSecOpenSSLKeyDataX509AdoptCert(x509, c) < 0) {
        X509_free(c);
        xmlSecKeyDestroy(key);
        return nullptr;
      }
    }
  }
  return key;
}

const xmlChar* kIdAttrs[] = {X("Id"), X("ID"), X("id"), nullptr};

// Elements with an attribute named Id, ID or id in any namespace (xml:id included) of
// this value: a reference must find exactly one, whichever way the library resolves it.
std::vector<xmlNodePtr> elementsWithId(xmlNodePtr root, const std::string& id) {
  std::vector<xmlNodePtr> out;
  collect(root, [&](xmlNodePtr n) {
    for (xmlAttrPtr a = n->properties; a; a = a->next) {
      const std::string name = str(a->name);
      if (name != "Id" && name != "ID" && name != "id") continue;
      xmlChar* v = xmlNodeListGetString(n->doc, a->children, 1);
      const bool match = v && id == reinterpret_cast<const char*>(v);
      xmlFree(v);
      if (match) {
        out.push_back(n);
        return;
      }
    }
  });
  return out;
}

// Namespaces of signature markup: XML-DSig 1.0 and 1.1, the XPath Filter 2.0 and
// exclusive C14N parameters, XAdES qualifying properties.
bool signatureMarkup(xmlNodePtr n) {
  static constexpr const char* kMarkup[] = {
      kDsigNs,
      "http://www.w3.org/2009/xmldsig11#",
      "http://www.w3.org/2002/06/xmldsig-filter2",
      "http://www.w3.org/2001/10/xml-exc-c14n#",
      "http://uri.etsi.org/01903/v1.3.2#",
      "http://uri.etsi.org/01903/v1.4.1#",
  };
  if (!n->ns) return false;
  const char* href = reinterpret_cast<const char*>(n->ns->href);
  for (const char* m : kMarkup) {
    if (std::strcmp(href, m) == 0) return true;
  }
  return false;
}

// An Id is an NCName: no spaces (id() would read a list), no quotes or parentheses
// (which an XPointer would read as an expression).
bool validId(const std::string& id) {
  return !id.empty() && xmlValidateNCName(X(id.c_str()), 0) == 0;
}

}  // namespace

void init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (xmlSecInit() < 0 || xmlSecCheckVersion() != 1 || xmlSecOpenSSLAppInit(nullptr) < 0 ||
        xmlSecOpenSSLInit() < 0) {
      log::error("xmldsig", "the XML Security Library did not initialise");
    }
    xmlSecErrorsSetCallback(quietErrors);  // after xmlSecInit, which installs the default
  });
}

bool knownAlgorithm(const std::string& name) { return byName(kSignatureMethods, name); }
bool knownDigest(const std::string& name) { return byName(kDigests, name); }
bool knownTransform(const std::string& name) { return byName(kTransforms, name); }

const std::vector<std::string>& defaultAlgorithms() {
  static const std::vector<std::string> v = {"rsa-sha256",   "rsa-sha384",   "rsa-sha512",
                                             "ecdsa-sha256", "ecdsa-sha384", "ecdsa-sha512"};
  return v;
}
const std::vector<std::string>& defaultDigests() {
  static const std::vector<std::string> v = {"sha256", "sha384", "sha512"};
  return v;
}
const std::vector<std::string>& defaultTransforms() {
  static const std::vector<std::string> v = {
      "enveloped-signature",  "c14n",     "c14n-with-comments",    "c14n11",
      "c14n11-with-comments", "exc-c14n", "exc-c14n-with-comments"};
  return v;
}

// ---------------------------------------------------------------------------------------
// Signing

Result<std::string> sign(const xmlDoc* source, const pki::SigningKey& key,
                         const SignOptions& options, std::time_t now) {
  if (Result<void> usable = key.checkUsable(now); !usable.ok()) return usable.error();
  const pki::KeyFacts facts = key.facts();
  std::string algorithm = options.algorithm;
  if (algorithm.empty()) algorithm = facts.kind == "ec" ? "ecdsa-sha256" : "rsa-sha256";
  const Named* method = byName(kSignatureMethods, algorithm);
  const Named* digest = byName(kDigests, options.digest);
  if (!method || algorithm.ends_with("sha1")) {
    return Error(ErrorCode::kInvalidConfig,
                 "sign: unknown or refused algorithm '" + algorithm + "'");
  }
  if (!digest || options.digest == "sha1") {
    return Error(ErrorCode::kInvalidConfig,
                 "sign: unknown or refused digest '" + options.digest + "'");
  }
  if (algorithm.starts_with("ecdsa") != (facts.kind == "ec")) {
    return Error(ErrorCode::kInvalidConfig,
                 "sign: algorithm " + algorithm + " does not fit the key (" + facts.text + ")");
  }
  Reasons reasons;
  DocPtr doc(xmlCopyDoc(const_cast<xmlDoc*>(source), 1));
  xmlNodePtr root = doc ? xmlDocGetRootElement(doc.get()) : nullptr;
  if (!root) return Error(ErrorCode::kInvalidMessage, "sign: the body has no document element");

  xmlNodePtr sig = nullptr;
  xmlNodePtr ref = nullptr;
  if (options.mode == Mode::kEnveloping) {
    DocPtr outer(xmlNewDoc(X("1.0")));
    sig = xmlSecTmplSignatureCreateNsPref(outer.get(), xmlSecTransformExclC14NId, method->klass(),
                                          nullptr, X("ds"));
    if (!sig) return Error(ErrorCode::kInternal, "sign: " + reasons.text());
    xmlDocSetRootElement(outer.get(), sig);
    xmlNodePtr object = xmlSecTmplSignatureAddObject(sig, X("object"), nullptr, nullptr);
    if (!object) return Error(ErrorCode::kInternal, "sign: " + reasons.text());
    xmlAddChild(object, xmlDocCopyNode(root, outer.get(), 1));
    ref = xmlSecTmplSignatureAddReference(sig, digest->klass(), nullptr, X("#object"), nullptr);
    if (ref) xmlSecTmplReferenceAddTransform(ref, xmlSecTransformExclC14NId);
    doc = std::move(outer);
  } else {
    sig = xmlSecTmplSignatureCreateNsPref(doc.get(), xmlSecTransformExclC14NId, method->klass(),
                                          nullptr, X("ds"));
    if (!sig) return Error(ErrorCode::kInternal, "sign: " + reasons.text());
    xmlAddChild(root, sig);
    std::string uri;
    bool enveloped = true;
    if (options.mode == Mode::kDetached) {
      if (!validId(options.id)) {
        return Error(ErrorCode::kInvalidMessage,
                     "sign: Id '" + options.id + "' is not a valid Id (an XML NCName)");
      }
      auto targets = elementsWithId(root, options.id);
      if (targets.size() != 1) {
        return Error(ErrorCode::kInvalidMessage, "sign: " + std::to_string(targets.size()) +
                                                     " element(s) have Id '" + options.id +
                                                     "' (exactly one must)");
      }
      xmlSecAddIDs(doc.get(), root, kIdAttrs);
      uri = "#" + options.id;
      enveloped = targets[0] == root;  // the signature sits inside what it signs
    }
    ref = xmlSecTmplSignatureAddReference(sig, digest->klass(), nullptr, X(uri.c_str()), nullptr);
    if (ref && enveloped) xmlSecTmplReferenceAddTransform(ref, xmlSecTransformEnvelopedId);
    if (ref) xmlSecTmplReferenceAddTransform(ref, xmlSecTransformExclC14NId);
  }
  xmlNodePtr key_info = xmlSecTmplSignatureEnsureKeyInfo(sig, nullptr);
  if (!ref || !key_info ||
      (options.key_name && !xmlSecTmplKeyInfoAddKeyName(key_info, X(key.name().c_str()))) ||
      !xmlSecTmplKeyInfoAddX509Data(key_info)) {
    return Error(ErrorCode::kInternal, "sign: cannot build the signature: " + reasons.text());
  }

  DsigCtxPtr ctx(xmlSecDSigCtxCreate(nullptr));
  if (!ctx) return Error(ErrorCode::kInternal, "sign: " + reasons.text());
  std::vector<X509*> chain;
  for (const auto& c : key.chain()) chain.push_back(c.get());
  ctx->signKey = xmlsecKey(key.key(), chain, key.cert(), key.name());
  if (!ctx->signKey) return Error(ErrorCode::kInternal, "sign: " + reasons.text());
  if (xmlSecDSigCtxSign(ctx.get(), sig) < 0) {
    return Error(ErrorCode::kInternal, "sign: " + reasons.text());
  }
  return serializeXml(doc.get());
}

// ---------------------------------------------------------------------------------------
// Verification

namespace {

Error refused(std::string why) { return Error(ErrorCode::kUnauthorized, "signature: " + why); }

template <std::size_t N>
std::optional<Error> allowedHref(const Named (&table)[N], const std::vector<std::string>& allowed,
                                 const std::string& href, const char* what,
                                 bool c14n_only = false) {
  const Named* n = byHref(table, href);
  if (!n || std::find(allowed.begin(), allowed.end(), n->name) == allowed.end() ||
      (c14n_only && !isC14n(n->name))) {
    std::string list;
    for (const auto& a : allowed) {
      if (!c14n_only || isC14n(a)) list += (list.empty() ? "" : ", ") + a;
    }
    return refused(std::string(what) + " " + href + " is not allowed (allowed: " + list + ")");
  }
  return std::nullopt;
}

// The algorithms and reference URIs of one Signature, against the trust store's lists,
// before any cryptography runs.
std::optional<Error> checkSignedInfo(xmlNodePtr sig, const pki::TrustStore& trust,
                                     std::vector<std::string>& uris, std::string& algorithm) {
  auto infos = dsigChildren(sig, "SignedInfo");
  if (infos.size() != 1) return refused("a Signature needs exactly one SignedInfo");
  xmlNodePtr info = infos[0];
  auto c14n = dsigChildren(info, "CanonicalizationMethod");
  auto method = dsigChildren(info, "SignatureMethod");
  if (c14n.size() != 1 || method.size() != 1) {
    return refused("SignedInfo needs one CanonicalizationMethod and one SignatureMethod");
  }
  if (auto e = allowedHref(kTransforms, trust.transforms(), attr(c14n[0], "Algorithm"),
                           "canonicalization", true)) {
    return e;
  }
  const std::string sm = attr(method[0], "Algorithm");
  if (auto e = allowedHref(kSignatureMethods, trust.algorithms(), sm, "signature method")) return e;
  algorithm = byHref(kSignatureMethods, sm)->name;
  auto refs = dsigChildren(info, "Reference");
  if (refs.empty()) return refused("SignedInfo has no Reference");
  for (xmlNodePtr r : refs) {
    xmlChar* u = xmlGetProp(r, X("URI"));
    if (!u) return refused("a Reference without URI is not allowed (it would point outside)");
    std::string uri = str(u);
    xmlFree(u);
    if (!uri.empty() && (uri[0] != '#' || !validId(uri.substr(1)))) {
      return refused("reference URI '" + uri +
                     "' is not allowed: only \"\" (the whole document) or #Id of an element");
    }
    uris.push_back(uri);
    for (xmlNodePtr ts : dsigChildren(r, "Transforms")) {
      for (xmlNodePtr t : dsigChildren(ts, "Transform")) {
        if (auto e =
                allowedHref(kTransforms, trust.transforms(), attr(t, "Algorithm"), "transform")) {
          return e;
        }
      }
    }
    auto dm = dsigChildren(r, "DigestMethod");
    if (dm.size() != 1) return refused("a Reference needs one DigestMethod");
    if (auto e = allowedHref(kDigests, trust.digests(), attr(dm[0], "Algorithm"), "digest")) {
      return e;
    }
  }
  return std::nullopt;
}

struct ChosenKey {
  EVP_PKEY* key = nullptr;
  std::string signer;
  std::optional<pki::CertFacts> cert;
};

std::string decodeBase64(xmlNodePtr node) {
  xmlChar* text = xmlNodeGetContent(node);
  if (!text) return {};
  xmlSecSize written = 0;
  std::string out;
  if (xmlSecBase64DecodeInPlace(text, &written) >= 0) {
    out.assign(reinterpret_cast<const char*>(text), written);
  }
  xmlFree(text);
  return out;
}

// The key to verify with: a pinned key (by the route's sender, or by the document's
// KeyName among the pinned ones), or the leaf of the document's certificates once its
// chain reaches one of the store's anchors. Never a key the document brings alone.
Result<ChosenKey> chooseKey(xmlNodePtr sig, const pki::TrustStore& trust,
                            const VerifyOptions& options, std::time_t now,
                            std::vector<pki::X509Ptr>& holder) {
  ChosenKey chosen;
  auto usePinned = [&](const pki::TrustStore::Pinned& p) -> Result<ChosenKey> {
    if (p.cert) {
      if (std::string why = pki::outsideValidity(p.cert.get(), now); !why.empty()) {
        return refused("pinned '" + p.name + "': " + why);
      }
      chosen.cert = pki::certFacts(p.cert.get(), now);
    }
    chosen.key = p.key.get();
    chosen.signer = p.name;
    return chosen;
  };
  if (!options.sender.empty()) {
    const auto* p = trust.pinned(options.sender);
    if (!p) {
      return refused("no pinned key for sender '" + options.sender + "' in trust store '" +
                     trust.name() + "'");
    }
    return usePinned(*p);
  }
  std::vector<xmlNodePtr> cert_nodes;
  std::string key_name;
  for (xmlNodePtr ki : dsigChildren(sig, "KeyInfo")) {
    for (xmlNodePtr kn : dsigChildren(ki, "KeyName")) {
      xmlChar* t = xmlNodeGetContent(kn);
      key_name = str(t);
      xmlFree(t);
      key_name.erase(0, key_name.find_first_not_of(" \t\r\n"));
      key_name.erase(key_name.find_last_not_of(" \t\r\n") + 1);
    }
    for (xmlNodePtr xd : dsigChildren(ki, "X509Data")) {
      for (xmlNodePtr c : dsigChildren(xd, "X509Certificate")) cert_nodes.push_back(c);
    }
  }
  if (!cert_nodes.empty() && trust.hasAnchors()) {
    for (xmlNodePtr n : cert_nodes) {
      pki::X509Ptr c = pki::certFromDer(decodeBase64(n));
      if (!c) return refused("an X509Certificate in KeyInfo does not parse (" + where(n) + ")");
      holder.push_back(std::move(c));
    }
    // The leaf is the certificate that issued none of the others.
    std::vector<X509*> leaves;
    for (const auto& c : holder) {
      bool issuer = false;
      for (const auto& other : holder) {
        if (other != c && X509_check_issued(c.get(), other.get()) == X509_V_OK) issuer = true;
      }
      if (!issuer) leaves.push_back(c.get());
    }
    if (leaves.size() != 1) {
      return refused("the certificates in KeyInfo do not form one chain (" +
                     std::to_string(leaves.size()) + " candidate signers)");
    }
    std::vector<X509*> extra;
    for (const auto& c : holder) {
      if (c.get() != leaves[0]) extra.push_back(c.get());
    }
    Result<void> chain = trust.verifyChain(leaves[0], extra, now);
    if (!chain.ok()) return refused(chain.error().message);
    chosen.key = X509_get0_pubkey(leaves[0]);
    chosen.cert = pki::certFacts(leaves[0], now);
    return chosen;
  }
  // A pinned key without a sender: the store's only one, or, when the store allows it, the
  // one the document's KeyName names (the document then chooses among trusted keys).
  const auto& pinned = trust.allPinned();
  if (!pinned.empty() && cert_nodes.empty()) {
    if (pinned.size() == 1 && (key_name.empty() || key_name == pinned.begin()->first)) {
      return usePinned(pinned.begin()->second);
    }
    if (pinned.size() > 1 && !trust.selectByKeyName()) {
      return refused("trust store '" + trust.name() + "' pins " + std::to_string(pinned.size()) +
                     " keys: the route must name the sender (verify: sender), or the store "
                     "allow the document's KeyName to choose (select-by-key-name)");
    }
    if (const auto* p = trust.pinned(key_name)) return usePinned(*p);
  }
  std::string why = "no trusted key for this signature: ";
  if (!cert_nodes.empty()) {
    why += "the document carries certificates, but trust store '" + trust.name() +
           "' has no CA to check them against";
  } else if (!key_name.empty()) {
    why += "KeyName '" + key_name + "' is not pinned in trust store '" + trust.name() + "'";
  } else {
    why += "no certificate or KeyName, and the route names no sender";
  }
  return refused(why);
}

}  // namespace

Result<Verified> verify(xmlDoc* doc, const pki::TrustStore& trust, const VerifyOptions& options,
                        std::time_t now) {
  xmlNodePtr root = xmlDocGetRootElement(doc);
  if (!root) return refused("the body has no document element");
  std::vector<xmlNodePtr> sigs;
  collect(root, [&](xmlNodePtr n) {
    if (isDsig(n, "Signature")) sigs.push_back(n);
  });
  if (sigs.empty()) return refused("the document is not signed");
  if (sigs.size() != options.signatures) {
    return refused("the document has " + std::to_string(sigs.size()) +
                   " signatures; the route accepts " + std::to_string(options.signatures));
  }

  // The element the route uses.
  xmlNodePtr target = root;
  if (!options.signed_xpath.empty()) {
    xmlXPathContextPtr xc = xmlXPathNewContext(doc);
    for (const auto& [prefix, uri] : options.namespaces) {
      xmlXPathRegisterNs(xc, X(prefix.c_str()), X(uri.c_str()));
    }
    xmlXPathObjectPtr r = xmlXPathEvalExpression(X(options.signed_xpath.c_str()), xc);
    const int n = r && r->nodesetval ? r->nodesetval->nodeNr : 0;
    xmlNodePtr found = n == 1 ? r->nodesetval->nodeTab[0] : nullptr;
    xmlXPathFreeObject(r);
    xmlXPathFreeContext(xc);
    if (!found || found->type != XML_ELEMENT_NODE) {
      return refused("the signed element " + options.signed_xpath + " selects " +
                     std::to_string(n) + " node(s); exactly one element must be signed");
    }
    target = found;
  }

  Verified out;
  for (xmlNodePtr sig : sigs) {
    std::vector<std::string> uris;
    if (auto e = checkSignedInfo(sig, trust, uris, out.algorithm)) return *e;
    std::vector<pki::X509Ptr> holder;
    auto chosen = chooseKey(sig, trust, options, now, holder);
    if (!chosen.ok()) return chosen.error();
    const pki::KeyFacts facts = pki::keyFacts(chosen->key);
    if (std::string why = pki::keyTooSmall(facts, trust.policy()); !why.empty()) {
      return refused(why);
    }
    if (out.algorithm.starts_with("ecdsa") != (facts.kind == "ec")) {
      return refused("the trusted key" +
                     (chosen->signer.empty() ? std::string() : " '" + chosen->signer + "'") + " (" +
                     facts.text + ") cannot have made a " + out.algorithm + " signature");
    }

    // Every reference must resolve inside this document to one element, and one of them
    // must cover the element the route uses: a signature over something else (a wrapped
    // copy, a sibling) proves nothing about it.
    const bool enveloping = sig == root;
    bool covers = false;
    std::vector<xmlNodePtr> referenced;
    for (const std::string& uri : uris) {
      xmlNodePtr node = root;
      if (!uri.empty()) {
        auto found = elementsWithId(root, uri.substr(1));
        if (found.size() != 1) {
          return refused("reference '" + uri + "' matches " + std::to_string(found.size()) +
                         " elements (an Id must be unique)");
        }
        node = found[0];
      }
      referenced.push_back(node);
      if (enveloping) {
        if (!isDsig(node, "Object") || node->parent != sig) {
          return refused("reference '" + uri +
                         "' of an enveloping signature must point to one "
                         "of its ds:Object elements, not " +
                         where(node));
        }
        // The route uses what the Object carries, or the element `signed` names in it.
        xmlNodePtr used = options.signed_xpath.empty() ? node : target;
        if (within(used, node)) covers = true;
      } else if (within(target, node) && !within(target, sig)) {
        covers = true;
        out.mode = node == root ? "enveloped" : "detached";
      }
    }
    if (enveloping) out.mode = "enveloping";
    // Inside a Signature only signature markup may stand, and an Object only if it is or
    // holds what a reference signs: anything else is unsigned content that a later step
    // could take for the signed one.
    std::string intruder;
    auto isReferenced = [&](xmlNodePtr n) {
      return std::find(referenced.begin(), referenced.end(), n) != referenced.end();
    };
    collect(sig->children, [&](xmlNodePtr n) {
      if (!intruder.empty()) return;
      for (xmlNodePtr a = n; a && a != sig; a = a->parent) {
        if (isReferenced(a)) return;  // signed content
      }
      if (isDsig(n, "Object")) {
        bool holds = false;
        for (xmlNodePtr r : referenced) holds = holds || within(r, n);
        if (!holds) intruder = "an unsigned ds:Object (" + where(n) + ")";
        return;
      }
      if (!signatureMarkup(n)) intruder = where(n);
    });
    if (!intruder.empty()) {
      return refused("unsigned content inside the signature: " + intruder);
    }
    if (!covers) {
      return refused("no reference covers the element the route uses (" + where(target) +
                     "); the signature signs something else");
    }

    xmlSecAddIDs(doc, root, kIdAttrs);  // before the reasons: unrelated duplicates are no reason
    Reasons reasons;
    DsigCtxPtr ctx(xmlSecDSigCtxCreate(nullptr));  // no keys manager: no key from the document
    if (!ctx) return Error(ErrorCode::kInternal, "signature: " + reasons.text());
    ctx->flags |= XMLSEC_DSIG_FLAGS_IGNORE_MANIFESTS;
    ctx->enabledReferenceUris = xmlSecTransformUriTypeEmpty | xmlSecTransformUriTypeSameDocument;
    for (const auto& a : trust.algorithms()) {
      if (const Named* n = byName(kSignatureMethods, a)) {
        xmlSecDSigCtxEnableSignatureTransform(ctx.get(), n->klass());
      }
    }
    for (const auto& t : trust.transforms()) {
      if (const Named* n = byName(kTransforms, t)) {
        if (isC14n(t)) xmlSecDSigCtxEnableSignatureTransform(ctx.get(), n->klass());
        xmlSecDSigCtxEnableReferenceTransform(ctx.get(), n->klass());
      }
    }
    for (const auto& d : trust.digests()) {
      if (const Named* n = byName(kDigests, d)) {
        xmlSecDSigCtxEnableReferenceTransform(ctx.get(), n->klass());
      }
    }
    ctx->signKey = xmlsecKey(chosen->key, {}, nullptr, chosen->signer);
    if (!ctx->signKey) return Error(ErrorCode::kInternal, "signature: " + reasons.text());
    if (xmlSecDSigCtxVerify(ctx.get(), sig) < 0) {
      return refused("cannot be checked: " + reasons.text());
    }
    if (ctx->status != xmlSecDSigStatusSucceeded) {
      xmlSecSize n = xmlSecPtrListGetSize(&ctx->signedInfoReferences);
      for (xmlSecSize i = 0; i < n; ++i) {
        auto* r = static_cast<xmlSecDSigReferenceCtxPtr>(
            xmlSecPtrListGetItem(&ctx->signedInfoReferences, i));
        if (r && r->status != xmlSecDSigStatusSucceeded) {
          return refused("the digest of reference '" + str(r->uri) +
                         "' does not match: the signed content was changed");
        }
      }
      return refused("the signature value does not verify with the trusted key (" +
                     pki::keyFacts(chosen->key).text + ")");
    }
    out.signer = chosen->signer;
    out.cert = chosen->cert;
    out.key = pki::keyFacts(chosen->key);
  }
  return out;
}

std::string withoutSignatures(const xmlDoc* source) {
  DocPtr doc(xmlCopyDoc(const_cast<xmlDoc*>(source), 1));
  xmlNodePtr root = xmlDocGetRootElement(doc.get());
  if (isDsig(root, "Signature")) {
    // Enveloping: the signed document is the element its Object carries.
    xmlNodePtr inner = nullptr;
    for (xmlNodePtr object : dsigChildren(root, "Object")) {
      for (xmlNodePtr c = object->children; c && !inner; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) inner = c;
      }
      if (inner) break;
    }
    if (inner) {
      xmlUnlinkNode(inner);
      xmlNodePtr old = xmlDocSetRootElement(doc.get(), inner);
      // Declarations it used from the old ancestors become its own before they go.
      xmlReconciliateNs(doc.get(), inner);
      xmlFreeNode(old);
    }
  }
  std::vector<xmlNodePtr> sigs;
  collect(xmlDocGetRootElement(doc.get()), [&](xmlNodePtr n) {
    if (isDsig(n, "Signature")) sigs.push_back(n);
  });
  for (xmlNodePtr n : sigs) {
    // The whitespace the signature was indented with goes too.
    if (n->prev && n->prev->type == XML_TEXT_NODE && xmlIsBlankNode(n->prev)) {
      xmlNodePtr blank = n->prev;
      xmlUnlinkNode(blank);
      xmlFreeNode(blank);
    }
    xmlUnlinkNode(n);
    xmlFreeNode(n);
  }
  return serializeXml(doc.get());
}

}  // namespace lienthong::xmldsig

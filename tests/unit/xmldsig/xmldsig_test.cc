// XML signatures: the interoperability manifest (xmlsec's own vectors), round trips with
// the test PKI, every refusal the signatures issue lists, and the xmlsec1 tool both ways.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/builtins.h"
#include "core/loader.h"
#include "core/xml_document.h"
#include "core/xmldsig.h"
#include "core/xpath.h"
#include "integration/test_support.h"

namespace lienthong {
namespace {

namespace fs = std::filesystem;
using pki::SigningKey;
using pki::TrustStore;

const std::string kPki = LIENTHONG_TEST_PKI;
const std::string kInterop = LIENTHONG_INTEROP;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string pem(const std::string& name) { return kPki + "/" + name; }

std::shared_ptr<const SigningKey> key(const std::string& name, const std::string& file = "") {
  SigningKey::Settings s;
  s.name = name;
  s.key_file = pem((file.empty() ? name : file) + "-key.pem");
  s.cert_file = pem((file.empty() ? name : file) + "-chain.pem");
  auto k = SigningKey::load(s);
  EXPECT_TRUE(k.ok()) << k.error().message;
  return k.ok() ? *k : nullptr;
}

TrustStore::Settings caSettings() {
  TrustStore::Settings s;
  s.name = "agencies";
  s.ca_file = pem("root.pem");
  s.algorithms = xmldsig::defaultAlgorithms();
  s.digests = xmldsig::defaultDigests();
  s.transforms = xmldsig::defaultTransforms();
  return s;
}

std::shared_ptr<const TrustStore> store(const TrustStore::Settings& s) {
  auto t = TrustStore::load(s);
  EXPECT_TRUE(t.ok()) << t.error().message;
  return t.ok() ? *t : nullptr;
}

const std::string kDossier =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<HoSo xmlns=\"urn:lienthong:hoso:1\" Id=\"hs-1\"><MaHoSo>000.00.01.H22-240315-0001</MaHoSo>"
    "<ChuHoSo>Nguyễn Văn An</ChuHoSo><LePhi>50000</LePhi></HoSo>\n";

std::string signText(const std::string& text, const SigningKey& k,
                     xmldsig::SignOptions options = {}) {
  auto doc = XmlDocument::parse(text);
  EXPECT_TRUE(doc.ok()) << doc.error().message;
  if (!doc.ok()) return {};
  auto out = xmldsig::sign((*doc)->doc(), k, options, std::time(nullptr));
  EXPECT_TRUE(out.ok()) << out.error().message;
  return out.ok() ? *out : std::string();
}

Result<xmldsig::Verified> verifyText(const std::string& text, const TrustStore& trust,
                                     const xmldsig::VerifyOptions& options = {}) {
  auto doc = XmlDocument::parse(text);
  if (!doc.ok()) return doc.error();
  return xmldsig::verify((*doc)->doc(), trust, options, std::time(nullptr));
}

// The reason a verification refused `text` ("" if it passed).
std::string refusal(const std::string& text, const TrustStore& trust,
                    const xmldsig::VerifyOptions& options = {}) {
  auto r = verifyText(text, trust, options);
  if (r.ok()) return "";
  EXPECT_EQ(r.error().code, ErrorCode::kUnauthorized) << r.error().message;
  return r.error().message;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

class XmlDsig : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { initXml(); }
};

// --- The manifest --------------------------------------------------------------------

struct Row {
  std::string expected, file, how;
  int line = 0;
};

std::vector<Row> manifest() {
  std::vector<Row> rows;
  std::istringstream in(read(kInterop + "/MANIFEST.tsv"));
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (n == 1 || line.empty()) continue;
    std::istringstream cols(line);
    Row r;
    std::getline(cols, r.expected, '\t');
    std::getline(cols, r.file, '\t');
    std::getline(cols, r.how, '\t');
    r.line = n;
    rows.push_back(r);
  }
  return rows;
}

// The trust material of a row, from the xmlsec1 options it lists: --trusted-pem is a CA
// (a file that is no certificate cannot be one, as xmlsec1 finds too), --untrusted-pem an
// intermediate, --pubkey-pem:NAME a key pinned under NAME. A row with no usable material
// gets a store that pins an unrelated key, so that the verification itself must refuse.
TrustStore::Settings rowTrust(const Row& row, bool legacy_algorithms) {
  TrustStore::Settings s;
  s.name = "manifest-line-" + std::to_string(row.line);
  std::istringstream words(row.how);
  std::string w;
  while (words >> w) {
    std::string file;
    if (w == "--trusted-pem" || w == "--untrusted-pem" || w.starts_with("--pubkey-pem:")) {
      words >> file;
      file = kInterop + "/" + file;
    }
    if (w == "--trusted-pem" && read(file).find("BEGIN CERTIFICATE") != std::string::npos) {
      s.ca_file = file;
    } else if (w == "--untrusted-pem") {
      s.intermediates_file = file;
    } else if (w.starts_with("--pubkey-pem:")) {
      s.pinned[w.substr(std::string("--pubkey-pem:").size())] = file;
    }
  }
  if (s.ca_file.empty() && s.pinned.empty()) {
    s.pinned["unrelated"] = kInterop + "/keys/ec-prime521v1-pubkey.pem";
  }
  s.algorithms = xmldsig::defaultAlgorithms();
  s.digests = xmldsig::defaultDigests();
  s.transforms = xmldsig::defaultTransforms();
  s.allow_ca_signers = true;  // xmlsec's test signers hold CA certificates
  if (legacy_algorithms) {
    // xmlsec's vectors include an rsa-sha1 signature and XPath-filter transforms.
    s.algorithms.push_back("rsa-sha1");
    s.digests.push_back("sha1");
    s.transforms.push_back("xpath");
  }
  return s;
}

TEST_F(XmlDsig, EveryManifestRowReachesItsExpectedOutcome) {
  auto rows = manifest();
  ASSERT_EQ(rows.size(), 25u);
  int valid = 0;
  int invalid = 0;
  for (const Row& row : rows) {
    auto trust = TrustStore::load(rowTrust(row, true));
    ASSERT_TRUE(trust.ok()) << "MANIFEST.tsv:" << row.line << ": " << trust.error().message;
    auto r = verifyText(read(kInterop + "/" + row.file), **trust);
    const std::string got = r.ok() ? "valid" : "invalid";
    EXPECT_EQ(got, row.expected) << "MANIFEST.tsv:" << row.line << " " << row.file << " ("
                                 << row.how << "): "
                                 << (r.ok() ? r->mode + " " + r->algorithm : r.error().message);
    (got == "valid" ? valid : invalid)++;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, ErrorCode::kUnauthorized);
    }
    if (row.file.starts_with("tampered/")) {
      EXPECT_FALSE(r.ok());
      if (!r.ok()) {
        EXPECT_NE(r.error().message.find("does not match: the signed content was changed"),
                  std::string::npos)
            << row.file << ": " << r.error().message;
      }
    }
  }
  EXPECT_EQ(valid, 11);
  EXPECT_EQ(invalid, 14);
}

TEST_F(XmlDsig, CaCertificatesAreNoSignersUnlessTheStoreSaysSo) {
  int refused = 0;
  for (const Row& row : manifest()) {
    if (row.expected != "valid" || row.how.find("--trusted-pem") == std::string::npos) continue;
    TrustStore::Settings s = rowTrust(row, true);
    s.allow_ca_signers = false;
    const std::string why = refusal(read(kInterop + "/" + row.file), *store(s));
    if (why.find("is a CA certificate, not a signer's") != std::string::npos) ++refused;
  }
  EXPECT_GT(refused, 0);  // the vectors' RSA signer has CA:TRUE
}

TEST_F(XmlDsig, DefaultPolicyRefusesSha1AndXPathTransforms) {
  for (const Row& row : manifest()) {
    if (row.expected != "valid") continue;
    auto trust = store(rowTrust(row, false));
    const std::string text = read(kInterop + "/" + row.file);
    const std::string why = refusal(text, *trust);
    if (text.find("xmldsig#rsa-sha1") != std::string::npos) {
      EXPECT_NE(why.find("signature method http://www.w3.org/2000/09/xmldsig#rsa-sha1 is not "
                         "allowed"),
                std::string::npos)
          << row.file << ": " << why;
    } else if (text.find("REC-xpath-19991116") != std::string::npos) {
      EXPECT_NE(why.find("transform http://www.w3.org/TR/1999/REC-xpath-19991116 is not allowed"),
                std::string::npos)
          << row.file << ": " << why;
    } else {
      EXPECT_EQ(why, "") << row.file;
    }
  }
}

// --- Round trips ---------------------------------------------------------------------

TEST_F(XmlDsig, SignsAndVerifiesInEveryModeWithRsaAndEc) {
  auto trust = store(caSettings());
  for (const std::string name : {"agency", "ec"}) {
    auto k = key(name);
    ASSERT_TRUE(k);
    for (auto mode :
         {xmldsig::Mode::kEnveloped, xmldsig::Mode::kEnveloping, xmldsig::Mode::kDetached}) {
      xmldsig::SignOptions o;
      o.mode = mode;
      o.id = "hs-1";
      const std::string signed_text = signText(kDossier, *k, o);
      auto v = verifyText(signed_text, *trust);
      ASSERT_TRUE(v.ok()) << name << " " << static_cast<int>(mode) << ": " << v.error().message;
      EXPECT_EQ(v->algorithm, name == "ec" ? "ecdsa-sha256" : "rsa-sha256");
      EXPECT_EQ(v->mode, mode == xmldsig::Mode::kEnveloping ? "enveloping" : "enveloped");
      ASSERT_TRUE(v->cert);
      EXPECT_NE(v->cert->subject.find("UBND tinh Ha Giang"), std::string::npos);
      EXPECT_FALSE(v->cert->serial.empty());
      // The chain (signer and intermediate) travels in KeyInfo/X509Data.
      std::size_t certs = 0;
      for (auto at = signed_text.find("<ds:X509Certificate>"); at != std::string::npos;
           at = signed_text.find("<ds:X509Certificate>", at + 1)) {
        ++certs;
      }
      EXPECT_EQ(certs, 2u) << signed_text;
      EXPECT_NE(signed_text.find("Nguyễn Văn An"), std::string::npos);
    }
  }
}

TEST_F(XmlDsig, Sha384AndSha512AndADetachedElement) {
  auto trust = store(caSettings());
  auto k = key("agency");
  const std::string list =
      "<DanhSach xmlns=\"urn:lienthong:hoso:1\"><HoSo Id=\"a\"><MaHoSo>A</MaHoSo></HoSo>"
      "<HoSo Id=\"b\"><MaHoSo>B</MaHoSo></HoSo></DanhSach>";
  xmldsig::SignOptions o;
  o.mode = xmldsig::Mode::kDetached;
  o.id = "b";
  o.algorithm = "rsa-sha512";
  o.digest = "sha384";
  const std::string signed_text = signText(list, *k, o);
  xmldsig::VerifyOptions v;
  v.signed_xpath = "/h:DanhSach/h:HoSo[2]";
  v.namespaces = {{"h", "urn:lienthong:hoso:1"}};
  auto ok = verifyText(signed_text, *trust, v);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->mode, "detached");
  EXPECT_EQ(ok->algorithm, "rsa-sha512");
  // The route uses the first dossier, which the signature does not cover.
  v.signed_xpath = "/h:DanhSach/h:HoSo[1]";
  EXPECT_NE(refusal(signed_text, *trust, v).find("no reference covers the element the route uses"),
            std::string::npos);
  // By default the route uses the document element: not covered either.
  EXPECT_NE(refusal(signed_text, *trust).find("no reference covers"), std::string::npos);
}

TEST_F(XmlDsig, KeysLoadFromPkcs12AndEncryptedPemWithTheirPassphrase) {
  auto trust = store(caSettings());
  SigningKey::Settings p12;
  p12.name = "p12";
  p12.pkcs12_file = pem("agency.p12");
  p12.passphrase = "mat-khau-thu";
  auto k = SigningKey::load(p12);
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ((*k)->chain().size(), 2u);
  EXPECT_TRUE(verifyText(signText(kDossier, **k), *trust).ok());

  SigningKey::Settings enc;
  enc.name = "enc";
  enc.key_file = pem("agency-enc-key.pem");
  enc.cert_file = pem("agency-chain.pem");
  enc.passphrase = "mat-khau-thu";
  auto e = SigningKey::load(enc);
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_TRUE(verifyText(signText(kDossier, **e), *trust).ok());

  enc.passphrase = "sai";
  auto wrong = SigningKey::load(enc);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("wrong passphrase?"), std::string::npos);
  p12.passphrase = "sai";
  EXPECT_FALSE(SigningKey::load(p12).ok());
}

TEST_F(XmlDsig, PinnedKeysVerifyPerSender) {
  TrustStore::Settings s = caSettings();
  s.ca_file.clear();
  s.pinned = {{"so-tu-phap", pem("agency-pub.pem")}, {"van-phong", pem("ec.pem")}};
  auto trust = store(s);
  const std::string signed_text = signText(kDossier, *key("agency"));
  xmldsig::VerifyOptions o;
  o.sender = "so-tu-phap";
  auto v = verifyText(signed_text, *trust, o);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->signer, "so-tu-phap");
  o.sender = "van-phong";
  EXPECT_NE(refusal(signed_text, *trust, o)
                .find("the trusted key 'van-phong' (EC P-256) cannot have made a rsa-sha256"),
            std::string::npos);
  o.sender = "ai-do";
  EXPECT_NE(refusal(signed_text, *trust, o).find("no pinned key for sender 'ai-do'"),
            std::string::npos);
  // Without a sender the document's certificates cannot help: this store has no CA.
  EXPECT_NE(refusal(signed_text, *trust).find("has no CA to check them against"),
            std::string::npos);
  // An EC signature pinned to the other sender verifies.
  o.sender = "van-phong";
  EXPECT_TRUE(verifyText(signText(kDossier, *key("ec")), *trust, o).ok());
}

// --- Refusals when signing ---------------------------------------------------------------

TEST_F(XmlDsig, RefusesToSignWithAnUnusableKey) {
  auto expired = key("expired");
  ASSERT_TRUE(expired);
  auto doc = XmlDocument::parse(kDossier);
  auto r = xmldsig::sign((*doc)->doc(), *expired, {}, std::time(nullptr));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("expired on 2021-01-01T00:00:00Z; refusing to sign"),
            std::string::npos)
      << r.error().message;

  auto future = key("future");
  r = xmldsig::sign((*doc)->doc(), *future, {}, std::time(nullptr));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("is not valid before 2099-12-31T00:00:00Z"), std::string::npos)
      << r.error().message;

  auto nosign = key("nosign");
  r = xmldsig::sign((*doc)->doc(), *nosign, {}, std::time(nullptr));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("does not allow signatures"), std::string::npos);

  SigningKey::Settings small;
  small.name = "small";
  small.key_file = pem("small-key.pem");
  small.cert_file = pem("small-chain.pem");
  auto s = SigningKey::load(small);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("RSA 1024, below the minimum of RSA 2048"), std::string::npos)
      << s.error().message;

  SigningKey::Settings mismatch;
  mismatch.name = "mismatch";
  mismatch.key_file = pem("ec-key.pem");
  mismatch.cert_file = pem("agency-chain.pem");
  auto m = SigningKey::load(mismatch);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("does not belong to the certificate"), std::string::npos);

  xmldsig::SignOptions sha1;
  sha1.algorithm = "rsa-sha1";
  EXPECT_FALSE(xmldsig::sign((*doc)->doc(), *key("agency"), sha1, std::time(nullptr)).ok());
}

// --- Refusals when verifying ------------------------------------------------------------

TEST_F(XmlDsig, UntrustedRevokedAndExpiredSignersAreRefused) {
  TrustStore::Settings s = caSettings();
  s.crl_file = pem("crl.pem");
  auto trust = store(s);
  // Signed by a certificate under another root, carried in KeyInfo.
  SigningKey::Settings stranger;
  stranger.name = "stranger";
  stranger.key_file = pem("stranger-key.pem");
  stranger.cert_file = pem("stranger.pem");
  auto k = SigningKey::load(stranger);
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_NE(refusal(signText(kDossier, **k), *trust)
                .find("is not trusted: unable to get local "
                      "issuer certificate"),
            std::string::npos);
  // Revoked in the CRL.
  EXPECT_NE(refusal(signText(kDossier, *key("revoked")), *trust)
                .find("is not trusted: certificate revoked"),
            std::string::npos);
  // A good signer passes the same store.
  EXPECT_TRUE(verifyText(signText(kDossier, *key("agency")), *trust).ok());
}

class Wrapping : public XmlDsig {
 protected:
  void SetUp() override {
    trust_ = store(caSettings());
    agency_ = key("agency");
    xmldsig::SignOptions detached;
    detached.mode = xmldsig::Mode::kDetached;
    detached.id = "hs-1";
    signed_ = signText(kDossier, *agency_, detached);
    ASSERT_TRUE(verifyText(signed_, *trust_).ok());
  }
  // The signed <HoSo> element of signed_, signature included, without the XML declaration.
  std::string signedElement() const { return signed_.substr(signed_.find("<HoSo")); }

  std::shared_ptr<const TrustStore> trust_;
  std::shared_ptr<const SigningKey> agency_;
  std::string signed_;
};

TEST_F(Wrapping, ASignedElementMovedUnderAForgedRootIsRefused) {
  const std::string forged =
      "<Forged xmlns=\"urn:lienthong:hoso:1\"><LePhi>0</LePhi>" + signedElement() + "</Forged>";
  EXPECT_NE(refusal(forged, *trust_)
                .find("no reference covers the element the route uses "
                      "(<Forged> at line 1)"),
            std::string::npos)
      << refusal(forged, *trust_);
}

TEST_F(Wrapping, ASecondUnsignedCopyOfTheSignedElementIsRefused) {
  const std::string copy =
      "<HoSo xmlns=\"urn:lienthong:hoso:1\" Id=\"hs-1\"><MaHoSo>000.00.01.H22-240315-0001</MaHoSo>"
      "<ChuHoSo>Kẻ Giả Mạo</ChuHoSo><LePhi>0</LePhi></HoSo>";
  const std::string two =
      "<Goi xmlns=\"urn:lienthong:hoso:1\">" + copy + signedElement() + "</Goi>";
  xmldsig::VerifyOptions o;
  o.signed_xpath = "/h:Goi/h:HoSo[1]";
  o.namespaces = {{"h", "urn:lienthong:hoso:1"}};
  EXPECT_NE(refusal(two, *trust_, o).find("reference '#hs-1' matches 2 elements"),
            std::string::npos)
      << refusal(two, *trust_, o);
  // An xml:id with the same value counts too.
  const std::string xmlid = replaced(signed_, "<MaHoSo>", "<MaHoSo xml:id=\"hs-1\">");
  EXPECT_NE(refusal(xmlid, *trust_).find("matches 2 elements"), std::string::npos);
}

TEST_F(Wrapping, ExternalReferencesAndUnknownTransformsAreRefused) {
  for (const std::string uri :
       {"http://evil.example/hoso.xml", "file:///etc/passwd", "#xpointer(/)", "hoso.xml"}) {
    const std::string text = replaced(signed_, "URI=\"#hs-1\"", "URI=\"" + uri + "\"");
    EXPECT_NE(refusal(text, *trust_).find("reference URI '" + uri + "' is not allowed"),
              std::string::npos)
        << uri << ": " << refusal(text, *trust_);
  }
  const std::string no_uri = replaced(signed_, " URI=\"#hs-1\"", "");
  EXPECT_NE(refusal(no_uri, *trust_).find("a Reference without URI is not allowed"),
            std::string::npos);
  const std::string xslt =
      replaced(signed_, "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
               "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"/>");
  EXPECT_NE(refusal(xslt, *trust_)
                .find("transform http://www.w3.org/TR/1999/REC-xslt-19991116 is not allowed"),
            std::string::npos)
      << refusal(xslt, *trust_);
  const std::string md5 = replaced(signed_, "http://www.w3.org/2001/04/xmlenc#sha256",
                                   "http://www.w3.org/2001/04/xmldsig-more#md5");
  EXPECT_NE(refusal(md5, *trust_)
                .find("digest http://www.w3.org/2001/04/xmldsig-more#md5 is not "
                      "allowed"),
            std::string::npos);
}

TEST_F(Wrapping, TamperedTruncatedAndDoubledSignaturesAreRefused) {
  const std::string changed = replaced(signed_, "<LePhi>50000</LePhi>", "<LePhi>0</LePhi>");
  EXPECT_NE(refusal(changed, *trust_).find("the digest of reference '#hs-1' does not match"),
            std::string::npos);
  const auto value_at = signed_.find("<ds:SignatureValue>") + 19;
  std::string truncated = signed_;
  truncated.erase(value_at, 40);
  EXPECT_NE(refusal(truncated, *trust_), "");
  std::string flipped = signed_;
  flipped[value_at + 10] = flipped[value_at + 10] == 'A' ? 'B' : 'A';
  EXPECT_NE(refusal(flipped, *trust_).find("the signature value does not verify"),
            std::string::npos)
      << refusal(flipped, *trust_);
  // A second signature where the route accepts one.
  const auto sig_at = signed_.find("<ds:Signature");
  const auto sig_end = signed_.find("</ds:Signature>") + 15;
  std::string twice = signed_;
  twice.insert(sig_end, signed_.substr(sig_at, sig_end - sig_at));
  EXPECT_NE(refusal(twice, *trust_).find("the document has 2 signatures; the route accepts 1"),
            std::string::npos);
  // Unsigned.
  EXPECT_NE(refusal(kDossier, *trust_).find("the document is not signed"), std::string::npos);
}

// --- The xmlsec1 command-line tool, both ways -------------------------------------------

int run(const std::vector<std::string>& argv, std::string* output = nullptr) {
  int fds[2];
  if (::pipe(fds) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The shared temporary home, whose write() gives back the file's path.
struct TempDir : testing::TempHome {
  std::string write(const std::string& rel, const std::string& text) const {
    TempHome::write(rel, text);
    return path(rel).string();
  }
  const fs::path dir_ = dir();
};

class Xmlsec1 : public XmlDsig {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    return home_.write(name, text);
  }
  TempDir home_;
  const fs::path& dir_ = home_.dir_;
};

TEST_F(Xmlsec1, VerifiesWhatLienthongSigns) {
  for (const std::string name : {"agency", "ec"}) {
    for (auto mode : {xmldsig::Mode::kEnveloped, xmldsig::Mode::kEnveloping}) {
      xmldsig::SignOptions o;
      o.mode = mode;
      const std::string file = write(name + ".xml", signText(kDossier, *key(name), o));
      std::string out;
      int rc = run({"xmlsec1", "--verify", "--trusted-pem", pem("root.pem"), "--untrusted-pem",
                    pem("inter.pem"), "--enabled-key-data", "x509", file},
                   &out);
      EXPECT_EQ(rc, 0) << name << ": " << out;
    }
  }
  // And refuses the same document altered.
  const std::string bad =
      write("bad.xml", replaced(signText(kDossier, *key("agency")), "50000", "5"));
  std::string out;
  EXPECT_NE(run({"xmlsec1", "--verify", "--trusted-pem", pem("root.pem"), "--untrusted-pem",
                 pem("inter.pem"), "--enabled-key-data", "x509", bad},
                &out),
            0);
}

TEST_F(Xmlsec1, LienthongVerifiesWhatXmlsec1Signs) {
  // An enveloped template as xmlsec1 expects it: empty values to fill.
  const std::string tmpl =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<HoSo xmlns=\"urn:lienthong:hoso:1\"><MaHoSo>000.00.01.H22-240315-0002</MaHoSo>"
      "<ChuHoSo>Trần Thị Bình</ChuHoSo>"
      "<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\"><SignedInfo>"
      "<CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>"
      "<SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>"
      "<Reference URI=\"\"><Transforms>"
      "<Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>"
      "</Transforms><DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>"
      "<DigestValue/></Reference></SignedInfo><SignatureValue/>"
      "<KeyInfo><X509Data/></KeyInfo></Signature></HoSo>\n";
  const std::string in = write("tmpl.xml", tmpl);
  const std::string out_file = (dir_ / "signed.xml").string();
  std::string out;
  ASSERT_EQ(run({"xmlsec1", "--sign", "--privkey-pem",
                 pem("agency-key.pem") + "," + pem("agency.pem") + "," + pem("inter.pem"),
                 "--output", out_file, in},
                &out),
            0)
      << out;
  auto trust = store(caSettings());
  auto v = verifyText(read(out_file), *trust);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->mode, "enveloped");
  ASSERT_TRUE(v->cert);
  EXPECT_NE(v->cert->subject.find("So Tu phap"), std::string::npos);

  // xmlsec1 signs with an expired certificate when asked; lienthong refuses to trust it.
  ASSERT_EQ(run({"xmlsec1", "--sign", "--privkey-pem",
                 pem("expired-key.pem") + "," + pem("expired.pem") + "," + pem("inter.pem"),
                 "--output", out_file, in},
                &out),
            0)
      << out;
  EXPECT_NE(refusal(read(out_file), *trust).find("is not trusted: certificate has expired"),
            std::string::npos)
      << refusal(read(out_file), *trust);
}

// --- Config, factories and steps ---------------------------------------------------------

namespace step_tests {

const std::string kKeysAndTrust =
    "keys:\n"
    "  node: { key: agency-enc-key.pem, cert: agency-chain.pem, passphrase-file: "
    "passphrase.txt }\n"
    "trust:\n"
    "  agencies: { ca: root.pem, crl: crl.pem }\n"
    "  senders: { pinned: { van-phong: ec.pem } }\n";

// A temporary home whose daemon config holds kKeysAndTrust, and a loader for its routes.
struct KeyedHome {
  TempDir t;
  Registry registry;
  std::unique_ptr<Loader> loader;
  std::optional<DaemonConfig> config;
  std::shared_ptr<RouteTable> table;

  KeyedHome() {
    registerBuiltins(registry);
    loader = std::make_unique<Loader>(registry, true);
    ConfigErrors errors;
    config = loader->loadConfig(
        t.write("config.yaml", "home: " + kPki + "\n" + kKeysAndTrust + "routes: [ " +
                                   (t.dir_ / "routes").string() + " ]\n"),
        errors);
    EXPECT_TRUE(config) << errors.str();
  }
  // Loads routes/r.yaml with `steps` under one one-way route; errors into `errors`.
  bool load(const std::string& steps, ConfigErrors& errors) {
    t.write("routes/r.yaml",
            "routes:\n  - id: ky\n    pattern: one-way\n    from: { file: { dir: " +
                t.dir_.string() + " } }\n    steps:\n" + steps);
    table = loader->loadRoutes(*config, config->route_paths, errors);
    return table != nullptr;
  }
};

TEST_F(XmlDsig, ConfigLoadsKeysAndTrustAndReportsBadOnesAtTheirPlace) {
  KeyedHome home;
  ASSERT_TRUE(home.config);
  EXPECT_EQ(home.config->keys.size(), 1u);
  EXPECT_EQ(home.config->trust.size(), 2u);
  TempDir& t = home.t;
  Loader& loader = *home.loader;

  ConfigErrors bad;
  EXPECT_FALSE(loader.loadConfig(
      t.write("bad.yaml", "home: " + kPki +
                              "\n"
                              "keys:\n"
                              "  a: { key: agency-enc-key.pem, cert: agency-chain.pem }\n"
                              "  b: { key: small-key.pem, cert: small-chain.pem }\n"
                              "  c: { key: missing.pem, cert: agency.pem, passphrase: x }\n"
                              "  d: { pkcs12: agency.p12, passphrase-env: LIENTHONG_NO_SUCH }\n"
                              "trust:\n"
                              "  e: { algorithms: [ rsa-sha256, rsa-md5 ], ca: root.pem }\n"
                              "  f: {}\n"),
      bad));
  const std::string text = bad.str();
  EXPECT_NE(text.find("bad.yaml:3:3: key 'a': cannot read the private key"), std::string::npos)
      << text;
  EXPECT_NE(text.find("bad.yaml:4:3: key 'b': the key is RSA 1024, below the minimum of RSA 2048"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("bad.yaml:5:13: file not found"), std::string::npos) << text;
  EXPECT_NE(text.find("bad.yaml:5:44: unknown key 'passphrase' in key 'c'"), std::string::npos)
      << text;
  EXPECT_NE(text.find("bad.yaml:6:44: environment variable LIENTHONG_NO_SUCH is not set"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("bad.yaml:8:20: algorithms: unknown name 'rsa-md5'"), std::string::npos)
      << text;
  EXPECT_NE(text.find("bad.yaml:9:3: trust store 'f': has neither a CA bundle"), std::string::npos)
      << text;
}

TEST_F(XmlDsig, StepsSignVerifyStripAndSayWhoSigned) {
  KeyedHome home;
  ASSERT_TRUE(home.config);
  ConfigErrors errors;
  ASSERT_TRUE(
      home.load("      - verify: { trust: senders, sender: \"${NoiGui}\", strip: true }\n"
                "      - sign: { key: node, mode: detached, id: \"${MaCanKy}\", digest: "
                "sha512 }\n",
                errors))
      << errors.str();
  const auto& steps = home.table->routes[0]->steps;
  const auto& config = home.config;

  auto doc = XmlDocument::parse(kDossier);
  SigningKey::Settings ec;
  ec.name = "van-phong";
  ec.key_file = pem("ec-key.pem");
  ec.cert_file = pem("ec-chain.pem");
  auto ec_key = SigningKey::load(ec);
  auto in = xmldsig::sign((*doc)->doc(), **ec_key, {}, std::time(nullptr));
  ASSERT_TRUE(in.ok());
  Message m;
  m.setBody(*in);
  m.setHeader("NoiGui", "van-phong");
  m.setHeader("MaCanKy", "hs-1");
  Exchange ex(m, "ky", ExchangePattern::kOneWay);
  auto r = steps[0]->process(ex);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*ex.message().header("signature.signer"), "van-phong");
  EXPECT_EQ(*ex.message().header("signature.algorithm"), "ecdsa-sha256");
  EXPECT_EQ(*ex.message().header("signature.key"), "EC P-256");
  EXPECT_EQ(ex.message().header("signature.not-after")->size(), 20u);  // 2028-11-26T01:32:50Z
  EXPECT_NE(ex.message().header("signature.not-before"), nullptr);
  EXPECT_FALSE(ex.message().header("signature.serial")->empty());
  EXPECT_NE(ex.message().header("signature.subject")->find("Van phong UBND tinh"),
            std::string::npos);
  EXPECT_EQ(ex.message().body().find("Signature"), std::string::npos) << ex.message().body();
  r = steps[1]->process(ex);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*ex.message().header("signature.key"), "node");
  auto out = XmlDocument::parse(ex.message().body());
  auto v = xmldsig::verify((*out)->doc(), *config->trust.at("agencies"), {}, std::time(nullptr));
  ASSERT_TRUE(v.ok()) << v.error().message;

  // The wrong sender: Unauthorized, which dead-letters a one-way message.
  Message again;
  again.setBody(*in);
  again.setHeader("NoiGui", "so-tu-phap");
  Exchange ex2(again, "ky", ExchangePattern::kOneWay);
  r = steps[0]->process(ex2);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnauthorized);
  EXPECT_NE(r.error().message.find("no pinned key for sender 'so-tu-phap'"), std::string::npos);

  ConfigErrors bad;
  EXPECT_FALSE(
      home.load("      - verify: { trust: nobody, sender: x }\n"
                "      - sign: { key: node, algorithm: ecdsa-sha256 }\n"
                "      - sign: { key: node, mode: detached }\n"
                "      - verify: { trust: agencies, sender: x }\n",
                bad));
  const std::string text = bad.str();
  EXPECT_NE(text.find("r.yaml:6:26: unknown trust store 'nobody' (defined: agencies, senders)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("r.yaml:7:39: algorithm ecdsa-sha256 does not fit key 'node' (RSA 2048)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("r.yaml:8:15: mode: detached needs the 'id' of the element to sign"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("'sender' selects a pinned key, but trust store 'agencies' pins none"),
            std::string::npos)
      << text;
}

// --- Findings of the security review -------------------------------------------------------

TEST_F(Wrapping, UnsignedContentInsideTheSignatureIsRefused) {
  // A forged dossier hidden in KeyInfo, where an enveloped signature does not look.
  const std::string in_keyinfo =
      replaced(signed_, "<ds:KeyInfo>",
               "<ds:KeyInfo><HoSo xmlns=\"urn:lienthong:hoso:1\"><LePhi>0</LePhi></HoSo>");
  EXPECT_NE(refusal(in_keyinfo, *trust_).find("unsigned content inside the signature: <HoSo>"),
            std::string::npos)
      << refusal(in_keyinfo, *trust_);
  // An extra Object next to the signed one of an enveloping signature.
  xmldsig::SignOptions o;
  o.mode = xmldsig::Mode::kEnveloping;
  const std::string enveloping = signText(kDossier, *agency_, o);
  ASSERT_TRUE(verifyText(enveloping, *trust_).ok());
  const std::string extra =
      replaced(enveloping, "</ds:Signature>",
               "<ds:Object><HoSo xmlns=\"urn:lienthong:hoso:1\"><LePhi>0</LePhi></HoSo></ds:Object>"
               "</ds:Signature>");
  EXPECT_NE(refusal(extra, *trust_)
                .find("unsigned content inside the signature: an unsigned "
                      "ds:Object"),
            std::string::npos)
      << refusal(extra, *trust_);
  // The route's element must be inside the signed Object.
  xmldsig::VerifyOptions v;
  v.signed_xpath = "//h:HoSo";
  v.namespaces = {{"h", "urn:lienthong:hoso:1"}};
  EXPECT_TRUE(verifyText(enveloping, *trust_, v).ok());
}

TEST_F(Wrapping, IdsMustBeNamesNotExpressions) {
  for (const std::string id : {"hs-1 hs-2", "x' or 'y", "a(b)"}) {
    std::string text = signed_;
    const std::string from = "URI=\"#hs-1\"";
    text.replace(text.find(from), from.size(), "URI=\"#" + id + "\"");
    EXPECT_NE(refusal(text, *trust_).find("is not allowed"), std::string::npos) << id;
  }
  auto doc = XmlDocument::parse(kDossier);
  xmldsig::SignOptions o;
  o.mode = xmldsig::Mode::kDetached;
  o.id = "hs-1 hs-2";
  auto r = xmldsig::sign((*doc)->doc(), *agency_, o, std::time(nullptr));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("is not a valid Id"), std::string::npos);
}

TEST_F(XmlDsig, SeveralPinnedKeysNeedTheSenderOrAnExplicitKeyNameChoice) {
  TrustStore::Settings s = caSettings();
  s.ca_file.clear();
  s.pinned = {{"agency", pem("agency-pub.pem")}, {"ec", pem("ec.pem")}};
  // Signed with the key named "ec" and its KeyName, no certificate.
  auto k = key("ec");
  std::string text = signText(kDossier, *k);
  const auto x509 = text.find("<ds:X509Data>");
  text.erase(x509, text.find("</ds:X509Data>") + 14 - x509);
  EXPECT_NE(refusal(text, *store(s)).find("pins 2 keys: the route must name the sender"),
            std::string::npos)
      << refusal(text, *store(s));
  s.select_by_key_name = true;
  auto v = verifyText(text, *store(s));
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->signer, "ec");
}

TEST_F(XmlDsig, DecomposedVietnameseVerifiesAsItWasSigned) {
  // "Nguyễn" with combining marks (NFD), as some systems send it.
  const std::string nfd =
      "<HoSo xmlns=\"urn:lienthong:hoso:1\"><ChuHoSo>Nguye\xCC\x82\xCC\x83n Va\xCC\x86n "
      "An</ChuHoSo></HoSo>";
  auto raw = XmlDocument::parse(nfd, false);
  ASSERT_TRUE(raw.ok());
  auto signed_text = xmldsig::sign((*raw)->doc(), *key("agency"), {}, std::time(nullptr));
  ASSERT_TRUE(signed_text.ok());
  // The route's parse normalises to NFC; the step verifies the text as sent.
  KeyedHome home;
  ConfigErrors errors;
  ASSERT_TRUE(home.load("      - verify: { trust: agencies, strip: true }\n", errors))
      << errors.str();
  const auto& table = home.table;
  Message m;
  m.setBody(*signed_text);
  m.setHeader("signature.signer", "forged by the sender");  // must not survive
  Exchange ex(m, "v", ExchangePattern::kOneWay);
  auto nfc = xmlOf(ex);
  ASSERT_TRUE(nfc.ok());
  EXPECT_TRUE((*nfc)->normalized());
  auto r = table->routes[0]->steps[0]->process(ex);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(ex.message().header("signature.signer"), nullptr);
  EXPECT_NE(ex.message().body().find("Nguye\xCC\x82\xCC\x83n"), std::string::npos);
  EXPECT_EQ(ex.message().body().find("Signature"), std::string::npos);
}

TEST_F(XmlDsig, StrippingAnEnvelopingSignatureGivesTheSignedDocumentBack) {
  xmldsig::SignOptions o;
  o.mode = xmldsig::Mode::kEnveloping;
  const std::string enveloping = signText(kDossier, *key("ec"), o);
  auto doc = XmlDocument::parse(enveloping);
  const std::string inner = xmldsig::withoutSignatures((*doc)->doc());
  EXPECT_NE(inner.find("<HoSo xmlns=\"urn:lienthong:hoso:1\" Id=\"hs-1\">"), std::string::npos)
      << inner;
  EXPECT_EQ(inner.find("ds:"), std::string::npos) << inner;
}

}  // namespace step_tests
}  // namespace
}  // namespace lienthong

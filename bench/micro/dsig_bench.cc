// Microbenchmarks of XML signatures: enveloped sign and verify of 2 KB and 100 KB SOAP
// dossiers with RSA-2048 and P-256 keys from the test PKI, one thread. bench/dsig/run.sh
// puts them beside `openssl speed` (the raw signature operation, the bound).
//   build/bench/lienthong-dsig-bench [--benchmark_repetitions=5 ...]
// The keys come from $LIENTHONG_PKI (default: the build's tests/pki).

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <ctime>

#include "bench/micro/soap_body.h"
#include "core/pki.h"
#include "core/xml_document.h"
#include "core/xmldsig.h"
#include "core/xpath.h"

namespace {

using namespace lienthong;

using bench::soapBody;

std::string pkiDir() {
  const char* env = std::getenv("LIENTHONG_PKI");
  return env ? env : LIENTHONG_TEST_PKI;
}

std::shared_ptr<const pki::SigningKey> key(const std::string& name) {
  static std::map<std::string, std::shared_ptr<const pki::SigningKey>> keys;
  auto it = keys.find(name);
  if (it != keys.end()) return it->second;
  pki::SigningKey::Settings s;
  s.name = name;
  s.key_file = pkiDir() + "/" + name + "-key.pem";
  s.cert_file = pkiDir() + "/" + name + "-chain.pem";
  auto k = pki::SigningKey::load(s);
  if (!k.ok()) return nullptr;
  keys[name] = *k;
  return *k;
}

std::shared_ptr<const pki::TrustStore> trust() {
  static std::shared_ptr<const pki::TrustStore> store = [] {
    pki::TrustStore::Settings s;
    s.name = "bench";
    s.ca_file = pkiDir() + "/root.pem";
    s.algorithms = xmldsig::defaultAlgorithms();
    s.digests = xmldsig::defaultDigests();
    s.transforms = xmldsig::defaultTransforms();
    auto t = pki::TrustStore::load(s);
    return t.ok() ? *t : nullptr;
  }();
  return store;
}

const char* keyName(std::int64_t which) { return which == 0 ? "agency" : "ec"; }

void BM_Sign(benchmark::State& state) {
  initXml();
  auto k = key(keyName(state.range(1)));
  if (!k) {
    state.SkipWithError("no test PKI (build the test_pki target or set LIENTHONG_PKI)");
    return;
  }
  const std::string body = soapBody(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    auto doc = XmlDocument::parse(body);  // a route signs the parsed body
    auto out = xmldsig::sign((*doc)->doc(), *k, {}, std::time(nullptr));
    if (!out.ok()) state.SkipWithError(out.error().message.c_str());
    benchmark::DoNotOptimize(out);
  }
  state.SetLabel(std::string(keyName(state.range(1)) == std::string("ec") ? "P-256" : "RSA-2048"));
}
BENCHMARK(BM_Sign)->ArgsProduct({{2048, 102400}, {0, 1}})->ArgNames({"bytes", "ec"});

void BM_Verify(benchmark::State& state) {
  initXml();
  auto k = key(keyName(state.range(1)));
  auto t = trust();
  if (!k || !t) {
    state.SkipWithError("no test PKI (build the test_pki target or set LIENTHONG_PKI)");
    return;
  }
  auto source = XmlDocument::parse(soapBody(static_cast<std::size_t>(state.range(0))));
  auto signed_text = xmldsig::sign((*source)->doc(), *k, {}, std::time(nullptr));
  for (auto _ : state) {
    auto doc = XmlDocument::parse(*signed_text);
    auto v = xmldsig::verify((*doc)->doc(), *t, {}, std::time(nullptr));
    if (!v.ok()) state.SkipWithError(v.error().message.c_str());
    benchmark::DoNotOptimize(v);
  }
  state.SetLabel(std::string(keyName(state.range(1)) == std::string("ec") ? "P-256" : "RSA-2048"));
}
BENCHMARK(BM_Verify)->ArgsProduct({{2048, 102400}, {0, 1}})->ArgNames({"bytes", "ec"});

}  // namespace

BENCHMARK_MAIN();

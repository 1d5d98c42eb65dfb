// Microbenchmarks of the XML path: the safe parse, an XPath predicate on a parsed body,
// and parse + XSLT + serialize. Run: build/bench/lienthong-xml-bench
// (--benchmark_repetitions=5 --benchmark_report_aggregates_only=true for medians).

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "bench/micro/soap_body.h"
#include "core/xml_document.h"
#include "core/xpath.h"
#include "transforms/xml/xml_steps.h"

namespace {

using namespace lienthong;

using bench::soapBody;

const std::map<std::string, std::string> kNs = {{"s", "http://schemas.xmlsoap.org/soap/envelope/"},
                                                {"h", "urn:lienthong:hoso:1"}};

void BM_Parse(benchmark::State& state) {
  std::string body = soapBody(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    auto doc = XmlDocument::parse(body);
    if (!doc.ok()) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(doc);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_Parse)->Arg(1024)->Arg(10240);

void BM_XPathOnParsedBody(benchmark::State& state) {
  Message m;
  m.setBody(soapBody(static_cast<std::size_t>(state.range(0))));
  Exchange ex(m, "bench", ExchangePattern::kRequestReply);
  XPath::CompileError err;
  auto p = XPath::compile("/s:Envelope/s:Body/h:HoSo/h:TrangThai = '4'", kNs, &err);
  (void)xmlOf(ex);  // parsed once, as in a route
  for (auto _ : state) {
    auto r = p->evaluate(ex);
    if (!r.ok() || !*r) state.SkipWithError("predicate failed");
  }
}
BENCHMARK(BM_XPathOnParsedBody)->Arg(1024)->Arg(10240);

void BM_ParseTransformSerialize(benchmark::State& state) {
  auto dir = std::filesystem::temp_directory_path() /
             ("lienthong-xml-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "t.xsl")
      << "<xsl:stylesheet version=\"1.0\" xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\"\n"
         "  xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
         "xmlns:h=\"urn:lienthong:hoso:1\" exclude-result-prefixes=\"s h\">\n"
         "  <xsl:template match=\"/\"><TienDo ma=\"{s:Envelope/s:Body/h:HoSo/h:MaHoSo}\">\n"
         "    <xsl:for-each select=\"s:Envelope/s:Body/h:HoSo/h:TaiLieu\">\n"
         "      <TaiLieu so=\"{h:So}\"><xsl:value-of select=\"h:Ten\"/></TaiLieu>\n"
         "    </xsl:for-each></TienDo></xsl:template>\n"
         "</xsl:stylesheet>\n";
  std::vector<std::string> errors;
  transforms::xml::TransformSettings s;
  s.stylesheet = transforms::xml::Stylesheet::load((dir / "t.xsl").string(), errors);
  std::filesystem::remove_all(dir);
  if (!s.stylesheet) {
    state.SkipWithError("stylesheet failed");
    return;
  }
  transforms::xml::TransformStep step(std::move(s));
  Message m;
  m.setBody(soapBody(static_cast<std::size_t>(state.range(0))));
  for (auto _ : state) {
    Exchange ex(m, "bench", ExchangePattern::kRequestReply);
    auto r = step.process(ex);
    if (!r.ok()) state.SkipWithError("transform failed");
    benchmark::DoNotOptimize(ex.message().body());
  }
}
BENCHMARK(BM_ParseTransformSerialize)->Arg(1024)->Arg(10240);

}  // namespace

int main(int argc, char** argv) {
  initXml();
  transforms::xml::initXslt();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

#include "transforms/dossier/payment.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <openssl/crypto.h>

#include <optional>
#include <sstream>

#include "core/dossier_code.h"
#include "core/pki.h"

namespace lienthong::transforms::dossier {
namespace {

std::string member(const Poco::JSON::Object& o, const std::string& name, bool* ok) {
  *ok = false;
  if (!o.has(name)) return {};
  const Poco::Dynamic::Var v = o.get(name);
  if (v.isEmpty() || !(v.isString() || v.isNumeric())) return {};
  try {
    *ok = true;
    return v.convert<std::string>();
  } catch (const Poco::Exception&) {
    *ok = false;
    return {};
  }
}

}  // namespace

std::string paymentChecksum(const std::vector<std::string>& values, const std::string& secret) {
  std::string input;
  for (const std::string& v : values) input += v + "|";
  input += secret;
  return pki::sha256Hex(input);
}

Result<StepOutcome> PaymentChecksumStep::process(Exchange& exchange) {
  Message& m = exchange.message();
  Poco::JSON::Object::Ptr o;
  try {
    o = Poco::JSON::Parser().parse(m.body()).extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception& e) {
    return Error(ErrorCode::kInvalidMessage,
                 std::string("payment-checksum: the body is not a JSON object (") + e.what() + ")");
  }
  if (!o)
    return Error(ErrorCode::kInvalidMessage, "payment-checksum: the body is not a JSON object");
  if (!s_.verify) {
    for (const auto& [name, value] : s_.set) o->set(name, value->render(exchange));
  }
  std::vector<std::string> values;
  for (const std::string& f : s_.fields) {
    bool ok = false;
    values.push_back(member(*o, f, &ok));
    if (!ok) {
      return Error(ErrorCode::kInvalidMessage,
                   "payment-checksum: the body has no field " + f + " (text or number)");
    }
    if (values.back().find('|') != std::string::npos) {  // it would move the fields' borders
      return Error(ErrorCode::kInvalidMessage,
                   "payment-checksum: field " + f + " holds '|', which separates the fields");
    }
  }
  const std::string sum = paymentChecksum(values, s_.secret);
  if (s_.verify) {
    bool ok = false;
    const std::string given = member(*o, s_.member, &ok);
    bool dummy = false;
    const std::string code = member(*o, "MaHoSo", &dummy);
    if (!ok || given.size() != sum.size() ||
        CRYPTO_memcmp(given.data(), sum.data(), sum.size()) != 0) {
      if (!code.empty()) m.setHeader("MaHoSo", code);
      return Error(ErrorCode::kUnauthorized,
                   "payment-checksum: " + s_.member + " does not match" +
                       (code.empty() ? std::string() : " (dossier " + code + ")"));
    }
    if (s_.max_age.count() > 0) {  // an old confirmation played again
      bool has = false;
      const std::string when = member(*o, s_.time_field, &has);
      const auto at = lienthong::dossier::parseNationalTime(when);
      const auto now = std::chrono::system_clock::now();
      if (!at || *at < now - s_.max_age) {
        if (!code.empty()) m.setHeader("MaHoSo", code);
        return Error(ErrorCode::kUnauthorized,
                     "payment-checksum: " + s_.time_field + " '" + when + "' is older than " +
                         std::to_string(
                             std::chrono::duration_cast<std::chrono::seconds>(s_.max_age).count()) +
                         " s (an old message played again?)" +
                         (code.empty() ? std::string() : " (dossier " + code + ")"));
      }
    }
    for (std::size_t i = 0; i < s_.fields.size(); ++i) {
      m.setHeader("payment." + s_.fields[i], values[i]);
    }
    return StepOutcome::kContinue;
  }
  o->set(s_.member, sum);
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(o, out);
  m.setBody(out.str());
  m.setContentType("application/json");
  return StepOutcome::kContinue;
}

}  // namespace lienthong::transforms::dossier

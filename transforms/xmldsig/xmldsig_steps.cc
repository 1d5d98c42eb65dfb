#include "transforms/xmldsig/xmldsig_steps.h"

#include <ctime>

#include "core/xml_document.h"

namespace lienthong::transforms::xmldsig {

Result<StepOutcome> SignStep::process(Exchange& exchange) {
  auto doc = xmlOf(exchange);
  if (!doc.ok()) return doc.error();
  lienthong::xmldsig::SignOptions options = s_.options;
  if (s_.id) options.id = s_.id->render(exchange);
  auto signed_text = lienthong::xmldsig::sign((*doc)->doc(), *s_.key, options, std::time(nullptr));
  if (!signed_text.ok()) return signed_text.error();
  Message& m = exchange.message();
  m.setBody(std::move(*signed_text));
  if (m.contentType().empty() || m.contentType().find("xml") == std::string::npos) {
    m.setContentType("application/xml");
  }
  m.setHeader("signature.key", s_.key->name());
  return StepOutcome::kContinue;
}

Result<StepOutcome> VerifyStep::process(Exchange& exchange) {
  // Nobody but this step says who signed: headers of that name from the input go.
  Message& m = exchange.message();
  std::erase_if(m.headers(), [](const auto& h) { return h.first.starts_with("signature."); });
  auto doc = xmlOf(exchange);
  if (!doc.ok()) return doc.error();
  if ((*doc)->normalized()) {
    // The signer signed the text as sent (decomposed Vietnamese, say), not its NFC form.
    doc = XmlDocument::parse(m.body(), false);
    if (!doc.ok()) return doc.error();
  }
  lienthong::xmldsig::VerifyOptions options = s_.options;
  if (s_.sender) {
    options.sender = s_.sender->render(exchange);
    if (options.sender.empty()) {
      return Error(ErrorCode::kUnauthorized,
                   "signature: the sender '" + s_.sender->source() + "' is empty");
    }
  }
  // The document only gets its Id attributes registered.
  auto verified = lienthong::xmldsig::verify((*doc)->doc(), *s_.trust, options, std::time(nullptr));
  if (!verified.ok()) return verified.error();
  m.setHeader("signature.mode", verified->mode);
  m.setHeader("signature.algorithm", verified->algorithm);
  m.setHeader("signature.key", verified->key.text);
  if (!verified->signer.empty()) m.setHeader("signature.signer", verified->signer);
  if (verified->cert) {
    m.setHeader("signature.subject", verified->cert->subject);
    m.setHeader("signature.issuer", verified->cert->issuer);
    m.setHeader("signature.serial", verified->cert->serial);
    m.setHeader("signature.not-before", verified->cert->not_before);
    m.setHeader("signature.not-after", verified->cert->not_after);
  }
  if (s_.strip) m.setBody(lienthong::xmldsig::withoutSignatures((*doc)->doc()));
  return StepOutcome::kContinue;
}

}  // namespace lienthong::transforms::xmldsig

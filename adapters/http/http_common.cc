#include "adapters/http/http_common.h"
#include "adapters/http/tls.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetSSL.h>

#include <mutex>
#include <ostream>

namespace lienthong::adapters::http {

void initializeSsl() {
  static std::once_flag once;
  std::call_once(once, [] { Poco::Net::initializeSSL(); });
}

std::string errorJson(std::string_view error, std::string_view code, std::string_view route) {
  std::string out;
  out.reserve(error.size() + code.size() + route.size() + 40);
  out += "{\"error\":";
  appendJsonString(out, error);
  if (!route.empty()) {
    out += ",\"route\":";
    appendJsonString(out, route);
  }
  out += ",\"code\":";
  appendJsonString(out, code);
  out += '}';
  return out;
}

void sendResponse(Poco::Net::HTTPServerResponse& response, int status,
                  std::string_view content_type, std::string_view body) {
  response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  if (!content_type.empty()) response.setContentType(std::string(content_type));
  response.setContentLength64(static_cast<Poco::Int64>(body.size()));
  // send() writes the header through the same buffered stream as the body, so a small
  // response leaves in one segment (sendBuffer() would use two writes).
  std::ostream& out = response.send();
  out.write(body.data(), static_cast<std::streamsize>(body.size()));
}

void sendError(Poco::Net::HTTPServerResponse& response, int status, std::string_view error,
               std::string_view code, std::string_view route) {
  sendResponse(response, status, "application/json", errorJson(error, code, route));
}

Poco::Net::Context::Ptr serverTlsContext(const std::string& cert_file, const std::string& key_file,
                                         const std::string& client_ca, bool require_client_cert) {
  initializeSsl();
  Poco::Net::Context::Params params;
  params.certificateFile = cert_file;
  params.privateKeyFile = key_file;
  params.caLocation = client_ca;
  params.loadDefaultCAs = false;
  params.verificationMode = client_ca.empty()     ? Poco::Net::Context::VERIFY_NONE
                            : require_client_cert ? Poco::Net::Context::VERIFY_STRICT
                                                  : Poco::Net::Context::VERIFY_RELAXED;
  Poco::Net::Context::Ptr context =
      new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, params);
  context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
  // POCO's extended verification would match the client certificate's names against the
  // client's IP address.
  context->enableExtendedCertificateVerification(false);
  return context;
}

Poco::Net::Context::Ptr clientTlsContext(const TlsClientOptions& o) {
  initializeSsl();
  Poco::Net::Context::Params params;
  params.caLocation = o.ca_file;
  params.loadDefaultCAs = o.ca_file.empty();
  params.verificationMode =
      o.verify ? Poco::Net::Context::VERIFY_RELAXED : Poco::Net::Context::VERIFY_NONE;
  params.certificateFile = o.cert_file;
  params.privateKeyFile = o.key_file;
  Poco::Net::Context::Ptr context =
      new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
  context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
  context->enableExtendedCertificateVerification(o.verify && o.check_host);
  if (o.partial_chain) {
    X509_STORE_set_flags(SSL_CTX_get_cert_store(context->sslContext()), X509_V_FLAG_PARTIAL_CHAIN);
  }
  return context;
}

}  // namespace lienthong::adapters::http

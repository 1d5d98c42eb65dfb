#pragma once
// TLS contexts as lienthong sets them up: the client side (the HTTP outputs, lienthongctl's
// admin client) and the server side (the HTTP listeners, the admin API).

#include <Poco/Net/Context.h>

#include <string>

namespace lienthong::adapters::http {

struct TlsClientOptions {
  std::string ca_file;         // trust anchors (PEM); "" = the system's CAs
  bool verify = true;          // false: the server's certificate is not checked at all
  bool check_host = true;      // the server's name must match its certificate
  bool partial_chain = false;  // a certificate in ca_file is trusted as it is (without its root)
  std::string cert_file;       // a client certificate (chain, PEM) and its key; "" = none
  std::string key_file;
};

// A client context: TLS 1.2 or later, as the options say. Throws Poco::Exception (a CA
// file, certificate or key that cannot be loaded).
Poco::Net::Context::Ptr clientTlsContext(const TlsClientOptions& options);

// A server context: its certificate (chain) and key, TLS 1.2 or later. With `client_ca`,
// client certificates issued under it are asked for and verified — `require_client_cert`:
// a client without one does not connect; else it may go on without (and authenticate
// otherwise). A client certificate is checked against client_ca only, not matched against
// the client's address. Throws Poco::Exception.
Poco::Net::Context::Ptr serverTlsContext(const std::string& cert_file, const std::string& key_file,
                                         const std::string& client_ca, bool require_client_cert);

}  // namespace lienthong::adapters::http

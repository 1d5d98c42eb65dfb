#pragma once
// The TLS client side as the HTTP outputs and lienthongctl's admin client set it up.

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

}  // namespace lienthong::adapters::http

#pragma once
// A simulated identity provider (the national single sign-on, docs/identity.md): tokens
// (JWT, RS256) for the sample citizens, signed with the demo key, and its JWK set.
//   POST /token?so_dinh_danh=N  {"id_token","access_token","token_type":"Bearer","expires_in"}
//        (an unknown number is 404)
//   GET  /jwks                  the public keys (config/demo/sso-jwks.json)

#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include <memory>
#include <string>

typedef struct evp_pkey_st EVP_PKEY;

namespace lienthong::sim {

struct IdpSimSettings {
  std::string key_file = "config/demo/sso-signing-key.pem";
  std::string jwks_file = "config/demo/sso-jwks.json";
  std::string kid = "sso-demo-1";
  std::string issuer = "https://sso.dichvucong.gov.vn";
  std::string audience = "lienthong-demo";
  int lifetime_s = 3600;
};

class IdpSim {
 public:
  // Throws std::runtime_error when the key cannot be read.
  explicit IdpSim(IdpSimSettings s);
  Poco::Net::HTTPRequestHandlerFactory* factory();
  // A token for the citizen with this personal identification number ("" when unknown).
  std::string token(const std::string& so_dinh_danh) const;

 private:
  IdpSimSettings s_;
  std::shared_ptr<EVP_PKEY> key_;
  std::string jwks_;
};

}  // namespace lienthong::sim

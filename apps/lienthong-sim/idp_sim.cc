#include "apps/lienthong-sim/idp_sim.h"

#include <Poco/URI.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "apps/lienthong-sim/sim_http.h"
#include "core/json_text.h"
#include "transforms/identity/jwt.h"

namespace lienthong::sim {
namespace {

// The sample citizens: personal identification number, name.
const char* const kCitizens[][2] = {
    {"001190012345", "Nguyễn Thị Hồng Nhung"},
    {"031088004567", "Lê Minh Tuấn"},
    {"049195007788", "Phạm Thị Thu Hà"},
    {"002087009911", "Đặng Quốc Việt"},
};

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

IdpSim::IdpSim(IdpSimSettings s) : s_(std::move(s)), jwks_(readAll(s_.jwks_file)) {
  const std::string pem = readAll(s_.key_file);
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!key) throw std::runtime_error(s_.key_file + " holds no private key");
  key_.reset(key, EVP_PKEY_free);
}

std::string IdpSim::token(const std::string& so_dinh_danh) const {
  const char* name = nullptr;
  for (const auto& c : kCitizens) {
    if (so_dinh_danh == c[0]) name = c[1];
  }
  if (!name) return {};
  const long long now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  std::string claims = "{\"iss\":";
  appendJsonString(claims, s_.issuer);
  claims += ",\"aud\":";
  appendJsonString(claims, s_.audience);
  claims += ",\"sub\":";
  appendJsonString(claims, so_dinh_danh);
  claims += ",\"so_dinh_danh\":";
  appendJsonString(claims, so_dinh_danh);
  claims += ",\"ho_ten\":";
  appendJsonString(claims, name);
  claims += ",\"acr\":\"LoA2\",\"iat\":" + std::to_string(now) +
            ",\"exp\":" + std::to_string(now + s_.lifetime_s) + "}";
  std::string header = "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":";
  appendJsonString(header, s_.kid);
  header += "}";
  const std::string input =
      identity::base64UrlEncode(header) + "." + identity::base64UrlEncode(claims);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  std::size_t length = 0;
  std::string sig;
  if (md && EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, key_.get()) == 1 &&
      EVP_DigestSign(md, nullptr, &length, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) == 1) {
    sig.resize(length);
    if (EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &length,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
      sig.clear();
    }
    sig.resize(sig.empty() ? 0 : length);
  }
  EVP_MD_CTX_free(md);
  if (sig.empty()) return {};
  return input + "." + identity::base64UrlEncode(sig);
}

Poco::Net::HTTPRequestHandlerFactory* IdpSim::factory() {
  return simFactory([this](const Poco::Net::HTTPServerRequest& request, const std::string&) {
    const Poco::URI u(request.getURI());
    if (request.getMethod() == "GET" && u.getPath() == "/jwks") return SimAnswer{200, jwks_};
    if (request.getMethod() == "POST" && u.getPath() == "/token") {
      std::string number;
      for (const auto& [k, v] : u.getQueryParameters()) {
        if (k == "so_dinh_danh") number = v;
      }
      const std::string t = token(number);
      if (t.empty()) return SimAnswer{404, R"({"error":"không có công dân này"})"};
      return SimAnswer{200, R"({"id_token":")" + t + R"(","access_token":")" + t +
                                R"(","token_type":"Bearer","expires_in":)" +
                                std::to_string(s_.lifetime_s) + "}"};
    }
    return SimAnswer{404, R"({"error":"no such service"})"};
  });
}

}  // namespace lienthong::sim

// lienthong-sim: the systems lienthong connects, simulated for the demo and the
// end-to-end tests. Now: the national public service portal (docs/portal.md).
//
//   lienthong-sim portal [--address 127.0.0.1] [--port 0] [--username U] [--password P]
//                        [--dstcode D] [--session-calls N]
//
// Prints "portal listening on http://ADDRESS:PORT/adapter" (flushed) once it accepts
// connections; exits 0 on SIGTERM or SIGINT.

#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "apps/lienthong-sim/portal_sim.h"

namespace {

[[noreturn]] void usage(int code) {
  std::fprintf(code == 0 ? stdout : stderr,
               "usage: lienthong-sim portal [--address A] [--port N] [--username U]\n"
               "                            [--password P] [--dstcode D] [--session-calls N]\n");
  std::exit(code);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage(2);
  const std::string_view what = argv[1];
  if (what == "-h" || what == "--help") usage(0);
  if (what != "portal") usage(2);
  std::string address = "127.0.0.1";
  int port = 0;
  lienthong::sim::PortalSimSettings s;
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) usage(2);
    const std::string value = argv[++i];
    if (arg == "--address") {
      address = value;
    } else if (arg == "--port") {
      port = std::atoi(value.c_str());
    } else if (arg == "--username") {
      s.username = value;
    } else if (arg == "--password") {
      s.password = value;
    } else if (arg == "--dstcode") {
      s.dstcode = value;
    } else if (arg == "--session-calls") {
      s.session_calls = std::atoi(value.c_str());
    } else {
      usage(2);
    }
  }
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  lienthong::sim::PortalSim sim(s);
  Poco::Net::ServerSocket socket(
      Poco::Net::SocketAddress(address, static_cast<Poco::UInt16>(port)));
  auto* params = new Poco::Net::HTTPServerParams;
  params->setKeepAlive(true);
  params->setMaxThreads(16);
  Poco::Net::HTTPServer server(sim.factory(), socket, params);
  server.start();
  std::printf("portal listening on http://%s:%u/adapter\n", address.c_str(),
              static_cast<unsigned>(socket.address().port()));
  std::fflush(stdout);
  int sig = 0;
  sigwait(&sigs, &sig);
  server.stopAll(true);
  return 0;
}

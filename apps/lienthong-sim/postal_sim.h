#pragma once
// A simulated public postal service (docs/postal.md): OAuth2 client credentials, orders,
// cancels, and tracking records that follow each order as the day goes on.
//   POST /token                   {"access_token","expires_in"} for the client's Basic
//                                 credentials
//   POST /api/orders              {"CustomerCode","OrderNumber",...} -> {"Code":"00",
//                                 "ItemCode"}; a known OrderNumber is Code "12"
//   POST /api/orders/cancel       {"CustomerCode","OrderNumber"} -> {"Code":"00"}
//   GET  /api/tracking?customerCode=&lastId=&pageSize=
//                                 {"Code":"00","Data":[records after lastId]}: for each
//                                 order PICKED_UP, IN_TRANSIT, DELIVERED, a step apart
//   GET  /sim/messages            what it received and did

#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "apps/lienthong-sim/sim_journal.h"

namespace lienthong::sim {

struct PostalSimSettings {
  std::string client_id = "lienthong-demo";
  std::string client_secret = "lienthong-demo";
  int step_ms = 1000;
  // The Id before the first tracking record. A real service's Ids never restart; by
  // default they go on from the time the simulator starts (milliseconds since 2026), so a
  // daemon's kept cursor does not hide a restarted simulator's records.
  long long first_id = -1;  // -1: from the time
};

class PostalSim {
 public:
  explicit PostalSim(PostalSimSettings s);
  Poco::Net::HTTPRequestHandlerFactory* factory();

 private:
  struct Event {
    std::chrono::steady_clock::time_point due;
    std::string order, item, status, message;
  };
  std::pair<int, std::string> handle(const std::string& method, const std::string& uri,
                                     const std::string& body, const std::string& authorization);

  const PostalSimSettings s_;
  std::mutex mutex_;
  std::map<std::string, std::string> orders_;  // OrderNumber -> ItemCode
  std::vector<Event> events_;                  // Id = base_ + index + 1, due in order
  long long base_ = 0;
  SimJournal journal_{"buu-dien"};
  std::string token_;
};

}  // namespace lienthong::sim

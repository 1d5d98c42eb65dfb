#include "lienthong/registry.h"

#include <gtest/gtest.h>

#include "core/builtins.h"

namespace lienthong {
namespace {

TEST(Registry, FindsWhatWasAddedAndRefusesDuplicates) {
  Registry r;
  StepFactory f = [](const YAML::Node&, BuildContext&) { return std::unique_ptr<Step>(); };
  ASSERT_TRUE(r.addStep("noop", f).ok());
  EXPECT_NE(r.step("noop"), nullptr);
  EXPECT_EQ(r.step("other"), nullptr);
  Result<void> dup = r.addStep("noop", f);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kInvalidConfig);
  EXPECT_NE(dup.error().message.find("duplicate step 'noop'"), std::string::npos);
  EXPECT_FALSE(r.addStep("", f).ok());
  EXPECT_FALSE(r.addStep("x", nullptr).ok());
}

TEST(Registry, BuiltinsRegisterEveryKindOnceThroughThePublicCalls) {
  Registry r;
  registerBuiltins(r);
  EXPECT_EQ(r.stepNames(), (std::vector<std::string>{"admin-units",
                                                     "aggregate",
                                                     "choice",
                                                     "dossier-code",
                                                     "extract",
                                                     "filter",
                                                     "from-onestop",
                                                     "from-portal",
                                                     "json-to-xml",
                                                     "log",
                                                     "normalize-text",
                                                     "oidc-verify",
                                                     "overdue-dossiers",
                                                     "overdue-note",
                                                     "payment-checksum",
                                                     "read-file",
                                                     "remove-header",
                                                     "set-body",
                                                     "set-header",
                                                     "sign",
                                                     "split",
                                                     "to",
                                                     "track-dossier",
                                                     "transform",
                                                     "validate",
                                                     "verify",
                                                     "vneid-decrypt",
                                                     "xml-to-json"}));
  EXPECT_EQ(r.inboundNames(),
            (std::vector<std::string>{"amqp", "file", "http", "postal", "schedule"}));
  EXPECT_EQ(r.outboundNames(),
            (std::vector<std::string>{"amqp", "file", "http", "onestop", "portal", "postal"}));
  EXPECT_EQ(r.listenerKinds(), (std::vector<std::string>{"http"}));
  EXPECT_EQ(r.connectionKinds(),
            (std::vector<std::string>{"amqp", "http", "onestop", "portal", "postal"}));
  // A plugin trying to take a built-in name is refused.
  EXPECT_FALSE(r.addInbound("http", [](const YAML::Node&, BuildContext&) {
                  return std::unique_ptr<InboundEndpoint>();
                }).ok());
}

}  // namespace
}  // namespace lienthong

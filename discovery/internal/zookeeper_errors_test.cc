// Every C client return code: its name, and the status it becomes (code and
// message) in each context that changes it. No network.

#include "discovery/internal/zookeeper_errors.h"

#include <zookeeper/zookeeper.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slacker::discovery::internal {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Code {
  int rc;
  const char* name;
  absl::StatusCode code;  // While open, on the call's own session.
};

// Every code ZooKeeperErrorName knows, with its status.
const Code kCodes[] = {
    {ZSYSTEMERROR, "ZSYSTEMERROR", absl::StatusCode::kInternal},
    {ZRUNTIMEINCONSISTENCY, "ZRUNTIMEINCONSISTENCY",
     absl::StatusCode::kInternal},
    {ZDATAINCONSISTENCY, "ZDATAINCONSISTENCY", absl::StatusCode::kInternal},
    {ZCONNECTIONLOSS, "ZCONNECTIONLOSS", absl::StatusCode::kUnavailable},
    {ZMARSHALLINGERROR, "ZMARSHALLINGERROR", absl::StatusCode::kInternal},
    {ZUNIMPLEMENTED, "ZUNIMPLEMENTED", absl::StatusCode::kInternal},
    {ZOPERATIONTIMEOUT, "ZOPERATIONTIMEOUT", absl::StatusCode::kUnavailable},
    {ZBADARGUMENTS, "ZBADARGUMENTS", absl::StatusCode::kInvalidArgument},
    {ZINVALIDSTATE, "ZINVALIDSTATE", absl::StatusCode::kUnavailable},
    {ZNEWCONFIGNOQUORUM, "ZNEWCONFIGNOQUORUM", absl::StatusCode::kInternal},
    {ZRECONFIGINPROGRESS, "ZRECONFIGINPROGRESS", absl::StatusCode::kInternal},
    {ZSSLCONNECTIONERROR, "ZSSLCONNECTIONERROR", absl::StatusCode::kInternal},
    {ZAPIERROR, "ZAPIERROR", absl::StatusCode::kInternal},
    {ZNONODE, "ZNONODE", absl::StatusCode::kNotFound},
    {ZNOAUTH, "ZNOAUTH", absl::StatusCode::kPermissionDenied},
    {ZBADVERSION, "ZBADVERSION", absl::StatusCode::kFailedPrecondition},
    {ZNOCHILDRENFOREPHEMERALS, "ZNOCHILDRENFOREPHEMERALS",
     absl::StatusCode::kFailedPrecondition},
    {ZNODEEXISTS, "ZNODEEXISTS", absl::StatusCode::kAlreadyExists},
    {ZNOTEMPTY, "ZNOTEMPTY", absl::StatusCode::kFailedPrecondition},
    {ZSESSIONEXPIRED, "ZSESSIONEXPIRED", absl::StatusCode::kUnavailable},
    {ZINVALIDCALLBACK, "ZINVALIDCALLBACK", absl::StatusCode::kInternal},
    {ZINVALIDACL, "ZINVALIDACL", absl::StatusCode::kInvalidArgument},
    {ZAUTHFAILED, "ZAUTHFAILED", absl::StatusCode::kPermissionDenied},
    {ZCLOSING, "ZCLOSING", absl::StatusCode::kUnavailable},
    {ZNOTHING, "ZNOTHING", absl::StatusCode::kInternal},
    {ZSESSIONMOVED, "ZSESSIONMOVED", absl::StatusCode::kUnavailable},
    {ZNOTREADONLY, "ZNOTREADONLY", absl::StatusCode::kInternal},
    {ZEPHEMERALONLOCALSESSION, "ZEPHEMERALONLOCALSESSION",
     absl::StatusCode::kInternal},
    {ZNOWATCHER, "ZNOWATCHER", absl::StatusCode::kInternal},
    {ZRECONFIGDISABLED, "ZRECONFIGDISABLED", absl::StatusCode::kInternal},
    {ZSESSIONCLOSEDREQUIRESASLAUTH, "ZSESSIONCLOSEDREQUIRESASLAUTH",
     absl::StatusCode::kInternal},
    {ZTHROTTLEDOP, "ZTHROTTLEDOP", absl::StatusCode::kUnavailable},
};

bool IsConnectionError(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable;
}

TEST(ZooKeeperErrorsTest, NamesEveryCode) {
  EXPECT_STREQ(ZooKeeperErrorName(ZOK), "ZOK");
  for (const Code& c : kCodes) EXPECT_STREQ(ZooKeeperErrorName(c.rc), c.name);
  EXPECT_STREQ(ZooKeeperErrorName(-12345), "ZUNKNOWN");
}

TEST(ZooKeeperErrorsTest, MapsEveryCodeAndNamesOperationPathAndError) {
  for (const Code& c : kCodes) {
    const absl::Status status =
        ZooKeeperError(c.rc, "get", "/a/b", ZooKeeperErrorContext());
    EXPECT_EQ(status.code(), c.code) << c.name << ": " << status;
    EXPECT_THAT(status.message(), HasSubstr(std::string("get /a/b: ") + c.name +
                                            " (" + zerror(c.rc) + ")"))
        << c.name;
  }
  const absl::Status unknown =
      ZooKeeperError(-12345, "set", "/x", ZooKeeperErrorContext());
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInternal) << unknown;
  EXPECT_THAT(unknown.message(), HasSubstr("set /x: ZUNKNOWN"));
}

TEST(ZooKeeperErrorsTest, ConnectionErrorsAreCancelledOnceClosed) {
  ZooKeeperErrorContext closed;
  closed.client_closed = true;
  for (const Code& c : kCodes) {
    const absl::Status status = ZooKeeperError(c.rc, "get", "/a", closed);
    if (IsConnectionError(c.code)) {
      EXPECT_EQ(status.code(), absl::StatusCode::kCancelled)
          << c.name << ": " << status;
      EXPECT_THAT(status.message(), HasSubstr(": the client is closed"));
    } else {
      EXPECT_EQ(status.code(), c.code) << c.name << ": " << status;
    }
  }
}

TEST(ZooKeeperErrorsTest, SaysWhetherTheSessionExpiredOrTheConnectionWasLost) {
  const absl::Status lost =
      ZooKeeperError(ZCONNECTIONLOSS, "create", "/a", ZooKeeperErrorContext());
  EXPECT_THAT(lost.message(),
              HasSubstr("the connection was lost; the operation may or may "
                        "not have been applied; retry once reconnected"));
  for (int rc : {ZSESSIONEXPIRED, ZINVALIDSTATE}) {
    EXPECT_THAT(
        ZooKeeperError(rc, "create", "/a", ZooKeeperErrorContext()).message(),
        HasSubstr("the session expired; a new one is being made"))
        << ZooKeeperErrorName(rc);
  }
  ZooKeeperErrorContext replaced;
  replaced.session_replaced = true;
  for (int rc : {ZCONNECTIONLOSS, ZOPERATIONTIMEOUT, ZSESSIONMOVED,
                 ZTHROTTLEDOP, ZCLOSING}) {
    const absl::Status status = ZooKeeperError(rc, "create", "/a", replaced);
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
    EXPECT_THAT(status.message(), HasSubstr("the session expired"))
        << ZooKeeperErrorName(rc);
  }
}

TEST(ZooKeeperErrorsTest, PermissionErrorsNameTheUserNeverThePassword) {
  for (int rc : {ZNOAUTH, ZAUTHFAILED}) {
    const absl::Status anonymous =
        ZooKeeperError(rc, "set", "/a", ZooKeeperErrorContext());
    EXPECT_THAT(anonymous.message(),
                HasSubstr("does not grant this to a client without "
                          "credentials; check ZooKeeperOptions::digest"));
    ZooKeeperErrorContext user;
    user.digest = "alice:secret";
    const absl::Status named = ZooKeeperError(rc, "set", "/a", user);
    EXPECT_THAT(named.message(), HasSubstr("digest user 'alice'"));
    EXPECT_THAT(named.message(), Not(HasSubstr("secret")));
  }
}

}  // namespace
}  // namespace slacker::discovery::internal

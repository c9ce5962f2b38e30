#include "discovery/internal/zookeeper_errors.h"

#include <zookeeper/zookeeper.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace slacker::discovery::internal {

const char* ZooKeeperErrorName(int rc) {
  switch (rc) {
    case ZOK:
      return "ZOK";
    case ZSYSTEMERROR:
      return "ZSYSTEMERROR";
    case ZRUNTIMEINCONSISTENCY:
      return "ZRUNTIMEINCONSISTENCY";
    case ZDATAINCONSISTENCY:
      return "ZDATAINCONSISTENCY";
    case ZCONNECTIONLOSS:
      return "ZCONNECTIONLOSS";
    case ZMARSHALLINGERROR:
      return "ZMARSHALLINGERROR";
    case ZUNIMPLEMENTED:
      return "ZUNIMPLEMENTED";
    case ZOPERATIONTIMEOUT:
      return "ZOPERATIONTIMEOUT";
    case ZBADARGUMENTS:
      return "ZBADARGUMENTS";
    case ZINVALIDSTATE:
      return "ZINVALIDSTATE";
    case ZNEWCONFIGNOQUORUM:
      return "ZNEWCONFIGNOQUORUM";
    case ZRECONFIGINPROGRESS:
      return "ZRECONFIGINPROGRESS";
    case ZSSLCONNECTIONERROR:
      return "ZSSLCONNECTIONERROR";
    case ZAPIERROR:
      return "ZAPIERROR";
    case ZNONODE:
      return "ZNONODE";
    case ZNOAUTH:
      return "ZNOAUTH";
    case ZBADVERSION:
      return "ZBADVERSION";
    case ZNOCHILDRENFOREPHEMERALS:
      return "ZNOCHILDRENFOREPHEMERALS";
    case ZNODEEXISTS:
      return "ZNODEEXISTS";
    case ZNOTEMPTY:
      return "ZNOTEMPTY";
    case ZSESSIONEXPIRED:
      return "ZSESSIONEXPIRED";
    case ZINVALIDCALLBACK:
      return "ZINVALIDCALLBACK";
    case ZINVALIDACL:
      return "ZINVALIDACL";
    case ZAUTHFAILED:
      return "ZAUTHFAILED";
    case ZCLOSING:
      return "ZCLOSING";
    case ZNOTHING:
      return "ZNOTHING";
    case ZSESSIONMOVED:
      return "ZSESSIONMOVED";
    case ZNOTREADONLY:
      return "ZNOTREADONLY";
    case ZEPHEMERALONLOCALSESSION:
      return "ZEPHEMERALONLOCALSESSION";
    case ZNOWATCHER:
      return "ZNOWATCHER";
    case ZRECONFIGDISABLED:
      return "ZRECONFIGDISABLED";
    case ZSESSIONCLOSEDREQUIRESASLAUTH:
      return "ZSESSIONCLOSEDREQUIRESASLAUTH";
    case ZTHROTTLEDOP:
      return "ZTHROTTLEDOP";
  }
  return "ZUNKNOWN";
}

absl::Status ZooKeeperError(int rc, absl::string_view operation,
                            absl::string_view path,
                            const ZooKeeperErrorContext& context) {
  std::string what =
      absl::StrCat(operation, " ", path, ": ", ZooKeeperErrorName(rc), " (",
                   zerror(rc), ")");
  switch (rc) {
    case ZNONODE:
      return absl::NotFoundError(what);
    case ZNODEEXISTS:
      return absl::AlreadyExistsError(what);
    case ZBADVERSION:
    case ZNOTEMPTY:
    case ZNOCHILDRENFOREPHEMERALS:
      return absl::FailedPreconditionError(what);
    case ZNOAUTH:
    case ZAUTHFAILED:
      return absl::PermissionDeniedError(absl::StrCat(
          what, ": the node's ACL does not grant this to ",
          context.digest.empty()
              ? std::string("a client without credentials")
              : absl::StrCat("digest user '",
                             context.digest.substr(0, context.digest.find(':')),
                             "'"),
          "; check ZooKeeperOptions::digest"));
    case ZBADARGUMENTS:
    case ZINVALIDACL:
      return absl::InvalidArgumentError(what);
    case ZCLOSING:
      if (context.client_closed)
        return absl::CancelledError(
            absl::StrCat(what, ": the client is closed"));
      [[fallthrough]];
    case ZCONNECTIONLOSS:
    case ZSESSIONEXPIRED:
    case ZOPERATIONTIMEOUT:
    case ZINVALIDSTATE:
    case ZSESSIONMOVED:
    case ZTHROTTLEDOP:
      if (context.client_closed)
        return absl::CancelledError(
            absl::StrCat(what, ": the client is closed"));
      return absl::UnavailableError(absl::StrCat(
          what,
          context.session_replaced || rc == ZSESSIONEXPIRED ||
                  rc == ZINVALIDSTATE
              ? ": the session expired; a new one is being made, retry then"
              : ": the connection was lost; the operation may or may not have "
                "been applied; retry once reconnected"));
    default:
      return absl::InternalError(what);
  }
}

}  // namespace slacker::discovery::internal

// The standard inspection services on a cluster server in a child process
// (testing/programs:cluster_server): gRPC's reflection protocol lists and
// describes its services, as grpcurl would; with channelz on, channelz is
// served but, like every grpc.* service, never published as a namespace
// (not in the registry, not in `slackerctl ls`).
//
// The reflection client is generated from a copy of the protocol
// (//protos/grpc/reflection/v1alpha), which must not share a process with a
// cluster server: hence the child process.

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "discovery/registry_layout.h"
#include "discovery/zookeeper_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protos/grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "testing/child.h"
#include "testing/run_command.h"
#include "testing/zookeeper_fixture.h"

ABSL_FLAG(std::string, server_program, "",
          "path of testing/programs/cluster_server");
ABSL_FLAG(std::string, slackerctl, "", "path of tools/slackerctl");

namespace slacker {
namespace {

using ::slacker::testing::Child;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
namespace reflection = ::grpc::reflection::v1alpha;

constexpr char kEcho[] = "slacker.testing.EchoService";
constexpr char kChannelz[] = "grpc.channelz.v1.Channelz";
constexpr char kReflection[] = "grpc.reflection.v1alpha.ServerReflection";

// One request/response exchange on the reflection stream of `address`.
std::optional<reflection::ServerReflectionResponse> Ask(
    const std::string& address,
    const reflection::ServerReflectionRequest& request) {
  auto stub = reflection::ServerReflection::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  auto stream = stub->ServerReflectionInfo(&context);
  reflection::ServerReflectionResponse response;
  const bool answered = stream->Write(request) && stream->Read(&response);
  stream->WritesDone();
  const grpc::Status status = stream->Finish();
  if (!answered) {
    ADD_FAILURE() << "no reflection answer from " << address << ": "
                  << status.error_code() << " " << status.error_message();
    return std::nullopt;
  }
  return response;
}

// The services `address` lists through reflection ("grpcurl list").
std::vector<std::string> ListServices(const std::string& address) {
  reflection::ServerReflectionRequest request;
  request.set_list_services("");
  std::vector<std::string> names;
  std::optional<reflection::ServerReflectionResponse> response =
      Ask(address, request);
  if (!response.has_value()) return names;
  for (const auto& service : response->list_services_response().service()) {
    names.push_back(service.name());
  }
  return names;
}

// What a program prints on stdout, run to its end.
std::string Output(const std::string& command) {
  return slacker::testing::RunCommand(command).out;
}

class InspectionServicesTest : public slacker::testing::ZooKeeperTest {
 protected:
  std::unique_ptr<Child> StartServer(const std::vector<std::string>& flags) {
    const std::string program = absl::GetFlag(FLAGS_server_program);
    EXPECT_FALSE(program.empty()) << "pass --server_program=<program>";
    std::vector<std::string> args = {program, "--zookeeper=" + ConnectString(),
                                     "--drain_ms=0"};
    args.insert(args.end(), flags.begin(), flags.end());
    return std::make_unique<Child>(args);
  }
};

TEST_F(InspectionServicesTest, ReflectionListsAndDescribesTheServices) {
  std::unique_ptr<Child> server = StartServer({});
  const std::optional<std::string> address = server->WaitForLine("published ");
  ASSERT_TRUE(address.has_value());

  const std::vector<std::string> services = ListServices(*address);
  EXPECT_THAT(services, Contains(kEcho));
  EXPECT_THAT(services, Contains(kReflection));

  reflection::ServerReflectionRequest describe;
  describe.set_file_containing_symbol(kEcho);
  std::optional<reflection::ServerReflectionResponse> file =
      Ask(*address, describe);
  ASSERT_TRUE(file.has_value());
  ASSERT_GT(file->file_descriptor_response().file_descriptor_proto_size(), 0)
      << file->DebugString();
  // The serialized FileDescriptorProto names the service and its methods.
  EXPECT_THAT(file->file_descriptor_response().file_descriptor_proto(0),
              HasSubstr("EchoService"));
}

TEST_F(InspectionServicesTest, ReflectionCanBeTurnedOff) {
  std::unique_ptr<Child> server = StartServer({"--reflection=false"});
  const std::optional<std::string> address = server->WaitForLine("published ");
  ASSERT_TRUE(address.has_value());
  auto stub = reflection::ServerReflection::NewStub(
      grpc::CreateChannel(*address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  auto stream = stub->ServerReflectionInfo(&context);
  reflection::ServerReflectionRequest request;
  request.set_list_services("");
  stream->Write(request);
  stream->WritesDone();
  reflection::ServerReflectionResponse response;
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(InspectionServicesTest, ChannelzIsServedButNeverPublished) {
  std::unique_ptr<Child> server = StartServer({"--channelz"});
  const std::optional<std::string> address = server->WaitForLine("published ");
  ASSERT_TRUE(address.has_value());
  EXPECT_THAT(ListServices(*address), Contains(kChannelz));

  discovery::ZooKeeperOptions options;
  options.connect_string = ConnectString();
  auto zk = discovery::ZooKeeperClient::Connect(options);
  ASSERT_TRUE(zk.ok()) << zk.status();
  const discovery::RegistryLayout layout(discovery::kDefaultRegistryRoot,
                                         "test");
  auto namespaces = (*zk)->GetChildren(layout.NamespacesPath());
  ASSERT_TRUE(namespaces.ok()) << namespaces.status();
  EXPECT_THAT(namespaces->names, ElementsAre(kEcho));

  const std::string slackerctl = absl::GetFlag(FLAGS_slackerctl);
  ASSERT_FALSE(slackerctl.empty()) << "pass --slackerctl=<program>";
  const std::string ls = Output(absl::StrCat(
      slackerctl, " --zk=", ConnectString(), " --cluster=test ls 2>/dev/null"));
  EXPECT_THAT(ls, HasSubstr(kEcho));
  EXPECT_THAT(ls, Not(HasSubstr("grpc.")));
}

}  // namespace
}  // namespace slacker

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  return RUN_ALL_TESTS();
}

#include "framework/internal/service_catalog.h"

#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/grpcpp.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protos/slacker/testing/echo.grpc.pb.h"

namespace slacker::internal {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;

TEST(DescribeServiceTest, DescribesEveryMethodWithItsTypes) {
  absl::StatusOr<ServiceDescription> echo =
      DescribeService("slacker.testing.EchoService");
  ASSERT_TRUE(echo.ok()) << echo.status();
  EXPECT_EQ(echo->name, "slacker.testing.EchoService");
  ASSERT_EQ(echo->methods.size(), 2u);
  const cluster::MethodInfo& method = echo->methods[0].second;
  EXPECT_EQ(echo->methods[0].first, "Echo");
  EXPECT_EQ(method.path(), "/slacker.testing.EchoService/Echo");
  EXPECT_EQ(method.request_type(), "slacker.testing.Ping");
  EXPECT_EQ(method.response_type(), "slacker.testing.Ping");
  EXPECT_EQ(method.streaming(), cluster::MethodInfo::UNARY);
  EXPECT_EQ(echo->methods[1].second.request_type(), "google.protobuf.Empty");

  // The descriptors are enough to rebuild the service elsewhere: every file,
  // imports before importers.
  google::protobuf::FileDescriptorSet files;
  ASSERT_TRUE(files.ParseFromString(method.file_descriptor_set()));
  std::vector<std::string> names;
  for (const auto& file : files.file()) names.push_back(file.name());
  EXPECT_THAT(names, ElementsAre("google/protobuf/empty.proto",
                                 "protos/slacker/testing/ping.proto",
                                 "protos/slacker/testing/echo.proto"));
  google::protobuf::DescriptorPool pool;
  for (const auto& file : files.file()) {
    ASSERT_NE(pool.BuildFile(file), nullptr) << file.name();
  }
  EXPECT_NE(pool.FindMethodByName("slacker.testing.EchoService.Echo"), nullptr);
}

TEST(DescribeServiceTest, UnknownServiceIsNotFound) {
  absl::Status status = DescribeService("no.such.Service").status();
  EXPECT_TRUE(absl::IsNotFound(status));
  EXPECT_THAT(std::string(status.message()),
              ::testing::HasSubstr("no.such.Service"));
}

class Echo final : public slacker::testing::EchoService::Service {};

TEST(ServiceNameCollectorTest, RecordsWhatTheBuilderRegistered) {
  ServiceNameCollector collector;
  Echo echo;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&echo);
  builder.SetOption(collector.MakeOption());
  EXPECT_TRUE(collector.names().empty());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  EXPECT_THAT(collector.names(), Contains("slacker.testing.EchoService"));
  server->Shutdown();
}

}  // namespace
}  // namespace slacker::internal

// ParseCuratorInstance: reads what Curator 5.4's JsonInstanceSerializer writes
// (the texts below are its output, captured with Debian's
// libcurator-discovery-java for ServiceInstance<Object> payloads), keeps the
// payload as written, and refuses hostile text with a message.

#include "discovery/curator_instance_json.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slacker::discovery {
namespace {

using ::testing::HasSubstr;

constexpr absl::string_view kUriSpecJson =
    R"({"parts":[{"value":"scheme","variable":true},)"
    R"({"value":"://","variable":false},{"value":"address","variable":true},)"
    R"({"value":":","variable":false},{"value":"port","variable":true}]})";

// Curator's text for an instance with `payload` (as Jackson wrote it).
std::string Written(absl::string_view payload) {
  return absl::StrCat(
      R"({"name":"api","id":"x","address":"1.2.3.4","port":80,)"
      R"("sslPort":null,"payload":)",
      payload,
      R"(,"registrationTimeUTC":1700000000000,"serviceType":"DYNAMIC",)"
      R"("uriSpec":)",
      kUriSpecJson, "}");
}

TEST(ParseCuratorInstanceTest, ReadsEveryMemberCuratorWrites) {
  absl::StatusOr<CuratorInstance> instance =
      ParseCuratorInstance(Written(R"({"@class":"java.util.LinkedHashMap",)"
                                   R"("k":"v"})"));
  ASSERT_TRUE(instance.ok()) << instance.status();
  EXPECT_EQ(instance->name, "api");
  EXPECT_EQ(instance->id, "x");
  EXPECT_EQ(instance->address, "1.2.3.4");
  EXPECT_EQ(instance->port, 80);
  EXPECT_EQ(instance->ssl_port, std::nullopt);
  EXPECT_EQ(instance->registration_time, absl::FromUnixMillis(1700000000000));
  EXPECT_EQ(instance->service_type, CuratorServiceType::kDynamic);
  EXPECT_TRUE(instance->enabled);
  ASSERT_TRUE(instance->uri_spec.has_value());
  EXPECT_EQ(instance->uri_spec->Template(), "{scheme}://{address}:{port}");
  EXPECT_EQ(instance->uri_spec->ToJson(), kUriSpecJson);
  EXPECT_EQ(instance->Uri(), "http://1.2.3.4:80");
  EXPECT_EQ(instance->payload_json,
            R"({"@class":"java.util.LinkedHashMap","k":"v"})");
  EXPECT_EQ(instance->payload_class, "java.util.LinkedHashMap");
  EXPECT_EQ(instance->payload_value_json, R"({"k":"v"})");
}

TEST(ParseCuratorInstanceTest, PayloadsOfEveryKindKeptAsWritten) {
  const struct {
    std::string written;
    std::string type_id;
    std::string value;
  } cases[] = {
      // What Jackson writes for a String, Integer, Double, Boolean, null.
      {R"("text")", "", R"("text")"},
      {R"("esc\"aped \u00e9")", "", R"("esc\"aped \u00e9")"},
      {"5", "", "5"},
      {"1.5", "", "1.5"},
      {"true", "", "true"},
      {"null", "", "null"},
      // A Long and a List: wrapper arrays; the digits are not rounded.
      {R"(["java.lang.Long",5000000000])", "java.lang.Long", "5000000000"},
      {R"(["java.lang.Long",9007199254740993])", "java.lang.Long",
       "9007199254740993"},
      {R"(["java.util.ArrayList",[1,2]])", "java.util.ArrayList", "[1,2]"},
      // Maps and beans: the type id first; member order and spacing kept.
      {R"({"@class":"java.util.LinkedHashMap"})", "java.util.LinkedHashMap",
       "{}"},
      {R"({"@class":"com.example.Details","z":1,"a":{"n":123456789012345678901}})",
       "com.example.Details", R"({"z":1,"a":{"n":123456789012345678901}})"},
      {R"({ "@class" : "M" , "b" : [ 1 ] })", "M", R"({"b" : [ 1 ] })"},
      // An object some other writer wrote without a type id: untagged.
      {R"({"zone":"a","@class":"late"})", "", R"({"zone":"a","@class":"late"})"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<CuratorInstance> instance =
        ParseCuratorInstance(Written(c.written));
    ASSERT_TRUE(instance.ok()) << c.written << ": " << instance.status();
    EXPECT_EQ(instance->payload_json, c.written);
    EXPECT_EQ(instance->payload_class, c.type_id) << c.written;
    EXPECT_EQ(instance->payload_value_json, c.value) << c.written;
  }
}

TEST(ParseCuratorInstanceTest, NullsAbsentMembersAndUnknownOnes) {
  absl::StatusOr<CuratorInstance> instance = ParseCuratorInstance(
      R"({"name":"api","id":"i","address":null,"port":null,"sslPort":8443,)"
      R"("serviceType":"PERMANENT","uriSpec":null,"enabled":false,)"
      R"("future":{"x":[1]}})");
  ASSERT_TRUE(instance.ok()) << instance.status();
  EXPECT_EQ(instance->address, std::nullopt);
  EXPECT_EQ(instance->port, std::nullopt);
  EXPECT_EQ(instance->ssl_port, 8443);
  EXPECT_EQ(instance->payload_json, "null");
  EXPECT_EQ(instance->registration_time, std::nullopt);
  EXPECT_EQ(instance->service_type, CuratorServiceType::kPermanent);
  EXPECT_FALSE(instance->uri_spec.has_value());
  EXPECT_FALSE(instance->enabled);
  EXPECT_EQ(instance->Uri(), "");
}

TEST(CuratorUriSpecTest, TemplateSplitAndBuiltAsCuratorDoes) {
  absl::StatusOr<CuratorUriSpec> spec =
      CuratorUriSpec::FromTemplate("{scheme}://{address}:{ssl-port}/{[}x{]}{nope}");
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_EQ(spec->parts.size(), 10u);
  EXPECT_EQ(spec->parts[0], (CuratorUriSpecPart{"scheme", true}));
  EXPECT_EQ(spec->parts[1], (CuratorUriSpecPart{"://", false}));
  CuratorInstance instance;
  instance.name = "api";
  instance.id = "x";
  instance.address = "h";
  instance.port = 80;
  instance.ssl_port = 443;
  instance.uri_spec = *spec;
  EXPECT_EQ(instance.Uri(), "https://h:443/{x}{nope}");
  EXPECT_THAT(CuratorUriSpec::FromTemplate("{a{b}}").status().message(),
              HasSubstr("'{' inside a variable at offset 2"));
  EXPECT_THAT(CuratorUriSpec::FromTemplate("a}").status().message(),
              HasSubstr("'}' without '{'"));
  EXPECT_THAT(CuratorUriSpec::FromTemplate("{a").status().message(),
              HasSubstr("not closed"));
}

TEST(ParseCuratorInstanceTest, HostileOrMalformedTextRefusedWithAReason) {
  const struct {
    std::string text;
    std::string says;
  } cases[] = {
      {"", "not a JSON object"},
      {"[1]", "not a JSON object"},
      {"\xEF\xBB\xBF{\"name\":\"a\",\"id\":\"b\"}", "not a JSON object"},
      {R"({"name":"a","id":"b")", "not valid JSON"},
      {R"({"name":"a","id":"b"} x)", "not valid JSON"},
      {std::string("{\"name\":\"a\0\",\"id\":\"b\"}", 22), "NUL"},
      {"{\"name\":\"\xff\",\"id\":\"b\"}", "not valid JSON"},
      {R"({"id":"b"})", "no \"name\""},
      {R"({"name":"a"})", "no \"id\""},
      {R"({"name":"a","id":""})", "no \"id\""},
      {R"({"name":"a","id":"b","name":"c"})", "\"name\" appears twice"},
      {R"({"name":7,"id":"b"})", "\"name\" is not a string"},
      {R"({"name":"a","id":"b","port":70000})", "not a port number"},
      {R"({"name":"a","id":"b","port":"80"})", "not a port number"},
      {R"({"name":"a","id":"b","port":1.5})", "not a port number"},
      {R"({"name":"a","id":"b","port":18446744073709551615})",
       "not a port number"},
      {R"({"name":"a","id":"b","registrationTimeUTC":"x"})", "not an integer"},
      {R"({"name":"a","id":"b","serviceType":"EPHEMERAL"})", "unknown"},
      {R"({"name":"a","id":"b","uriSpec":{"parts":[7]}})", "uriSpec"},
      {R"({"name":"a","id":"b","uriSpec":"{scheme}"})", "uriSpec"},
      {R"({"name":"a","id":"b","enabled":1})", "not a boolean"},
      {absl::StrCat(R"({"name":"a","id":"b","payload":)",
                    std::string(100, '['), std::string(100, ']'), "}"),
       "deep"},
      {absl::StrCat(R"({"name":"a","id":"b","payload":")",
                    std::string(300 * 1024, 'x'), "\"}"),
       "bytes"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<CuratorInstance> instance = ParseCuratorInstance(c.text);
    ASSERT_FALSE(instance.ok()) << c.text.substr(0, 80);
    EXPECT_EQ(instance.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(instance.status().message(), HasSubstr(c.says))
        << c.text.substr(0, 80);
  }
}

}  // namespace
}  // namespace slacker::discovery

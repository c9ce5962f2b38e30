#include "framework/internal/tls_name.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace slacker::internal {

absl::Status ValidateTlsName(absl::string_view name, absl::string_view what) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " '", name.substr(0, 64), name.size() > 64 ? "..." : "", "' ",
        why,
        ": give the DNS name or IP address that the server's certificate "
        "lists in its subjectAltName (letters, digits, '.', '-', '_', ':'; at "
        "most ",
        kMaxTlsNameLength, " characters)"));
  };
  if (name.empty()) return invalid("is empty");
  if (name.size() > kMaxTlsNameLength) return invalid("is too long");
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '-' && c != '_' && c != ':') {
      return invalid("has a character a certificate name cannot have");
    }
  }
  return absl::OkStatus();
}

std::string TlsNameOf(absl::string_view address, absl::string_view tls_name) {
  if (!tls_name.empty()) return std::string(tls_name);
  absl::string_view host = address;
  const size_t colon = host.rfind(':');
  if (colon != absl::string_view::npos) host = host.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::string(host);
}

std::string ExplainConnectionFailure(absl::string_view message,
                                     absl::string_view address,
                                     absl::string_view name,
                                     TlsNameSource source) {
  const std::string lower = absl::AsciiStrToLower(message);
  if (!absl::StrContains(lower, "ssl") && !absl::StrContains(lower, "tls") &&
      !absl::StrContains(lower, "handshake") &&
      !absl::StrContains(lower, "certificate")) {
    return std::string(message);
  }
  absl::string_view from;
  absl::string_view fix;
  switch (source) {
    case TlsNameSource::kChannel:
      from = "the channel's SSL target name override";
      fix = "or drop the override to check each server's own name";
      break;
    case TlsNameSource::kPublished:
      from = "the TLS name the server published: its host unless set";
      fix =
          "or publish the name its certificate carries "
          "(ClusterOptions::tls_name)";
      break;
    case TlsNameSource::kHost:
      from = "the server's host";
      fix =
          "or give the server the name its certificate carries "
          "(ClusterOptions::tls_name)";
      break;
  }
  return absl::StrCat(
      message, ": TLS handshake with ", address,
      " failed, checking its certificate against '", name, "' (", from,
      "): the certificate must be signed by a CA the channel's credentials "
      "trust and list that name in its subjectAltName, ",
      fix);
}

}  // namespace slacker::internal

#include "discovery/cluster_rules.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "discovery/zookeeper_paths.h"

namespace slacker::discovery {
namespace {

constexpr absl::string_view kProtectedPrefix = "_c_";
constexpr absl::string_view kLatch = "-latch-";
constexpr size_t kUuidLength = 36;
constexpr size_t kSequenceLength = 10;

bool IsUuid(absl::string_view text) {
  if (text.size() != kUuidLength) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return false;
    } else if (!absl::ascii_isxdigit(static_cast<unsigned char>(text[i]))) {
      return false;
    }
  }
  return true;
}

std::string Session(int64_t session) {
  return absl::StrCat("0x", absl::Hex(session));
}

}  // namespace

bool IsHostPort(absl::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 1 ||
      port > 65535) {
    return false;
  }
  absl::string_view host = address.substr(0, colon);
  if (host.front() == '[') return host.size() > 2 && host.back() == ']';
  return host.find(':') == absl::string_view::npos;
}

PublisherVerdict JudgePublisher(absl::string_view name, int64_t member_owner,
                                std::optional<int64_t> server_owner) {
  if (!IsHostPort(name)) return PublisherVerdict::kNotHostPort;
  if (member_owner == 0) return PublisherVerdict::kNotEphemeral;
  if (!server_owner.has_value()) return PublisherVerdict::kNoServerNode;
  if (*server_owner != member_owner) return PublisherVerdict::kOtherSession;
  return PublisherVerdict::kCounts;
}

std::string PublisherVerdictReason(PublisherVerdict verdict,
                                   int64_t member_owner,
                                   std::optional<int64_t> server_owner) {
  switch (verdict) {
    case PublisherVerdict::kCounts:
      return "";
    case PublisherVerdict::kNotHostPort:
      return "its name is not host:port with a port in 1..65535";
    case PublisherVerdict::kNotEphemeral:
      return "it is not ephemeral: no server's session owns it";
    case PublisherVerdict::kNoServerNode:
      return "no servers/ node of that address exists";
    case PublisherVerdict::kOtherSession:
      return absl::StrCat("its servers/ node belongs to session ",
                          Session(server_owner.value_or(0)),
                          ", not to the member's session ",
                          Session(member_owner));
  }
  return "";
}

std::optional<int64_t> CandidateSequence(absl::string_view name) {
  if (name.size() != kProtectedPrefix.size() + kUuidLength + kLatch.size() +
                         kSequenceLength ||
      name.substr(0, kProtectedPrefix.size()) != kProtectedPrefix) {
    return std::nullopt;
  }
  name.remove_prefix(kProtectedPrefix.size());
  if (!IsUuid(name.substr(0, kUuidLength))) return std::nullopt;
  name.remove_prefix(kUuidLength);
  if (name.substr(0, kLatch.size()) != kLatch) return std::nullopt;
  return SequenceNumber(name);
}

CandidateVerdict JudgeCandidate(
    const CandidateNode& candidate,
    const std::map<std::string, int64_t>& publishers) {
  if (!CandidateSequence(candidate.name).has_value()) {
    return CandidateVerdict::kNotCandidate;
  }
  auto it = publishers.find(candidate.data);
  if (it == publishers.end() || it->second != candidate.owner ||
      candidate.owner == 0) {
    return CandidateVerdict::kNoPublisher;
  }
  return CandidateVerdict::kCounts;
}

std::string CandidateVerdictReason(CandidateVerdict verdict,
                                   const CandidateNode& candidate) {
  switch (verdict) {
    case CandidateVerdict::kCounts:
      return "";
    case CandidateVerdict::kNotCandidate:
      return "not named _c_<uuid>-latch-<sequence>";
    case CandidateVerdict::kNoPublisher:
      return absl::StrCat("its session ", Session(candidate.owner),
                          " owns no publisher of this namespace at its "
                          "address '",
                          candidate.data, "'");
  }
  return "";
}

std::optional<size_t> LeadingCandidate(
    const std::vector<CandidateNode>& candidates,
    const std::map<std::string, int64_t>& publishers) {
  std::optional<size_t> leader;
  int64_t lowest = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (JudgeCandidate(candidates[i], publishers) !=
        CandidateVerdict::kCounts) {
      continue;
    }
    const int64_t sequence = *CandidateSequence(candidates[i].name);
    if (!leader.has_value() || sequence < lowest) {
      leader = i;
      lowest = sequence;
    }
  }
  return leader;
}

}  // namespace slacker::discovery

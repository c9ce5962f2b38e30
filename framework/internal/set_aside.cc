#include "framework/internal/set_aside.h"

namespace slacker::internal {

bool IsSetAsideFailure(absl::StatusCode code, absl::Duration latency,
                       const SetAsideRule& rule) {
  return code == absl::StatusCode::kUnavailable ||
         code == absl::StatusCode::kDeadlineExceeded ||
         latency > rule.slower_than;
}

bool ServerStats::CallFinished(absl::StatusCode code, absl::Duration latency,
                               const SetAsideRule& rule, absl::Time now) {
  in_flight.fetch_sub(1);
  if (!IsSetAsideFailure(code, latency, rule)) {
    consecutive_failures_.store(0);
    return false;
  }
  const int streak = consecutive_failures_.fetch_add(1) + 1;
  if (rule.after <= 0 || streak < rule.after) return false;
  // One caller wins the exchange and tells the policy.
  const int64_t now_ns = absl::ToUnixNanos(now);
  int64_t until = set_aside_until_ns_.load();
  if (until > now_ns) return false;
  const int64_t next = now_ns + absl::ToInt64Nanoseconds(rule.period);
  if (!set_aside_until_ns_.compare_exchange_strong(until, next)) return false;
  consecutive_failures_.store(0);
  return true;
}

}  // namespace slacker::internal

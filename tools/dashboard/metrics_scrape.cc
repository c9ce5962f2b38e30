#include "tools/dashboard/metrics_scrape.h"

#include <civetweb.h>

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace slacker::dashboard {

absl::StatusOr<std::string> FetchMetrics(const std::string& host, int port,
                                         absl::Duration timeout) {
  const std::string where =
      absl::StrCat("http://", host, ":", port, "/metrics");
  char error[256] = "";
  mg_connection* conn =
      mg_connect_client(host.c_str(), port, 0, error, sizeof(error));
  if (conn == nullptr) {
    return absl::UnavailableError(absl::StrCat(where, ": ", error));
  }
  mg_printf(
      conn,
      "GET /metrics HTTP/1.0\r\nHost: %s:%d\r\nAccept: text/plain\r\n\r\n",
      host.c_str(), port);
  const int timeout_ms =
      static_cast<int>(absl::ToInt64Milliseconds(timeout) > 0
                           ? absl::ToInt64Milliseconds(timeout)
                           : 1);
  if (mg_get_response(conn, error, sizeof(error), timeout_ms) < 0) {
    mg_close_connection(conn);
    return absl::UnavailableError(absl::StrCat(where, ": ", error));
  }
  const mg_response_info* info = mg_get_response_info(conn);
  if (info == nullptr || info->status_code != 200) {
    const int code = info == nullptr ? 0 : info->status_code;
    mg_close_connection(conn);
    return absl::UnavailableError(
        absl::StrCat(where, " answered HTTP ", code, ", not 200"));
  }
  std::string body;
  char buffer[16384];
  int n;
  while ((n = mg_read(conn, buffer, sizeof(buffer))) > 0) {
    body.append(buffer, n);
    if (body.size() > kMaxMetricsBytes) {
      mg_close_connection(conn);
      return absl::ResourceExhaustedError(absl::StrCat(
          where, " sent more than ", kMaxMetricsBytes, " bytes; not read"));
    }
  }
  mg_close_connection(conn);
  return body;
}

absl::StatusOr<HistogramTotals> HistogramTotalsOf(absl::string_view text,
                                                  absl::string_view family) {
  const std::string count_name = absl::StrCat(family, "_count");
  const std::string sum_name = absl::StrCat(family, "_sum");
  HistogramTotals totals;
  bool found = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    // name{labels} value [timestamp]: the name ends at '{' or a space.
    const size_t name_end = line.find_first_of("{ ");
    if (name_end == absl::string_view::npos) continue;
    const absl::string_view name = line.substr(0, name_end);
    const bool is_count = name == count_name;
    if (!is_count && name != sum_name) continue;
    size_t value_start = name_end;
    if (line[name_end] == '{') {
      // Label values may hold '}' inside quotes; the last '}' ends them.
      value_start = line.rfind('}');
      if (value_start == absl::string_view::npos) continue;
      ++value_start;
    }
    std::vector<absl::string_view> fields =
        absl::StrSplit(line.substr(value_start), ' ', absl::SkipEmpty());
    double value = 0;
    if (fields.empty() || !absl::SimpleAtod(fields[0], &value)) continue;
    if (is_count) {
      totals.count += value;
      found = true;
    } else {
      totals.sum += value;
    }
  }
  if (!found) {
    return absl::NotFoundError(absl::StrCat("no histogram '", family,
                                            "' in the metrics (no ", count_name,
                                            " line)"));
  }
  return totals;
}

}  // namespace slacker::dashboard

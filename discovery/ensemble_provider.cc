#include "discovery/ensemble_provider.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/json_bounds.h"
#include "common/logging.h"
#include "discovery/connect_string.h"
#include "discovery/internal/http_get.h"
#include "nlohmann/json.hpp"

namespace slacker::discovery {
namespace {

using slacker::LogLevel;
using slacker::internal::Log;

bool IsHostName(absl::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
           c == '-' || c == '_';
  });
}

}  // namespace

EnsembleProvider FixedEnsembleProvider(std::string hosts) {
  return [hosts = std::move(hosts)] { return hosts; };
}

void ApplyEnsembleOptions(const EnsembleOptions& ensemble,
                          ZooKeeperOptions* options) {
  options->follow_ensemble_config = ensemble.follow_config;
  options->ensemble_provider = ensemble.provider;
  options->ensemble_check_interval = ensemble.check_interval;
}

std::string ExhibitorClusterList::ConnectString() const {
  std::vector<std::string> hosts;
  hosts.reserve(servers.size());
  for (const std::string& server : servers) {
    hosts.push_back(absl::StrCat(server, ":", port));
  }
  return absl::StrJoin(hosts, ",");
}

absl::StatusOr<ExhibitorClusterList> ParseExhibitorClusterList(
    absl::string_view body, size_t max_bytes) {
  // {"servers":[...255 names],"port":N} nests 2 deep with ~260 items.
  if (absl::Status bounded = slacker::internal::CheckJsonBounds(
          body,
          {max_bytes, /*max_depth=*/4,
           /*max_items=*/static_cast<int64_t>(4 * kMaxExhibitorServers)},
          "Exhibitor's cluster list");
      !bounded.ok()) {
    return bounded;
  }
  nlohmann::json json = nlohmann::json::parse(body, nullptr,
                                              /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::InvalidArgumentError(
        "Exhibitor's cluster list is not a JSON object; expected "
        "{\"servers\":[\"host\",...],\"port\":2181}");
  }
  ExhibitorClusterList list;
  auto servers = json.find("servers");
  if (servers == json.end() || !servers->is_array() || servers->empty() ||
      servers->size() > kMaxExhibitorServers) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Exhibitor's cluster list has no \"servers\" array of 1 to ",
        kMaxExhibitorServers, " host names"));
  }
  for (const nlohmann::json& server : *servers) {
    if (!server.is_string() || !IsHostName(server.get<std::string>())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Exhibitor's cluster list names a server that is not a host name "
          "(letters, digits, '.', '-', '_'): ",
          server.dump().substr(0, 80)));
    }
    list.servers.push_back(server.get<std::string>());
  }
  auto port = json.find("port");
  if (port == json.end() || !port->is_number_integer() ||
      port->get<int64_t>() < 1 || port->get<int64_t>() > 65535) {
    return absl::InvalidArgumentError(
        "Exhibitor's cluster list has no integer \"port\" in 1..65535");
  }
  list.port = static_cast<int>(port->get<int64_t>());
  return list;
}

absl::StatusOr<std::shared_ptr<ExhibitorEnsembleProvider>>
ExhibitorEnsembleProvider::Start(ExhibitorOptions options) {
  if (options.hosts.empty()) {
    return absl::InvalidArgumentError(
        "ExhibitorOptions::hosts is empty: name at least one Exhibitor host");
  }
  for (const std::string& host : options.hosts) {
    if (!IsHostName(host)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ExhibitorOptions::hosts: \"", host,
          "\" is not a host name or IPv4 address (no port: that is "
          "ExhibitorOptions::port)"));
    }
  }
  if (options.port < 1 || options.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ExhibitorOptions::port ", options.port, " is not in 1..65535"));
  }
  if (!options.backup_connect_string.empty()) {
    absl::StatusOr<ConnectString> backup =
        ParseConnectString(options.backup_connect_string);
    if (!backup.ok() || !backup->chroot.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ExhibitorOptions::backup_connect_string \"",
          options.backup_connect_string,
          "\" must be host:port[,host:port...] without a chroot",
          backup.ok() ? "" : absl::StrCat(": ", backup.status().message())));
    }
  }
  if (options.poll_interval <= absl::ZeroDuration() ||
      options.request_timeout <= absl::ZeroDuration() ||
      options.retry_delay < absl::ZeroDuration() ||
      options.attempts_per_host < 1 || options.max_response_bytes == 0) {
    return absl::InvalidArgumentError(
        "ExhibitorOptions: poll_interval and request_timeout must be "
        "positive, retry_delay not negative, attempts_per_host and "
        "max_response_bytes at least 1");
  }
  std::shared_ptr<ExhibitorEnsembleProvider> provider(
      new ExhibitorEnsembleProvider(std::move(options)));
  if (absl::Status first = provider->PollNow(); !first.ok()) {
    Log(LogLevel::kWarning,
        absl::StrCat(
            "no Exhibitor host answered the first poll (", first.message(),
            "); ",
            provider->options_.backup_connect_string.empty()
                ? "no backup connect string is set"
                : absl::StrCat("using the backup connect string ",
                               provider->options_.backup_connect_string)));
  }
  provider->thread_ = std::thread([raw = provider.get()] { raw->PollLoop(); });
  return provider;
}

ExhibitorEnsembleProvider::ExhibitorEnsembleProvider(ExhibitorOptions options)
    : options_(std::move(options)), exhibitors_(options_.hosts) {}

ExhibitorEnsembleProvider::~ExhibitorEnsembleProvider() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string ExhibitorEnsembleProvider::Hosts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hosts_;
}

EnsembleProvider ExhibitorEnsembleProvider::AsProvider() {
  return [self = shared_from_this()] { return self->Hosts(); };
}

ExhibitorEnsembleProvider::Stats ExhibitorEnsembleProvider::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

absl::Status ExhibitorEnsembleProvider::PollNow() {
  std::lock_guard<std::mutex> poll_lock(poll_mu_);
  std::vector<std::string> exhibitors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    exhibitors = exhibitors_;
  }
  // A random order spreads the polls of many clients over the hosts.
  static thread_local std::mt19937_64 random{std::random_device{}()};
  std::shuffle(exhibitors.begin(), exhibitors.end(), random);
  absl::Status last = absl::UnavailableError("no Exhibitor host to poll");
  for (const std::string& host : exhibitors) {
    for (int attempt = 1; attempt <= options_.attempts_per_host; ++attempt) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return absl::CancelledError("the provider is stopping");
      }
      if (attempt > 1) absl::SleepFor(options_.retry_delay);
      absl::StatusOr<internal::HttpResponse> response = internal::HttpGet(
          host, options_.port, options_.path, options_.request_timeout,
          options_.max_response_bytes);
      absl::StatusOr<ExhibitorClusterList> list;
      if (!response.ok()) {
        list = response.status();
      } else if (response->status != 200) {
        list = absl::UnavailableError(
            absl::StrCat("http://", host, ":", options_.port, options_.path,
                         " answered HTTP ", response->status, ", not 200"));
      } else {
        list = ParseExhibitorClusterList(response->body,
                                         options_.max_response_bytes);
        if (!list.ok()) {
          list = absl::InvalidArgumentError(
              absl::StrCat("http://", host, ":", options_.port, options_.path,
                           ": ", list.status().message()));
        }
      }
      if (!list.ok()) {
        last = list.status();
        Log(LogLevel::kDebug, absl::StrCat("Exhibitor poll: ", last.message()));
        // Malformed answers are not retried on the same host.
        if (absl::IsInvalidArgument(last)) break;
        continue;
      }
      const std::string hosts = list->ConnectString();
      std::vector<std::string> next = list->servers;
      for (const std::string& configured : options_.hosts) {
        if (std::find(next.begin(), next.end(), configured) == next.end()) {
          next.push_back(configured);
        }
      }
      std::string old;
      {
        std::lock_guard<std::mutex> lock(mu_);
        old = hosts_;
        hosts_ = hosts;
        exhibitors_ = std::move(next);
        ++stats_.polls;
      }
      if (old != hosts) {
        Log(LogLevel::kInfo,
            absl::StrCat("Exhibitor at ", host, " names the ensemble ", hosts,
                         old.empty() ? "" : absl::StrCat(" (was ", old, ")")));
      }
      return absl::OkStatus();
    }
  }
  bool to_backup = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.polls;
    ++stats_.failed_polls;
    stats_.last_error = std::string(last.message());
    if (!options_.backup_connect_string.empty() &&
        hosts_ != options_.backup_connect_string) {
      hosts_ = options_.backup_connect_string;
      to_backup = true;
    }
    exhibitors_ = options_.hosts;
  }
  if (to_backup) {
    Log(LogLevel::kWarning,
        absl::StrCat("no Exhibitor host answered (", last.message(),
                     "); using the backup connect string ",
                     options_.backup_connect_string));
  }
  return last;
}

void ExhibitorEnsembleProvider::PollLoop() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, absl::ToChronoNanoseconds(options_.poll_interval),
                     [this] { return stopping_; });
      if (stopping_) return;
    }
    PollNow().IgnoreError();
  }
}

}  // namespace slacker::discovery

#include "testing/certificates.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "testing/child_process.h"

namespace slacker::testing {
namespace {

constexpr char kOpenssl[] = "/usr/bin/openssl";

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InternalError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// Runs openssl with `args`; its output goes to `log`, quoted on failure.
absl::Status RunOpenssl(std::vector<std::string> args, const std::string& log) {
  args.insert(args.begin(), kOpenssl);
  const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot open ", log));
  ChildProcessOptions options;
  options.stdout_fd = fd;
  options.stderr_fd = fd;
  absl::StatusOr<pid_t> pid = StartChildProcess(args, options);
  close(fd);
  if (!pid.ok()) return pid.status();
  int status = 0;
  while (waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  absl::StatusOr<std::string> output = ReadFile(log);
  return absl::InternalError(
      absl::StrCat(absl::StrJoin(args, " "), " failed (exit status ",
                   WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                   WIFEXITED(status) && WEXITSTATUS(status) == 127
                       ? ": is Debian's openssl installed?"
                       : "",
                   "): ", output.ok() ? *output : ""));
}

bool IsIpLiteral(const std::string& name) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, name.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, name.c_str(), buffer) == 1;
}

// A request config without prompts: the subject is `common_name`, and
// `extensions` goes into section [ext].
std::string Config(const std::string& common_name,
                   const std::string& extensions) {
  return absl::StrCat(
      "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = ", common_name,
      "\n[ext]\n", extensions);
}

}  // namespace

absl::StatusOr<TestCertificateAuthority> TestCertificateAuthority::Create(
    std::string dir, std::string common_name) {
  TestCertificateAuthority ca;
  ca.dir_ = std::move(dir);
  const std::string config = absl::StrCat(ca.dir_, "/ca.cnf");
  if (absl::Status written =
          WriteFile(config, Config(common_name,
                                   "basicConstraints = critical,CA:TRUE\n"
                                   "keyUsage = critical,keyCertSign,cRLSign\n"
                                   "subjectKeyIdentifier = hash\n"));
      !written.ok()) {
    return written;
  }
  ca.ca_.cert_path = absl::StrCat(ca.dir_, "/ca.pem");
  ca.ca_.key_path = absl::StrCat(ca.dir_, "/ca.key");
  if (absl::Status made =
          RunOpenssl({"req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                      ca.ca_.key_path, "-out", ca.ca_.cert_path, "-days", "2",
                      "-config", config, "-extensions", "ext"},
                     absl::StrCat(ca.dir_, "/ca.log"));
      !made.ok()) {
    return made;
  }
  absl::StatusOr<std::string> cert = ReadFile(ca.ca_.cert_path);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFile(ca.ca_.key_path);
  if (!key.ok()) return key.status();
  ca.ca_.cert_pem = *std::move(cert);
  ca.ca_.key_pem = *std::move(key);
  return ca;
}

absl::StatusOr<TestCertificate> TestCertificateAuthority::IssueServer(
    const std::vector<std::string>& names) {
  if (names.empty()) {
    return absl::InvalidArgumentError(
        "IssueServer: give at least one name for the subjectAltName");
  }
  std::vector<std::string> entries;
  for (const std::string& name : names) {
    entries.push_back(absl::StrCat(IsIpLiteral(name) ? "IP:" : "DNS:", name));
  }
  return Issue(names.front(),
               absl::StrCat("basicConstraints = CA:FALSE\n"
                            "keyUsage = critical,digitalSignature\n"
                            "extendedKeyUsage = serverAuth\n"
                            "subjectAltName = ",
                            absl::StrJoin(entries, ","), "\n"));
}

absl::StatusOr<TestCertificate> TestCertificateAuthority::IssueClient(
    const std::string& common_name) {
  return Issue(common_name,
               "basicConstraints = CA:FALSE\n"
               "keyUsage = critical,digitalSignature\n"
               "extendedKeyUsage = clientAuth\n");
}

absl::StatusOr<TestCertificate> TestCertificateAuthority::Issue(
    const std::string& common_name, const std::string& extensions) {
  const std::string base = absl::StrCat(dir_, "/cert", ++issued_);
  const std::string config = base + ".cnf";
  if (absl::Status written = WriteFile(config, Config(common_name, extensions));
      !written.ok()) {
    return written;
  }
  TestCertificate made;
  made.cert_path = base + ".pem";
  made.key_path = base + ".key";
  const std::string request = base + ".csr";
  if (absl::Status done =
          RunOpenssl({"req", "-new", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                      made.key_path, "-out", request, "-config", config},
                     base + ".log");
      !done.ok()) {
    return done;
  }
  if (absl::Status done =
          RunOpenssl({"x509", "-req", "-in", request, "-CA", ca_.cert_path,
                      "-CAkey", ca_.key_path, "-set_serial",
                      absl::StrCat(1000 + issued_), "-days", "2", "-out",
                      made.cert_path, "-extfile", config, "-extensions", "ext"},
                     base + ".log");
      !done.ok()) {
    return done;
  }
  absl::StatusOr<std::string> cert = ReadFile(made.cert_path);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFile(made.key_path);
  if (!key.ok()) return key.status();
  made.cert_pem = *std::move(cert);
  made.key_pem = *std::move(key);
  return made;
}

}  // namespace slacker::testing

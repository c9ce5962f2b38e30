// The replay driver: a main() for a fuzz target built without libFuzzer (by
// gcc, under the sanitizer configs). It takes libFuzzer's command-line form,
//
//   fuzzer [-runs=N] [-max_len=N] [-seed=N] [-artifact_prefix=P] PATH...
//
// runs LLVMFuzzerTestOneInput on every file of each PATH (a file or a folder,
// not recursive), then on N inputs made by mutating those (default 0): bit
// flips, byte changes, insertions and deletions, copies within an input and
// splices of two, and JSON and address tokens. The mutations are the same on
// every run for the same seed and inputs, so a failure repeats. Flags it does
// not know are ignored, as libFuzzer's are by this driver.
//
// A failing input (a fatal signal, or a sanitizer's report) is written to
// <artifact_prefix>crash-replay before the process dies, and its length and
// bytes are printed, escaped, on stderr.

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc,
                                                          char*** argv);
// Present when a sanitizer is linked in: called before it ends the process.
extern "C" __attribute__((weak)) void __sanitizer_set_death_callback(
    void (*callback)());

namespace {

// The input being run, for the crash handlers.
const std::string* current = nullptr;
std::string crash_path;

void WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = write(fd, data, size);
    if (n <= 0) return;
    data += n;
    size -= static_cast<size_t>(n);
  }
}

// Async-signal-safe: only write(2) and open(2).
void SaveCurrent() {
  if (current == nullptr) return;
  const std::string* input = current;
  current = nullptr;
  const int fd = open(crash_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    WriteAll(fd, input->data(), input->size());
    close(fd);
  }
  constexpr char kSaved[] = "replay: the failing input is in ";
  WriteAll(2, kSaved, sizeof(kSaved) - 1);
  WriteAll(2, crash_path.data(), crash_path.size());
  WriteAll(2, "\nreplay: its bytes (escaped): ", 30);
  static const char kHex[] = "0123456789abcdef";
  for (unsigned char c : *input) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      WriteAll(2, reinterpret_cast<const char*>(&c), 1);
    } else {
      const char escaped[4] = {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
      WriteAll(2, escaped, 4);
    }
  }
  WriteAll(2, "\n", 1);
}

void OnFatalSignal(int signal_number) {
  SaveCurrent();
  ::signal(signal_number, SIG_DFL);
  raise(signal_number);
}

void Run(const std::string& input) {
  current = &input;
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                         input.size());
  current = nullptr;
}

std::vector<std::string> ReadInputs(const std::vector<std::string>& paths) {
  std::vector<std::string> inputs;
  auto read = [&](const std::filesystem::path& path) {
    std::ifstream file(path, std::ios::binary);
    inputs.emplace_back(std::istreambuf_iterator<char>(file),
                        std::istreambuf_iterator<char>());
  };
  for (const std::string& path : paths) {
    if (std::filesystem::is_directory(path)) {
      std::vector<std::filesystem::path> files;
      for (const auto& entry : std::filesystem::directory_iterator(path)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& file : files) read(file);
    } else if (std::filesystem::exists(path)) {
      read(path);
    } else {
      std::fprintf(stderr, "replay: no such file or folder: %s\n",
                   path.c_str());
      std::exit(2);
    }
  }
  return inputs;
}

// Tokens worth inserting into the inputs of this project's parsers.
constexpr const char* kTokens[] = {
    "{",     "}",
    "[",     "]",
    "\"",    ":",
    ",",     "null",
    "true",  "false",
    "-0",    "1e999",
    "\\u",   "\\ud800",
    "/",     "//",
    "?",     "&",
    "=",     "%",
    "[::1]", ":0",
    ":2181", ":65536",
    "zk://", "\xef\xbb\xbf",
    "\xff",  "\0",
};

class Mutator {
 public:
  Mutator(uint32_t seed, size_t max_len) : rng_(seed), max_len_(max_len) {}

  std::string Mutate(const std::string& base, const std::string& other) {
    std::string s = base;
    const int count = 1 + Below(4);
    for (int i = 0; i < count; ++i) MutateOnce(&s, other);
    if (s.size() > max_len_) s.resize(max_len_);
    return s;
  }

 private:
  size_t Below(size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<size_t>(0, n - 1)(rng_);
  }

  void MutateOnce(std::string* s, const std::string& other) {
    const size_t at = Below(s->size() + 1);
    switch (Below(8)) {
      case 0:  // Flip a bit.
        if (!s->empty()) (*s)[Below(s->size())] ^= 1 << Below(8);
        break;
      case 1:  // Set a byte.
        if (!s->empty()) (*s)[Below(s->size())] = static_cast<char>(Below(256));
        break;
      case 2:  // Insert a byte.
        s->insert(at, 1, static_cast<char>(Below(256)));
        break;
      case 3:  // Delete a range.
        if (!s->empty()) s->erase(Below(s->size()), 1 + Below(8));
        break;
      case 4: {  // Copy a range of the input elsewhere in it.
        if (s->empty()) break;
        const size_t from = Below(s->size());
        const std::string piece = s->substr(from, 1 + Below(16));
        s->insert(Below(s->size() + 1), piece);
        break;
      }
      case 5: {  // Splice: the head of this input, the tail of another.
        const size_t tail = Below(other.size() + 1);
        *s = s->substr(0, at) + other.substr(tail);
        break;
      }
      case 6: {  // Repeat a range many times (nesting, long lists).
        if (s->empty()) break;
        const size_t from = Below(s->size());
        const std::string piece = s->substr(from, 1 + Below(4));
        std::string repeated;
        for (size_t n = 1 + Below(64); n > 0; --n) repeated += piece;
        s->insert(from, repeated);
        break;
      }
      default: {  // Insert a token.
        const std::string token = kTokens[Below(std::size(kTokens))];
        s->insert(at, token.empty() ? std::string(1, '\0') : token);
        break;
      }
    }
  }

  std::mt19937 rng_;
  const size_t max_len_;
};

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  long runs = 0;
  size_t max_len = 4096;
  uint32_t seed = 1;
  std::string prefix;
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* flag) -> const char* {
      const size_t n = std::strlen(flag);
      return arg.compare(0, n, flag) == 0 ? arg.c_str() + n : nullptr;
    };
    if (const char* v = value("-runs=")) {
      runs = std::atol(v);
    } else if (const char* v = value("-max_len=")) {
      max_len = static_cast<size_t>(std::atol(v));
    } else if (const char* v = value("-seed=")) {
      seed = static_cast<uint32_t>(std::atol(v));
    } else if (const char* v = value("-artifact_prefix=")) {
      prefix = v;
    } else if (arg.empty() || arg[0] != '-') {
      paths.push_back(arg);
    }
  }
  crash_path = prefix + "crash-replay";
  for (int s : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) {
    ::signal(s, OnFatalSignal);
  }
  if (__sanitizer_set_death_callback != nullptr) {
    __sanitizer_set_death_callback(SaveCurrent);
  }

  const std::vector<std::string> inputs = ReadInputs(paths);
  for (const std::string& input : inputs) Run(input);
  std::fprintf(stderr, "replay: %zu inputs passed\n", inputs.size());

  if (runs > 0) {
    const std::vector<std::string> seeds =
        inputs.empty() ? std::vector<std::string>{""} : inputs;
    Mutator mutator(seed, max_len);
    std::mt19937 pick(seed);
    for (long i = 0; i < runs; ++i) {
      const std::string& base = seeds[pick() % seeds.size()];
      const std::string& other = seeds[pick() % seeds.size()];
      Run(mutator.Mutate(base, other));
    }
    std::fprintf(stderr, "replay: %ld mutated inputs passed (seed %u)\n", runs,
                 seed);
  }
  return 0;
}

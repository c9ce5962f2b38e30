// Linked into every binary and test of a `--config=asan` build (see .bazelrc
// and BUILD.bazel here): LeakSanitizer reads these suppressions before
// LSAN_OPTIONS.
//
// The ZooKeeper C client (Debian's 3.8.0) leaks when zookeeper_close races
// its own threads: completions it queued after its completion thread stopped
// (the ZCLOSING answers of calls in flight, ZOOKEEPER-3868) and watch events
// its I/O thread read meanwhile stay in a list that is never freed. Nothing of
// ours is in that memory: ZooKeeperClient completes the calls the C client
// dropped itself and frees their state (see CloseHandle). Our allocations
// that leak are still reported, except those reachable only from the
// suppressed memory (LSan counts them in), which is why
// ZooKeeperClientTest.CloseCompletesEveryCallInFlight counts callbacks
// instead of relying on LSan. Debian's library has no
// frame pointers, so ASan's stacks stop at its first frame: the library is
// the narrowest pattern that matches.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libzookeeper_mt.so\n";
}

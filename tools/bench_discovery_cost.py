#!/usr/bin/env python3
"""The discovery-cost section of bench/RESULTS.md, from one run's JSON.

   tools/bench_discovery_cost.py discovery_cost.json > section.md

tools/bench.sh calls it on the run it just made. The input is Google
Benchmark's JSON from bench/discovery_cost_benchmark; the output is Markdown:
a table per mode side by side, and where the issue's goals stand.
"""
import json
import sys

SESSION_TIMEOUT_S = 30  # bench/discovery_cost_benchmark.cc's kSessionTimeout.


def cases(doc):
    """(mode, n, k) -> counters, or the error message of a case that failed."""
    found = {}
    for b in doc.get("benchmarks", []):
        parts = b["run_name"].split("/")  # BM_DiscoveryCost/<mode>/<n>/<k>/...
        if len(parts) < 4 or parts[0] != "BM_DiscoveryCost":
            continue
        key = (parts[1], int(parts[2]), int(parts[3]))
        found[key] = b.get("error_message") if b.get("error_occurred") else b
    return found


def number(value, digits=1):
    if value is None:
        return "-"
    if abs(value) >= 100 or digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def seconds(value):
    if value is None:
        return "-"
    return "not recovered" if value < 0 else f"{value:.1f}"


def cut(b):
    # After a restart the views never recovered from, they may already show
    # the cut's change (they never saw the restart's): nothing was measured.
    if (b.get("restart_s") or 0) < 0 or (b.get("cut_s") or 0) < -1:
        return "not measured"
    return seconds(b.get("cut_s"))


def main():
    doc = json.load(open(sys.argv[1]))
    found = cases(doc)
    lines = ["## Discovery cost (counts per change per view)", "",
             "`bench/discovery_cost_benchmark`: N servers registered (without serving) and K "
             "cluster views watching them, in both discovery modes, through one TCP proxy that "
             "counts bytes; each change is one server joining or leaving (its servers/, member "
             "and candidate nodes in one multi). Requests per change and fresh reads are "
             "ZooKeeper's own count (`cons`), watches its `wchs`; the idle column counts "
             "the requests of an idle window as long as the changes', right after them, per "
             "change per view: the pings a window that long can hold (the views' own requests "
             "put pings off, so fewer fall among the changes); a fresh recursive view reads a "
             "parent's children in batches (multiRead) of up to 1,000 nodes, each one "
             "request; client CPU is the benchmark "
             "process's per change per view, ZooKeeper CPU its process's per change for all K "
             "views. Restart and cut: seconds from ZooKeeper being back (or the 2 s cut "
             f"restored) until every view shows a change made meanwhile; sessions of "
             f"{SESSION_TIMEOUT_S} s.", "",
             "| N | K | mode | requests | idle | bytes | client CPU µs | ZooKeeper CPU ms "
             "| watches / view | fresh reads | restart s | cut s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for (mode, n, k), b in sorted(found.items(), key=lambda i: (i[0][1], i[0][2], i[0][0])):
        if isinstance(b, str) or b is None:
            lines.append(f"| {n:,} | {k} | {mode} | failed: {b} | | | | | | | | |")
            continue
        lines.append(
            f"| {n:,} | {k} | {mode} | {number(b.get('requests_per_change'))} "
            f"| {number(b.get('idle_requests_per_change'))} "
            f"| {number(b.get('bytes_per_change'), 0)} | {number(b.get('client_cpu_us'), 0)} "
            f"| {number(b.get('zookeeper_cpu_ms'))} | {number(b.get('watches_per_view'), 0)} "
            f"| {number(b.get('fresh_reads'), 0)} | {seconds(b.get('restart_s'))} "
            f"| {cut(b)} |")

    def verdict(ok):
        return "**met**" if ok else "**missed**"

    recursive = {key: b for key, b in found.items()
                 if key[0] == "recursive" and isinstance(b, dict)}
    if recursive:
        most_requests = max(b.get("requests_per_change", 0) for b in recursive.values())
        most_bytes = max(b.get("bytes_per_change", 0) for b in recursive.values())
        most_watches = max(b.get("watches_per_view", 0) for b in recursive.values())
        largest = max(recursive)[1]
        fresh = [b.get("fresh_reads", 0) for key, b in recursive.items() if key[1] == largest]
        recovery = [max(b.get("restart_s", -1), b.get("cut_s", -1))
                    if min(b.get("restart_s", -1), b.get("cut_s", -1)) >= 0 else -1
                    for key, b in recursive.items() if key[1] == largest]
        worst = -1 if any(r < 0 for r in recovery) else max(recovery, default=-1)
        lines += ["", "Goals (issue 18), in the recursive-watch mode (`kAuto`, the channels' "
                  "default):", "",
                  f"- per change per view at most 2 requests and 1 KB, independent of N: "
                  f"{verdict(most_requests <= 2 and most_bytes <= 1024)} (at most "
                  f"{most_requests:.1f} requests and {most_bytes:,.0f} bytes, every N and K).",
                  f"- watches on ZooKeeper per view O(1): {verdict(most_watches <= 1)} "
                  f"(at most {most_watches:.0f}).",
                  f"- a fresh view at N = {largest:,} in at most N + 10 reads: "
                  f"{verdict(bool(fresh) and max(fresh) <= largest + 10)} "
                  f"({max(fresh, default=0):,.0f} requests; inside them a read per node, three "
                  f"nodes per server: the trust rules need each member's owner, and the "
                  f"tree reads every candidate, of which the view uses the lowest).",
                  f"- every view correct within one session timeout ({SESSION_TIMEOUT_S} s) after "
                  f"a ZooKeeper restart and after a cut, at N = {largest:,}: "
                  f"{verdict(worst >= 0 and worst <= SESSION_TIMEOUT_S)} (slowest "
                  f"{seconds(worst)} s).", ""]
    print("\n".join(lines))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Draws the benchmark ratio tables as SVG charts, with gnuplot.

  tools/bench_charts.py RESULTS_DIR

RESULTS_DIR holds one folder per run of tools/bench.sh (bench/results/), each
with the raw Google Benchmark JSON of that run (cluster.json, ...). Writes, for
the newest run, RUN/unary.svg (throughput and client CPU per call of each
channel, as ratios to plain gRPC round_robin) and RUN/fanout.svg (fan-out
latency and CPU as ratios to one call), and RESULTS_DIR/history.svg (the
cluster channel's ratios to plain gRPC in every run kept, oldest first). Prints
the paths it wrote, relative to RESULTS_DIR, one per line.

Ratios, not times: these machines are shared and noisy, and a ratio of two
rows measured in one run is what stays comparable from run to run.
"""

import json
import os
import subprocess
import sys

UNARY = ["plain_round_robin", "direct", "cluster_random", "cluster_random_no_interceptor",
         "cluster_random_metrics", "cluster_round_robin", "cluster_least_in_flight"]


def medians(doc):
    return {b["run_name"]: b for b in doc.get("benchmarks", [])
            if b.get("aggregate_name", "median") == "median"}


def find(rows, prefix):
    return next((v for k, v in rows.items() if k.startswith(prefix)), None)


def unary_ratios(cluster):
    """[(channel, throughput ratio, CPU ratio)] to plain gRPC round_robin."""
    rows = medians(cluster)
    base = find(rows, "BM_Unary/plain_round_robin/")
    if not base or not base.get("items_per_second") or not base.get("client_cpu_us"):
        return []
    out = []
    for name in UNARY:
        b = find(rows, f"BM_Unary/{name}/")
        if b is None:
            continue
        out.append((name, b.get("items_per_second", 0) / base["items_per_second"],
                    b.get("client_cpu_us", 0) / base["client_cpu_us"]))
    return out


def fanout_ratios(cluster):
    """[(servers, latency ratio, CPU ratio)] to one call (no fan-out)."""
    rows = medians(cluster)
    single = find(rows, "BM_FanOutSingle")
    if not single or not single.get("p50_us") or not single.get("client_cpu_us"):
        return []
    out = []
    for n in [1, 2, 4, 8, 16]:
        b = find(rows, f"BM_FanOut/{n}/")
        if b is None:
            continue
        out.append((n, b.get("p50_us", 0) / single["p50_us"],
                    b.get("client_cpu_us", 0) / single["client_cpu_us"]))
    return out


def gnuplot(script, data, svg):
    """Runs `script` with the data block `data` ($d in the script); writes svg."""
    text = "\n".join([
        'set terminal svg size 760,380 dynamic noenhanced font "sans,11" background rgb "white"',
        f'set output "{svg}"',
        "$d << EOD", data, "EOD",
        "set grid ytics", "set key top left", "set style fill solid 0.8 border -1",
        script])
    subprocess.run(["gnuplot"], input=text, text=True, check=True)


def draw_unary(rows, svg):
    data = "\n".join(f'"{n}" {t:.4f} {c:.4f}' for n, t, c in rows)
    gnuplot("\n".join([
        'set title "Unary calls: ratio to plain gRPC round_robin (1.0 = the same)"',
        "set style data histogram", "set style histogram clustered gap 1",
        "set xtics rotate by -25", "set yrange [0:*]",
        "plot $d using 2:xtic(1) title 'calls/s', '' using 3 title 'client CPU per call', "
        "1 with lines dashtype 2 lc rgb 'black' notitle"]), data, svg)


def draw_fanout(rows, svg):
    data = "\n".join(f"{n} {t:.4f} {c:.4f}" for n, t, c in rows)
    gnuplot("\n".join([
        'set title "Fan-out (grouping all): ratio to one call"',
        'set xlabel "servers called"', "set logscale x 2", "set yrange [0:*]",
        "plot $d using 1:2 with linespoints title 'p50 latency', "
        "'' using 1:3 with linespoints title 'client CPU'"]), data, svg)


def draw_history(runs, svg):
    data = "\n".join(f'{i} "{name}" {t:.4f} {c:.4f}' for i, (name, t, c) in enumerate(runs))
    gnuplot("\n".join([
        'set title "cluster_random against plain gRPC, run by run"',
        "set xtics rotate by -25", "set yrange [0:*]", "set offsets 0.3, 0.3, 0, 0",
        "plot $d using 1:3:xtic(2) with linespoints title 'calls/s ratio', "
        "'' using 1:4 with linespoints title 'client CPU ratio', "
        "1 with lines dashtype 2 lc rgb 'black' notitle"]), data, svg)


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: bench_charts.py RESULTS_DIR")
    root = argv[1]
    runs = sorted(d for d in os.listdir(root)
                  if os.path.isfile(os.path.join(root, d, "cluster.json")))
    if not runs:
        sys.exit(f"bench_charts: no run with a cluster.json under {root}")
    written = []
    newest = runs[-1]
    cluster = json.load(open(os.path.join(root, newest, "cluster.json")))
    unary = unary_ratios(cluster)
    if unary:
        draw_unary(unary, os.path.join(root, newest, "unary.svg"))
        written.append(f"{newest}/unary.svg")
    fanout = fanout_ratios(cluster)
    if fanout:
        draw_fanout(fanout, os.path.join(root, newest, "fanout.svg"))
        written.append(f"{newest}/fanout.svg")
    history = []
    for run in runs:
        ratios = dict((n, (t, c)) for n, t, c in
                      unary_ratios(json.load(open(os.path.join(root, run, "cluster.json")))))
        if "cluster_random" in ratios:
            history.append((run,) + ratios["cluster_random"])
    if history:
        draw_history(history, os.path.join(root, "history.svg"))
        written.append("history.svg")
    print("\n".join(written))


if __name__ == "__main__":
    main(sys.argv)

"""What judging drift against noise costs `ml.monitor`: `noise_psi` beside the PSI it always computed.

    python -m benchmarks.monitor_noise [--units 100,1000,5000] [--features 150] [--repeats 5]
        [--output data/benchmarks/monitor_noise.json]

For each number of units in service, two samples of that many rows and `--features` columns are drawn from
one distribution (as the monitor's reference and current fleets), and each step runs in a fresh process,
`--repeats` times, alternating which goes first: `feature_drift` alone (the PSI per feature, what the
monitor computed before) and `feature_drift` with `noise_psi` (what it computes now). Reported: wall clock
medians (min-max), the ratio of the medians, peak RSS of the process from the OS (`ru_maxrss`), and how
many features passed 0.2 on the PSI alone against how many pass it and their noise level (two samples of one
distribution: every one is a false alarm). Printed as a table, written as JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import statistics
import sys
import time
from pathlib import Path

from benchmarks.reporting import REPO_ROOT, git_state, log
from ml.config import whole_numbers_from

STEPS = ("psi only", "psi + noise")


def _step(step: str, units: int, features: int, seed: int, queue: multiprocessing.Queue) -> None:
    """One step in this (child) process: its seconds, peak RSS and false alarms, put on `queue`."""
    import numpy as np
    import pandas as pd

    from ml.monitor import feature_drift, noise_psi

    rng = np.random.default_rng(seed)
    names = [f"f{i:03d}" for i in range(features)]
    reference = pd.DataFrame(rng.normal(size=(units, features)), columns=names)
    current = pd.DataFrame(rng.normal(size=(units, features)), columns=names)
    started = time.perf_counter()
    noise = noise_psi(reference, current, names) if step == "psi + noise" else None
    drift = feature_drift(reference, current, names, noise)
    seconds = time.perf_counter() - started
    above = drift["psi"] > 0.2
    passed = above & (drift["psi"] > drift["noise_psi"].fillna(0.0))
    rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    queue.put({"seconds": seconds, "peak_rss_gib": rss_gib, "above_0_2": int(above.sum()), "drift": int(passed.sum())})


def run_step(step: str, units: int, features: int, seed: int) -> dict:
    context = multiprocessing.get_context("spawn")  # a fresh process: its peak RSS is this step's alone
    queue = context.Queue()
    process = context.Process(target=_step, args=(step, units, features, seed, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.monitor_noise", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--units",
        type=whole_numbers_from(2, "100,1000,5000"),
        default="100,1000,5000",
        help="units in service per sample, comma-separated",
    )
    parser.add_argument("--features", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "data" / "benchmarks" / "monitor_noise.json")
    args = parser.parse_args(argv)
    sizes = args.units
    if args.features < 1 or args.repeats < 1:
        print("monitor_noise: --features and --repeats must be 1 or more", file=sys.stderr)
        return 2
    results = []
    for units in sizes:
        runs: dict[str, list[dict]] = {step: [] for step in STEPS}
        for repeat in range(args.repeats):
            for step in STEPS if repeat % 2 == 0 else STEPS[::-1]:
                runs[step].append(run_step(step, units, args.features, seed=repeat))
                log(f"{units} units, {step}, round {repeat + 1}: {runs[step][-1]['seconds']:.2f} s")
        row = {"units": units, "features": args.features}
        for step in STEPS:
            seconds = [run["seconds"] for run in runs[step]]
            row[step] = {
                "median_s": statistics.median(seconds),
                "min_s": min(seconds),
                "max_s": max(seconds),
                "peak_rss_gib": max(run["peak_rss_gib"] for run in runs[step]),
                "above_0_2": statistics.median(run["above_0_2"] for run in runs[step]),
                "drift": statistics.median(run["drift"] for run in runs[step]),
            }
        row["ratio"] = row["psi + noise"]["median_s"] / row["psi only"]["median_s"]
        results.append(row)
    print(f"{'units':>6} {'step':<12} {'median s (min-max)':>22} {'peak RSS':>9} {'PSI>0.2':>8} {'drift':>6}")
    for row in results:
        for step in STEPS:
            r = row[step]
            spread = f"{r['median_s']:.2f} ({r['min_s']:.2f}-{r['max_s']:.2f})"
            print(
                f"{row['units']:>6} {step:<12} {spread:>22} {r['peak_rss_gib']:>7.2f} G "
                f"{r['above_0_2']:>8.0f} {r['drift']:>6.0f}"
            )
        print(f"{'':>6} ratio of medians: {row['ratio']:.1f}x")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"git": git_state(), "repeats": args.repeats, "results": results}, indent=2))
    print(f"-> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

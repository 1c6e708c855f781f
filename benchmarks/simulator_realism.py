"""How close is the simulator's FD001-like fleet to NASA's real FD001 engines? Prints the table.

    python -m benchmarks.simulator_realism [--train-file PATH] [--seed 42] [--units 100] [--acid-test]
                                           [--seeds 42,43,44] [--workdir DIR] [--keep] [--output FILE.json]

Compares ``ml.simulate``'s fleet with one condition and one fault mode (``FleetSpec(conditions=1,
fault_modes=1)``, train split) with the real ``train_FD001.txt`` (default ``../shared/data/cmapss/``; without
it the script says so and exits 0), on the raw files, per informative sensor:

* level: mean over every unit's first 30 cycles (the healthy engine);
* noise: standard deviation within a unit over its first 30 cycles (pooled);
* spread: standard deviation over the whole file (noise + engine-to-engine offsets + wear);
* offset: standard deviation of the units' healthy levels, in noise SDs;
* drift at failure: the fleet's mean shift from a unit's healthy level to its last 5 cycles, in noise SDs;
* onset: the remaining life at which the fleet's mean drift (smoothed over 9 cycles) last rises above 20 % of
  its drift at failure, walking back from failure;
* curvature: the share of the drift at failure already reached 50 and 100 cycles before failure
  (linear wear over a 200-cycle life would give 0.75 and 0.50; accelerating wear less);

and the unit lifetimes: mean, SD, min, max and the two-sample Kolmogorov-Smirnov statistic.

``--acid-test`` also lands both fleets in a throw-away folder, runs the real ``dbt build --target ci``, trains
the models of ``ml.train`` on the simulated units only, and scores every real unit at truncation points drawn
like NASA's test set (``ml.evaluation.truncation_points``, one per unit per seed): RMSE and PHM08 of a model
that never saw a real engine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from scipy.stats import ks_2samp
from threadpoolctl import threadpool_limits

from benchmarks.reporting import absent_train_file, log, real_train_file, unwritable_output
from ml.config import REPO_ROOT, data_environment, seed_list, whole_number_from
from ml.evaluation import phm08_score, rmse, truncation_points
from ml.simulate import FleetSpec, land_fleet, read_cmapss, simulate_fleet

# The sensors that move with wear in FD001 (the others are constant or nearly so).
INFORMATIVE = ("s2", "s3", "s4", "s7", "s8", "s9", "s11", "s12", "s13", "s14", "s15", "s17", "s20", "s21")
HEALTHY_CYCLES = 30
END_CYCLES = 5
ONSET_SHARE = 0.2
DBT = str(Path(sys.executable).with_name("dbt"))
SIMULATED_DATASET = "FD101"


def with_rul(frame: pd.DataFrame) -> pd.DataFrame:
    """The readings with `rul` = the unit's last cycle - cycle (run-to-failure units)."""
    return frame.assign(rul=frame.groupby("unit_number")["cycle"].transform("max") - frame["cycle"])


def sensor_profile(frame: pd.DataFrame, sensors: tuple[str, ...] = INFORMATIVE) -> pd.DataFrame:
    """One row per sensor: level, noise, spread, offset, drift at failure, onset and curvature (see module doc)."""
    frame = with_rul(frame)
    healthy = frame[frame["cycle"] <= HEALTHY_CYCLES]
    healthy_level = healthy.groupby("unit_number")[list(sensors)].mean()
    noise = (healthy[list(sensors)] - healthy.groupby("unit_number")[list(sensors)].transform("mean")).std()
    rows = {}
    for sensor in sensors:
        drift = (frame[sensor] - frame["unit_number"].map(healthy_level[sensor])) / noise[sensor]
        curve = drift.groupby(frame["rul"]).mean().sort_index()
        at_failure = float(curve.loc[: END_CYCLES - 1].mean())
        share = (curve / at_failure).rolling(9, center=True, min_periods=1).mean()
        below = share.index[share.to_numpy() < ONSET_SHARE]  # walking back from failure, the first drop
        rows[sensor] = {
            "level": float(healthy_level[sensor].mean()),
            "noise": float(noise[sensor]),
            "spread": float(frame[sensor].std()),
            "offset_sds": float(healthy_level[sensor].std() / noise[sensor]),
            "drift_sds": at_failure,
            "onset_rul": float(below.min()) if len(below) else float("nan"),
            "share_at_rul_50": float(share.loc[50]) if 50 in share.index else float("nan"),
            "share_at_rul_100": float(share.loc[100]) if 100 in share.index else float("nan"),
        }
    return pd.DataFrame(rows).T


def lifetimes(frame: pd.DataFrame) -> np.ndarray:
    return frame.groupby("unit_number")["cycle"].max().to_numpy()


def compare(real: pd.DataFrame, simulated: pd.DataFrame) -> dict:
    """The per-sensor profiles side by side (with the gaps) and the lifetime comparison."""
    real_profile, sim_profile = sensor_profile(real), sensor_profile(simulated)
    gaps = pd.DataFrame(
        {
            "level_gap_noise_sds": (sim_profile["level"] - real_profile["level"]) / real_profile["noise"],
            "noise_ratio": sim_profile["noise"] / real_profile["noise"],
            "spread_ratio": sim_profile["spread"] / real_profile["spread"],
            "offset_ratio": sim_profile["offset_sds"] / real_profile["offset_sds"],
            "drift_ratio": sim_profile["drift_sds"] / real_profile["drift_sds"],
            "onset_gap_cycles": sim_profile["onset_rul"] - real_profile["onset_rul"],
            "share_50_gap": sim_profile["share_at_rul_50"] - real_profile["share_at_rul_50"],
            "share_100_gap": sim_profile["share_at_rul_100"] - real_profile["share_at_rul_100"],
        }
    )
    real_life, sim_life = lifetimes(real), lifetimes(simulated)
    ks = ks_2samp(real_life, sim_life)
    return {
        "real": real_profile,
        "simulated": sim_profile,
        "gaps": gaps,
        "lifetimes": {
            "real": _life_stats(real_life),
            "simulated": _life_stats(sim_life),
            "ks_statistic": float(ks.statistic),
            "ks_pvalue": float(ks.pvalue),
        },
    }


def _life_stats(life: np.ndarray) -> dict:
    return {
        "units": int(life.size),
        "mean": float(life.mean()),
        "sd": float(life.std(ddof=1)),
        "min": int(life.min()),
        "max": int(life.max()),
    }


def render(result: dict, spec: FleetSpec) -> str:
    real, sim, gaps = result["real"], result["simulated"], result["gaps"]
    lines = [
        f"simulator ({spec.train_units} train units, seed {spec.seed}, 1 condition, 1 fault mode) vs real FD001 "
        "train; per sensor: real / simulated",
        "",
        "| sensor | level (first 30 cycles) | noise SD (within unit) | spread SD (file) | engine offset "
        "(noise SDs) | drift at failure (noise SDs) | onset (RUL at 20 % of drift) | share of drift at RUL 50 "
        "| at RUL 100 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for sensor in real.index:
        r, s = real.loc[sensor], sim.loc[sensor]
        digits = 4 if r["noise"] < 0.05 else 3 if r["noise"] < 1 else 1
        lines.append(
            f"| {sensor} | {r['level']:.{digits}f} / {s['level']:.{digits}f} | {r['noise']:.{digits}f} / "
            f"{s['noise']:.{digits}f} | {r['spread']:.{digits}f} / {s['spread']:.{digits}f} | "
            f"{r['offset_sds']:.2f} / {s['offset_sds']:.2f} | {r['drift_sds']:.1f} / {s['drift_sds']:.1f} | "
            f"{r['onset_rul']:.0f} / {s['onset_rul']:.0f} | {r['share_at_rul_50']:.2f} / {s['share_at_rul_50']:.2f} | "
            f"{r['share_at_rul_100']:.2f} / {s['share_at_rul_100']:.2f} |"
        )
    median = gaps.abs().median()
    lines += [
        "",
        "median over sensors of |gap|: level {:.2f} noise SDs; noise x{:.2f}, spread x{:.2f}, offset x{:.2f}, "
        "drift x{:.2f} (ratios: median of sim/real, 1 = equal); onset {:.0f} cycles; share at RUL 50 {:.2f}, "
        "at RUL 100 {:.2f}".format(
            median["level_gap_noise_sds"],
            gaps["noise_ratio"].median(),
            gaps["spread_ratio"].median(),
            gaps["offset_ratio"].median(),
            gaps["drift_ratio"].median(),
            median["onset_gap_cycles"],
            median["share_50_gap"],
            median["share_100_gap"],
        ),
    ]
    life = result["lifetimes"]
    lines.append(
        "lifetimes (cycles): real mean {mean:.0f}, SD {sd:.0f}, {min}-{max}; ".format(**life["real"])
        + "simulated mean {mean:.0f}, SD {sd:.0f}, {min}-{max}; ".format(**life["simulated"])
        + f"KS statistic {life['ks_statistic']:.3f} (p {life['ks_pvalue']:.2f})"
    )
    return "\n".join(lines)


def acid_test(train_file: Path, spec: FleetSpec, root: Path, seeds: list[int], fast: bool) -> dict:
    """Train `ml.train`'s regressors on the simulated fleet only; score the real units at truncation points."""
    # The ML stack is imported here: the realism table itself needs only the simulator.
    from benchmarks.evaluate_real import evaluate_fold
    from ml.data import RUL_LABEL, feature_columns
    from ml.train import TrainConfig

    config = TrainConfig.fast() if fast else TrainConfig()
    env = {**os.environ, **data_environment(root)}
    landing = Path(env["PDM_LANDING_PATH"])
    warehouse = Path(env["PDM_WAREHOUSE_PATH"])
    landing.mkdir(parents=True, exist_ok=True)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    land_fleet(spec, landing)
    shutil.copy2(train_file, landing / "train_FD001.txt")
    for path in landing.glob("*.txt"):  # settled: the build reads them at once
        os.utime(path, (time.time() - 60, time.time() - 60))
    log(f"acid test: landed {spec.dataset} (simulated) and real FD001 in {landing}; dbt build --target ci ...")
    done = subprocess.run(
        [DBT, "build", "--target", "ci"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"dbt build on {landing} failed:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        frame = con.execute(
            "select * from gold.fct_unit_cycle_features where split = 'train' order by unit_id, cycle"
        ).to_arrow_table()
    frame = frame.to_pandas()
    features = feature_columns(frame.columns)
    simulated = frame[frame["dataset"] == spec.dataset].reset_index(drop=True)
    real = frame[frame["dataset"] == "FD001"].reset_index(drop=True)
    results: dict = {}
    units = real["unit_id"].nunique()  # NASA's file: 100
    with threadpool_limits(limits=config.threads):
        for task_spec in config.models():
            if task_spec.task != "regression":
                continue
            per_seed = []
            for seed in seeds:
                cuts = truncation_points(real, seed)
                _, _, predicted, seconds = evaluate_fold(task_spec, config, simulated, cuts, features, seed)
                truth = cuts[RUL_LABEL].astype(float).to_numpy()
                phm08_per_100 = phm08_score(truth, predicted) * 100 / units
                per_seed.append({"rmse": rmse(truth, predicted), "phm08": phm08_per_100})
                log(f"acid test {task_spec.name} seed {seed}: RMSE {per_seed[-1]['rmse']:.2f} ({seconds:.0f} s)")
            results[task_spec.name] = {
                "real_units": units,
                "rmse_mean": float(np.mean([m["rmse"] for m in per_seed])),
                "rmse_sd": float(np.std([m["rmse"] for m in per_seed], ddof=1)) if len(per_seed) > 1 else 0.0,
                "phm08_mean": float(np.mean([m["phm08"] for m in per_seed])),
                "per_seed": per_seed,
            }
    return results


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.simulator_realism", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--train-file",
        type=Path,
        default=None,
        help="the real train_FD001.txt (default: ../shared/data/cmapss/train_FD001.txt)",
    )
    parser.add_argument("--seed", type=whole_number_from(0), default=42, help="the simulated fleet's seed")
    parser.add_argument("--units", type=whole_number_from(1), default=100, help="simulated train units")
    parser.add_argument("--acid-test", action="store_true", help="train on the simulated fleet, score real units")
    parser.add_argument("--seeds", type=seed_list, default=[42, 43, 44], help="acid test: model and truncation seeds")
    parser.add_argument("--fast", action="store_true", help="acid test with TrainConfig.fast()")
    parser.add_argument("--workdir", type=Path, default=None, help="acid test: default a temp folder")
    parser.add_argument("--keep", action="store_true", help="keep the acid test's work folder")
    parser.add_argument("--output", type=Path, default=None, help="also write the result as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if (code := absent_train_file(args.train_file, "simulator-realism", "nothing to compare")) is not None:
        return code
    args.train_file = real_train_file(args.train_file)
    if problem := unwritable_output("--output", args.output):
        print(f"simulator-realism: {problem}", file=sys.stderr)
        return 2
    spec = FleetSpec(dataset=SIMULATED_DATASET, train_units=args.units, test_units=1, seed=args.seed)
    result = compare(read_cmapss(args.train_file), simulate_fleet(spec).train)
    print(render(result, spec))
    output: dict = {
        "real": result["real"].to_dict("index"),
        "simulated": result["simulated"].to_dict("index"),
        "lifetimes": result["lifetimes"],
    }
    if args.acid_test:
        seeds = args.seeds
        fleet = FleetSpec(dataset=SIMULATED_DATASET, train_units=args.units, test_units=args.units, seed=args.seed)
        root = (args.workdir or Path(tempfile.mkdtemp(prefix="pdm-simulator-realism-"))).resolve()
        try:
            acid = acid_test(args.train_file, fleet, root, seeds, args.fast)
        finally:
            if args.workdir is None and not args.keep:
                shutil.rmtree(root, ignore_errors=True)
        output["acid_test"] = acid
        print()
        for name, figures in acid.items():
            print(
                f"acid test: {name} trained on {args.units} simulated units only, scored on the "
                f"{figures['real_units']} real FD001 units at a truncation point (seeds {','.join(map(str, seeds))}): "
                f"RMSE {figures['rmse_mean']:.2f} ± {figures['rmse_sd']:.2f}, PHM08 {figures['phm08_mean']:.0f} per "
                "100 units"
            )
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(output, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())

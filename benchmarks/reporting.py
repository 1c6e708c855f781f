"""What the benchmarks share: progress lines, line counts, ratios, the code state measured, and
the warning that a run's timings are noisy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ml.config import REPO_ROOT


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def line_count(path: Path) -> int:
    return path.read_bytes().count(b"\n")


def ratio(big: float | None, small: float | None) -> float | None:
    return None if big is None or not small else big / small


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def git_state(root: Path = REPO_ROOT) -> dict:
    """The commit measured, and the uncommitted changes to the code a benchmark exercises (of this project, or
    of the checkout at `root`)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
        except (OSError, subprocess.CalledProcessError):
            return None
        return done.stdout.strip()

    changed = git("status", "--porcelain", "--", "models", "macros", "snapshots", "seeds", "dbt_plugins",
                  "dbt_project.yml", "profiles.yml", "lakehouse", "ml", "benchmarks")  # fmt: skip
    return {"commit": git("rev-parse", "HEAD"), "uncommitted_changes": (changed or "").splitlines()}


def noisy_machine_warning(busiest_load_average: float, cpus: int | None) -> list[str]:
    """A warning line when other work competed for the machine during the runs, else none."""
    cpus = cpus or 1
    if busiest_load_average <= cpus + 1:  # the benchmark itself keeps up to ~2 runnable
        return []
    return [
        f"WARNING: the 1-minute load average reached {busiest_load_average:.1f} on {cpus} CPUs during the runs: "
        "other work competed for the machine, so the timings are noisy"
    ]


REAL_TRAIN_FILE = REPO_ROOT.parent / "shared" / "data" / "cmapss" / "train_FD001.txt"


def real_train_file(given: Path | None) -> Path:
    """The real FD001 train file a benchmark reads: `--train-file` when given, else `REAL_TRAIN_FILE`."""
    return given if given is not None else REAL_TRAIN_FILE


def absent_train_file(given: Path | None, prog: str, nothing_to: str) -> int | None:
    """The exit code when the real train file is not there, said, or None when it is. Without `--train-file` its
    absence is no error: the project never needs NASA's file. A `--train-file` that names no file is a mistake
    (a typo exited 0 with nothing done)."""
    path = real_train_file(given)
    if path.is_file():
        return None
    if given is not None:
        print(f"{prog}: --train-file {given}: no such file", file=sys.stderr)
        return 2
    print(
        f"{prog}: no real FD001 train file at {path}: {nothing_to} (NASA's C-MAPSS train_FD001.txt; the project "
        "never needs it; --train-file or `make ... TRAIN_FILE=path` reads another copy)"
    )
    return 0


def unwritable_output(option: str, path: Path | None) -> str | None:
    """Why `path` (an option's output file) can't be written, checked before a run of minutes, or None. A folder
    there, or a parent that can't be created, ended the run on a traceback once its figures were computed."""
    if path is None:
        return None
    if path.is_dir():
        return f"{option} {path} is a folder: give a file name"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"{option} {path}: its folder can't be created ({error.strerror or error})"
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"{option} {path}: can't be written (permission denied)"
    return None

"""The Spark tests' real dbt runs: an environment pointing one data folder at a landing folder, and
`dbt build` on a target (ci: DuckDB; spark: dbt-spark, method session, local[2], parquet tables under
the environment's spark folder), its output kept in a log file beside the data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ml.config import REPO_ROOT

DBT = str(Path(sys.executable).with_name("dbt"))


def build_environment(root: Path, landing: Path, name: str) -> dict[str, str]:
    """The environment of builds named `name` under `root`: its own warehouse, Spark folder, target and
    log folders, reading `landing` (and the predictions folder `root`/predictions)."""
    return {
        **os.environ,
        "DBT_PROFILES_DIR": str(REPO_ROOT),
        "PDM_DATA_DIR": str(root),
        "PDM_LANDING_PATH": str(landing),
        "PDM_WAREHOUSE_PATH": str(root / name / "pdm.duckdb"),
        "PDM_SPARK_DIR": str(root / name / "spark"),
        "DBT_TARGET_PATH": str(root / f"target_{name}"),
        "DBT_LOG_PATH": str(root / f"logs_{name}"),
    }


def dbt_build(target: str, env: dict[str, str], log: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`dbt build --target <target> <args>`, with landing_settle_seconds 0 (the tests land whole files
    before they build) unless `args` give --vars; stdout and stderr also go to `log`."""
    variables = () if "--vars" in args else ("--vars", "{landing_settle_seconds: 0}")
    command = [DBT, "build", "--target", target, *variables, *args]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
    log.write_text(result.stdout + result.stderr)
    return result

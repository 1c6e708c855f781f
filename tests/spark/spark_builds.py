"""The Spark tests' real dbt runs: an environment pointing one data folder at a landing folder, and
`dbt build` on a target (ci: DuckDB; spark: dbt-spark, method session, local[2], parquet tables under
the environment's spark folder), its output kept in a log file beside the data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
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


def dbt_build_command(target: str, *args: str) -> list[str]:
    """`dbt build --target <target> <args>`, with landing_settle_seconds 0 (the tests land whole files
    before they build) unless `args` give --vars."""
    variables = () if "--vars" in args else ("--vars", "{landing_settle_seconds: 0}")
    return [DBT, "build", "--target", target, *variables, *args]


def dbt_build(target: str, env: dict[str, str], log: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """That build, run to its end; stdout and stderr also go to `log`."""
    command = dbt_build_command(target, *args)
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
    log.write_text(result.stdout + result.stderr)
    return result


def dbt_build_killed(target: str, env: dict[str, str], log: Path, statement: str, *args: str) -> None:
    """That build, killed (SIGKILL to dbt and its Spark JVM, as a crash or the OOM killer would) as soon as
    dbt's log (DBT_LOG_PATH/dbt.log) shows it running `statement` (one line of SQL, as dbt logs it before it
    runs it); it fails if the build ends before it gets there or before the kill, or has not got there
    after 5 minutes. Its output goes to `log`."""
    dbt_log = Path(env["DBT_LOG_PATH"]) / "dbt.log"
    offset, partial_line, found = dbt_log.stat().st_size if dbt_log.exists() else 0, b"", False

    def reached() -> bool:
        """Whether the lines the build has logged so far (read from where the last look stopped) hold it."""
        nonlocal offset, partial_line, found
        if not found and dbt_log.exists():
            with dbt_log.open("rb") as logged:
                logged.seek(offset)
                new = logged.read()
            offset += len(new)
            *lines, partial_line = (partial_line + new).split(b"\n")
            found = any(line.strip() == statement.encode() for line in lines)
        return found

    with log.open("w") as out:
        build = subprocess.Popen(
            dbt_build_command(target, *args),
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 300
            while not reached() and build.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            assert reached(), f"the build did not run {statement} (exit code {build.poll()}, 5 minutes at most): {log}"
            assert build.poll() is None, f"the build ended (exit code {build.returncode}) before it could be killed"
        finally:
            if build.poll() is None:
                os.killpg(build.pid, signal.SIGKILL)
            build.wait()

"""How the watcher runs a tick's steps: dbt in this process, the Python steps in this process or as children.

`Dbt` is dbt's programmatic runner with the parsed manifest kept between invocations (re-parsed when
the project's signature changes); each invocation's output is captured, its warnings kept one line
each, and dbt-duckdb's in-process database closed at its end, so the warehouse file is free for the
publish and for analysts between builds. `run_module` runs `python -m <module>` as the module's
`main(args)` in this process (imported once, not at every tick), or, isolated, as a child process in
its own process group that dies with the watcher. A step that fails raises `StepFailed` with the tail
of its output. The tick itself, and what it runs when, is lakehouse/watch.py.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import io
import os
import signal
import subprocess
import sys
import time
import traceback
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ml.config import REPO_ROOT

OUTPUT_TAIL_LINES = 40  # lines of a failed step's output printed
PYTHON = sys.executable
RUN_RESULTS = "run_results.json"
GOLD_SCHEMA = "gold"  # lakehouse.publish.LAYER: what a publish reads
# DuckDB's vacuum (row-group merges at a checkpoint, profiles.yml `max_vacuum_tasks`): a continuous tick's
# builds run with none, so a checkpoint writes just what the tick appended; a merge rewrites up to three
# row groups of every column, 0.5-2.5 s of the feature table's commit at 2 M readings, in one tick of
# three. The compaction they skipped (`dbt run-operation compact_tables`) runs with the warn tests.
MAX_VACUUM_TASKS_ENV = "PDM_DUCKDB_MAX_VACUUM_TASKS"

PR_SET_PDEATHSIG = 1
try:  # loaded here, not in the forked child (no dynamic loading between fork and exec)
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
except OSError:
    _LIBC = None


def _child_setup() -> None:
    """In a child command: its own process group (a terminal's Ctrl-C goes to the watcher, which
    finishes the tick), and SIGKILL when the watcher dies (Linux prctl PR_SET_PDEATHSIG)."""
    os.setpgid(0, 0)
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class StepFailed(RuntimeError):
    def __init__(self, step: str, detail: str, output: str) -> None:
        super().__init__(f"{step}: {detail}")
        self.step = step
        self.detail = detail
        self.output = output


@dataclass
class DbtOutcome:
    seconds: float
    warnings: list[str]
    gold_models: list[str] = field(default_factory=list)  # the models of schema gold the build ran
    started_at: str | None = None  # the invocation's run_started_at, as macros/incremental/scoped_tests.sql formats it


class Dbt:
    """dbt's programmatic runner in this process, the parsed manifest kept between invocations.

    Re-parses when the project signature changes. Every invocation ends by closing dbt-duckdb's
    in-process database, so the warehouse file is free for the publish and for analysts between builds.
    """

    def __init__(self, target: str | None) -> None:
        self.target = target
        self.manifest: Any = None
        self.parsed_for: str | None = None
        self.parse_seconds = 0.0

    def _common(self) -> list[str]:
        args = ["--project-dir", str(REPO_ROOT), "--profiles-dir", os.environ.get("DBT_PROFILES_DIR", str(REPO_ROOT))]
        return [*args, "--target", self.target] if self.target else args

    def _invoke(
        self, runner: Any, args: list[str], step: str, run_results: Path | None = None
    ) -> tuple[Any, list[str], float]:
        """`runner.invoke(args)`, its output captured; with `run_results`, the invocation's results written
        there (failed or not)."""
        tail: deque[str] = deque(maxlen=OUTPUT_TAIL_LINES)
        errors: list[str] = []
        warnings: list[str] = []

        def listen(event: Any) -> None:
            level = event.info.level
            if level in ("info", "warn", "error") and event.info.msg:
                tail.append(str(event.info.msg))
            if level == "error" and event.info.msg and len(errors) < OUTPUT_TAIL_LINES:
                errors.append(str(event.info.msg))
            warning = _warning(event)
            if warning and warning not in warnings:
                warnings.append(warning)

        runner.callbacks = [listen]
        started = time.monotonic()
        try:
            # nothing on stdout (the tick prints its own line); dbt.log under DBT_LOG_PATH at info level: each
            # node's start and result, not the debug level's every statement with its SQL
            result = runner.invoke([*args, *self._common(), "--log-level", "none", "--log-level-file", "info"])
        finally:
            _close_dbt_database()
        if run_results is not None and hasattr(result.result, "write"):
            run_results.parent.mkdir(parents=True, exist_ok=True)
            result.result.write(str(run_results))
        seconds = time.monotonic() - started
        if not result.success:
            raise StepFailed(step, _dbt_failure(result), "\n".join(errors or tail))
        return result, warnings, seconds

    def ensure_parsed(self, project: str) -> None:
        if self.manifest is not None and self.parsed_for == project:
            return
        from dbt.cli.main import dbtRunner

        replaced = self.manifest is not None  # a project file changed under a running watcher
        if replaced:
            gc.unfreeze()  # the manifest being replaced was frozen (freeze_long_lived): let it be collected
        result, _, self.parse_seconds = self._invoke(dbtRunner(), ["parse"], "dbt parse")
        self.manifest = result.result
        self.parsed_for = project
        if replaced:  # the first manifest is frozen by the warm-up (`--once` has none and exits)
            freeze_long_lived()

    def build(self, project: str, step: str, *args: str, vacuum: bool = True) -> DbtOutcome:
        return self.run(project, step, "build", *args, vacuum=vacuum)

    def run(self, project: str, step: str, command: str, *args: str, vacuum: bool = True) -> DbtOutcome:
        """`dbt <command> <args>` on the kept manifest (`build`, `test` for the warn tests, `run-operation`
        for the compaction); `vacuum=False`: its checkpoints merge no row groups (`MAX_VACUUM_TASKS_ENV`
        at 0 for the invocation, read by profiles.yml).

        dbt's artifacts would rewrite the manifest (2 MB at this project's size), its graph and the run
        results at the end of every invocation, ~0.5 s of a tick's latency each time: the kept manifest
        is the one `dbt parse` wrote, so only run_results.json is written, from the result in memory, to
        the folder dbt would have written it to (`--target-path`, else `target_path()`)."""
        from dbt.cli.main import dbtRunner

        self.ensure_parsed(project)
        folder = Path(args[args.index("--target-path") + 1]) if "--target-path" in args else target_path()
        with _environment(MAX_VACUUM_TASKS_ENV, None if vacuum else "0"):
            result, warnings, seconds = self._invoke(
                dbtRunner(manifest=self.manifest), [command, *args, "--no-write-json"], step, folder / RUN_RESULTS
            )
        gold = {
            r.node.name
            for r in getattr(result.result, "results", []) or []
            if getattr(r, "node", None) is not None  # run-operation's results have none
            and r.node.resource_type == "model"
            and r.node.schema == GOLD_SCHEMA
        }
        return DbtOutcome(seconds, warnings, sorted(gold), _run_started_at())


def freeze_long_lived() -> None:
    """Put what is alive now (dbt's parsed manifest, the imported modules, the champion models: about half
    a million objects) out of the garbage collector's sight (`gc.freeze`), after collecting the garbage.
    A tick allocates enough to set off a full collection in about two ticks of three, and each one
    scanned them all: 0.25-0.4 s at once, in the middle of a build or a publish. Frozen, a tick's
    collections took 0.24-0.31 s in all (median) instead of 0.53-0.57 s (benchmarks/README.md,
    "latency"). What is frozen is never collected: the manifest a re-parse replaces is unfrozen first
    (`Dbt.ensure_parsed`); a champion model replaced by a newer one stays in memory."""
    gc.collect()
    gc.freeze()


def _run_started_at() -> str | None:
    """The last dbt invocation's `run_started_at` (what its models stamp as ingested_at and its
    watermarks as updated_at), formatted as macros/incremental/scoped_tests.sql compares it."""
    from dbt import tracking

    started = getattr(tracking.active_user, "run_started_at", None)
    return started.strftime("%Y-%m-%d %H:%M:%S.%f") if started is not None else None


def _warning(event: Any) -> str | None:
    """One line for a dbt event worth showing as a warning: a test that warned (name and row count), a
    warning raised by the project's macros, or a `WARNING: ...` line they log; None for anything else."""
    name, level, msg = event.info.name, event.info.level, " ".join(str(event.info.msg or "").split())
    if name == "LogTestResult" and level == "warn":
        return f"test {event.data.name} warned: {event.data.num_failures} row(s)"
    if name in ("RunResultWarning", "RunResultWarningMessage", "LogTestResult") or not msg:
        return None
    if level == "warn" or (level == "info" and msg.startswith("WARNING")):
        return msg
    return None


def _dbt_failure(result: Any) -> str:
    """What failed in a dbt invocation: its exception, or the nodes that errored or failed."""
    if result.exception is not None:
        return f"{type(result.exception).__name__}: {result.exception}"
    failed = [
        f"{r.node.name} ({r.status})"
        for r in getattr(result.result, "results", []) or []
        if str(r.status) in ("error", "fail", "runtime error")
    ]
    return f"{len(failed)} node(s) failed: {', '.join(failed)}" if failed else "failed"


@contextlib.contextmanager
def _environment(name: str, value: str | None) -> Iterator[None]:
    """`name` set to `value` in this process's environment for the block (None: left as it is)."""
    if value is None:
        yield
        return
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _close_dbt_database() -> None:
    """Close dbt-duckdb's in-process DuckDB database (it keeps it open after a run) and forget it."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:
        return
    env = DuckDBConnectionManager._ENV
    if env is not None:
        env.close()
    DuckDBConnectionManager.close_all_connections()


def run_module(step: str, module: str, isolated: bool, args: Sequence[str] = ()) -> tuple[str, float]:
    """Run `python -m <module> <args>`: its `main(args)` in this process, its stdout and stderr
    captured (the modules are imported once, not at every tick), or with `isolated` as a child process.
    Returns its stdout; a non-zero exit raises StepFailed with the tail of its output."""
    if isolated:
        return run_command(step, [PYTHON, "-m", module, *args])
    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = importlib.import_module(module).main(list(args))
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except Exception:  # the step's own crash: reported as its failure, with the traceback
        err.write(traceback.format_exc())
        code = 1
    seconds = time.monotonic() - started
    if code:
        output = (out.getvalue() + err.getvalue()).splitlines()[-OUTPUT_TAIL_LINES:]
        raise StepFailed(step, f"`python -m {module}` exited {code}", "\n".join(output))
    return out.getvalue(), seconds


def run_command(step: str, argv: list[str]) -> tuple[str, float]:
    """Run a child command; its stdout on success, StepFailed (with its output's tail) otherwise."""
    started = time.monotonic()
    done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, check=False, preexec_fn=_child_setup)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        output = (done.stdout + done.stderr).splitlines()[-OUTPUT_TAIL_LINES:]
        raise StepFailed(step, f"`{' '.join(argv[1:])}` exited {done.returncode}", "\n".join(output))
    return done.stdout, seconds


def target_path() -> Path:
    """dbt's target folder (DBT_TARGET_PATH, else <repo>/target), absolute: the tick's later dbt runs
    write theirs under it (`scores`, `warn_tests`), leaving the main build's run_results.json alone."""
    target = Path(os.environ.get("DBT_TARGET_PATH") or REPO_ROOT / "target")
    return target if target.is_absolute() else REPO_ROOT / target

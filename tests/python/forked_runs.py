"""Runs the suite's dbt and `python -m` commands, each in a fresh process forked from a server that
has imported their libraries once.

A `dbt` process spends ~3.5 s importing dbt, its DuckDB adapter and their libraries before it reads
the project, and the suite starts a few hundred of them; the watcher, publish and ML steps import
dbt, MLflow, scikit-learn and deltalake (~4.5 s). The server (this file run as a script) imports
those third-party modules once, and builds the JSON schemas dbt checks its project and nodes against
(SCHEMAS); for each run it forks a child that takes the run's environment variables and working
directory, writes its stdout and stderr to files, runs what the command would
(`dbt.cli.main:cli`, as the `dbt` script does, or the module as `__main__`, as `python -m` does) and
exits through the interpreter's normal shutdown, so exit handlers (the DuckDB adapter's closes the
warehouse) run as they do at the end of that command's own process. The project's own Python (its
dbt plugins, ml/, lakehouse/) is never imported by the server: each run imports it fresh.

What differs from starting the command itself: the children of one server share Python's hash
seed, and their stdin is /dev/null. Tests that kill a process part-way, signal it or start two at
once start the command themselves (`DBT`, `sys.executable`).
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

DBT = str(Path(sys.executable).with_name("dbt"))

# What a `dbt build` imports (measured with sys.modules before and after a build): dbt's tasks and
# compiler and the libraries they load; and the ML and Delta libraries of the project's steps. Not
# DuckDB, nor the adapter that imports it: a child of a server that had imported duckdb aborts at
# exit ("terminate called without an active exception").
PRELOAD = (
    "dbt.cli.main",
    "dbt.compilation",
    "dbt.parser.sql",
    "dbt.runners",
    "dbt.task.build",
    "dbt.task.compile",
    "dbt.task.run",
    "dbt.task.seed",
    "dbt.task.snapshot",
    "dbt.task.test",
    "dbt_common.clients.agate_helper",
    "agate",
    "babel.dates",
    "daff",
    "numpy",
    "pandas",
    "pyarrow.compute",
    "sqlparse",
    "deltalake",
    "mlflow",
    "sklearn.ensemble",
)

# The classes dbt validates the project, the profile and each node against, with a JSON schema it builds
# from the class on first use and keeps for the process (dbtClassMixin.json_schema, functools.lru_cache):
# ~1.4 s of CPU in a full parse, ~0.3 s in every run (recorded in a `dbt build` with a full parse).
# Built in the server, each child has them already. Not the DuckDB credentials: their module imports duckdb.
SCHEMAS = (
    "dbt.contracts.project.ProjectFlags",
    "dbt.contracts.project.ProfileConfig",
    "dbt.contracts.project.Project",
    "dbt.contracts.project.PackageConfig",
    "dbt.contracts.project.Configuration",
    "dbt.contracts.selection.SelectorFile",
    "dbt.artifacts.resources.v1.model.ModelConfig",
    "dbt.artifacts.resources.v1.components.Contract",
    "dbt.artifacts.resources.v1.snapshot.SnapshotConfig",
    "dbt.artifacts.resources.v1.config.NodeConfig",
    "dbt.artifacts.resources.v1.config.TestConfig",
    "dbt.artifacts.resources.v1.config.Hook",
    "dbt.artifacts.resources.v1.seed.SeedConfig",
    "dbt.artifacts.resources.v1.exposure.ExposureConfig",
    "dbt.artifacts.resources.v1.unit_test_definition.UnitTestConfig",
    "dbt.artifacts.resources.v1.source_definition.SourceConfig",
    "dbt.contracts.graph.nodes.ModelNode",
    "dbt.contracts.graph.nodes.SnapshotNode",
    "dbt.contracts.graph.nodes.AnalysisNode",
    "dbt.contracts.graph.nodes.SingularTestNode",
    "dbt.contracts.graph.nodes.GenericTestNode",
    "dbt.contracts.graph.nodes.SeedNode",
    "dbt.contracts.graph.nodes.HookNode",
    "dbt.contracts.graph.unparsed.UnparsedNodeUpdate",
    "dbt.contracts.graph.unparsed.UnparsedModelUpdate",
    "dbt.contracts.graph.unparsed.UnparsedExposure",
    "dbt.contracts.graph.unparsed.UnparsedUnitTest",
    "dbt.contracts.graph.unparsed.UnparsedSourceDefinition",
    "dbt.task.test.TestResultData",
    "dbt_common.contracts.constraints.ColumnLevelConstraint",
    "dbt_common.contracts.constraints.ModelLevelConstraint",
)


class ForkedRuns:
    """The client: one server per test process, started at the first run; runs are one at a time."""

    def __init__(self) -> None:
        self._server: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def run(
        self, command: list[str], env: dict[str, str], cwd: Path, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`command` (`[DBT, ...]` or `[sys.executable, "-m", module, ...]`) in `cwd` with exactly the
        environment `env`, as subprocess.run would report it: past `timeout` seconds the run is killed and
        subprocess.TimeoutExpired raised."""
        if command[:1] != [DBT] and command[:2] != [sys.executable, "-m"]:
            raise ValueError(f"runs `{DBT} ...` or `{sys.executable} -m MODULE ...`, not {command}")
        with self._lock, tempfile.TemporaryDirectory(prefix="forked-run-") as folder:
            stdout, stderr = Path(folder, "stdout"), Path(folder, "stderr")
            request = {"command": command, "env": env, "cwd": str(cwd), "stdout": str(stdout), "stderr": str(stderr)}
            reply = self._ask(json.dumps({**request, "timeout": timeout}))
            out, err = stdout.read_text(errors="replace"), stderr.read_text(errors="replace")
        if reply["timed_out"]:
            raise subprocess.TimeoutExpired(command, timeout or 0, output=out, stderr=err)
        return subprocess.CompletedProcess(command, reply["returncode"], out, err)

    def _ask(self, request: str) -> dict:
        server = self._running_server()
        assert server.stdin is not None and server.stdout is not None
        server.stdin.write(request + "\n")
        server.stdin.flush()
        reply = server.stdout.readline()
        if not reply:
            self._server = None
            raise RuntimeError(f"the fork server ({__file__}) exited with {server.wait()}; its stderr is above")
        return json.loads(reply)

    def _running_server(self) -> subprocess.Popen[str]:
        if self._server is None or self._server.poll() is not None:
            self._server = subprocess.Popen(
                [sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
            atexit.register(self._stop, self._server)
        return self._server

    @staticmethod
    def _stop(server: subprocess.Popen[str]) -> None:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=30)


# One client per test process, however many names conftest is imported under.
_CLIENT = ForkedRuns()


def run_command(
    command: list[str], env: dict[str, str], cwd: Path, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """`command` (`[DBT, ...]` or `[sys.executable, "-m", module, ...]`), in a process forked for this run."""
    return _CLIENT.run(command, env, cwd, timeout)


def run_dbt(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """`dbt *args` in `cwd` with exactly the environment `env`, in a process forked for this run."""
    return run_command([DBT, *args], env, cwd, timeout)


def run_module(
    module: str, args: list[str], env: dict[str, str], cwd: Path, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m module *args` in `cwd` with exactly the environment `env`, in a process forked for this run."""
    return run_command([sys.executable, "-m", module, *args], env, cwd, timeout)


def _serve() -> dict:
    """Fork a child per request line on stdin and answer each with the child's exit status on stdout.

    Returns (in the child only) the request the child is to run."""
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    for name in SCHEMAS:
        module, _, cls = name.rpartition(".")
        getattr(importlib.import_module(module), cls).json_schema()
    if "duckdb" in sys.modules:
        raise SystemExit(f"{__file__}: PRELOAD or SCHEMAS imported duckdb; its children would abort at exit")
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            replies.close()
            return request
        timed_out = not _exits_within(pid, request["timeout"])
        if timed_out:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        reply = {"pid": pid, "returncode": os.waitstatus_to_exitcode(status), "timed_out": timed_out}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
    sys.exit(0)


def _exits_within(pid: int, timeout: float | None) -> bool:
    """Whether the child `pid` has exited within `timeout` seconds (None: wait for it)."""
    if timeout is None:
        return True
    pidfd = os.pidfd_open(pid)
    try:
        readable, _, _ = select.select([pidfd], [], [], timeout)
    finally:
        os.close(pidfd)
    return bool(readable)


def _become_command(request: dict) -> None:
    """In the forked child: take the run's environment, folder and output files, then run the command."""
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    for fd, path, flags in (
        (0, os.devnull, os.O_RDONLY),
        (1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        (2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
    ):
        opened = os.open(path, flags, 0o644)
        os.dup2(opened, fd)
        os.close(opened)
    command = request["command"]
    if command[0] == DBT:
        sys.argv = command
        sys.path[0] = str(Path(DBT).parent)  # the script's folder, as for the `dbt` script (not this file's)
        from dbt.cli.main import cli

        sys.exit(cli())
    import runpy

    sys.argv = [command[2], *command[3:]]  # runpy puts the module's file first, as `python -m` does
    sys.path[0] = request["cwd"]  # `python -m` looks in the working folder first
    runpy.run_module(command[2], run_name="__main__", alter_sys=True)
    sys.exit(0)


if __name__ == "__main__":
    _become_command(_serve())

"""The tools around the pipeline, as a newcomer runs them: the MLflow UI (the hint training prints, and
`make mlflow-ui`) serves the store with one worker; the confusion-matrix plot labels both axes inside the
figure; the first install shows its progress; no code, comment or doc cites a file or make target the repo
lacks. Real processes and files; no dbt build."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pytest

from ml.config import REPO_ROOT
from ml.plots import PLOT_DPI, confusion_matrix_figure
from ml.registry import configure_mlflow, ensure_experiment, tracking_uri
from ml.train import browse_command

SERVER_START_SECONDS = 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A real MLflow store (SQLite + artifacts folder) with one run and one artifact; returns (folder, run id)."""
    mlflow_dir = tmp_path_factory.mktemp("mlruns")
    configure_mlflow(mlflow_dir)
    experiment = ensure_experiment("newcomer-tools", mlflow_dir)
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_metric("rmse", 12.5)
        mlflow.log_text("logged for the UI test", "notes.txt")
    return mlflow_dir, run.info.run_id


def session_processes(leader: int) -> list[tuple[int, int, str]]:
    """(pid, parent pid, command line) of every live process in the session `leader` started."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        if int(fields[3]) == leader and fields[0] != "Z":  # field 6 of /proc/<pid>/stat: the session id
            found.append((int(entry.name), int(fields[1]), command))
    return found


def wait_until_serving(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the server exited with {process.returncode}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"nothing served on port {port} after {SERVER_START_SECONDS} s")


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # one session: the server and whatever it spawns, stopped together
    )


def stop(process: subprocess.Popen) -> None:
    with_children = os.getpgid(process.pid)
    os.killpg(with_children, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(with_children, signal.SIGKILL)
        process.wait()


def assert_serves_the_store_with_one_worker(port: int, process: subprocess.Popen, run_id: str) -> None:
    wait_until_serving(port, process)
    with urllib.request.urlopen(
        f"http://127.0.0.1:{port}/get-artifact?path=notes.txt&run_uuid={run_id}", timeout=10
    ) as response:
        assert response.read() == b"logged for the UI test"
    processes = session_processes(process.pid)
    servers = [pid for pid, _, command in processes if "uvicorn" in command]
    assert len(servers) == 1, processes
    assert "--workers 1" in next(command for pid, _, command in processes if pid == servers[0])
    # a multi-worker uvicorn forks its workers as children; MLflow's job runner is a process of its own
    assert not [pid for pid, parent, _ in processes if parent == servers[0]], processes
    assert not [command for _, _, command in processes if "_job_runner" in command], processes


def test_the_mlflow_ui_hint_and_make_mlflow_ui_serve_the_store_with_one_worker(store) -> None:
    mlflow_dir, run_id = store
    hint = browse_command(tracking_uri(mlflow_dir))
    assert "--workers 1" in hint
    # as printed (a shell command), on a free port instead of 5000: the machine may be serving 5000 already
    hint_port, make_port = free_port(), free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PDM_", "MLFLOW_"))}
    printed = start(["/bin/sh", "-c", f"{hint} --port {hint_port}"], env)
    make = start(
        ["make", "--no-print-directory", "mlflow-ui", f"PORT={make_port}"], {**env, "PDM_MLFLOW_DIR": str(mlflow_dir)}
    )
    try:
        assert_serves_the_store_with_one_worker(hint_port, printed, run_id)
        assert_serves_the_store_with_one_worker(make_port, make, run_id)
    finally:
        stop(printed)
        stop(make)


def test_the_confusion_matrix_labels_both_axes_inside_the_figure() -> None:
    y = np.array([0, 0, 1, 1, 0, 1, 0, 0])
    p = np.array([0.1, 0.6, 0.7, 0.2, 0.3, 0.9, 0.05, 0.4])
    fig = confusion_matrix_figure(y, p, threshold=0.5)
    fig.set_dpi(PLOT_DPI)  # as logged (ml.plots.log_figure)
    fig.canvas.draw()
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("predicted RUL") and ax.get_ylabel() == "true RUL, cycles"
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    for label in (ax.xaxis.label, ax.yaxis.label):
        box = label.get_window_extent(renderer)
        assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1, label


def test_the_first_install_shows_progress() -> None:
    # -n: print what `make install` would run on a fresh clone (-W: as if requirements.txt had changed)
    dry = subprocess.run(
        ["make", "-n", "-W", "requirements.txt", ".venv/.installed"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installs = [line for line in dry.splitlines() if "pip install" in line]
    assert any("-r requirements.txt" in line for line in installs), dry
    assert not [line for line in installs if "--quiet" in line or " -q" in line], installs
    assert len(re.findall(r"^echo \"install \d/\d: ", dry, flags=re.MULTILINE)) == 3, dry


@pytest.mark.parametrize(
    ("target", "flag", "option"),
    [
        ("erase UNIT=FD101-test-001 REASON=x", "PURGE", "--purge"),
        ("evaluate-real", "EVERY_STOP", "--every-stop"),
        ("simulator-realism", "ACID_TEST", "--acid-test"),
    ],
)
def test_a_yes_no_make_variable_set_to_0_no_or_false_means_no(target: str, flag: str, option: str) -> None:
    """`make erase PURGE=0` must not purge (it did: any value counted as yes)."""

    def dry(*settings: str) -> str:
        command = ["make", "-n", "-o", "install", *target.split(), *settings]
        return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout

    for value in ("1", "yes", "true"):
        assert option in dry(f"{flag}={value}"), value
    for value in ("0", "no", "false", ""):
        assert option not in dry(f"{flag}={value}"), value
    assert option not in dry()


@pytest.mark.parametrize(
    ("target", "text", "passed"),
    [
        (
            "erase UNIT=FD101-test-001",
            "REASON=ticket $123 for $USER, 50% off",
            "--reason ticket $123 for $USER, 50% off",
        ),
        ("sql", "Q=select regexp_matches(unit_id, '-00[1-3]$') from gold.dim_units", "--query select regexp_matches("),
        ("sql", "Q=$x", "--query $x"),
    ],
)
def test_a_reason_or_query_holding_a_dollar_sign_is_passed_as_typed(target: str, text: str, passed: str) -> None:
    """`make erase REASON='ticket $123'` recorded 'ticket 23' in the audit table (and the SHA-256 of that in the
    tombstone): make expanded `$1` as a variable. So did `make sql Q=...` with a `$` in the query."""
    command = ["make", "--no-print-directory", "-o", "install", *target.split(), text, "PY=echo"]
    out = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    assert passed in out, out
    assert text.split("=", 1)[1] in out, out


TEXT_SUFFIXES = {".py", ".sql", ".yml", ".yaml", ".md", ".in", ".txt", ".toml", ".cfg", ""}


def tracked_text_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return [
        REPO_ROOT / name
        for name in names
        if Path(name).suffix in TEXT_SUFFIXES and (REPO_ROOT / name).is_file() and not name.startswith("data/")
    ]


# the shared notes the project started from, which live outside the repo (spelt in two parts so that
# this file, tracked like the others, does not cite them)
SHARED_NOTES = ("DOMAIN" + ".md", "STACK" + ".md")


def test_no_file_cites_a_file_or_make_target_the_repo_lacks() -> None:
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", (REPO_ROOT / "Makefile").read_text(), flags=re.MULTILINE))
    stale = []
    for path in tracked_text_files():
        text = path.read_text(errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            where = f"{path.relative_to(REPO_ROOT)}:{number}"
            stale += [f"{where} cites {name}" for name in SHARED_NOTES if name in line]
            stale += [
                f"{where} names `make {target}`"
                for target in re.findall(r"`make ([a-z][a-z0-9-]*)", line)
                if target not in targets
            ]
    assert not stale, "\n".join(stale)


def test_sample_fleet_dirty_lands_the_bad_files_beside_the_fleet_once(tmp_path, monkeypatch, capsys) -> None:
    from ml import simulate

    # the sample fleet's shape, a few units (the dirty files' content is checked on a real build: test_first_run.py)
    tiny = simulate.FleetSpec(dataset="FD101", train_units=2, test_units=2, conditions=1, fault_modes=1, seed=42)
    monkeypatch.setattr(simulate, "SAMPLE_FLEET", (tiny,))
    landing = tmp_path / "landing"
    assert simulate.main(["sample-fleet", "--dirty", "--landing", str(landing)]) == 0
    out = capsys.readouterr().out
    assert "dirty files (sample-fleet --dirty; `make run DIRTY=0` lands none): train_FD101_resent.txt" in out
    names = sorted(p.name for p in landing.iterdir() if p.is_file())
    expected = ["RUL_FD101.txt", "readme.txt", "test_FD101.txt", "train_FD101.txt"]
    assert names == sorted([*expected, "train_FD101_resent.txt", "train_FD101_retry.txt"])
    assert (landing / "train_FD101_retry.txt").stat().st_size == 0
    assert not (landing / ".partial").exists()
    # a landing folder holding files is left alone, dirty or not
    assert simulate.main(["sample-fleet", "--dirty", "--landing", str(landing)]) == 0
    assert "holds 6 files: not simulating" in capsys.readouterr().out


def documented_make_settings() -> list[tuple[str, str, str]]:
    """(target, variable, value) of every `make <target> VAR=value` the READMEs and the Makefile show."""
    found = set()
    for path in (REPO_ROOT / "README.md", REPO_ROOT / "benchmarks" / "README.md", REPO_ROOT / "Makefile"):
        for target, settings in re.findall(r"make ([a-z][a-z0-9-]*)((?: [A-Z_]+=[^`\s)]*)+)", path.read_text()):
            for variable, value in re.findall(r"([A-Z_]+)=([^`\s)]*)", settings):
                value = value.strip("\"'")
                found.add((target, variable, value if value and value != "…" else "7"))
    return sorted(found)


def test_every_documented_make_variable_reaches_its_command() -> None:
    """`make predict VERSION=3` (the README's row on scoring a version from before an erasure) ran
    `python -m ml.predict`, the latest version, exit 0: the target dropped the variable. Each documented
    `make <target> VAR=value` must change the command the target runs (run here with `echo` for python
    and dbt, so nothing is built or trained)."""
    settings = documented_make_settings()
    assert ("predict", "VERSION", "7") in settings and len(settings) > 10

    def echoed(target: str, *assignments: str) -> str:
        command = ["make", "--no-print-directory", "-o", "install", "-o", ".venv/.installed", target]
        command += ["PY=echo", "DBT=echo", *assignments]
        done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
        # `make run` names its hand-over by the time: not a difference the variable made
        return re.sub(r"make-run-\d+", "make-run-N", done.stdout + done.stderr)

    # the documented value, or another when that one is the default (`make benchmark REPEATS=3`)
    ignored = [
        f"{target} {variable}"
        for target, variable, value in settings
        if all(echoed(target) == echoed(target, f"{variable}={each}") for each in dict.fromkeys([value, "7"]))
    ]
    assert not ignored, f"documented make variables the target ignores: {ignored}"


def test_make_clean_removes_the_warehouse_pdm_data_dir_points_at_and_refuses_an_empty_or_root_one(
    tmp_path: Path,
) -> None:
    """`PDM_DATA_DIR=/elsewhere make clean` removed data/warehouse, the default folder's, and left the
    warehouse it points at. Run from a folder of its own (`make -C`), so the repo's target/ and logs/ stay."""
    here = tmp_path / "checkout"
    data = tmp_path / "elsewhere"
    for folder in (
        here / "target",
        here / "logs",
        here / "data" / "ci",
        here / "data" / "warehouse",
        data / "warehouse",
    ):
        folder.mkdir(parents=True)
        (folder / "file").write_text("x")
    for kept in (data / "landing", data / "lake", tmp_path / "warehouse"):
        kept.mkdir(parents=True)
        (kept / "file").write_text("x")

    def clean(value: str | None) -> subprocess.CompletedProcess[str]:
        env = {name: value for name, value in os.environ.items() if name != "PDM_DATA_DIR"}
        if value is not None:
            env["PDM_DATA_DIR"] = value
        command = ["make", "--no-print-directory", "-C", str(here), "-f", str(REPO_ROOT / "Makefile"), "clean"]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    for refused, says in (
        ("", "set but empty"),
        (" ", "set but empty"),
        ("/", "the root folder"),
        ("/tmp/..", "the root folder"),
    ):
        done = clean(refused)
        assert done.returncode != 0 and f"make clean: PDM_DATA_DIR is {says}" in done.stderr, done.stderr
        assert "nothing removed" in done.stderr and (data / "warehouse" / "file").exists()
        assert (here / "target" / "file").exists()
    done = clean(str(data))
    assert done.returncode == 0, done.stderr
    assert not (data / "warehouse").exists() and not (here / "target").exists() and not (here / "data" / "ci").exists()
    assert (data / "landing" / "file").exists() and (data / "lake" / "file").exists()
    assert (here / "data" / "warehouse" / "file").exists()  # not the folder PDM_DATA_DIR points at
    assert (tmp_path / "warehouse" / "file").exists()
    assert clean(None).returncode == 0 and not (here / "data" / "warehouse").exists()  # unset: data/

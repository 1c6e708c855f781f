"""On Spark every build is a full refresh of bronze and of the latest scores: parquet tables cannot append
in place, so both are tables rebuilt from their folders at every build. What DuckDB keeps through its
full refresh must then hold at every Spark build. One landing folder, real `dbt build`s on Spark (target
spark, local[2]) of bronze and the silver tables on it:

1. a fleet, with scores for two test units;
2. a second delivery of unit 1's readings, with other values, in a file one day old (`cp -p` of an old
   file): it is the latest delivery, so silver takes it, though its file is modified before the first's;
3. a build killed as it writes bronze again, and one as it writes the latest scores again (after the table
   each replaces left its place: dbt-spark drops a parquet table before it writes the new one), then that
   delivery and the scores file deleted: the tables being replaced were kept aside, so the build stops,
   naming the file and the units, and no table changes;
4. the same build with the var full_refresh_drops_deleted_files: the loss is taken, and named;
5. a new file being copied in and a file bronze holds being rewritten in place, under a build that waits
   for files to settle: both are held back (the new one is not read half-written); the build stops,
   naming the second, since holding it back would drop its rows until a later build reads it; both
   whole, a build reads them.

Run by `make test-spark` (part of `make test`), which checks for Java first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ml.simulate import FleetSpec, land_fleet
from tests.python.slow_copy import SlowCopy
from tests.spark.spark_builds import build_environment, dbt_build, dbt_build_killed

pytestmark = [pytest.mark.dbt]

FLEET = FleetSpec(dataset="FD111", train_units=4, test_units=4, conditions=1, fault_modes=1, seed=11)
SCORED_UNITS = ("FD111-test-001", "FD111-test-002")
# What each build runs: the models from bronze up to silver's deduplicated readings, and the latest scores
# (what is built on them is skipped with them when one stops). No data tests: on Spark each is a job of its
# own (~0.6 s), and test_spark_gold's build runs them all.
SELECTION = (
    "--select",
    "+int_sensor_readings_deduplicated",
    "+int_unit_risk_scores_latest",
    "--exclude-resource-type",
    "test",
    "unit_test",
)
ACCEPT_LOSS = "{landing_settle_seconds: 0, full_refresh_drops_deleted_files: true}"
# A build that waits for files to settle: a file that changes within a second is held back.
SETTLING = "{landing_settle_seconds: 1}"
# p2 (the fifth sensor, field 10) of unit 1 in the second delivery: the first's plus this.
P2_SHIFT = Decimal(100)


class SparkLanding:
    """The landing folder, the predictions folder and the Spark warehouse of one environment."""

    def __init__(self, root: Path) -> None:
        self.root, self.landing = root, root / "landing"
        self.scores = root / "predictions" / "unit_risk_scores"
        self.env = build_environment(root, self.landing, "spark")
        self.warehouse = Path(self.env["PDM_SPARK_DIR"]) / "warehouse"
        self.builds = 0

    def build(self, *args: str) -> subprocess.CompletedProcess[str]:
        self.builds += 1
        return dbt_build("spark", self.env, self.root / f"build_{self.builds}.log", *SELECTION, *args)

    def build_killed_while_rewriting(self, schema: str, name: str) -> None:
        """A build of the model `name` alone, killed as soon as it starts writing its table again: the table
        it replaces has left its place (dbt-spark drops a parquet table first), and none is written yet. If
        the kill came once Spark had begun writing, the partly written folder is deleted, as Spark's
        "[LOCATION_ALREADY_EXISTS] ... remove the existing location first" asks an operator to."""
        self.builds += 1
        log = self.root / f"build_{self.builds}.log"
        dbt_build_killed("spark", self.env, log, f"create table {schema}.{name}", "--select", name)
        folder = self.folder(schema, name)
        if folder.exists():
            assert not list(folder.glob("*.parquet")), f"{name} written whole, though the build was killed: {log}"
            shutil.rmtree(folder)

    def folder(self, schema: str, name: str) -> Path:
        return self.warehouse / f"{schema}.db" / name

    def table(self, schema: str, name: str) -> str:
        return f"read_parquet('{self.folder(schema, name)}/*.parquet')"

    def replaced_table(self, schema: str, name: str) -> str:
        """The table, or where a build that stopped while writing it again kept it (`<name>__replaced`)."""
        return self.table(schema, name if self.folder(schema, name).exists() else f"{name}__replaced")

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect() as con:
            con.execute("set TimeZone = 'UTC'")
            return con.execute(sql).fetchall()

    def unit_1(self) -> tuple:
        """Silver's readings of train unit 1: the file they come from, how many, their p2 sum."""
        readings = self.table("silver", "int_sensor_readings_deduplicated")
        return self.query(
            f"select any_value(source_file), count(*), round(sum(p2_fan_inlet_pressure), 6) from {readings} "
            "where dataset = 'FD111' and split = 'train' and unit_number = 1"
        )[0]

    def content_times(self) -> dict[str, tuple]:
        """Bronze's files: {file name: (ingested_at, content_ingested_at)}."""
        bronze = self.table("bronze", "base_cmapss__landed_lines")
        rows = self.query(f"select distinct file_name, ingested_at, content_ingested_at from {bronze}")
        return {row[0]: (row[1], row[2]) for row in rows}

    def snapshot(self) -> dict[str, list[tuple]]:
        """Every row of the tables the failed build must leave alone."""
        tables = {
            "bronze": self.replaced_table("bronze", "base_cmapss__landed_lines"),
            "readings": self.table("silver", "int_sensor_readings_deduplicated"),
            "scores": self.replaced_table("silver", "int_unit_risk_scores_latest"),
        }
        return {name: sorted(self.query(f"select * from {table}"), key=repr) for name, table in tables.items()}


def write_scores(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute(
            f"""
            copy (
                select unit_id, 'FD111' as dataset, 'test' as split, cast(right(unit_id, 3) as integer) as unit_number,
                    10 as cycle, 0.5 as failure_probability, 40.0 as predicted_rul, '1' as classifier_version,
                    '1' as regressor_version, cast(0 as bigint) as features_delta_version,
                    timestamp '2026-01-01 00:00:00' as scored_at
                from unnest({list(SCORED_UNITS)}) as t(unit_id)
            ) to '{path}' (format parquet)
            """
        )


def redelivered_unit_1(train_file: Path) -> str:
    """Unit 1's lines of `train_file` with P2_SHIFT added to p2: another delivery of the same readings."""
    lines = []
    for line in train_file.read_text().splitlines():
        fields = line.split()
        if fields and fields[0] == "1":
            fields[9] = str(Decimal(fields[9]) + P2_SHIFT)
            lines.append(" ".join(fields))
    return "\n".join(lines) + "\n"


def succeeded(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"dbt build on Spark failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> SparkLanding:
    spark = SparkLanding(tmp_path_factory.mktemp("spark_landing_history"))
    land_fleet(FLEET, spark.landing)
    write_scores(spark.scores / "scores_20260101T000000000000Z.parquet")
    succeeded(spark.build())
    return spark


def test_a_later_delivery_wins_on_spark_though_its_file_is_older(spark: SparkLanding) -> None:
    first = spark.landing / "train_FD111.txt"
    resent = spark.landing / "train_FD111_resent.txt"
    source, readings, p2_sum = spark.unit_1()
    assert source.endswith("/train_FD111.txt")
    times_before = spark.content_times()

    resent.write_text(redelivered_unit_1(first))
    day_old = time.time() - 86400
    os.utime(resent, (day_old, day_old))  # older than the first delivery's file, as `cp -p` of an old file
    succeeded(spark.build())

    source, resent_readings, resent_p2_sum = spark.unit_1()
    assert source.endswith("/train_FD111_resent.txt")
    assert resent_readings == readings
    assert resent_p2_sum == pytest.approx(p2_sum + float(P2_SHIFT) * readings)
    # bronze was rebuilt (a new ingested_at) and kept when it first took in the first delivery's content
    times = spark.content_times()
    assert times["train_FD111.txt"][0] > times_before["train_FD111.txt"][0]
    assert times["train_FD111.txt"][1] == times_before["train_FD111.txt"][1]
    assert times["train_FD111_resent.txt"][1] == times["train_FD111_resent.txt"][0]
    # the table replaced, kept aside while bronze was written again, is dropped once it is written
    assert not spark.folder("bronze", "base_cmapss__landed_lines__replaced").exists()


def test_a_deleted_file_stops_every_spark_build_until_the_loss_is_accepted(spark: SparkLanding) -> None:
    resent = spark.landing / "train_FD111_resent.txt"
    assert resent.exists(), "runs after test_a_later_delivery_wins_on_spark_though_its_file_is_older"
    before, times_before = spark.snapshot(), spark.content_times()
    # crashes as bronze, then the latest scores, are written again: each table left its place, none written
    spark.build_killed_while_rewriting("bronze", "base_cmapss__landed_lines")
    spark.build_killed_while_rewriting("silver", "int_unit_risk_scores_latest")
    assert spark.snapshot() == before
    lines = len(resent.read_text().splitlines())
    resent.unlink()
    (spark.scores / "scores_20260101T000000000000Z.parquet").unlink()

    stopped = spark.build()
    assert stopped.returncode != 0
    assert f"This build would drop {lines} ingested lines" in stopped.stdout
    assert "at every build on Spark" in stopped.stdout
    for table in ("bronze.base_cmapss__landed_lines", "silver.int_unit_risk_scores_latest"):
        assert (
            f"The table {table} is kept as {table}__replaced, where a build that stopped while writing it again "
            "left it; the next build that passes writes it." in stopped.stdout
        )
    assert f"'{resent}' ({lines} lines): deleted from the landing folder after ingestion" in stopped.stdout
    assert "This build would take 2 units back to an older score, or none" in stopped.stdout
    for unit in SCORED_UNITS:
        assert f"{unit}: scored at 2026-01-01 00:00:00 (cycle 10); no score left" in stopped.stdout
    assert spark.snapshot() == before

    accepted = succeeded(spark.build("--vars", ACCEPT_LOSS))
    assert f"this build drops {lines} ingested lines" in accepted.stdout
    assert "this build takes 2 units back to an older score, or none" in accepted.stdout
    source, _, _ = spark.unit_1()
    assert source.endswith("/train_FD111.txt")
    assert "train_FD111_resent.txt" not in spark.content_times()
    assert spark.content_times()["train_FD111.txt"][1] == times_before["train_FD111.txt"][1]
    for schema, name in (("bronze", "base_cmapss__landed_lines"), ("silver", "int_unit_risk_scores_latest")):
        assert not spark.folder(schema, f"{name}__replaced").exists()
    assert spark.query(f"select count(*) from {spark.table('silver', 'int_unit_risk_scores_latest')}") == [(0,)]


def test_a_file_being_written_is_held_back_and_one_bronze_holds_stops_the_build(spark: SparkLanding) -> None:
    arriving = spark.landing / "train_FD112.txt"  # new: its lines are another dataset's, FD111's train units
    rewritten = spark.landing / "test_FD111.txt"  # ingested: written again, the same bytes
    bronze = spark.table("bronze", "base_cmapss__landed_lines")
    lines_of = f"select count(*) from {bronze} where file_name = ? and line_number > 0"
    test_lines = len(rewritten.read_text().splitlines())
    before = spark.snapshot()
    copies = [
        SlowCopy(arriving, (spark.landing / "train_FD111.txt").read_bytes()),
        SlowCopy(rewritten, rewritten.read_bytes()),
    ]
    try:
        for copy in copies:
            copy.thread.start()
        stopped = spark.build("--vars", SETTLING)
        assert stopped.returncode != 0
        # the new file only waits: held back (not read half-written), and not counted as a loss
        assert f"landing file '{arriving}' held back: changed during the 1.0 s settle interval" in stopped.stdout
        assert f"This build would drop {test_lines} ingested lines until a later build reads their files" in (
            stopped.stdout
        ), stopped.stdout[-3000:]
        assert f"'{rewritten}' ({test_lines} lines): changed during the 1.0 s settle interval" in stopped.stdout
        assert str(arriving) not in stopped.stdout.split("would drop")[1]
        assert spark.snapshot() == before
    finally:
        for copy in copies:
            copy.finish()

    succeeded(spark.build())
    with duckdb.connect() as con:
        assert con.execute(lines_of, ["train_FD112.txt"]).fetchone()[0] == len(arriving.read_text().splitlines())
        assert con.execute(lines_of, ["test_FD111.txt"]).fetchone() == (test_lines,)

"""The nightly under Airflow's scheduler, as docker-compose.yml runs it (no `dags test`).

Airflow's services run as processes with the environment docker-compose.yml declares
(`reach2revenue.airflow_local` reads the file), on a fresh Postgres database per module
(dropped afterwards). The world ends yesterday: unpaused (by compose's configuration,
and by the test), with `catchup=False` the scheduler creates the run of yesterday's data
interval on its own. Everything is followed through the REST API.

- LocalExecutor (one stack for the module): the scheduled nightly publishes the world's
  ground truth and the api-server serves its task logs; then Airflow's backfill over days
  the nightly already loaded, and `r2r backfill` of its last day, publish identical
  marts; then the commands' exit codes against it (`r2r backfill` 0, `r2r run` of a
  refused day 1, `r2r status`).
- CeleryExecutor: `r2r airflow up --executor celery` (a subprocess, as an operator runs
  it) with one Celery worker on the local Redis; the scheduled nightly publishes the
  ground truth; `r2r run --date` 0 and `r2r status` 0 against it; SIGTERM stops it all.

Timings (tick to published, Airflow's overhead) are printed for docs/operations.md.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import pytest

from reach2revenue import airflow_local, cli, verify
from reach2revenue.airflow_local import AirflowClient, LocalAirflow, LocalAirflowConfig
from reach2revenue.commands import EXIT_OK, EXIT_RUN_FAILED
from reach2revenue.publish import FRESHNESS_MART, FRESHNESS_STAMP_COLUMNS
from reach2revenue.sandbox.standins import start_standins
from reach2revenue.sandbox.world import World
from reach2revenue.settings import REPO_ROOT, Settings

pytestmark = pytest.mark.slow

SERVER = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
TODAY = datetime.now(UTC).date()
YESTERDAY = TODAY - timedelta(days=1)
WORLD_DAYS = 3
FIRST_DAY = YESTERDAY - timedelta(days=WORLD_DAYS - 1)
TASKS = {
    "extract_meta_ads",
    "extract_hubspot",
    "extract_google_ads",
    "extract_linkedin_ads",
    "extract_salesforce",
    "extract_ecb_fx",
    "load_and_validate",
    "dbt_build",
    "publish",
}


def _free_port() -> int:
    import socket

    # Three consecutive ports: api-server, worker log server, triggerer log server.
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port < 65000 and all(_port_free(port + i) for i in (1, 2)):
            return port
    raise RuntimeError("no free ports")


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def metadata_db() -> Iterator[str]:
    name = f"r2r_sched_{secrets.token_hex(4)}"
    admin = psycopg2.connect(SERVER)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"create database {name}")
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
        with admin.cursor() as cursor:
            cursor.execute(f"drop database if exists {name} with (force)")
    finally:
        admin.close()


def _world(settings: Settings) -> tuple[World, list[dict]]:
    world = World.generate(seed=31, start=FIRST_DAY, days=WORLD_DAYS, scale=0.1)
    world.write_fx_overrides(settings.fx_rate_overrides_path)
    truth = world.ground_truth(reporting_currency="EUR", reporting_timezone="Europe/Berlin")
    return world, truth


def _wait_for_scheduled_run(client: AirflowClient, timeout: float = 180.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = client.dag_runs(run_type="scheduled")
        if runs:
            return runs[0]
        time.sleep(1.0)
    raise TimeoutError("the scheduler created no run")


def _published_tables(path: Path) -> dict[str, list[tuple]]:
    """Every published table's rows, sorted, without the build and publication stamps."""
    with duckdb.connect(str(path), read_only=True) as con:
        names = [
            f'"{schema}"."{table}"'
            for schema, table in con.execute(
                "select schema_name, table_name from duckdb_tables() order by 1, 2"
            ).fetchall()
        ]
        tables = {}
        for name in names:
            # mart_freshness's stamps say when each copy was built and published.
            exclude = (
                f" exclude ({', '.join(FRESHNESS_STAMP_COLUMNS)})"
                if name == f'"main"."{FRESHNESS_MART}"'
                else ""
            )
            rows = con.execute(f"select *{exclude} from {name}").fetchall()
            tables[name] = sorted(rows, key=repr)
        return tables


def _assert_ground_truth(settings: Settings, truth: list[dict]) -> None:
    comparison = verify.compare(
        verify.mart_region_days(settings.published_path),
        truth,
        first_day=FIRST_DAY,
        last_day=YESTERDAY,
    )
    assert comparison.region_days >= 4 * WORLD_DAYS
    assert comparison.matches, comparison.mismatches[:10]


def _assert_scheduled_nightly(client: AirflowClient, run: dict[str, Any]) -> dict[str, float]:
    assert run["run_type"] == "scheduled"
    # Yesterday's data interval, created by the scheduler on its own.
    assert run["data_interval_start"].startswith(YESTERDAY.isoformat())
    assert run["data_interval_end"].startswith(TODAY.isoformat())
    finished = client.wait_for_run(run["dag_run_id"], timeout=900)
    states = {ti["task_id"]: ti["state"] for ti in client.task_instances(run["dag_run_id"])}
    assert finished["state"] == "success", states
    assert {task: states.get(task) for task in TASKS} == dict.fromkeys(TASKS, "success")
    # Task logs come from the api-server (the workers wrote them under the Airflow home).
    log = client.task_log(run["dag_run_id"], "publish", 1)
    assert re.search(r"published \d+ table\(s\)", log), log[-2000:]
    extract_log = client.task_log(run["dag_run_id"], "extract_meta_ads", 1)
    assert "extracted meta_ads" in extract_log, extract_log[-2000:]
    return airflow_local.run_timing(client, finished)


# ------------------------------------------------------------------- LocalExecutor


@dataclass
class LocalStack:
    airflow: LocalAirflow
    client: AirflowClient
    settings: Settings
    truth: list[dict]
    home: Path


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory, metadata_db: str) -> Iterator[LocalStack]:
    home = tmp_path_factory.mktemp("scheduler-local")
    # No tolerance for intervals ending in the future: today's interval is then refused at
    # any hour (with the default hour, a run at 23:30 UTC would be accepted).
    settings = replace(Settings.for_home(home), interval_tolerance=timedelta(0))
    world, truth = _world(settings)
    token = secrets.token_urlsafe(16)
    with start_standins(world, token=token) as servers:
        config = LocalAirflowConfig(
            airflow_home=home / "airflow",
            settings=settings,
            connections=servers.connections(token),
            metadata_db=metadata_db,
            port=_free_port(),
            parallelism=4,
        )
        with airflow_local.running_airflow(config) as airflow:
            print(f"\nLocalExecutor stack healthy: {airflow.timings}")
            yield LocalStack(airflow, airflow.client(), settings, truth, home)


def test_scheduler_runs_the_nightly_on_its_own_local_executor(local_stack: LocalStack) -> None:
    client = local_stack.client
    dag = client.wait_for_dag()
    client.set_paused(False)
    assert dag["is_paused"] is False  # compose: DAGS_ARE_PAUSED_AT_CREATION=False
    run = _wait_for_scheduled_run(client)
    timing = _assert_scheduled_nightly(client, run)
    print(f"\nscheduled nightly (LocalExecutor): {timing}")
    _assert_ground_truth(local_stack.settings, local_stack.truth)
    # One run: the last complete interval, no catch-up of the days before.
    assert [r["dag_run_id"] for r in client.dag_runs()] == [run["dag_run_id"]]


def _backfill(client: AirflowClient, first: date, last: date) -> list[dict[str, Any]]:
    backfill = client.create_backfill(first, last, reprocess="completed", max_active_runs=1)
    _, runs = client.wait_for_backfill(backfill["id"], timeout=1200)
    return runs


def _assert_one_at_a_time(runs: list[dict[str, Any]]) -> None:
    spans = sorted(
        (airflow_local.parse_time(r["start_date"]), airflow_local.parse_time(r["end_date"]))
        for r in runs
    )
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end is not None and start is not None and end <= start, spans


def test_backfill_twice_over_the_nightly_gives_identical_marts(
    local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = local_stack.client
    monkeypatch.setenv("R2R_AIRFLOW_PASSWORD", local_stack.airflow.password())
    after_nightly = _published_tables(local_stack.settings.published_path)
    first_day = YESTERDAY - timedelta(days=1)

    began = time.monotonic()
    runs = _backfill(client, first_day, YESTERDAY)  # yesterday: the nightly's day
    seconds = time.monotonic() - began
    assert [r["state"] for r in runs] == ["success", "success"]
    assert [r["data_interval_start"][:10] for r in runs] == [
        first_day.isoformat(),
        YESTERDAY.isoformat(),
    ]
    _assert_one_at_a_time(runs)
    once = _published_tables(local_stack.settings.published_path)
    print(f"\nbackfill of 2 days: {seconds:.1f}s")

    # Its last day again, through the operator's command (the first backfill already
    # proved a re-run of loaded days changes nothing; one day keeps the suite short).
    code = cli.main(
        [
            "backfill",
            "--start",
            YESTERDAY.isoformat(),
            "--end",
            YESTERDAY.isoformat(),
            "--api-url",
            client.base_url,
        ]
    )
    assert code == EXIT_OK
    twice = _published_tables(local_stack.settings.published_path)

    assert once['"main"."region_daily_performance"']  # not an empty mart compared to itself
    assert once == after_nightly
    assert twice == once
    _assert_ground_truth(local_stack.settings, local_stack.truth)


def test_commands_exit_codes_against_the_scheduler(
    local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    client = local_stack.client
    monkeypatch.setenv("R2R_AIRFLOW_PASSWORD", local_stack.airflow.password())
    monkeypatch.setenv("R2R_PUBLISHED_PATH", str(local_stack.settings.published_path))
    url = ["--api-url", client.base_url]

    assert cli.main(["status", *url]) == EXIT_OK
    out = capsys.readouterr().out
    assert "published by run backfill__" in out or "published by run scheduled__" in out, out
    assert "audit: passed" in out and "load checks (Great Expectations): passed" in out, out
    assert f"data through {YESTERDAY}" in out or f"data through {TODAY}" in out, out

    # Today's interval ends after now: the extracts refuse it, the run fails: exit 1.
    # (Today as of now, not as of import: the module may have started before midnight.)
    today = datetime.now(UTC).date()
    assert cli.main(["run", "--date", today.isoformat(), *url]) == EXIT_RUN_FAILED
    out = capsys.readouterr().out
    assert "failed tasks: extract_" in out, out
    assert cli.main(["status", *url]) == EXIT_RUN_FAILED
    assert f"last run: {client.run_for_day(today)['dag_run_id']} failed" in capsys.readouterr().out


# ------------------------------------------------------------------ CeleryExecutor


@dataclass
class UpProcess:
    process: subprocess.Popen[str]
    lines: list[str]

    def wait_for(self, needle: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if needle in line:
                    return line
            if self.process.poll() is not None:
                break
            time.sleep(0.5)
        raise AssertionError(f"no {needle!r} from r2r airflow up:\n" + "".join(self.lines[-40:]))


def test_scheduler_runs_the_nightly_with_celery_started_by_r2r_airflow_up(
    tmp_path: Path, metadata_db: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    home = tmp_path / "home"
    settings = Settings.for_home(home)
    world, truth = _world(settings)
    world.save(home / "world")
    port = _free_port()
    # Its own database (the module's serves the LocalExecutor stack) and Redis database.
    celery_db = metadata_db.rsplit("/", 1)[0] + f"/r2r_celery_{secrets.token_hex(4)}"
    env = {**os.environ, **settings.to_env()}
    command = [
        sys.executable,
        "-m",
        "reach2revenue.cli",
        "airflow",
        "up",
        "--executor",
        "celery",
        "--world",
        str(home / "world"),
        "--home",
        str(home / "airflow"),
        "--port",
        str(port),
        "--metadata-db",
        celery_db,
        "--broker",
        "redis://127.0.0.1:6379/11",
        "--parallelism",
        "4",
    ]
    process = subprocess.Popen(
        command,
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    up = UpProcess(process, [])
    reader = threading.Thread(
        target=lambda: up.lines.extend(iter(process.stdout.readline, "")),  # type: ignore[union-attr]
        daemon=True,
    )
    reader.start()
    try:
        up.wait_for("ready", timeout=300)
        printed = "".join(up.lines)
        assert f"Airflow UI: http://127.0.0.1:{port}/dags/marketing_sales_nightly/grid" in printed
        assert "login: admin, password in" in printed
        assert f"task logs: {home / 'airflow' / 'logs'}" in printed
        password = airflow_local.stack_secrets(LocalAirflowConfig(home / "airflow", settings, {}))[
            "ADMIN_PASSWORD"
        ]
        assert password not in printed
        client = AirflowClient(f"http://127.0.0.1:{port}", "admin", password)
        assert client.dag()["is_paused"] is False
        run = _wait_for_scheduled_run(client)
        timing = _assert_scheduled_nightly(client, run)
        with capsys.disabled():
            print(f"\nscheduled nightly (CeleryExecutor): {timing}")
        # The tasks ran in the Celery worker process, not in the scheduler.
        worker_log = (home / "airflow" / "process-logs" / "airflow-celery-worker.log").read_text()
        assert "execute_workload" in worker_log and run["dag_run_id"] in worker_log
        _assert_ground_truth(settings, truth)

        monkeypatch.setenv("R2R_HOME", str(home))
        monkeypatch.setenv("R2R_PUBLISHED_PATH", str(settings.published_path))
        monkeypatch.delenv("R2R_AIRFLOW_PASSWORD", raising=False)
        # The commands find this Airflow and its login from `r2r airflow up`'s state file.
        assert cli.main(["status"]) == EXIT_OK
        assert "audit: passed" in capsys.readouterr().out
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
        reader.join(timeout=5)
        admin = psycopg2.connect(SERVER)
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f"drop database if exists {celery_db.rsplit('/', 1)[1]} with (force)")
        admin.close()
    assert code == 0, "".join(up.lines[-40:])
    assert "stopped" in "".join(up.lines)
    assert not (home / "airflow" / "r2r-airflow.json").exists()

"""Failure semantics in a real Airflow, and no secret in a real run's home.

The DAG runs with `airflow dags test` (a subprocess on SQLite metadata, as `make demo`
does) against the stand-ins. First with a wrong token for every platform: each stand-in
refuses it as its platform does (HubSpot and LinkedIn 401, Meta 400 code 190, Google 401
UNAUTHENTICATED, Salesforce's OAuth ``invalid_client``), and every one of those extract
tasks must fail on its first try, not be retried (the DAG's retries are 2, every 5
minutes: a retried task would hold the run for minutes), and fail the run. Afterwards
neither token appears anywhere under the run's home (logs, the Airflow task logs,
landing). A successful run's home is grepped for its token by the end-to-end tests
(tests/test_end_to_end.py), whose runs also fill quarantine, the warehouse and Data Docs.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from reach2revenue import airflow_runner
from reach2revenue.contracts import SourceKind
from reach2revenue.sandbox.standins import start_standins
from reach2revenue.sandbox.world import World
from reach2revenue.settings import Settings
from reach2revenue.sources import SOURCE_NAMES, get_source

pytestmark = pytest.mark.slow

START = date(2026, 5, 4)
DAYS = 2


def _task_instances(airflow_home: Path, logical_day: str) -> dict[str, tuple[str, int]]:
    with sqlite3.connect(airflow_home / "airflow.db") as con:
        rows = con.execute(
            "select ti.task_id, ti.state, ti.try_number from task_instance as ti "
            "inner join dag_run as dr on dr.dag_id = ti.dag_id and dr.run_id = ti.run_id "
            "where ti.dag_id = ? and dr.logical_date like ?",
            (airflow_runner.DAG_ID, f"{logical_day}%"),
        ).fetchall()
    return {task: (state, tries) for task, state, tries in rows}


def _dag_run_states(airflow_home: Path) -> dict[str, str]:
    with sqlite3.connect(airflow_home / "airflow.db") as con:
        rows = con.execute(
            "select logical_date, state from dag_run where dag_id = ?", (airflow_runner.DAG_ID,)
        ).fetchall()
    return {str(logical)[:10]: state for logical, state in rows}


def _files_holding(root: Path, needles: list[str]) -> list[str]:
    hits = []
    encoded = [n.encode() for n in needles]
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            hits.extend(f"{path} holds {n.decode()!r}" for n in encoded if n in data)
    return hits


def test_a_rejected_token_fails_each_extract_at_once_and_no_run_leaks_a_token(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    settings = Settings.for_home(home)
    world = World.generate(seed=21, start=START, days=DAYS, scale=0.1)
    world.write_fx_overrides(settings.fx_rate_overrides_path)
    token = f"r2r-secret-{secrets.token_hex(12)}"
    wrong = f"r2r-wrong-{secrets.token_hex(12)}"
    conf = {
        "interval_start": START.isoformat(),
        "interval_end": (START + timedelta(days=DAYS)).isoformat(),
    }
    airflow_home = home / "airflow"  # inside the home, so its task logs are grepped too
    with start_standins(world, token=token) as servers:
        refused_env = airflow_runner.airflow_environment(
            airflow_home, settings, servers.connections(wrong)
        )
        airflow_runner.ensure_metadata_db(refused_env)
        started = time.monotonic()
        refused = airflow_runner.run_dag_test(
            refused_env, "2026-05-06", conf=conf, log_path=home / "logs" / "refused.log"
        )
        refused_seconds = time.monotonic() - started

    print(f"\nrefused run: {refused_seconds:.1f}s")

    # -- the refused run: each token-bearing extract failed on try 1, never retried
    assert not refused.succeeded
    tasks = _task_instances(airflow_home, "2026-05-06")
    # Every platform but the ECB's public reference rates takes a token (or a secret).
    with_token = [n for n in SOURCE_NAMES if get_source(n).kind is not SourceKind.REFERENCE]
    assert len(with_token) >= 5
    for name in with_token:
        assert tasks[f"extract_{name}"] == ("failed", 1), (name, refused.log_tail(80))
    for name in set(SOURCE_NAMES) - set(with_token):
        assert tasks[f"extract_{name}"][0] == "success"
    assert tasks["load_and_validate"][0] == "upstream_failed"
    assert tasks["publish"][0] == "upstream_failed"
    assert _dag_run_states(airflow_home)["2026-05-06"] == "failed"
    log = refused.log_path.read_text(errors="replace")
    assert "AirflowFailException" in log or "NonRetryable" in log or "ApiRequestError" in log
    assert "up_for_retry" not in log

    # -- no token anywhere under the home (run logs, Airflow task logs, landing, ...)
    # `airflow dags test` writes the task logs to its output, kept as logs/<run>.log.
    assert "[DAG TEST] end task task_id=extract_meta_ads" in log
    assert "Invalid OAuth access token" in log  # the platforms' refusals were logged...
    assert list(settings.landing_dir.rglob("page-*"))  # the ECB's extract landed pages
    assert _files_holding(home, [token, wrong]) == []

"""The DAG on a Postgres metadata database, as docker-compose.yml deploys it.

SQLite is the embedded default; production runs Airflow's metadata on Postgres. This runs
one DAG run with the metadata in a fresh database on the local PostgreSQL server and
reads the run's state back from it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import date, timedelta

import psycopg2
import pytest

from reach2revenue import airflow_runner, verify
from reach2revenue.sandbox.standins import start_standins
from reach2revenue.sandbox.world import World
from reach2revenue.settings import Settings
from reach2revenue.sources import SOURCE_NAMES

pytestmark = pytest.mark.slow

SERVER = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
START = date(2026, 6, 1)
DAYS = 4


@pytest.fixture
def metadata_db() -> Iterator[str]:
    name = f"r2r_airflow_{secrets.token_hex(4)}"
    admin = psycopg2.connect(SERVER)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"create database {name}")
        yield name
        with admin.cursor() as cursor:
            cursor.execute(f"drop database if exists {name} with (force)")
    finally:
        admin.close()


def test_dag_runs_with_postgres_metadata(metadata_db: str, tmp_path) -> None:
    settings = Settings.for_home(tmp_path)
    world = World.generate(seed=11, start=START, days=DAYS, scale=0.2)
    world.write_fx_overrides(settings.fx_rate_overrides_path)
    token = secrets.token_urlsafe(16)
    with start_standins(world, token=token) as servers:
        env = airflow_runner.airflow_environment(
            tmp_path / "airflow",
            settings,
            servers.connections(token),
        )
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = (
            f"postgresql+psycopg2://postgres@127.0.0.1:5432/{metadata_db}"
        )
        airflow_runner.ensure_metadata_db(env)
        end = START + timedelta(days=DAYS)
        result = airflow_runner.run_dag_test(
            env,
            end.isoformat(),
            conf={"interval_start": START.isoformat(), "interval_end": end.isoformat()},
            log_path=tmp_path / "run.log",
        )
    assert result.succeeded, result.log_tail(80)

    con = psycopg2.connect(f"host=127.0.0.1 user=postgres dbname={metadata_db}")
    try:
        cursor = con.cursor()
        cursor.execute("select state from dag_run where dag_id = %s", (airflow_runner.DAG_ID,))
        assert cursor.fetchall() == [("success",)]
        cursor.execute(
            "select task_id, state from task_instance where dag_id = %s",
            (airflow_runner.DAG_ID,),
        )
        tasks = (
            *(f"extract_{name}" for name in SOURCE_NAMES),
            "load_and_validate",
            "dbt_build",
            "publish",
        )
        assert dict(cursor.fetchall()) == dict.fromkeys(tasks, "success")
    finally:
        con.close()

    truth = world.ground_truth(reporting_currency="EUR", reporting_timezone="Europe/Berlin")
    comparison = verify.compare(
        verify.mart_region_days(settings.published_path),
        truth,
        first_day=START,
        last_day=START + timedelta(days=DAYS - 1),
    )
    assert comparison.region_days > 0
    assert comparison.matches, comparison.mismatches[:10]

"""The published-marts asset: what its events say and what a downstream DAG reads.

The triggering events are Airflow's own accessor over the event records the execution API
sends a task; the warehouse is a real (read-only) DuckDB file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from reach2revenue.assets import (
    PUBLISHED_MARTS_ASSET_NAME,
    fresh_marts_report,
    latest_publication,
    publication_extra,
    published_marts_asset,
    published_row_counts,
)
from reach2revenue.pools import (
    WAREHOUSE_POOL,
    WAREHOUSE_POOL_DESCRIPTION,
    WAREHOUSE_POOL_SLOTS,
    ensure_warehouse_pool,
)
from reach2revenue.publish import PUBLISHED_FILE_MODE
from reach2revenue.settings import REPO_ROOT, Settings


def write_published(path: Path, rows: dict[str, int]) -> None:
    """A published-like file: tables in ``main``, read-only like publish leaves it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        for table, count in rows.items():
            con.execute(f"create table {table} as select range as id from range({count})")
    os.chmod(path, PUBLISHED_FILE_MODE)


def event(name: str, uri: str, at: datetime, extra: dict, run_id: str):
    from airflow.sdk.api.datamodels._generated import AssetReferenceAssetEventDagRun
    from airflow.sdk.execution_time.comms import AssetEventDagRunReferenceResult

    return AssetEventDagRunReferenceResult(
        asset=AssetReferenceAssetEventDagRun(name=name, uri=uri, extra={}),
        extra=extra,
        source_task_id="publish",
        source_dag_id="marketing_sales_nightly",
        source_run_id=run_id,
        source_map_index=-1,
        source_aliases=[],
        timestamp=at,
    )


def test_the_asset_is_the_published_file_of_the_settings(tmp_path: Path) -> None:
    settings = Settings.for_home(tmp_path)
    asset = published_marts_asset(settings)
    assert asset.name == PUBLISHED_MARTS_ASSET_NAME
    assert asset.uri == f"file://{settings.published_path.resolve()}"


def test_a_downstream_run_reads_the_newest_publication_and_the_file(tmp_path: Path) -> None:
    from airflow.sdk.execution_time.context import TriggeringAssetEventsAccessor

    settings = Settings.for_home(tmp_path)
    write_published(settings.published_path, {"region_daily_performance": 12, "campaigns": 3})
    uri = published_marts_asset(settings).uri
    summary = {
        "published_path": str(settings.published_path),
        "published_at": "2026-11-30T00:41:07+00:00",
        "publication_id": "9f1c0de2a7b34c55",
        "size_bytes": 798720,
        "table_row_counts": {"region_daily_performance": 12, "campaigns": 3},
        "seconds": 1.2,
        "step_seconds": {"audit": 0.4},
        "audit": {"checks": [{"name": "spend", "passed": True}]},
    }
    extra = publication_extra(summary)
    assert json.loads(json.dumps(extra)) == extra and "audit" not in extra
    older = {**extra, "publication_id": "0000000000000000"}
    events = TriggeringAssetEventsAccessor.build(
        [
            event(
                PUBLISHED_MARTS_ASSET_NAME,
                uri,
                datetime(2026, 11, 29, 0, 40, tzinfo=UTC),
                older,
                "r1",
            ),
            event(
                PUBLISHED_MARTS_ASSET_NAME,
                uri,
                datetime(2026, 11, 30, 0, 41, tzinfo=UTC),
                extra,
                "r2",
            ),
            event("other_asset", "file:///elsewhere", datetime(2026, 12, 1, tzinfo=UTC), {}, "r3"),
        ]
    )

    report = fresh_marts_report(events, settings.published_path)
    assert report["publication"]["publication_id"] == "9f1c0de2a7b34c55"
    assert report["publication"]["source_run_id"] == "r2"
    assert report["publication"]["table_row_counts"] == {
        "region_daily_performance": 12,
        "campaigns": 3,
    }
    assert report["row_counts"] == {"main.campaigns": 3, "main.region_daily_performance": 12}
    # A manual run has no triggering events; the counts still come from the file.
    assert latest_publication(TriggeringAssetEventsAccessor.build([])) == {}
    assert latest_publication(None) == {}


def test_nothing_published_yet_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no published warehouse"):
        published_row_counts(tmp_path / "published" / "reach2revenue.duckdb")


@pytest.mark.slow
def test_the_bi_example_dag_runs_under_dag_test_and_the_pool_command_works(tmp_path: Path) -> None:
    """The example's task runs in a real Airflow (its own home) on a published file.

    The same home then gets the warehouse pool through `reach2revenue.pools`' command, as
    environments are prepared for the scheduler.
    """
    home = tmp_path / "home"
    write_published(Settings.for_home(home).published_path, {"region_daily_performance": 7})
    script = (
        "from airflow.utils.db import resetdb; resetdb()\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(REPO_ROOT / 'dags' / 'bi_refresh_example.py')!r})\n"
        "run = bag.dags['bi_refresh_example'].test()\n"
        "print('RUN_STATE', run.state)\n"
    )
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        **Settings.for_home(home).to_env(),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    output = done.stdout + done.stderr
    assert "RUN_STATE success" in done.stdout, output[-4000:]
    assert "main.region_daily_performance 7" in output

    airflow = str(Path(sys.executable).parent / "airflow")
    ensure_warehouse_pool(env, airflow)
    ensure_warehouse_pool(env, airflow)  # idempotent
    listed = subprocess.run(
        [airflow, "pools", "get", WAREHOUSE_POOL, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    [pool] = json.loads(listed.stdout)
    assert (pool["pool"], int(pool["slots"])) == (WAREHOUSE_POOL, WAREHOUSE_POOL_SLOTS)
    assert pool["description"] == WAREHOUSE_POOL_DESCRIPTION

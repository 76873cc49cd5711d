"""DAG integrity: every DAG file imports, is tagged, retries, has deadlines, and stays thin.

Also what the nightly declares for operators: typed params, the warehouse pool on its
writers, the published-marts asset, the late-night deadline.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from reach2revenue.assets import PUBLISHED_MARTS_ASSET_NAME, published_marts_uri
from reach2revenue.pools import WAREHOUSE_POOL, WAREHOUSE_WRITER_TASKS
from reach2revenue.settings import Settings
from reach2revenue.sources import SOURCE_NAMES

DAGS_FOLDER = Path(__file__).parents[2] / "dags"
HEAVY_MODULES = ("great_expectations", "dbt", "duckdb", "pandas", "requests")
# Package modules a DAG may import at parse time: they import nothing heavy (tested below).
LIGHT_MODULES = (
    "reach2revenue.sources",
    "reach2revenue.notifications",
    "reach2revenue.alerts",
    "reach2revenue.assets",
    "reach2revenue.pools",
    "reach2revenue.run_params",
)
NIGHTLY = "marketing_sales_nightly"


@pytest.fixture(scope="module")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    return bag


def test_no_import_errors(dag_bag) -> None:
    assert dag_bag.import_errors == {}


def test_nightly_dag_is_present_and_wired(dag_bag) -> None:
    dag = dag_bag.dags.get("marketing_sales_nightly")
    assert dag is not None
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    downstream = {task.task_id: sorted(task.downstream_task_ids) for task in dag.tasks}
    extract_tasks = {f"extract_{name}": ["load_and_validate"] for name in SOURCE_NAMES}
    assert downstream == extract_tasks | {
        "load_and_validate": ["dbt_build"],
        "dbt_build": ["publish"],
        "publish": [],
    }


def test_every_dag_has_tags_retries_deadlines_and_docs(dag_bag) -> None:
    assert sorted(dag_bag.dags) == ["bi_refresh_example", NIGHTLY]
    for dag_id, dag in dag_bag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md, f"{dag_id} has no doc_md"
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"
            # A hung call must not hold the night (and the pool) forever.
            assert task.execution_timeout is not None, f"{dag_id}.{task.task_id}: no timeout"
            assert task.execution_timeout <= timedelta(hours=3)


def test_the_nightly_has_typed_interval_params(dag_bag) -> None:
    params = dag_bag.dags[NIGHTLY].params
    assert sorted(params.keys()) == ["interval_end", "interval_start"]
    for name in ("interval_start", "interval_end"):
        param = params.get_param(name)
        assert param.value is None  # default: the run's data interval
        assert param.schema["type"] == ["null", "string"]
        assert param.schema["format"] == "date"
        assert param.schema["title"] and param.description  # shown in the trigger form
    # Airflow validates a trigger's values against them before any run exists.
    params.validate()
    assert params.get_param("interval_start").resolve("2026-08-01") == "2026-08-01"


def test_warehouse_writers_share_the_one_slot_pool(dag_bag) -> None:
    dag = dag_bag.dags[NIGHTLY]
    pools = {task.task_id: task.pool for task in dag.tasks}
    assert {t: pools[t] for t in WAREHOUSE_WRITER_TASKS} == dict.fromkeys(
        WAREHOUSE_WRITER_TASKS, WAREHOUSE_POOL
    )
    # Extracts write files only: they run in parallel outside the pool.
    assert {pools[f"extract_{name}"] for name in SOURCE_NAMES} == {"default_pool"}
    assert all(dag.get_task(t).pool_slots == 1 for t in WAREHOUSE_WRITER_TASKS)
    # A freed slot goes to the writer furthest along: publish, then build, then a load.
    # (Absolute weights: the default "downstream" rule would rank a load first.)
    writers = [dag.get_task(t) for t in WAREHOUSE_WRITER_TASKS]
    assert {str(t.weight_rule) for t in writers} == {"absolute"}
    weights = [t.priority_weight for t in writers]
    assert weights == sorted(weights) and len(set(weights)) == 3


def test_publish_updates_the_published_marts_asset_the_bi_dag_waits_for(dag_bag) -> None:
    uri = published_marts_uri(Settings.from_env().published_path)
    [outlet] = dag_bag.dags[NIGHTLY].get_task("publish").outlets
    assert (outlet.name, outlet.uri) == (PUBLISHED_MARTS_ASSET_NAME, uri)
    assert uri.startswith("file:///") and uri.endswith(".duckdb")
    assert all(not t.outlets for t in dag_bag.dags[NIGHTLY].tasks if t.task_id != "publish")
    condition = dag_bag.dags["bi_refresh_example"].timetable.asset_condition
    consumed = [(asset.name, asset.uri) for asset in condition.objects]
    assert consumed == [(PUBLISHED_MARTS_ASSET_NAME, uri)]


def test_the_nightly_declares_its_late_night_deadline(dag_bag) -> None:
    from airflow.sdk import AsyncCallback, DeadlineReference

    [deadline] = dag_bag.dags[NIGHTLY].deadline
    assert deadline.reference == DeadlineReference.DAGRUN_QUEUED_AT
    assert deadline.interval == timedelta(hours=6)  # R2R_NIGHT_DEADLINE_HOURS unset
    assert isinstance(deadline.callback, AsyncCallback)  # runs in the triggerer
    assert deadline.callback.path == "reach2revenue.alerts.notify_late_run"
    assert deadline.callback.kwargs == {"deadline_hours": 6.0}


def test_the_nightly_serializes_with_params_pool_asset_and_deadline(dag_bag) -> None:
    """What the dag-processor stores for the scheduler and the UI keeps all four."""
    from airflow.serialization.serialized_objects import DagSerialization

    serialized = DagSerialization.to_dict(dag_bag.dags[NIGHTLY])["dag"]
    restored = DagSerialization.from_dict({"dag": serialized, "__version": 3})
    assert sorted(restored.params.keys()) == ["interval_end", "interval_start"]
    assert restored.get_task("dbt_build").pool == WAREHOUSE_POOL
    assert [a.name for a in restored.get_task("publish").outlets] == [PUBLISHED_MARTS_ASSET_NAME]
    assert [d["name"] for d in serialized["deadline"]] == ["night_late"]


@pytest.mark.parametrize("dag_file", sorted(DAGS_FOLDER.glob("*.py")), ids=lambda p: p.name)
def test_dag_files_import_nothing_heavy_at_module_level(dag_file: Path) -> None:
    # Parsing runs every few seconds in the dag-processor: heavy imports belong in tasks.
    tree = ast.parse(dag_file.read_text())
    top_level = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    names = [
        alias.name if isinstance(node, ast.Import) else (node.module or "")
        for node in top_level
        for alias in node.names
    ]
    offending = [
        n
        for n in names
        if n.split(".")[0] in HEAVY_MODULES or (n.startswith("reach2") and n not in LIGHT_MODULES)
    ]
    assert offending == [], f"{dag_file.name} imports {offending} at module level"


def test_the_modules_dags_import_are_light() -> None:
    """The DAGs import these at parse time (registry, params, pool, asset, alerts)."""
    code = (
        f"import sys, {', '.join(LIGHT_MODULES)}; "
        f"print(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"

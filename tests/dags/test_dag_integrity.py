"""DAG integrity: every DAG file imports, is tagged, retries, and stays thin."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from reach2revenue.sources import SOURCE_NAMES

DAGS_FOLDER = Path(__file__).parents[2] / "dags"
HEAVY_MODULES = ("great_expectations", "dbt", "duckdb", "pandas", "requests")
# Package modules a DAG may import at parse time: they import nothing heavy (tested below).
LIGHT_MODULES = ("reach2revenue.sources", "reach2revenue.notifications")


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


def test_every_dag_has_tags_retries_and_docs(dag_bag) -> None:
    assert dag_bag.dags, "no DAGs found"
    for dag_id, dag in dag_bag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md, f"{dag_id} has no doc_md"
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"


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


def test_the_registry_is_light_to_import() -> None:
    """The DAG reads the source names from the registry at parse time: it must stay cheap."""
    code = (
        "import sys, reach2revenue.sources; "
        f"print(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"

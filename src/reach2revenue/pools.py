"""The Airflow pool that keeps DuckDB's single writer single: ``r2r_warehouse``, one slot.

The DAG's ``max_active_runs=1`` does not hold a backfill: Airflow counts a backfill's runs
apart, against the backfill's own ``max_active_runs`` (10 unless ``--max-active-runs`` is
given), and the nightly runs beside them. The pool is the lock that holds whatever the
runs: every task that writes the warehouse (``load_and_validate``, ``dbt_build``,
``publish``) takes its one slot, so two of them never run at once, whatever run they
belong to. Extracts only write files and stay outside the pool.

The pool must exist wherever a scheduler runs the DAG: the scheduler does not schedule a
task whose pool does not exist ("Tasks using non-existent pool ... will not be
scheduled"). Create it where an Airflow environment is prepared, after ``airflow db
migrate``::

    airflow pools set r2r_warehouse 1 "reach2revenue: one DuckDB writer at a time"

(:func:`pool_set_command` gives that command; :func:`ensure_warehouse_pool` runs it.)
``airflow dags test`` runs tasks without pools and needs none.

The slot goes to the writer furthest along first (:data:`WRITER_PRIORITY`, absolute
weights: ``publish`` before ``dbt_build`` before ``load_and_validate``). Another run's load
slipping in between a build and its publish would make the publish's audit compare marts
built before that load with raw after it; with these weights a waiting publish or build
always wins the freed slot over a waiting load. (Airflow's default, ``downstream``
weights, would rank the load first.) Interleaved whole steps are otherwise harmless:
every merge is idempotent and every build reads all of raw.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from typing import Any

WAREHOUSE_POOL = "r2r_warehouse"
WAREHOUSE_POOL_SLOTS = 1
WAREHOUSE_POOL_DESCRIPTION = "reach2revenue: one DuckDB writer at a time"
#: The DAG's tasks that write the warehouse and so take the pool's slot.
WAREHOUSE_WRITER_TASKS = ("load_and_validate", "dbt_build", "publish")
#: Who gets a freed slot first: the writer furthest along (see the module's doc).
WRITER_PRIORITY = {"load_and_validate": 10, "dbt_build": 20, "publish": 30}


def warehouse_writer(task_id: str) -> dict[str, Any]:
    """Task arguments of a warehouse writer: the pool, and its absolute priority in it."""
    return {
        "pool": WAREHOUSE_POOL,
        "pool_slots": 1,
        "priority_weight": WRITER_PRIORITY[task_id],
        "weight_rule": "absolute",
    }


def pool_set_command(airflow: str = "airflow") -> list[str]:
    """``airflow pools set r2r_warehouse 1 "<description>"`` as an argument list."""
    return [
        airflow,
        "pools",
        "set",
        WAREHOUSE_POOL,
        str(WAREHOUSE_POOL_SLOTS),
        WAREHOUSE_POOL_DESCRIPTION,
    ]


def ensure_warehouse_pool(env: Mapping[str, str], airflow: str = "airflow") -> None:
    """Create or reset the pool in the metadata DB of ``env``'s Airflow (idempotent).

    Raises:
        RuntimeError: the command failed (its output is in the message).
    """
    done = subprocess.run(
        pool_set_command(airflow), env=dict(env), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        output = done.stdout[-2000:] + done.stderr[-2000:]
        raise RuntimeError(f"airflow pools set {WAREHOUSE_POOL} failed:\n{output}")

"""The Airflow pool that keeps DuckDB's single writer single: ``r2r_warehouse``, one slot.

``max_active_runs=1`` keeps the runs of one DAG apart, but a backfill's runs and the
nightly's are separate DAG runs only that setting orders; the pool is the second lock and
the one that still holds if a DAG ever allows more runs: every task that writes the
warehouse (``load_and_validate``, ``dbt_build``, ``publish``) takes its one slot, so two
of them never run at once, whatever run they belong to. Extracts only write files and are
not in the pool.

The pool must exist wherever a scheduler runs the DAG: the scheduler does not schedule a
task whose pool does not exist ("Tasks using non-existent pool ... will not be
scheduled"). Create it where an Airflow environment is prepared, after ``airflow db
migrate``::

    airflow pools set r2r_warehouse 1 "reach2revenue: one DuckDB writer at a time"

(:func:`pool_set_command` gives that command; :func:`ensure_warehouse_pool` runs it.)
``airflow dags test`` runs tasks without pools and needs none.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping

WAREHOUSE_POOL = "r2r_warehouse"
WAREHOUSE_POOL_SLOTS = 1
WAREHOUSE_POOL_DESCRIPTION = "reach2revenue: one DuckDB writer at a time"
#: The DAG's tasks that write the warehouse and so take the pool's slot.
WAREHOUSE_WRITER_TASKS = ("load_and_validate", "dbt_build", "publish")


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

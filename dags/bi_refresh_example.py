"""Example downstream DAG: refresh a BI extract whenever the nightly publishes fresh marts.

Scheduled on the asset `reach2revenue_published_marts` that `marketing_sales_nightly`'s
`publish` task updates (`file://<published path>`): it runs once after each publish, not
on a clock. Its one task logs the publication that triggered it (id, time, the row counts
publish saw, from the asset event) and the row count of every table in the published file
now, read-only. Copy it as the start of a real refresh or export: replace the task's body
with the call to your BI tool's refresh API.

All logic lives in `reach2revenue.assets`; this file only wires the task.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import dag, task

from reach2revenue.assets import published_marts_asset
from reach2revenue.notifications import failure_notifiers

PUBLISHED_MARTS = published_marts_asset()


@dag(
    dag_id="bi_refresh_example",
    schedule=[PUBLISHED_MARTS],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "reach2revenue",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "on_failure_callback": failure_notifiers(),
    },
    doc_md=__doc__,
    tags=["reach2revenue", "bi", "example"],
)
def bi_refresh_example() -> None:
    @task(execution_timeout=timedelta(minutes=10))
    def refresh_bi_extract(**context: Any) -> dict[str, Any]:
        import logging

        from reach2revenue.assets import fresh_marts_report

        report = fresh_marts_report(context.get("triggering_asset_events"))
        logging.getLogger(__name__).info(
            "publication %s: %s",
            report["publication"].get("publication_id", "(manual run)"),
            ", ".join(f"{table} {rows}" for table, rows in report["row_counts"].items()),
        )
        return report

    refresh_bi_extract()


bi_refresh_example()

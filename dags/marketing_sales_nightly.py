"""Nightly marketing-to-sales pipeline: ad platforms and CRM to a validated region mart.

Each run processes its data interval `[start, end)`: the scheduled nightly run loads the
previous UTC day; a manual run with conf `{"interval_start": "YYYY-MM-DD",
"interval_end": "YYYY-MM-DD"}` loads a whole history in one go.

1. `extract_<source>`, one task per registered source (`reach2revenue.sources`: ad
   platforms, CRMs, the ECB's reference rates), call the platforms (or their stand-ins)
   and land raw responses as files. They run in parallel and never open the warehouse.
2. `load_and_validate` runs Great Expectations on every raw batch and merges it into the
   DuckDB `raw` schema only if all batches pass (one writer).
3. `dbt_build` builds and tests the dbt project on the build copy of the warehouse.
4. `publish` copies the built warehouse to the path BI tools and analysts read.

All logic lives in `reach2revenue.pipeline`; this file only wires tasks.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, task

from reach2revenue.notifications import failure_notifiers, retry_notifiers
from reach2revenue.sources import SOURCE_NAMES

DEFAULT_ARGS = {
    "owner": "reach2revenue",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
    # Webhook / SMTP / connection from R2R_NOTIFY_* (docs/deployment.md); none configured: [].
    "on_failure_callback": failure_notifiers(),
    "on_retry_callback": retry_notifiers(),
}
# Deadlines: a hung call or a trickling response must not block later nights
# (max_active_runs=1). Extraction waits out platform throttles within its deadline.
EXTRACT_TIMEOUT = timedelta(hours=3)
LOAD_TIMEOUT = timedelta(hours=1)
BUILD_TIMEOUT = timedelta(hours=1)
PUBLISH_TIMEOUT = timedelta(minutes=15)


@dag(
    dag_id="marketing_sales_nightly",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # one DuckDB writer: runs must not overlap
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    tags=["reach2revenue", "marketing", "sales", "nightly"],
)
def marketing_sales_nightly() -> None:
    # Every task body runs under fail_fast: an error retrying cannot fix (bad token,
    # bad setting, invalid interval, bad data, drifted schema) fails the task at once;
    # transient ones get the retries above.
    @task(execution_timeout=EXTRACT_TIMEOUT)
    def extract(source: str, **context: Any) -> list[str]:
        from reach2revenue import pipeline
        from reach2revenue.failures import fail_fast

        with fail_fast():
            return pipeline.extract(source, pipeline.interval_from_context(context))

    @task(execution_timeout=LOAD_TIMEOUT)
    def load_and_validate(extracted: list[list[str]]) -> dict:
        from reach2revenue import pipeline
        from reach2revenue.failures import fail_fast

        with fail_fast():
            return pipeline.load_and_validate([path for paths in extracted for path in paths])

    @task(execution_timeout=BUILD_TIMEOUT)
    def dbt_build(load_summary: dict) -> dict:
        from reach2revenue import pipeline
        from reach2revenue.failures import fail_fast

        with fail_fast():
            return pipeline.build()

    @task(execution_timeout=PUBLISH_TIMEOUT)
    def publish(build_summary: dict) -> dict:
        from reach2revenue import pipeline
        from reach2revenue.failures import fail_fast

        with fail_fast():
            return pipeline.publish()

    # One extract task per registered source, named extract_<source>.
    extracted = [extract.override(task_id=f"extract_{name}")(source=name) for name in SOURCE_NAMES]
    publish(dbt_build(load_and_validate(extracted)))


marketing_sales_nightly()

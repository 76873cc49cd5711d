"""Nightly marketing-to-sales pipeline: ad platforms and CRM to a validated region mart.

Each run loads its data interval `[start, end)`: the scheduled nightly run loads the
previous UTC day. To load other days:

- **Days the schedule covers: a backfill**, one run per day, each loading its own day:
  `airflow backfill create --dag-id marketing_sales_nightly --from-date 2026-08-01
  --to-date 2026-08-31 --max-active-runs 1` (Airflow counts a backfill's runs apart from
  `max_active_runs`; the `r2r_warehouse` pool keeps their warehouse writes one at a time
  anyway). No params on a backfill: they would make every run load the same range.
- **Anything else (a first history, a range in one go): a manual run.** Either trigger it
  with a `logical_date` and `data_interval_start`/`data_interval_end` (REST `POST
  /api/v2/dags/marketing_sales_nightly/dagRuns`): it loads its whole data interval and
  shows what it loaded; or fill the trigger form's params **interval_start** (first day,
  included) and **interval_end** (first day not loaded), `YYYY-MM-DD`, both or neither,
  not in the future (same keys in `--conf` for `airflow dags test`). A run with params
  loads them whatever its data interval shows (its task logs say so).

1. `extract_<source>`, one task per registered source (`reach2revenue.sources`: ad
   platforms, CRMs, the ECB's reference rates), call the platforms (or their stand-ins)
   and land raw responses as files. They run in parallel and never open the warehouse.
2. `load_and_validate` runs Great Expectations on every raw batch and merges it into the
   DuckDB `raw` schema only if all batches pass (one writer).
3. `dbt_build` builds and tests the dbt project on the build copy of the warehouse.
4. `publish` copies the built warehouse to the path BI tools and analysts read, and
   updates the asset `reach2revenue_published_marts` (`file://<published path>`):
   DAGs scheduled on it (`bi_refresh_example`) run after each publish.

Tasks 2 to 4 write the warehouse and take the one slot of the pool `r2r_warehouse`
(DuckDB has a single writer; a waiting publish or build gets it before another run's
load, `reach2revenue.pools`): create it where Airflow runs,
`airflow pools set r2r_warehouse 1 "reach2revenue: one DuckDB writer at a time"`.
A run not done `R2R_NIGHT_DEADLINE_HOURS` (default 6) hours after it was queued sends a
late-night notice through the `R2R_NOTIFY_*` channels (a deadline alert: needs the
triggerer).

All logic lives in the `reach2revenue` package; this file only wires tasks.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, task

from reach2revenue.alerts import night_deadlines
from reach2revenue.assets import published_marts_asset
from reach2revenue.notifications import failure_notifiers, retry_notifiers
from reach2revenue.pools import warehouse_writer
from reach2revenue.run_params import interval_params
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
PUBLISHED_MARTS = published_marts_asset()


@dag(
    dag_id="marketing_sales_nightly",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # one DuckDB writer: runs must not overlap
    default_args=DEFAULT_ARGS,
    params=interval_params(),
    deadline=night_deadlines(),
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

    @task(execution_timeout=LOAD_TIMEOUT, **warehouse_writer("load_and_validate"))
    def load_and_validate(extracted: list[list[str]]) -> dict:
        from reach2revenue import pipeline
        from reach2revenue.failures import fail_fast

        with fail_fast():
            return pipeline.load_and_validate([path for paths in extracted for path in paths])

    @task(execution_timeout=BUILD_TIMEOUT, **warehouse_writer("dbt_build"))
    def dbt_build(load_summary: dict) -> dict:
        from reach2revenue import pipeline
        from reach2revenue.failures import fail_fast

        with fail_fast():
            return pipeline.build()

    @task(
        execution_timeout=PUBLISH_TIMEOUT, outlets=[PUBLISHED_MARTS], **warehouse_writer("publish")
    )
    def publish(build_summary: dict, **context: Any) -> dict:
        from reach2revenue import pipeline
        from reach2revenue.assets import publication_extra
        from reach2revenue.failures import fail_fast

        with fail_fast():
            summary = pipeline.publish()
        # The asset event says which publication downstream DAGs are woken for.
        context["outlet_events"][PUBLISHED_MARTS].extra = publication_extra(summary)
        return summary

    # One extract task per registered source, named extract_<source>.
    extracted = [extract.override(task_id=f"extract_{name}")(source=name) for name in SOURCE_NAMES]
    publish(dbt_build(load_and_validate(extracted)))


marketing_sales_nightly()

"""The interval a DAG run loads: typed run parameters, validated, or the run's data interval.

Three ways to load days, one rule: a run loads its **data interval** unless it names an
interval with the ``interval_start`` / ``interval_end`` parameters.

- The scheduled nightly run: its data interval, the previous UTC day.
- ``airflow backfill create``: one run per scheduled interval, each loads its own day.
  Interval parameters on a backfill run are refused: every run of the backfill would load
  the same range.
- A manual run for anything else: trigger it with ``data_interval_start/_end`` (REST
  ``POST /api/v2/dags/{dag_id}/dagRuns``; the run then shows what it loaded, and no
  parameter is needed), or with the parameters from the trigger form or ``--conf``
  (the run's data interval then shows the day of its logical date, not what it loaded;
  the task logs say so).

This module imports only the standard library and the package's light modules at import
time: the DAG file imports it while it is parsed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from reach2revenue.contracts import Interval
from reach2revenue.failures import IntervalError

if TYPE_CHECKING:
    from airflow.sdk import Param

log = logging.getLogger(__name__)

INTERVAL_START = "interval_start"
INTERVAL_END = "interval_end"
#: Airflow's run type of the runs ``airflow backfill create`` makes.
BACKFILL_RUN_TYPE = "backfill"

_DESCRIPTIONS = {
    INTERVAL_START: (
        "First UTC day to load (YYYY-MM-DD, included). Leave both dates empty to load the "
        "run's data interval (scheduled and backfill runs). Give both to load a history "
        "in one manual run."
    ),
    INTERVAL_END: (
        "First UTC day NOT loaded (YYYY-MM-DD, excluded; yesterday's data: today's date). "
        "Must be after interval_start and not in the future."
    ),
}
_TITLES = {INTERVAL_START: "Load from (UTC day)", INTERVAL_END: "Load until (UTC day, excluded)"}


def interval_params() -> dict[str, Param]:
    """The DAG's typed parameters: ``interval_start`` and ``interval_end``.

    Each is ``null`` (the default: load the data interval) or a ``date`` string, checked by
    Airflow's JSON-schema validation when the run is triggered (a mistyped date never
    starts a run). That both or neither are given, in order and not in the future is
    checked by :func:`resolve_interval` in the first task, as JSON schema cannot compare
    two fields.
    """
    from airflow.sdk import Param

    return {
        name: Param(
            None,
            type=["null", "string"],
            format="date",
            title=_TITLES[name],
            description=_DESCRIPTIONS[name],
        )
        for name in (INTERVAL_START, INTERVAL_END)
    }


def requested_bounds(
    params: Mapping[str, Any] | None, conf: Mapping[str, Any] | None
) -> tuple[Any, Any]:
    """``(interval_start, interval_end)`` as the run asked for them (``None`` when not).

    Params first; run conf keys of the same names are read too, for runs made before the
    DAG had params and for callers that hand a context without params (with params, Airflow
    copies the conf keys into them anyway).
    """
    params = params or {}
    conf = conf or {}

    def pick(name: str) -> Any:
        value = params.get(name)
        if value in (None, ""):
            value = conf.get(name)
        return None if value in (None, "") else value

    return pick(INTERVAL_START), pick(INTERVAL_END)


def _parse_day(name: str, value: Any) -> date:
    text = str(value).strip()
    try:
        if len(text) != 10:
            raise ValueError("expected YYYY-MM-DD")
        return date.fromisoformat(text)
    except ValueError as error:
        raise IntervalError(f"{name}={value!r} is not a date (YYYY-MM-DD): {error}") from None


def resolve_interval(
    *,
    params: Mapping[str, Any] | None,
    conf: Mapping[str, Any] | None,
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    run_type: str | None = None,
    now: datetime | None = None,
    tolerance: timedelta = timedelta(hours=1),
) -> Interval:
    """The interval a run loads: its parameters when given, else its data interval.

    Raises:
        IntervalError: one bound only, a bound that is not a date, an empty or reversed
            interval, an interval ending after ``now + tolerance``, parameters on a
            backfill run, or a run without parameters and without a data interval.
            A retry cannot fix any of them.
    """
    from reach2revenue.cursors import check_interval

    start, end = requested_bounds(params, conf)
    if start is not None or end is not None:
        if start is None or end is None:
            raise IntervalError(
                f"give both {INTERVAL_START} and {INTERVAL_END} (YYYY-MM-DD) or neither; "
                f"got {INTERVAL_START}={start!r}, {INTERVAL_END}={end!r}"
            )
        if run_type == BACKFILL_RUN_TYPE:
            raise IntervalError(
                f"a backfill run loads its own data interval; {INTERVAL_START}/{INTERVAL_END} "
                "would make every run of the backfill load the same range. Drop them from "
                "the backfill's run conf."
            )
        start_day, end_day = _parse_day(INTERVAL_START, start), _parse_day(INTERVAL_END, end)
        if end_day <= start_day:
            raise IntervalError(
                f"{INTERVAL_END}={end_day} must be after {INTERVAL_START}={start_day} "
                f"({INTERVAL_END} is the first day not loaded)"
            )
        interval = Interval.from_dates(start_day, end_day)
    else:
        if data_interval_start is None or data_interval_end is None:
            raise IntervalError(
                "this run has no data interval (a manual run without a logical date): give "
                f"{INTERVAL_START}/{INTERVAL_END}, or trigger it with a logical date or "
                "data_interval_start/data_interval_end"
            )
        interval = Interval(_as_utc(data_interval_start), _as_utc(data_interval_end))
    check_interval(interval, now=now or datetime.now(UTC), tolerance=tolerance)
    return interval


def describe_mismatch(
    loaded: Interval, data_interval_start: datetime | None, data_interval_end: datetime | None
) -> str | None:
    """A warning when a run loads other days than its data interval shows, else ``None``."""
    if data_interval_start is None or data_interval_end is None:
        shown = "no data interval"
    else:
        shown_interval = (_as_utc(data_interval_start), _as_utc(data_interval_end))
        if shown_interval == (loaded.start, loaded.end):
            return None
        shown = f"data interval {shown_interval[0].isoformat()} .. {shown_interval[1].isoformat()}"
    return (
        f"this run loads {loaded} (its {INTERVAL_START}/{INTERVAL_END}) while it shows "
        f"{shown}: trigger history loads with data_interval_start/data_interval_end "
        "instead (REST API), so the run shows what it loaded"
    )


def _as_utc(value: datetime) -> datetime:
    # Airflow hands out pendulum datetimes; plain datetimes keep serialisation simple.
    return datetime.fromtimestamp(value.timestamp(), tz=UTC)

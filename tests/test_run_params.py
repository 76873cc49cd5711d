"""What a run loads: its typed params when given, else its data interval, validated.

The params are the DAG's own (parsed from `dags/`), resolved the way Airflow resolves a
trigger's values (run conf merged into the params, then JSON-schema validation).
"""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from reach2revenue import pipeline
from reach2revenue.contracts import Interval
from reach2revenue.failures import IntervalError, NonRetryableError
from reach2revenue.run_params import describe_mismatch, interval_params, resolve_interval

NOW = datetime(2026, 11, 30, 0, 20, tzinfo=UTC)
NIGHT = (datetime(2026, 11, 29, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC))


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def resolve(
    params: dict[str, Any] | None = None,
    conf: dict[str, Any] | None = None,
    data_interval: tuple[datetime, datetime] | tuple[None, None] = NIGHT,
    run_type: str | None = "manual",
) -> Interval:
    return resolve_interval(
        params=params,
        conf=conf,
        data_interval_start=data_interval[0],
        data_interval_end=data_interval[1],
        run_type=run_type,
        now=NOW,
    )


@pytest.fixture(scope="module")
def dag_params():
    """The nightly DAG's ParamsDict, as the DAG file declares it."""
    from airflow.dag_processing.dagbag import DagBag

    from reach2revenue.settings import REPO_ROOT

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags" / "marketing_sales_nightly.py"))
    return bag.dags["marketing_sales_nightly"].params


def trigger(dag_params: Any, conf: dict[str, Any]) -> dict[str, Any]:
    """The params a task sees after a trigger with ``conf`` (Airflow's merge + validation)."""
    params = copy.deepcopy(dag_params)
    params.update(conf)
    return params.validate()


# ------------------------------------------------------------- which interval


def test_a_scheduled_run_loads_its_data_interval() -> None:
    assert resolve({"interval_start": None, "interval_end": None}, run_type="scheduled") == (
        Interval(*NIGHT)
    )


def test_a_run_whose_data_interval_spans_days_loads_them_all_without_params() -> None:
    """A manual run triggered with data_interval_start/_end (REST) loads its whole interval."""
    ninety = (day("2026-08-31"), day("2026-11-29"))
    interval = resolve({}, data_interval=ninety)
    assert (interval.start, interval.end) == ninety
    assert describe_mismatch(interval, *ninety) is None  # it shows what it loaded


def test_a_backfill_run_loads_its_own_day() -> None:
    own_day = (day("2026-08-03"), day("2026-08-04"))
    assert resolve({}, data_interval=own_day, run_type="backfill") == Interval(*own_day)


def test_params_override_the_data_interval_and_the_log_says_so(dag_params, caplog) -> None:
    params = trigger(dag_params, {"interval_start": "2026-09-01", "interval_end": "2026-11-29"})
    interval = resolve(params)
    assert interval == Interval.from_dates("2026-09-01", "2026-11-29")
    warning = describe_mismatch(interval, *NIGHT)
    assert warning and "2026-09-01" in warning and "data_interval_start" in warning

    context = {
        "params": params,
        "dag_run": SimpleNamespace(conf={}, run_type="manual"),
        "data_interval_start": NIGHT[0],
        "data_interval_end": NIGHT[1],
    }
    with caplog.at_level(logging.WARNING, logger="reach2revenue.pipeline"):
        assert pipeline.interval_from_context(context) == interval
    assert "while it shows data interval 2026-11-29" in caplog.text


def test_conf_keys_without_params_still_work() -> None:
    """Contexts from before the params (and callers that pass conf only) keep working."""
    conf = {"interval_start": "2026-09-01", "interval_end": "2026-09-08"}
    assert resolve(None, conf) == Interval.from_dates("2026-09-01", "2026-09-08")
    # Params left empty do not hide the conf's values.
    assert resolve({"interval_start": None, "interval_end": ""}, conf).end == day("2026-09-08")


# ------------------------------------------------------------------ validation


def test_the_trigger_form_refuses_a_mistyped_date_before_any_run(dag_params) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match="2026-13-01"):
        trigger(dag_params, {"interval_start": "2026-09-01", "interval_end": "2026-13-01"})
    with pytest.raises(ParamValidationError):
        trigger(dag_params, {"interval_start": 20260901, "interval_end": None})
    # Both empty is the default: the data interval.
    assert trigger(dag_params, {}) == {"interval_start": None, "interval_end": None}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"interval_start": "2026-09-01"}, "both interval_start and interval_end"),
        ({"interval_end": "2026-09-01"}, "both interval_start and interval_end"),
        ({"interval_start": "2026-09-05", "interval_end": "2026-09-01"}, "must be after"),
        ({"interval_start": "2026-09-05", "interval_end": "2026-09-05"}, "must be after"),
        ({"interval_start": "2026-9-5", "interval_end": "2026-09-08"}, "not a date"),
        ({"interval_start": "2026-11-01", "interval_end": "2026-12-01"}, "future data"),
    ],
    ids=["start-only", "end-only", "reversed", "empty", "not-iso", "future"],
)
def test_a_bad_interval_is_a_non_retryable_interval_error(
    params: dict[str, str], message: str
) -> None:
    with pytest.raises(IntervalError, match=message) as caught:
        resolve(params)
    assert isinstance(caught.value, NonRetryableError)


def test_the_tolerance_admits_today_as_the_first_day_not_loaded() -> None:
    # Loading through yesterday at 00:20: the end is 20 minutes ago.
    assert resolve({"interval_start": "2026-11-01", "interval_end": "2026-11-30"}).end == day(
        "2026-11-30"
    )
    with pytest.raises(IntervalError):
        resolve_interval(
            params={"interval_start": "2026-11-01", "interval_end": "2026-12-01"},
            conf=None,
            data_interval_start=None,
            data_interval_end=None,
            now=NOW,
            tolerance=timedelta(hours=1),
        )


def test_params_on_a_backfill_run_are_refused() -> None:
    """They would make every run of the backfill load the same range."""
    with pytest.raises(IntervalError, match="backfill run loads its own data interval"):
        resolve({"interval_start": "2026-09-01", "interval_end": "2026-09-08"}, run_type="backfill")


def test_a_run_without_data_interval_or_params_is_refused() -> None:
    with pytest.raises(IntervalError, match="no data interval"):
        resolve({}, data_interval=(None, None))


def test_interval_from_context_reads_the_backfill_run_type_enum() -> None:
    from airflow.utils.types import DagRunType

    params = {"interval_start": "2026-09-01", "interval_end": "2026-09-08"}
    context = {
        "params": params,
        "dag_run": SimpleNamespace(conf=params, run_type=DagRunType.BACKFILL_JOB),
        "data_interval_start": day("2026-09-01"),
        "data_interval_end": day("2026-09-02"),
    }
    with pytest.raises(IntervalError, match="backfill"):
        pipeline.interval_from_context(context)


def test_interval_params_are_typed_nullable_dates() -> None:
    params = interval_params()
    assert {name: p.schema for name, p in params.items()} == {
        name: {"type": ["null", "string"], "format": "date", "title": p.schema["title"]}
        for name, p in params.items()
    }
    assert all(p.value is None and p.description for p in params.values())

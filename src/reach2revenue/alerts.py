"""Tell someone when the night is late: the DAG's deadline alert.

A run that is not done ``R2R_NIGHT_DEADLINE_HOURS`` hours (default 6) after it was queued
misses its deadline; Airflow then calls :func:`notify_late_run` in the triggerer, which
sends a :class:`~reach2revenue.notifications.RunNotice` through the channels configured
for failures (``R2R_NOTIFY_*``, ``reach2revenue.notifications``). A run that finishes in
time (successful or failed: a failure has its own notice) raises nothing.

The reference is the run's *queued* time, not its logical date: the nightly run is queued
right after midnight UTC, when its day has ended, so the default alert fires at about 06:00
UTC; a backfill of old days is not late the moment it is created. The runs of a long
backfill are queued together: one taking longer than the deadline in total alerts for its
last runs (raise ``R2R_NIGHT_DEADLINE_HOURS`` for it, or ``0`` switches the alert off).

Deadline alerts need the triggerer running (``airflow triggerer``).

Not under ``airflow dags test``: Airflow 3.3's ``dag.test()`` crashes when a run with a
deadline succeeds (``DagRun.update_state`` looks the alerts up by the ids the
dag-processor stores, while ``dag.test()`` hands it the alerts themselves:
``'dict' object has no attribute 'hex'``). A run under ``dags test`` has no scheduler
to miss a deadline anyway, so the DAG declares none there (:func:`night_deadlines`).

Light at import time (the DAG file imports it while parsed): ``airflow.sdk`` and the
standard library only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

from reach2revenue.notifications import LATE, RunNotice, send_notice

log = logging.getLogger(__name__)

NIGHT_DEADLINE_ENV = "R2R_NIGHT_DEADLINE_HOURS"
DEFAULT_NIGHT_DEADLINE_HOURS = 6.0
NIGHT_DEADLINE_NAME = "night_late"
#: What the deadline counts from (see the module's doc).
NIGHT_DEADLINE_REFERENCE = DeadlineReference.DAGRUN_QUEUED_AT


def night_deadline_hours(environ: Mapping[str, str] | None = None) -> float:
    """Hours a run may take from queued to done (``0``: no alert).

    Raises:
        ValueError: not a number, or negative (a DAG import error, not a silent night).
    """
    env = os.environ if environ is None else environ
    text = env.get(NIGHT_DEADLINE_ENV, "").strip()
    if not text:
        return DEFAULT_NIGHT_DEADLINE_HOURS
    try:
        hours = float(text)
    except ValueError:
        raise ValueError(f"{NIGHT_DEADLINE_ENV}={text!r} is not a number of hours") from None
    if not hours >= 0:
        raise ValueError(f"{NIGHT_DEADLINE_ENV}={text!r} must be 0 (off) or more hours")
    return hours


def parsed_by_dags_test(argv: Sequence[str] | None = None) -> bool:
    """Whether this process is ``airflow dags test`` (which cannot run deadlines)."""
    args = list(sys.argv if argv is None else argv)
    return (
        len(args) >= 3
        # .../bin/airflow, or python -m airflow (.../airflow/__main__.py)
        and "airflow" in Path(args[0]).parts[-2:]
        and args[1:3] == ["dags", "test"]
    )


def night_deadlines(
    environ: Mapping[str, str] | None = None, argv: Sequence[str] | None = None
) -> list[DeadlineAlert]:
    """The DAG's ``deadline``: one alert ``R2R_NIGHT_DEADLINE_HOURS`` after queued, or none.

    None when the hours are ``0`` or the process is ``airflow dags test`` (see the
    module's doc).
    """
    hours = night_deadline_hours(environ)
    if hours == 0 or parsed_by_dags_test(argv):
        return []
    return [
        DeadlineAlert(
            reference=NIGHT_DEADLINE_REFERENCE,
            interval=timedelta(hours=hours),
            callback=AsyncCallback(notify_late_run, kwargs={"deadline_hours": hours}),
            name=NIGHT_DEADLINE_NAME,
        )
    ]


async def notify_late_run(
    context: Mapping[str, Any] | None = None, deadline_hours: float | None = None
) -> dict[str, Any]:
    """The deadline's callback: send a late-run notice through the configured channels.

    ``context`` is what Airflow hands a deadline callback (the run as JSON and the
    deadline). Returns the notice and how many channels sent it (the triggerer records it).
    """
    notice = RunNotice.from_deadline_context(
        context or {}, event=LATE, deadline_hours=deadline_hours
    )
    log.warning("%s", notice.text)
    # The senders block (SMTP, urllib): off the triggerer's event loop.
    sent = await asyncio.to_thread(send_notice, notice)
    if not sent:
        log.warning("no notification channel is configured (R2R_NOTIFY_*): logged only")
    return {"sent": sent, **notice.as_json()}

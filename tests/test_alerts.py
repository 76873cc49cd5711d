"""The late-night alert: declared right, and a real callback run reaches a real receiver.

No scheduler here: the deadline's declaration is checked as the DAG holds it, and the
callback runs through Airflow's own `CallbackTrigger` (what the triggerer runs when a
deadline is missed) with the context Airflow builds for it (the run as the REST API shows
it, and the deadline), against a tiny HTTP server in this process.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from reach2revenue.alerts import (
    NIGHT_DEADLINE_NAME,
    night_deadline_hours,
    night_deadlines,
    notify_late_run,
    parsed_by_dags_test,
)
from reach2revenue.notifications import LATE, RunNotice

RUN_ID = "scheduled__2026-11-29T00:00:00+00:00"
BASE_URL = "http://airflow.r2r.test:8080"


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append(  # type: ignore[attr-defined]
            {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
        )
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def deadline_context() -> dict[str, Any]:
    """What `Deadline.handle_miss` hands the callback, through its JSON round trip."""
    from airflow.api_fastapi.core_api.datamodels.dag_run import DAGRunResponse

    run = DAGRunResponse.model_validate(
        {
            "run_id": RUN_ID,
            "dag_id": "marketing_sales_nightly",
            "logical_date": datetime(2026, 11, 29, tzinfo=UTC),
            "queued_at": datetime(2026, 11, 30, 0, 0, 5, tzinfo=UTC),
            "start_date": datetime(2026, 11, 30, 0, 0, 6, tzinfo=UTC),
            "end_date": None,
            "duration": None,
            "data_interval_start": datetime(2026, 11, 29, tzinfo=UTC),
            "data_interval_end": datetime(2026, 11, 30, tzinfo=UTC),
            "run_after": datetime(2026, 11, 30, tzinfo=UTC),
            "last_scheduling_decision": None,
            "run_type": "scheduled",
            "state": "running",
            "triggered_by": "timetable",
            "triggering_user_name": None,
            "conf": {},
            "note": None,
            "dag_versions": [],
            "bundle_version": None,
            "dag_model": {"dag_display_name": "marketing_sales_nightly"},
            "partition_key": None,
            "partition_date": None,
        }
    )
    context = {
        "dag_run": run.model_dump(mode="json"),
        "deadline": {"id": "0199d5c1-aaaa", "deadline_time": "2026-11-30T06:00:05+00:00"},
    }
    return json.loads(json.dumps(context))


# ------------------------------------------------------------------ declaration


def test_the_deadline_interval_comes_from_the_environment() -> None:
    assert night_deadline_hours({}) == 6.0
    [alert] = night_deadlines({"R2R_NIGHT_DEADLINE_HOURS": "2.5"})
    assert alert.interval == timedelta(hours=2.5)
    assert alert.name == NIGHT_DEADLINE_NAME
    assert alert.callback.kwargs == {"deadline_hours": 2.5}
    assert night_deadlines({"R2R_NIGHT_DEADLINE_HOURS": "0"}) == []  # off


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/srv/.venv/bin/airflow", "dags", "test", "marketing_sales_nightly"], True),
        (["/srv/site-packages/airflow/__main__.py", "dags", "test", "x"], True),
        (["/srv/.venv/bin/airflow", "dag-processor"], False),
        (["/srv/.venv/bin/airflow", "scheduler"], False),
        (["/srv/.venv/bin/pytest", "dags", "test"], False),
    ],
)
def test_no_deadline_under_airflow_dags_test(argv: list[str], expected: bool) -> None:
    """Airflow 3.3's dag.test() crashes on a successful run with a deadline (alerts.py)."""
    assert parsed_by_dags_test(argv) is expected
    assert len(night_deadlines({}, argv=argv)) == (0 if expected else 1)


PROBE_DAG = textwrap.dedent(
    """
    from __future__ import annotations

    import pendulum
    from airflow.sdk import CronDataIntervalTimetable, dag, task

    from reach2revenue.alerts import night_deadlines


    @dag(
        schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        deadline=night_deadlines(),
    )
    def deadline_probe() -> None:
        @task
        def work() -> int:
            return 1

        work()


    deadline_probe()
    """
)


@pytest.mark.slow
def test_airflow_dags_test_of_a_dag_with_the_night_deadline_succeeds(tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "deadline_probe.py").write_text(PROBE_DAG)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, check=True)
    done = subprocess.run(
        [airflow, "dags", "test", "deadline_probe", "2026-11-29"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert "state=success" in done.stdout + done.stderr


@pytest.mark.parametrize("value", ["six", "-1", "nan"])
def test_a_bad_deadline_setting_is_a_dag_import_error(value: str) -> None:
    with pytest.raises(ValueError, match="R2R_NIGHT_DEADLINE_HOURS"):
        night_deadlines({"R2R_NIGHT_DEADLINE_HOURS": value})


# --------------------------------------------------------------------- callback


def test_a_missed_deadline_sends_the_late_notice_through_the_triggerers_callback(
    receiver: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.triggers.callback import CallbackTrigger

    url = f"http://127.0.0.1:{receiver.server_address[1]}/hooks/late"
    monkeypatch.setenv("R2R_NOTIFY_WEBHOOK_URL", url)
    monkeypatch.setenv("R2R_NOTIFY_WEBHOOK_TOKEN", "late-token-1")
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", BASE_URL)
    [alert] = night_deadlines({})
    trigger = CallbackTrigger(
        callback_path=alert.callback.path,
        callback_kwargs={**alert.callback.kwargs, "context": deadline_context()},
    )

    async def run() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    events = asyncio.run(run())
    assert [e["state"] for e in events] == ["running", "success"], events

    [request] = receiver.requests  # type: ignore[attr-defined]
    assert request["path"] == "/hooks/late"
    assert request["headers"]["Authorization"] == "Bearer late-token-1"
    notice = request["json"]
    assert notice["event"] == LATE
    assert notice["dag_id"] == "marketing_sales_nightly"
    assert notice["run_id"] == RUN_ID
    assert (notice["run_type"], notice["state"]) == ("scheduled", "running")
    assert notice["data_interval_start"] == "2026-11-29T00:00:00Z"
    assert notice["data_interval_end"] == "2026-11-30T00:00:00Z"
    assert notice["queued_at"] == "2026-11-30T00:00:05Z"
    assert notice["deadline_time"] == "2026-11-30T06:00:05+00:00"
    assert notice["deadline_hours"] == 6.0
    assert notice["run_url"] == (
        f"{BASE_URL}/dags/marketing_sales_nightly/runs/scheduled__2026-11-29T00%3A00%3A00%2B00%3A00"
    )
    assert notice["subject"] == (
        "[reach2revenue] marketing_sales_nightly is late: not done 6 h after it was queued "
        "(state: running)"
    )
    assert notice["run_url"] in notice["text"]
    # The triggerer records what was sent.
    assert events[-1]["body"]["sent"] == 1


def test_a_late_notice_without_channels_is_logged_only(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("R2R_NOTIFY_WEBHOOK_URL", "R2R_NOTIFY_SMTP_HOST", "R2R_NOTIFY_CONN_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_R2R_NOTIFY", raising=False)
    result = asyncio.run(notify_late_run(context=deadline_context(), deadline_hours=6))
    assert result["sent"] == 0 and result["run_id"] == RUN_ID


def test_a_failing_channel_does_not_silence_the_others(
    receiver: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SMTP to a closed port fails; the webhook is still sent, then the error is raised."""
    monkeypatch.setenv(
        "R2R_NOTIFY_WEBHOOK_URL", f"http://127.0.0.1:{receiver.server_address[1]}/hooks/late"
    )
    monkeypatch.setenv("R2R_NOTIFY_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("R2R_NOTIFY_SMTP_PORT", "1")
    monkeypatch.setenv("R2R_NOTIFY_SMTP_TO", "oncall@r2r.test")
    monkeypatch.setenv("R2R_NOTIFY_SMTP_SECURITY", "none")
    with pytest.raises(OSError):
        asyncio.run(notify_late_run(context=deadline_context(), deadline_hours=6))
    assert len(receiver.requests) == 1  # type: ignore[attr-defined]


def test_a_run_notice_tolerates_a_sparse_context() -> None:
    notice = RunNotice.from_deadline_context({}, base_url="")
    assert (notice.dag_id, notice.run_url, notice.deadline_time) == ("", "", "")
    assert notice.subject == "[reach2revenue]  is late: not done"

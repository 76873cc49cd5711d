"""The operator's commands without a running Airflow: help, usage errors, exit codes.

Exit codes a script relies on: 0 ok, 1 run failed, 2 usage error, 3 Airflow unreachable
(a closed port, or a login Airflow refuses). The commands against a real scheduler (exit
0 and 1, `r2r airflow up` itself) are in tests/test_scheduler.py.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import ClassVar

import duckdb
import pytest

from reach2revenue import cli
from reach2revenue.commands import EXIT_RUN_FAILED, EXIT_UNREACHABLE, EXIT_USAGE
from reach2revenue.commands.status import published_facts


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No state of a real `r2r airflow up`, no login from the caller's environment."""
    monkeypatch.setenv("R2R_HOME", str(tmp_path / "home"))
    for name in ("R2R_AIRFLOW_URL", "R2R_AIRFLOW_USERNAME", "R2R_AIRFLOW_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("R2R_PUBLISHED_PATH", raising=False)
    return tmp_path


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "--help"], ["--date", "examples:", "exit codes: 0 ok", "default: 3600.0"]),
        (["backfill", "--help"], ["--start", "--end", "default: completed", "default: 1"]),
        (["status", "--help"], ["--published", "examples:", "3 Airflow unreachable"]),
        (["airflow", "up", "--help"], ["--executor", "default: local", "default: 8080"]),
    ],
)
def test_help_shows_defaults_examples_and_exit_codes(argv, expected, capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    assert stopped.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # help wraps lines anywhere
    for needle in expected:
        assert needle in text, (needle, text)


@pytest.mark.parametrize(
    "argv",
    [
        ["run"],
        ["run", "--date", "2026-13-01"],
        ["backfill", "--start", "2026-11-01"],
        ["backfill", "--start", "2026-11-01", "--end", "yesterday"],
        ["airflow", "up", "--executor", "kubernetes"],
        ["airflow"],
    ],
)
def test_bad_arguments_exit_2(argv, capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    assert stopped.value.code == EXIT_USAGE


def test_backfill_ending_before_it_starts_exits_2(monkeypatch, capsys) -> None:
    monkeypatch.setenv("R2R_AIRFLOW_PASSWORD", "unused-password")
    code = cli.main(["backfill", "--start", "2026-11-02", "--end", "2026-11-01"])
    assert code == EXIT_USAGE
    assert "before --start" in capsys.readouterr().out


def test_no_password_anywhere_exits_2(capsys) -> None:
    code = cli.main(
        ["run", "--date", "2026-11-01", "--api-url", f"http://127.0.0.1:{_closed_port()}"]
    )
    assert code == EXIT_USAGE
    assert "R2R_AIRFLOW_PASSWORD" in capsys.readouterr().out


def test_airflow_up_without_connections_exits_2_and_starts_nothing(monkeypatch, capsys) -> None:
    for name in [n for n in os.environ if n.startswith("AIRFLOW_CONN_")]:
        monkeypatch.delenv(name)
    code = cli.main(["airflow", "up"])
    assert code == EXIT_USAGE
    out = capsys.readouterr().out
    assert "AIRFLOW_CONN_META_ADS_DEFAULT" in out and "--world" in out
    assert "starting Airflow" not in out


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--date", "2026-11-01"],
        ["backfill", "--start", "2026-11-01", "--end", "2026-11-03"],
        ["status"],
    ],
)
def test_unreachable_airflow_exits_3(argv, monkeypatch, capsys) -> None:
    monkeypatch.setenv("R2R_AIRFLOW_PASSWORD", "some-password-1")
    code = cli.main([*argv, "--api-url", f"http://127.0.0.1:{_closed_port()}"])
    assert code == EXIT_UNREACHABLE
    assert "127.0.0.1" in capsys.readouterr().out


class _RefusingAirflow(http.server.BaseHTTPRequestHandler):
    """Answers the token request as Airflow does for a wrong password, and counts it."""

    calls: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.calls.append(self.path)
        body = json.dumps({"detail": "Invalid credentials"}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def refusing_airflow() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RefusingAirflow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _RefusingAirflow.calls = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_refused_login_exits_3(refusing_airflow: str, monkeypatch, capsys) -> None:
    monkeypatch.setenv("R2R_AIRFLOW_PASSWORD", "wrong-password-1")
    code = cli.main(["run", "--date", "2026-11-01", "--api-url", refusing_airflow])
    assert code == EXIT_UNREACHABLE
    assert _RefusingAirflow.calls == ["/auth/token"]
    assert "401" in capsys.readouterr().out


def _published_file(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute(
            "create table region_daily_performance as select * from (values "
            "('EMEA', date '2026-11-27'), ('EMEA', date '2026-11-29')) as t(region, report_date)"
        )
        con.execute(
            "comment on table region_daily_performance is 'One row per region and day. "
            "Published 2026-11-30T03:12:09+00:00 (publication 6b63db06d18a8b0b).'"
        )
    return path


def test_status_reads_the_published_file_then_reports_airflow_unreachable(
    isolated: Path, monkeypatch, capsys
) -> None:
    published = _published_file(isolated / "published.duckdb")
    facts = published_facts(published)
    assert facts is not None
    assert facts["publication_id"] == "6b63db06d18a8b0b"
    assert facts["published_at"] == "2026-11-30T03:12:09+00:00"
    assert (facts["first_day"], facts["last_day"]) == ("2026-11-27", "2026-11-29")

    monkeypatch.setenv("R2R_AIRFLOW_PASSWORD", "some-password-1")
    port = _closed_port()
    code = cli.main(
        ["status", "--published", str(published), "--api-url", f"http://127.0.0.1:{port}"]
    )
    out = capsys.readouterr().out
    assert code == EXIT_UNREACHABLE
    assert "publication 6b63db06d18a8b0b" in out
    assert "data through 2026-11-29" in out
    assert "Airflow: unreachable" in out


def test_exit_codes_are_distinct_and_documented() -> None:
    codes = {0, EXIT_RUN_FAILED, EXIT_USAGE, EXIT_UNREACHABLE}
    assert codes == {0, 1, 2, 3}
    doc = (Path(__file__).parents[1] / "docs" / "operations.md").read_text()
    for code, meaning in ((1, "run failed"), (2, "usage"), (3, "unreachable")):
        assert f"| {code} |" in doc and meaning in doc.lower()
    assert date.fromisoformat("2026-11-01")  # the commands' date format

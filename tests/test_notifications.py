"""Failure and retry notifications reach a real SMTP server and a real webhook.

The receivers are tiny servers in this process (an SMTP dialogue over a socket, an HTTP
server); the notifications come from a real Airflow task failing under `dag.test()` in a
subprocess with its own Airflow home, so the context is the one Airflow really builds.
"""

from __future__ import annotations

import base64
import json
import os
import socketserver
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from reach2revenue.notifications import (
    FAILED,
    UP_FOR_RETRY,
    ConnectionNotifier,
    SmtpNotifier,
    TaskNotice,
    WebhookNotifier,
    failure_notifiers,
    redact_text,
    retry_notifiers,
    summarize_exception,
)

HEAVY_MODULES = ("great_expectations", "dbt", "duckdb", "pandas", "requests")

# ------------------------------------------------------------------------- receivers


class SmtpReceiver(socketserver.ThreadingTCPServer):
    """Speaks just enough SMTP (EHLO, AUTH PLAIN, MAIL, RCPT, DATA) to receive mail."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SmtpSession)
        self.messages: list[dict[str, Any]] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _SmtpSession(socketserver.StreamRequestHandler):
    server: SmtpReceiver

    def reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 receiver ESMTP")
        envelope: dict[str, Any] = {"auth": None, "from": "", "to": []}
        while line := self.rfile.readline():
            command = line.decode().rstrip("\r\n")
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.reply("250-receiver")
                self.reply("250 AUTH PLAIN")
            elif verb == "HELO" or verb in ("RSET", "NOOP"):
                self.reply("250 ok")
            elif verb == "AUTH":
                # AUTH PLAIN <base64 of \0user\0password> (smtplib sends it in one line)
                _, user, password = base64.b64decode(command.split()[2]).split(b"\0")
                envelope["auth"] = (user.decode(), password.decode())
                self.reply("235 2.7.0 authenticated")
            elif verb == "MAIL":
                envelope["from"] = command.split(":", 1)[1].strip(" <>")
                self.reply("250 ok")
            elif verb == "RCPT":
                envelope["to"].append(command.split(":", 1)[1].strip(" <>"))
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                body = bytearray()
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    body += data[1:] if data.startswith(b"..") else data
                self.server.messages.append(
                    {**envelope, "message": message_from_bytes(body, policy=policy.default)}
                )
                envelope = {"auth": envelope["auth"], "from": "", "to": []}
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


class _WebhookHandler(BaseHTTPRequestHandler):
    server: WebhookReceiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append(
            {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
        )
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


class WebhookReceiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _WebhookHandler)
        self.requests: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/r2r"


def _serving(server: socketserver.BaseServer) -> Iterator[Any]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def smtp_receiver() -> Iterator[SmtpReceiver]:
    yield from _serving(SmtpReceiver())


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    yield from _serving(WebhookReceiver())


# ------------------------------------------------------------------ a real failure

# A task that fetches a connection (so Airflow masks its password) and then fails with
# that password and a token in its message: the notices must carry neither.
PROBE_DAG = textwrap.dedent(
    """
    from __future__ import annotations

    from datetime import timedelta

    import pendulum
    from airflow.sdk import DAG, Connection, task

    from reach2revenue.notifications import failure_notifiers, retry_notifiers

    with DAG(
        "notify_probe",
        schedule="@daily",
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        default_args={
            "retries": 1,
            "retry_delay": timedelta(seconds=0),
            "on_failure_callback": failure_notifiers(),
            "on_retry_callback": retry_notifiers(),
        },
    ) as dag:

        @task
        def extract_probe() -> None:
            password = Connection.get("probe_api").password
            raise RuntimeError(
                f"GET https://api.example.test/v1?access_token=tok-abc-123456 answered 503; "
                f"login with {password} refused"
            )

        extract_probe()

    if __name__ == "__main__":
        from airflow.utils.db import resetdb

        resetdb()
        run = dag.test(logical_date=pendulum.datetime(2026, 11, 29, tz="UTC"))
        print("RUN_STATE", run.state)
    """
)
CONNECTION_PASSWORD = "conn-pass-7f3e9a1b2c"
LOG_BASE_URL = "http://airflow.r2r.test:8080"


@pytest.mark.slow
def test_a_failing_task_notifies_webhook_and_smtp_with_the_right_fields(
    tmp_path: Path, smtp_receiver: SmtpReceiver, webhook_receiver: WebhookReceiver
) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "notify_probe.py").write_text(PROBE_DAG)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API__BASE_URL": LOG_BASE_URL,
        "AIRFLOW_CONN_PROBE_API": json.dumps(
            {
                "conn_type": "http",
                "host": "https://api.example.test",
                "password": CONNECTION_PASSWORD,
            }
        ),
        # Three channels at once: a webhook and SMTP from variables, SMTP from a connection.
        "R2R_NOTIFY_WEBHOOK_URL": webhook_receiver.url,
        "R2R_NOTIFY_WEBHOOK_TOKEN": "hook-token-123",
        "R2R_NOTIFY_SMTP_HOST": "127.0.0.1",
        "R2R_NOTIFY_SMTP_PORT": str(smtp_receiver.port),
        "R2R_NOTIFY_SMTP_SECURITY": "none",
        "R2R_NOTIFY_SMTP_USER": "notifier",
        "R2R_NOTIFY_SMTP_PASSWORD": "smtp-pass-123",
        "R2R_NOTIFY_SMTP_FROM": "airflow@r2r.test",
        "R2R_NOTIFY_SMTP_TO": "oncall@r2r.test, data@r2r.test",
        "AIRFLOW_CONN_R2R_NOTIFY": json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": smtp_receiver.port,
                "extra": {
                    "from": "conn@r2r.test",
                    "to": ["conn-oncall@r2r.test"],
                    "security": "none",
                },
            }
        ),
    }
    done = subprocess.run(
        [sys.executable, str(dags / "notify_probe.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "RUN_STATE failed" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]

    # Try 1 fails and is retried, try 2 fails for good: one notice of each per channel.
    hooks = webhook_receiver.requests
    assert [h["json"]["event"] for h in hooks] == [UP_FOR_RETRY, FAILED]
    assert all(h["headers"]["Authorization"] == "Bearer hook-token-123" for h in hooks)
    assert all(h["path"] == "/hooks/r2r" for h in hooks)
    for try_number, hook in enumerate(hooks, start=1):
        notice = hook["json"]
        assert notice["dag_id"] == "notify_probe"
        assert notice["task_id"] == "extract_probe"
        assert notice["run_id"].startswith("manual__")
        assert notice["data_interval_start"].startswith("2026-11-29T00:00:00")
        assert notice["data_interval_end"].startswith("2026-11-29T00:00:00")
        assert (notice["try_number"], notice["max_tries"]) == (try_number, 1)
        assert notice["log_url"].startswith(
            f"{LOG_BASE_URL}/dags/notify_probe/runs/manual__"
        ) and notice["log_url"].endswith(f"/tasks/extract_probe?try_number={try_number}")
        assert notice["exception"].startswith("RuntimeError: GET https://api.example.test/v1")
        assert f"(try {try_number} of 2)" in notice["subject"]
        assert notice["log_url"] in notice["text"]
    for text in (json.dumps(hooks), *(_mail_text(m["message"]) for m in smtp_receiver.messages)):
        assert CONNECTION_PASSWORD not in text
        assert "tok-abc-123456" not in text
        assert "access_token=***" in text

    by_recipient: dict[str, list[EmailMessage]] = {}
    for mail in smtp_receiver.messages:
        by_recipient.setdefault(",".join(mail["to"]), []).append(mail["message"])
    env_mails = by_recipient["oncall@r2r.test,data@r2r.test"]
    conn_mails = by_recipient["conn-oncall@r2r.test"]
    assert len(env_mails) == len(conn_mails) == 2
    assert [m["Subject"] for m in env_mails] == [
        "[reach2revenue] notify_probe.extract_probe failed, will retry (try 1 of 2)",
        "[reach2revenue] notify_probe.extract_probe failed (try 2 of 2)",
    ]
    assert env_mails[0]["From"] == "airflow@r2r.test" and conn_mails[0]["From"] == "conn@r2r.test"
    body = env_mails[1].get_content()
    assert "data interval: 2026-11-29T00:00:00+00:00 .. 2026-11-29T00:00:00+00:00" in body
    assert f"log: {LOG_BASE_URL}/dags/notify_probe/runs/" in body
    logins = {mail["auth"] for mail in smtp_receiver.messages}
    assert logins == {("notifier", "smtp-pass-123"), None}


def _mail_text(message: EmailMessage) -> str:
    return f"{message['Subject']}\n{message.get_content()}"


# ------------------------------------------------------------------ configuration


def test_nothing_configured_means_no_notifiers() -> None:
    assert failure_notifiers({}) == []
    assert retry_notifiers({}) == []


def test_each_configured_channel_gives_one_notifier_per_event() -> None:
    env = {
        "R2R_NOTIFY_WEBHOOK_URL": "https://hooks.example.test/x",
        "R2R_NOTIFY_SMTP_HOST": "smtp.example.test",
        "R2R_NOTIFY_SMTP_TO": "a@example.test",
        "R2R_NOTIFY_CONN_ID": "team_alerts",
    }
    failure = failure_notifiers(env)
    assert [type(n) for n in failure] == [WebhookNotifier, SmtpNotifier, ConnectionNotifier]
    assert {n.event for n in failure} == {FAILED}
    assert {n.event for n in retry_notifiers(env)} == {UP_FOR_RETRY}
    assert failure[2].conn_id == "team_alerts"
    assert retry_notifiers({**env, "R2R_NOTIFY_ON_RETRY": "false"}) == []
    # A connection given only as AIRFLOW_CONN_R2R_NOTIFY is picked up under its default id.
    [by_env] = failure_notifiers({"AIRFLOW_CONN_R2R_NOTIFY": "{}"})
    assert failure_notifiers({"AIRFLOW_CONN_R2R_NOTIFY": ""}) == []
    assert isinstance(by_env, ConnectionNotifier) and by_env.conn_id == "r2r_notify"


def test_half_configured_smtp_fails_at_parse_time() -> None:
    with pytest.raises(ValueError, match="recipients"):
        failure_notifiers({"R2R_NOTIFY_SMTP_HOST": "smtp.example.test"})
    with pytest.raises(ValueError, match="starttls, ssl or none"):
        failure_notifiers(
            {
                "R2R_NOTIFY_SMTP_HOST": "smtp.example.test",
                "R2R_NOTIFY_SMTP_TO": "a@example.test",
                "R2R_NOTIFY_SMTP_SECURITY": "tls",
            }
        )


def test_no_secret_sits_on_the_notifier_objects() -> None:
    env = {
        "R2R_NOTIFY_WEBHOOK_URL": "https://hooks.example.test/services/T0/B0/secretpath",
        "R2R_NOTIFY_SMTP_HOST": "smtp.example.test",
        "R2R_NOTIFY_SMTP_TO": "a@example.test",
        "R2R_NOTIFY_SMTP_PASSWORD": "smtp-password-value",
    }
    for notifier in failure_notifiers(env):
        text = repr(vars(notifier))
        assert "secretpath" not in text and "smtp-password-value" not in text


@pytest.mark.parametrize(
    ("message", "hidden", "kept"),
    [
        ("401 for url ...?access_token=EAAB12345&fields=spend", "EAAB12345", "fields=spend"),
        ('{"error": {"client_secret": "s3cr3t-value"}}', "s3cr3t-value", '"error"'),
        ("Authorization: Bearer eyJhbGciOi.abc.def refused", "eyJhbGciOi", "refused"),
        ("postgresql://airflow:db-pass-9@postgres/airflow down", "db-pass-9", "@postgres/airflow"),
        ("developer-token=dev-tok-1 not approved", "dev-tok-1", "not approved"),
    ],
)
def test_secrets_in_exception_messages_are_redacted(message: str, hidden: str, kept: str) -> None:
    redacted = redact_text(message)
    assert hidden not in redacted and kept in redacted and "***" in redacted


def test_a_long_exception_is_cut_and_a_notice_tolerates_a_sparse_context() -> None:
    summary = summarize_exception(ValueError("x" * 5000))
    assert summary.startswith("ValueError: xxx") and len(summary) <= 600
    # Deadline alerts and DAG-level callbacks carry no task instance.
    notice = TaskNotice.from_context({"exception": "late"}, FAILED)
    assert (notice.task_id, notice.log_url, notice.try_number) == ("", "", None)
    assert notice.subject == "[reach2revenue] . failed"


def test_the_dag_can_import_the_notifiers_at_parse_time() -> None:
    """Nothing heavy comes in beyond what `airflow.sdk` (which the DAG imports) brings."""
    code = (
        "import sys, airflow.sdk; before = set(sys.modules); "
        "import reach2revenue.notifications; "
        f"print(sorted(m for m in {HEAVY_MODULES!r} if m in set(sys.modules) - before))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"

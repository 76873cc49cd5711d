"""Tell someone when a night fails: Airflow notifiers for task failures and retries.

Two channels, chosen by configuration (nothing configured: no notifiers, the DAG runs as
before):

- **Webhook**: ``R2R_NOTIFY_WEBHOOK_URL`` (a Slack/Teams/Mattermost incoming webhook or any
  HTTP endpoint). The body is JSON with every field below plus ``text``, a one-paragraph
  summary that chat tools show as is. ``R2R_NOTIFY_WEBHOOK_TOKEN``, when set, is sent as
  ``Authorization: Bearer <token>``.
- **SMTP**: ``R2R_NOTIFY_SMTP_HOST``, ``R2R_NOTIFY_SMTP_PORT`` (default 587),
  ``R2R_NOTIFY_SMTP_USER`` / ``R2R_NOTIFY_SMTP_PASSWORD`` (login when a user is set),
  ``R2R_NOTIFY_SMTP_FROM``, ``R2R_NOTIFY_SMTP_TO`` (comma-separated),
  ``R2R_NOTIFY_SMTP_SECURITY`` = ``starttls`` (default), ``ssl`` or ``none``.
- **An Airflow connection** instead of variables: ``R2R_NOTIFY_CONN_ID`` names it (or
  define ``r2r_notify``, e.g. as ``AIRFLOW_CONN_R2R_NOTIFY``). ``conn_type`` ``smtp`` reads
  host, port, login, password and extra ``{"from": ..., "to": [...], "security": ...}``;
  ``http``/``https`` reads host as the webhook URL and password as the bearer token. The
  connection is looked up when a notification is sent (in the task's process), never
  while the DAG file is parsed.

Every message carries the DAG id, task id, run id, data interval, try number (of how many),
the exception's type and first lines with secrets redacted, and the task's log link
(``ti.log_url``, built from ``[api] base_url``).

A late night (the DAG's deadline alert, ``reach2revenue.alerts``) goes through the same
channels as a :class:`RunNotice` (event ``late``): DAG id, run id and type, state, data
interval, when it was queued, the deadline, and the run's link in the UI.

Wiring (DAG file)::

    from reach2revenue.notifications import failure_notifiers, retry_notifiers

    DEFAULT_ARGS["on_failure_callback"] = failure_notifiers()
    DEFAULT_ARGS["on_retry_callback"] = retry_notifiers()

This module imports only the standard library and ``airflow.sdk``'s notifier base at module
level: the DAG imports it at parse time. Secrets (SMTP password, webhook token) are read
when a message is sent, so they never sit on the DAG's objects.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import smtplib
import ssl
import urllib.request
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from email import policy
from email.message import EmailMessage
from typing import Any, Protocol
from urllib.parse import quote

from airflow.sdk.bases.notifier import BaseNotifier

DEFAULT_CONN_ID = "r2r_notify"
#: How much of an exception's message a notification carries; the full text is in the log.
EXCEPTION_SUMMARY_CHARS = 600
SEND_TIMEOUT_SECONDS = 15

FAILED = "failed"
UP_FOR_RETRY = "up_for_retry"
#: A DAG run not done by its deadline (``reach2revenue.alerts``).
LATE = "late"
EVENTS = (FAILED, UP_FOR_RETRY, LATE)

# What an exception message may carry that must not leave the log: key=value pairs named
# like credentials, bearer tokens and the user:password part of URLs. Airflow's own secrets
# masker (connection passwords, masked variables) runs first; these catch the rest.
_SECRET_PATTERNS = (
    re.compile(
        r"(?i)\b([\w-]*(?:token|secret|password|passwd|api[_-]?key|authorization|signature)"
        r"[\w-]*)(\s*[=:]\s*|\"\s*:\s*\")([^\s&,;\"'}]+)"
    ),
    re.compile(r"(?i)\b(bearer|basic)(\s+)([A-Za-z0-9._~+/=-]+)"),
    re.compile(r"(://[^/\s:@]*:)([^@\s/]+)(@)"),
)


def redact_text(text: str) -> str:
    """``text`` with secrets replaced by ``***``: Airflow's masker, then credential patterns."""
    try:
        from airflow.sdk._shared.secrets_masker import redact

        text = str(redact(text))
    except Exception:
        # The masker's module is private to Airflow; the patterns below still apply.
        pass
    # Bearer/Basic first: "Authorization: Bearer <token>" would otherwise hide only "Bearer".
    text = _SECRET_PATTERNS[1].sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    text = _SECRET_PATTERNS[0].sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    return _SECRET_PATTERNS[2].sub(lambda m: f"{m.group(1)}***{m.group(3)}", text)


def summarize_exception(exception: BaseException | str | None) -> str:
    """The exception's type and message, redacted and cut to a readable length."""
    if exception is None:
        return ""
    if isinstance(exception, BaseException):
        message = str(exception).strip()
        text = f"{type(exception).__name__}: {message}" if message else type(exception).__name__
    else:
        text = str(exception).strip()
    text = redact_text(text)
    if len(text) > EXCEPTION_SUMMARY_CHARS:
        text = text[: EXCEPTION_SUMMARY_CHARS - 1].rstrip() + "…"
    return text


@dataclass(frozen=True)
class TaskNotice:
    """What a notification says about one task attempt."""

    event: str  # FAILED or UP_FOR_RETRY
    dag_id: str
    task_id: str
    run_id: str
    data_interval_start: str
    data_interval_end: str
    try_number: int | None
    max_tries: int | None
    exception: str
    log_url: str

    @classmethod
    def from_context(cls, context: Mapping[str, Any], event: str) -> TaskNotice:
        """Read the notice from an Airflow task context (missing parts become empty)."""
        ti = context.get("ti") or context.get("task_instance")
        dag = context.get("dag")
        dag_run = context.get("dag_run")
        start = context.get("data_interval_start") or getattr(dag_run, "data_interval_start", None)
        end = context.get("data_interval_end") or getattr(dag_run, "data_interval_end", None)
        try:
            log_url = str(ti.log_url) if ti is not None else ""
        except Exception:
            log_url = ""
        return cls(
            event=event,
            dag_id=str(getattr(ti, "dag_id", None) or getattr(dag, "dag_id", "") or ""),
            task_id=str(getattr(ti, "task_id", "") or ""),
            run_id=str(context.get("run_id") or getattr(ti, "run_id", "") or ""),
            data_interval_start=_iso(start),
            data_interval_end=_iso(end),
            try_number=_int_or_none(getattr(ti, "try_number", None)),
            max_tries=_int_or_none(getattr(ti, "max_tries", None)),
            exception=summarize_exception(context.get("exception")),
            log_url=log_url,
        )

    @property
    def subject(self) -> str:
        what = "failed" if self.event == FAILED else "failed, will retry"
        attempt = f" (try {self.try_number}" if self.try_number is not None else ""
        if attempt and self.max_tries is not None:
            # max_tries counts retries; the first try is try 1.
            attempt += f" of {self.max_tries + 1}"
        attempt += ")" if attempt else ""
        return f"[reach2revenue] {self.dag_id}.{self.task_id} {what}{attempt}"

    @property
    def text(self) -> str:
        lines = [
            self.subject,
            f"data interval: {self.data_interval_start} .. {self.data_interval_end}",
            f"run: {self.run_id}",
        ]
        if self.exception:
            lines.append(f"error: {self.exception}")
        if self.log_url:
            lines.append(f"log: {self.log_url}")
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        """The webhook body: every field, plus ``subject`` and ``text`` for chat tools."""
        return {**asdict(self), "subject": self.subject, "text": self.text}


class Notice(Protocol):
    """What a channel sends: a subject, a text, and a JSON body for webhooks."""

    @property
    def subject(self) -> str: ...

    @property
    def text(self) -> str: ...

    def as_json(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class RunNotice:
    """What a notification says about a whole DAG run (a late night)."""

    event: str  # LATE
    dag_id: str
    run_id: str
    run_type: str
    state: str
    data_interval_start: str
    data_interval_end: str
    queued_at: str
    deadline_time: str
    deadline_hours: float | None
    run_url: str

    @classmethod
    def from_deadline_context(
        cls,
        context: Mapping[str, Any],
        *,
        event: str = LATE,
        deadline_hours: float | None = None,
        base_url: str | None = None,
    ) -> RunNotice:
        """Read the notice from the context Airflow hands a deadline callback.

        That context is ``{"dag_run": <the run as the REST API shows it (JSON)>,
        "deadline": {"id": ..., "deadline_time": ...}}``; missing parts become empty.
        """
        dag_run = context.get("dag_run") or {}
        if not isinstance(dag_run, Mapping):
            dag_run = {k: getattr(dag_run, k, None) for k in _RUN_FIELDS}
        deadline = context.get("deadline") or {}
        dag_id = str(dag_run.get("dag_id") or "")
        run_id = str(dag_run.get("dag_run_id") or dag_run.get("run_id") or "")
        base = _api_base_url() if base_url is None else base_url
        run_url = ""
        if base and dag_id and run_id:
            run_url = f"{base.rstrip('/')}/dags/{quote(dag_id)}/runs/{quote(run_id)}"
        return cls(
            event=event,
            dag_id=dag_id,
            run_id=run_id,
            run_type=_plain(dag_run.get("run_type")),
            state=_plain(dag_run.get("state")),
            data_interval_start=_iso(dag_run.get("data_interval_start")),
            data_interval_end=_iso(dag_run.get("data_interval_end")),
            queued_at=_iso(dag_run.get("queued_at")),
            deadline_time=_iso(deadline.get("deadline_time")),
            deadline_hours=deadline_hours,
            run_url=run_url,
        )

    @property
    def subject(self) -> str:
        after = f" {self.deadline_hours:g} h after it was queued" if self.deadline_hours else ""
        state = f" (state: {self.state})" if self.state else ""
        return f"[reach2revenue] {self.dag_id} is late: not done{after}{state}"

    @property
    def text(self) -> str:
        lines = [
            self.subject,
            f"data interval: {self.data_interval_start} .. {self.data_interval_end}",
            f"run: {self.run_id} ({self.run_type})" if self.run_type else f"run: {self.run_id}",
            f"queued at: {self.queued_at}",
            f"deadline: {self.deadline_time}",
        ]
        if self.run_url:
            lines.append(f"run in the UI: {self.run_url}")
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        """The webhook body: every field, plus ``subject`` and ``text`` for chat tools."""
        return {**asdict(self), "subject": self.subject, "text": self.text}


_RUN_FIELDS = (
    "dag_id",
    "run_id",
    "run_type",
    "state",
    "data_interval_start",
    "data_interval_end",
    "queued_at",
)


def _api_base_url() -> str:
    """Airflow's ``[api] base_url`` (what the UI's links start with), or ``""``."""
    try:
        from airflow.configuration import conf

        return str(conf.get("api", "base_url", fallback="") or "")
    except Exception:
        return ""


def _plain(value: Any) -> str:
    # Enums (DagRunType, DagRunState) as their value; JSON already has plain strings.
    return "" if value is None else str(getattr(value, "value", value))


def _iso(value: Any) -> str:
    if value is None:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- senders


def send_webhook(url: str, body: Mapping[str, Any], token: str = "") -> int:
    """POST ``body`` as JSON to ``url``; returns the HTTP status (raises on 4xx/5xx)."""
    if not url.startswith(("http://", "https://")):
        raise ValueError("the notification webhook URL must start with http:// or https://")
    headers = {"Content-Type": "application/json", "User-Agent": "reach2revenue-notifier"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_SECONDS) as response:
        return int(response.status)


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send mail. The password is read at send time, never stored here."""

    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    user: str = ""
    security: str = "starttls"  # starttls | ssl | none

    def __post_init__(self) -> None:
        if self.security not in ("starttls", "ssl", "none"):
            raise ValueError(f"SMTP security is starttls, ssl or none, not {self.security!r}")
        if not self.recipients:
            raise ValueError("no notification recipients: set R2R_NOTIFY_SMTP_TO")


def send_mail(settings: SmtpSettings, subject: str, text: str, password: str = "") -> None:
    """Send one plain-text message through ``settings``' server."""
    # Long subjects (DAG and task ids) would otherwise be folded right after "Subject:",
    # which some clients show with a leading blank.
    message = EmailMessage(policy=policy.SMTP.clone(max_line_length=200))
    message["Subject"] = subject
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message.set_content(text)
    smtp_type = smtplib.SMTP_SSL if settings.security == "ssl" else smtplib.SMTP
    with smtp_type(settings.host, settings.port, timeout=SEND_TIMEOUT_SECONDS) as client:
        if settings.security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if settings.user:
            client.login(settings.user, password)
        client.send_message(message)


# --------------------------------------------------------------------------- notifiers


class _TaskNotifier(BaseNotifier):
    """Builds a `TaskNotice` from the context and hands it to `deliver`."""

    def __init__(self, event: str = FAILED) -> None:
        super().__init__()
        if event not in EVENTS:
            raise ValueError(f"event is one of {EVENTS!r}, not {event!r}")
        self.event = event

    def notify(self, context: Any) -> None:
        self.deliver(TaskNotice.from_context(context, self.event))

    async def async_notify(self, context: Any) -> None:
        # Deadline alerts run notifiers in the triggerer, which awaits them.
        await asyncio.to_thread(self.notify, context)

    def deliver(self, notice: Notice) -> None:
        """Send ``notice`` through this channel (raises when it cannot)."""
        raise NotImplementedError


class WebhookNotifier(_TaskNotifier):
    """POSTs each notice as JSON to a webhook.

    ``url_env`` / ``token_env`` name the environment variables read at send time, so a
    webhook URL with a secret in its path (Slack's) never sits on the DAG object.
    """

    def __init__(
        self,
        event: str = FAILED,
        *,
        url_env: str = "R2R_NOTIFY_WEBHOOK_URL",
        token_env: str = "R2R_NOTIFY_WEBHOOK_TOKEN",
    ) -> None:
        super().__init__(event)
        self.url_env = url_env
        self.token_env = token_env

    def deliver(self, notice: Notice) -> None:
        send_webhook(os.environ[self.url_env], notice.as_json(), os.environ.get(self.token_env, ""))


class SmtpNotifier(_TaskNotifier):
    """Mails each notice through an SMTP server configured by ``R2R_NOTIFY_SMTP_*``."""

    def __init__(self, event: str = FAILED, *, settings: SmtpSettings) -> None:
        super().__init__(event)
        self.settings = settings

    def deliver(self, notice: Notice) -> None:
        password = os.environ.get("R2R_NOTIFY_SMTP_PASSWORD", "")
        send_mail(self.settings, notice.subject, notice.text, password)


class ConnectionNotifier(_TaskNotifier):
    """Sends through the Airflow connection ``conn_id`` (SMTP or webhook by its type)."""

    def __init__(self, event: str = FAILED, *, conn_id: str = DEFAULT_CONN_ID) -> None:
        super().__init__(event)
        self.conn_id = conn_id

    def deliver(self, notice: Notice) -> None:
        from airflow.sdk import Connection

        conn = Connection.get(self.conn_id)
        extra = conn.extra_dejson or {}
        if (conn.conn_type or "").lower() in ("smtp", "email"):
            recipients = extra.get("to") or []
            if isinstance(recipients, str):
                recipients = recipients.split(",")
            settings = SmtpSettings(
                host=conn.host or "localhost",
                port=int(conn.port or 587),
                sender=str(extra.get("from") or conn.login or "airflow@localhost"),
                recipients=tuple(r.strip() for r in recipients if r.strip()),
                user=conn.login or "",
                security=str(extra.get("security", "starttls")).lower(),
            )
            send_mail(settings, notice.subject, notice.text, conn.password or "")
            return
        url = (conn.host or "").strip()
        if not url.startswith(("http://", "https://")):
            scheme = "http" if (conn.conn_type or "").lower() == "http" else "https"
            port = f":{conn.port}" if conn.port else ""
            path = f"/{conn.schema.lstrip('/')}" if conn.schema else ""
            url = f"{scheme}://{url}{port}{path}"
        send_webhook(url, notice.as_json(), conn.password or "")


# --------------------------------------------------------------------------- factory


def _smtp_settings(environ: Mapping[str, str]) -> SmtpSettings:
    port = int(environ.get("R2R_NOTIFY_SMTP_PORT", "587"))
    return SmtpSettings(
        host=environ["R2R_NOTIFY_SMTP_HOST"],
        port=port,
        sender=environ.get("R2R_NOTIFY_SMTP_FROM", "") or "airflow@localhost",
        recipients=tuple(
            r.strip() for r in environ.get("R2R_NOTIFY_SMTP_TO", "").split(",") if r.strip()
        ),
        user=environ.get("R2R_NOTIFY_SMTP_USER", ""),
        security=environ.get("R2R_NOTIFY_SMTP_SECURITY", "starttls").strip().lower(),
    )


def notifiers(event: str = FAILED, environ: Mapping[str, str] | None = None) -> list[BaseNotifier]:
    """The configured notifiers for ``event`` (empty when nothing is configured).

    Reads only environment variables (cheap, no I/O): the DAG calls this at parse time.

    Raises:
        ValueError: a channel is half configured (e.g. SMTP without recipients), so a
            typo shows up as a DAG import error instead of a silent night.
    """
    env = os.environ if environ is None else environ
    found: list[BaseNotifier] = []
    if env.get("R2R_NOTIFY_WEBHOOK_URL", "").strip():
        found.append(WebhookNotifier(event))
    if env.get("R2R_NOTIFY_SMTP_HOST", "").strip():
        found.append(SmtpNotifier(event, settings=_smtp_settings(env)))
    conn_id = env.get("R2R_NOTIFY_CONN_ID", "").strip()
    if not conn_id and env.get(f"AIRFLOW_CONN_{DEFAULT_CONN_ID.upper()}", "").strip():
        conn_id = DEFAULT_CONN_ID
    if conn_id:
        found.append(ConnectionNotifier(event, conn_id=conn_id))
    return found


def failure_notifiers(environ: Mapping[str, str] | None = None) -> list[BaseNotifier]:
    """Notifiers for ``on_failure_callback``: a task failed for good."""
    return notifiers(FAILED, environ)


def retry_notifiers(environ: Mapping[str, str] | None = None) -> list[BaseNotifier]:
    """Notifiers for ``on_retry_callback`` (none when ``R2R_NOTIFY_ON_RETRY=false``)."""
    env = os.environ if environ is None else environ
    if env.get("R2R_NOTIFY_ON_RETRY", "true").strip().lower() in ("false", "0", "no"):
        return []
    return notifiers(UP_FOR_RETRY, environ)


def send_notice(notice: Notice, environ: Mapping[str, str] | None = None) -> int:
    """Send ``notice`` through every configured channel; returns how many sent it.

    Every channel is tried even when one fails; the first failure is raised afterwards, so
    a broken webhook does not also silence the mail.
    """
    errors: list[Exception] = []
    sent = 0
    for notifier in notifiers(getattr(notice, "event", FAILED), environ):
        try:
            notifier.deliver(notice)  # type: ignore[attr-defined]
            sent += 1
        except Exception as error:
            errors.append(error)
    if errors:
        raise errors[0]
    return sent

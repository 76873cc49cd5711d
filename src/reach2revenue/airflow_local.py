"""A real Airflow on this machine: docker-compose.yml's services run as local processes.

`r2r airflow up` and the scheduler tests start the same commands with the same environment
that docker-compose.yml declares for its Airflow services (one source of truth: the file
is read here), through the same entrypoint (`reach2revenue.deploy_checks`, which refuses
placeholder secrets: the secrets here are generated per Airflow home). Only what cannot be
the same outside a container is replaced: paths (Airflow home, DAGs folder, the pipeline's
home), the metadata DB on the local Postgres, the api-server's address, and the executor
when Celery is asked for (a Redis broker and `airflow celery worker`).

`AirflowClient` is a small client of Airflow's REST API (`/api/v2`), authenticated with a
token from the SimpleAuthManager (`POST /auth/token`). Progress is always read from the
API (run and task instance states), never from log text.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from base64 import urlsafe_b64encode
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

import requests
import yaml

from reach2revenue.settings import REPO_ROOT, Settings

DAG_ID = "marketing_sales_nightly"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
# The writer tasks of the DAG share this pool (one DuckDB writer at a time).
WAREHOUSE_POOL = "r2r_warehouse"
DEFAULT_USER = "admin"
DEFAULT_PORT = 8080
DEFAULT_METADATA_DB = "postgresql+psycopg2://postgres@127.0.0.1:5432/r2r_airflow"
DEFAULT_BROKER = "redis://127.0.0.1:6379/5"
FINISHED_RUN_STATES = frozenset({"success", "failed"})
FINISHED_TASK_STATES = frozenset(
    {"success", "failed", "skipped", "upstream_failed", "removed", "up_for_retry"}
)
# Compose services started natively, in start order (the api-server first: tasks need its
# execution API). The one-shot init (`airflow db migrate`) runs before them.
INIT_SERVICE = "airflow-init"
SERVICES = ("airflow-api-server", "airflow-dag-processor", "airflow-scheduler", "airflow-triggerer")
CELERY_WORKER = "airflow-celery-worker"

Executor = Literal["local", "celery"]


class AirflowUnreachable(RuntimeError):
    """No Airflow answers at the URL (not started, wrong port, or not healthy yet)."""


class AirflowApiError(RuntimeError):
    """Airflow answered with an error status."""

    def __init__(self, method: str, path: str, status: int, detail: str) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {detail[:500]}")
        self.status = status
        self.detail = detail


# ----------------------------------------------------------------- docker-compose.yml

_VARIABLE = re.compile(r"\$\$|\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}")


def interpolate(text: str, values: Mapping[str, str]) -> str:
    """Compose's variable substitution: ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}``."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.groups()
        value = values.get(name)
        if (
            operator
            and operator.endswith("-")
            and (value is None or (":" in operator and not value))
        ):
            return argument
        if operator and operator.endswith("?") and not value:
            raise KeyError(f"compose would stop: {name}: {argument}")
        return value or ""

    return _VARIABLE.sub(substitute, text)


def compose_services(path: Path = COMPOSE_FILE) -> dict[str, dict[str, Any]]:
    """The services of a compose file (YAML anchors and merges resolved)."""
    return yaml.safe_load(path.read_text())["services"]


def compose_command(service: str, path: Path = COMPOSE_FILE) -> list[str]:
    """The command compose runs for ``service``."""
    return [str(part) for part in compose_services(path)[service]["command"]]


def compose_environment(
    service: str, values: Mapping[str, str], path: Path = COMPOSE_FILE
) -> dict[str, str]:
    """The environment compose gives ``service`` with ``values`` as its .env."""
    environment = compose_services(path)[service].get("environment") or {}
    return {key: interpolate(str(value), values) for key, value in environment.items()}


# ----------------------------------------------------------------------- the stack


@dataclass
class LocalAirflowConfig:
    """What a local stack needs beyond docker-compose.yml.

    Attributes:
        airflow_home: Airflow home (config, task logs, generated secrets, process logs).
        settings: The pipeline's settings (its home, warehouse and published paths).
        connections: Airflow connections by id (``<source>_default``), as JSON definitions.
        metadata_db: SQLAlchemy URL of the Postgres metadata DB (created if missing).
        executor: ``local`` (compose's LocalExecutor) or ``celery`` (Redis broker, one worker).
        port: The api-server's port on 127.0.0.1.
        broker_url: Celery's broker (a Redis database of its own).
        parallelism: Task slots (compose's value when None).
        extra_env: Anything else (tests: faster scheduler loops).
    """

    airflow_home: Path
    settings: Settings
    connections: Mapping[str, Mapping[str, object]]
    metadata_db: str = DEFAULT_METADATA_DB
    executor: Executor = "local"
    port: int = DEFAULT_PORT
    broker_url: str = DEFAULT_BROKER
    parallelism: int | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def secrets_path(self) -> Path:
        return self.airflow_home / "secrets" / "stack.json"

    @property
    def user_passwords_path(self) -> Path:
        return self.airflow_home / "secrets" / "airflow_user_passwords.json"

    @property
    def process_log_dir(self) -> Path:
        return self.airflow_home / "process-logs"

    @property
    def task_log_dir(self) -> Path:
        return self.airflow_home / "logs"

    @property
    def state_path(self) -> Path:
        """Where `r2r airflow up` says which Airflow runs (read by `r2r run`, `status`...)."""
        return self.airflow_home / "r2r-airflow.json"


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def stack_secrets(config: LocalAirflowConfig) -> dict[str, str]:
    """The secrets of this Airflow home: generated once (mode 0600), then kept.

    Kept so that a restarted stack decrypts its connections (Fernet) and the admin's
    password stays the same; the email hash key is the pipeline home's own key.
    """
    from reach2revenue.email_hash import resolve_email_hash_key

    path = config.secrets_path
    if path.exists():
        return json.loads(path.read_text())
    values = {
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
        "AIRFLOW_FERNET_KEY": urlsafe_b64encode(os.urandom(32)).decode(),
        "AIRFLOW_JWT_SECRET": secrets.token_urlsafe(48),
        "AIRFLOW_API_SECRET_KEY": secrets.token_urlsafe(48),
        "ADMIN_PASSWORD": secrets.token_urlsafe(18),
    }
    values["R2R_EMAIL_HASH_KEY"] = resolve_email_hash_key(config.settings, environ={}).secret
    _write_private(path, json.dumps(values, indent=1) + "\n")
    return values


def _with_password(url: str, password: str) -> str:
    """The URL with ``password`` (a trust-auth local server ignores it; deploy_checks wants one)."""
    parts = urlsplit(url)
    if parts.password:
        return url
    user = parts.username or "postgres"
    host = parts.hostname or "127.0.0.1"
    netloc = f"{user}:{quote(password, safe='')}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def stack_environment(
    config: LocalAirflowConfig, service: str, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of one service: compose's, with the local replacements."""
    values = stack_secrets(config)
    compose_values = dict(values)
    compose_values["AIRFLOW_USERS"] = f"{DEFAULT_USER}:admin"
    compose_values["AIRFLOW_BASE_URL"] = config.base_url
    for conn_id, definition in config.connections.items():
        compose_values[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(definition)
    compose_service = service if service != CELERY_WORKER else "airflow-scheduler"
    env = dict(os.environ if base is None else base)
    # Ours first, so a stray AIRFLOW__* of the calling shell cannot leak into the stack.
    env = {k: v for k, v in env.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_"))}
    env.update(compose_environment(compose_service, compose_values))
    settings_env = config.settings.to_env()
    env.update(
        {
            "AIRFLOW_HOME": str(config.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{config.base_url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(
                config.airflow_home / "simple_auth_manager_passwords.json"
            ),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": _with_password(
                config.metadata_db, values["POSTGRES_PASSWORD"]
            ),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(config.task_log_dir),
            # The log servers of workers and triggerer: ports of this stack, so that two
            # stacks (two homes) can run side by side.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(config.port + 1),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(config.port + 2),
            "AIRFLOW__OPENLINEAGE__DISABLED": "True",
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            "R2R_AIRFLOW_PASSWORDS_SECRET": str(config.user_passwords_path),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
            **settings_env,
        }
    )
    if config.parallelism is not None:
        env["AIRFLOW__CORE__PARALLELISM"] = str(config.parallelism)
    if config.executor == "celery":
        env["AIRFLOW__CORE__EXECUTOR"] = "CeleryExecutor"
        env["AIRFLOW__CELERY__BROKER_URL"] = config.broker_url
        # Results in the metadata DB (Postgres), as Airflow's official compose does.
        # The driver stays explicit: SQLAlchemy 2.1's default Postgres driver is psycopg 3.
        env["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] = env.get("AIRFLOW__CORE__PARALLELISM", "8")
    env.update(config.extra_env)
    return env


def service_command(config: LocalAirflowConfig, service: str) -> list[str]:
    """The command of ``service`` behind the image's entrypoint, as compose runs it."""
    if service == CELERY_WORKER:
        command = ["airflow", "celery", "worker"]
    else:
        command = compose_command(service)
    if command[:2] == ["airflow", "api-server"] and "--port" in command:
        command[command.index("--port") + 1] = str(config.port)
        command += ["--host", "127.0.0.1"]
    return [sys.executable, "-m", "reach2revenue.deploy_checks", "--", *command]


def ensure_database(url: str) -> bool:
    """Create the Postgres database of ``url`` if missing; True if it was created."""
    import psycopg2

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = psycopg2.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        dbname="postgres",
    )
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute("select 1 from pg_database where datname = %s", (name,))
            if cursor.fetchone():
                return False
            cursor.execute(f'create database "{name}"')
            return True
    finally:
        admin.close()


@dataclass
class LocalAirflow:
    """Airflow's services as processes of this machine; `stop()` ends every one of them."""

    config: LocalAirflowConfig
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def services(self) -> tuple[str, ...]:
        return (*SERVICES, CELERY_WORKER) if self.config.executor == "celery" else SERVICES

    def password(self) -> str:
        return stack_secrets(self.config)["ADMIN_PASSWORD"]

    def client(self) -> AirflowClient:
        return AirflowClient(self.config.base_url, DEFAULT_USER, self.password())

    def migrate(self) -> float:
        """The compose init service: `airflow db migrate` behind the entrypoint."""
        started = time.perf_counter()
        ensure_database(self.config.metadata_db)
        self.config.process_log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.config.process_log_dir / f"{INIT_SERVICE}.log"
        with log_path.open("wb") as log:
            completed = subprocess.run(
                service_command(self.config, INIT_SERVICE),
                env=stack_environment(self.config, INIT_SERVICE),
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if completed.returncode != 0:
            tail = log_path.read_text(errors="replace")[-4000:]
            raise RuntimeError(f"{INIT_SERVICE} failed ({completed.returncode}):\n{tail}")
        self.timings["migrate"] = time.perf_counter() - started
        return self.timings["migrate"]

    def start(self, *, timeout: float = 180.0) -> None:
        """Migrate, start every service, wait until all report healthy."""
        began = time.perf_counter()
        self.config.airflow_home.mkdir(parents=True, exist_ok=True)
        secrets_now = stack_secrets(self.config)
        _write_private(
            self.config.user_passwords_path,
            json.dumps({DEFAULT_USER: secrets_now["ADMIN_PASSWORD"]}) + "\n",
        )
        self.migrate()
        for service in self.services:
            log = (self.config.process_log_dir / f"{service}.log").open("ab")
            # A session of its own: stop() signals the service and every child it forked
            # (LocalExecutor workers, task processes), and nothing else.
            self.processes[service] = subprocess.Popen(
                service_command(self.config, service),
                env=stack_environment(self.config, service),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.config.airflow_home,
                start_new_session=True,
            )
            log.close()
        try:
            self.wait_healthy(timeout=timeout)
        except BaseException:
            self.stop()
            raise
        self.timings["start"] = time.perf_counter() - began
        self.client().ensure_pool(WAREHOUSE_POOL, 1, "one DuckDB writer at a time")
        self.write_state()

    def wait_healthy(self, *, timeout: float = 180.0) -> dict[str, Any]:
        """Wait until the metadata DB, scheduler, dag-processor and triggerer are healthy."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            for service, process in self.processes.items():
                if process.poll() is not None:
                    tail = self.process_log_tail(service)
                    raise RuntimeError(f"{service} exited with {process.returncode}:\n{tail}")
            try:
                last = AirflowClient(self.config.base_url, "", "").health()
            except (AirflowUnreachable, AirflowApiError) as error:
                last = str(error)
            else:
                wanted = ("metadatabase", "scheduler", "dag_processor", "triggerer")
                if all((last.get(part) or {}).get("status") == "healthy" for part in wanted):
                    return last
            time.sleep(1.0)
        raise TimeoutError(f"Airflow not healthy after {timeout:.0f}s: {last}")

    def process_log_tail(self, service: str, lines: int = 60) -> str:
        path = self.config.process_log_dir / f"{service}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def write_state(self) -> Path:
        """Tell the other commands (`r2r run`, `status`...) where this Airflow is."""
        state = {
            "url": self.config.base_url,
            "username": DEFAULT_USER,
            "password_file": str(self.config.user_passwords_path),
            "executor": self.config.executor,
            "airflow_home": str(self.config.airflow_home),
            "task_logs": str(self.config.task_log_dir),
            "process_logs": str(self.config.process_log_dir),
            "published_path": str(self.config.settings.published_path),
            "pids": {name: process.pid for name, process in self.processes.items()},
        }
        self.config.state_path.write_text(json.dumps(state, indent=1) + "\n")
        return self.config.state_path

    def stop(self, *, grace: float = 20.0) -> None:
        """SIGTERM every service's process group, then SIGKILL what is left after ``grace``."""
        for process in self.processes.values():
            if process.poll() is None:
                _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.processes.values():
            remaining = max(0.1, deadline - time.monotonic())
            try:
                process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(timeout=10)
        # Children of a service that outlived it (a task process) go with their group.
        for process in self.processes.values():
            _signal_group(process, signal.SIGKILL)
        self.processes.clear()
        self.config.state_path.unlink(missing_ok=True)


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


@contextmanager
def running_airflow(
    config: LocalAirflowConfig, *, timeout: float = 180.0
) -> Iterator[LocalAirflow]:
    """Start a local stack, yield it, always stop it."""
    stack = LocalAirflow(config)
    stack.start(timeout=timeout)
    try:
        yield stack
    finally:
        stack.stop()


# --------------------------------------------------------------------- REST client


def _iso(value: datetime | date) -> str:
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(value: str | None) -> datetime | None:
    """An API timestamp as an aware datetime (None stays None)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


@dataclass
class AirflowClient:
    """Airflow's REST API with a SimpleAuthManager (or any JWT) token."""

    base_url: str
    username: str
    password: str
    timeout: float = 30.0
    _token: str | None = field(default=None, repr=False)
    _session: requests.Session = field(default_factory=requests.Session, repr=False)

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            return self._session.request(
                method, self.base_url.rstrip("/") + path, timeout=self.timeout, **kwargs
            )
        except requests.ConnectionError as error:
            raise AirflowUnreachable(f"no Airflow at {self.base_url}: {error}") from None
        except requests.Timeout:
            raise AirflowUnreachable(f"Airflow at {self.base_url} did not answer") from None

    def token(self) -> str:
        """A JWT for the API (`POST /auth/token`)."""
        response = self._send(
            "POST", "/auth/token", json={"username": self.username, "password": self.password}
        )
        if response.status_code >= 400:
            raise AirflowApiError("POST", "/auth/token", response.status_code, response.text)
        self._token = response.json()["access_token"]
        return self._token

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call; a 401 gets a new token once. Returns the JSON body (or text)."""
        for attempt in range(2):
            if self._token is None:
                self.token()
            headers = {"Authorization": f"Bearer {self._token}", **kwargs.pop("headers", {})}
            response = self._send(method, path, headers=headers, **kwargs)
            if response.status_code == 401 and attempt == 0:
                self._token = None
                continue
            if response.status_code >= 400:
                raise AirflowApiError(method, path, response.status_code, response.text)
            if not response.content:
                return None
            if "json" in response.headers.get("content-type", ""):
                return response.json()
            return response.text
        raise AssertionError("not reached")

    # -- endpoints

    def health(self) -> dict[str, Any]:
        """`GET /api/v2/monitor/health` (no token needed)."""
        response = self._send("GET", "/api/v2/monitor/health")
        if response.status_code >= 400:
            raise AirflowApiError("GET", "/monitor/health", response.status_code, response.text)
        return response.json()

    def dag(self, dag_id: str = DAG_ID) -> dict[str, Any]:
        return self.request("GET", f"/api/v2/dags/{dag_id}")

    def wait_for_dag(self, dag_id: str = DAG_ID, *, timeout: float = 120.0) -> dict[str, Any]:
        """Wait until the dag-processor has parsed and serialised ``dag_id``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.dag(dag_id)
            except AirflowApiError as error:
                if error.status != 404 or time.monotonic() > deadline:
                    raise
            time.sleep(1.0)

    def set_paused(self, paused: bool, dag_id: str = DAG_ID) -> dict[str, Any]:
        return self.request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": paused})

    def ensure_pool(self, name: str, slots: int, description: str = "") -> dict[str, Any]:
        """Create pool ``name`` with ``slots`` if it does not exist (an existing one is kept)."""
        try:
            return self.request("GET", f"/api/v2/pools/{name}")
        except AirflowApiError as error:
            if error.status != 404:
                raise
        return self.request(
            "POST",
            "/api/v2/pools",
            json={"name": name, "slots": slots, "description": description},
        )

    def dag_runs(self, dag_id: str = DAG_ID, **params: Any) -> list[dict[str, Any]]:
        params.setdefault("order_by", "-run_after")
        params.setdefault("limit", 100)
        body = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns", params=params)
        return list(body["dag_runs"])

    def dag_run(self, run_id: str, dag_id: str = DAG_ID) -> dict[str, Any]:
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")

    def run_for_day(self, day: date, dag_id: str = DAG_ID) -> dict[str, Any] | None:
        """The run whose logical date is ``day`` 00:00 UTC (one at most per DAG), or None."""
        start = _iso(day)
        runs = self.dag_runs(dag_id, logical_date_gte=start, logical_date_lte=start)
        return runs[0] if runs else None

    def trigger_day(self, day: date, dag_id: str = DAG_ID) -> dict[str, Any]:
        """A manual run loading the day ``[day, day + 1)`` (its data interval)."""
        return self.request(
            "POST",
            f"/api/v2/dags/{dag_id}/dagRuns",
            json={
                "logical_date": _iso(day),
                "data_interval_start": _iso(day),
                "data_interval_end": _iso(day + timedelta(days=1)),
                "conf": {},
            },
        )

    def clear_run(self, run_id: str, dag_id: str = DAG_ID) -> Any:
        """Clear every task of a finished run: the scheduler runs it again."""
        return self.request(
            "POST",
            f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/clear",
            json={"dry_run": False, "only_failed": False},
        )

    def task_instances(self, run_id: str, dag_id: str = DAG_ID) -> list[dict[str, Any]]:
        body = self.request(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances",
            params={"limit": 100},
        )
        return list(body["task_instances"])

    def task_log(self, run_id: str, task_id: str, try_number: int = 1, dag_id: str = DAG_ID) -> str:
        """The task's log as the api-server serves it, one line per structured event."""
        body = self.request(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/"
            f"{task_id}/logs/{try_number}",
            params={"full_content": "true"},
            headers={"Accept": "application/json"},
        )
        lines = []
        for entry in body.get("content") or []:
            if isinstance(entry, dict):
                lines.append(" ".join(str(entry.get(k, "")) for k in ("timestamp", "event")))
            else:
                lines.append(str(entry))
        return "\n".join(lines)

    def xcom(
        self, run_id: str, task_id: str, key: str = "return_value", dag_id: str = DAG_ID
    ) -> Any:
        """A task's XCom value (the return value by default), deserialised."""
        body = self.request(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/"
            f"{task_id}/xcomEntries/{key}",
            params={"deserialize": "true", "stringify": "false"},
        )
        return body.get("value")

    def create_backfill(
        self,
        first_day: date,
        last_day: date,
        *,
        reprocess: str = "completed",
        max_active_runs: int = 1,
        dag_id: str = DAG_ID,
    ) -> dict[str, Any]:
        """One run per day (data interval) from ``first_day`` to ``last_day``, both included."""
        return self.request(
            "POST",
            "/api/v2/backfills",
            json={
                "dag_id": dag_id,
                "from_date": _iso(first_day),
                "to_date": _iso(last_day),
                "reprocess_behavior": reprocess,
                "max_active_runs": max_active_runs,
                "run_backwards": False,
            },
        )

    def backfill(self, backfill_id: int) -> dict[str, Any]:
        return self.request("GET", f"/api/v2/backfills/{backfill_id}")

    def backfill_runs(self, backfill: Mapping[str, Any], dag_id: str = DAG_ID) -> list[dict]:
        """The backfill's runs (by their logical dates), oldest first."""
        runs = self.dag_runs(
            dag_id,
            run_type="backfill",
            logical_date_gte=backfill["from_date"],
            logical_date_lte=backfill["to_date"],
            order_by="logical_date",
        )
        return runs

    # -- following work

    def wait_for_run(
        self,
        run_id: str,
        *,
        dag_id: str = DAG_ID,
        timeout: float = 1800.0,
        poll: float = 2.0,
        on_task: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll a run until it finishes; ``on_task`` gets each task instance whose state changed."""
        deadline = time.monotonic() + timeout
        seen: dict[str, str | None] = {}
        while True:
            if on_task is not None:
                for instance in self.task_instances(run_id, dag_id):
                    if seen.get(instance["task_id"], "?") != instance["state"]:
                        seen[instance["task_id"]] = instance["state"]
                        on_task(instance)
            run = self.dag_run(run_id, dag_id)
            if run["state"] in FINISHED_RUN_STATES:
                if on_task is not None:
                    for instance in self.task_instances(run_id, dag_id):
                        if seen.get(instance["task_id"], "?") != instance["state"]:
                            on_task(instance)
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} still {run['state']} after {timeout:.0f}s")
            time.sleep(poll)

    def wait_for_backfill(
        self,
        backfill_id: int,
        *,
        timeout: float = 3600.0,
        poll: float = 3.0,
        on_run: Callable[[dict[str, Any]], None] | None = None,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Poll a backfill until Airflow marks it completed; returns it and its runs."""
        deadline = time.monotonic() + timeout
        seen: dict[str, str] = {}
        while True:
            backfill = self.backfill(backfill_id)
            runs = self.backfill_runs(backfill, backfill["dag_id"])
            for run in runs:
                if seen.get(run["dag_run_id"]) != run["state"]:
                    seen[run["dag_run_id"]] = run["state"]
                    if on_run is not None:
                        on_run(run)
            if backfill["completed_at"] and all(r["state"] in FINISHED_RUN_STATES for r in runs):
                return backfill, runs
            if time.monotonic() > deadline:
                raise TimeoutError(f"backfill {backfill_id} not completed after {timeout:.0f}s")
            time.sleep(poll)


def run_timing(client: AirflowClient, run: Mapping[str, Any]) -> dict[str, float]:
    """How long a finished run took, and how much of it was Airflow's own overhead.

    ``wall``: queued (the schedule's tick created it) to the run's end; ``tasks_sum``: the
    sum of task durations; ``critical_path``: the longest extract plus the tasks after it
    (what the run would take with no scheduling gaps); ``overhead``: wall minus that.
    """
    instances = client.task_instances(run["dag_run_id"], run["dag_id"])
    durations = {ti["task_id"]: float(ti.get("duration") or 0.0) for ti in instances}
    extracts = [d for task, d in durations.items() if task.startswith("extract_")]
    serial = sum(d for task, d in durations.items() if not task.startswith("extract_"))
    critical = (max(extracts) if extracts else 0.0) + serial
    queued = parse_time(run.get("queued_at")) or parse_time(run.get("start_date"))
    ended = parse_time(run.get("end_date"))
    wall = (ended - queued).total_seconds() if queued and ended else 0.0
    return {
        "wall": round(wall, 1),
        "tasks_sum": round(sum(durations.values()), 1),
        "critical_path": round(critical, 1),
        "overhead": round(wall - critical, 1),
    }

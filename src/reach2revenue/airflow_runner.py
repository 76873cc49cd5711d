"""Run the project's DAGs through a real Airflow on embedded defaults.

Used by `r2r demo` and the end-to-end tests: SQLite metadata under an Airflow home of our
own, the repo's `dags/` folder, connections passed as `AIRFLOW_CONN_*` environment
variables (never written to disk), and `airflow dags test` as a subprocess so that every
run gets a fresh interpreter like a real worker.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reach2revenue.settings import REPO_ROOT, Settings

DAG_ID = "marketing_sales_nightly"
_TASK_EVENT = re.compile(r"\[DAG TEST\] (?P<event>starting|end task) task_id=(?P<task>\S+)")
_TASK_STATE = re.compile(r"new_state=(?P<state>\w+)")


def airflow_bin() -> str:
    """The `airflow` executable of the running interpreter's environment."""
    return str(Path(sys.executable).parent / "airflow")


def airflow_environment(
    airflow_home: Path,
    settings: Settings,
    connections: Mapping[str, Mapping[str, object]],
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Environment for an Airflow subprocess: quiet, offline, SQLite, our paths."""
    env = dict(os.environ if base is None else base)
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__OPENLINEAGE__DISABLED": "True",
            # Task events are read from the pipe as they happen, not when a buffer fills.
            "PYTHONUNBUFFERED": "1",
            "GX_ANALYTICS_ENABLED": "False",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
            "DO_NOT_TRACK": "1",
        }
    )
    env.update(settings.to_env())
    for conn_id, definition in connections.items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(definition)
    return env


def ensure_metadata_db(env: Mapping[str, str]) -> float:
    """`airflow db migrate` once per Airflow home; returns the seconds it took (0 if done)."""
    home = Path(env["AIRFLOW_HOME"])
    stamp = home / ".r2r-migrated"
    if stamp.exists() and (home / "airflow.db").exists():
        return 0.0
    home.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    completed = subprocess.run(
        [airflow_bin(), "db", "migrate"],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{completed.stderr[-4000:]}")
    stamp.write_text("ok\n")
    return time.perf_counter() - started


@dataclass
class DagRunResult:
    """Outcome of one `airflow dags test` run."""

    returncode: int
    seconds: float
    log_path: Path
    task_states: dict[str, str] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.returncode == 0

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def run_dag_test(
    env: Mapping[str, str],
    logical_date: str,
    *,
    log_path: Path,
    conf: Mapping[str, object] | None = None,
    on_event: Callable[[str, str], None] | None = None,
    dag_id: str = DAG_ID,
) -> DagRunResult:
    """Run one DAG run with `airflow dags test`, streaming task events to `on_event`.

    The full Airflow log goes to `log_path`; `on_event(task_id, state)` is called when a
    task starts ("running") and ends (its final state).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [airflow_bin(), "dags", "test", dag_id, logical_date]
    if conf:
        command += ["--conf", json.dumps(conf)]
    started = time.perf_counter()
    states: dict[str, str] = {}
    last_state = ""
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            command,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        assert process.stdout is not None
        for line in process.stdout:
            log_file.write(line)
            state_match = _TASK_STATE.search(line)
            if state_match:
                last_state = state_match.group("state")
            event = _TASK_EVENT.search(line)
            if not event:
                continue
            task = event.group("task")
            if event.group("event") == "starting":
                states[task] = "running"
                last_state = ""
            else:
                states[task] = last_state or "success"
            if on_event:
                on_event(task, states[task])
        returncode = process.wait()
    return DagRunResult(returncode, time.perf_counter() - started, log_path, states)

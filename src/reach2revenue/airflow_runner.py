"""Run the project's DAGs through a real Airflow on embedded defaults.

Used by `r2r demo` and the end-to-end tests: SQLite metadata under an Airflow home of our
own, the repo's `dags/` folder, connections passed as `AIRFLOW_CONN_*` environment
variables (never written to disk), and `airflow dags test` as a subprocess so that every
run gets a fresh interpreter like a real worker.

Progress is read from Airflow's metadata DB (the `dag_run` and `task_instance` rows the
run writes), polled while the subprocess runs: never from log text, whose wording changes
between Airflow releases. A scheduled Airflow (scheduler, api-server, workers) is
`reach2revenue.airflow_local`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reach2revenue.settings import REPO_ROOT, Settings

DAG_ID = "marketing_sales_nightly"
# Task states after which a task instance does nothing more in this run.
_FINISHED = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})


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


def metadata_db_url(env: Mapping[str, str]) -> str:
    """SQLAlchemy URL of the metadata DB the Airflow of ``env`` uses."""
    url = env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    return url or f"sqlite:///{Path(env['AIRFLOW_HOME']) / 'airflow.db'}"


class RunStates:
    """Reads one DAG's runs and task instances from the metadata DB (read-only queries)."""

    def __init__(self, env: Mapping[str, str], dag_id: str = DAG_ID) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        self.dag_id = dag_id
        # No pool: each poll opens and closes its connection, so SQLite is never held
        # open (locked) between polls while Airflow writes to it.
        self.engine = create_engine(metadata_db_url(env), poolclass=NullPool)

    def run_ids(self) -> set[str]:
        """The run_ids of the DAG's runs now in the metadata DB."""
        from sqlalchemy import text

        with self.engine.connect() as con:
            rows = con.execute(
                text("select run_id from dag_run where dag_id = :dag"), {"dag": self.dag_id}
            ).fetchall()
        return {str(run_id) for (run_id,) in rows}

    def new_run(self, known: set[str], logical_day: str) -> str | None:
        """The run_id of a run for ``logical_day`` that is not one of ``known``.

        By run_id, not by row id: `dags test` deletes an earlier run of the same logical
        date, and SQLite then hands the new row the id the deleted one had.
        """
        from sqlalchemy import text

        with self.engine.connect() as con:
            rows = con.execute(
                text("select run_id, logical_date from dag_run where dag_id = :dag order by id"),
                {"dag": self.dag_id},
            ).fetchall()
        for run_id, logical_date in rows:
            if str(run_id) not in known and str(logical_date)[:10] == logical_day[:10]:
                return str(run_id)
        return None

    def task_states(self, run_id: str) -> dict[str, str]:
        """``{task_id: state}`` of the run (tasks not yet scheduled have no state)."""
        from sqlalchemy import text

        with self.engine.connect() as con:
            rows = con.execute(
                text(
                    "select task_id, state from task_instance "
                    "where dag_id = :dag and run_id = :run and map_index = -1"
                ),
                {"dag": self.dag_id, "run": run_id},
            ).fetchall()
        return {str(task): str(state) for task, state in rows if state}

    def dispose(self) -> None:
        self.engine.dispose()


def run_dag_test(
    env: Mapping[str, str],
    logical_date: str,
    *,
    log_path: Path,
    conf: Mapping[str, object] | None = None,
    on_event: Callable[[str, str], None] | None = None,
    dag_id: str = DAG_ID,
    poll_seconds: float = 0.5,
) -> DagRunResult:
    """Run one DAG run with `airflow dags test`, reporting task states to `on_event`.

    Airflow's output goes to `log_path`, unread. The run's task states are polled from
    the metadata DB: `on_event(task_id, state)` is called when a task starts ("running")
    and when it ends (its final state); `task_states` holds every task's final state.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [airflow_bin(), "dags", "test", dag_id, logical_date]
    if conf:
        command += ["--conf", json.dumps(conf)]
    states_db = RunStates(env, dag_id)
    before = states_db.run_ids()
    started = time.perf_counter()
    reported: dict[str, str] = {}
    run_id: str | None = None

    def report(states: Mapping[str, str]) -> None:
        for task, state in sorted(states.items()):
            if state == reported.get(task):
                continue
            if state == "running" or state in _FINISHED:
                if state in _FINISHED and task not in reported and on_event:
                    # Finished between two polls: it still started.
                    on_event(task, "running")
                reported[task] = state
                if on_event:
                    on_event(task, state)

    try:
        with log_path.open("w") as log_file:
            process = subprocess.Popen(
                command, env=dict(env), stdout=log_file, stderr=subprocess.STDOUT, text=True
            )
            while process.poll() is None:
                time.sleep(poll_seconds)
                try:
                    run_id = run_id or states_db.new_run(before, logical_date)
                    if run_id:
                        report(states_db.task_states(run_id))
                except Exception:  # a busy SQLite or a half-written run: the next poll reads it
                    continue
            returncode = process.wait()
        run_id = run_id or states_db.new_run(before, logical_date)
        final = states_db.task_states(run_id) if run_id else {}
        report(final)
    finally:
        states_db.dispose()
    return DagRunResult(returncode, time.perf_counter() - started, log_path, final)

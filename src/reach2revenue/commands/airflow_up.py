"""`r2r airflow up`: a local Airflow with its UI on the project's config, until Ctrl-C.

The services of docker-compose.yml (api-server, scheduler, dag-processor, triggerer, and a
Celery worker with `--executor celery`) run as processes of this machine with compose's
environment (`reach2revenue.airflow_local`), on a Postgres metadata DB, the nightly DAG
unpaused.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import threading
from pathlib import Path
from typing import Any

from reach2revenue.airflow_local import (
    DAG_ID,
    DEFAULT_BROKER,
    DEFAULT_METADATA_DB,
    DEFAULT_PORT,
    DEFAULT_USER,
    LocalAirflow,
    LocalAirflowConfig,
)
from reach2revenue.commands import EXIT_CODES_HELP, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE
from reach2revenue.commands._airflow import default_airflow_home
from reach2revenue.settings import Settings

EXAMPLES = f"""examples:
  r2r generate --out var/world --start 2026-11-01 --days 30
  r2r airflow up --world var/world                 stand-ins serve that world
  r2r airflow up --executor celery --world var/world
  r2r airflow up                                   real platforms: AIRFLOW_CONN_<SOURCE>_DEFAULT

Needs PostgreSQL on 127.0.0.1:5432 (its database is created when missing) and, for
Celery, Redis on 127.0.0.1:6379. Ctrl-C (or SIGTERM) stops every process it started.
{EXIT_CODES_HELP}"""


def add_parser(commands: Any) -> argparse.ArgumentParser:
    airflow = commands.add_parser(
        "airflow",
        help="run a local Airflow (scheduler, UI, workers) on the project's config",
        description="Local Airflow, as docker-compose.yml runs it, without Docker.",
    )
    actions = airflow.add_subparsers(dest="airflow_command", required=True)
    parser = actions.add_parser(
        "up",
        help="start Airflow's services with the UI and the DAG unpaused, until Ctrl-C",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--home",
        type=Path,
        default=None,
        help="Airflow home: config, task logs, secrets (default: $R2R_HOME/airflow)",
    )
    parser.add_argument(
        "--executor",
        choices=("local", "celery"),
        default="local",
        help="LocalExecutor, or CeleryExecutor with one worker on Redis (default: %(default)s)",
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="UI and API port (default: %(default)s)"
    )
    parser.add_argument(
        "--metadata-db",
        default=os.environ.get("R2R_AIRFLOW_METADATA_DB", DEFAULT_METADATA_DB),
        help="Postgres URL of Airflow's metadata DB (default: $R2R_AIRFLOW_METADATA_DB, "
        "else %(default)s)",
    )
    parser.add_argument(
        "--broker",
        default=os.environ.get("R2R_CELERY_BROKER", DEFAULT_BROKER),
        help="Celery broker (default: $R2R_CELERY_BROKER, else %(default)s)",
    )
    parser.add_argument(
        "--parallelism",
        type=int,
        default=None,
        help="task slots (default: docker-compose.yml's AIRFLOW__CORE__PARALLELISM)",
    )
    parser.add_argument(
        "--world",
        type=Path,
        default=None,
        help="serve this saved world (`r2r generate`) with the stand-ins and point every "
        "connection at them (default: connections from AIRFLOW_CONN_* variables)",
    )
    return parser


def _connections_from_environment() -> tuple[dict[str, Any], list[str]]:
    from reach2revenue.sources import SOURCE_NAMES

    connections: dict[str, Any] = {}
    missing = []
    for name in SOURCE_NAMES:
        value = os.environ.get(f"AIRFLOW_CONN_{name.upper()}_DEFAULT")
        if not value:
            missing.append(f"AIRFLOW_CONN_{name.upper()}_DEFAULT")
            continue
        connections[f"{name}_default"] = json.loads(value) if value.startswith("{") else value
    return connections, missing


def run(args: argparse.Namespace, *, out: Any = print) -> int:
    settings = Settings.from_env()
    home = (args.home or default_airflow_home()).resolve()
    with contextlib.ExitStack() as stack:
        if args.world is not None:
            from reach2revenue.sandbox.standins import start_standins
            from reach2revenue.sandbox.world import World

            if not args.world.is_dir():
                out(f"error: no saved world at {args.world} (make one with `r2r generate`)")
                return EXIT_USAGE
            world = World.load(args.world)
            world.write_fx_overrides(settings.fx_rate_overrides_path)
            token = secrets.token_urlsafe(24)
            servers = stack.enter_context(start_standins(world, token=token))
            connections: dict[str, Any] = servers.connections(token)
            out(f"stand-ins: {', '.join(f'{n} {s.url}' for n, s in servers.servers.items())}")
        else:
            connections, missing = _connections_from_environment()
            if missing:
                out(f"error: no connection for {', '.join(missing)} (or use --world)")
                return EXIT_USAGE
        config = LocalAirflowConfig(
            airflow_home=home,
            settings=settings,
            connections=connections,
            metadata_db=args.metadata_db,
            executor=args.executor,
            port=args.port,
            broker_url=args.broker,
            parallelism=args.parallelism,
        )
        airflow = LocalAirflow(config)
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        out(f"starting Airflow ({args.executor} executor) in {home} ...")
        try:
            airflow.start()
        except (RuntimeError, TimeoutError) as error:
            out(f"error: Airflow did not start: {error}")
            out(f"process logs: {config.process_log_dir}")
            return EXIT_UNREACHABLE
        try:
            client = airflow.client()
            client.wait_for_dag(DAG_ID)
            client.set_paused(False, DAG_ID)
            out(f"Airflow UI: {config.base_url}/dags/{DAG_ID}/grid")
            out(f"login: {DEFAULT_USER}, password in {config.user_passwords_path} (mode 0600)")
            out(f"DAG {DAG_ID}: unpaused (schedule @daily, UTC)")
            out(f"task logs: {config.task_log_dir} (and in the UI)")
            out(f"process logs: {config.process_log_dir}")
            out(f"published warehouse: {settings.published_path}")
            out("ready; Ctrl-C stops every process")
            while not stop.wait(2.0):
                for name, process in airflow.processes.items():
                    if process.poll() is not None:
                        out(f"error: {name} exited with {process.returncode}; stopping")
                        return EXIT_UNREACHABLE
        finally:
            out("stopping Airflow ...")
            airflow.stop()
            out("stopped")
    return EXIT_OK

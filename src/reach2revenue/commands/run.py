"""`r2r run --date YYYY-MM-DD`: load one day through Airflow and wait for the result."""

from __future__ import annotations

import argparse
import time
from datetime import timedelta
from typing import Any

from reach2revenue.airflow_local import DAG_ID, AirflowApiError, AirflowClient, AirflowUnreachable
from reach2revenue.commands import (
    EXIT_CODES_HELP,
    EXIT_OK,
    EXIT_RUN_FAILED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
)
from reach2revenue.commands._airflow import UsageError, add_connection_options, client_from, day

EXAMPLES = f"""examples:
  r2r run --date 2026-11-29              load 2026-11-29 (data interval 11-29 .. 11-30)
  r2r run --date 2026-11-29 --no-wait    trigger and return at once

A run for that day that already exists (the nightly, an earlier run) is cleared and runs
again; one still running is followed.
{EXIT_CODES_HELP}"""


def add_parser(commands: Any) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        "run",
        help="load one day through Airflow (REST API) and wait for it",
        description="Trigger the nightly DAG for one day through Airflow's REST API and "
        "follow it task by task until it ends.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--date", type=day, required=True, help="the day to load (YYYY-MM-DD)")
    parser.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="follow the run until it ends (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        help="seconds to wait for the run (default: %(default)s)",
    )
    add_connection_options(parser)
    return parser


def run(args: argparse.Namespace, *, out: Any = print) -> int:
    try:
        client = client_from(args)
        existing = client.run_for_day(args.date)
        if existing is None:
            run_info = client.trigger_day(args.date)
            out(
                f"triggered {run_info['dag_run_id']}: {DAG_ID} for {args.date} "
                f"(data interval {args.date} .. {args.date + timedelta(days=1)})"
            )
        elif existing["state"] in ("success", "failed"):
            client.clear_run(existing["dag_run_id"])
            run_info = existing
            out(f"cleared {existing['dag_run_id']} ({existing['state']}): it runs again")
        else:
            run_info = existing
            out(f"{existing['dag_run_id']} is {existing['state']}: following it")
        if not args.wait:
            return EXIT_OK
        return follow(client, run_info["dag_run_id"], timeout=args.timeout, out=out)
    except UsageError as error:
        out(f"error: {error}")
        return EXIT_USAGE
    except AirflowUnreachable as error:
        out(f"error: {error}")
        return EXIT_UNREACHABLE
    except AirflowApiError as error:
        out(f"error: {error}")
        return EXIT_UNREACHABLE if error.status in (401, 403) else EXIT_RUN_FAILED


def follow(client: AirflowClient, run_id: str, *, timeout: float, out: Any = print) -> int:
    """Print each task's state changes until the run ends; its exit code."""
    began = time.monotonic()

    def on_task(instance: dict[str, Any]) -> None:
        if instance["state"] in (None, "scheduled", "queued"):
            return
        seconds = instance.get("duration")
        took = f" in {seconds:.1f}s" if seconds else ""
        out(f"  {instance['task_id']}: {instance['state']}{took}")

    finished = client.wait_for_run(run_id, timeout=timeout, on_task=on_task)
    seconds = time.monotonic() - began
    out(f"{run_id}: {finished['state']} ({seconds:.0f}s)")
    if finished["state"] != "success":
        failed = [
            ti["task_id"]
            for ti in client.task_instances(run_id)
            if ti["state"] in ("failed", "upstream_failed")
        ]
        out(f"failed tasks: {', '.join(failed)}; logs: the Airflow UI, or `r2r status`")
        return EXIT_RUN_FAILED
    return EXIT_OK

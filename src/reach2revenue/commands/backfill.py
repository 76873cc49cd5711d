"""`r2r backfill --start --end`: Airflow's own backfill, one run per day, one at a time."""

from __future__ import annotations

import argparse
import time
from typing import Any

from reach2revenue.airflow_local import AirflowApiError, AirflowUnreachable
from reach2revenue.commands import (
    EXIT_CODES_HELP,
    EXIT_OK,
    EXIT_RUN_FAILED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
)
from reach2revenue.commands._airflow import UsageError, add_connection_options, client_from, day

EXAMPLES = f"""examples:
  r2r backfill --start 2026-10-01 --end 2026-10-31     reload October (31 runs)
  r2r backfill --start 2026-11-01 --end 2026-11-07 --reprocess failed

Both days are included; each day is its own run with its own data interval, and runs
never overlap (max_active_runs 1: one DuckDB writer). Days that already ran are loaded
again unless --reprocess says otherwise.
{EXIT_CODES_HELP}"""


def add_parser(commands: Any) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        "backfill",
        help="load a range of days with Airflow's backfill (one run per day)",
        description="Create an Airflow backfill of the nightly DAG (POST /api/v2/backfills) "
        "and follow its runs until it completes.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--start", type=day, required=True, help="first day (YYYY-MM-DD)")
    parser.add_argument("--end", type=day, required=True, help="last day, included (YYYY-MM-DD)")
    parser.add_argument(
        "--reprocess",
        choices=("completed", "failed", "none"),
        default="completed",
        help="days with a run already: load again (completed), only failed ones (failed), "
        "or skip (none) (default: %(default)s)",
    )
    parser.add_argument(
        "--max-active-runs",
        type=int,
        default=1,
        help="runs at once; more than 1 only with the r2r_warehouse pool (default: %(default)s)",
    )
    parser.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="follow the backfill until it completes (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=6 * 3600.0,
        help="seconds to wait (default: %(default)s)",
    )
    add_connection_options(parser)
    return parser


def run(args: argparse.Namespace, *, out: Any = print) -> int:
    if args.end < args.start:
        out(f"error: --end {args.end} is before --start {args.start}")
        return EXIT_USAGE
    try:
        client = client_from(args)
        backfill = client.create_backfill(
            args.start, args.end, reprocess=args.reprocess, max_active_runs=args.max_active_runs
        )
        out(f"backfill {backfill['id']}: {args.start} .. {args.end} (reprocess {args.reprocess})")
        if not args.wait:
            return EXIT_OK
        began = time.monotonic()

        def on_run(dag_run: dict[str, Any]) -> None:
            if dag_run["state"] in ("success", "failed", "running"):
                interval = str(dag_run.get("data_interval_start") or "")[:10]
                out(f"  {interval} {dag_run['dag_run_id']}: {dag_run['state']}")

        backfill, runs = client.wait_for_backfill(
            backfill["id"], timeout=args.timeout, on_run=on_run
        )
        failed = [r for r in runs if r["state"] != "success"]
        out(
            f"backfill {backfill['id']} completed in {time.monotonic() - began:.0f}s: "
            f"{len(runs) - len(failed)} of {len(runs)} runs succeeded"
        )
        return EXIT_RUN_FAILED if failed or not runs else EXIT_OK
    except UsageError as error:
        out(f"error: {error}")
        return EXIT_USAGE
    except AirflowUnreachable as error:
        out(f"error: {error}")
        return EXIT_UNREACHABLE
    except AirflowApiError as error:
        out(f"error: {error}")
        if error.status in (401, 403):
            return EXIT_UNREACHABLE
        # 409: another backfill of the DAG is running; 422: a range Airflow refuses.
        return EXIT_USAGE if error.status in (400, 409, 422) else EXIT_RUN_FAILED

"""`r2r`: the command line of reach2revenue.

r2r demo        generate a world, serve it, run the nightly DAG through Airflow, report
r2r generate    write a synthetic world and its ground truth to a folder
r2r serve       serve a saved world with the Meta Ads and HubSpot stand-ins
r2r report      print the per-region table of a published warehouse
r2r bench       time every stage at a customer's size against lower bounds (make bench)

Operating a real Airflow (REST API; docs/operations.md):
r2r airflow up  a local Airflow (scheduler, UI, workers) on the project's config
r2r run         load one day through Airflow and wait for it
r2r backfill    load a range of days with Airflow's backfill
r2r status      what was last published, from which run, through which day, its quality

Exit codes: 0 ok, 1 run failed, 2 usage error, 3 Airflow unreachable.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from reach2revenue.settings import REPO_ROOT, Settings

# Piped output (CI logs, `make demo | tee`) still gets a table wide enough to read.
console = Console(width=None if sys.stdout.isatty() else 110)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="r2r",
        description=__doc__.split("\n")[0],
        epilog="Exit codes: 0 ok, 1 run failed, 2 usage error, 3 Airflow unreachable.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the whole nightly pipeline on a local world")
    demo.add_argument("--home", type=Path, default=REPO_ROOT / "var" / "demo")
    demo.add_argument("--days", type=int, default=90, help="days of history before the nightly")
    demo.add_argument("--scale", type=float, default=1.0)
    demo.add_argument("--seed", type=int, default=42)

    generate = commands.add_parser("generate", help="write a synthetic world and ground truth")
    generate.add_argument("--out", type=Path, required=True)
    generate.add_argument("--start", type=date.fromisoformat, required=True)
    generate.add_argument("--days", type=int, default=90)
    generate.add_argument("--scale", type=float, default=1.0)
    generate.add_argument("--seed", type=int, default=42)

    serve = commands.add_parser("serve", help="serve a saved world with the stand-in APIs")
    serve.add_argument("--world", type=Path, required=True)
    serve.add_argument(
        "--port",
        action="append",
        default=[],
        metavar="SOURCE=PORT",
        help="fixed port of one source's stand-in, e.g. --port hubspot=8802 "
        "(repeatable; the others get free ports)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="0.0.0.0 inside a container")

    report = commands.add_parser("report", help="print the per-region table of a warehouse")
    report.add_argument("--warehouse", type=Path, default=None)

    from reach2revenue.commands import airflow_up, backfill, bench, run, status

    operator_commands = {
        "airflow": airflow_up,
        "run": run,
        "backfill": backfill,
        "status": status,
        "bench": bench,
    }
    for module in operator_commands.values():
        module.add_parser(commands)

    args = parser.parse_args(argv)
    if args.command in operator_commands:
        return operator_commands[args.command].run(args)
    if args.command == "demo":
        return run_demo(args.home, days=args.days, scale=args.scale, seed=args.seed)
    if args.command == "generate":
        return run_generate(args.out, args.start, args.days, args.scale, args.seed)
    if args.command == "serve":
        from reach2revenue.sandbox.standins.__main__ import parse_ports

        return run_serve(args.world, args.host, parse_ports(args.port))
    if args.command == "report":
        path = args.warehouse or Settings.from_env().published_path
        print_region_table(path)
        return 0
    return 2


def run_generate(out: Path, start: date, days: int, scale: float, seed: int) -> int:
    from reach2revenue.sandbox.world import World, write_ground_truth_csv

    settings = Settings.from_env()
    world = World.generate(seed=seed, start=start, days=days, scale=scale)
    world.save(out)
    truth = world.ground_truth(
        reporting_currency=settings.reporting_currency,
        reporting_timezone=settings.reporting_timezone,
    )
    write_ground_truth_csv(truth, out / "ground_truth_region_daily.csv")
    console.print(f"world written to [bold]{out}[/] ({len(truth)} ground-truth region-days)")
    return 0


def run_serve(world_dir: Path, host: str, ports: dict[str, int]) -> int:
    from reach2revenue.sandbox.standins import start_standins
    from reach2revenue.sandbox.world import World

    # A fixed token (compose) comes from the environment; otherwise one is made up.
    token = os.environ.get("R2R_STANDIN_TOKEN") or secrets.token_urlsafe(24)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with start_standins(
        World.load(world_dir),
        token=token,
        host=host,
        ports=ports,
    ) as servers:
        console.print(json.dumps(servers.urls))
        # Never print the token (terminals and CI logs keep it): say where it is.
        if os.environ.get("R2R_STANDIN_TOKEN"):
            console.print("token: the value of R2R_STANDIN_TOKEN; Ctrl-C to stop", style="dim")
        else:
            token_file = write_secret_file(Settings.from_env().home / "standin-token", token)
            console.print(f"token in {token_file} (mode 0600); Ctrl-C to stop", style="dim")
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


def write_secret_file(path: Path, secret: str) -> Path:
    """Write ``secret`` to ``path`` readable by its owner only (0600, set at creation)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    return path


def run_demo(home: Path, *, days: int, scale: float, seed: int) -> int:
    """Generate a world, serve it, run history + nightly through Airflow, print the mart."""
    from reach2revenue import airflow_runner, verify
    from reach2revenue.sandbox.standins import start_standins
    from reach2revenue.sandbox.world import World, write_ground_truth_csv

    began = time.perf_counter()
    home = home.resolve()
    # Data folders start empty so the demo is reproducible; the Airflow home is kept
    # (its migrated metadata DB is the slow part of a cold start). The published file is
    # kept too: the run's publish step replaces it atomically at the end, so a BI tool
    # connected to it keeps reading the previous copy meanwhile. secrets/ (the generated
    # email hash key) is kept so that hashes stay the same from one demo to the next.
    for folder in ("world", "landing", "warehouse", "quarantine", "dbt", "reference"):
        shutil.rmtree(home / folder, ignore_errors=True)
    settings = Settings.for_home(home)

    today = datetime.now(UTC).date()
    nightly_day = today - timedelta(days=1)
    start = nightly_day - timedelta(days=days)
    console.rule("[bold]reach2revenue demo")
    with console.status("generating the synthetic world"):
        world = World.generate(seed=seed, start=start, days=days + 1, scale=scale)
        world.save(home / "world")
        truth = world.ground_truth(
            reporting_currency=settings.reporting_currency,
            reporting_timezone=settings.reporting_timezone,
        )
        write_ground_truth_csv(truth, home / "world" / "ground_truth_region_daily.csv")
        # The world's currency the ECB does not publish comes in through the user's file.
        world.write_fx_overrides(settings.fx_rate_overrides_path)
    console.print(
        f"[green]✓[/] world: {start} .. {nightly_day} ({days + 1} days, scale {scale}, "
        f"seed {seed}) → {home / 'world'}"
    )

    token = secrets.token_urlsafe(24)
    with start_standins(world, token=token) as servers:
        listed = ", ".join(f"{name} {server.url}" for name, server in servers.servers.items())
        console.print(f"[green]✓[/] stand-ins: {listed}")
        connections = servers.connections(token)
        env = airflow_runner.airflow_environment(home / "airflow", settings, connections)
        with console.status("preparing Airflow metadata (SQLite)"):
            migrated = airflow_runner.ensure_metadata_db(env)
        console.print(
            "[green]✓[/] Airflow metadata ready"
            + (f" (migrated in {migrated:.1f}s)" if migrated else " (already migrated)")
        )

        runs = [
            (
                f"history run {start} .. {nightly_day - timedelta(days=1)}",
                nightly_day.isoformat(),
                {"interval_start": start.isoformat(), "interval_end": nightly_day.isoformat()},
            ),
            (f"nightly run {nightly_day}", today.isoformat(), None),
        ]
        for index, (title, logical_date, conf) in enumerate(runs, start=1):
            ok = _run_with_progress(
                airflow_runner, env, title, logical_date, conf, home / "logs" / f"run-{index}.log"
            )
            if not ok:
                return 1

    comparison = verify.compare(
        verify.mart_region_days(settings.published_path),
        truth,
        first_day=start,
        last_day=nightly_day,
    )
    print_region_table(settings.published_path)
    print_contribution_table(settings.published_path)
    counts = verify.table_row_counts(settings.warehouse_path)
    raw_rows = ", ".join(f"{name} {n:,}" for name, n in counts.items() if name.startswith("raw."))
    console.print(f"raw rows (build warehouse): {raw_rows}")
    published = verify.table_row_counts(settings.published_path)
    console.print(
        "published tables (marts only): "
        + ", ".join(f"{name} {count:,}" for name, count in published.items())
    )
    if comparison.matches:
        console.print(
            f"[green]✓[/] mart equals the world's ground truth on all "
            f"{comparison.region_days} region-days (spend, leads, deals won, revenue, to the cent)"
        )
    else:
        console.print(f"[red]✗ {len(comparison.mismatches)} mismatches vs ground truth[/]")
        for mismatch in comparison.mismatches[:10]:
            console.print(f"  {mismatch}")
    console.print(f"\nwarehouse for analysts (read-only copy): [bold]{settings.published_path}[/]")
    query = "from region_daily_performance order by report_date desc limit 10"
    console.print(
        f'  e.g. .venv/bin/python -c "import duckdb; duckdb.connect('
        f"'{settings.published_path}', read_only=True).sql('{query}').show()\"",
        markup=False,
        highlight=False,
    )
    from reach2revenue.quality import data_docs_index

    # Every load's validation results, passed and failed (the last R2R_GX_KEEP_RUNS runs).
    console.print(f"Great Expectations Data Docs: [bold]{data_docs_index(settings.gx_dir)}[/]")
    # `airflow dags test` runs without a UI: its task logs are the run logs below. The same
    # DAG under a scheduler, with the UI serving every task's log: `r2r airflow up`.
    console.print(f"Airflow run logs (tasks included): [bold]{home / 'logs'}[/]/run-<n>.log")
    console.print(
        f"Airflow UI on this world: R2R_HOME={home} r2r airflow up --world {home / 'world'}"
        " → http://127.0.0.1:8080 (docs/operations.md)",
        markup=False,
        highlight=False,
    )
    console.print(f"demo finished in {time.perf_counter() - began:.1f}s")
    return 0 if comparison.matches else 1


def _run_with_progress(
    airflow_runner: Any,
    env: dict[str, str],
    title: str,
    logical_date: str,
    conf: dict[str, str] | None,
    log_path: Path,
) -> bool:
    started: dict[str, float] = {}
    with console.status(f"{title}: starting Airflow") as status:

        def on_event(task: str, state: str) -> None:
            if state == "running":
                started[task] = time.perf_counter()
                status.update(f"{title}: {task} …")
                return
            seconds = time.perf_counter() - started.get(task, time.perf_counter())
            mark = "[green]✓[/]" if state == "success" else "[red]✗[/]"
            console.print(f"    {mark} {task} ({state}, {seconds:.1f}s)")

        result = airflow_runner.run_dag_test(
            env, logical_date, conf=conf, log_path=log_path, on_event=on_event
        )
    if result.succeeded:
        console.print(f"[green]✓[/] {title} via `airflow dags test` in {result.seconds:.1f}s")
        return True
    console.print(f"[red]✗ {title} failed[/] (full log: {log_path})")
    console.print(result.log_tail(40), markup=False, highlight=False)
    return False


def print_region_table(path: Path) -> None:
    from reach2revenue.verify import region_summary

    rows = region_summary(path)
    if not rows:
        console.print(f"no rows in {path}")
        return
    currency = rows[0]["currency"]
    table = Table(
        title=f"Marketing to revenue by region, {rows[0]['first_day']} .. {rows[0]['last_day']}"
    )
    table.add_column("region")
    for name in (f"spend {currency}", "impressions", "clicks", "leads", "deals won"):
        table.add_column(name, justify="right")
    table.add_column(f"revenue won {currency}", justify="right")
    table.add_column("ROAS", justify="right")
    for row in rows:
        table.add_row(
            row["region"],
            f"{row['spend']:,.2f}",
            f"{row['impressions']:,}",
            f"{row['clicks']:,}",
            f"{row['leads']:,}",
            f"{row['deals_won']:,}",
            f"{row['revenue_won']:,.2f}",
            "-" if row["roas"] is None else f"{row['roas']:.2f}",
        )
    console.print(table)


def print_contribution_table(path: Path) -> None:
    """Marketing-sourced against sales-sourced won revenue per region (docs/attribution.md)."""
    from reach2revenue.verify import contribution_summary

    rows = contribution_summary(path)
    if not rows or not rows[-1]["won_deals"]:
        console.print("no won deals: no marketing-vs-sales contribution to show")
        return
    currency = rows[-1]["currency"]
    table = Table(title="Won revenue: marketing-sourced, sales-sourced, marketing-influenced")
    table.add_column("region")
    for name in ("won deals", f"won revenue {currency}", "marketing-sourced", "sales-sourced"):
        table.add_column(name, justify="right")
    table.add_column("influenced", justify="right")

    def percent(value: Any) -> str:
        return "-" if value is None else f"{value:.1f} %"

    for row in rows:
        table.add_row(
            row["region"],
            f"{row['won_deals']:,}",
            f"{row['won_revenue']:,.2f}",
            percent(row["marketing_sourced_percent"]),
            percent(row["sales_sourced_percent"]),
            percent(row["marketing_influenced_percent"]),
            end_section=row is rows[-2],
        )
    console.print(table)


if __name__ == "__main__":
    raise SystemExit(main())

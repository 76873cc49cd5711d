"""`r2r bench`: the pipeline's stages timed apart at a customer's size (reach2revenue.bench)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from reach2revenue.commands import EXIT_OK
from reach2revenue.settings import REPO_ROOT

EXAMPLES = """examples:
  r2r bench --scale 1                 # make bench: a mid-size advertiser, a year of history
  r2r bench --scale 0.05 --days 30    # a quick look
  r2r bench --table s1.json s3.json s10.json   # runs side by side, growth per stage

Writes every figure (per stage: seconds, CPU, peak RSS, rows/s; lower bounds; ratios; the
core count) to --out as JSON and prints the table. Stand-ins run in a child process:
their CPU is reported apart. Nothing here asserts on time."""


def add_parser(commands: Any) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        "bench",
        help="time every stage at a customer's size against lower bounds of the same run",
        description="Benchmark the pipeline (docs: README, 'Speed').",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scale", type=float, default=1.0, help="customer size (1 = mid-size)")
    parser.add_argument("--days", type=int, default=365, help="days of history")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--home", type=Path, default=REPO_ROOT / "var" / "bench")
    parser.add_argument(
        "--airflow",
        action="store_true",
        help="also run the nightly through `airflow dags test` to measure Airflow's overhead",
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON (default: <home>/bench.json)")
    parser.add_argument(
        "--table",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="print earlier runs' JSON files side by side as Markdown, with each stage's"
        " growth exponent, and run nothing",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from reach2revenue.bench import BenchConfig, run_bench, write_result

    if args.table:
        from reach2revenue.bench_table import load_results, markdown_table

        print(markdown_table(load_results(args.table)), end="")
        return EXIT_OK

    config = BenchConfig(
        scale=args.scale, days=args.days, seed=args.seed, home=args.home, airflow=args.airflow
    )
    console = Console()
    with console.status(f"bench at scale {args.scale} over {args.days} days"):
        result = run_bench(config)
    out = write_result(result, args.out or args.home / "bench.json")

    table = Table(title=f"r2r bench --scale {args.scale} --days {args.days}")
    for column in ("stage", "seconds", "cpu s", "peak RSS MiB", "rows", "rows/s"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for measure in result.stages:
        rate = measure.rows_per_second
        table.add_row(
            measure.name,
            f"{measure.seconds:.2f}",
            f"{measure.cpu_seconds:.2f}",
            f"{measure.peak_rss_bytes / 2**20:.0f}",
            "" if measure.rows is None else f"{measure.rows:,}",
            "" if rate is None else f"{rate:,.0f}",
        )
    console.print(table)
    for name, value in result.ratios().items():
        console.print(f"{name}: {value}")
    console.print(f"stand-ins' CPU (apart): {result.standins}")
    for source, figures in result.crm_full_load_at_real_limit.items():
        console.print(f"{source}: 1M objects at the real request budget: {figures['hours']} h")
    if result.airflow:
        console.print(
            f"Airflow nightly: {result.airflow['wall_seconds']} s wall, tasks"
            f" {result.airflow['tasks_sum_seconds']} s, overhead"
            f" {result.airflow['overhead_seconds']} s"
        )
    console.print(f"figures: {out}")
    return EXIT_OK

"""Rows, requests and rows per second of each registered source against its stand-in.

    python -m reach2revenue.sandbox.extraction_rates [--days 90] [--scale 1.0]

Generates a world, serves it, and runs every source's real extractor twice over real HTTP
on loopback: a history load of the whole world, then one nightly on top of it (cursors
advanced as the pipeline would). Throttles of the stand-ins stay on, so the figures
include each client's pacing. Prints one line per source and run; the bench command
builds on this.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from reach2revenue import cursors, raw
from reach2revenue.contracts import ExtractRequest, Interval
from reach2revenue.credentials import environment_from_connection, get_credentials
from reach2revenue.landing import read_manifest
from reach2revenue.sandbox.standins import start_standins
from reach2revenue.sandbox.world import World
from reach2revenue.settings import Settings
from reach2revenue.sources import SOURCES, raw_tables

TOKEN = "extraction-rates-token"


def measure(world: World, home: Path) -> list[dict[str, Any]]:
    """History then nightly extraction of every source; one result row per source and run."""
    settings = dataclasses.replace(
        Settings.for_home(home), fx_rate_overrides_path=home / "overrides.csv"
    )
    world.write_fx_overrides(settings.fx_rate_overrides_path)
    tables = raw_tables()
    results: list[dict[str, Any]] = []
    nightly_day = world.end_date
    runs = {
        "history": Interval.from_dates(world.start, nightly_day),
        "nightly": Interval.from_dates(nightly_day, nightly_day + timedelta(days=1)),
    }
    with start_standins(world, token=TOKEN, clock=world.end + timedelta(hours=2)) as servers:
        connections = servers.connections(TOKEN)
        for name, source in SOURCES.items():
            credentials = get_credentials(
                source, environment_from_connection(name, connections[f"{name}_default"])
            )
            for run, interval in runs.items():
                started = time.perf_counter()
                paths = source.extract(ExtractRequest(interval, credentials, settings))
                seconds = time.perf_counter() - started
                manifests = [read_manifest(p) for p in paths]
                rows = sum(m.record_count for m in manifests)
                requests = sum(m.request_count for m in manifests)
                for batch in raw.batches_from_manifests(paths, tables):
                    cursors.advance_cursor(
                        settings.landing_dir, batch.source, batch.entity, batch.loaded_through
                    )
                results.append(
                    {
                        "source": name,
                        "run": run,
                        "rows": rows,
                        "requests": requests,
                        "seconds": round(seconds, 3),
                        "rows_per_second": round(rows / seconds) if seconds else None,
                    }
                )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reach2revenue.sandbox.extraction_rates")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 11, 28))
    args = parser.parse_args(argv)
    world = World.generate(
        seed=args.seed,
        start=args.end - timedelta(days=args.days),
        days=args.days + 1,
        scale=args.scale,
    )
    with tempfile.TemporaryDirectory(prefix="r2r-rates-") as home:
        for row in measure(world, Path(home)):
            print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

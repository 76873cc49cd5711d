"""Publish the built warehouse as a read-only copy for analysts and BI tools.

DuckDB allows one writer and no readers while it writes, so readers never open the file
dbt builds. After a successful build, the file is checkpointed, copied beside the
published path and swapped in with an atomic rename: a reader sees either the previous
warehouse or the new one, never half of one.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from reach2revenue.settings import Settings

MART_TABLES = ("main.region_daily_performance",)


class PublishError(RuntimeError):
    """The built warehouse is missing or unusable; the published copy was not touched."""


@dataclass(frozen=True)
class PublishSummary:
    """What was published, where, and how big the marts are."""

    published_path: str
    published_at: str
    size_bytes: int
    mart_row_counts: dict[str, int]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def publish_warehouse(settings: Settings | None = None) -> PublishSummary:
    """Copy the built warehouse to the published path atomically and check the copy."""
    settings = settings or Settings.from_env()
    started = time.perf_counter()
    source = settings.warehouse_path
    if not source.exists():
        raise PublishError(f"no built warehouse at {source}: run the dbt build first")

    # Fold the write-ahead log into the file so the copy is complete on its own.
    with duckdb.connect(str(source)) as con:
        con.execute("checkpoint")

    target = settings.published_path
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(source, staging)
        counts = mart_row_counts(staging)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    return PublishSummary(
        published_path=str(target),
        published_at=datetime.now(UTC).isoformat(),
        size_bytes=target.stat().st_size,
        mart_row_counts=counts,
        seconds=round(time.perf_counter() - started, 3),
    )


def mart_row_counts(path: Path) -> dict[str, int]:
    """Row counts of the marts in a warehouse file, read-only; fails if a mart is missing."""
    with duckdb.connect(str(path), read_only=True) as con:
        counts: dict[str, int] = {}
        for table in MART_TABLES:
            try:
                counts[table] = con.execute(f"select count(*) from {table}").fetchall()[0][0]
            except duckdb.CatalogException as error:
                raise PublishError(f"{path} has no {table}: {error}") from error
    return counts

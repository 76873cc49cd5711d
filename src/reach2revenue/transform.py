"""Run the dbt project in-process: one ``dbt build`` = one DuckDB writer.

The Airflow task ``dbt_build`` calls :func:`dbt_build`. dbt runs inside this Python
process through ``dbt.cli.main.dbtRunner`` (no subprocess, no second writer), with

- the project and ``profiles.yml`` from ``settings.dbt_project_dir``;
- ``target/`` and ``logs/`` under ``settings.home / "dbt"``, so that parallel trees
  (tests, demo, deployment) never share compiled files or partial-parse state;
- ``R2R_WAREHOUSE_PATH`` (read by ``profiles.yml``) set to ``settings.warehouse_path``;
- ``R2R_EMAIL_HASH_KEY`` set to the email hash key (``reach2revenue.email_hash``: Airflow
  connection, environment, or the home's generated key file), read by the dbt-duckdb
  plugin ``reach2revenue.duckdb_functions``; never a var, so never in target/ or logs;
- the vars ``reporting_currency`` / ``reporting_timezone`` from the settings;
- the working directory set to the project while dbt runs, because dbt-duckdb
  resolves seed files from the working directory.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from reach2revenue.settings import Settings

MART_RELATION = "main.region_daily_performance"
"""Schema-qualified name of the product mart in the warehouse."""

_FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})
# dbt's global flags, the environment and the working directory are process-wide.
_DBT_LOCK = threading.Lock()


class DbtBuildError(RuntimeError):
    """A dbt command failed; the message names every failing node and why."""

    def __init__(self, message: str, failures: tuple[NodeOutcome, ...] = ()) -> None:
        super().__init__(message)
        self.failures = failures


@dataclass(frozen=True)
class NodeOutcome:
    """Result of one dbt node (model, seed, data test, unit test) in a run."""

    unique_id: str
    resource_type: str
    status: str
    path: str
    message: str | None
    failures: int | None
    execution_seconds: float


@dataclass(frozen=True)
class DbtRunSummary:
    """What one ``dbt build`` did, for logs, XCom and tests."""

    models_passed: int
    data_tests_passed: int
    unit_tests_passed: int
    seeds_passed: int
    warnings: int
    skipped: int
    elapsed_seconds: float
    mart_rows: int | None
    nodes: tuple[NodeOutcome, ...] = field(default=(), repr=False)

    @property
    def tests_passed(self) -> int:
        """Data tests and unit tests that passed."""
        return self.data_tests_passed + self.unit_tests_passed

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form without the per-node detail (e.g. for XCom)."""
        return {
            "models_passed": self.models_passed,
            "data_tests_passed": self.data_tests_passed,
            "unit_tests_passed": self.unit_tests_passed,
            "tests_passed": self.tests_passed,
            "seeds_passed": self.seeds_passed,
            "warnings": self.warnings,
            "skipped": self.skipped,
            "elapsed_seconds": self.elapsed_seconds,
            "mart_rows": self.mart_rows,
        }


def dbt_paths(settings: Settings) -> tuple[Path, Path]:
    """Return ``(target_path, log_path)`` of dbt for these settings."""
    base = settings.home / "dbt"
    return base / "target", base / "logs"


def dbt_vars(settings: Settings, extra_vars: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Project vars from the settings, overridden by ``extra_vars``."""
    values: dict[str, Any] = {
        "reporting_currency": settings.reporting_currency,
        "reporting_timezone": settings.reporting_timezone,
        "fx_max_stale_days": settings.fx_max_stale_days,
    }
    values.update(extra_vars or {})
    return values


def dbt_build(
    settings: Settings | None = None,
    *,
    select: str | None = None,
    full_refresh: bool = False,
    extra_vars: dict[str, Any] | None = None,
    unit_tests: bool = True,
) -> DbtRunSummary:
    """Run ``dbt build`` (seeds, models, data tests, unit tests) on the warehouse.

    Args:
        settings: Paths and reporting defaults; ``Settings.from_env()`` when omitted.
        select: Optional dbt selection (``--select``), e.g. ``"+region_daily_performance"``.
        full_refresh: Pass ``--full-refresh`` (rebuild incremental models and seeds).
        extra_vars: Additional or overriding dbt vars.
        unit_tests: Run the project's unit tests too (``False``: exclude them).

    Returns:
        Counts of passed nodes per kind, elapsed seconds and rows in the mart.

    Raises:
        DbtBuildError: dbt could not run, or a node errored or a test failed.
    """
    settings = settings or Settings.from_env()
    args = ["build"]
    if select:
        args += ["--select", select]
    if full_refresh:
        args.append("--full-refresh")
    if not unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    started = time.monotonic()
    nodes = _invoke(settings, args, extra_vars)
    elapsed = round(time.monotonic() - started, 2)
    return DbtRunSummary(
        models_passed=_count(nodes, "model", "success"),
        data_tests_passed=_count(nodes, "test", "pass"),
        unit_tests_passed=_count(nodes, "unit_test", "pass"),
        seeds_passed=_count(nodes, "seed", "success"),
        warnings=sum(1 for node in nodes if node.status == "warn"),
        skipped=sum(1 for node in nodes if node.status == "skipped"),
        elapsed_seconds=elapsed,
        mart_rows=_count_rows(settings.warehouse_path, MART_RELATION),
        nodes=nodes,
    )


def dbt_parse(settings: Settings | None = None) -> Path:
    """Run ``dbt parse`` (no warehouse access) and return the ``manifest.json`` path.

    Useful to validate the project and to feed tools that read the manifest.

    Raises:
        DbtBuildError: the project does not parse.
    """
    settings = settings or Settings.from_env()
    _invoke(settings, ["parse"], None)
    target_path, _ = dbt_paths(settings)
    return target_path / "manifest.json"


def _invoke(
    settings: Settings, command: list[str], extra_vars: Mapping[str, Any] | None
) -> tuple[NodeOutcome, ...]:
    """Invoke dbt in-process with the project's paths, env and vars."""
    from dbt.cli.main import dbtRunner  # heavy import: only when dbt actually runs

    project_dir = settings.dbt_project_dir
    target_path, log_path = dbt_paths(settings)
    target_path.mkdir(parents=True, exist_ok=True)
    log_path.mkdir(parents=True, exist_ok=True)
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    args = [
        *command,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target-path",
        str(target_path),
        "--log-path",
        str(log_path),
        "--vars",
        json.dumps(dbt_vars(settings, extra_vars)),
    ]
    from reach2revenue.email_hash import KEY_ENVIRONMENT_VARIABLE, resolve_email_hash_key

    env = {
        "R2R_WAREHOUSE_PATH": str(settings.warehouse_path),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        # In this process's environment only while dbt runs (restored afterwards).
        KEY_ENVIRONMENT_VARIABLE: resolve_email_hash_key(settings).secret,
    }
    with _DBT_LOCK, _environment(env), _working_directory(project_dir):
        result = dbtRunner().invoke(args)
    nodes = _outcomes(result.result)
    failures = tuple(node for node in nodes if node.status in _FAILED_STATUSES)
    if failures:
        skipped = sum(1 for node in nodes if node.status == "skipped")
        message = _failure_message(command[0], failures, skipped)
        raise DbtBuildError(f"{message}\n(logs: {log_path})", failures)
    if not result.success:
        detail = str(result.exception) if result.exception else "see dbt.log"
        raise DbtBuildError(f"dbt {command[0]} failed: {detail} (logs: {log_path})")
    return nodes


def _outcomes(run_result: Any) -> tuple[NodeOutcome, ...]:
    """Flatten dbt's RunExecutionResult into NodeOutcome records (empty for parse)."""
    outcomes = []
    for item in getattr(run_result, "results", None) or ():
        node = item.node
        outcomes.append(
            NodeOutcome(
                unique_id=node.unique_id,
                resource_type=str(node.resource_type),
                status=str(item.status),
                path=str(getattr(node, "original_file_path", "") or ""),
                message=item.message,
                failures=item.failures,
                execution_seconds=round(item.execution_time or 0.0, 3),
            )
        )
    return tuple(outcomes)


def _failure_message(command: str, failures: tuple[NodeOutcome, ...], skipped: int) -> str:
    """One entry per failing node: id, status, file and dbt's message (indented)."""
    lines = [
        f"dbt {command} failed on {len(failures)} node(s)"
        + (f" ({skipped} downstream node(s) skipped):" if skipped else ":")
    ]
    for node in failures:
        message = (node.message or "no message").strip().splitlines() or ["no message"]
        lines.append(f"- {node.unique_id} [{node.status}] ({node.path}): {message[0]}")
        lines.extend(f"    {line}" for line in message[1:])
    return "\n".join(lines)


def _count(nodes: tuple[NodeOutcome, ...], resource_type: str, status: str) -> int:
    """Number of nodes of one resource type with the given status."""
    return sum(1 for node in nodes if node.resource_type == resource_type and node.status == status)


def _count_rows(warehouse_path: Path, relation: str) -> int | None:
    """Row count of ``relation`` in the warehouse, None when it does not exist."""
    import duckdb

    if not warehouse_path.exists():
        return None
    with duckdb.connect(str(warehouse_path), read_only=True) as connection:
        try:
            rows = connection.execute(f"select count(*) from {relation}").fetchall()
        except duckdb.CatalogException:
            return None
    return int(rows[0][0])


@dataclass(frozen=True)
class DataQualityFindings:
    """What the build published but could not fully place: money without a usable FX
    rate, country values without a region and touch sources without a channel (from the
    data-quality marts)."""

    unconverted: tuple[dict[str, Any], ...]
    unmapped_countries: tuple[dict[str, Any], ...]
    unmapped_channels: tuple[dict[str, Any], ...] = ()

    def messages(self, max_stale_days: int) -> list[str]:
        """One line per finding, saying what to do about it."""
        lines = [
            f"{row['row_count']} {row['amount_kind'].replace('_', ' ')} row(s) of "
            f"{row['source_name']} in {row['currency_code']} ({row['region']}, "
            f"{row['first_date']}..{row['last_date']}, "
            f"{Decimal(str(row['amount_in_original_currency'])):.2f} "
            f"{row['currency_code']}) were not converted: no {row['currency_code']} rate "
            f"within {max_stale_days} days; add rates to the FX override file "
            "(R2R_FX_RATE_OVERRIDES_PATH)"
            for row in self.unconverted
        ]
        lines += [
            f"country {row['country_value']!r} from {row['source_name']} "
            f"({row['row_count']} row(s)) matches no country: add it to "
            "seeds/country_alias_overrides.csv"
            for row in self.unmapped_countries
        ]
        lines += [
            f"{row['source_field']} {row['source_value']!r} ({row['touches']} touch(es)) maps "
            "to no channel: its touches count as unmapped (not marketing) until you add it "
            "to seeds/channel_mappings.csv"
            for row in self.unmapped_channels
        ]
        return lines

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (dates and decimals as text)."""
        return json.loads(
            json.dumps(
                {
                    "unconverted": list(self.unconverted),
                    "unmapped_countries": list(self.unmapped_countries),
                    "unmapped_channels": list(self.unmapped_channels),
                },
                default=str,
            )
        )


def read_data_quality_findings(warehouse_path: Path) -> DataQualityFindings:
    """The rows of the data-quality marts of a built warehouse."""
    import duckdb

    def rows(connection: duckdb.DuckDBPyConnection, sql: str) -> tuple[dict[str, Any], ...]:
        cursor = connection.execute(sql)
        names = [column[0] for column in cursor.description]
        return tuple(dict(zip(names, row, strict=True)) for row in cursor.fetchall())

    with duckdb.connect(str(warehouse_path), read_only=True) as connection:
        unconverted = rows(
            connection,
            "select source_name, amount_kind, currency_code, region, row_count, "
            "amount_in_original_currency, first_date, last_date "
            "from main.data_quality_unconverted_amounts order by 1, 2, 3, 4",
        )
        unmapped = rows(
            connection,
            "select source_name, field_name, country_value, row_count "
            "from main.data_quality_unmapped_countries order by row_count desc, 3",
        )
        unmapped_channels = rows(
            connection,
            "select source_field, source_value, touches "
            "from main.data_quality_unmapped_channels order by touches desc, 1, 2",
        )
    return DataQualityFindings(unconverted, unmapped, unmapped_channels)


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore them."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    """Change the working directory for the duration of the block."""
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)

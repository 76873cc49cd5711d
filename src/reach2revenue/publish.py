"""Publish the marts, and only the marts, as a read-only file for analysts and BI tools.

The build warehouse holds raw API data (emails and names in clear), staging,
intermediate models, seeds and landed-file paths: none of it is for BI. After a
successful build :func:`publish_warehouse`

1. lists the models of dbt's ``marts`` folder from ``target/manifest.json`` (their fqn
   contains ``marts``, or ``meta: {publish: true}``; ``meta: {publish: false}`` keeps one
   back), so new marts are published without code changes;
2. audits the build warehouse against raw (:mod:`reach2revenue.audit`); a failed audit
   raises :class:`~reach2revenue.audit.AuditError` and publishes nothing;
3. copies those tables into a NEW DuckDB file beside the published path (with the
   models' descriptions as table and column comments, each table's comment stamped with
   the publication id and time; ``mart_freshness.published_at`` set to the publication
   time), checkpoints it;
4. checks the copy: exactly the expected tables, the same row counts as the build, no
   column named like personal data, no text value that looks like an email address or
   a file path (the last line of defence: the models already drop them);
5. makes it read-only (0444) and swaps it in with ``os.replace``: a reader sees the
   previous file or the new one, never half of one, and the published file is never
   deleted first (a connected BI tool keeps reading the old copy until the swap).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import stat
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from reach2revenue.audit import AuditReport, audit_warehouse
from reach2revenue.failures import NonRetryableError
from reach2revenue.settings import Settings

log = logging.getLogger(__name__)

PUBLISHED_FILE_MODE = 0o444
PUBLISH_FOLDER = "marts"
PUBLICATION_ALIAS = "publication"
# The mart telling analysts how fresh each mart is; publish stamps its published_at.
FRESHNESS_MART = "mart_freshness"
# Its columns that stamp a build or a publication, not data: two publications of the
# same data differ only there.
FRESHNESS_STAMP_COLUMNS = ("built_at", "published_at")
# Column names that say "a person": never published, whatever the values look like.
PERSONAL_COLUMN_NAME = re.compile(
    r"(^|_)(e_?mail|first_?name|last_?name|full_?name|given_name|family_name|"
    r"phone|mobile|street|address|birth_?date|date_of_birth|ip_address)(_|$)",
    re.IGNORECASE,
)
# Text values that look like an email address or a file path of some machine.
EMAIL_VALUE = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
PATH_VALUE = r"((^|[\s'\"(=:,])(~|[A-Za-z]:)?[/\\][^/\\\s]+[/\\])|file://"


class PublishError(NonRetryableError, RuntimeError):
    """The build is missing, unusable or unfit to publish; the published file is untouched."""


@dataclass(frozen=True)
class PublishedModel:
    """A dbt model that is published: where it is and what identifies a row."""

    name: str
    relation: str  # schema.table in the build warehouse (same name in the published file)
    schema: str
    table: str
    unique_keys: tuple[tuple[str, ...], ...]
    description: str = ""
    column_descriptions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PublishSummary:
    """What was published, where, how big, how long each step took, and the audit."""

    published_path: str
    published_at: str
    publication_id: str
    size_bytes: int
    table_row_counts: dict[str, int]
    seconds: float
    step_seconds: dict[str, float]
    audit: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def manifest_path(settings: Settings) -> Path:
    """dbt's manifest of the last build of these settings."""
    from reach2revenue.transform import dbt_paths

    target_path, _ = dbt_paths(settings)
    return target_path / "manifest.json"


def published_models(manifest: Path) -> list[PublishedModel]:
    """The models to publish, read from dbt's manifest.

    A model is published when its fqn contains the ``marts`` folder or its config has
    ``meta: {publish: true}``; ``meta: {publish: false}`` keeps a mart back. Ephemeral
    models have no table and are skipped.

    Raises:
        PublishError: no manifest (dbt has not built), or nothing to publish.
    """
    if not manifest.exists():
        raise PublishError(f"no dbt manifest at {manifest}: run the dbt build first")
    nodes = json.loads(manifest.read_text())["nodes"]
    keys: dict[str, list[tuple[str, ...]]] = {}
    for node in nodes.values():
        metadata = node.get("test_metadata") or {}
        kwargs = metadata.get("kwargs") or {}
        attached = node.get("attached_node")
        if node.get("resource_type") != "test" or not attached:
            continue
        if (node.get("config") or {}).get("where"):
            continue  # a key unique only within a filter does not identify a row
        if metadata.get("name") == "unique" and kwargs.get("column_name"):
            keys.setdefault(attached, []).append((kwargs["column_name"],))
        elif metadata.get("name") == "unique_combination_of_columns":
            columns = kwargs.get("combination_of_columns") or []
            keys.setdefault(attached, []).append(tuple(columns))
    models = []
    for unique_id, node in sorted(nodes.items()):
        if node.get("resource_type") != "model":
            continue
        config = node.get("config") or {}
        publish = (config.get("meta") or {}).get("publish", (node.get("meta") or {}).get("publish"))
        if publish is False or not (publish or PUBLISH_FOLDER in node.get("fqn", [])[1:-1]):
            continue
        if config.get("materialized") == "ephemeral" or not config.get("enabled", True):
            continue
        table = node.get("alias") or node["name"]
        models.append(
            PublishedModel(
                name=node["name"],
                relation=f'"{node["schema"]}"."{table}"',
                schema=node["schema"],
                table=table,
                unique_keys=tuple(keys.get(unique_id, [])),
                description=(node.get("description") or "").strip(),
                column_descriptions={
                    name: (column.get("description") or "").strip()
                    for name, column in (node.get("columns") or {}).items()
                    if (column.get("description") or "").strip()
                },
            )
        )
    if not models:
        raise PublishError(f"{manifest} lists no model in the {PUBLISH_FOLDER!r} folder")
    return models


def publish_warehouse(settings: Settings | None = None) -> PublishSummary:
    """Audit the build, copy its marts to a new read-only file, check it, swap it in.

    Raises:
        AuditError: the marts disagree with raw (nothing published; names the check).
        PublishError: no build, nothing to publish, or the copy failed its checks
            (nothing published).
    """
    from reach2revenue.sources import dbt_union_vars

    settings = settings or Settings.from_env()
    started = time.perf_counter()
    steps: dict[str, float] = {}
    source = settings.warehouse_path
    if not source.exists():
        raise PublishError(f"no built warehouse at {source}: run the dbt build first")
    models = published_models(manifest_path(settings))
    target = settings.published_path
    target.parent.mkdir(parents=True, exist_ok=True)
    publication_id = secrets.token_hex(8)
    # Whole microseconds, as mart_freshness.built_at has them: a publication cut to the
    # second could read as earlier than a build that ended in the same second.
    published_at = datetime.now(UTC).isoformat()
    draft = target.with_name(f".{target.name}.{os.getpid()}.{publication_id}.tmp")
    try:
        with duckdb.connect(str(source)) as con:
            # Fold the write-ahead log in: the audit and the copy read one consistent state.
            con.execute("checkpoint")
            mark = time.perf_counter()
            union_vars = dbt_union_vars()
            report = audit_warehouse(
                con,
                reporting_currency=settings.reporting_currency,
                reporting_timezone=settings.reporting_timezone,
                published_models=models,
                ad_platforms=union_vars["ad_platforms"],
                crms=union_vars["crms"],
            )
            steps["audit"] = round(time.perf_counter() - mark, 3)
            _log_audit(report)
            report.raise_for_failures()
            mark = time.perf_counter()
            build_counts = _copy_tables(con, models, draft, publication_id, published_at)
            steps["copy"] = round(time.perf_counter() - mark, 3)
        mark = time.perf_counter()
        counts = check_published_file(draft, models, build_counts)
        steps["check"] = round(time.perf_counter() - mark, 3)
        os.chmod(draft, PUBLISHED_FILE_MODE)
        _fsync(draft)
        os.replace(draft, target)
        _fsync(target.parent)
    finally:
        draft.unlink(missing_ok=True)
        draft.with_name(draft.name + ".wal").unlink(missing_ok=True)
    summary = PublishSummary(
        published_path=str(target),
        published_at=published_at,
        publication_id=publication_id,
        size_bytes=target.stat().st_size,
        table_row_counts=counts,
        seconds=round(time.perf_counter() - started, 3),
        step_seconds=steps,
        audit=report.to_dict(),
    )
    log.info(
        "published %d table(s) (%s) to %s: %d bytes in %.2fs, publication %s",
        len(counts),
        ", ".join(f"{name} {rows}" for name, rows in counts.items()),
        target,
        summary.size_bytes,
        summary.seconds,
        publication_id,
    )
    return summary


def _log_audit(report: AuditReport) -> None:
    for check in report.checks:
        log.info(
            "audit %s: %s, %d key(s), raw %s, models %s%s",
            check.name,
            "passed" if check.passed else f"FAILED on {len(check.findings)} key(s)",
            check.keys_compared,
            check.expected_total,
            check.actual_total,
            f" ({check.note})" if check.note else "",
        )


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _copy_tables(
    con: duckdb.DuckDBPyConnection,
    models: list[PublishedModel],
    draft: Path,
    publication_id: str,
    published_at: str,
) -> dict[str, int]:
    """Create the draft file holding a copy of each model; returns the build's row counts."""
    draft.unlink(missing_ok=True)
    con.execute(f"attach {_sql_text(str(draft))} as {PUBLICATION_ALIAS}")
    try:
        counts: dict[str, int] = {}
        for model in models:
            target = f'{PUBLICATION_ALIAS}."{model.schema}"."{model.table}"'
            con.execute(f'create schema if not exists {PUBLICATION_ALIAS}."{model.schema}"')
            con.execute(f"create table {target} as select * from {model.relation}")
            counts[f"{model.schema}.{model.table}"] = con.execute(
                f"select count(*) from {model.relation}"
            ).fetchall()[0][0]
            stamp = f"Published {published_at} (publication {publication_id})."
            comment = f"{model.description} {stamp}".strip()
            con.execute(f"comment on table {target} is {_sql_text(comment)}")
            for column, description in model.column_descriptions.items():
                con.execute(f'comment on column {target}."{column}" is {_sql_text(description)}')
            if model.table == FRESHNESS_MART:
                # Only the published copy knows when it was published.
                con.execute(
                    f"update {target} set published_at = cast(? as timestamp with time zone)",
                    [published_at],
                )
        con.execute(f"checkpoint {PUBLICATION_ALIAS}")
    finally:
        con.execute(f"detach {PUBLICATION_ALIAS}")
    return counts


def check_published_file(
    path: Path, models: list[PublishedModel], build_counts: dict[str, int]
) -> dict[str, int]:
    """Check a published (or draft) file; returns its row counts per table.

    Raises:
        PublishError: a table is missing or extra, a row count differs from the build,
            a column is named like personal data, or text looks like an email address or
            a file path (the message names table and column, never the value).
    """
    expected = {f"{m.schema}.{m.table}" for m in models}
    problems: list[str] = []
    with duckdb.connect(str(path), read_only=True) as con:
        tables = {
            f"{schema}.{table}"
            for schema, table in con.execute(
                "select schema_name, table_name from duckdb_tables() where not internal"
            ).fetchall()
        }
        views = con.execute("select count(*) from duckdb_views() where not internal").fetchall()
        if views[0][0]:
            problems.append(f"{views[0][0]} view(s) in the file")
        if tables != expected:
            problems.append(
                f"tables {sorted(tables)} instead of {sorted(expected)}"
                f" (missing {sorted(expected - tables)}, extra {sorted(tables - expected)})"
            )
        counts: dict[str, int] = {}
        for name in sorted(tables & expected):
            schema, table = name.split(".", 1)
            relation = f'"{schema}"."{table}"'
            counts[name] = con.execute(f"select count(*) from {relation}").fetchall()[0][0]
            if counts[name] != build_counts.get(name):
                problems.append(
                    f"{name}: {counts[name]} rows, the build has {build_counts.get(name)}"
                )
            columns = con.execute(
                "select column_name, data_type from duckdb_columns() "
                "where schema_name = ? and table_name = ?",
                [schema, table],
            ).fetchall()
            problems += [
                f"{name}.{column}: column name says personal data"
                for column, _ in columns
                if PERSONAL_COLUMN_NAME.search(column)
            ]
            problems += _scan_text_columns(
                con, name, relation, [c for c, t in columns if t == "VARCHAR"]
            )
    if problems:
        raise PublishError(
            f"the publication copy failed its checks (nothing published): {'; '.join(problems)}"
        )
    return counts


def _scan_text_columns(
    con: duckdb.DuckDBPyConnection, name: str, relation: str, columns: list[str]
) -> list[str]:
    """Count text values that look like an email or a path, one query per table."""
    if not columns:
        return []
    measures = []
    for column in columns:
        quoted = f'"{column}"'
        measures.append(
            f"count(*) filter (where regexp_matches({quoted}, {_sql_text(EMAIL_VALUE)}))"
        )
        measures.append(
            f"count(*) filter (where regexp_matches({quoted}, {_sql_text(PATH_VALUE)}))"
        )
    found = con.execute(f"select {', '.join(measures)} from {relation}").fetchall()[0]
    problems = []
    for index, column in enumerate(columns):
        emails, paths = found[2 * index], found[2 * index + 1]
        if emails:
            problems.append(f"{name}.{column}: {emails} value(s) look like an email address")
        if paths:
            problems.append(f"{name}.{column}: {paths} value(s) look like a file path")
    return problems


def _fsync(path: Path) -> None:
    """Flush a file or directory entry to disk, so the swap survives a power cut."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def is_read_only(path: Path) -> bool:
    """Whether nobody may write the file (no write bit for owner, group or others)."""
    return not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)

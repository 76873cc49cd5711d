"""Landed pages to the ``raw`` schema: flatten, batch, merge idempotently.

The pipeline does, per run::

    batches = batches_from_manifests(paths, tables)   # drift checked; one Batch per table
    for batch in batches:
        quality.validate_batch(...)                   # nothing merged unless all pass
    for batch in batches:
        merge_batch(con, batch)                       # one transaction per batch

``tables`` maps ``(source, entity)`` to each source's :class:`~reach2revenue.contracts.RawTable`
(the pipeline takes them from the registry): this module names no source. Each table
brings its flattener and its merge rule (``contracts.MergeRule``):

- ``REPLACE_DAYS``: every ``scope_columns`` day the batch's extractions cover is replaced,
  days whose extraction returned no rows included (delivery stopped, or the platform
  restated the day to nothing); each day comes from the newest extraction covering it.
- ``UPSERT_NEWEST``: upsert by key; a row is never replaced by one with an older
  ``modified_column`` (late or replayed extractions).
- ``REPLACE_CHILDREN``: all rows of each parent in the batch are replaced, including
  parents that now have no child at all.
- ``UPSERT``: upsert by key; within a batch the newest extraction of a key wins.
- ``REPLACE_ALL``: the newest extraction replaces the whole table.

Values stay exactly as the API sent them, as VARCHAR (lists and booleans as JSON text).
Loading the same manifests twice therefore leaves exactly one copy of every row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from reach2revenue import drift
from reach2revenue.contracts import LINEAGE_COLUMNS, MergeRule, RawTable
from reach2revenue.cursors import covered_through
from reach2revenue.landing import Manifest, read_manifest


def _parse_instant(value: str) -> datetime:
    """Manifest window bound (``YYYY-MM-DD`` or ISO instant) as an aware UTC datetime."""
    if len(value) == 10:
        return datetime.combine(date.fromisoformat(value), time(0), tzinfo=UTC)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def window_days(manifest: Manifest) -> list[str]:
    """The days an extraction covers, ``[window_start, window_end)``.

    Manifests whose window is a single day written as ``start == end`` cover that day.
    """
    start = date.fromisoformat(manifest.window_start[:10])
    end = date.fromisoformat(manifest.window_end[:10])
    if end <= start:
        return [manifest.partition_date]
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days)]


def rows_from_manifest(manifest: Manifest | Path | str, table: RawTable) -> list[dict[str, Any]]:
    """Flatten one extraction's pages into raw rows (API columns + lineage columns).

    The pages are not checked here: `batches_from_manifests` holds them to the table's
    declared response schema first (``reach2revenue.drift``).
    """
    if not isinstance(manifest, Manifest):
        manifest = read_manifest(manifest)
    return table.flatten(manifest)


def _frame(rows: list[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """DataFrame of raw rows; object dtype keeps missing values as None.

    (pandas' default string dtype would turn them into NaN.)
    """
    return pd.DataFrame(rows, columns=[*columns, *LINEAGE_COLUMNS], dtype=object)


def _age(manifest: Manifest) -> tuple[datetime, str]:
    """Sort key: older extractions first.

    Parsed, because ISO strings with and without fractional seconds do not sort as text.
    """
    return (_parse_instant(manifest.extracted_at), manifest.extraction_id)


@dataclass
class Batch:
    """All landed rows of one raw table in one run, ready to validate and merge.

    ``frame`` has exactly the raw table's API columns (all str or None) plus
    ``_landed_file`` and ``_extraction_id``. ``manifests`` are the extractions the frame
    was built from; ``superseded`` lists extractions a newer one replaced entirely (kept
    for lineage, not loaded). ``schema_warnings`` name fields the API sent that the
    table's response schema does not declare (kept in the landed files, not loaded).
    """

    table: RawTable
    manifests: list[Manifest]
    frame: pd.DataFrame
    superseded: list[Manifest] = field(default_factory=list)
    schema_warnings: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        return self.table.source

    @property
    def entity(self) -> str:
        return self.table.entity

    @property
    def label(self) -> str:
        """Human label: source/entity and the covered days or window."""
        name = f"{self.source}/{self.entity}"
        if not self.manifests:
            return f"{name} (empty)"
        if self.table.merge is MergeRule.REPLACE_DAYS:
            days = sorted(day for m in self.manifests for day in window_days(m))
            return f"{name} {days[0]}..{days[-1]}"
        start = min(self.manifests, key=lambda m: _parse_instant(m.window_start)).window_start
        end = max(self.manifests, key=lambda m: _parse_instant(m.window_end)).window_end
        return f"{name} {start}..{end}"

    @property
    def loaded_through(self) -> datetime:
        """What a cursor may advance to: how far the batch's extractions covered.

        Each extraction counts through ``min(window_end, as_of)``
        (`reach2revenue.cursors.covered_through`), never through a future window end.
        Superseded extractions count too: they were read, a newer one only replaced their
        rows (a night whose deals have no links at all supersedes its only extraction).
        """
        return max(covered_through(m) for m in [*self.manifests, *self.superseded])

    @property
    def scope(self) -> list[tuple[str, ...]]:
        """The scope rows this batch replaces (REPLACE_DAYS days, REPLACE_CHILDREN parents).

        Asked-for scopes come from the manifests (so an empty day or a parent without
        children is replaced too), plus whatever scope values the rows carry.
        """
        table, found = self.table, set()
        columns = list(table.scope_columns)
        for manifest in self.manifests:
            asked = manifest.params.get(table.scope_param) if table.scope_param else None
            if table.merge is MergeRule.REPLACE_DAYS and asked is not None:
                found.update((str(asked), day) for day in window_days(manifest))
            elif table.merge is MergeRule.REPLACE_CHILDREN:
                found.update((str(parent),) for parent in asked or [])
        if not self.frame.empty and set(columns) <= set(self.frame.columns):
            pairs = self.frame[columns].dropna().drop_duplicates()
            found.update(tuple(str(v) for v in pair) for pair in pairs.itertuples(index=False))
        return sorted(found)

    def __repr__(self) -> str:
        return f"Batch({self.label!r}, manifests={len(self.manifests)}, rows={len(self.frame)})"


def _dedupe_objects(frame: pd.DataFrame, key: Sequence[str], modified: str) -> pd.DataFrame:
    """One row per key: the newest modified timestamp, ties to the later extraction/page."""
    if frame.empty:
        return frame
    work = frame.assign(
        _ts=pd.to_datetime(frame[modified], utc=True, format="ISO8601", errors="coerce"),
        _seq=range(len(frame)),
    )
    work = work.sort_values(["_ts", "_seq"], na_position="first", kind="stable")
    work = work.drop_duplicates(list(key), keep="last").sort_values("_seq", kind="stable")
    return work.drop(columns=["_ts", "_seq"]).reset_index(drop=True)


def _owned_rows(
    table: RawTable, manifests: list[Manifest]
) -> tuple[list[Manifest], list[Manifest], list[dict[str, Any]]]:
    """Each scope (account-day, parent) from the newest extraction that covers it.

    Returns ``(manifests that own something, superseded manifests, their owned rows)``.
    An older extraction keeps the scopes no newer one covers (ranges may overlap partly).
    """
    extracted = [(m, rows_from_manifest(m, table)) for m in manifests]  # oldest first
    owner: dict[tuple[str, ...], Manifest] = {}
    for manifest, rows in extracted:
        for scope in _scopes_of(table, manifest, rows):
            owner[scope] = manifest
    owning = {id(m) for m in owner.values()}
    kept = [
        row
        for manifest, rows in extracted
        for row in rows
        if owner.get(tuple(str(row[c]) for c in table.scope_columns), manifest) is manifest
    ]
    return (
        [m for m in manifests if id(m) in owning],
        [m for m in manifests if id(m) not in owning],
        kept,
    )


def _scopes_of(
    table: RawTable, manifest: Manifest, rows: list[dict[str, Any]]
) -> list[tuple[str, ...]]:
    asked = manifest.params.get(table.scope_param) if table.scope_param else None
    if table.merge is MergeRule.REPLACE_DAYS:
        scopes = [(str(asked), day) for day in window_days(manifest)] if asked else []
    else:
        scopes = [(str(parent),) for parent in asked or []]
    return scopes + [tuple(str(row[c]) for c in table.scope_columns) for row in rows]


def _build_batch(table: RawTable, manifests: list[Manifest]) -> Batch:
    manifests = sorted(manifests, key=_age)
    superseded: list[Manifest] = []
    if table.merge in (MergeRule.REPLACE_DAYS, MergeRule.REPLACE_CHILDREN):
        manifests, superseded, rows = _owned_rows(table, manifests)
        frame = _frame(rows, table.columns).drop_duplicates(
            list(table.key), keep="last", ignore_index=True
        )
    elif table.merge is MergeRule.UPSERT_NEWEST:
        rows = [row for m in manifests for row in rows_from_manifest(m, table)]
        assert table.modified_column is not None
        frame = _dedupe_objects(_frame(rows, table.columns), table.key, table.modified_column)
    elif table.merge is MergeRule.REPLACE_ALL:
        # Only the newest extraction counts: it is the whole table.
        superseded, manifests = manifests[:-1], manifests[-1:]
        frame = _frame([r for m in manifests for r in rows_from_manifest(m, table)], table.columns)
    else:
        rows = [row for m in manifests for row in rows_from_manifest(m, table)]  # oldest first
        frame = _frame(rows, table.columns).drop_duplicates(
            list(table.key), keep="last", ignore_index=True
        )
    return Batch(table, manifests, frame, superseded)


def batches_from_manifests(
    paths: Iterable[Path | str | Manifest], tables: Mapping[tuple[str, str], RawTable]
) -> list[Batch]:
    """Group manifests into one `Batch` per raw table, in the order of ``tables``.

    Every landed page is first held to its table's declared response schema
    (``reach2revenue.drift``), for all tables before any is flattened: a missing records
    key, a missing required field or a field of another JSON type fails the whole call,
    so nothing is merged; fields the schema does not know become the batch's
    ``schema_warnings``.

    Raises:
        ValueError: a manifest names a source/entity with no table.
        SchemaDriftError: pages of any table drifted (every problem of every table named).
    """
    groups: dict[tuple[str, str], list[Manifest]] = {}
    seen: set[str] = set()
    for item in paths:
        manifest = item if isinstance(item, Manifest) else read_manifest(item)
        marker = (
            str(manifest.path.resolve())
            if manifest.path is not None
            else f"{manifest.source}/{manifest.entity}/{manifest.extraction_id}"
        )
        if marker in seen:  # the same manifest listed twice counts once
            continue
        seen.add(marker)
        key = (manifest.source, manifest.entity)
        if key not in tables:
            raise ValueError(f"no raw table for {manifest.source}/{manifest.entity}")
        groups.setdefault(key, []).append(manifest)
    ordered = [(tables[key], groups[key]) for key in tables if key in groups]
    reports = drift.check_tables(ordered)
    batches = []
    for (table, manifests), report in zip(ordered, reports, strict=True):
        batch = _build_batch(table, manifests)
        batch.schema_warnings = report.warnings
        batches.append(batch)
    return batches


def ensure_raw_schema(con: duckdb.DuckDBPyConnection, tables: Iterable[RawTable]) -> None:
    """Create the ``raw`` schema and the given tables if they do not exist.

    A table created before its source asked for a new column gains it (null in the rows
    loaded before); inserts name their columns, so its place in the table does not matter.
    """
    con.execute("create schema if not exists raw")
    for table in tables:
        column_sql = ", ".join(f"{name} varchar" for name in (*table.columns, *LINEAGE_COLUMNS))
        con.execute(
            f"create table if not exists {table.qualified_name} ({column_sql}, "
            "_loaded_at timestamptz)"
        )
        existing = {
            str(row[0])
            for row in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'raw' and table_name = ?",
                [table.name],
            ).fetchall()
        }
        for name in (*table.columns, *LINEAGE_COLUMNS):
            if name not in existing:
                con.execute(f"alter table {table.qualified_name} add column {name} varchar")


def _insert_columns(columns: Sequence[str]) -> str:
    """The target column list of an insert into a raw table (API, lineage, load time)."""
    return ", ".join((*columns, *LINEAGE_COLUMNS, "_loaded_at"))


@dataclass(frozen=True)
class MergeStats:
    """What one merge did.

    ``inserted`` rows written; ``deleted`` rows removed (replaced scopes, superseded
    versions); ``skipped_older`` incoming object rows ignored because the table already
    holds a newer version.
    """

    table: str
    batch_rows: int
    inserted: int
    deleted: int
    skipped_older: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for logs and XCom."""
        return asdict(self)


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    # fetchall(): duckdb 2.0 leaves a result open after fetchone(), breaking later queries.
    return int(con.execute(sql).fetchall()[0][0])


def _select_list(columns: Sequence[str]) -> str:
    # Explicit casts: an all-None pandas column arrives as DuckDB type NULL, not VARCHAR.
    return ", ".join(f"cast({c} as varchar) as {c}" for c in (*columns, *LINEAGE_COLUMNS))


def _replace_rows(
    con: duckdb.DuckDBPyConnection,
    table: RawTable,
    frame: pd.DataFrame,
    *,
    scope: pd.DataFrame,
    scope_match: str,
) -> int:
    """In one transaction, delete the rows of ``table`` in ``scope``, insert ``frame``.

    ``scope_match`` is a condition between ``d`` (a scope row) and ``t`` (a stored row);
    scopes with no incoming rows are emptied, which is how vanished rows go away.
    Returns the number of rows deleted.
    """
    name = table.qualified_name
    con.register("_r2r_batch", frame)
    con.register("_r2r_scope", scope)
    try:
        match = f"from {name} t where exists (select 1 from _r2r_scope d where {scope_match})"
        con.execute("begin transaction")
        try:
            deleted = _scalar(con, f"select count(*) {match}")
            con.execute(f"delete {match}")
            con.execute(
                f"insert into {name} ({_insert_columns(table.columns)}) "
                f"select {_select_list(table.columns)}, current_timestamp from _r2r_batch"
            )
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    finally:
        con.unregister("_r2r_batch")
        con.unregister("_r2r_scope")
    return deleted


def _match(columns: Sequence[str]) -> str:
    return " and ".join(f"d.{c} = t.{c}" for c in columns)


def _merge_scoped(con: duckdb.DuckDBPyConnection, batch: Batch) -> MergeStats:
    table = batch.table
    frame = batch.frame.drop_duplicates(list(table.key), keep="last")
    scope = pd.DataFrame(batch.scope, columns=list(table.scope_columns), dtype=object)
    deleted = _replace_rows(con, table, frame, scope=scope, scope_match=_match(table.scope_columns))
    return MergeStats(table.qualified_name, len(batch.frame), len(frame), deleted)


def _merge_by_key(con: duckdb.DuckDBPyConnection, batch: Batch) -> MergeStats:
    table = batch.table
    if table.merge is MergeRule.REPLACE_ALL:
        scope, match = pd.DataFrame({"all": [1]}), "true"
    else:
        scope, match = batch.frame[list(table.key)], _match(table.key)
    deleted = _replace_rows(con, table, batch.frame, scope=scope, scope_match=match)
    return MergeStats(table.qualified_name, len(batch.frame), len(batch.frame), deleted)


def _merge_newest(con: duckdb.DuckDBPyConnection, batch: Batch) -> MergeStats:
    table = batch.table
    name, modified = table.qualified_name, table.modified_column
    assert modified is not None
    frame = _dedupe_objects(batch.frame, table.key, modified)
    key_match = " and ".join(f"e.{c} = i.{c}" for c in table.key)
    con.register("_r2r_batch", frame)
    try:
        con.execute("begin transaction")
        try:
            con.execute(
                "create or replace temp table _r2r_incoming as "
                f"select {_select_list(table.columns)} from _r2r_batch"
            )
            # Keep the stored row when it is provably newer than the incoming one.
            newer_stored = (
                f"{key_match} and try_cast(e.{modified} as timestamptz) is not null and "
                f"(try_cast(i.{modified} as timestamptz) is null or "
                f"try_cast(e.{modified} as timestamptz) > try_cast(i.{modified} as timestamptz))"
            )
            skipped = _scalar(
                con,
                f"select count(*) from _r2r_incoming i where exists "
                f"(select 1 from {name} e where {newer_stored})",
            )
            con.execute(
                f"delete from _r2r_incoming i where exists "
                f"(select 1 from {name} e where {newer_stored})"
            )
            match = f"from {name} e where exists (select 1 from _r2r_incoming i where {key_match})"
            deleted = _scalar(con, f"select count(*) {match}")
            con.execute(f"delete {match}")
            inserted = _scalar(con, "select count(*) from _r2r_incoming")
            con.execute(
                f"insert into {name} ({_insert_columns(table.columns)}) "
                f"select {', '.join((*table.columns, *LINEAGE_COLUMNS))}, "
                "current_timestamp from _r2r_incoming"
            )
            con.execute("drop table _r2r_incoming")
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    finally:
        con.unregister("_r2r_batch")
    return MergeStats(name, len(batch.frame), inserted, deleted, skipped)


def merge_batch(con: duckdb.DuckDBPyConnection, batch: Batch) -> MergeStats:
    """Merge one validated batch into its raw table in a single transaction (idempotent)."""
    ensure_raw_schema(con, [batch.table])
    merge = batch.table.merge
    if merge in (MergeRule.REPLACE_DAYS, MergeRule.REPLACE_CHILDREN):
        return _merge_scoped(con, batch)
    if merge is MergeRule.UPSERT_NEWEST:
        return _merge_newest(con, batch)
    return _merge_by_key(con, batch)

"""Landed pages to the ``raw`` schema: flatten, batch, merge idempotently.

The pipeline does, per run::

    batches = batches_from_manifests(paths)      # one Batch per source/entity
    for batch in batches:
        quality.validate_batch(...)              # nothing merged unless all pass
    for batch in batches:
        merge_batch(con, batch)                  # one transaction per batch

Values stay exactly as the API sent them, as VARCHAR (lists and booleans as JSON text).
Merge rules (docs/architecture.md, "Raw schema"):

- ``raw.meta_ads_insights``: replace every row of the batch's ``(account_id, date_start)``
  days, including days whose extraction returned no rows (delivery stopped, or Meta
  restated the day to nothing).
- ``raw.hubspot_contacts`` / ``raw.hubspot_deals``: upsert by ``id``; a row is never
  replaced by one with an older last-modified timestamp (late or replayed extractions).
- ``raw.hubspot_deal_contacts``: replace all links of each deal in the batch, including
  deals that now have no contact at all.
- ``raw.ecb_fx_rates``: upsert by ``(currency, time_period)``; within a batch the newest
  extraction wins (the nightly API pull over the bundled history of the same day).
- ``raw.ecb_fx_rate_overrides``: the user's override file is the whole truth: each load
  replaces the table (a removed line disappears).

Loading the same manifests twice therefore leaves exactly one copy of every row.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from reach2revenue.landing import Manifest, read_manifest
from reach2revenue.raw_schema import (
    ECB_FX_RATE_COLUMNS,
    ECB_FX_RATE_OVERRIDE_COLUMNS,
    HUBSPOT_CONTACT_COLUMNS,
    HUBSPOT_DEAL_COLUMNS,
    HUBSPOT_MODIFIED_PROPERTY,
    LINEAGE_COLUMNS,
    META_INSIGHTS_COLUMNS,
    RAW_TABLE_KEYS,
    RAW_TABLES,
)

# (source, entity) -> table, in load order: parents before children.
ENTITY_TABLES: dict[tuple[str, str], str] = {
    ("meta_ads", "insights"): "raw.meta_ads_insights",
    ("hubspot", "contacts"): "raw.hubspot_contacts",
    ("hubspot", "deals"): "raw.hubspot_deals",
    ("hubspot", "deal_contacts"): "raw.hubspot_deal_contacts",
    ("ecb_fx", "rates"): "raw.ecb_fx_rates",
    ("ecb_fx", "rate_overrides"): "raw.ecb_fx_rate_overrides",
}
_LOAD_ORDER = {key: n for n, key in enumerate(ENTITY_TABLES)}

META_KEY = RAW_TABLE_KEYS["raw.meta_ads_insights"]
DEAL_CONTACT_KEY = RAW_TABLE_KEYS["raw.hubspot_deal_contacts"]
ECB_FX_RATE_KEY = RAW_TABLE_KEYS["raw.ecb_fx_rates"]


def _varchar(value: Any) -> str | None:
    """An API value as raw VARCHAR: strings unchanged, anything else as JSON text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=False)


def _parse_instant(value: str) -> datetime:
    """Manifest window bound (``YYYY-MM-DD`` or ISO instant) as an aware UTC datetime."""
    if len(value) == 10:
        return datetime.combine(date.fromisoformat(value), time(0), tzinfo=UTC)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def report_days_of(manifest: Manifest) -> list[str]:
    """Meta: the report days an extraction covers, ``[window_start, window_end)``.

    Manifests whose window is a single day written as ``start == end`` cover that day.
    """
    start = date.fromisoformat(manifest.window_start[:10])
    end = date.fromisoformat(manifest.window_end[:10])
    if end <= start:
        return [manifest.partition_date]
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days)]


def _load_pages(manifest: Manifest) -> Iterable[tuple[str, dict[str, Any]]]:
    for page in manifest.page_paths():
        yield str(page), json.loads(page.read_text(encoding="utf-8"))


def _meta_rows(manifest: Manifest) -> list[dict[str, Any]]:
    account = manifest.params.get("account_id")
    rows = []
    for landed, page in _load_pages(manifest):
        for item in page.get("data") or []:
            row = {col: _varchar(item.get(col)) for col in META_INSIGHTS_COLUMNS}
            if row["account_id"] is None and account is not None:
                row["account_id"] = str(account)  # field not returned: use the request's
            rows.append(row | {"_landed_file": landed, "_extraction_id": manifest.extraction_id})
    return rows


def _object_rows(manifest: Manifest, columns: Sequence[str]) -> list[dict[str, Any]]:
    top_level = {"created_at": "createdAt", "updated_at": "updatedAt", "archived": "archived"}
    rows = []
    for landed, page in _load_pages(manifest):
        for item in page.get("results") or []:
            properties = item.get("properties") or {}
            row: dict[str, Any] = {}
            for col in columns:
                if col == "id":
                    row[col] = _varchar(str(item["id"]) if item.get("id") is not None else None)
                elif col in top_level:
                    row[col] = _varchar(item.get(top_level[col]))
                else:
                    row[col] = _varchar(properties.get(col))
            rows.append(row | {"_landed_file": landed, "_extraction_id": manifest.extraction_id})
    return rows


def _association_type(types: Sequence[dict[str, Any]]) -> str | None:
    """One type id per pair: HubSpot's own (unlabelled) link first, else the first label."""
    if not types:
        return None
    ranked = sorted(types, key=lambda t: (t.get("category") != "HUBSPOT_DEFINED",))
    return _varchar(str(ranked[0].get("typeId")) if ranked[0].get("typeId") is not None else None)


def _deal_contact_rows(manifest: Manifest) -> list[dict[str, Any]]:
    rows = []
    for landed, page in _load_pages(manifest):
        for result in page.get("results") or []:
            deal_id = (result.get("from") or {}).get("id")
            if deal_id is None:
                continue
            for link in result.get("to") or []:
                rows.append(
                    {
                        "deal_id": str(deal_id),
                        "contact_id": str(link.get("toObjectId")),
                        "association_type_id": _association_type(
                            link.get("associationTypes") or []
                        ),
                        "_landed_file": landed,
                        "_extraction_id": manifest.extraction_id,
                    }
                )
    return rows


def _page_texts(manifest: Manifest) -> Iterable[tuple[str, str]]:
    for page in manifest.page_paths():
        yield str(page), page.read_text(encoding="utf-8")


def _ecb_rate_rows(manifest: Manifest) -> list[dict[str, Any]]:
    """SDMX-CSV pages (nightly pull) and eurofxref pages (bundled history) alike."""
    from reach2revenue.reference.fx import SDMX_COLUMNS, parse_rates

    columns = dict(zip(SDMX_COLUMNS, ECB_FX_RATE_COLUMNS, strict=True))
    rows = []
    for landed, text in _page_texts(manifest):
        for observation in parse_rates(text):
            row = {columns[name]: value for name, value in observation.fields.items()}
            rows.append(row | {"_landed_file": landed, "_extraction_id": manifest.extraction_id})
    return rows


def _override_rows(manifest: Manifest) -> list[dict[str, Any]]:
    """The override file's lines as written (blank cells as null, unknown columns dropped)."""
    rows = []
    for landed, text in _page_texts(manifest):
        for line in csv.DictReader(io.StringIO(text)):
            row = {c: (line.get(c) or "").strip() or None for c in ECB_FX_RATE_OVERRIDE_COLUMNS}
            if any(row.values()):
                rows.append(
                    row | {"_landed_file": landed, "_extraction_id": manifest.extraction_id}
                )
    return rows


def rows_from_manifest(manifest: Manifest | Path | str) -> list[dict[str, Any]]:
    """Flatten one extraction's pages into raw rows (API columns + lineage columns)."""
    if not isinstance(manifest, Manifest):
        manifest = read_manifest(manifest)
    key = (manifest.source, manifest.entity)
    if key == ("meta_ads", "insights"):
        return _meta_rows(manifest)
    if key == ("hubspot", "contacts"):
        return _object_rows(manifest, HUBSPOT_CONTACT_COLUMNS)
    if key == ("hubspot", "deals"):
        return _object_rows(manifest, HUBSPOT_DEAL_COLUMNS)
    if key == ("hubspot", "deal_contacts"):
        return _deal_contact_rows(manifest)
    if key == ("ecb_fx", "rates"):
        return _ecb_rate_rows(manifest)
    if key == ("ecb_fx", "rate_overrides"):
        return _override_rows(manifest)
    raise ValueError(f"no raw table for {manifest.source}/{manifest.entity}")


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
    """All landed rows of one source/entity in one run, ready to validate and merge.

    ``frame`` has exactly the raw table's API columns (all str or None) plus
    ``_landed_file`` and ``_extraction_id``. ``manifests`` are the extractions the frame
    was built from; ``superseded`` lists Meta extractions replaced by a newer one of the
    same account-day (kept for lineage, not loaded).
    """

    source: str
    entity: str
    manifests: list[Manifest]
    frame: pd.DataFrame
    superseded: list[Manifest] = field(default_factory=list)

    @property
    def table(self) -> str:
        """Target table, e.g. ``raw.meta_ads_insights``."""
        return ENTITY_TABLES[(self.source, self.entity)]

    @property
    def label(self) -> str:
        """Human label: source/entity and the covered days (Meta) or window (HubSpot)."""
        if not self.manifests:
            return f"{self.source}/{self.entity} (empty)"
        if self.source == "meta_ads":
            days = sorted(day for m in self.manifests for day in report_days_of(m))
            return f"{self.source}/{self.entity} {days[0]}..{days[-1]}"
        start = min(self.manifests, key=lambda m: _parse_instant(m.window_start)).window_start
        end = max(self.manifests, key=lambda m: _parse_instant(m.window_end)).window_end
        return f"{self.source}/{self.entity} {start}..{end}"

    @property
    def loaded_through(self) -> datetime:
        """End of the latest window in the batch (what a cursor may advance to)."""
        return max(_parse_instant(m.window_end) for m in self.manifests)

    @property
    def days(self) -> list[tuple[str, str]]:
        """Meta: the ``(account_id, date_start)`` days this batch replaces."""
        found = {
            (str(m.params["account_id"]), day)
            for m in self.manifests
            if m.params.get("account_id") is not None
            for day in report_days_of(m)
        }
        if not self.frame.empty and "date_start" in self.frame:
            pairs = self.frame[["account_id", "date_start"]].dropna().drop_duplicates()
            found.update((str(a), str(d)) for a, d in pairs.itertuples(index=False))
        return sorted(found)

    @property
    def deal_ids(self) -> list[str]:
        """deal_contacts: every deal whose set of links this batch replaces."""
        found: set[str] = set()
        for manifest in self.manifests:
            found.update(str(d) for d in manifest.params.get("deal_ids") or [])
        if not self.frame.empty:
            found.update(self.frame["deal_id"].dropna().astype(str))
        return sorted(found)

    def __repr__(self) -> str:
        return f"Batch({self.label!r}, manifests={len(self.manifests)}, rows={len(self.frame)})"


def _dedupe_objects(frame: pd.DataFrame, modified: str) -> pd.DataFrame:
    """One row per id: the newest modified timestamp, ties to the later extraction/page."""
    if frame.empty:
        return frame
    work = frame.assign(
        _ts=pd.to_datetime(frame[modified], utc=True, format="ISO8601", errors="coerce"),
        _seq=range(len(frame)),
    )
    work = work.sort_values(["_ts", "_seq"], na_position="first", kind="stable")
    work = work.drop_duplicates("id", keep="last").sort_values("_seq", kind="stable")
    return work.drop(columns=["_ts", "_seq"]).reset_index(drop=True)


def _build_batch(source: str, entity: str, manifests: list[Manifest]) -> Batch:
    manifests = sorted(manifests, key=_age)
    columns = RAW_TABLES[ENTITY_TABLES[(source, entity)]]
    superseded: list[Manifest] = []
    if source == "meta_ads":
        # Each account-day comes from the newest extraction that covers it; an older
        # extraction keeps the days no newer one covers (ranges may overlap partly).
        owner: dict[tuple[str, str], Manifest] = {}
        for manifest in manifests:  # oldest first, so the newest ends up owning
            for day in report_days_of(manifest):
                owner[(str(manifest.params.get("account_id")), day)] = manifest
        owning = {id(m) for m in owner.values()}
        superseded = [m for m in manifests if id(m) not in owning]
        manifests = [m for m in manifests if id(m) in owning]
        rows = [
            row
            for m in manifests
            for row in rows_from_manifest(m)
            if owner.get((str(row["account_id"]), str(row["date_start"])), m) is m
        ]
        frame = _frame(rows, columns)
    elif source == "ecb_fx":
        rows = [row for m in manifests for row in rows_from_manifest(m)]  # oldest first
        frame = _frame(rows, columns)
        if entity == "rate_overrides":
            # Only the newest copy of the file counts: it replaces the table.
            newest = manifests[-1].extraction_id
            frame = frame[frame["_extraction_id"] == newest].reset_index(drop=True)
        else:
            frame = frame.drop_duplicates(list(ECB_FX_RATE_KEY), keep="last", ignore_index=True)
    elif entity == "deal_contacts":
        # Each deal's links come from the newest extraction that asked for that deal.
        extracted = [(m, rows_from_manifest(m)) for m in manifests]  # oldest first
        owner: dict[str, str] = {}
        for manifest, manifest_rows in extracted:
            asked = [str(d) for d in manifest.params.get("deal_ids") or []]
            for deal_id in [*asked, *(row["deal_id"] for row in manifest_rows)]:
                owner[deal_id] = manifest.extraction_id
        rows = [
            row
            for manifest, manifest_rows in extracted
            for row in manifest_rows
            if owner[row["deal_id"]] == manifest.extraction_id
        ]
        frame = _frame(rows, columns).drop_duplicates(
            list(DEAL_CONTACT_KEY), keep="last", ignore_index=True
        )
    else:
        rows = [row for m in manifests for row in rows_from_manifest(m)]
        frame = _dedupe_objects(_frame(rows, columns), HUBSPOT_MODIFIED_PROPERTY[entity])
    return Batch(source, entity, manifests, frame, superseded)


def batches_from_manifests(paths: Iterable[Path | str | Manifest]) -> list[Batch]:
    """Group manifests into one `Batch` per source/entity, parents before children.

    For Meta, when the same (account, day) was extracted more than once, only the newest
    extraction is loaded. HubSpot rows are deduplicated by id (newest modified wins).
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
        if key not in ENTITY_TABLES:
            raise ValueError(f"no raw table for {manifest.source}/{manifest.entity}")
        groups.setdefault(key, []).append(manifest)
    ordered = sorted(groups, key=_LOAD_ORDER.__getitem__)
    return [_build_batch(source, entity, groups[(source, entity)]) for source, entity in ordered]


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ``raw`` schema and its four tables if they do not exist."""
    con.execute("create schema if not exists raw")
    for table, columns in RAW_TABLES.items():
        column_sql = ", ".join(f"{name} varchar" for name in (*columns, *LINEAGE_COLUMNS))
        con.execute(f"create table if not exists {table} ({column_sql}, _loaded_at timestamptz)")


@dataclass(frozen=True)
class MergeStats:
    """What one merge did.

    ``inserted`` rows written; ``deleted`` rows removed (replaced days or deal links,
    superseded object versions); ``skipped_older`` incoming object rows ignored because
    the table already holds a newer version.
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


def _merge_meta(con: duckdb.DuckDBPyConnection, batch: Batch, table: str) -> MergeStats:
    frame = batch.frame.drop_duplicates(list(META_KEY), keep="last")
    days = pd.DataFrame(batch.days, columns=["account_id", "date_start"], dtype=object)
    deleted = _replace_rows(
        con,
        table,
        frame,
        scope=days,
        scope_match="d.account_id = t.account_id and d.date_start = t.date_start",
    )
    return MergeStats(table, len(batch.frame), len(frame), deleted)


def _replace_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
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
    columns = RAW_TABLES[table]
    con.register("_r2r_batch", frame)
    con.register("_r2r_scope", scope)
    try:
        match = f"from {table} t where exists (select 1 from _r2r_scope d where {scope_match})"
        con.execute("begin transaction")
        try:
            deleted = _scalar(con, f"select count(*) {match}")
            con.execute(f"delete {match}")
            con.execute(
                f"insert into {table} select {_select_list(columns)}, current_timestamp "
                "from _r2r_batch"
            )
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    finally:
        con.unregister("_r2r_batch")
        con.unregister("_r2r_scope")
    return deleted


def _merge_objects(con: duckdb.DuckDBPyConnection, batch: Batch, table: str) -> MergeStats:
    columns = RAW_TABLES[table]
    modified = HUBSPOT_MODIFIED_PROPERTY[batch.entity]
    frame = _dedupe_objects(batch.frame, modified)
    con.register("_r2r_batch", frame)
    try:
        con.execute("begin transaction")
        try:
            con.execute(
                "create or replace temp table _r2r_incoming as "
                f"select {_select_list(columns)} from _r2r_batch"
            )
            # Keep the stored row when it is provably newer than the incoming one.
            newer_stored = (
                f"e.id = i.id and try_cast(e.{modified} as timestamptz) is not null and "
                f"(try_cast(i.{modified} as timestamptz) is null or "
                f"try_cast(e.{modified} as timestamptz) > try_cast(i.{modified} as timestamptz))"
            )
            skipped = _scalar(
                con,
                f"select count(*) from _r2r_incoming i where exists "
                f"(select 1 from {table} e where {newer_stored})",
            )
            con.execute(
                f"delete from _r2r_incoming i where exists "
                f"(select 1 from {table} e where {newer_stored})"
            )
            match = f"from {table} where id in (select id from _r2r_incoming)"
            deleted = _scalar(con, f"select count(*) {match}")
            con.execute(f"delete {match}")
            inserted = _scalar(con, "select count(*) from _r2r_incoming")
            con.execute(
                f"insert into {table} select {', '.join((*columns, *LINEAGE_COLUMNS))}, "
                "current_timestamp from _r2r_incoming"
            )
            con.execute("drop table _r2r_incoming")
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    finally:
        con.unregister("_r2r_batch")
    return MergeStats(table, len(batch.frame), inserted, deleted, skipped)


def _merge_deal_contacts(con: duckdb.DuckDBPyConnection, batch: Batch, table: str) -> MergeStats:
    frame = batch.frame.drop_duplicates(list(DEAL_CONTACT_KEY), keep="last")
    deals = pd.DataFrame({"deal_id": pd.Series(batch.deal_ids, dtype=object)})
    deleted = _replace_rows(con, table, frame, scope=deals, scope_match="d.deal_id = t.deal_id")
    return MergeStats(table, len(batch.frame), len(frame), deleted)


def merge_batch(con: duckdb.DuckDBPyConnection, batch: Batch) -> MergeStats:
    """Merge one validated batch into its raw table in a single transaction (idempotent)."""
    ensure_raw_schema(con)
    table = batch.table
    if batch.source == "meta_ads":
        return _merge_meta(con, batch, table)
    if batch.entity == "deal_contacts":
        return _merge_deal_contacts(con, batch, table)
    if batch.source == "ecb_fx":
        return _merge_fx(con, batch, table)
    return _merge_objects(con, batch, table)


def _merge_fx(con: duckdb.DuckDBPyConnection, batch: Batch, table: str) -> MergeStats:
    if batch.entity == "rate_overrides":
        scope = pd.DataFrame({"all": [1]})
        deleted = _replace_rows(con, table, batch.frame, scope=scope, scope_match="true")
    else:
        scope = batch.frame[list(ECB_FX_RATE_KEY)]
        match = " and ".join(f"d.{c} = t.{c}" for c in ECB_FX_RATE_KEY)
        deleted = _replace_rows(con, table, batch.frame, scope=scope, scope_match=match)
    return MergeStats(table, len(batch.frame), len(batch.frame), deleted)

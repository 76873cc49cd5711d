"""Raw load: flattening landed pages, batching manifests, idempotent merges."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from reach2revenue import cursors as state
from reach2revenue import raw
from reach2revenue.landing import (
    Manifest,
    list_manifests,
    partition_dir,
    read_manifest,
    write_manifest,
    write_page,
)
from reach2revenue.sources import get_source, raw_tables

TABLES = raw_tables()
META = get_source("meta_ads").table("insights")
CONTACTS = get_source("hubspot").table("contacts")


def land(
    landing: Path,
    source: str,
    entity: str,
    partition_date: str,
    extraction_id: str,
    extracted_at: str,
    pages: Sequence[dict[str, Any]],
    params: dict[str, Any] | None = None,
    window: tuple[str, str] | None = None,
) -> Path:
    """Write pages and a manifest exactly as an extractor would."""
    directory = partition_dir(landing, source, entity, partition_date, extraction_id)
    names = [write_page(directory, n, json.dumps(page)) for n, page in enumerate(pages, 1)]
    records = sum(len(p.get("data") or p.get("results") or []) for p in pages)
    start, end = window or (partition_date, partition_date)
    manifest = Manifest(
        source=source,
        entity=entity,
        partition_date=partition_date,
        window_start=start,
        window_end=end,
        extraction_id=extraction_id,
        extracted_at=extracted_at,
        pages=names,
        record_count=records,
        request_count=len(pages),
        params=params or {},
    )
    return write_manifest(directory, manifest)


def insight(account: str, campaign: str, day: str, country: str, spend: str) -> dict[str, Any]:
    """One Meta insights row as the API sends it."""
    return {
        "account_id": account,
        "account_currency": "USD",
        "campaign_id": campaign,
        "campaign_name": f"Campaign {campaign}",
        "date_start": day,
        "date_stop": day,
        "country": country,
        "impressions": "1000",
        "reach": "800",
        "clicks": "20",
        "spend": spend,
        "actions": [{"action_type": "lead", "value": "2"}],
    }


def land_meta(
    landing: Path, account: str, day: str, stamp: str, rows: Sequence[dict[str, Any]]
) -> Path:
    """Land one Meta account-day (one page per two rows, to exercise multi-page)."""
    pages: list[dict[str, Any]] = [
        {"data": list(rows[i : i + 2]), "paging": {"next": "https://x/?access_token=SECRET"}}
        for i in range(0, len(rows), 2)
    ] or [{"data": []}]
    next_day = f"{day[:8]}{int(day[8:]) + 1:02d}"
    return land(
        landing,
        "meta_ads",
        "insights",
        day,
        f"{account}-{stamp}",
        f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:00:00Z",
        pages,
        params={"account_id": account},
        window=(day, next_day),
    )


def contact(cid: str, modified: str, email: str | None) -> dict[str, Any]:
    """A HubSpot contact search result (every requested property, null when unset)."""
    return {
        "id": cid,
        "properties": {
            "email": email,
            "firstname": "Ada",
            "lastname": None,
            "country": None,
            "hs_analytics_source": None,
            "utm_source": None,
            "utm_medium": None,
            "utm_campaign": None,
            "createdate": "2026-09-01T08:00:00.000Z",
            "lastmodifieddate": modified,
            "hs_object_id": cid,
        },
        "createdAt": "2026-09-01T08:00:00.000Z",
        "updatedAt": modified,
        "archived": False,
    }


def land_contacts(landing: Path, stamp: str, records: Sequence[dict[str, Any]]) -> Path:
    """Land one contacts search extraction."""
    return land(
        landing,
        "hubspot",
        "contacts",
        "2026-09-01",
        stamp,
        f"2026-09-0{stamp[-1]}T02:00:00Z",
        [{"total": len(records), "results": list(records)}],
        window=("2026-09-01T00:00:00Z", f"2026-09-0{int(stamp[-1]) + 1}T00:00:00Z"),
    )


def land_links(
    landing: Path, stamp: str, links: dict[str, list[str]], asked: Sequence[str]
) -> Path:
    """Land one deal_contacts batch-read extraction (deals without links are omitted)."""
    results = [
        {
            "from": {"id": deal},
            "to": [
                {
                    "toObjectId": int(c),
                    "associationTypes": [
                        {"category": "USER_DEFINED", "typeId": 7, "label": "Buyer"},
                        {"category": "HUBSPOT_DEFINED", "typeId": 3, "label": None},
                    ],
                }
                for c in contacts
            ],
        }
        for deal, contacts in links.items()
        if contacts
    ]
    return land(
        landing,
        "hubspot",
        "deal_contacts",
        "2026-09-01",
        stamp,
        f"2026-09-0{stamp[-1]}T02:00:00Z",
        [{"status": "COMPLETE", "results": results}],
        params={"deal_ids": list(asked)},
        window=("2026-09-01T00:00:00Z", "2026-09-02T00:00:00Z"),
    )


def load(con: duckdb.DuckDBPyConnection, paths: Sequence[Path]) -> list[raw.MergeStats]:
    """What the pipeline does after validation."""
    raw.ensure_raw_schema(con, TABLES.values())
    return [raw.merge_batch(con, batch) for batch in raw.batches_from_manifests(paths, TABLES)]


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    """Query helper (fetchall: see duckdb 2.0 note in raw.py)."""
    return con.execute(sql).fetchall()


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse."""
    connection = duckdb.connect()
    yield connection
    connection.close()


def test_frame_has_exactly_the_raw_columns_as_strings(tmp_path: Path) -> None:
    path = land_meta(
        tmp_path,
        "1001",
        "2026-09-01",
        "20260902T02",
        [insight("1001", "c1", "2026-09-01", "US", "1.5")],
    )
    (batch,) = raw.batches_from_manifests([path], TABLES)
    assert list(batch.frame.columns) == [
        *META.columns,
        "_landed_file",
        "_extraction_id",
    ]
    record = batch.frame.to_dict("records")[0]
    assert record["spend"] == "1.5"
    assert json.loads(record["actions"]) == [{"action_type": "lead", "value": "2"}]
    assert Path(record["_landed_file"]).name == "page-00001.json"
    assert batch.table.qualified_name == "raw.meta_ads_insights"
    assert batch.label == "meta_ads/insights 2026-09-01..2026-09-01"
    assert batch.loaded_through.isoformat() == "2026-09-02T00:00:00+00:00"
    # The page was redacted when landed.
    assert "SECRET" not in Path(record["_landed_file"]).read_text()

    contacts = land_contacts(tmp_path, "s1", [contact("7", "2026-09-01T10:00:00Z", None)])
    (batch,) = raw.batches_from_manifests([contacts], TABLES)
    record = batch.frame.to_dict("records")[0]
    assert record["email"] is None and record["archived"] == "false"  # null -> None
    assert record["id"] == "7"


def test_batches_order_parents_before_children(tmp_path: Path) -> None:
    paths = [
        land_links(tmp_path, "s1", {"d1": ["1"]}, ["d1"]),
        land_contacts(tmp_path, "s1", [contact("1", "2026-09-01T10:00:00Z", "a@x")]),
        land_meta(tmp_path, "1001", "2026-09-01", "20260902T02", []),
    ]
    batches = raw.batches_from_manifests(paths, TABLES)
    assert [(b.source, b.entity) for b in batches] == [
        ("meta_ads", "insights"),
        ("hubspot", "contacts"),
        ("hubspot", "deal_contacts"),
    ]
    assert sorted(list_manifests(tmp_path)) == sorted(paths)
    assert list_manifests(tmp_path, source="hubspot", entity="contacts") == [paths[1]]


def test_loading_the_same_manifests_twice_leaves_one_copy(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    paths = [
        land_meta(
            tmp_path,
            "1001",
            "2026-09-01",
            "20260902T02",
            [insight("1001", c, "2026-09-01", k, "2.00") for c in ("c1", "c2") for k in "AB"],
        ),
        land_contacts(
            tmp_path, "s1", [contact(str(n), "2026-09-01T10:00:00Z", f"{n}@x") for n in range(3)]
        ),
        land_links(tmp_path, "s1", {"d1": ["1", "2"], "d2": ["3"]}, ["d1", "d2"]),
    ]
    load(con, paths)
    load(con, paths)
    load(con, [*paths, *paths])  # the same manifest listed twice in one run counts once
    assert rows(con, "select count(*) from raw.meta_ads_insights") == [(4,)]
    assert rows(con, "select count(*), count(distinct id) from raw.hubspot_contacts") == [(3, 3)]
    assert rows(
        con,
        "select deal_id, contact_id, association_type_id "
        "from raw.hubspot_deal_contacts order by all",
    ) == [
        ("d1", "1", "3"),
        ("d1", "2", "3"),
        ("d2", "3", "3"),
    ]
    loaded_at = rows(con, "select count(*) from raw.meta_ads_insights where _loaded_at is null")
    assert loaded_at == [(0,)]


def test_older_versions_never_overwrite_newer(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    older = land_contacts(tmp_path, "s1", [contact("1", "2026-09-01T10:00:00.000Z", "old@x")])
    newer = land_contacts(tmp_path, "s2", [contact("1", "2026-09-02T09:00:00Z", "new@x")])

    (stats,) = load(con, [newer])
    assert stats.inserted == 1
    (stats,) = load(con, [older])  # a replayed, older extraction arrives late
    assert stats.skipped_older == 1 and stats.inserted == 0
    assert rows(con, "select email from raw.hubspot_contacts") == [("new@x",)]

    # Both versions in one batch, in either order: the newest modified wins.
    for order in ([older, newer], [newer, older]):
        fresh = duckdb.connect()
        load(fresh, order)
        assert rows(fresh, "select email, lastmodifieddate from raw.hubspot_contacts") == [
            ("new@x", "2026-09-02T09:00:00Z")
        ]
        fresh.close()

    # A genuinely newer version does replace the stored one.
    newest = land_contacts(tmp_path, "s3", [contact("1", "2026-09-03T09:00:00Z", "newest@x")])
    (stats,) = load(con, [newest])
    assert (stats.inserted, stats.deleted) == (1, 1)
    assert rows(con, "select email from raw.hubspot_contacts") == [("newest@x",)]


def test_a_raw_table_from_before_a_new_column_gains_it(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    # raw.hubspot_contacts as a warehouse loaded before utm_medium was requested has it.
    columns = [c for c in TABLES[("hubspot", "contacts")].columns if c != "utm_medium"]
    column_sql = ", ".join(f"{c} varchar" for c in (*columns, *raw.LINEAGE_COLUMNS))
    con.execute("create schema raw")
    con.execute(f"create table raw.hubspot_contacts ({column_sql}, _loaded_at timestamptz)")
    con.execute(
        "insert into raw.hubspot_contacts (id, email, lastmodifieddate) "
        "values ('0', 'before@x', '2026-08-01T00:00:00Z')"
    )
    record = contact("1", "2026-09-01T10:00:00Z", "after@x")
    record["properties"]["utm_medium"] = "cpc"
    load(con, [land_contacts(tmp_path, "s1", [record])])
    load(con, [land_contacts(tmp_path, "s1", [record])])  # idempotent with the new column
    stored = "select id, email, utm_medium, _loaded_at is null from raw.hubspot_contacts"
    assert rows(con, f"{stored} order by id") == [
        ("0", "before@x", None, True),
        ("1", "after@x", "cpc", False),
    ]


def test_meta_day_replacement_removes_vanished_rows(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    day = "2026-09-01"
    first = land_meta(
        tmp_path,
        "1001",
        day,
        "20260902T02",
        [insight("1001", "c1", day, "US", "5.00"), insight("1001", "c2", day, "DE", "3.00")],
    )
    other_day = land_meta(
        tmp_path,
        "1001",
        "2026-09-02",
        "20260903T02",
        [insight("1001", "c1", "2026-09-02", "US", "1")],
    )
    other_account = land_meta(
        tmp_path, "1002", day, "20260902T02", [insight("1002", "c9", day, "FR", "9.00")]
    )
    load(con, [first, other_day, other_account])
    assert rows(con, "select count(*) from raw.meta_ads_insights") == [(4,)]

    # Meta restates the day: c2 vanished and c1's spend changed.
    restated = land_meta(
        tmp_path, "1001", day, "20260904T02", [insight("1001", "c1", day, "US", "4.50")]
    )
    (stats,) = load(con, [restated])
    assert (stats.deleted, stats.inserted) == (2, 1)
    assert rows(
        con,
        f"select campaign_id, spend from raw.meta_ads_insights "
        f"where account_id = '1001' and date_start = '{day}'",
    ) == [("c1", "4.50")]
    # Other days and other accounts are untouched.
    assert rows(con, "select count(*) from raw.meta_ads_insights") == [(3,)]

    # A day that now has no delivery at all is emptied too.
    empty = land_meta(tmp_path, "1001", day, "20260905T02", [])
    load(con, [empty])
    assert rows(
        con,
        "select count(*) from raw.meta_ads_insights "
        f"where account_id='1001' and date_start='{day}'",
    ) == [(0,)]

    # Several extractions of one day in one run: the newest wins, whatever the order.
    fresh = duckdb.connect()
    load(fresh, [restated, empty, first])
    assert rows(fresh, "select count(*) from raw.meta_ads_insights") == [(0,)]
    (batch,) = raw.batches_from_manifests([restated, first], TABLES)
    assert [m.extraction_id for m in batch.manifests] == ["1001-20260904T02"]
    assert [m.extraction_id for m in batch.superseded] == ["1001-20260902T02"]
    fresh.close()


def test_deal_contacts_replace_each_deals_set(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    load(
        con,
        [
            land_links(
                tmp_path, "s1", {"d1": ["1", "2"], "d2": ["3"], "d3": ["4"]}, ["d1", "d2", "d3"]
            )
        ],
    )
    # Next run: d1 lost contact 2, d2 lost every contact (absent from the response),
    # d3 was not modified (not asked) and keeps its link.
    load(con, [land_links(tmp_path, "s2", {"d1": ["1"]}, ["d1", "d2"])])
    assert rows(con, "select deal_id, contact_id from raw.hubspot_deal_contacts order by all") == [
        ("d1", "1"),
        ("d3", "4"),
    ]


def test_failed_merge_rolls_back(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    path = land_contacts(tmp_path, "s1", [contact("1", "2026-09-01T10:00:00Z", "a@x")])
    load(con, [path])
    (batch,) = raw.batches_from_manifests([path], TABLES)
    batch.frame = batch.frame.drop(columns=["email"])  # breaks the insert mid-transaction
    with pytest.raises(duckdb.Error):
        raw.merge_batch(con, batch)
    assert rows(con, "select id, email from raw.hubspot_contacts") == [("1", "a@x")]


def test_cursor_only_moves_forward(tmp_path: Path) -> None:
    assert state.read_cursor(tmp_path, "hubspot", "deals") is None
    batch_end = read_manifest(
        land_contacts(tmp_path, "s3", [contact("1", "2026-09-02T10:00:00Z", "a@x")])
    ).window_end
    assert batch_end == "2026-09-04T00:00:00Z"
    from datetime import UTC, datetime

    state.advance_cursor(tmp_path, "hubspot", "deals", datetime(2026, 9, 4, tzinfo=UTC))
    state.advance_cursor(tmp_path, "hubspot", "deals", datetime(2026, 8, 1, tzinfo=UTC))
    assert state.read_cursor(tmp_path, "hubspot", "deals") == datetime(2026, 9, 4, tzinfo=UTC)
    assert state.cursor_path(tmp_path, "hubspot", "deals").parent.name == "_state"


def _big_frame(columns: Sequence[str], values: dict[str, list[str]], n: int) -> pd.DataFrame:
    """An n-row batch frame: given columns from ``values``, the rest constant strings."""
    data = {c: values.get(c, [f"{c}-value"] * n) for c in (*columns, *raw.LINEAGE_COLUMNS)}
    return pd.DataFrame(data, dtype=object)


def test_merges_of_100k_rows_stay_idempotent(con: duckdb.DuckDBPyConnection) -> None:
    n = 100_000
    meta = _big_frame(
        META.columns,
        {
            "account_id": [str(1000 + i % 4) for i in range(n)],
            "campaign_id": [f"c{i // 200}" for i in range(n)],
            "date_start": ["2026-09-01"] * n,
            "country": [f"C{(i // 4) % 50}" for i in range(n)],
        },
        n,
    )
    contacts = _big_frame(
        CONTACTS.columns,
        {
            "id": [str(i) for i in range(n)],
            "lastmodifieddate": [f"2026-09-01T10:{i % 60:02d}:00.000Z" for i in range(n)],
        },
        n,
    )
    raw.ensure_raw_schema(con, TABLES.values())
    for batch in (raw.Batch(META, [], meta), raw.Batch(CONTACTS, [], contacts)):
        # Speed belongs in the bench command; here only the data is asserted.
        first = raw.merge_batch(con, batch)
        again = raw.merge_batch(con, batch)
        assert first.inserted == again.inserted == again.deleted == n
        assert rows(con, f"select count(*) from {batch.table.qualified_name}") == [(n,)]

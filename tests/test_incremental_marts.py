"""The day-grained marts build incrementally and a full refresh gives the same tables.

Whole nights run in process against the stand-ins (extract, load, dbt build, publish).
A history load builds the marts from nothing; a nightly then builds them incrementally
(delete+insert of the days in the lookback window and of older days whose source rows
changed); ``dbt build --full-refresh`` afterwards must give byte-for-byte the same marts:
every table of the published ``main`` schema, every column, rows in order. The one column
allowed to differ is ``mart_freshness.built_at``, the time of the build itself.

The second case is the one a lookback window alone gets wrong: a won deal archived in
HubSpot long after it closed, on a day older than the window.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pytest
import yaml

from inprocess_pipeline import Sandbox, sandbox
from reach2revenue import verify
from reach2revenue.publish import FRESHNESS_MART, FRESHNESS_STAMP_COLUMNS
from reach2revenue.sandbox.world import STAGE_WON, Deal, World, parse_instant
from reach2revenue.sources import dbt_union_vars
from reach2revenue.transform import dbt_build

START = date(2026, 8, 3)
DAYS = 40  # more than the 30-day lookback: the first days are outside it
LOOKBACK_DAYS = 30
HISTORY_LAST_DAY = START + timedelta(days=DAYS - 2)
NIGHTLY_DAY = START + timedelta(days=DAYS - 1)  # the world's last day
AFTER_WORLD_DAY = START + timedelta(days=DAYS)  # the night after the world ends
REPORTING_TZ = "Europe/Berlin"
# Differ between any two builds by design: when the build ran (and, in a published
# copy, when it was published): the stamps publish itself declares.
BUILD_TIME_COLUMNS = {FRESHNESS_MART: set(FRESHNESS_STAMP_COLUMNS)}

Snapshot = dict[str, list[tuple[Any, ...]]]
MARTS_DIR = Path(__file__).resolve().parents[1] / "dbt_project" / "models" / "marts"
CONTRACTED_MARTS = {
    "_marts__models.yml": (
        "region_daily_performance",
        "ad_performance_daily",
        "regions",
        "mart_freshness",
    ),
    "data_quality/_data_quality__models.yml": (
        "data_quality_unconverted_amounts",
        "data_quality_unmapped_countries",
    ),
}


@dataclass
class Nights:
    box: Sandbox
    nightly: dict[str, Any]


def snapshot_marts(warehouse: Path) -> Snapshot:
    """Every table of the marts' schema: all columns, rows ordered by every column."""
    tables: Snapshot = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = con.execute(
            "select table_name from duckdb_tables() where schema_name = 'main' order by 1"
        ).fetchall()
        for (table,) in names:
            columns = [
                name
                for (name,) in con.execute(
                    "select column_name from duckdb_columns() "
                    "where schema_name = 'main' and table_name = ? order by column_index",
                    [table],
                ).fetchall()
                if name not in BUILD_TIME_COLUMNS.get(table, set())
            ]
            selected = ", ".join(f'"{name}"' for name in columns)
            tables[table] = con.execute(
                f'select {selected} from main."{table}" order by all'
            ).fetchall()
    return tables


def assert_identical(incremental: Snapshot, full_refresh: Snapshot) -> None:
    assert sorted(incremental) == sorted(full_refresh)
    differences = {
        table: {
            "incremental_only": sorted(set(rows) - set(full_refresh[table]), key=str)[:5],
            "full_refresh_only": sorted(set(full_refresh[table]) - set(rows), key=str)[:5],
            "rows": (len(rows), len(full_refresh[table])),
        }
        for table, rows in incremental.items()
        if rows != full_refresh[table]
    }
    assert not differences, json.dumps(differences, indent=1, default=str)


def full_refresh(box: Sandbox) -> Snapshot:
    summary = dbt_build(box.settings, full_refresh=True, extra_vars=dbt_union_vars())
    print(f"full refresh: dbt build {summary.elapsed_seconds} s")
    return snapshot_marts(box.settings.warehouse_path)


def _reporting_day(instant: datetime) -> date:
    return instant.astimezone(ZoneInfo(REPORTING_TZ)).date()


def _old_won_hubspot_deal(world: World, before: date) -> tuple[Deal, date, Decimal]:
    """A won, live HubSpot deal with a contact, closed before ``before``: deal, day, EUR."""
    contacts = world.contacts_by_id()
    candidates = []
    for deal in world.deals:
        properties = deal.versions[-1].properties
        if deal.archived_at is not None or properties.get("dealstage") != STAGE_WON:
            continue
        day = _reporting_day(parse_instant(str(properties["closedate"])))
        if deal.contact_id in contacts and START <= day < before:
            amount = Decimal(str(properties["amount"]))
            converted = world.fx.convert(amount, str(properties["deal_currency_code"]), "EUR", day)
            assert converted is not None
            candidates.append((converted.amount, deal.id, deal, day))
    assert candidates, f"the world has no won HubSpot deal closed before {before}"
    eur, _, deal, day = max(candidates)
    return deal, day, eur


def _revenue_on(warehouse: Path, day: date) -> Decimal:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (revenue,) = con.execute(
            "select sum(revenue_won) from main.region_daily_performance where report_date = ?",
            [day],
        ).fetchall()[0]
    return Decimal(str(revenue))


@pytest.mark.parametrize(
    ("yaml_file", "name"),
    [(file, name) for file, names in CONTRACTED_MARTS.items() for name in names],
)
def test_the_mart_enforces_a_contract_with_a_type_and_a_description_per_column(
    yaml_file: str, name: str
) -> None:
    models = yaml.safe_load((MARTS_DIR / yaml_file).read_text())["models"]
    (model,) = [m for m in models if m["name"] == name]
    assert model["config"]["contract"] == {"enforced": True}
    assert model["columns"]
    untyped = [c["name"] for c in model["columns"] if not c.get("data_type")]
    undescribed = [c["name"] for c in model["columns"] if not c.get("description")]
    assert (untyped, undescribed) == ([], [])


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nights]:
    """History (the marts built from nothing), then one nightly (built incrementally)."""
    home = tmp_path_factory.mktemp("incremental")
    with sandbox(home, start=START, days=DAYS) as box:
        history = box.night(START, HISTORY_LAST_DAY)
        print(f"history: dbt build {history['build']['elapsed_seconds']} s")
        nightly = box.night(NIGHTLY_DAY)
        print(f"nightly: dbt build {nightly['build']['elapsed_seconds']} s")
        yield Nights(box, nightly)


@pytest.mark.slow
def test_a_full_refresh_after_a_nightly_gives_identical_marts(nights: Nights) -> None:
    box = nights.box
    incremental = snapshot_marts(box.settings.warehouse_path)
    assert len(incremental["region_daily_performance"]) >= 10 * DAYS
    assert {row[0] for row in incremental["mart_freshness"]} == set(incremental) - {
        "mart_freshness"
    }
    # The nightly's day arrived incrementally: the marts reach it and match the truth.
    mart = verify.mart_region_days(box.settings.published_path)
    comparison = verify.compare(mart, box.truth, first_day=START, last_day=NIGHTLY_DAY)
    assert comparison.region_days > 0
    assert comparison.matches, json.dumps(comparison.mismatches[:20], indent=1, default=str)

    assert_identical(incremental, full_refresh(box))


@pytest.mark.slow
def test_the_published_marts_carry_descriptions_and_publication_time(nights: Nights) -> None:
    published_at = datetime.fromisoformat(nights.nightly["publish"]["published_at"])
    with duckdb.connect(str(nights.box.settings.published_path), read_only=True) as con:
        undescribed = con.execute(
            "select table_name, column_name from duckdb_columns() "
            "where schema_name = 'main' and table_name in "
            "('region_daily_performance', 'ad_performance_daily', 'mart_freshness', "
            "'regions', 'data_quality_unconverted_amounts', 'data_quality_unmapped_countries') "
            "and coalesce(comment, '') = ''"
        ).fetchall()
        spend_comment = con.execute(
            "select comment from duckdb_columns() where table_name = 'ad_performance_daily' "
            "and column_name = 'spend_in_reporting_currency'"
        ).fetchall()
        freshness = con.execute(
            "select mart_name, data_through, built_at, published_at from main.mart_freshness "
            "order by mart_name"
        ).fetchall()
        (last_region_day,) = con.execute(
            "select max(report_date) from main.region_daily_performance"
        ).fetchall()[0]
    assert undescribed == []
    assert "decimal(18,2)" in spend_comment[0][0]
    by_name = {name: (through, built, published) for name, through, built, published in freshness}
    # Ad days are the accounts' days; a deal closed late on the last day may fall on the
    # next day in the reporting time zone.
    assert by_name["ad_performance_daily"][0] == NIGHTLY_DAY
    assert by_name["region_daily_performance"][0] == last_region_day >= NIGHTLY_DAY
    assert by_name["regions"][0] is None
    assert {published.astimezone(UTC) for _, _, published in by_name.values()} == {published_at}
    assert all(built <= published for _, built, published in by_name.values())


@pytest.mark.slow
def test_a_deal_archived_long_after_it_closed_leaves_the_incremental_marts_equal_to_a_full_refresh(
    nights: Nights,
) -> None:
    box = nights.box
    world = box.world
    # A day the lookback window of the next nightly does not reach.
    deal, deal_day, deal_eur = _old_won_hubspot_deal(
        world, before=NIGHTLY_DAY - timedelta(days=LOOKBACK_DAYS + 1)
    )
    revenue_before = _revenue_on(box.settings.warehouse_path, deal_day)
    world.archive_deal(deal.id, world.end + timedelta(hours=2))
    box.servers.reindex()
    box.servers.set_clock(
        datetime.combine(AFTER_WORLD_DAY + timedelta(days=1), datetime.min.time(), UTC)
        + timedelta(hours=2)
    )
    try:
        box.night(AFTER_WORLD_DAY)
    finally:
        box.servers.set_clock(None)

    # The incremental build rewrote the old day: the archived deal's revenue left it.
    assert _revenue_on(box.settings.warehouse_path, deal_day) == revenue_before - deal_eur
    assert deal_eur > 0
    incremental = snapshot_marts(box.settings.warehouse_path)
    assert_identical(incremental, full_refresh(box))

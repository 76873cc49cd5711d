"""The dbt project end to end on a small hand-made raw dataset.

One temporary warehouse is built once per module (``dbt build``: seeds, models, data
tests, unit tests); the tests then check the data itself against values computed by
hand from the raw strings below and ECB-style rates (units per euro):

- rates are published on Friday 2026-03-27, Monday 03-30 and Wednesday 04-01 only:
  the weekend 03-28/29 and 03-31 fall back to the last earlier rate, flagged stale;
- AED is not an ECB currency: its rate comes from the user's override file;
- BGN converts at the irrevocable 1.95583 (Bulgaria adopted the euro on 2026-01-01);
- KES is a real ISO 4217 code with no rate at all: counted, not converted;
- a deal closed at 2026-03-29T23:30:00Z counts on 2026-03-30 (Europe/Berlin, CEST).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from reach2revenue.email_hash import email_hash, resolve_email_hash_key
from reach2revenue.reference.fx import convert_exact
from reach2revenue.settings import Settings
from reach2revenue.sources import raw_tables
from reach2revenue.transform import (
    DbtBuildError,
    DbtRunSummary,
    dbt_build,
    dbt_parse,
    read_data_quality_findings,
)

# The raw tables exactly as the loader creates them (docs/architecture.md).
RAW_COLUMNS: dict[str, list[str]] = {
    table.name: list(table.columns) for table in raw_tables().values()
}


def _actions(*pairs: tuple[str, int]) -> str:
    """Meta ``actions`` as the Graph API sends it: a JSON list with string values."""
    return json.dumps([{"action_type": kind, "value": str(value)} for kind, value in pairs])


ACCOUNT_CURRENCIES = {"1001": "EUR", "2002": "JPY", "3003": "GBP", "4004": "AED"}
CAMPAIGN_NAMES = {
    "120210001": "Spring DACH",
    "120210002": "Benelux",
    "120220001": "Japan launch",
    "120230001": "UK prospecting",
    "120240001": "Gulf launch",
}
# account_id, campaign_id, date_start (= date_stop), country, impressions, reach, clicks,
# spend, actions
_INSIGHTS = [
    ("1001", "120210001", "2026-03-28", "DE", "1000", "800", "50", "12.34",
     _actions(("link_click", 50), ("lead", 3))),
    ("1001", "120210001", "2026-03-28", "AT", "500", "400", "20", "5.66", _actions(("lead", 1))),
    ("1001", "120210002", "2026-03-28", "NL", "300", "250", "9", "7.50", None),
    ("2002", "120220001", "2026-03-29", "JP", "4000", "3100", "120", "1234",
     _actions(("lead", 2), ("onsite_conversion.lead_grouped", 2))),
    ("2002", "120220001", "2026-04-01", "JP", "9000", "7000", "300", "5000", "[]"),
    ("3003", "120230001", "2026-03-30", "GB", "2500", "2000", "80", "100.00",
     _actions(("lead", 5))),
    ("3003", "120230001", "2026-03-30", "unknown", "40", "35", "1", "3.10", None),
    ("4004", "120240001", "2026-03-30", "AE", "800", "700", "12", "50.00", None),
]  # fmt: skip
META_INSIGHTS = [
    (account, ACCOUNT_CURRENCIES[account], campaign, CAMPAIGN_NAMES[campaign], day, day, *rest)
    for account, campaign, day, *rest in _INSIGHTS
]

_TS = "2026-03-01T09:00:00Z"
HUBSPOT_CONTACTS = [
    # id, email, firstname, lastname, country, hs_analytics_source; utm_*, the four
    # timestamps and archived are added in load_raw_dataset
    ("901", "Anna.Mueller@Example.com ", "Anna", "Müller", "Deutschland", "PAID_SOCIAL"),
    ("902", "jonas.weber@example.de", "Jonas", "Weber", " germany ", "ORGANIC_SEARCH"),
    ("903", "lea.huber@example.at", "Lea", "Huber", "DE", "DIRECT_TRAFFIC"),
    ("904", "max.power@example.com", "Max", "Power", "Narnia", "DIRECT_TRAFFIC"),
    ("905", "oliver.smith@example.co.uk", "Oliver", "Smith", "United Kingdom", "PAID_SOCIAL"),
    ("906", "haruto.sato@example.jp", "Haruto", "Sato", "Japon", "PAID_SOCIAL"),
    ("907", "no.country@example.com", "No", "Country", None, "OFFLINE"),
    ("908", "ivan.petrov@example.bg", "Ivan", "Petrov", "Bulgarien", "OFFLINE"),
    ("1001", "zed.zero@example.com", "Zed", "Zero", "Atlantis", "REFERRALS"),
]
HUBSPOT_DEALS = [
    # id, dealname, amount, currency, stage, closedate, archived
    ("5001", "Müller GmbH annual plan", "1000.00", "EUR", "closedwon", "2026-03-29T23:30:00Z",
     "false"),
    ("5002", "Sato KK pilot", "50000", "JPY", "closedwon", "2026-03-29T10:00:00Z", "false"),
    ("5003", "Smith & Sons", "250.50", "GBP", "closedwon", "2026-03-30T12:00:00.000Z", "false"),
    ("5004", "Weber lost", "700", "EUR", "closedlost", "2026-03-30T09:00:00Z", "false"),
    ("5005", "Anonymous US", "120.00", "USD", "closedwon", "2026-04-01T08:00:00Z", "false"),
    ("5006", "Huber open", "9999", "EUR", "appointmentscheduled", "2026-06-30T00:00:00Z", "false"),
    ("5007", "Deleted win", "500", "EUR", "closedwon", "2026-03-31T10:00:00Z", "true"),
    ("5008", "Nairobi pilot", "1000", "KES", "closedwon", "2026-04-01T09:00:00Z", "false"),
    ("5009", "Petrov OOD", "391.17", "BGN", "closedwon", "2026-03-30T11:00:00Z", "false"),
]  # fmt: skip
# currency, TIME_PERIOD, OBS_VALUE as the ECB's SDMX-CSV writes them (units per euro)
ECB_RATES = [
    ("JPY", "2026-03-27", "170.50"),
    ("JPY", "2026-03-30", "171.25"),
    ("JPY", "2026-04-01", "172.00"),
    ("GBP", "2026-03-27", "0.86300"),
    ("GBP", "2026-03-30", "0.86500"),
    ("USD", "2026-03-27", "1.0815"),
    ("USD", "2026-03-30", "1.0824"),
    ("USD", "2026-04-01", "1.0850"),
    ("BGN", "2025-12-31", "1.9558"),  # the last ECB rate before adoption
]
# the user's override file: AED is not published by the ECB
FX_RATE_OVERRIDES = [("AED", "2026-03-27", "3.9700")]
HUBSPOT_DEAL_CONTACTS = [
    ("5001", "901", "3"),
    ("5002", "906", "3"),
    ("5003", "1001", "3"),
    ("5003", "905", "3"),
    ("5004", "902", "3"),
    ("5006", "903", "3"),
    ("5007", "903", "3"),
    ("5005", "999", "3"),  # contact not loaded (yet): the deal stays Unassigned
    ("5008", "905", "3"),
    ("5009", "908", "3"),
]

REGIONS = [
    "APAC",
    "DACH",
    "Eastern Europe",
    "Latin America",
    "Middle East & Africa",
    "Nordics",
    "North America",
    "UK & Ireland",
    "Unassigned",
    "Western Europe",
]
DAYS = [
    date(2026, 3, 28),
    date(2026, 3, 29),
    date(2026, 3, 30),
    date(2026, 3, 31),
    date(2026, 4, 1),
]

# (region, day) -> spend, impressions, reach, clicks, leads, deals_won, revenue_won, roas,
# unconverted_spend_rows, unconverted_deals
EXPECTED_ACTIVITY: dict[tuple[str, date], tuple[Any, ...]] = {
    # 12.34 + 5.66 EUR (no rate needed); leads 3 + 1
    ("DACH", date(2026, 3, 28)): ("18.00", 1500, 1200, 70, 4, 0, "0.00", "0.0000", 0, 0),
    ("Western Europe", date(2026, 3, 28)): ("7.50", 300, 250, 9, 0, 0, "0.00", "0.0000", 0, 0),
    # Sunday: Friday's JPY rate. spend 1234 / 170.50 = 7.2375...; deal 50000 / 170.50 =
    # 293.2551...; roas 293.26 / 7.24 = 40.5055...
    ("APAC", date(2026, 3, 29)): ("7.24", 4000, 3100, 120, 2, 1, "293.26", "40.5055", 0, 0),
    # closed 2026-03-29T23:30:00Z = 2026-03-30 01:30 in Berlin
    ("DACH", date(2026, 3, 30)): ("0.00", 0, 0, 0, 0, 1, "1000.00", None, 0, 0),
    # 391.17 BGN / 1.95583 (irrevocable) = 200.0020...
    ("Eastern Europe", date(2026, 3, 30)): ("0.00", 0, 0, 0, 0, 1, "200.00", None, 0, 0),
    # 100.00 GBP / 0.86500 = 115.6069...; deal 250.50 / 0.86500 = 289.5953...
    # (region of the lowest contact id 905, not "1001"); roas 289.60 / 115.61 = 2.5050...
    ("UK & Ireland", date(2026, 3, 30)): (
        "115.61", 2500, 2000, 80, 5, 1, "289.60", "2.5050", 0, 0
    ),
    # country "unknown": 3.10 GBP / 0.86500 = 3.5838...
    ("Unassigned", date(2026, 3, 30)): ("3.58", 40, 35, 1, 0, 0, "0.00", "0.0000", 0, 0),
    # AED override of Friday (3 days old): 50.00 / 3.9700 = 12.5944...
    ("Middle East & Africa", date(2026, 3, 30)): (
        "12.59", 800, 700, 12, 0, 0, "0.00", "0.0000", 0, 0
    ),
    # 5000 JPY / 172.00 = 29.0697... (Monday's rate would give 29.20)
    ("APAC", date(2026, 4, 1)): ("29.07", 9000, 7000, 300, 0, 0, "0.00", "0.0000", 0, 0),
    # deal without contact: 120.00 USD / 1.0850 = 110.5990...
    ("Unassigned", date(2026, 4, 1)): ("0.00", 0, 0, 0, 0, 1, "110.60", None, 0, 0),
    # KES has no rate anywhere: won, counted, not converted
    ("UK & Ireland", date(2026, 4, 1)): ("0.00", 0, 0, 0, 0, 1, "0.00", None, 0, 1),
}  # fmt: skip

MART_COLUMNS = [
    "region_day_id",
    "region",
    "report_date",
    "reporting_currency_code",
    "spend",
    "impressions",
    "reach",
    "clicks",
    "leads",
    "deals_won",
    "revenue_won",
    "roas",
    "unconverted_spend_rows",
    "unconverted_deals",
    "data_sources",
]
INT_AD_REPORTS = "intermediate.int_ad_reports_converted_to_reporting_currency"
PERSONAL_COLUMNS = {"email", "firstname", "lastname", "dealname", "deal_name"}
# Names of things, not people.
NOT_PERSONAL_NAMES = {
    "campaign_name",
    "channel_name",
    "country_name",
    "field_name",
    "mart_name",
    "source_name",
}


def create_raw_schema(connection: duckdb.DuckDBPyConnection) -> None:
    """Create the raw tables exactly as docs/architecture.md describes them."""
    connection.execute("create schema if not exists raw")
    for table, columns in RAW_COLUMNS.items():
        column_sql = ", ".join(f"{column} varchar" for column in columns)
        connection.execute(
            f"create or replace table raw.{table} ({column_sql}, _landed_file varchar, "
            "_extraction_id varchar, _loaded_at timestamptz)"
        )


def insert_raw(
    connection: duckdb.DuckDBPyConnection, table: str, rows: list[tuple[Any, ...]]
) -> None:
    """Append rows (API columns only) plus lineage columns to one raw table."""
    columns = RAW_COLUMNS[table]
    placeholders = ", ".join("?" for _ in range(len(columns) + 3))
    connection.executemany(
        f"insert into raw.{table} values ({placeholders})",
        [
            (
                *row,
                f"landing/{table}/page-00001.json",
                f"{table}-20260402T030000Z",
                "2026-04-02 03:00:00+00",
            )
            for row in rows
        ],
    )


def load_raw_dataset(warehouse_path: Path) -> None:
    """Create the raw schema and load the hand-made dataset into a new warehouse."""
    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse_path)) as connection:
        create_raw_schema(connection)
        insert_raw(connection, "meta_ads_insights", META_INSIGHTS)
        insert_raw(
            connection,
            "hubspot_contacts",
            [
                (
                    *contact,
                    "facebook",
                    "paid_social" if contact[5] == "PAID_SOCIAL" else None,
                    "spring_2026",
                    _TS,
                    _TS,
                    _TS,
                    _TS,
                    "false",
                )
                for contact in HUBSPOT_CONTACTS
            ],
        )
        insert_raw(
            connection,
            "hubspot_deals",
            [
                (
                    deal_id,
                    name,
                    amount,
                    currency,
                    stage,
                    "default",
                    closed,
                    _TS,
                    closed,
                    _TS,
                    closed,
                    archived,
                )
                for deal_id, name, amount, currency, stage, closed, archived in HUBSPOT_DEALS
            ],
        )
        insert_raw(connection, "hubspot_deal_contacts", HUBSPOT_DEAL_CONTACTS)
        insert_raw(
            connection,
            "ecb_fx_rates",
            [
                (f"EXR.D.{currency}.EUR.SP00.A", "D", currency, "EUR", "SP00", "A", day, value, "A")
                for currency, day, value in ECB_RATES
            ],
        )
        insert_raw(connection, "ecb_fx_rate_overrides", FX_RATE_OVERRIDES)


def query(settings: Settings, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Rows of one query against the built warehouse (read-only)."""
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        return connection.execute(sql, params or []).fetchall()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, DbtRunSummary]]:
    """A warehouse with the raw dataset, built once by ``dbt build``."""
    home = tmp_path_factory.mktemp("r2r_home")
    warehouse_path = home / "warehouse" / "reach2revenue.duckdb"
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("R2R_HOME", str(home))
        monkeypatch.setenv("R2R_WAREHOUSE_PATH", str(warehouse_path))
        monkeypatch.delenv("R2R_REPORTING_CURRENCY", raising=False)
        monkeypatch.delenv("R2R_REPORTING_TIMEZONE", raising=False)
        monkeypatch.delenv("R2R_EMAIL_HASH_KEY", raising=False)  # the generated key
        settings = Settings.from_env()
        load_raw_dataset(settings.warehouse_path)
        monkeypatch.delenv("R2R_WAREHOUSE_PATH")  # dbt_build sets it from the settings
        cwd = Path.cwd()
        summary = dbt_build(settings)
        assert Path.cwd() == cwd
        assert "R2R_WAREHOUSE_PATH" not in os.environ
        assert "R2R_EMAIL_HASH_KEY" not in os.environ  # set only while dbt ran
        yield settings, summary


def test_build_ran_models_seeds_data_tests_and_unit_tests(
    built: tuple[Settings, DbtRunSummary],
) -> None:
    settings, summary = built
    project = settings.dbt_project_dir
    assert summary.seeds_passed == len(list((project / "seeds").glob("*.csv")))
    assert summary.models_passed == len(list((project / "models").rglob("*.sql")))
    assert summary.unit_tests_passed >= 3
    assert summary.data_tests_passed >= 40
    assert summary.skipped == 0
    # only the dangling deal -> contact association warns; warnings do not fail the build
    assert [node.unique_id.split(".")[2] for node in summary.nodes if node.status == "warn"] == [
        "relationships_stg_hubspot__deal_contacts_contact_id__contact_id__ref_stg_hubspot__contacts_"
    ]
    assert summary.warnings == 1
    # Exposures (who reads the marts) are nodes dbt does not run: "no-op".
    assert {node.status for node in summary.nodes if node.resource_type != "exposure"} <= {
        "success",
        "pass",
        "warn",
    }
    assert {node.status for node in summary.nodes if node.resource_type == "exposure"} <= {"no-op"}
    unit_tests = {
        node.unique_id.rsplit(".", 1)[-1]
        for node in summary.nodes
        if node.resource_type == "unit_test"
    }
    assert {
        "test_contacts_country_spellings_map_to_regions",
        "test_deals_converted_at_last_known_rate_on_reporting_day",
        "test_fx_rates_intervals_fall_back_at_most_max_stale_days",
    } <= unit_tests
    assert summary.mart_rows == len(REGIONS) * len(DAYS)
    assert (settings.home / "dbt" / "target" / "manifest.json").exists()
    assert (settings.home / "dbt" / "logs" / "dbt.log").exists()


def test_mart_columns_and_grain(built: tuple[Settings, DbtRunSummary]) -> None:
    settings, _ = built
    columns = query(
        settings,
        "select column_name from information_schema.columns "
        "where table_schema = 'main' and table_name = 'region_daily_performance' "
        "order by ordinal_position",
    )
    assert [column for (column,) in columns] == MART_COLUMNS
    grid = query(
        settings, "select region, report_date from main.region_daily_performance order by 1, 2"
    )
    assert grid == [(region, day) for region in REGIONS for day in DAYS]
    ids = query(
        settings,
        "select region_day_id from main.region_daily_performance "
        "where region = 'UK & Ireland' and report_date = date '2026-03-30'",
    )
    assert ids == [("UK & Ireland|2026-03-30",)]


def test_mart_values_per_region_and_day(built: tuple[Settings, DbtRunSummary]) -> None:
    settings, _ = built
    rows = query(
        settings,
        "select region, report_date, reporting_currency_code, spend, impressions, reach, "
        "clicks, leads, deals_won, revenue_won, roas, unconverted_spend_rows, "
        "unconverted_deals from main.region_daily_performance",
    )
    assert len(rows) == len(REGIONS) * len(DAYS)
    zero = ("0.00", 0, 0, 0, 0, 0, "0.00", None, 0, 0)
    for region, day, currency, *measures in rows:
        expected = EXPECTED_ACTIVITY.get((region, day), zero)
        spend, impressions, reach, clicks, leads, deals_won, revenue, roas, *unconverted = expected
        assert currency == "EUR"
        assert measures == [
            Decimal(spend),
            impressions,
            reach,
            clicks,
            leads,
            deals_won,
            Decimal(revenue),
            None if roas is None else Decimal(roas),
            *unconverted,
        ], (region, day)
    totals = query(
        settings,
        "select sum(spend), sum(revenue_won), sum(deals_won), sum(leads), "
        "sum(unconverted_deals) from main.region_daily_performance",
    )
    assert totals == [(Decimal("193.59"), Decimal("1893.46"), 6, 11, 1)]


def test_empty_day_is_all_zeros(built: tuple[Settings, DbtRunSummary]) -> None:
    """2026-03-31 only has an archived won deal, which does not count."""
    settings, _ = built
    rows = query(
        settings,
        "select distinct spend, impressions, leads, deals_won, revenue_won, roas "
        "from main.region_daily_performance where report_date = date '2026-03-31'",
    )
    assert rows == [(Decimal("0.00"), 0, 0, 0, Decimal("0.00"), None)]


def test_currency_conversions(built: tuple[Settings, DbtRunSummary]) -> None:
    """amount / rate (units per euro), exact, once rounded; stale flags on weekend days."""
    settings, _ = built
    ads = query(
        settings,
        "select currency_code, report_date, spend_in_account_currency, "
        "account_currency_units_per_eur, spend_in_reporting_currency, fx_rate_date, "
        f"is_fx_rate_stale from {INT_AD_REPORTS} "
        "where currency_code in ('JPY', 'GBP', 'AED') order by 1, 2, 3",
    )
    assert ads == [
        ("AED", date(2026, 3, 30), Decimal("50.00"), Decimal("3.97"), Decimal("12.59"),
         date(2026, 3, 27), True),
        ("GBP", date(2026, 3, 30), Decimal("3.10"), Decimal("0.865"), Decimal("3.58"),
         date(2026, 3, 30), False),
        ("GBP", date(2026, 3, 30), Decimal("100.00"), Decimal("0.865"), Decimal("115.61"),
         date(2026, 3, 30), False),
        ("JPY", date(2026, 3, 29), Decimal("1234.00"), Decimal("170.5"), Decimal("7.24"),
         date(2026, 3, 27), True),
        ("JPY", date(2026, 4, 1), Decimal("5000.00"), Decimal("172"), Decimal("29.07"),
         date(2026, 4, 1), False),
    ]  # fmt: skip
    deals = query(
        settings,
        "select deal_id, currency_code, closed_date, deal_currency_units_per_eur, "
        "amount_in_reporting_currency, is_fx_converted, is_fx_rate_stale, region "
        "from intermediate.int_deals_converted_to_reporting_currency "
        "where deal_id in ('5002', '5003', '5005', '5008', '5009') order by 1",
    )
    assert deals == [
        ("5002", "JPY", date(2026, 3, 29), Decimal("170.5"), Decimal("293.26"), True, True,
         "APAC"),
        ("5003", "GBP", date(2026, 3, 30), Decimal("0.865"), Decimal("289.60"), True, False,
         "UK & Ireland"),
        ("5005", "USD", date(2026, 4, 1), Decimal("1.085"), Decimal("110.60"), True, False,
         "Unassigned"),
        ("5008", "KES", date(2026, 4, 1), None, None, False, False, "UK & Ireland"),
        ("5009", "BGN", date(2026, 3, 30), Decimal("1.95583"), Decimal("200.00"), True, False,
         "Eastern Europe"),
    ]  # fmt: skip


def test_reporting_currency_usd_is_the_eur_result_at_that_days_rate(
    built: tuple[Settings, DbtRunSummary], tmp_path: Path
) -> None:
    """Every converted row in USD equals amount * usd / rate rounded once, and differs from
    the EUR result times that day's EUR/USD rate by less than the rounding of the EUR cent."""
    settings, _ = built
    usd = dataclasses.replace(
        settings,
        home=tmp_path,
        warehouse_path=tmp_path / "warehouse" / "reach2revenue.duckdb",
        reporting_currency="USD",
    )
    usd.warehouse_path.parent.mkdir(parents=True)
    shutil.copyfile(settings.warehouse_path, usd.warehouse_path)
    dbt_build(usd, select="+region_daily_performance")
    sql = {
        "deals": "select deal_id, amount_in_deal_currency, deal_currency_units_per_eur, "
        "reporting_currency_units_per_eur, amount_in_reporting_currency "
        "from intermediate.int_deals_converted_to_reporting_currency "
        "where amount_in_reporting_currency is not null order by 1",
        "ads": "select ad_report_key, spend_in_account_currency, account_currency_units_per_eur, "
        "reporting_currency_units_per_eur, spend_in_reporting_currency "
        f"from {INT_AD_REPORTS} order by 1",
    }
    compared = 0
    for name, statement in sql.items():
        in_eur = {row[0]: row for row in query(settings, statement)}
        in_usd = query(usd, statement)
        assert {row[0] for row in in_usd} <= in_eur.keys(), name
        for key, amount, rate, usd_rate, converted in in_usd:
            _, _, _, eur_rate, eur_amount = in_eur[key]
            assert eur_rate == 1
            assert converted == convert_exact(amount, rate, usd_rate), (name, key)
            cent = Decimal("0.01")
            assert abs(converted - eur_amount * usd_rate) <= (usd_rate + 1) * cent / 2, key
            compared += 1
    # 8 ad rows and 7 deals; the open deal closing 2026-06-30 has a EUR amount but no USD
    # rate that far ahead, and KES none at all
    assert compared == 15


def test_unconverted_amounts_and_unmapped_countries_are_listed(
    built: tuple[Settings, DbtRunSummary],
) -> None:
    settings, _ = built
    unconverted = query(
        settings,
        "select source_name, amount_kind, currency_code, region, row_count, "
        "amount_in_original_currency, first_date, last_date "
        "from main.data_quality_unconverted_amounts",
    )
    assert unconverted == [
        ("hubspot", "won_deal_amount", "KES", "UK & Ireland", 1, Decimal("1000.00"),
         date(2026, 4, 1), date(2026, 4, 1)),
    ]  # fmt: skip
    unmapped = query(
        settings,
        "select source_name, country_value, row_count from main.data_quality_unmapped_countries "
        "order by 2",
    )
    # Meta's documented "unknown" is not listed; free-text spellings nobody knows are
    assert unmapped == [("hubspot", "atlantis", 1), ("hubspot", "narnia", 1)]
    # ... and the run says what it could not place, and what to do
    messages = read_data_quality_findings(settings.warehouse_path).messages(7)
    assert messages[0] == (
        "1 won deal amount row(s) of hubspot in KES (UK & Ireland, 2026-04-01..2026-04-01, "
        "1000.00 KES) were not converted: no KES rate within 7 days; add rates to the FX "
        "override file (R2R_FX_RATE_OVERRIDES_PATH)"
    )
    assert messages[1:] == [
        f"country {name!r} from hubspot (1 row(s)) matches no country: add it to "
        "seeds/country_alias_overrides.csv"
        for name in ("atlantis", "narnia")
    ]


def test_deal_closed_late_utc_counts_on_next_berlin_day(
    built: tuple[Settings, DbtRunSummary],
) -> None:
    settings, _ = built
    deal = query(
        settings,
        "select cast(closed_at at time zone 'UTC' as varchar), closed_date, region "
        "from intermediate.int_deals_converted_to_reporting_currency where deal_id = '5001'",
    )
    assert deal == [("2026-03-29 23:30:00", date(2026, 3, 30), "DACH")]
    per_day = query(
        settings,
        "select report_date, deals_won from main.region_daily_performance "
        "where region = 'DACH' and deals_won > 0",
    )
    assert per_day == [(date(2026, 3, 30), 1)]


def test_country_spellings_and_unknown_country(built: tuple[Settings, DbtRunSummary]) -> None:
    settings, _ = built
    contacts = query(
        settings,
        "select contact_id, country_code, region from intermediate.int_contacts_mapped_to_regions "
        "order by length(contact_id), contact_id",
    )
    assert contacts == [
        ("901", "DE", "DACH"),
        ("902", "DE", "DACH"),
        ("903", "DE", "DACH"),
        ("904", None, "Unassigned"),
        ("905", "GB", "UK & Ireland"),
        ("906", "JP", "APAC"),
        ("907", None, "Unassigned"),
        ("908", "BG", "Eastern Europe"),
        ("1001", None, "Unassigned"),
    ]
    ads = query(
        settings,
        f"select country_code, region from {INT_AD_REPORTS} where region = 'Unassigned'",
    )
    assert ads == [("UNKNOWN", "Unassigned")]  # Meta's documented "unknown"


def test_leads_parsed_from_actions_json(built: tuple[Settings, DbtRunSummary]) -> None:
    settings, _ = built
    leads = query(
        settings,
        "select country_code, report_date, leads from staging.stg_meta_ads__ad_reports "
        "order by 2, 1",
    )
    assert leads == [
        ("AT", date(2026, 3, 28), 1),
        ("DE", date(2026, 3, 28), 3),
        ("NL", date(2026, 3, 28), 0),
        ("JP", date(2026, 3, 29), 2),
        ("AE", date(2026, 3, 30), 0),
        ("GB", date(2026, 3, 30), 5),
        ("UNKNOWN", date(2026, 3, 30), 0),
        ("JP", date(2026, 4, 1), 0),
    ]


def test_no_personal_data_beyond_raw(built: tuple[Settings, DbtRunSummary]) -> None:
    settings, _ = built
    columns = query(
        settings,
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_schema not in ('raw', 'information_schema', 'pg_catalog')",
    )
    schemas = {schema for schema, _, _ in columns}
    assert {"main", "staging", "intermediate", "reference"} <= schemas
    leaked = [column for column in columns if column[2].lower() in PERSONAL_COLUMNS]
    assert leaked == []
    downstream = [
        column
        for column in columns
        if column[0] in {"main", "intermediate"}
        and (
            "email" in column[2]
            or (column[2].endswith("name") and column[2] not in NOT_PERSONAL_NAMES)
        )
    ]
    assert downstream == []
    hashes = query(
        settings,
        "select email_hash from staging.stg_hubspot__contacts where contact_id = '901'",
    )
    # keyed with the home's generated key (no key configured): not the plain sha256
    key = resolve_email_hash_key(settings, create=False)
    assert hashes == [(email_hash(key.secret, "anna.mueller@example.com"),)]
    assert hashes != [(_sha256("anna.mueller@example.com"),)]


def test_regions_mart(built: tuple[Settings, DbtRunSummary]) -> None:
    """Every ISO 3166-1 country is in exactly one region; Eastern and Western Europe apart."""
    settings, _ = built
    regions = query(
        settings, "select region, country_codes, country_count from main.regions order by 1"
    )
    assert [region for region, _, _ in regions] == REGIONS
    assert sum(count for _, _, count in regions) == 249
    codes = {region: (codes or "").split(", ") for region, codes, _ in regions}
    assert {"PL", "CZ", "HU", "RO", "BG"} <= set(codes["Eastern Europe"])
    assert {"FR", "ES", "IT", "NL", "BE"} <= set(codes["Western Europe"])
    assert codes["DACH"] == ["AT", "CH", "DE", "LI"]
    assert regions[REGIONS.index("Unassigned")] == ("Unassigned", None, 0)


def test_second_build_changes_nothing(built: tuple[Settings, DbtRunSummary]) -> None:
    settings, first = built
    mart_sql = "select * from main.region_daily_performance order by region_day_id"
    deals_sql = (
        "select * from intermediate.int_deals_converted_to_reporting_currency order by deal_id"
    )
    before = (query(settings, mart_sql), query(settings, deals_sql))
    second = dbt_build(settings)
    assert (query(settings, mart_sql), query(settings, deals_sql)) == before
    assert second.to_dict() | {"elapsed_seconds": 0} == first.to_dict() | {"elapsed_seconds": 0}


def test_failing_data_test_raises_naming_the_node(
    built: tuple[Settings, DbtRunSummary], tmp_path: Path
) -> None:
    settings, _ = built
    broken = _copy_with_hubspot_contacts(
        settings,
        tmp_path,
        # id, email, names, country, source, utm_source/medium/campaign, times, archived
        [("901", *[None] * 3, "France", *[None] * 4, *[_TS] * 4, "false")],
    )
    with pytest.raises(DbtBuildError) as raised:
        dbt_build(broken, select="stg_hubspot__contacts")
    message = str(raised.value)
    assert "test.reach2revenue.unique_stg_hubspot__contacts_contact_id." in message
    assert "[fail] (models/staging/hubspot/_hubspot__models.yml)" in message
    assert [node.unique_id.split(".")[2] for node in raised.value.failures] == [
        "unique_stg_hubspot__contacts_contact_id"
    ]
    # the published-to-be warehouse of the module is untouched
    assert query(settings, "select count(*) from staging.stg_hubspot__contacts") == [(9,)]


def test_null_in_a_required_column_fails_with_the_count_of_nulls(
    built: tuple[Settings, DbtRunSummary], tmp_path: Path
) -> None:
    settings, _ = built
    # Two contacts without an id: stg_hubspot__contacts.contact_id is required.
    contact_without_id = (None, *[None] * 3, "France", *[None] * 4, *[_TS] * 4, "false")
    broken = _copy_with_hubspot_contacts(settings, tmp_path, [contact_without_id] * 2)
    with pytest.raises(DbtBuildError) as raised:
        dbt_build(broken, select="stg_hubspot__contacts")
    [failure] = raised.value.failures
    assert failure.unique_id.split(".")[2] == "columns_not_null_stg_hubspot__contacts_contact_id"
    assert failure.failures == 2  # nulls, summed over the listed columns
    assert "Got 2 results" in (failure.message or "")


def _copy_with_hubspot_contacts(
    settings: Settings, tmp_path: Path, contacts: list[tuple]
) -> Settings:
    """Settings on a copy of the module's warehouse with ``contacts`` added to raw."""
    copy = dataclasses.replace(
        settings, warehouse_path=tmp_path / "warehouse" / "reach2revenue.duckdb"
    )
    copy.warehouse_path.parent.mkdir(parents=True)
    shutil.copyfile(settings.warehouse_path, copy.warehouse_path)
    with duckdb.connect(str(copy.warehouse_path)) as connection:
        insert_raw(connection, "hubspot_contacts", contacts)
    return copy


def test_dbt_parse_writes_manifest(built: tuple[Settings, DbtRunSummary]) -> None:
    settings, _ = built
    manifest = json.loads(dbt_parse(settings).read_text())
    models = {
        node["name"] for node in manifest["nodes"].values() if node["resource_type"] == "model"
    }
    assert {"region_daily_performance", "regions", "stg_meta_ads__ad_reports"} <= models


def _sha256(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def test_an_unmapped_channel_value_is_a_warning_that_says_where_to_map_it() -> None:
    from reach2revenue.transform import DataQualityFindings

    findings = DataQualityFindings(
        unconverted=(),
        unmapped_countries=(),
        unmapped_channels=(
            {"source_field": "utm_medium", "source_value": "podcast", "touches": 12},
        ),
    )
    [message] = findings.messages(7)
    assert "utm_medium 'podcast' (12 touch(es))" in message
    assert "seeds/channel_mappings.csv" in message
    assert findings.to_dict()["unmapped_channels"] == [
        {"source_field": "utm_medium", "source_value": "podcast", "touches": 12}
    ]

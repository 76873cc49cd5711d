"""The audit before publish, on a small hand-made warehouse (real DuckDB, no dbt).

The raw tables hold what the platforms sent; the intermediate and mart tables hold what
a correct build makes of it, computed by hand below. The audit must pass on that, and
name the check, the key and the difference for each way the models can go wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import duckdb
import pytest

from reach2revenue.audit import (
    MONEY_TOLERANCE,
    AuditError,
    AuditReport,
    FxRates,
    _close_day,
    audit_warehouse,
)
from reach2revenue.failures import NonRetryableError
from reach2revenue.publish import PublishedModel

# currency, valid_from, valid_to, units per euro
FX_INTERVALS = [
    ("EUR", "0001-01-01", "9999-12-31", "1"),
    ("JPY", "2026-03-27", "2026-03-30", "170.50"),  # Friday's rate over the weekend
    ("JPY", "2026-03-30", "2026-04-07", "171.25"),
    ("GBP", "2026-03-27", "2026-03-30", "0.86300"),
    ("GBP", "2026-03-30", "2026-04-07", "0.86500"),
]
RAW = {
    "meta_ads_insights": (
        ["account_id", "date_start", "account_currency", "spend"],
        [
            ("1001", "2026-03-28", "EUR", "12.34"),
            ("1001", "2026-03-28", "EUR", "5.66"),
            ("2002", "2026-03-29", "JPY", "1234"),  # 1234 / 170.50 = 7.2375 -> 7.24
            ("9009", "2026-03-29", "KES", "10.00"),  # no KES rate: counted, not converted
        ],
    ),
    "google_ads_geographic_view": (
        ["customer_id", "segments_date", "customer_currency_code", "metrics_cost_micros"],
        [("555", "2026-03-29", "GBP", "100000000")],  # 100 / 0.863 = 115.8749 -> 115.87
    ),
    "linkedin_ads_ad_analytics": (
        ["account_id", "date_range_start", "cost_in_local_currency"],
        [("777", "2026-03-30", "3.10")],  # GBP: 3.10 / 0.865 = 3.5838 -> 3.58
    ),
    "linkedin_ads_ad_accounts": (["id", "currency"], [("777", "GBP")]),
    "hubspot_deals": (
        ["id", "deal_currency_code", "amount", "closedate", "dealstage", "archived"],
        [
            # 23:30 UTC on the spring DST day is 01:30 on 2026-03-30 in Berlin
            ("5001", "EUR", "1000.00", "2026-03-29T23:30:00Z", "closedwon", "false"),
            ("5002", "JPY", "50000", "2026-03-29T10:00:00Z", "closedwon", "false"),  # 293.26
            ("5004", "EUR", "700", "2026-03-30T09:00:00Z", "closedlost", "false"),
            ("5007", "EUR", "500", "2026-03-30T10:00:00Z", "closedwon", "true"),  # archived
        ],
    ),
    "salesforce_opportunities": (
        ["id", "currency_iso_code", "amount", "close_date", "is_won", "is_deleted"],
        [
            ("006A", "GBP", "250.50", "2026-03-30", "true", "false"),  # / 0.865 = 289.60
            ("006B", "EUR", "99", "2026-03-30", "true", "true"),  # in the recycle bin
        ],
    ),
}
# platform, account, day, spend in the reporting currency, converted, account-currency spend
INT_AD_REPORTS = [
    ("meta_ads", "1001", "2026-03-28", "12.34", True, "12.34"),
    ("meta_ads", "1001", "2026-03-28", "5.66", True, "5.66"),
    ("meta_ads", "2002", "2026-03-29", "7.24", True, "1234"),
    ("meta_ads", "9009", "2026-03-29", None, False, "10.00"),
    ("google_ads", "555", "2026-03-29", "115.87", True, "100"),
    ("linkedin_ads", "777", "2026-03-30", "3.58", True, "3.10"),
]
# currency, amount in the deal currency, is_won, is_deleted
INT_DEALS = [
    ("EUR", "1000.00", True, False),
    ("JPY", "50000.00", True, False),
    ("EUR", "700.00", False, False),
    ("EUR", "500.00", True, True),
    ("GBP", "250.50", True, False),
    ("EUR", "99.00", True, True),
]
# region, day, spend, unconverted spend rows, revenue, deals won
REGION_DAYS = [
    ("DACH", "2026-03-28", "18.00", 0, "0.00", 0),
    ("APAC", "2026-03-28", "0.00", 0, "0.00", 0),
    ("DACH", "2026-03-29", "0.00", 0, "0.00", 0),
    ("APAC", "2026-03-29", "123.11", 1, "293.26", 1),
    ("DACH", "2026-03-30", "3.58", 0, "1289.60", 2),
    ("APAC", "2026-03-30", "0.00", 0, "0.00", 0),
]
REGIONS = [("APAC", False), ("DACH", False), ("Unassigned", True)]
MODELS = [
    PublishedModel(
        "region_daily_performance",
        '"main"."region_daily_performance"',
        "main",
        "region_daily_performance",
        (("region_day_id",), ("region", "report_date")),
    ),
    PublishedModel("regions", '"main"."regions"', "main", "regions", (("region",),)),
]


@pytest.fixture
def warehouse() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    for schema in ("raw", "intermediate"):
        con.execute(f"create schema {schema}")
    for table, (columns, rows) in RAW.items():
        con.execute(f"create table raw.{table} ({', '.join(f'{c} varchar' for c in columns)})")
        con.executemany(f"insert into raw.{table} values ({', '.join('?' * len(columns))})", rows)
    con.execute(
        "create table intermediate.int_fx_rates_spanned_to_intervals (currency_code varchar, "
        "valid_from date, valid_to date, units_per_eur decimal(38, 10))"
    )
    con.executemany(
        "insert into intermediate.int_fx_rates_spanned_to_intervals values (?, ?, ?, ?)",
        FX_INTERVALS,
    )
    con.execute(
        "create table intermediate.int_ad_reports_converted_to_reporting_currency ("
        "ad_platform varchar, account_id varchar, report_date date, "
        "spend_in_reporting_currency decimal(18, 2), is_fx_converted boolean, "
        "spend_in_account_currency decimal(18, 6))"
    )
    con.executemany(
        "insert into intermediate.int_ad_reports_converted_to_reporting_currency "
        "values (?, ?, ?, ?, ?, ?)",
        INT_AD_REPORTS,
    )
    con.execute(
        "create table intermediate.int_deals_converted_to_reporting_currency ("
        "currency_code varchar, amount_in_deal_currency decimal(18, 2), is_won boolean, "
        "is_deleted boolean)"
    )
    con.executemany(
        "insert into intermediate.int_deals_converted_to_reporting_currency values (?, ?, ?, ?)",
        INT_DEALS,
    )
    con.execute(
        "create table main.region_daily_performance (region_day_id varchar, region varchar, "
        "report_date date, spend decimal(18, 2), unconverted_spend_rows bigint, "
        "revenue_won decimal(18, 2), deals_won bigint)"
    )
    con.executemany(
        "insert into main.region_daily_performance values (? || '|' || ?, ?, ?, ?, ?, ?, ?)",
        [(region, day, region, day, *rest) for region, day, *rest in REGION_DAYS],
    )
    con.execute("create table main.regions (region varchar, is_unassigned boolean)")
    con.executemany("insert into main.regions values (?, ?)", REGIONS)
    yield con
    con.close()


def _audit(con: duckdb.DuckDBPyConnection) -> AuditReport:
    return audit_warehouse(
        con,
        reporting_currency="EUR",
        reporting_timezone="Europe/Berlin",
        published_models=MODELS,
        ad_platforms=["meta_ads", "google_ads", "linkedin_ads"],
        crms=["hubspot", "salesforce"],
    )


def _failed(report: AuditReport) -> dict[str, list[str]]:
    return {
        check.name: [finding.describe() for finding in check.findings]
        for check in report.checks
        if not check.passed
    }


def test_a_correct_build_passes_every_check(warehouse: duckdb.DuckDBPyConnection) -> None:
    report = _audit(warehouse)
    assert _failed(report) == {}
    totals = {check.name: (check.expected_total, check.actual_total) for check in report.checks}
    assert totals["ad_spend_per_platform_account_day"] == ("144.69", "144.69")
    assert totals["ad_spend_per_day"] == ("144.69", "144.69")
    listed = "EUR 1000.00 (1 won), GBP 250.50 (1 won), JPY 50000.00 (1 won)"
    assert totals["won_revenue_per_currency"] == (listed, listed)
    assert totals["won_revenue_per_day"] == ("1582.86", "1582.86")
    assert totals["region_days_complete"][0] == "2 regions x 3 days (2026-03-28..2026-03-30)"
    report.raise_for_failures()  # does not raise
    assert report.to_dict()["passed"] is True


def test_a_mart_cent_off_passes_two_cents_fail(warehouse: duckdb.DuckDBPyConnection) -> None:
    assert Decimal("0.01") == MONEY_TOLERANCE
    update = (
        "update main.region_daily_performance set spend = spend + ? "
        "where region = 'DACH' and report_date = '2026-03-28'"
    )
    warehouse.execute(update, [Decimal("0.01")])
    assert _failed(_audit(warehouse)) == {}
    warehouse.execute(update, [Decimal("0.01")])
    report = _audit(warehouse)
    assert _failed(report) == {
        "ad_spend_per_day": ["2026-03-28: raw 18.00, model 18.02 (difference 0.02)"]
    }
    with pytest.raises(AuditError) as raised:
        report.raise_for_failures()
    assert isinstance(raised.value, NonRetryableError)
    message = str(raised.value)
    assert "audit failed (nothing published): ad_spend_per_day" in message
    assert "2026-03-28: raw 18.00, model 18.02 (difference 0.02)" in message


def test_raw_changed_after_the_build_names_platform_account_and_day(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    # a restatement landed in raw, the models were not rebuilt
    warehouse.execute("update raw.meta_ads_insights set spend = '2468' where account_id = '2002'")
    failed = _failed(_audit(warehouse))
    assert failed["ad_spend_per_platform_account_day"] == [
        # 2468 / 170.50 = 14.4751...
        "meta_ads/2002/2026-03-29: raw 14.48, model 7.24 (difference -7.24)"
    ]
    assert failed["ad_spend_per_day"] == ["2026-03-29: raw 130.35, model 123.11 (difference -7.24)"]


def test_spend_without_a_rate_must_stay_unconverted(warehouse: duckdb.DuckDBPyConnection) -> None:
    warehouse.execute(
        "update main.region_daily_performance set unconverted_spend_rows = 0 "
        "where region = 'APAC' and report_date = '2026-03-29'"
    )
    assert _failed(_audit(warehouse)) == {
        "ad_spend_per_day": ["2026-03-29 (rows without a rate): raw 1, model 0 (difference -1)"]
    }


def test_a_deleted_won_deal_left_in_the_revenue_is_found(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    # HubSpot archived the deal; the models still count it
    warehouse.execute("update raw.hubspot_deals set archived = 'true' where id = '5001'")
    failed = _failed(_audit(warehouse))
    assert failed["won_revenue_per_currency"] == [
        "EUR: raw 0.00, model 1000.00 (difference 1000.00)",
        "EUR (won deals): raw 0, model 1 (difference +1)",
    ]
    assert failed["won_revenue_per_day"] == [
        "2026-03-30: raw 289.60, model 1289.60 (difference 1000.00)",
        "2026-03-30 (won): raw 1, model 2 (difference +1)",
    ]


def test_a_missing_region_day_and_a_duplicate_key_are_named(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    warehouse.execute(
        "delete from main.region_daily_performance "
        "where region = 'APAC' and report_date = '2026-03-28'"
    )
    warehouse.execute("insert into main.regions values ('DACH', false)")
    failed = _failed(_audit(warehouse))
    assert failed["region_days_complete"] == [
        "APAC/2026-03-28: raw 1 row, model 0 rows (difference -1 row)"
    ]
    assert failed["unique_keys"] == [
        '"main"."regions" (region): raw unique, model 1 duplicated key(s), '
        "e.g. ('DACH',) (difference 1)"
    ]


def test_conversion_rounds_half_away_from_zero_at_the_cent() -> None:
    rates = FxRates({"EUR": ((date(1, 1, 1),), ((date(9999, 12, 31), Decimal(1)),))})
    day = date(2026, 3, 30)
    assert rates.convert(Decimal("0.005"), "EUR", "EUR", day) == Decimal("0.01")
    assert rates.convert(Decimal("-0.005"), "EUR", "EUR", day) == Decimal("-0.01")
    assert rates.convert(Decimal("0.004999"), "EUR", "EUR", day) == Decimal("0.00")
    assert rates.convert(Decimal("1"), "KES", "EUR", day) is None
    assert rates.units_per_eur("EUR", date(9999, 12, 31)) is None  # valid_to is exclusive


def test_close_days_in_the_reporting_time_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert _close_day("2026-03-29T23:30:00Z", False, berlin) == date(2026, 3, 30)
    assert _close_day("2026-03-29T21:30:00.000Z", False, berlin) == date(2026, 3, 29)
    # a Salesforce CloseDate is placed at 12:00 UTC: its own day from UTC-12 to UTC+11
    assert _close_day("2026-03-30", True, ZoneInfo("America/Los_Angeles")) == date(2026, 3, 30)
    assert _close_day("2026-03-30", True, ZoneInfo("Asia/Tokyo")) == date(2026, 3, 30)
    assert _close_day("", False, berlin) is None

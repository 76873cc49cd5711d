"""Conformed dimensions, the funnel per region and the geo marketing-mix (Meridian) input.

Fast tests read the project files only: the media-channel var against the channel seed,
the pivot's YAML columns against the var, and every new mart's YAML (grain, contract,
types). The slow test builds a small world through the in-process pipeline and checks
the data: every dim_dates row against Python's ISO calendar (and the fiscal year with
another start month), the funnel against region_daily_performance, the marketing-mix
pivot against its long table and the raw totals.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from inprocess_pipeline import sandbox
from reach2revenue.settings import Settings
from reach2revenue.transform import dbt_build

DBT_PROJECT = Path(__file__).parents[1] / "dbt_project"
MARTS = DBT_PROJECT / "models" / "marts"
# The marts of this work and the YAML file that declares each.
NEW_MARTS = {
    "dim_regions": MARTS / "dimensions" / "_dim_regions.yml",
    "dim_countries": MARTS / "dimensions" / "_dim_countries.yml",
    "dim_dates": MARTS / "dimensions" / "_dim_dates.yml",
    "dim_campaigns": MARTS / "dimensions" / "_dim_campaigns.yml",
    "dim_ad_accounts": MARTS / "dimensions" / "_dim_ad_accounts.yml",
    "funnel_by_region_month": MARTS / "funnel" / "_funnel_by_region_month.yml",
    "marketing_mix_geo_weekly_channels": (
        MARTS / "marketing_mix" / "_marketing_mix_geo_weekly_channels.yml"
    ),
    "marketing_mix_geo_weekly": MARTS / "marketing_mix" / "_marketing_mix_geo_weekly.yml",
}


def project_vars() -> dict[str, Any]:
    """The vars of dbt_project.yml."""
    return yaml.safe_load((DBT_PROJECT / "dbt_project.yml").read_text())["vars"]


def model_yaml(name: str) -> dict[str, Any]:
    """The YAML entry of one model."""
    models = yaml.safe_load(NEW_MARTS[name].read_text())["models"]
    return next(model for model in models if model["name"] == name)


def ad_platform_channels() -> set[str]:
    """Channels the ad platforms map to in seeds/channel_mappings.csv."""
    with (DBT_PROJECT / "seeds" / "channel_mappings.csv").open(newline="") as handle:
        return {
            row["channel"] for row in csv.DictReader(handle) if row["source_field"] == "ad_platform"
        }


def pivot_columns(media_channels: list[str]) -> list[str]:
    """The columns marketing_mix_geo_weekly.sql makes for these media channels, in order."""
    media = [
        f"{channel}_{measure}" for channel in media_channels for measure in ("impressions", "spend")
    ]
    return [
        "region",
        "week_start",
        "reporting_currency_code",
        "days_covered",
        *media,
        "clicks",
        "won_revenue",
        "won_deals",
        "unconverted_deals",
    ]


def test_media_channel_var_is_the_ad_platform_channels_of_the_seed() -> None:
    media_channels = project_vars()["marketing_mix_media_channels"]
    assert len(media_channels) == len(set(media_channels))
    assert set(media_channels) == ad_platform_channels()


def test_marketing_mix_yaml_lists_exactly_the_pivot_columns() -> None:
    media_channels = project_vars()["marketing_mix_media_channels"]
    declared = [column["name"] for column in model_yaml("marketing_mix_geo_weekly")["columns"]]
    assert declared == pivot_columns(media_channels)
    # the model makes its media columns from the var, none by hand
    sql = (MARTS / "marketing_mix" / "marketing_mix_geo_weekly.sql").read_text()
    assert not any(channel in sql for channel in media_channels)


@pytest.mark.parametrize("name", sorted(NEW_MARTS))
def test_new_mart_states_grain_enforces_contract_and_types_every_column(name: str) -> None:
    model = model_yaml(name)
    assert "one row per" in " ".join(model["description"].split()).lower()
    assert model["config"]["contract"]["enforced"] is True
    assert model["columns"]
    assert all(column.get("data_type") for column in model["columns"]), name
    assert all(column.get("description") for column in model["columns"]), name
    sql_file = NEW_MARTS[name].parent / f"{name}.sql"
    assert sql_file.exists()


# ---------------------------------------------------------------------------------------
# The data, on a small world built by the in-process pipeline.

START = date(2026, 9, 24)
DAYS = 14  # crosses a month boundary and two ISO week boundaries


def rows(warehouse: Path, sql: str) -> list[dict[str, Any]]:
    """Rows of one query as dicts (read-only)."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        result = connection.execute(sql)
        names = [column[0] for column in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A small world loaded and built once (extract, load, dbt build, publish)."""
    home = tmp_path_factory.mktemp("r2r_dims_funnel")
    with sandbox(home, start=START, days=DAYS) as box:
        box.night(START, START + timedelta(days=DAYS - 1))
        return box.settings


def fiscal_year_and_quarter(day: date, start_month: int) -> tuple[int, int]:
    """Fiscal year named after the calendar year it ends in, and its quarter (1-4)."""
    months_into_year = (day.month - start_month) % 12
    fiscal_year = day.year + (1 if start_month > 1 and day.month >= start_month else 0)
    return fiscal_year, months_into_year // 3 + 1


def check_dim_dates(warehouse: Path, fiscal_start_month: int) -> int:
    """Every dim_dates row equals Python's calendar; returns the number of days."""
    dates = rows(warehouse, "select * from main.dim_dates order by date_day")
    assert dates
    for row in dates:
        day: date = row["date_day"]
        iso_year, iso_week, iso_weekday = day.isocalendar()
        week_start = day - timedelta(days=iso_weekday - 1)
        assert (row["iso_year"], row["iso_week"], row["day_of_week"]) == (
            iso_year,
            iso_week,
            iso_weekday,
        ), day
        assert row["iso_year_week"] == f"{iso_year}-W{iso_week:02d}"
        assert row["week_start"] == week_start
        assert row["week_end"] == week_start + timedelta(days=6)
        assert row["month_start"] == day.replace(day=1)
        assert row["is_weekend"] is (iso_weekday >= 6)
        assert (row["fiscal_year"], row["fiscal_quarter"]) == fiscal_year_and_quarter(
            day, fiscal_start_month
        ), day
    # one row per day, no gap
    assert [row["date_day"] for row in dates] == [
        dates[0]["date_day"] + timedelta(days=offset) for offset in range(len(dates))
    ]
    return len(dates)


@pytest.mark.slow
def test_dim_dates_is_the_iso_calendar_and_fiscal_year_follows_the_var(built: Settings) -> None:
    warehouse = built.warehouse_path
    check_dim_dates(warehouse, fiscal_start_month=1)
    # a range var widens the calendar over a 53-week ISO year
    dbt_build(
        built,
        select="dim_dates",
        extra_vars={
            "fiscal_year_start_month": 4,
            "dim_dates_first_date": "2026-12-20",
            "dim_dates_last_date": "2027-01-10",
        },
    )
    try:
        days = check_dim_dates(warehouse, fiscal_start_month=4)
        assert days > DAYS
        (week_53,) = rows(
            warehouse, "select * from main.dim_dates where date_day = date '2027-01-01'"
        )
        assert (week_53["iso_year_week"], week_53["fiscal_year"], week_53["fiscal_quarter"]) == (
            "2026-W53",
            2027,
            4,
        )
    finally:
        dbt_build(built, select="dim_dates")


@pytest.mark.slow
def test_funnel_sums_equal_region_daily_performance_per_region(built: Settings) -> None:
    warehouse = built.warehouse_path
    funnel = rows(warehouse, "select * from main.funnel_by_region_month")
    region_days = rows(warehouse, "select * from main.region_daily_performance")
    measures = ("spend", "impressions", "clicks", "deals_won", "revenue_won")

    def totals(table: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        summed: dict[str, dict[str, Any]] = defaultdict(lambda: dict.fromkeys(measures, 0))
        for row in table:
            for measure in measures:
                summed[row["region"]][measure] += row[measure]
        return dict(summed)

    funnel_totals = totals(funnel)
    assert funnel_totals == totals(region_days)
    assert sum(region["deals_won"] for region in funnel_totals.values()) > 0
    # every region x every month, once
    keys = {(row["region"], row["month_start"]) for row in funnel}
    months = {row["month_start"] for row in funnel}
    regions = {row["region"] for row in funnel}
    assert len(keys) == len(funnel) == len(months) * len(regions)
    assert {date(2026, 9, 1), date(2026, 10, 1)} <= months
    for row in funnel:
        # ratios exist exactly when their denominators are not zero
        assert (row["click_through_rate"] is None) == (row["impressions"] == 0)
        assert (row["win_rate"] is None) == (row["deals_closed"] == 0)
        assert (row["cost_per_lead"] is None) == (row["leads"] == 0)
        assert (row["customer_acquisition_cost"] is None) == (row["new_customers"] == 0)
        assert row["new_customers"] <= row["deals_won"] <= row["deals_closed"]


@pytest.mark.slow
def test_marketing_mix_pivot_equals_its_long_table_and_the_totals(built: Settings) -> None:
    warehouse = built.warehouse_path
    media_channels = project_vars()["marketing_mix_media_channels"]
    wide = rows(warehouse, "select * from main.marketing_mix_geo_weekly")
    long = rows(warehouse, "select * from main.marketing_mix_geo_weekly_channels")
    assert list(wide[0]) == pivot_columns(media_channels)
    cells = {(row["region"], row["week_start"], row["channel"]): row for row in long}
    assert len(cells) == len(long) == len(wide) * len(media_channels)
    for row in wide:
        assert row["week_start"].isoweekday() == 1
        assert 1 <= row["days_covered"] <= 7
        for channel in media_channels:
            cell = cells[(row["region"], row["week_start"], channel)]
            assert row[f"{channel}_spend"] == cell["spend"]
            assert row[f"{channel}_impressions"] == cell["impressions"]
    # reach: only a single platform that reports it (Meta); never Google or LinkedIn
    reach_channels = {row["channel"] for row in long if row["reach"] is not None}
    assert reach_channels == {"paid_social"}
    (totals,) = rows(
        warehouse,
        """
        select
            (select sum(spend_in_reporting_currency)
             from intermediate.int_ad_reports_converted_to_reporting_currency) as spend,
            (select sum(amount_in_reporting_currency)
             from intermediate.int_deals_converted_to_reporting_currency
             where is_won and not is_deleted) as won_revenue
        """,
    )
    assert sum((row["spend"] for row in long), Decimal(0)) == totals["spend"]
    assert sum((row["won_revenue"] for row in wide), Decimal(0)) == totals["won_revenue"]


@pytest.mark.slow
def test_dimensions_cover_what_the_facts_use(built: Settings) -> None:
    warehouse = built.warehouse_path
    (orphans,) = rows(
        warehouse,
        """
        select
            (select count(*) from main.funnel_by_region_month
             where region not in (select region from main.dim_regions)) as funnel_regions,
            (select count(*) from main.dim_countries
             where region not in (select region from main.dim_regions)) as country_regions,
            (select count(distinct ad_platform || ':' || account_id)
             from intermediate.int_ad_reports_unioned
             where ad_platform || ':' || account_id
                 not in (select ad_account_key from main.dim_ad_accounts)) as accounts,
            (select count(distinct ad_platform || ':' || campaign_id)
             from intermediate.int_ad_reports_unioned
             where ad_platform || ':' || campaign_id
                 not in (select campaign_key from main.dim_campaigns)) as campaigns
        """,
    )
    assert orphans == {"funnel_regions": 0, "country_regions": 0, "accounts": 0, "campaigns": 0}
    (google,) = rows(
        warehouse,
        "select count(*) as accounts, count(time_zone) as with_time_zone "
        "from main.dim_ad_accounts where ad_platform = 'google_ads'",
    )
    assert google["accounts"] == google["with_time_zone"] > 0
    # a UTM campaign of the CRM ties to the ad campaign of the same name
    (utm,) = rows(
        warehouse,
        """
        select count(*) as campaigns, count(matched.campaign_key) as matched
        from main.dim_campaigns as utm
        left join main.dim_campaigns as matched
            on utm.matched_ad_campaign_key = matched.campaign_key
            and matched.campaign_source = 'ad_platform'
            and utm.campaign_name_normalized = matched.campaign_name_normalized
        where utm.campaign_source = 'utm'
        """,
    )
    assert utm["campaigns"] > 0
    assert utm["matched"] == utm["campaigns"]

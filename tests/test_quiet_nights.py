"""Quiet nights publish: no CRM change, or an old day without any data, is not an error.

Whole nights run in process against the stand-ins (extract, load, dbt build, publish).
A night without CRM changes is made by holding the CRM stand-ins' clocks at the night's
start: they then know of no change inside it, as on a real quiet night.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from inprocess_pipeline import sandbox
from reach2revenue import verify
from reach2revenue.contracts import SourceKind
from reach2revenue.sources import SOURCES

pytestmark = pytest.mark.slow

START = date(2026, 9, 1)
CRMS = [name for name, source in SOURCES.items() if source.kind is SourceKind.CRM]
REPORT_TABLES = ("insights", "geographic_view", "ad_analytics")


def rows_by_table(summary: dict) -> dict[str, int]:
    return {entry["batch"].split(" ")[0]: entry["rows"] for entry in summary["load"]["batches"]}


def test_a_night_without_crm_changes_and_an_old_quiet_day_publish(tmp_path: Path) -> None:
    with sandbox(tmp_path, start=START, days=4) as box:
        box.night(START, START + timedelta(days=1))
        history_mtime = box.settings.published_path.stat().st_mtime_ns

        # Night of day 2 with no CRM change at all; the ad platforms delivered.
        quiet = START + timedelta(days=2)
        for name in CRMS:
            box.servers[name].set_clock(datetime.combine(quiet, datetime.min.time(), UTC))
        result = box.night(quiet)
        for name in CRMS:
            box.servers[name].set_clock(None)

        rows = rows_by_table(result)
        assert {table: n for table, n in rows.items() if table.split("/")[0] in CRMS} == {
            table: 0 for table in rows if table.split("/")[0] in CRMS
        }
        assert rows["meta_ads/insights"] > 0
        assert box.settings.published_path.stat().st_mtime_ns > history_mtime
        mart = verify.mart_region_days(box.settings.published_path)
        truth_spend = sum(
            (Decimal(str(row["spend"])) for row in box.truth if str(row["date"]) == str(quiet)),
            Decimal(0),
        )
        mart_spend = sum((v["spend"] for (_, day), v in mart.items() if day == quiet), Decimal(0))
        assert mart_spend == truth_spend > 0

        # A backfill of an old day on which nothing happened at all succeeds too.
        old = START - timedelta(days=20)
        result = box.night(old)
        # Report days and CRM changes are empty; account and campaign lists (and FX
        # rates) exist on any day.
        dated = {
            table: n
            for table, n in rows_by_table(result).items()
            if table.split("/")[0] in CRMS or table.split("/")[1] in REPORT_TABLES
        }
        assert dated and set(dated.values()) == {0}, dated
        mart = verify.mart_region_days(box.settings.published_path)
        comparison = verify.compare(
            mart, box.truth, first_day=START, last_day=START + timedelta(days=1)
        )
        assert comparison.matches, json.dumps(comparison.mismatches[:20], indent=1, default=str)

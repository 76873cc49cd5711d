"""Volume checks: a night far smaller or larger than the usual loads fails with the numbers.

Real landed Meta insights pages go through the real `pipeline.load_and_validate` (GX,
DuckDB, cursors, history files); only the sizes differ from night to night.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from meta_landing import land_day
from reach2revenue import cursors, pipeline, raw, volume
from reach2revenue.landing import ExtractionWriter
from reach2revenue.settings import Settings
from reach2revenue.sources import raw_tables

FIRST = date(2026, 9, 1)
USUAL = 40


def day(n: int) -> date:
    return FIRST + timedelta(days=n)


def raw_rows_of(settings: Settings, report_day: date) -> int:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(
            "select count(*) from raw.meta_ads_insights where date_start = ?",
            [report_day.isoformat()],
        ).fetchall()[0][0]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.for_home(tmp_path)


@pytest.fixture(scope="module")
def history_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three nights of about USUAL rows loaded; the first had no history to compare with."""
    home = tmp_path_factory.mktemp("volume-history")
    settings = Settings.for_home(home)
    for n, rows in enumerate((USUAL - 4, USUAL + 4, USUAL)):
        pipeline.load_and_validate([land_day(settings.landing_dir, day(n), rows)], settings)
    loads = volume.read_history(settings.landing_dir, "meta_ads", "insights")
    assert [(load.rows, load.days) for load in loads] == [(36, 1), (44, 1), (40, 1)]
    return home


@pytest.fixture
def usual_history(history_home: Path, tmp_path: Path) -> Settings:
    """A copy of the three loaded nights (warehouse, landing, cursors, history)."""
    home = tmp_path / "home"
    shutil.copytree(history_home, home)
    return Settings.for_home(home)


@pytest.mark.parametrize(
    ("rows", "kind", "ratio"),
    [(2, "collapse", 0.05), (USUAL * 20, "explosion", 20.0)],
    ids=["5-percent", "20x"],
)
def test_a_night_far_off_the_usual_fails_with_the_numbers(
    usual_history: Settings, rows: int, kind: str, ratio: float
) -> None:
    settings = usual_history
    cursor_before = cursors.read_cursor(settings.landing_dir, "meta_ads", "insights")
    with pytest.raises(volume.VolumeError) as caught:
        pipeline.load_and_validate([land_day(settings.landing_dir, day(3), rows)], settings)

    [finding] = caught.value.findings
    assert (finding.source, finding.entity, finding.rows, finding.days) == (
        "meta_ads",
        "insights",
        rows,
        1,
    )
    assert (finding.median, finding.low, finding.high) == (40.0, 8.0, 400.0)
    assert (finding.kind, finding.ratio, finding.earlier_loads) == (kind, ratio, 3)
    message = str(caught.value)
    assert (
        f"Volume check failed for meta_ads/insights {day(3)}..{day(3)}: {rows} rows over "
        f"1 day(s) = {rows:.2f} rows/day, {ratio:.2f}x the median 40.00 rows/day of the 3 "
        f"earlier loads with rows; the band is 8.00..400.00 rows/day (0.2x..10x): a {kind}."
    ) in message
    assert "R2R_VOLUME_ACCEPT=meta_ads/insights" in message
    assert volume.VolumeError.__mro__[1].__name__ == "NonRetryableError"
    # Nothing merged, the cursor and the history stay, the evidence is kept.
    assert raw_rows_of(settings, day(3)) == 0
    assert cursor_before == datetime(2026, 9, 4, tzinfo=UTC)
    assert cursors.read_cursor(settings.landing_dir, "meta_ads", "insights") == cursor_before
    assert len(volume.read_history(settings.landing_dir, "meta_ads", "insights")) == 3
    report = json.loads(caught.value.report_path.read_text())
    assert report["failed"] == []
    assert [(v["rows"], v["kind"], v["median"]) for v in report["volume"]] == [(rows, kind, 40.0)]
    assert report["landed_files"]["meta_ads/insights"]
    assert Path(report["data_docs"]).is_file()


def test_usual_and_quiet_nights_pass_and_an_accepted_surge_loads(usual_history: Settings) -> None:
    settings = usual_history
    tables = raw_tables()
    # Within the band (0.2x..10x): 9 rows (0.225x) and 380 rows (9.5x).
    for rows in (9, 380):
        [batch] = raw.batches_from_manifests([land_day(settings.landing_dir, day(3), rows)], tables)
        assert volume.check_batch(batch, settings) is None
    # An account without delivery: zero rows is valid for insights, and no usual size.
    summary = pipeline.load_and_validate([land_day(settings.landing_dir, day(3), 0)], settings)
    assert summary["merged"]["meta_ads/insights"]["inserted"] == 0
    # A surge an operator checked loads with R2R_VOLUME_ACCEPT and is recorded as such.
    accepting = dataclasses.replace(settings, volume_accept=("meta_ads/insights",))
    pipeline.load_and_validate([land_day(settings.landing_dir, day(4), USUAL * 20)], accepting)
    assert raw_rows_of(settings, day(4)) == USUAL * 20
    loads = volume.read_history(settings.landing_dir, "meta_ads", "insights")
    assert [(load.rows, load.accepted) for load in loads] == [
        (36, False),
        (44, False),
        (USUAL, False),
        (0, False),
        (USUAL * 20, True),
    ]


def test_history_is_bounded(settings: Settings) -> None:
    small = dataclasses.replace(settings, volume_history_size=3)
    for n in range(5):
        path = land_day(small.landing_dir, day(n), USUAL + n)
        volume.record_loads(raw.batches_from_manifests([path], raw_tables()), small)
    loads = volume.read_history(small.landing_dir, "meta_ads", "insights")
    assert [load.rows for load in loads] == [42, 43, 44]
    assert volume.history_path(small.landing_dir, "meta_ads", "insights").parent.name == "volume"


def test_rates_are_per_covered_day_and_whole_history_loads_are_not_judged(
    settings: Settings,
) -> None:
    """A two-day catch-up after a failed night has the usual rate, not double."""
    tables = raw_tables()
    two_days = [land_day(settings.landing_dir, day(n), USUAL) for n in (0, 1)]
    [batch] = raw.batches_from_manifests(two_days, tables)
    size = volume.batch_size(batch)
    assert (size.rows, size.days, size.rate("day")) == (80, 2, 40.0)

    # A CRM's first load reads from 1970: its rate says nothing about a night.
    writer = ExtractionWriter(
        settings.landing_dir,
        "hubspot",
        "deals",
        partition_date="2026-09-01",
        window_start="1970-01-01T00:00:00Z",
        window_end="2026-09-02T00:00:00Z",
        extraction_id="first-load",
        extracted_at=datetime(2026, 9, 2, 2, tzinfo=UTC),
    )
    writer.add(json.dumps({"results": []}), 0)
    first_load = writer.finish({"object_type": "deals"})
    [crm] = raw.batches_from_manifests([first_load], tables)
    assert volume.covered_days(crm) > volume.WHOLE_HISTORY_DAYS
    assert volume.check_batch(crm, settings) is None
    volume.record_loads([crm], settings)
    assert volume.read_history(settings.landing_dir, "hubspot", "deals") == []


def test_every_suite_declares_a_valid_volume_policy(settings: Settings) -> None:
    policies = {key: volume.VolumePolicy.of_table(*key, settings) for key in raw_tables()}
    assert policies[("meta_ads", "insights")] == volume.VolumePolicy(may_be_empty=True)
    # CRM increments: quiet nights and weekends are normal, only explosions fail.
    assert policies[("hubspot", "deals")].low_ratio == 0
    assert policies[("salesforce", "opportunities")].low_ratio == 0
    assert policies[("ecb_fx", "rate_overrides")].check is False
    assert policies[("linkedin_ads", "campaigns")].per == "load"

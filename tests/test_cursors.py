"""Cursors that cannot lose data: no future intervals, no run-ahead, gaps filled.

The fast tests call the steps directly; the slow one runs whole nights in process
against the stand-ins and compares the published mart with the world's ground truth.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from inprocess_pipeline import sandbox
from meta_landing import land_day
from reach2revenue import cursors, pipeline, raw, verify
from reach2revenue.contracts import Interval
from reach2revenue.failures import IntervalError, NonRetryableError
from reach2revenue.landing import ExtractionWriter, read_manifest
from reach2revenue.settings import Settings
from reach2revenue.sources import SOURCE_NAMES, raw_tables


def state_files(landing: Path) -> dict[str, bytes]:
    return {str(p.relative_to(landing)): p.read_bytes() for p in sorted(landing.rglob("*.json"))}


@pytest.mark.parametrize("source", SOURCE_NAMES)
def test_a_future_interval_is_refused_before_anything_is_extracted(
    tmp_path: Path, source: str
) -> None:
    settings = Settings.for_home(tmp_path)
    cursors.advance_cursor(settings.landing_dir, source, "any", datetime(2026, 9, 1, tzinfo=UTC))
    before = state_files(settings.landing_dir)
    today = datetime.now(UTC).date()
    interval = Interval.from_dates(today - timedelta(days=1), today + timedelta(days=2))

    # No credentials are set: the check comes before any of them is even looked up.
    with pytest.raises(IntervalError) as caught:
        pipeline.extract(source, interval, settings)

    message = str(caught.value)
    assert str(interval) in message
    assert "ends after now (" in message and "tolerance of 1:00:00" in message
    assert isinstance(caught.value, NonRetryableError)
    assert state_files(settings.landing_dir) == before  # cursors where they were, nothing landed


def test_the_tolerance_admits_an_interval_ending_just_ahead() -> None:
    now = datetime(2026, 9, 2, 0, 20, tzinfo=UTC)
    interval = Interval.from_dates("2026-09-01", "2026-09-02")
    cursors.check_interval(interval, now=now - timedelta(minutes=30), tolerance=timedelta(hours=1))
    with pytest.raises(IntervalError):
        cursors.check_interval(interval, now=now - timedelta(hours=2), tolerance=timedelta(hours=1))


@pytest.mark.parametrize(
    "conf",
    [
        {"interval_start": "2026-09-01"},
        {"interval_start": "2026-09-01", "interval_end": "2026-13-01"},
        {"interval_start": "2026-09-05", "interval_end": "2026-09-01"},
    ],
    ids=["one-bound", "not-a-date", "empty"],
)
def test_a_mistyped_conf_is_an_interval_error(conf: dict[str, str]) -> None:
    context = {"dag_run": SimpleNamespace(conf=conf)}
    with pytest.raises(IntervalError):
        pipeline.interval_from_context(context)


def test_a_cursor_never_passes_what_the_extraction_read(tmp_path: Path) -> None:
    """A report day read before it ended counts only up to the read (less the margin)."""
    settings = Settings.for_home(tmp_path)
    day = date(2026, 9, 10)
    read_at = datetime(2026, 9, 10, 15, tzinfo=UTC)  # today's partial day, at 15:00
    path = land_day(settings.landing_dir, day, 12, extracted_at=read_at)
    manifest = read_manifest(path)
    assert manifest.window_end == "2026-09-11"

    pipeline.load_and_validate([path], settings)
    cursor = cursors.read_cursor(settings.landing_dir, "meta_ads", "insights")
    assert cursor == cursors.manifest_instant(manifest.extracted_at) - cursors.AS_OF_MARGIN
    assert cursor < datetime(2026, 9, 11, tzinfo=UTC)
    # So the next night reads that day again from the cursor's day on.
    assert cursors.report_days(
        settings.landing_dir, "meta_ads", "insights", date(2026, 9, 11), date(2026, 9, 12), 0
    ) == [date(2026, 9, 10), date(2026, 9, 11)]

    # A manual re-run of old dates never moves the cursor (back or forward).
    old = land_day(settings.landing_dir, date(2026, 8, 1), 12)
    pipeline.load_and_validate([old], settings)
    assert cursors.read_cursor(settings.landing_dir, "meta_ads", "insights") == cursor
    [batch] = raw.batches_from_manifests([old], raw_tables())
    assert batch.loaded_through == datetime(2026, 8, 2, tzinfo=UTC)


META_ERROR = {
    "error": {
        "message": "(#100) Invalid parameter",
        "type": "OAuthException",
        "code": 100,
        "fbtrace_id": "AbCdEf",
    }
}


@pytest.mark.slow
def test_after_a_failed_night_the_next_nightly_fills_the_gap_to_the_cent(tmp_path: Path) -> None:
    start = date(2026, 9, 1)
    with sandbox(tmp_path, start=start, days=5) as box:
        box.night(start, start + timedelta(days=1))  # history: days 0..1
        cursors_after_history = state_files(box.settings.landing_dir / cursors.STATE_DIR_NAME)

        # Night of day 2: Meta refuses every call; the extract fails, load never runs.
        box.servers["meta_ads"].inject_fault("/", 400, count=10_000, body=META_ERROR)
        with pytest.raises(Exception, match="Invalid parameter"):
            box.night(start + timedelta(days=2))
        box.servers["meta_ads"].clear_faults()
        assert state_files(box.settings.landing_dir / cursors.STATE_DIR_NAME) == (
            cursors_after_history
        )

        # Night of day 3 reads from the cursors: days 2 and 3.
        result = box.night(start + timedelta(days=3))
        gap_day = start + timedelta(days=2)
        labels = [batch["batch"] for batch in result["load"]["batches"]]
        [meta] = [label for label in labels if label.startswith("meta_ads/insights")]
        first, last = meta.split(" ")[1].split("..")
        assert first <= gap_day.isoformat() < last == (start + timedelta(days=3)).isoformat()

        mart = verify.mart_region_days(box.settings.published_path)
        comparison = verify.compare(
            mart, box.truth, first_day=start, last_day=start + timedelta(days=3)
        )
        assert comparison.matches, json.dumps(comparison.mismatches[:20], indent=1, default=str)
        assert sum(v["spend"] for (_, d), v in mart.items() if d == gap_day) > 0


def test_a_night_whose_deals_have_no_links_still_moves_the_links_cursor(tmp_path: Path) -> None:
    """No deal changed: the links extraction asks for no parent and owns no scope."""
    writer = ExtractionWriter(
        tmp_path,
        "hubspot",
        "deal_contacts",
        partition_date="2026-09-01",
        window_start="2026-09-01T00:00:00Z",
        window_end="2026-09-02T00:00:00Z",
        extraction_id="quiet",
        extracted_at=datetime(2026, 9, 2, 2, tzinfo=UTC),
    )
    [batch] = raw.batches_from_manifests([writer.finish({"deal_ids": []})], raw_tables())
    assert (batch.manifests, len(batch.superseded), len(batch.frame)) == ([], 1, 0)
    assert batch.loaded_through == datetime(2026, 9, 2, tzinfo=UTC)

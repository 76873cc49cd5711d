"""The ECB's euro reference rates, with the bundled history and the user's overrides
(reference data)."""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path

from reach2revenue.contracts import ExtractRequest, MergeRule, RawTable, Source, SourceKind
from reach2revenue.sources.ecb_fx.flatten import (
    OVERRIDES_RESPONSE,
    RATES_RESPONSE,
    override_rows,
    rate_rows,
)
from reach2revenue.sources.ecb_fx.settings import (
    DEFAULT_BASE_URL,
    OVERRIDE_COLUMNS,
    OVERRIDE_KEY,
    RATE_COLUMNS,
    RATE_KEY,
)


def _extract(request: ExtractRequest) -> list[Path]:
    """ECB rates for the interval (and the staleness lookback), plus the override file.

    Rates start ``fx_max_stale_days`` before the earlier of the interval and the cursor, so
    the first day can fall back and a missed night leaves no gap. The ECB's own history
    shipped with the project is landed too where it covers the range (all of it on the
    first load, so old CRM deals convert), so backfills work offline; the API's answer
    for the same day, landed later, wins.
    """
    from reach2revenue import cursors
    from reach2revenue.reference.fx import bundled_history
    from reach2revenue.sources.ecb_fx.extract import extract_ecb_fx, land_bundled_history
    from reach2revenue.sources.ecb_fx.overrides import land_fx_rate_overrides

    settings, interval = request.settings, request.interval
    cursor = cursors.read_cursor(settings.landing_dir, "ecb_fx", "rates")
    start = interval.start_date
    if cursor is not None:
        start = min(start, cursor.astimezone(UTC).date())
    lookback = timedelta(days=settings.fx_max_stale_days)
    manifests: list[Path] = []
    history_end = min(interval.end_date, bundled_history()[-1].rate_date + timedelta(days=1))
    history_start = None if cursor is None else start - lookback
    if history_start is None or history_start < history_end:
        manifests.append(
            land_bundled_history(
                landing_dir=settings.landing_dir, start=history_start, end=history_end
            )
        )
    manifests += extract_ecb_fx(
        request.credentials.base_url,
        interval_start=start,
        interval_end=interval.end_date,
        landing_dir=settings.landing_dir,
        lookback_days=settings.fx_max_stale_days,
    )
    manifests.append(
        land_fx_rate_overrides(
            settings.fx_rate_overrides_path,
            landing_dir=settings.landing_dir,
            run_day=interval.end_date - timedelta(days=1),
        )
    )
    return manifests


SOURCE = Source(
    name="ecb_fx",
    kind=SourceKind.REFERENCE,
    tables=(
        RawTable(
            source="ecb_fx",
            entity="rates",
            columns=RATE_COLUMNS,
            key=RATE_KEY,
            merge=MergeRule.UPSERT,
            flatten=rate_rows,
            response=RATES_RESPONSE,
        ),
        RawTable(
            source="ecb_fx",
            entity="rate_overrides",
            columns=OVERRIDE_COLUMNS,
            key=OVERRIDE_KEY,
            merge=MergeRule.REPLACE_ALL,
            flatten=override_rows,
            response=OVERRIDES_RESPONSE,
        ),
    ),
    extract=_extract,
    default_base_url=DEFAULT_BASE_URL,
    needs_token=False,
)

"""The ECB's euro reference rates, with the bundled history and the user's overrides
(reference data)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import UTC, timedelta
from pathlib import Path

from reach2revenue.contracts import ExtractRequest, MergeRule, RawTable, Source, SourceKind
from reach2revenue.settings import Settings
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


def longest_ad_lookback_days(environ: Mapping[str, str] | None = None) -> int:
    """The longest ``lookback_days`` option of the registered ad platforms.

    Read from each platform's connection or environment as its own extraction reads it;
    a platform whose credentials do not resolve here (no token in this task's
    environment) counts with its options' default.
    """
    from reach2revenue.credentials import CredentialsError, get_credentials
    from reach2revenue.sources import sources_of_kind  # the registry imports this module

    longest = 0
    for source in sources_of_kind(SourceKind.AD_PLATFORM):
        if source.options_type is None:
            continue
        defaults = {option.name: option.default for option in fields(source.options_type)}
        if "lookback_days" not in defaults:
            continue
        try:
            days = get_credentials(source, environ).options.lookback_days
        except CredentialsError:
            days = defaults["lookback_days"]
        longest = max(longest, int(days))
    return longest


def fx_lookback_days(settings: Settings, environ: Mapping[str, str] | None = None) -> int:
    """Days of rates fetched again before each interval.

    The ad platforms re-read their last `longest_ad_lookback_days` of spend every night;
    the oldest re-read day may fall back ``fx_max_stale_days`` to a rate (a weekend, a
    TARGET holiday). Fetching less would leave re-pulled spend without a rate on a first
    nightly without history (the bundled history ends months ago).
    """
    return longest_ad_lookback_days(environ) + settings.fx_max_stale_days


def _extract(request: ExtractRequest) -> list[Path]:
    """ECB rates for the interval and the ad platforms' lookback, plus the override file.

    Rates start `fx_lookback_days` before the earlier of the interval and the cursor: the
    ad extractions of the same night re-read spend that far back, and that spend needs its
    rates even on a first nightly without history (a missed night leaves no gap either).
    The ECB's own history shipped with the project is landed too where it covers the range
    (all of it on the first load, so old CRM deals convert, or from
    ``Settings.fx_history_start`` when set), so backfills work offline;
    the API's answer for the same day, landed later, wins.
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
    lookback_days = fx_lookback_days(settings)
    lookback = timedelta(days=lookback_days)
    manifests: list[Path] = []
    history_end = min(interval.end_date, bundled_history()[-1].rate_date + timedelta(days=1))
    # First load: the whole file, or from the configured day (R2R_FX_HISTORY_START).
    history_start = settings.fx_history_start if cursor is None else start - lookback
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
        lookback_days=lookback_days,
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

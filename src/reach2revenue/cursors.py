"""Extraction cursors: how far each source/entity is loaded, one JSON file each.

A cursor is a coverage high-water mark ("loaded through"): every record of that entity
modified (HubSpot) or reported (Meta) before the instant has been extracted, validated and
merged. Extractors start at the cursor whenever it lies before their interval, so a failed
or missed run leaves no gap. The pipeline advances a cursor only after the batch was
validated and merged; a batch that fails validation is therefore fetched again next time.

A cursor never runs ahead of what was read. An interval ending in the future is refused
before anything is extracted (:func:`check_interval`), and a batch counts as loaded only
through its extractions' as-of instant (:func:`covered_through`): the window end, but
never later than the moment the extraction read up to. A re-run of old dates never moves
a cursor back (:func:`advance_cursor`).

Files: ``<landing>/_state/<source>__<entity>.json``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from reach2revenue.contracts import Interval
from reach2revenue.failures import IntervalError
from reach2revenue.landing import Manifest, atomic_write_text, iso_utc, utc_now

STATE_DIR_NAME = "_state"

#: Taken off an extraction's start time to get the instant it read up to: search indexes
#: trail writes (HubSpot: seconds), so a record changed just before the extraction may
#: only be found by the next one, which starts at the cursor.
AS_OF_MARGIN = timedelta(minutes=5)


def cursor_path(landing_dir: Path, source: str, entity: str) -> Path:
    """Where the cursor of ``source``/``entity`` is kept."""
    return Path(landing_dir) / STATE_DIR_NAME / f"{source}__{entity}.json"


def _as_utc(moment: datetime | date) -> datetime:
    """Aware UTC datetime; a date means its midnight UTC, a naive datetime means UTC."""
    if not isinstance(moment, datetime):
        return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def check_interval(interval: Interval, *, now: datetime, tolerance: timedelta) -> None:
    """Refuse an interval that ends after ``now + tolerance``.

    Data of the future does not exist yet: extracting it would land a partial day and move
    the cursors past what exists, and a later failed night would then leave a gap.

    Raises:
        IntervalError: names the interval, now and the tolerance.
    """
    now = _as_utc(now)
    if interval.end > now + tolerance:
        raise IntervalError(
            f"interval {interval} ends after now ({iso_utc(now)}) plus the tolerance of "
            f"{tolerance} (R2R_INTERVAL_TOLERANCE_MINUTES): future data does not exist yet. "
            "Nothing was extracted and no cursor moved; check interval_start/interval_end "
            "of the run conf, or wait until the interval has passed."
        )


def covered_through(manifest: Manifest) -> datetime:
    """The instant an extraction's data is complete through: what a cursor may move to.

    ``min(window_end, as_of)``: an extraction cannot have read changes made after it
    started, nor days that had not ended. The as-of instant is the extraction's start
    (``extracted_at``, taken before its first request) less :data:`AS_OF_MARGIN`. Sources
    that know the server's clock (Salesforce) already end their windows there.
    """
    window_end = manifest_instant(manifest.window_end)
    as_of = manifest_instant(manifest.extracted_at) - AS_OF_MARGIN
    return min(window_end, as_of)


def manifest_instant(value: str) -> datetime:
    """A manifest instant (``YYYY-MM-DD`` or ISO-8601, ``Z`` allowed) as aware UTC."""
    if len(value) == 10:
        return _as_utc(date.fromisoformat(value))
    return _as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def read_cursor(landing_dir: Path, source: str, entity: str) -> datetime | None:
    """The "loaded through" instant of ``source``/``entity``, or None before the first load."""
    path = cursor_path(landing_dir, source, entity)
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return _as_utc(datetime.fromisoformat(data["loaded_through"]))


def advance_cursor(
    landing_dir: Path, source: str, entity: str, loaded_through: datetime | date
) -> datetime:
    """Move the cursor forward to ``loaded_through``; never backwards.

    A backfill of old dates (``loaded_through`` before the current cursor) leaves the
    cursor where it is. The file is replaced atomically. Returns the cursor in effect.
    """
    new = _as_utc(loaded_through)
    current = read_cursor(landing_dir, source, entity)
    if current is not None and current >= new:
        return current
    payload = {
        "source": source,
        "entity": entity,
        "loaded_through": iso_utc(new),
        "updated_at": iso_utc(utc_now()),
    }
    atomic_write_text(
        cursor_path(landing_dir, source, entity), json.dumps(payload, indent=2) + "\n"
    )
    return new


def report_days(
    landing_dir: Path,
    source: str,
    entity: str,
    interval_start: date,
    interval_end: date,
    lookback_days: int,
) -> list[date]:
    """Report days a report API must fetch: ``[effective_start, interval_end)``.

    ``effective_start`` is ``interval_start - lookback_days`` (platforms restate recent
    days), moved earlier to the cursor's day when the cursor lies before it: nothing was
    loaded since, so no gap is left after a failed or missed run.
    """
    start = interval_start - timedelta(days=max(0, lookback_days))
    cursor = read_cursor(landing_dir, source, entity)
    if cursor is not None and cursor.date() < start:
        start = cursor.date()
    return [start + timedelta(days=n) for n in range((interval_end - start).days)]


def day_ranges(days: Sequence[date], chunk_days: int) -> list[tuple[date, date]]:
    """Consecutive days cut into ``(first, last)`` ranges of at most ``chunk_days``."""
    if chunk_days < 1:
        raise ValueError(f"chunk_days must be at least 1, not {chunk_days}")
    return [
        (days[n], days[min(n + chunk_days, len(days)) - 1]) for n in range(0, len(days), chunk_days)
    ]

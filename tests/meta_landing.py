"""Land Meta insights days exactly as the extractor does (pages, then the manifest).

Shared by the volume and Data Docs tests: they need real landed files of known sizes,
loaded through the real `pipeline.load_and_validate`, without a stand-in round trip.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from reach2revenue.landing import ExtractionWriter, extraction_stamp

ACCOUNT = "1000001"
COUNTRIES = ("US", "DE", "FR", "GB", "CH", "AT", "NL", "BE", "IT", "ES")
PAGE_SIZE = 500


def insight(day: date, number: int, **overrides: Any) -> dict[str, Any]:
    """One insights row of campaign ``number // 10`` in a country, as Meta sends it."""
    row: dict[str, Any] = {
        "account_id": ACCOUNT,
        "account_currency": "USD",
        "campaign_id": f"1202{number // len(COUNTRIES):08d}",
        "campaign_name": f"Campaign {number // len(COUNTRIES)}",
        "date_start": day.isoformat(),
        "date_stop": day.isoformat(),
        "country": COUNTRIES[number % len(COUNTRIES)],
        "impressions": "1000",
        "reach": "800",
        "clicks": "20",
        "spend": "12.34",
        "actions": [{"action_type": "lead", "value": "1"}],
    }
    row.update(overrides)
    return row


def land_day(
    landing_dir: Path, day: date, rows: int, *, extracted_at: datetime | None = None, **overrides
) -> Path:
    """Land ``rows`` insights rows of one account-day; return the manifest path."""
    # A report day is read after it ended (the nightly run), unless a test says otherwise.
    moment = extracted_at or datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
    moment += timedelta(hours=2, microseconds=rows)  # distinct extraction ids per size
    writer = ExtractionWriter(
        landing_dir,
        "meta_ads",
        "insights",
        partition_date=day.isoformat(),
        window_start=day.isoformat(),
        window_end=(day + timedelta(days=1)).isoformat(),
        extraction_id=f"{ACCOUNT}-{extraction_stamp(moment)}",
        extracted_at=moment,
    )
    data = [insight(day, number, **overrides) for number in range(rows)]
    for start in range(0, max(len(data), 1), PAGE_SIZE):
        page = data[start : start + PAGE_SIZE]
        writer.add(
            json.dumps({"data": page, "paging": {"cursors": {"before": "QVFI", "after": "QVFJ"}}}),
            len(page),
        )
    return writer.finish({"account_id": ACCOUNT, "level": "campaign", "breakdowns": "country"})

"""Land the user's FX override file like any extraction, so it is validated and kept.

The file (``R2R_FX_RATE_OVERRIDES_PATH``, default ``$R2R_HOME/reference/fx_rate_overrides.csv``)
holds rates for currencies the ECB does not publish, or days the user wants to decide:

    currency_code,rate_date,units_per_eur
    AED,2026-11-27,4.108123

``units_per_eur`` is units of the currency per one euro, as the ECB writes its rates. The
file is the whole truth: each run lands a copy (header only when the file is missing), and
the loader replaces ``raw.ecb_fx_rate_overrides`` with it, so a deleted line disappears.
Overrides win over the ECB for the same currency and day (docs/reference-data.md).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from reach2revenue.landing import (
    Manifest,
    extraction_stamp,
    iso_utc,
    partition_dir,
    utc_now,
    write_manifest,
    write_page,
)
from reach2revenue.sources.ecb_fx.settings import OVERRIDE_COLUMNS

SOURCE = "ecb_fx"
ENTITY = "rate_overrides"
HEADER = ",".join(OVERRIDE_COLUMNS) + "\n"


def land_fx_rate_overrides(path: Path, *, landing_dir: Path, run_day: date) -> Path:
    """Copy the override file (or an empty one) into the landing zone; return the manifest."""
    text = path.read_text(encoding="utf-8") if path.is_file() else HEADER
    lines = [line for line in text.splitlines()[1:] if line.strip()]
    now = utc_now()
    extraction_id = f"overrides-{extraction_stamp(now)}"
    directory = partition_dir(landing_dir, SOURCE, ENTITY, run_day.isoformat(), extraction_id)
    directory.mkdir(parents=True, exist_ok=True)
    page = write_page(directory, 1, text, suffix=".csv")
    manifest = Manifest(
        source=SOURCE,
        entity=ENTITY,
        partition_date=run_day.isoformat(),
        window_start=run_day.isoformat(),
        window_end=run_day.isoformat(),
        extraction_id=extraction_id,
        extracted_at=iso_utc(now),
        pages=[page],
        record_count=len(lines),
        request_count=0,
        params={"origin": str(path) if path.is_file() else "none (file missing)"},
    )
    return write_manifest(directory, manifest)

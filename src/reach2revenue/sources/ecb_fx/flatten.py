"""ECB pages to raw rows: SDMX-CSV (nightly pull) and eurofxref (bundled history) alike,
and the user's override file as written."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from reach2revenue.flattening import lineage, text_pages
from reach2revenue.sources.ecb_fx.settings import OVERRIDE_COLUMNS, RATE_COLUMNS

if TYPE_CHECKING:
    from reach2revenue.landing import Manifest


def rate_rows(manifest: Manifest) -> list[dict[str, Any]]:
    from reach2revenue.reference.fx import SDMX_COLUMNS, parse_rates

    columns = dict(zip(SDMX_COLUMNS, RATE_COLUMNS, strict=True))
    rows = []
    for landed, text in text_pages(manifest):
        for observation in parse_rates(text):
            row = {columns[name]: value for name, value in observation.fields.items()}
            rows.append(row | lineage(landed, manifest))
    return rows


def override_rows(manifest: Manifest) -> list[dict[str, Any]]:
    """The override file's lines as written (blank cells as null, unknown columns dropped)."""
    rows = []
    for landed, text in text_pages(manifest):
        for line in csv.DictReader(io.StringIO(text)):
            row = {c: (line.get(c) or "").strip() or None for c in OVERRIDE_COLUMNS}
            if any(row.values()):
                rows.append(row | lineage(landed, manifest))
    return rows

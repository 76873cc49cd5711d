"""ECB pages to raw rows: SDMX-CSV (nightly pull) and eurofxref (bundled history) alike,
and the user's override file as written."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from reach2revenue.contracts import ResponseField, ResponseSchema
from reach2revenue.flattening import lineage, text_pages
from reach2revenue.sources.ecb_fx.settings import OVERRIDE_COLUMNS, RATE_COLUMNS

if TYPE_CHECKING:
    from reach2revenue.landing import Manifest

#: The SDMX-CSV columns the rates are read from (``reference.fx.SDMX_COLUMNS``, kept here
#: so that importing the registry stays cheap; a test keeps the two equal), all required.
SDMX_CSV_COLUMNS = tuple(column.upper() for column in RATE_COLUMNS)
#: The ECB's other attribute columns: known, not loaded.
SDMX_ATTRIBUTE_COLUMNS = (
    "OBS_CONF",
    "OBS_PRE_BREAK",
    "OBS_COM",
    "TIME_FORMAT",
    "BREAKS",
    "COLLECTION",
    "COMPILING_ORG",
    "DISS_ORG",
    "DOM_SER_IDS",
    "PUBL_ECB",
    "PUBL_MU",
    "PUBL_PUBLIC",
    "UNIT_INDEX_BASE",
    "COMPILATION",
    "COVERAGE",
    "DECIMALS",
    "NAT_TITLE",
    "SOURCE_AGENCY",
    "SOURCE_PUB",
    "TITLE",
    "TITLE_COMPL",
    "UNIT",
    "UNIT_MULT",
)

#: Rates pages: the nightly SDMX-CSV answer (header ``KEY,FREQ,...``), or the bundled
#: ``eurofxref-hist.csv`` (header ``Date,USD,JPY,...``, one column per currency).
RATES_RESPONSE = ResponseSchema(
    records="",
    csv=True,
    fields=tuple(
        ResponseField(column, measure=column == "OBS_VALUE") for column in SDMX_CSV_COLUMNS
    ),
    ignored=SDMX_ATTRIBUTE_COLUMNS,
    csv_alternatives=((ResponseField("Date"),),),
)
#: The user's override file, as documented (docs/reference-data.md).
OVERRIDES_RESPONSE = ResponseSchema(
    records="",
    csv=True,
    fields=tuple(
        ResponseField(column, measure=column == "units_per_eur") for column in OVERRIDE_COLUMNS
    ),
)


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

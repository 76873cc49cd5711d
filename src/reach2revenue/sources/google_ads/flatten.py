"""searchStream answers to raw rows: one row per result, values as the API sent them.

A landed page is one searchStream response: a JSON array of batches, each
``{"results": [...], "fieldMask", "requestId"}`` (a batch may have no ``results``: proto3
JSON leaves empty lists out). Results are nested lowerCamelCase objects; int64 values
(ids, ``costMicros``, ``impressions``, ``clicks``, ``countryCriterionId``) are JSON strings
and stay so, ``conversions`` (a double) becomes its JSON text. A page holding a single
``search`` answer (one object with ``results``) is read the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reach2revenue.contracts import ResponseField, ResponseSchema
from reach2revenue.flattening import json_pages, lineage, raw_text
from reach2revenue.sources.google_ads.settings import REPORT_FIELDS, json_path, raw_column

if TYPE_CHECKING:
    from collections.abc import Iterator

    from reach2revenue.landing import Manifest

_PATHS = tuple((raw_column(f), json_path(f)) for f in REPORT_FIELDS)

#: GAQL fields whose REST value is a double (a JSON number); every other selected field is
#: an int64 (a JSON string), an enum or a string.
_DOUBLE_FIELDS = frozenset({"metrics.conversions"})


def _report_field(gaql_field: str) -> ResponseField:
    return ResponseField(
        ".".join(json_path(gaql_field)),
        ("number",) if gaql_field in _DOUBLE_FIELDS else ("string",),
        measure=gaql_field.startswith("metrics."),
    )


#: A searchStream answer: a JSON array of batches ``{"results", "fieldMask", "requestId"}``
#: (a ``search`` page, one object with ``nextPageToken``, is read the same way). Every
#: selected field is in every result (``optional`` fields are sent even when zero); each
#: resource also carries its ``resourceName``. An empty stream is one batch without
#: ``results``: proto3 JSON leaves the empty list out.
GEOGRAPHIC_VIEW_RESPONSE = ResponseSchema(
    records="results",
    stream=True,
    empty_batch_omits_records=True,
    page_keys=(
        "fieldMask",
        "requestId",
        "summaryRow",
        "queryResourceConsumption",
        "nextPageToken",
        "totalResultsCount",
    ),
    fields=tuple(_report_field(f) for f in REPORT_FIELDS),
    ignored=tuple(
        f"{resource}.resourceName"
        for resource in dict.fromkeys(json_path(f)[0] for f in REPORT_FIELDS)
        if resource not in ("metrics", "segments")
    ),
)


def _batches(page: Any) -> Iterator[dict[str, Any]]:
    if isinstance(page, list):
        yield from (batch for batch in page if isinstance(batch, dict))
    elif isinstance(page, dict):
        yield page


def _value(result: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = result
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def geographic_view_rows(manifest: Manifest) -> list[dict[str, Any]]:
    customer = manifest.params.get("customer_id")
    rows = []
    for landed, page in json_pages(manifest):
        for batch in _batches(page):
            for result in batch.get("results") or []:
                row = {column: raw_text(_value(result, path)) for column, path in _PATHS}
                if row["customer_id"] is None and customer is not None:
                    row["customer_id"] = str(customer)  # field not selected: the request's
                rows.append(row | lineage(landed, manifest))
    return rows

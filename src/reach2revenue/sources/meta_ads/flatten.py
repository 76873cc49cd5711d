"""Insights pages to raw rows: one row per ``data`` item, values as the API sent them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reach2revenue.contracts import ResponseField, ResponseSchema
from reach2revenue.flattening import json_pages, lineage, raw_text
from reach2revenue.sources.meta_ads.settings import INSIGHTS_COLUMNS

if TYPE_CHECKING:
    from reach2revenue.landing import Manifest

#: An insights page: ``{"data": [...], "paging": {...}}``, ``data`` present even when empty.
#: Every requested field comes as a string (numbers too); ``actions`` is left out when
#: there were none, and ``account_id`` is filled from the request when absent.
INSIGHTS_RESPONSE = ResponseSchema(
    records="data",
    page_keys=("paging",),
    fields=(
        ResponseField("account_id", required=False),
        ResponseField("account_currency"),
        ResponseField("campaign_id"),
        ResponseField("campaign_name"),
        ResponseField("date_start"),
        ResponseField("date_stop"),
        ResponseField("country"),
        ResponseField("impressions", measure=True),
        ResponseField("reach", measure=True),
        ResponseField("clicks", measure=True),
        ResponseField("spend", measure=True),
        ResponseField("actions", ("array",), required=False),
        ResponseField("actions[].action_type"),
        ResponseField("actions[].value", measure=True),
    ),
)


def insight_rows(manifest: Manifest) -> list[dict[str, Any]]:
    account = manifest.params.get("account_id")
    rows = []
    for landed, page in json_pages(manifest):
        for item in page.get("data") or []:
            row = {col: raw_text(item.get(col)) for col in INSIGHTS_COLUMNS}
            if row["account_id"] is None and account is not None:
                row["account_id"] = str(account)  # field not returned: use the request's
            rows.append(row | lineage(landed, manifest))
    return rows

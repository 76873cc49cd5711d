"""LinkedIn pages to raw rows: ad accounts, campaign search pages and adAnalytics answers.

Values stay as the API sent them (numbers and booleans as their JSON text). Two things are
written in a fixed form without interpreting them:

- ``dateRange.start``/``end`` are ``{"year", "month", "day"}`` records; they become
  ``YYYY-MM-DD`` (the day the loader replaces by). A record of another shape is kept as its
  JSON text, so the suite rejects it instead of the flattener guessing.
- ``pivotValues`` is a list of URNs, one per requested pivot. Each URN goes to the column of
  its pivot by its type (``urn:li:sponsoredCampaign:`` for CAMPAIGN, ``urn:li:geo:`` for
  MEMBER_COUNTRY_V2), not by position, so the flattener does not depend on the element
  order matching the ``pivots`` order (which LinkedIn does not state).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reach2revenue.contracts import ResponseField, ResponseSchema
from reach2revenue.flattening import json_pages, lineage, raw_text
from reach2revenue.sources.linkedin_ads.settings import (
    AD_ACCOUNT_FIELDS,
    ANALYTICS_METRICS,
    CAMPAIGN_FIELDS,
    CAMPAIGN_URN_PREFIX,
    GEO_URN_PREFIX,
)

if TYPE_CHECKING:
    from reach2revenue.landing import Manifest

#: ``GET /rest/adAccounts/{id}``: the page is the account. ``reference`` (the company page)
#: is left out for accounts without one.
AD_ACCOUNT_RESPONSE = ResponseSchema(
    records="",
    fields=(
        ResponseField("id", ("integer",)),
        ResponseField("name"),
        ResponseField("currency"),
        ResponseField("status"),
        ResponseField("type"),
        ResponseField("reference", required=False),
        ResponseField("test", ("boolean",), required=False),
    ),
    ignored=(
        "servingStatuses",
        "version",
        "changeAuditStamps",
        "notifiedOnCampaignOptimization",
        "notifiedOnCreativeApproval",
        "notifiedOnCreativeRejection",
        "notifiedOnEndOfCampaign",
        "notifiedOnNewFeaturesEnabled",
    ),
)

#: A campaign search page: ``{"elements": [...], "metadata"?: {"nextPageToken"}}``. Instants
#: are epoch milliseconds; ``runSchedule.end`` only for campaigns with an end.
CAMPAIGN_RESPONSE = ResponseSchema(
    records="elements",
    page_keys=("metadata", "paging"),
    fields=(
        ResponseField("id", ("integer",)),
        ResponseField("name"),
        ResponseField("account"),
        ResponseField("campaignGroup"),
        ResponseField("status"),
        ResponseField("type"),
        ResponseField("objectiveType", required=False),
        ResponseField("costType"),
        ResponseField("runSchedule", ("object",)),
        ResponseField("runSchedule.start", ("integer",)),
        ResponseField("runSchedule.end", ("integer",), required=False),
        ResponseField("changeAuditStamps", ("object",)),
        ResponseField("changeAuditStamps.created", ("object",)),
        ResponseField("changeAuditStamps.created.time", ("integer",)),
        ResponseField("changeAuditStamps.lastModified", ("object",)),
        ResponseField("changeAuditStamps.lastModified.time", ("integer",)),
    ),
    ignored=(
        "dailyBudget",
        "totalBudget",
        "unitCost",
        "locale",
        "test",
        "version",
        "targetingCriteria",
        "format",
        "servingStatuses",
        "offsiteDeliveryEnabled",
        "audienceExpansionEnabled",
        "creativeSelection",
        "pacingStrategy",
        "politicalIntent",
        "storyDeliveryEnabled",
        "associatedEntity",
        "connectedTelevisionOnly",
    ),
)


def _date_record(path: str) -> tuple[ResponseField, ...]:
    return (
        ResponseField(path, ("object",)),
        *(ResponseField(f"{path}.{part}", ("integer",)) for part in ("year", "month", "day")),
    )


#: An adAnalytics answer: ``{"paging", "elements": [...]}``, one element per campaign,
#: member country and day, exactly the requested ``fields``. Counts are integers and the
#: cost a decimal string; the conversion counts may be left out (a missing one means 0).
ANALYTICS_RESPONSE = ResponseSchema(
    records="elements",
    page_keys=("paging",),
    fields=(
        ResponseField("dateRange", ("object",)),
        *_date_record("dateRange.start"),
        *_date_record("dateRange.end"),
        ResponseField("pivotValues", ("array",)),
        ResponseField("impressions", ("integer",), measure=True),
        ResponseField("clicks", ("integer",), measure=True),
        ResponseField("costInLocalCurrency", measure=True),
        ResponseField(
            "externalWebsiteConversions", ("integer",), required=False, nullable=True, measure=True
        ),
        ResponseField("oneClickLeads", ("integer",), required=False, nullable=True, measure=True),
    ),
)

_PIVOT_COLUMNS = {
    CAMPAIGN_URN_PREFIX: "pivot_campaign",
    GEO_URN_PREFIX: "pivot_member_country_v2",
}


def _at(item: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(item, dict):
            return None
        item = item.get(key)
    return item


def _object_row(item: Mapping[str, Any], fields: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    return {column: raw_text(_at(item, path)) for column, path in fields.items()}


def ad_account_rows(manifest: Manifest) -> list[dict[str, Any]]:
    """One row per landed ``GET /rest/adAccounts/{id}`` answer (one account a page)."""
    rows = []
    for landed, page in json_pages(manifest):
        if isinstance(page, dict) and page:
            rows.append(_object_row(page, AD_ACCOUNT_FIELDS) | lineage(landed, manifest))
    return rows


def campaign_rows(manifest: Manifest) -> list[dict[str, Any]]:
    """One row per ``elements`` item of the campaign search pages."""
    rows = []
    for landed, page in json_pages(manifest):
        for item in page.get("elements") or []:
            rows.append(_object_row(item, CAMPAIGN_FIELDS) | lineage(landed, manifest))
    return rows


def date_text(value: Any) -> str | None:
    """A Rest.li ``Date`` record as ``YYYY-MM-DD``; anything else as its raw text."""
    if isinstance(value, dict) and set(value) == {"year", "month", "day"}:
        parts = (value["year"], value["month"], value["day"])
        if all(isinstance(part, int) and not isinstance(part, bool) for part in parts):
            return f"{parts[0]:04d}-{parts[1]:02d}-{parts[2]:02d}"
    return raw_text(value)


def analytics_rows(manifest: Manifest) -> list[dict[str, Any]]:
    """One row per adAnalytics element: its day, pivot URNs and metrics.

    The elements carry no account: ``account_id`` is the account the extraction asked for
    (``params.account_id``), one account per extraction.
    """
    account = manifest.params.get("account_id")
    rows = []
    for landed, page in json_pages(manifest):
        for item in page.get("elements") or []:
            date_range = item.get("dateRange") or {}
            row: dict[str, Any] = {
                "account_id": str(account) if account is not None else None,
                "date_range_start": date_text(date_range.get("start")),
                "date_range_end": date_text(date_range.get("end")),
                "pivot_campaign": None,
                "pivot_member_country_v2": None,
            }
            for value in item.get("pivotValues") or []:
                column = next(
                    (c for p, c in _PIVOT_COLUMNS.items() if str(value).startswith(p)), None
                )
                if column is not None:
                    row[column] = str(value)
            for column, field in ANALYTICS_METRICS.items():
                row[column] = raw_text(item.get(field))
            rows.append(row | lineage(landed, manifest))
    return rows

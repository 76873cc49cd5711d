"""HubSpot pages to raw rows: objects (search or list results) and association batches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from reach2revenue.contracts import ResponseField, ResponseSchema
from reach2revenue.flattening import json_pages, lineage, raw_text
from reach2revenue.sources.hubspot.settings import CONTACT_COLUMNS, DEAL_COLUMNS, OBJECT_FIELDS

if TYPE_CHECKING:
    from reach2revenue.landing import Manifest

#: Properties that always hold a value (HubSpot sets them itself); every other requested
#: property is sent too, as a string or null when unset.
_ALWAYS_SET = frozenset({"createdate", "lastmodifieddate", "hs_lastmodifieddate", "dealstage"})
#: Property values that are amounts the marts add up.
_MEASURES = frozenset({"amount"})


def object_response(columns: Sequence[str]) -> ResponseSchema:
    """What a list or search page of CRM objects holds, for a raw table's columns.

    ``{"results": [...], "paging"?, "total"?}``; each object ``{"id", "properties",
    "createdAt", "updatedAt", "archived", "archivedAt"?, "associations"?}``. Every
    requested property is in ``properties`` (HubSpot answers null for an unset one), so a
    property that is absent was renamed or removed: drift, not a null.
    """
    top = {"id": ("string",), "created_at": ("string",), "updated_at": ("string",)}
    fields = [ResponseField("properties", ("object",))]
    for column in columns:
        if column in OBJECT_FIELDS:
            types = top.get(column, ("boolean",))
            fields.append(ResponseField(OBJECT_FIELDS[column], types))
        else:
            fields.append(
                ResponseField(
                    f"properties.{column}",
                    nullable=column not in _ALWAYS_SET,
                    measure=column in _MEASURES,
                )
            )
    return ResponseSchema(
        records="results",
        page_keys=("paging", "total"),
        fields=tuple(fields),
        ignored=("archivedAt", "associations", "properties.hs_object_id", "propertiesWithHistory"),
    )


CONTACTS_RESPONSE = object_response(CONTACT_COLUMNS)
DEALS_RESPONSE = object_response(DEAL_COLUMNS)
#: A v4 batch association read: ``{"status", "results": [{"from": {"id"}, "to": [...]}]}``
#: plus ``errors`` for the deals without any link (answered 207).
DEAL_CONTACTS_RESPONSE = ResponseSchema(
    records="results",
    page_keys=(
        "status",
        "startedAt",
        "completedAt",
        "requestedAt",
        "numErrors",
        "errors",
        "links",
    ),
    fields=(
        ResponseField("from", ("object",)),
        ResponseField("from.id"),
        ResponseField("to", ("array",)),
        ResponseField("to[].toObjectId", ("integer", "string")),
        ResponseField("to[].associationTypes", ("array",)),
    ),
)


def _object_rows(manifest: Manifest, columns: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for landed, page in json_pages(manifest):
        for item in page.get("results") or []:
            properties = item.get("properties") or {}
            row: dict[str, Any] = {}
            for col in columns:
                if col == "id":
                    row[col] = raw_text(str(item["id"]) if item.get("id") is not None else None)
                elif col in OBJECT_FIELDS:
                    row[col] = raw_text(item.get(OBJECT_FIELDS[col]))
                else:
                    row[col] = raw_text(properties.get(col))
            rows.append(row | lineage(landed, manifest))
    return rows


def contact_rows(manifest: Manifest) -> list[dict[str, Any]]:
    return _object_rows(manifest, CONTACT_COLUMNS)


def deal_rows(manifest: Manifest) -> list[dict[str, Any]]:
    return _object_rows(manifest, DEAL_COLUMNS)


def _association_type(types: Sequence[dict[str, Any]]) -> str | None:
    """One type id per pair: HubSpot's own (unlabelled) link first, else the first label."""
    if not types:
        return None
    ranked = sorted(types, key=lambda t: (t.get("category") != "HUBSPOT_DEFINED",))
    return raw_text(str(ranked[0].get("typeId")) if ranked[0].get("typeId") is not None else None)


def deal_contact_rows(manifest: Manifest) -> list[dict[str, Any]]:
    rows = []
    for landed, page in json_pages(manifest):
        for result in page.get("results") or []:
            deal_id = (result.get("from") or {}).get("id")
            if deal_id is None:
                continue
            for link in result.get("to") or []:
                rows.append(
                    {
                        "deal_id": str(deal_id),
                        "contact_id": str(link.get("toObjectId")),
                        "association_type_id": _association_type(
                            link.get("associationTypes") or []
                        ),
                    }
                    | lineage(landed, manifest)
                )
    return rows

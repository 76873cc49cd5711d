"""HubSpot pages to raw rows: objects (search or list results) and association batches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from reach2revenue.flattening import json_pages, lineage, raw_text
from reach2revenue.sources.hubspot.settings import CONTACT_COLUMNS, DEAL_COLUMNS, OBJECT_FIELDS

if TYPE_CHECKING:
    from reach2revenue.landing import Manifest


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

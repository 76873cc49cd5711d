"""Query pages to raw rows: one row per record, each field as the API sent it.

A page is one ``query``/``queryAll`` batch: ``{"totalSize", "done", "nextRecordsUrl"?,
"records": [...]}``. Each record carries ``attributes`` (``type`` and ``url``) and the
asked-for fields; ``attributes`` is dropped. Strings stay as they are; numbers (``Amount``,
a JSON number such as ``125000.0`` or, for large values, ``1.5E7``), booleans and nulls go
through ``raw_text``, so nothing is interpreted before the suites and dbt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reach2revenue.contracts import ResponseField, ResponseSchema
from reach2revenue.flattening import json_pages, lineage, raw_text
from reach2revenue.sources.salesforce.settings import (
    ACCOUNT,
    CAMPAIGN,
    CAMPAIGN_MEMBER,
    CONTACT,
    LEAD,
    OPPORTUNITY,
    OPPORTUNITY_CONTACT_ROLE,
    SObject,
)

if TYPE_CHECKING:
    from reach2revenue.landing import Manifest

#: Fields that are JSON booleans; ``Amount`` is a JSON number; everything else (ids,
#: picklists, dates, datetimes) a string.
_BOOLEAN_FIELDS = frozenset(
    {"IsDeleted", "IsWon", "IsClosed", "IsConverted", "HasResponded", "IsPrimary"}
)
_NUMBER_FIELDS = frozenset({"Amount"})
#: Fields Salesforce always fills (system fields, required fields of the objects read here);
#: the others are null when unset.
_NEVER_NULL = frozenset(
    {"Id", "CreatedDate", "SystemModstamp", "StageName", "CloseDate", "OpportunityId"}
    | _BOOLEAN_FIELDS
)


def sobject_response(sobject: SObject) -> ResponseSchema:
    """What a query/queryAll page of ``sobject`` holds.

    ``{"totalSize", "done", "nextRecordsUrl"?, "records": [...]}``; a record carries
    ``attributes`` and every field the SOQL selected, null when unset, so an absent field
    was renamed or removed: drift, not a null.
    """
    fields = []
    for name in sobject.fields:
        types = (
            ("boolean",)
            if name in _BOOLEAN_FIELDS
            else ("number",)
            if name in _NUMBER_FIELDS
            else ("string",)
        )
        fields.append(
            ResponseField(
                name, types, nullable=name not in _NEVER_NULL, measure=name in _NUMBER_FIELDS
            )
        )
    return ResponseSchema(
        records="records",
        page_keys=("totalSize", "done", "nextRecordsUrl"),
        fields=tuple(fields),
        ignored=("attributes",),
    )


def record_rows(manifest: Manifest, sobject: SObject) -> list[dict[str, Any]]:
    """Raw rows of every record on the extraction's pages, in the order received."""
    pairs = tuple(sobject.column_of_field.items())
    rows = []
    for landed, page in json_pages(manifest):
        for record in page.get("records") or []:
            row = {column: raw_text(record.get(name)) for name, column in pairs}
            rows.append(row | lineage(landed, manifest))
    return rows


def campaign_rows(manifest: Manifest) -> list[dict[str, Any]]:
    return record_rows(manifest, CAMPAIGN)


def account_rows(manifest: Manifest) -> list[dict[str, Any]]:
    return record_rows(manifest, ACCOUNT)


def contact_rows(manifest: Manifest) -> list[dict[str, Any]]:
    return record_rows(manifest, CONTACT)


def lead_rows(manifest: Manifest) -> list[dict[str, Any]]:
    return record_rows(manifest, LEAD)


def opportunity_rows(manifest: Manifest) -> list[dict[str, Any]]:
    return record_rows(manifest, OPPORTUNITY)


def opportunity_contact_role_rows(manifest: Manifest) -> list[dict[str, Any]]:
    return record_rows(manifest, OPPORTUNITY_CONTACT_ROLE)


def campaign_member_rows(manifest: Manifest) -> list[dict[str, Any]]:
    return record_rows(manifest, CAMPAIGN_MEMBER)

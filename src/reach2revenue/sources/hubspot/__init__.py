"""HubSpot CRM: contacts, deals and the deals' contacts (a CRM)."""

from __future__ import annotations

from pathlib import Path

from reach2revenue.contracts import ExtractRequest, MergeRule, RawTable, Source, SourceKind
from reach2revenue.sources.hubspot.errors import ERRORS
from reach2revenue.sources.hubspot.flatten import (
    CONTACTS_RESPONSE,
    DEAL_CONTACTS_RESPONSE,
    DEALS_RESPONSE,
    contact_rows,
    deal_contact_rows,
    deal_rows,
)
from reach2revenue.sources.hubspot.settings import (
    CONTACT_COLUMNS,
    DEAL_COLUMNS,
    DEAL_CONTACT_COLUMNS,
    DEFAULT_BASE_URL,
    MODIFIED_PROPERTY,
)


def _extract(request: ExtractRequest) -> list[Path]:
    from reach2revenue.sources.hubspot.extract import extract_hubspot

    return extract_hubspot(
        request.credentials,
        interval_start=request.interval.start,
        interval_end=request.interval.end,
        landing_dir=request.landing_dir,
    )


SOURCE = Source(
    name="hubspot",
    kind=SourceKind.CRM,
    tables=(
        RawTable(
            source="hubspot",
            entity="contacts",
            columns=CONTACT_COLUMNS,
            key=("id",),
            merge=MergeRule.UPSERT_NEWEST,
            flatten=contact_rows,
            modified_column=MODIFIED_PROPERTY["contacts"],
            response=CONTACTS_RESPONSE,
        ),
        RawTable(
            source="hubspot",
            entity="deals",
            columns=DEAL_COLUMNS,
            key=("id",),
            merge=MergeRule.UPSERT_NEWEST,
            flatten=deal_rows,
            modified_column=MODIFIED_PROPERTY["deals"],
            response=DEALS_RESPONSE,
        ),
        RawTable(
            source="hubspot",
            entity="deal_contacts",
            columns=DEAL_CONTACT_COLUMNS,
            key=("deal_id", "contact_id"),
            merge=MergeRule.REPLACE_CHILDREN,
            flatten=deal_contact_rows,
            scope_columns=("deal_id",),
            scope_param="deal_ids",
            response=DEAL_CONTACTS_RESPONSE,
        ),
    ),
    extract=_extract,
    default_base_url=DEFAULT_BASE_URL,
    errors=ERRORS,
)

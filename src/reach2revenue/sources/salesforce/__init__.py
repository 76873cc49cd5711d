"""Salesforce CRM: accounts, contacts, leads, opportunities, their contact roles,
campaigns and campaign members, deletions included (a CRM).

Every object is read through ``queryAll`` on ``SystemModstamp`` and lands as one raw table
``raw.salesforce_<entity>`` keyed on ``id``, upserted so that an older version never
replaces a newer one; a deleted record arrives with ``is_deleted = 'true'`` and stays, so
dbt sees it as deleted.

Credentials: the connection ``salesforce_default`` holds the org's My Domain URL as host,
the connected app's client secret as password and ``{"client_id": ...}`` as extra (or
``R2R_SALESFORCE_BASE_URL``, ``R2R_SALESFORCE_TOKEN`` / ``R2R_SALESFORCE_CLIENT_SECRET`` and
``R2R_SALESFORCE_CLIENT_ID``). There is no long-lived token: the extractor fetches access
tokens itself (OAuth client-credentials flow), hence ``needs_token=False``.
"""

from __future__ import annotations

from pathlib import Path

from reach2revenue.contracts import (
    ExtractRequest,
    Flattener,
    MergeRule,
    RawTable,
    Source,
    SourceKind,
)
from reach2revenue.sources.salesforce.errors import ERRORS
from reach2revenue.sources.salesforce.flatten import (
    account_rows,
    campaign_member_rows,
    campaign_rows,
    contact_rows,
    lead_rows,
    opportunity_contact_role_rows,
    opportunity_rows,
    sobject_response,
)
from reach2revenue.sources.salesforce.settings import (
    ACCOUNT,
    CAMPAIGN,
    CAMPAIGN_MEMBER,
    CONTACT,
    DEFAULT_BASE_URL,
    KEY,
    LEAD,
    MODIFIED_COLUMN,
    OPPORTUNITY,
    OPPORTUNITY_CONTACT_ROLE,
    SalesforceOptions,
    SObject,
)


def _extract(request: ExtractRequest) -> list[Path]:
    from reach2revenue.sources.salesforce.extract import extract_salesforce

    return extract_salesforce(
        request.credentials,
        interval_start=request.interval.start,
        interval_end=request.interval.end,
        landing_dir=request.landing_dir,
    )


def _table(sobject: SObject, flatten: Flattener) -> RawTable:
    return RawTable(
        source="salesforce",
        entity=sobject.entity,
        columns=sobject.columns,
        key=KEY,
        merge=MergeRule.UPSERT_NEWEST,
        flatten=flatten,
        modified_column=MODIFIED_COLUMN,
        response=sobject_response(sobject),
    )


SOURCE = Source(
    name="salesforce",
    kind=SourceKind.CRM,
    tables=(
        _table(CAMPAIGN, campaign_rows),
        _table(ACCOUNT, account_rows),
        _table(CONTACT, contact_rows),
        _table(LEAD, lead_rows),
        _table(OPPORTUNITY, opportunity_rows),
        _table(OPPORTUNITY_CONTACT_ROLE, opportunity_contact_role_rows),
        _table(CAMPAIGN_MEMBER, campaign_member_rows),
    ),
    extract=_extract,
    default_base_url=DEFAULT_BASE_URL,
    options_type=SalesforceOptions,
    needs_token=False,
    errors=ERRORS,
)

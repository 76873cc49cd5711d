"""HubSpot CRM v3/v4 constants and the raw columns of contacts, deals and their links."""

from __future__ import annotations

DEFAULT_BASE_URL = "https://api.hubapi.com"

CONTACT_COLUMNS = (
    "id",
    "email",
    "firstname",
    "lastname",
    "country",
    "hs_analytics_source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "createdate",
    "lastmodifieddate",
    "created_at",
    "updated_at",
    "archived",
)
DEAL_COLUMNS = (
    "id",
    "dealname",
    "amount",
    "deal_currency_code",
    "dealstage",
    "pipeline",
    "closedate",
    "createdate",
    "hs_lastmodifieddate",
    "created_at",
    "updated_at",
    "archived",
)
DEAL_CONTACT_COLUMNS = ("deal_id", "contact_id", "association_type_id")

# The last-modified property of each object: the incremental cursor's column.
MODIFIED_PROPERTY = {"contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate"}

# Top-level object fields of a record (raw column -> JSON key); every other raw column is a
# property.
OBJECT_FIELDS = {
    "id": "id",
    "created_at": "createdAt",
    "updated_at": "updatedAt",
    "archived": "archived",
}


def properties(columns: tuple[str, ...]) -> tuple[str, ...]:
    """The properties to request for a raw table's columns."""
    return tuple(column for column in columns if column not in OBJECT_FIELDS)


# The raw schema decides what is asked for: a new raw column is a new requested property.
PROPERTIES = {"contacts": properties(CONTACT_COLUMNS), "deals": properties(DEAL_COLUMNS)}

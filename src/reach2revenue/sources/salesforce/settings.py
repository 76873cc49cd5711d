"""Salesforce REST API constants, the objects and fields read, and the source's options.

Facts relied on (Salesforce REST API developer guide, ``../shared/reference/api-shapes.md`` §5):

- Data lives under ``{instance_url}/services/data/v{NN.0}/``; ``queryAll?q=<SOQL>`` returns
  soft-deleted rows too (``IsDeleted`` true), ``query`` does not.
- Every object read here has ``Id`` (18 characters, case-safe, starting with the object's
  key prefix), ``IsDeleted``, ``CreatedDate`` and ``SystemModstamp``; datetimes are UTC
  (``2024-03-15T12:01:02.000+0000``), dates plain ``YYYY-MM-DD``.
- ``CurrencyIsoCode`` exists only in multi-currency orgs, ``BillingCountryCode`` only with
  State and Country picklists: asking for either elsewhere fails with ``INVALID_FIELD``.
  The org this source reads has both enabled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from reach2revenue.failures import ConfigurationError

API_VERSION = "60.0"  # the default REST API version; the option api_version overrides it
# Client credentials need the org's My Domain (https://<MyDomain>.my.salesforce.com): the
# generic login hosts do not support that flow, so there is no usable default host. This is
# the form of the URL the connection's host must have; the extractor refuses the generic
# login hosts with a message saying so.
DEFAULT_BASE_URL = "https://login.salesforce.com"
LOGIN_HOSTS = frozenset({"login.salesforce.com", "test.salesforce.com"})

#: The field every incremental query filters and sorts on (indexed; bumped by user and
#: system changes and by deletion).
MODIFIED_FIELD = "SystemModstamp"


def snake_case(field_name: str) -> str:
    """Raw column name of an API field: ``BillingCountryCode`` -> ``billing_country_code``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", field_name).lower()


@dataclass(frozen=True)
class SObject:
    """One object read in full through ``queryAll``: its API name, entity and fields.

    ``fields`` are API names in the order they are asked for; the raw table's columns are
    their snake_case forms in the same order.
    """

    name: str
    entity: str
    fields: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(snake_case(name) for name in self.fields)

    @property
    def column_of_field(self) -> dict[str, str]:
        return dict(zip(self.fields, self.columns, strict=True))


_SYSTEM_FIELDS = ("IsDeleted", "CreatedDate", "SystemModstamp")

CAMPAIGN = SObject(
    "Campaign",
    "campaigns",
    ("Id", "Name", "Type", "Status", "StartDate", "EndDate", *_SYSTEM_FIELDS),
)
ACCOUNT = SObject(
    "Account",
    "accounts",
    ("Id", "Name", "BillingCountry", "BillingCountryCode", "CurrencyIsoCode", *_SYSTEM_FIELDS),
)
CONTACT = SObject(
    "Contact",
    "contacts",
    (
        "Id",
        "AccountId",
        "Email",
        "FirstName",
        "LastName",
        "MailingCountry",
        "LeadSource",
        *_SYSTEM_FIELDS,
    ),
)
LEAD = SObject(
    "Lead",
    "leads",
    (
        "Id",
        "Email",
        "FirstName",
        "LastName",
        "Country",
        "LeadSource",
        "Status",
        "IsConverted",
        "ConvertedDate",
        "ConvertedOpportunityId",
        "ConvertedContactId",
        "ConvertedAccountId",
        *_SYSTEM_FIELDS,
    ),
)
OPPORTUNITY = SObject(
    "Opportunity",
    "opportunities",
    (
        "Id",
        "AccountId",
        "Name",
        "Amount",
        "CurrencyIsoCode",
        "StageName",
        "IsWon",
        "IsClosed",
        "CloseDate",
        "LeadSource",
        "CampaignId",
        *_SYSTEM_FIELDS,
    ),
)
OPPORTUNITY_CONTACT_ROLE = SObject(
    "OpportunityContactRole",
    "opportunity_contact_roles",
    ("Id", "OpportunityId", "ContactId", "Role", "IsPrimary", *_SYSTEM_FIELDS),
)
CAMPAIGN_MEMBER = SObject(
    "CampaignMember",
    "campaign_members",
    (
        "Id",
        "CampaignId",
        "LeadId",
        "ContactId",
        "Status",
        "HasResponded",
        "FirstRespondedDate",
        *_SYSTEM_FIELDS,
    ),
)

#: Every object read, in load order (parents before the objects pointing at them).
SOBJECTS: tuple[SObject, ...] = (
    CAMPAIGN,
    ACCOUNT,
    CONTACT,
    LEAD,
    OPPORTUNITY,
    OPPORTUNITY_CONTACT_ROLE,
    CAMPAIGN_MEMBER,
)
SOBJECT_OF_ENTITY: dict[str, SObject] = {sobject.entity: sobject for sobject in SOBJECTS}
ENTITIES: tuple[str, ...] = tuple(SOBJECT_OF_ENTITY)

#: Every raw table is keyed on the record id and upserted on its SystemModstamp.
KEY = ("id",)
MODIFIED_COLUMN = snake_case(MODIFIED_FIELD)

_API_VERSION = re.compile(r"^v?([1-9][0-9])\.0$")


@dataclass(frozen=True)
class SalesforceOptions:
    """The connected app's credentials and the API version.

    From the connection ``salesforce_default`` (host = the org's My Domain URL, extra
    ``{"client_id": ..., "api_version": ...}``) or ``R2R_SALESFORCE_CLIENT_ID`` and
    ``R2R_SALESFORCE_API_VERSION``. The client secret belongs in the connection's
    *password* (or ``R2R_SALESFORCE_TOKEN``), where Airflow masks it; ``client_secret``
    here (extra or ``R2R_SALESFORCE_CLIENT_SECRET``) is the fallback for set-ups without a
    password field. Either way it is never logged, landed or shown in ``repr``.
    """

    client_id: str
    client_secret: str = field(default="", repr=False)
    api_version: str = API_VERSION

    def __post_init__(self) -> None:
        client_id = self.client_id.strip()
        if not client_id:
            raise ConfigurationError("no Salesforce client_id (the connected app's consumer key)")
        match = _API_VERSION.match(self.api_version.strip())
        if match is None:
            raise ConfigurationError(f"api_version {self.api_version!r} is not like '60.0'")
        object.__setattr__(self, "client_id", client_id)
        object.__setattr__(self, "client_secret", self.client_secret.strip())
        object.__setattr__(self, "api_version", f"{match.group(1)}.0")

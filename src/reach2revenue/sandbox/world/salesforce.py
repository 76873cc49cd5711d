"""The world's Salesforce org: the enterprise sales team's CRM (a world part).

The core world's HubSpot portal holds the self-serve and mid-market business that Meta
ads bring in; this org holds the enterprise segment, sold by account executives to
companies, so no deal is in both and revenue is never counted twice. It is generated from
the core world (calendar, countries and their spellings, FX) with its own random stream
and holds every record with its full version history, so the stand-in can answer "as of
now" and the ground truth can be stated as plain facts.

What the org holds (scale 1.0, 90 days: ~575 accounts, ~1.5k contacts, ~1.8k leads, ~620
opportunities of which ~200 won, ~880 contact roles, ~25 campaigns, ~2.9k campaign
members; ~8.3k records with their history):

- Accounts in the countries the world sells in plus a seeded sample of other countries
  of the reference data: ``BillingCountry`` as people typed it (an alias of the country,
  with case and spacing noise) and ``BillingCountryCode`` (ISO-2, State and Country
  picklists); ``CurrencyIsoCode`` the country's legal tender when ``world.fx`` converts it
  on the world's days, else USD. Most accounts exist before the world starts.
- Contacts of those accounts (``MailingCountry`` the account's country, or empty) and web
  leads, some converted: a conversion creates the contact, (sometimes) the account and the
  opportunity, and its campaign member gains the ``ContactId``.
- Campaigns, and campaign members created before the opportunity they influence (the
  touchpoints attribution needs); an opportunity's ``CampaignId`` is that campaign.
- Opportunities through the standard sales stages, in the account's currency, some won,
  some lost, some still open; a few are deleted after being won (``IsDeleted``: they must
  not count). Every opportunity has exactly one primary contact role, a contact of its
  account; contact roles of a deleted opportunity are deleted with it.

Edge cases every world holds, whatever its seed, size and length (the draws alone leave
them out of small worlds): a won opportunity deleted within the recycle bin's reach of the
world's end, when a won deal's deletion can fall there and another win still counts; and
an Account created or changed on every day of the world, so an incremental pull of any day
window reads one.

Rules the facts follow (and the dbt staging models implement):

- Region: a Salesforce deal's region is its account's country (``BillingCountryCode``).
  Every contact role of an opportunity is a contact of the opportunity's account, and the
  staging model places a contact in its account's country, so whichever linked contact
  the CRM union picks, the deal lands in its account's country.
- Close time: ``CloseDate`` is a plain date (the date the rep closed the deal, in the
  org's time zone). A deal counts as closed at 12:00 UTC of that date (`close_instant`),
  whose calendar date is the CloseDate in every time zone from UTC-12 to UTC+11:59, so
  the reporting time zone shows the deal on its CloseDate. Deals close during the org's
  business hours (09:00-18:00 New York = 13:00-23:00 UTC on the same date), so that instant
  never lies after the moment the deal was actually closed.
- Money: ``Amount`` in ``CurrencyIsoCode``; whole numbers in currencies without minor
  units. It is kept here as exact decimal text; the stand-in sends it as the JSON number
  Salesforce sends.

Persistence: ``salesforce.json`` (header) and one ``salesforce_<entity>.jsonl`` per object
(each record with its versions as changes), deterministic bytes; several parts can share a
world's directory.
"""

from __future__ import annotations

import bisect
import json
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo

from reach2revenue.reference.countries import normalize_alias
from reach2revenue.sandbox.world.model import is_whole_unit_currency
from reach2revenue.sandbox.world.names import (
    COMPANY_WORDS,
    NAMES,
    ascii_name,
    company_suffix,
    name_groups,
)
from reach2revenue.sandbox.world.parts import (
    AdFact,
    CrmDealFact,
    CrmPersonFact,
    TouchFact,
    WonDealFact,
)
from reach2revenue.sandbox.world.sampling import poisson

if TYPE_CHECKING:
    from reach2revenue.sandbox.world.model import World

SOURCE = "salesforce"
FORMAT_VERSION = 1
HEADER_FILE = "salesforce.json"

#: The org's default time zone: reps enter CloseDate and ConvertedDate as dates in it.
ORG_TIMEZONE = "America/New_York"
#: Deleted records stay in the recycle bin (and in queryAll) this long, then are purged.
RECYCLE_BIN_DAYS = 15
#: The time of day (UTC) at which a date-only CloseDate counts as closed.
CLOSE_TIME_UTC = time(12, 0)

#: Key prefixes of the standard objects: the first three characters of every record id.
KEY_PREFIXES: dict[str, str] = {
    "Account": "001",
    "Contact": "003",
    "Lead": "00Q",
    "Opportunity": "006",
    "OpportunityContactRole": "00K",
    "Campaign": "701",
    "CampaignMember": "00v",
}

_AUDIT = ("IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp")
#: The org's schema as the stand-in serves it: every field of each object, in describe
#: order (a few more than the extractor asks for, as in any real org).
SOBJECT_FIELDS: dict[str, tuple[str, ...]] = {
    "Campaign": ("Id", "Name", "Type", "Status", "StartDate", "EndDate", "IsActive", *_AUDIT),
    "Account": (
        "Id",
        "Name",
        "Type",
        "Industry",
        "BillingCountry",
        "BillingCountryCode",
        "CurrencyIsoCode",
        *_AUDIT,
    ),
    "Contact": (
        "Id",
        "AccountId",
        "FirstName",
        "LastName",
        "Name",
        "Title",
        "Email",
        "MailingCountry",
        "LeadSource",
        *_AUDIT,
    ),
    "Lead": (
        "Id",
        "FirstName",
        "LastName",
        "Name",
        "Company",
        "Email",
        "Country",
        "LeadSource",
        "Status",
        "IsConverted",
        "ConvertedDate",
        "ConvertedAccountId",
        "ConvertedContactId",
        "ConvertedOpportunityId",
        *_AUDIT,
    ),
    "Opportunity": (
        "Id",
        "AccountId",
        "Name",
        "Amount",
        "CurrencyIsoCode",
        "StageName",
        "Probability",
        "IsClosed",
        "IsWon",
        "CloseDate",
        "LeadSource",
        "CampaignId",
        *_AUDIT,
    ),
    "OpportunityContactRole": (
        "Id",
        "OpportunityId",
        "ContactId",
        "Role",
        "IsPrimary",
        *_AUDIT,
    ),
    "CampaignMember": (
        "Id",
        "CampaignId",
        "LeadId",
        "ContactId",
        "Status",
        "HasResponded",
        "FirstRespondedDate",
        *_AUDIT,
    ),
}
#: Raw-table entity of each object (the extractor's names).
ENTITY_OF_SOBJECT: dict[str, str] = {
    "Campaign": "campaigns",
    "Account": "accounts",
    "Contact": "contacts",
    "Lead": "leads",
    "Opportunity": "opportunities",
    "OpportunityContactRole": "opportunity_contact_roles",
    "CampaignMember": "campaign_members",
}
SOBJECTS: tuple[str, ...] = tuple(SOBJECT_FIELDS)

#: The standard sales process: open stages with their default probability.
OPEN_STAGES: tuple[tuple[str, int], ...] = (
    ("Prospecting", 10),
    ("Qualification", 10),
    ("Needs Analysis", 20),
    ("Value Proposition", 50),
    ("Id. Decision Makers", 60),
    ("Perception Analysis", 70),
    ("Proposal/Price Quote", 75),
    ("Negotiation/Review", 90),
)
STAGE_WON = "Closed Won"
STAGE_LOST = "Closed Lost"
LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
CAMPAIGN_TYPES: tuple[tuple[str, float, int, int], ...] = (
    # type, weight, shortest and longest run in days
    ("Webinar", 4.0, 1, 1),
    ("Conference", 2.0, 2, 3),
    ("Trade Show", 1.5, 2, 4),
    ("Email", 3.0, 10, 30),
    ("Advertisement", 2.0, 14, 45),
    ("Direct Mail", 1.0, 14, 30),
    ("Partners", 1.0, 20, 60),
)
_CAMPAIGN_TOPICS = (
    "Revenue Attribution",
    "Data Quality at Scale",
    "Pipeline Analytics",
    "Marketing Mix Modelling",
    "CFO Roundtable",
    "Customer Success Summit",
    "Product Launch",
    "Executive Briefing",
)
_INDUSTRIES = (
    "Manufacturing",
    "Retail",
    "Financial Services",
    "Healthcare",
    "Technology",
    "Logistics",
    "Energy",
    "Media",
)
_PRODUCTS = (
    "Enterprise platform",
    "Attribution suite",
    "Data quality add-on",
    "Seat expansion",
    "Multi-year renewal",
    "Professional services",
)
_TITLES = (
    "CMO",
    "VP Marketing",
    "Head of Sales Operations",
    "CFO",
    "Director of Analytics",
    "Marketing Operations Manager",
    "IT Director",
    "Procurement Manager",
)
_OTHER_ROLES = ("Technical Buyer", "Evaluator", "Influencer", "Business User")
_PRIMARY_ROLES = ("Decision Maker", "Economic Buyer")

# Sizes at scale 1.0 (per world, per day or per parent) and shares.
_EXISTING_ACCOUNTS = 420
_EXTRA_COUNTRIES = 10
_CAMPAIGNS_PER_90_DAYS = 24
_LEADS_PER_DAY = 20.0
_EXPANSIONS_PER_DAY = 4.5
_LEAD_OF_EXISTING_ACCOUNT = 0.35
_LEAD_FROM_CAMPAIGN = 0.65
_LEAD_CONVERTED = 0.22
_LEAD_DISQUALIFIED = 0.4
_LEAD_DELETED = 0.01
_EXPANSION_FROM_CAMPAIGN = 0.6
_CAMPAIGN_INVITE_SHARE = 0.05
_CAMPAIGN_INVITES_MAX = 1_000
_STAGE_LOST_PER_STEP = 0.05
_WIN_AT_NEGOTIATION = 0.7
_DELETED_AFTER_WON = 0.04
_MAILING_COUNTRY_EMPTY = 0.25
_ACCOUNT_RENAMED = 0.06
_CONTACT_EDITED = 0.08
_FALLBACK_CURRENCY = "USD"

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ORG_POD = "5g"  # the instance part of record ids (characters 4-5)


# --------------------------------------------------------------------------- helpers


def salesforce_id(prefix: str, number: int) -> str:
    """An 18-character case-safe record id: key prefix, pod, record number, checksum.

    The three-character suffix is Salesforce's: each 5-character chunk of the 15-character
    id contributes one character, chosen by which of its characters are upper case.
    """
    digits = ""
    while True:
        number, rest = divmod(number, 62)
        digits = _BASE62[rest] + digits
        if number == 0:
            break
    body = f"{prefix}{_ORG_POD}0{digits.rjust(9, '0')}"
    if len(body) != 15:
        raise ValueError(f"record number too large for an id: {body}")
    suffix = ""
    for chunk in (body[0:5], body[5:10], body[10:15]):
        bits = sum(1 << index for index, char in enumerate(chunk) if "A" <= char <= "Z")
        suffix += _CHECKSUM_ALPHABET[bits]
    return body + suffix


def format_datetime(instant: datetime) -> str:
    """An instant as the REST API writes it: UTC, milliseconds, ``+0000``."""
    utc = instant.astimezone(UTC)
    # isoformat is strftime's text here (4-digit years) at a fraction of its cost.
    return utc.replace(tzinfo=None).isoformat(timespec="milliseconds") + "+0000"


def parse_datetime(text: str) -> datetime:
    """Parse ``2024-03-15T12:01:02.000+0000`` (or any ISO-8601 instant) to aware UTC."""
    value = text.strip().replace("Z", "+00:00")
    if len(value) > 5 and value[-5] in "+-" and value[-4:].isdigit():
        value = f"{value[:-2]}:{value[-2:]}"
    parsed = datetime.fromisoformat(value)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def close_instant(close_date: date | str) -> datetime:
    """When a deal with this CloseDate counts as closed: 12:00 UTC of that date."""
    day = date.fromisoformat(close_date) if isinstance(close_date, str) else close_date
    return datetime.combine(day, CLOSE_TIME_UTC, tzinfo=UTC)


def _blank_to_none(value: Any) -> str | None:
    # What staging's nullif(trim(x), '') keeps: None for null or blank text.
    text = str(value).strip() if value is not None else ""
    return text or None


def _second(instant: datetime) -> datetime:
    # SOQL datetime literals have whole seconds: so do the org's instants.
    return instant.astimezone(UTC).replace(microsecond=0)


# --------------------------------------------------------------------------- records


@dataclass
class RecordVersion:
    """Every field of a record from ``valid_from`` (its SystemModstamp) to the next one.

    ``fields`` uses API names and JSON values (text, booleans, null), except ``Amount``
    and ``Probability``, kept as exact decimal text (the stand-in sends JSON numbers).
    """

    valid_from: datetime
    fields: dict[str, Any]

    @property
    def is_deleted(self) -> bool:
        return bool(self.fields.get("IsDeleted"))


@dataclass
class SalesforceRecord:
    """One record of one object with its versions, oldest first.

    ``country_code`` is the truth (ISO-2) behind a record's free-text country, where it
    has one (accounts, contacts, leads).
    """

    sobject: str
    id: str
    versions: list[RecordVersion]
    country_code: str | None = None

    @property
    def created_at(self) -> datetime:
        return self.versions[0].valid_from

    @property
    def deleted_at(self) -> datetime | None:
        """When the record went to the recycle bin (None: never)."""
        return next((v.valid_from for v in self.versions if v.is_deleted), None)

    def state_at(self, instant: datetime | None) -> RecordVersion | None:
        """The version valid at ``instant`` (None: the latest); None before creation."""
        if instant is None:
            return self.versions[-1]
        index = bisect.bisect_right(self.versions, instant, key=lambda v: v.valid_from) - 1
        return self.versions[index] if index >= 0 else None

    def is_purged_at(self, instant: datetime) -> bool:
        """Gone for good: deleted and out of the recycle bin by ``instant``."""
        deleted = self.deleted_at
        return deleted is not None and instant >= deleted + timedelta(days=RECYCLE_BIN_DAYS)


class _Draft:
    """A record under construction: its creation and later changes, in any order."""

    def __init__(self, sobject: str, record_id: str, created: datetime, values: dict[str, Any]):
        self.sobject = sobject
        self.id = record_id
        self.created = _second(created)
        self.values = values
        self.changes: list[tuple[datetime, dict[str, Any]]] = []
        self.country_code: str | None = None

    def change(self, at: datetime, **values: Any) -> None:
        self.changes.append((_second(at), values))

    def build(self) -> SalesforceRecord:
        stamp = format_datetime(self.created)
        state: dict[str, Any] = dict.fromkeys(SOBJECT_FIELDS[self.sobject])
        state.update(self.values)
        state.update(
            Id=self.id,
            IsDeleted=False,
            CreatedDate=stamp,
            LastModifiedDate=stamp,
            SystemModstamp=stamp,
        )
        versions = [RecordVersion(self.created, dict(state))]
        merged: dict[datetime, dict[str, Any]] = {}
        for at, values in sorted(self.changes, key=lambda change: change[0]):
            merged.setdefault(at, {}).update(values)  # one save, one version
        for at, values in merged.items():
            at = max(at, versions[-1].valid_from + timedelta(seconds=1))
            state = {**state, **values, "SystemModstamp": format_datetime(at)}
            # Deletion bumps SystemModstamp only; every other change is a user edit.
            if "IsDeleted" not in values:
                state["LastModifiedDate"] = format_datetime(at)
            versions.append(RecordVersion(at, state))
        return SalesforceRecord(self.sobject, self.id, versions, self.country_code)


# --------------------------------------------------------------------------- the part


@dataclass
class SalesforcePart:
    """The org: every record of every object, by object name, in id order."""

    source: ClassVar[str] = SOURCE

    seed: int
    start: date
    days: int
    end: datetime
    """The world's end: nothing happens in the org at or after it."""
    records: dict[str, list[SalesforceRecord]] = field(default_factory=dict)

    # ----------------------------------------------------------------- construction

    @classmethod
    def generate(cls, world: World, seed: int) -> SalesforcePart:
        """Build the org from the core world (calendar, countries, FX) and ``seed``."""
        return _Generator(world, seed).run()

    # ----------------------------------------------------------------- look-ups

    def of(self, sobject: str) -> list[SalesforceRecord]:
        """The records of one object (``Account``, ``Opportunity``, ...)."""
        return self.records.get(sobject, [])

    def by_id(self, sobject: str) -> dict[str, SalesforceRecord]:
        return {record.id: record for record in self.of(sobject)}

    def states_at(
        self, sobject: str, instant: datetime | None, *, deleted: bool = True
    ) -> Iterator[tuple[SalesforceRecord, RecordVersion]]:
        """Records as ``queryAll`` shows them at ``instant`` (purged ones never;
        deleted ones only with ``deleted``)."""
        for record in self.of(sobject):
            if instant is not None and record.is_purged_at(instant):
                continue
            version = record.state_at(instant)
            if version is None or (version.is_deleted and not deleted):
                continue
            yield record, version

    @property
    def record_count(self) -> int:
        return sum(len(records) for records in self.records.values())

    # ----------------------------------------------------------------- mutations

    def delete(self, sobject: str, record_id: str, at: datetime) -> list[SalesforceRecord]:
        """Delete a record at ``at`` as a user does: to the recycle bin, ``IsDeleted`` true.

        Deletion bumps ``SystemModstamp`` (not ``LastModifiedDate``), so an incremental
        ``queryAll`` whose window holds ``at`` returns the record flagged. An opportunity's
        contact roles are deleted with it, as Salesforce does. Call the stand-in's
        ``reindex`` afterwards. Returns the records deleted.

        Raises:
            KeyError: no such record.
            ValueError: ``at`` is not after the record's last version, or it is deleted.
        """
        record = self.by_id(sobject)[record_id]
        deleted = [record]
        if sobject == "Opportunity":
            deleted += [
                role
                for role in self.of("OpportunityContactRole")
                if role.versions[-1].fields.get("OpportunityId") == record_id
                and not role.versions[-1].is_deleted
            ]
        stamp = _second(at)
        for target in deleted:
            last = target.versions[-1]
            if last.is_deleted:
                raise ValueError(f"{target.sobject} {target.id} is already deleted")
            if stamp <= last.valid_from:
                raise ValueError(
                    f"{target.sobject} {target.id}: deletion at {format_datetime(stamp)} is "
                    f"not after its last change ({format_datetime(last.valid_from)})"
                )
        for target in deleted:
            fields = {
                **target.versions[-1].fields,
                "IsDeleted": True,
                "SystemModstamp": format_datetime(stamp),
            }
            target.versions.append(RecordVersion(stamp, fields))
        return deleted

    # ----------------------------------------------------------------- facts

    def ad_facts(self, until: datetime | None = None) -> Iterable[AdFact]:
        """A CRM reports no ads."""
        return ()

    def won_deal_facts(self, until: datetime | None = None) -> Iterable[WonDealFact]:
        """Every opportunity won and not deleted as of ``until`` (None: the world's end).

        Region rule: the country of the opportunity's account (``BillingCountryCode``);
        ``closed_at`` is `close_instant` of its CloseDate (12:00 UTC).
        """
        accounts = self.by_id("Account")
        facts = []
        for opportunity in self.of("Opportunity"):
            version = opportunity.state_at(until)
            if version is None or version.is_deleted or version.fields.get("IsWon") is not True:
                continue
            values = version.fields
            account = accounts.get(str(values.get("AccountId")))
            account_version = account.state_at(until) if account is not None else None
            country = account_version.fields.get("BillingCountryCode") if account_version else None
            facts.append(
                WonDealFact(
                    crm=SOURCE,
                    deal_id=opportunity.id,
                    currency=str(values["CurrencyIsoCode"]),
                    amount=Decimal(str(values["Amount"])),
                    closed_at=close_instant(str(values["CloseDate"])),
                    country_code=str(country) if country else None,
                )
            )
        return facts

    def _conformed_people(self, until: datetime | None) -> list[tuple[CrmPersonFact, str | None]]:
        """stg_salesforce__crm_contacts as of ``until``: contacts (in their account's
        country, else their MailingCountry; a converted lead's source and creation when
        it came first) and leads not converted (their Country); with the lead source."""
        accounts = {record.id: version for record, version in self.states_at("Account", until)}
        first_leads: dict[str, tuple[datetime, str, Any]] = {}
        unconverted: list[tuple[SalesforceRecord, RecordVersion]] = []
        for lead, version in self.states_at("Lead", until):
            values = version.fields
            converted_to = values.get("ConvertedContactId")
            if values.get("IsConverted") is True and converted_to:
                created = parse_datetime(str(values["CreatedDate"]))
                earlier = first_leads.get(converted_to)
                if earlier is None or (created, lead.id) < earlier[:2]:
                    first_leads[converted_to] = (created, lead.id, values.get("LeadSource"))
            elif values.get("IsConverted") is not True:
                unconverted.append((lead, version))
        people: list[tuple[CrmPersonFact, str | None]] = []
        for contact, version in self.states_at("Contact", until):
            values = version.fields
            account = accounts.get(str(values.get("AccountId")))
            billing_code = (
                _blank_to_none(account.fields.get("BillingCountryCode")) if account else None
            )
            billing_text = account.fields.get("BillingCountry") if account else None
            country = (
                billing_code.upper()
                if billing_code
                else (
                    billing_text if _blank_to_none(billing_text) else values.get("MailingCountry")
                )
            )
            created = parse_datetime(str(values["CreatedDate"]))
            first = first_leads.get(contact.id)
            source = values.get("LeadSource")
            if source is None and first is not None:
                source = first[2]
            if first is not None and first[0] < created:
                created = first[0]
            people.append(
                (
                    CrmPersonFact(SOURCE, contact.id, created, country, version.is_deleted),
                    source,
                )
            )
        for lead, version in unconverted:
            values = version.fields
            people.append(
                (
                    CrmPersonFact(
                        SOURCE,
                        lead.id,
                        parse_datetime(str(values["CreatedDate"])),
                        values.get("Country"),
                        version.is_deleted,
                    ),
                    values.get("LeadSource"),
                )
            )
        return people

    def crm_person_facts(self, until: datetime | None = None) -> list[CrmPersonFact]:
        """Contacts and unconverted leads as of ``until`` (purged ones gone, deleted ones
        flagged), placed by the territory rule of stg_salesforce__crm_contacts."""
        return [person for person, _ in self._conformed_people(until)]

    def crm_deal_facts(self, until: datetime | None = None) -> list[CrmDealFact]:
        """Opportunities as of ``until`` with the contacts of their live contact roles;
        ``closed_at`` is `close_instant` of CloseDate (also on open ones, as staging does)."""
        contacts_of: dict[str, set[str]] = {}
        for _role, version in self.states_at("OpportunityContactRole", until, deleted=False):
            contact_id = version.fields.get("ContactId")
            if contact_id:
                contacts_of.setdefault(str(version.fields["OpportunityId"]), set()).add(contact_id)
        facts = []
        for opportunity, version in self.states_at("Opportunity", until):
            values = version.fields
            amount = _blank_to_none(values.get("Amount"))
            close_date = _blank_to_none(values.get("CloseDate"))
            facts.append(
                CrmDealFact(
                    crm=SOURCE,
                    deal_id=opportunity.id,
                    created_at=parse_datetime(str(values["CreatedDate"])),
                    closed_at=close_instant(close_date) if close_date else None,
                    is_won=values.get("IsWon") is True,
                    is_closed=values.get("IsClosed") is True,
                    is_deleted=version.is_deleted,
                    amount=Decimal(amount) if amount else None,
                    currency=str(values.get("CurrencyIsoCode") or "").strip().upper(),
                    contact_ids=tuple(sorted(contacts_of.get(opportunity.id, ()))),
                    account_id=values.get("AccountId") or None,
                )
            )
        return facts

    def touch_facts(self, until: datetime | None = None) -> list[TouchFact]:
        """Live members of live campaigns (at the first response, else when added; the
        person is the contact, else the lead's converted contact, else the lead), and one
        lead-source touch per live person with a LeadSource, at the person's creation."""
        campaigns = {record.id: version for record, version in self.states_at("Campaign", until)}
        leads = {record.id: version for record, version in self.states_at("Lead", until)}
        facts: list[TouchFact] = []
        for member, version in self.states_at("CampaignMember", until, deleted=False):
            values = version.fields
            campaign = campaigns.get(str(values.get("CampaignId")))
            if campaign is not None and campaign.is_deleted:
                continue
            lead = leads.get(str(values.get("LeadId")))
            contact_id = (
                values.get("ContactId")
                or (lead.fields.get("ConvertedContactId") if lead is not None else None)
                or values.get("LeadId")
            )
            touched = parse_datetime(str(values["CreatedDate"]))
            responded = _blank_to_none(values.get("FirstRespondedDate"))
            if values.get("HasResponded") is True and responded:
                touched = max(
                    touched, datetime.combine(date.fromisoformat(responded), time(0), UTC)
                )
            facts.append(
                TouchFact(
                    crm=SOURCE,
                    touch_id=member.id,
                    contact_id=str(contact_id),
                    touched_at=touched,
                    source_field="salesforce_campaign_type",
                    source=campaign.fields.get("Type") if campaign is not None else None,
                    campaign_name=campaign.fields.get("Name") if campaign is not None else None,
                )
            )
        for person, source in self._conformed_people(until):
            if person.is_deleted or source is None:
                continue
            facts.append(
                TouchFact(
                    crm=SOURCE,
                    touch_id=f"{person.person_id}:lead_source",
                    contact_id=person.person_id,
                    touched_at=person.created_at,
                    source_field="salesforce_lead_source",
                    source=source,
                )
            )
        return facts

    def currencies(self) -> set[str]:
        """Every CurrencyIsoCode of any account or opportunity version."""
        return {
            str(version.fields["CurrencyIsoCode"])
            for sobject in ("Account", "Opportunity")
            for record in self.of(sobject)
            for version in record.versions
            if version.fields.get("CurrencyIsoCode")
        }

    def countries(self) -> set[str]:
        """Every ISO-2 country of an account, contact or lead."""
        return {
            record.country_code
            for records in self.records.values()
            for record in records
            if record.country_code
        }

    # ----------------------------------------------------------------- persistence

    def save(self, directory: Path) -> None:
        """Write ``salesforce.json`` and ``salesforce_<entity>.jsonl``; deterministic bytes."""
        directory = Path(directory)
        header = {
            "format": FORMAT_VERSION,
            "source": SOURCE,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "days": self.days,
            "end": format_datetime(self.end),
            "org_timezone": ORG_TIMEZONE,
            "counts": {sobject: len(self.of(sobject)) for sobject in SOBJECTS},
        }
        (directory / HEADER_FILE).write_text(
            json.dumps(header, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        for sobject in SOBJECTS:
            path = directory / f"{SOURCE}_{ENTITY_OF_SOBJECT[sobject]}.jsonl"
            with path.open("w", encoding="utf-8", newline="\n") as handle:
                for record in self.of(sobject):
                    handle.write(json.dumps(_record_to_json(record), ensure_ascii=False))
                    handle.write("\n")

    @classmethod
    def load(cls, directory: Path) -> SalesforcePart:
        """Read a part written by `save`."""
        directory = Path(directory)
        header = json.loads((directory / HEADER_FILE).read_text(encoding="utf-8"))
        if header.get("format") != FORMAT_VERSION:
            raise ValueError(f"unsupported salesforce part format {header.get('format')!r}")
        records: dict[str, list[SalesforceRecord]] = {}
        for sobject in SOBJECTS:
            path = directory / f"{SOURCE}_{ENTITY_OF_SOBJECT[sobject]}.jsonl"
            with path.open(encoding="utf-8") as handle:
                records[sobject] = [
                    _record_from_json(sobject, json.loads(line)) for line in handle if line.strip()
                ]
        return cls(
            seed=int(header["seed"]),
            start=date.fromisoformat(header["start"]),
            days=int(header["days"]),
            end=parse_datetime(header["end"]),
            records=records,
        )


def _record_to_json(record: SalesforceRecord) -> dict[str, Any]:
    # Versions as changes: the first holds every field, each later one what changed.
    versions: list[dict[str, Any]] = []
    previous: dict[str, Any] = {}
    for version in record.versions:
        changed = {k: v for k, v in version.fields.items() if k not in previous or previous[k] != v}
        versions.append({"valid_from": format_datetime(version.valid_from), "changes": changed})
        previous = version.fields
    return {"id": record.id, "country_code": record.country_code, "versions": versions}


def _record_from_json(sobject: str, data: dict[str, Any]) -> SalesforceRecord:
    versions: list[RecordVersion] = []
    state: dict[str, Any] = {}
    for item in data["versions"]:
        state = {**state, **item["changes"]}
        versions.append(RecordVersion(parse_datetime(item["valid_from"]), state))
    return SalesforceRecord(sobject, data["id"], versions, data.get("country_code"))


# --------------------------------------------------------------------------- generation


@dataclass
class _Account:
    draft: _Draft
    country: str
    currency: str
    domain: str
    is_customer: bool
    contacts: list[_Draft] = field(default_factory=list)
    # min(c.created for c in contacts), kept as contacts are added: asking "has this
    # account a contact before t" of every account per expansion made the generator
    # quadratic in the world's size (issue 10: 320 s for a year at scale 10).
    earliest_contact_created: datetime | None = None


@dataclass
class _Campaign:
    draft: _Draft
    type: str
    start: date
    end: date
    created: datetime


@dataclass
class _WonDeal:
    """A won opportunity, kept for the edge-case guarantees (`_ensure_won_then_deleted`)."""

    opportunity: _Draft
    roles: list[_Draft]
    won_at: datetime
    deleted_at: datetime | None = None


class _Generator:
    """Builds one org; every draw comes from the part's own random stream."""

    def __init__(self, world: World, seed: int) -> None:
        self.world = world
        self.seed = seed
        self.rng = random.Random(f"{seed}-salesforce")
        # The edge-case guarantees draw from their own stream, after the org is built, so
        # adding one never shifts a draw of the org itself.
        self.guarantees_rng = random.Random(f"{seed}-salesforce-guarantees")
        self._campaign_starts: list[date] = []
        self.won: list[_WonDeal] = []
        self.seeds = world.seeds
        self.fx = world.fx
        self.scale = float(getattr(world, "scale", 1.0))
        self.start: date = world.start
        self.dates: list[date] = list(world.dates)
        self.end: datetime = world.end
        self.begin = datetime.combine(self.start, time(0), tzinfo=UTC)
        self.org_tz = ZoneInfo(ORG_TIMEZONE)
        self.numbers: dict[str, int] = dict.fromkeys(KEY_PREFIXES, 0)
        self.drafts: dict[str, list[_Draft]] = {sobject: [] for sobject in SOBJECTS}
        self.emails: set[str] = set()
        self.memberships: set[tuple[str, str]] = set()
        self.currency_of_country: dict[str, str] = {}

    # ----------------------------------------------------------------- plumbing

    def _new(self, sobject: str, created: datetime, **values: Any) -> _Draft:
        self.numbers[sobject] += self.rng.randint(1, 4)
        record_id = salesforce_id(KEY_PREFIXES[sobject], 4_000_000 + self.numbers[sobject])
        draft = _Draft(sobject, record_id, created, values)
        self.drafts[sobject].append(draft)
        return draft

    def _scaled(self, count: float) -> int:
        return max(1, round(count * self.scale))

    def _poisson(self, lam: float) -> int:
        return poisson(self.rng, lam)

    def _org_date(self, instant: datetime) -> date:
        return instant.astimezone(self.org_tz).date()

    def _business_time(self, instant: datetime, rng: random.Random | None = None) -> datetime:
        """The first moment from ``instant`` in the org's business hours (09:00-18:00)."""
        rng = rng or self.rng
        local = instant.astimezone(self.org_tz)
        if local.hour >= 18:
            local = datetime.combine(local.date() + timedelta(days=1), time(9), self.org_tz)
            local += timedelta(seconds=rng.randrange(7200))
        elif local.hour < 9:
            local = datetime.combine(local.date(), time(9), self.org_tz)
            local += timedelta(seconds=rng.randrange(7200))
        return _second(local)

    def _business_day_time(self, day: date) -> datetime:
        local = datetime.combine(day, time(9), self.org_tz)
        return _second(local + timedelta(seconds=self.rng.randrange(9 * 3600)))

    # ----------------------------------------------------------------- countries and money

    def _countries(self) -> tuple[list[str], list[float]]:
        """Where the org's customers are: the core world's markets (the countries of its
        Meta delivery and HubSpot contacts; not other parts', so this org does not change
        when another part does) plus a seeded sample of other countries of its regions."""
        regions = set(self.seeds.regions)
        core = {str(row.get("country")) for row in getattr(self.world, "meta_insights", ())}
        core.update(contact.country_code for contact in getattr(self.world, "contacts", ()))
        markets = sorted(code for code in core if code in self.seeds.countries)
        others = sorted(
            code
            for code, country in self.seeds.countries.items()
            if country.region in regions and code not in markets
        )
        extra = self.rng.sample(others, min(len(others), _EXTRA_COUNTRIES))
        codes = markets + sorted(extra) if markets else others
        weights = [self.rng.lognormvariate(0, 0.9) * (1.0 if c in markets else 0.3) for c in codes]
        return codes, weights

    def _currency(self, country: str) -> str:
        """The country's legal tender if the world's rates convert it on every day of the
        world, else USD (what enterprise contracts in such markets are written in)."""
        if country not in self.currency_of_country:
            from babel.numbers import get_territory_currencies

            chosen = _FALLBACK_CURRENCY
            for currency in get_territory_currencies(country, self.start):
                if all(self.fx.rate_on(currency, day) is not None for day in self.dates):
                    chosen = currency
                    break
            self.currency_of_country[country] = chosen
        return self.currency_of_country[country]

    def _units_per_eur(self, currency: str) -> Decimal:
        rate = self.fx.rate_on(currency, self.start)
        return rate.units_per_eur if rate is not None else Decimal(1)

    def _amount(self, currency: str) -> str:
        eur = min(600_000.0, max(8_000.0, self.rng.lognormvariate(math.log(45_000), 0.7)))
        local = Decimal(str(eur)) * self._units_per_eur(currency)
        return self._round_amount(local, currency, significant=3)

    @staticmethod
    def _round_amount(value: Decimal, currency: str, significant: int | None = None) -> str:
        if significant is not None:
            # A price people quote: three significant digits.
            digits = len(str(int(value))) if value >= 1 else 1
            step = Decimal(10) ** max(0, digits - significant)
            value = (value / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step
        if is_whole_unit_currency(currency):
            return str(int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP)))
        return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):.2f}"

    def _spell_country(self, code: str) -> str:
        """How a person types a country: one of its aliases, with case and spacing noise
        (every spelling normalises to an alias of ``code``, so the pipeline can place it)."""
        rng = self.rng
        aliases = self.seeds.aliases.get(code) or (code.lower(),)
        name = normalize_alias(self.seeds.country_name(code))
        alias = name if name in aliases and rng.random() < 0.5 else rng.choice(aliases)
        style = rng.random()
        if len(alias) <= 3 and "." not in alias:
            text = alias.upper() if style < 0.8 else alias
        elif style < 0.6:
            text = alias.title()
        elif style < 0.8:
            text = alias
        else:
            text = alias.upper()
        if normalize_alias(text) != alias:
            text = alias  # a case change that lower() does not undo ("ß" -> "SS")
        pad = rng.random()
        if pad < 0.06:
            text = f" {text} "
        elif pad < 0.1:
            text = f"{text}  "
        return text

    # ----------------------------------------------------------------- people

    def _person(self, country: str, domain: str) -> dict[str, str]:
        group = self.rng.choice(name_groups(country))
        firsts, lasts = NAMES[group]
        first, last = self.rng.choice(firsts), self.rng.choice(lasts)
        local = f"{ascii_name(first)}.{ascii_name(last)}"
        email, n = f"{local}@{domain}", 2
        while email in self.emails:
            email, n = f"{local}{n}@{domain}", n + 1
        self.emails.add(email)
        return {"FirstName": first, "LastName": last, "Name": f"{first} {last}", "Email": email}

    def _company(self, country: str) -> tuple[str, str]:
        """A company name and its e-mail domain."""
        word = self.rng.choice(COMPANY_WORDS)
        industry = self.rng.choice(_INDUSTRIES)
        name = f"{word.title()} {industry.split()[0]} {company_suffix(country)}"
        domain = f"{word}-{ascii_name(industry.split()[0])}-{country.lower()}.example"
        return name, domain

    # ----------------------------------------------------------------- objects

    def _account(self, created: datetime, country: str, *, customer: bool) -> _Account:
        name, domain = self._company(country)
        currency = self._currency(country)
        draft = self._new(
            "Account",
            created,
            Name=name,
            Type="Customer - Direct" if customer else "Prospect",
            Industry=self.rng.choice(_INDUSTRIES),
            BillingCountry=self._spell_country(country),
            BillingCountryCode=country,
            CurrencyIsoCode=currency,
        )
        draft.country_code = country
        return _Account(draft, country, currency, domain, customer)

    def _contact(
        self, account: _Account, created: datetime, person: dict[str, str] | None = None
    ) -> _Draft:
        person = person or self._person(account.country, account.domain)
        mailing = (
            None
            if self.rng.random() < _MAILING_COUNTRY_EMPTY
            else self._spell_country(account.country)
        )
        draft = self._new(
            "Contact",
            created,
            AccountId=account.draft.id,
            Title=self.rng.choice(_TITLES),
            MailingCountry=mailing,
            **person,
        )
        draft.country_code = account.country
        account.contacts.append(draft)
        earliest = account.earliest_contact_created
        if earliest is None or draft.created < earliest:
            account.earliest_contact_created = draft.created
        return draft

    def _campaigns(self) -> list[_Campaign]:
        count = max(6, round(_CAMPAIGNS_PER_90_DAYS * self.scale * len(self.dates) / 90))
        first = self.start - timedelta(days=40)
        last = self.dates[-1] - timedelta(days=3)
        span = max(1, (last - first).days)
        types = [t for t, *_ in CAMPAIGN_TYPES]
        weights = [w for _, w, *_ in CAMPAIGN_TYPES]
        campaigns = []
        starts = sorted(first + timedelta(days=self.rng.randrange(span)) for _ in range(count))
        for start in starts:
            kind = self.rng.choices(types, weights)[0]
            low, high = next((lo, hi) for t, _, lo, hi in CAMPAIGN_TYPES if t == kind)
            finish = start + timedelta(days=self.rng.randint(low, high) - 1)
            created = self._business_day_time(start - timedelta(days=self.rng.randint(10, 30)))
            quarter = (start.month - 1) // 3 + 1
            name = (
                f"FY{start.year % 100:02d} Q{quarter} {kind} - {self.rng.choice(_CAMPAIGN_TOPICS)}"
            )
            draft = self._new(
                "Campaign",
                created,
                Name=name,
                Type=kind,
                Status="Planned",
                StartDate=start.isoformat(),
                EndDate=finish.isoformat(),
                IsActive=True,
            )
            launched = datetime.combine(start, time(8), self.org_tz)
            if launched < self.end:
                draft.change(launched, Status="In Progress")
            completed = datetime.combine(finish + timedelta(days=1), time(9), self.org_tz)
            if completed < self.end:
                draft.change(completed, Status="Completed", IsActive=False)
            campaigns.append(_Campaign(draft, kind, start, finish, draft.created))
        # A duplicate someone created by mistake and deleted: queryAll still shows it.
        original = self.rng.choice(campaigns)
        duplicate_created = self._business_day_time(self.dates[len(self.dates) // 3])
        duplicate = self._new(
            "Campaign",
            duplicate_created,
            **{k: original.draft.values[k] for k in ("Name", "Type", "StartDate", "EndDate")},
            Status="Planned",
            IsActive=False,
        )
        deleted = self._business_time(duplicate_created + timedelta(days=1))
        if deleted < self.end:
            duplicate.change(deleted, IsDeleted=True)
        return campaigns

    def _member(
        self,
        campaign: _Campaign,
        created: datetime,
        *,
        lead: _Draft | None = None,
        contact: _Draft | None = None,
        responded: bool,
    ) -> _Draft | None:
        person = lead or contact
        assert person is not None
        if (campaign.draft.id, person.id) in self.memberships:
            return None
        created = max(_second(created), campaign.created, person.created)
        if created >= self.end:
            return None
        self.memberships.add((campaign.draft.id, person.id))
        return self._new(
            "CampaignMember",
            created,
            CampaignId=campaign.draft.id,
            LeadId=lead.id if lead else None,
            ContactId=contact.id if contact else None,
            Status="Responded" if responded else "Sent",
            HasResponded=responded,
            FirstRespondedDate=self._org_date(created).isoformat() if responded else None,
        )

    def _active_campaigns(self, day: date, campaigns: list[_Campaign]) -> list[_Campaign]:
        return [c for c in campaigns if c.start <= day <= c.end and c.created.date() <= day]

    # ----------------------------------------------------------------- opportunities

    def _opportunity(
        self,
        account: _Account,
        created: datetime,
        *,
        primary: _Draft,
        lead_source: str | None,
        campaign: _Campaign | None,
        first_stage: int,
    ) -> _Draft | None:
        created = self._business_time(created)
        if created >= self.end:
            return None
        currency = account.currency
        if self.fx.rate_on(currency, self._org_date(created)) is None:
            currency = _FALLBACK_CURRENCY
        amount = self._amount(currency)
        stage, probability = OPEN_STAGES[first_stage]
        expected_close = self._org_date(created) + timedelta(days=self.rng.randint(30, 120))
        opportunity = self._new(
            "Opportunity",
            created,
            AccountId=account.draft.id,
            Name=f"{account.draft.values['Name']} - {self.rng.choice(_PRODUCTS)}",
            Amount=amount,
            CurrencyIsoCode=currency,
            StageName=stage,
            Probability=str(probability),
            IsClosed=False,
            IsWon=False,
            CloseDate=expected_close.isoformat(),
            LeadSource=lead_source,
            CampaignId=campaign.draft.id if campaign else None,
        )
        roles = [
            self._new(
                "OpportunityContactRole",
                created,
                OpportunityId=opportunity.id,
                ContactId=primary.id,
                Role=self.rng.choice(_PRIMARY_ROLES),
                IsPrimary=True,
            )
        ]
        others = [c for c in account.contacts if c is not primary and c.created < created]
        for contact in self.rng.sample(others, min(len(others), self.rng.choice((0, 0, 1, 2)))):
            added = self._business_time(created + timedelta(hours=self.rng.expovariate(1 / 30)))
            if added < self.end:
                roles.append(
                    self._new(
                        "OpportunityContactRole",
                        added,
                        OpportunityId=opportunity.id,
                        ContactId=contact.id,
                        Role=self.rng.choice(_OTHER_ROLES),
                        IsPrimary=False,
                    )
                )
        self._progress(opportunity, account, roles, created, first_stage, currency)
        return opportunity

    def _progress(
        self,
        opportunity: _Draft,
        account: _Account,
        roles: list[_Draft],
        created: datetime,
        stage_index: int,
        currency: str,
    ) -> None:
        at = created
        pace_hours = 24 * 4.5 * self.rng.lognormvariate(0, 0.5)
        amount = str(opportunity.values["Amount"])
        while True:
            at = self._business_time(at + timedelta(hours=2 + self.rng.expovariate(1 / pace_hours)))
            if at >= self.end:
                return
            if self.rng.random() < _STAGE_LOST_PER_STEP:
                self._close(opportunity, at, won=False)
                return
            if stage_index == len(OPEN_STAGES) - 1:
                won = self.rng.random() < _WIN_AT_NEGOTIATION
                self._close(opportunity, at, won=won)
                if won:
                    self._after_won(opportunity, account, roles, at)
                return
            stage_index = min(len(OPEN_STAGES) - 1, stage_index + self.rng.choice((1, 1, 2)))
            stage, probability = OPEN_STAGES[stage_index]
            changes: dict[str, Any] = {"StageName": stage, "Probability": str(probability)}
            if stage == "Proposal/Price Quote" and self.rng.random() < 0.3:
                # The quote renegotiated: the amount changes with the stage.
                revised = Decimal(amount) * Decimal(str(self.rng.uniform(0.85, 1.1)))
                amount = self._round_amount(revised, currency)
                changes["Amount"] = amount
            opportunity.change(at, **changes)

    def _close(self, opportunity: _Draft, at: datetime, *, won: bool) -> None:
        opportunity.change(
            at,
            StageName=STAGE_WON if won else STAGE_LOST,
            Probability="100" if won else "0",
            IsClosed=True,
            IsWon=won,
            CloseDate=self._org_date(at).isoformat(),
        )

    def _after_won(
        self, opportunity: _Draft, account: _Account, roles: list[_Draft], won_at: datetime
    ) -> None:
        if not account.is_customer:
            account.is_customer = True
            account.draft.change(won_at, Type="Customer - Direct")
        won = _WonDeal(opportunity, roles, won_at)
        self.won.append(won)
        if self.rng.random() < _DELETED_AFTER_WON:
            # Deleted after the win (a duplicate, or booked by mistake): it must not count.
            deleted = self._business_time(won_at + timedelta(days=self.rng.uniform(1, 8)))
            if deleted < self.end:
                self._delete_won(won, deleted)

    @staticmethod
    def _delete_won(won: _WonDeal, deleted: datetime) -> None:
        # Salesforce deletes an opportunity's contact roles with it.
        won.opportunity.change(deleted, IsDeleted=True)
        for role in won.roles:
            role.change(deleted, IsDeleted=True)
        won.deleted_at = _second(deleted)

    # ----------------------------------------------------------------- the run

    def run(self) -> SalesforcePart:
        rng = self.rng
        countries, weights = self._countries()
        campaigns = self._campaigns()

        # Accounts and contacts that exist before the world starts.
        accounts: list[_Account] = []
        history_start = self.begin - timedelta(days=3 * 365)
        history_span = int((self.begin - timedelta(days=20) - history_start).total_seconds())
        for _ in range(self._scaled(_EXISTING_ACCOUNTS)):
            created = self._business_time(
                history_start + timedelta(seconds=rng.randrange(history_span))
            )
            country = rng.choices(countries, weights)[0]
            account = self._account(created, country, customer=rng.random() < 0.6)
            accounts.append(account)
            for _ in range(rng.choice((2, 2, 3, 3, 4, 5))):
                span = int((self.begin - created).total_seconds()) - 86_400
                contact = self._contact(
                    account, created + timedelta(seconds=rng.randrange(max(1, span)))
                )
                if rng.random() < _CONTACT_EDITED:
                    # A new job title during the world: the contact changes, not its account.
                    edited = self.begin + timedelta(seconds=rng.randrange(len(self.dates) * 86_400))
                    if edited < self.end:
                        # An edit the business hours push past the world's end is not
                        # made (nothing happens after it); its title is drawn all the same,
                        # so the draws that follow stay as they were.
                        edited = self._business_time(edited)
                        title = rng.choice(_TITLES)
                        if edited < self.end:
                            contact.change(edited, Title=title)
            if rng.random() < _ACCOUNT_RENAMED:
                renamed = self.begin + timedelta(seconds=rng.randrange(len(self.dates) * 86_400))
                if renamed < self.end:
                    renamed = self._business_time(renamed)
                    name = str(account.draft.values["Name"])
                    if renamed < self.end:
                        account.draft.change(renamed, Name=name.replace(" ", " Group ", 1))
        by_country: dict[str, list[_Account]] = {}
        for account in accounts:
            by_country.setdefault(account.country, []).append(account)

        # Existing contacts are invited to campaigns; some respond. A campaign's invite
        # list is a sample of the org's contacts of at most _CAMPAIGN_INVITES_MAX: a draw
        # per campaign and contact made the generator quadratic in the world's size
        # (campaigns and contacts both grow with scale; issue 10), and no real invite
        # list grows with the whole org.
        invitable = [contact for account in accounts for contact in account.contacts]
        for campaign in campaigns:
            invited_at = max(
                campaign.created, datetime.combine(campaign.start, time(9), self.org_tz)
            ) - timedelta(days=3)
            if invited_at >= self.end or not invitable:
                continue
            invited = min(
                len(invitable),
                _CAMPAIGN_INVITES_MAX,
                self._poisson(_CAMPAIGN_INVITE_SHARE * len(invitable)),
            )
            for index in sorted(rng.sample(range(len(invitable)), invited)):
                self._member(
                    campaign,
                    invited_at + timedelta(seconds=rng.randrange(3600)),
                    contact=invitable[index],
                    responded=rng.random() < 0.25,
                )

        for day in self.dates:
            day_start = datetime.combine(day, time(0), tzinfo=UTC)
            active = self._active_campaigns(day, campaigns)
            for _ in range(self._poisson(_LEADS_PER_DAY * self.scale)):
                created = _second(day_start + timedelta(seconds=rng.randrange(86_400)))
                if created < self.end:
                    self._lead(created, countries, weights, by_country, active, accounts)
            for _ in range(self._poisson(_EXPANSIONS_PER_DAY * self.scale)):
                created = self._business_day_time(day)
                if created < self.end:
                    self._expansion(created, accounts, campaigns)

        self._ensure_won_then_deleted()
        self._ensure_daily_account_activity(accounts)
        return SalesforcePart(
            seed=self.seed,
            start=self.start,
            days=len(self.dates),
            end=self.end,
            records={
                sobject: sorted((d.build() for d in drafts), key=lambda r: r.id)
                for sobject, drafts in self.drafts.items()
            },
        )

    def _lead(
        self,
        created: datetime,
        countries: list[str],
        weights: list[float],
        by_country: dict[str, list[_Account]],
        active: list[_Campaign],
        accounts: list[_Account],
    ) -> None:
        rng = self.rng
        country = rng.choices(countries, weights)[0]
        existing = by_country.get(country) or []
        account = (
            rng.choice(existing) if existing and rng.random() < _LEAD_OF_EXISTING_ACCOUNT else None
        )
        if account is not None:
            company, domain = str(account.draft.values["Name"]), account.domain
        else:
            company, domain = self._company(country)
        campaign = rng.choice(active) if active and rng.random() < _LEAD_FROM_CAMPAIGN else None
        person = self._person(country, domain)
        lead = self._new(
            "Lead",
            created,
            Company=company,
            Country=None if rng.random() < 0.05 else self._spell_country(country),
            LeadSource="Web" if campaign else rng.choice(LEAD_SOURCES),
            Status="Open - Not Contacted",
            IsConverted=False,
            **person,
        )
        lead.country_code = country
        member = self._member(campaign, created, lead=lead, responded=True) if campaign else None
        at = created + timedelta(hours=rng.expovariate(1 / 36))
        if rng.random() >= 0.7 or at >= self.end:
            return
        lead.change(at, Status="Working - Contacted")
        outcome = rng.random()
        if outcome < _LEAD_CONVERTED:
            converted = self._business_time(at + timedelta(days=rng.expovariate(1 / 5)))
            if converted < self.end:
                self._convert(lead, person, converted, country, account, campaign, member, accounts)
        elif outcome < _LEAD_CONVERTED + _LEAD_DISQUALIFIED:
            closed = self._business_time(at + timedelta(days=rng.expovariate(1 / 10)))
            if closed < self.end:
                lead.change(closed, Status="Closed - Not Converted")
        elif rng.random() < _LEAD_DELETED / (1 - _LEAD_CONVERTED - _LEAD_DISQUALIFIED):
            deleted = at + timedelta(days=rng.uniform(0.5, 3))
            if deleted < self.end:
                lead.change(deleted, IsDeleted=True)

    def _convert(
        self,
        lead: _Draft,
        person: dict[str, str],
        at: datetime,
        country: str,
        account: _Account | None,
        campaign: _Campaign | None,
        member: _Draft | None,
        accounts: list[_Account],
    ) -> None:
        if account is None:
            account = self._account(at, country, customer=False)
            account.draft.values["Name"] = lead.values["Company"]
            accounts.append(account)
        contact = self._contact(account, at, person)
        # A converted contact keeps what the lead said about where they are.
        contact.values["MailingCountry"] = lead.values["Country"]
        contact.values["LeadSource"] = lead.values["LeadSource"]
        opportunity = self._opportunity(
            account,
            at,
            primary=contact,
            lead_source=str(lead.values["LeadSource"]),
            campaign=campaign,
            first_stage=1,
        )
        lead.change(
            at,
            Status="Closed - Converted",
            IsConverted=True,
            ConvertedDate=self._org_date(at).isoformat(),
            ConvertedAccountId=account.draft.id,
            ConvertedContactId=contact.id,
            ConvertedOpportunityId=opportunity.id if opportunity else None,
        )
        if member is not None:
            # Conversion links the lead's campaign history to the new contact.
            member.change(at, ContactId=contact.id)

    def _account_with_contact_before(
        self, created: datetime, accounts: list[_Account]
    ) -> _Account | None:
        """A uniformly drawn account that had a contact before ``created``, or None.

        Rejection sampling over every account: almost all accounts qualify (those that do
        not are the few whose first contact a future lead conversion creates), so a few
        draws find one where listing the qualifying accounts per expansion made the
        generator quadratic in the world's size (issue 10). The list is scanned only when
        the draws keep missing, as when no account qualifies yet."""
        for _ in range(64):
            account = accounts[self.rng.randrange(len(accounts))] if accounts else None
            if account is None:
                return None
            earliest = account.earliest_contact_created
            if earliest is not None and earliest < created:
                return account
        candidates = [
            a
            for a in accounts
            if a.earliest_contact_created is not None and a.earliest_contact_created < created
        ]
        return self.rng.choice(candidates) if candidates else None

    def _campaigns_started_before(
        self, created: datetime, campaigns: list[_Campaign]
    ) -> list[_Campaign]:
        """The last six campaigns (in start order) created before ``created`` and started
        on or before its date. ``campaigns`` is sorted by start, so only the prefix that
        started by then is looked at, from its end."""
        if len(self._campaign_starts) != len(campaigns):
            self._campaign_starts = [c.start for c in campaigns]
        started = bisect.bisect_right(self._campaign_starts, created.date())
        found: list[_Campaign] = []
        for index in range(started - 1, -1, -1):
            campaign = campaigns[index]
            if campaign.created < created:
                found.append(campaign)
                if len(found) == 6:
                    break
        return found[::-1]

    def _expansion(
        self, created: datetime, accounts: list[_Account], campaigns: list[_Campaign]
    ) -> None:
        rng = self.rng
        account = self._account_with_contact_before(created, accounts)
        if account is None:
            return
        primary = rng.choice([c for c in account.contacts if c.created < created])
        campaign = None
        earlier = self._campaigns_started_before(created, campaigns)
        if earlier and rng.random() < _EXPANSION_FROM_CAMPAIGN:
            campaign = rng.choice(earlier)
            # The touch that sourced the opportunity: a response some days before it.
            touched = created - timedelta(days=rng.uniform(2, 20))
            touched = max(touched, campaign.created, primary.created)
            if touched >= created:
                campaign = None
            else:
                self._member(campaign, touched, contact=primary, responded=True)
        self._opportunity(
            account,
            created,
            primary=primary,
            lead_source=rng.choice(("Partner Referral", "Other", None)),
            campaign=campaign,
            first_stage=0,
        )

    # ----------------------------------------------------------------- guarantees

    def _ensure_won_then_deleted(self) -> None:
        """Make the org hold a won opportunity deleted within the recycle bin's reach of the
        world's end (so still in ``queryAll`` then), whenever a won deal allows one and
        another win still counts.

        Deletion after a win is rare (`_DELETED_AFTER_WON`), so a small world may draw none,
        or only one purged by its end; yet it is the case the pipeline must get right (it
        arrives flagged through queryAll and must not count), and a pull of the org as of
        the world's end must see it. Deleted as `_after_won` deletes, 1-8 days after the
        win: here whole days, so at the win's time of day, inside the org's business hours,
        and after every contact role of the deal exists (they are deleted with it)."""
        bin_opens = self.end - timedelta(days=RECYCLE_BIN_DAYS - 1)
        if any(won.deleted_at is not None and won.deleted_at >= bin_opens for won in self.won):
            return
        counted = [won for won in self.won if won.deleted_at is None]
        if len(counted) < 2:
            return  # the org's only counted win stays: a world's sales need one
        rng = self.guarantees_rng
        options: list[tuple[_WonDeal, list[datetime]]] = []
        for won in counted:
            last = max(
                [
                    won.won_at,
                    *(at for at, _ in won.opportunity.changes),
                    *(role.created for role in won.roles),
                    *(at for role in won.roles for at, _ in role.changes),
                ]
            )
            instants = [
                self._business_time(won.won_at + timedelta(days=days), rng) for days in range(1, 9)
            ]
            instants = [at for at in instants if at > last and bin_opens <= at < self.end]
            if instants:
                options.append((won, instants))
        if options:
            won, instants = rng.choice(options)
            self._delete_won(won, rng.choice(instants))

    def _ensure_daily_account_activity(self, accounts: list[_Account]) -> None:
        """Make every UTC day of the world see an Account created or changed.

        A real org's accounts are edited every day; a small world may draw a day (or the
        whole of a short world) without one, and an incremental pull of Account over it
        then has no record to read: a drift of the object's fields could not show. As the
        HubSpot portal's `_ensure_daily_activity`, the check window [01:00Z, 21:00Z] of a
        date lies inside that date in UTC and in Europe/Berlin. A day without activity gets
        an account reclassified (a new Industry: the pipeline does not read it, so no fact
        the world states changes), saved between 09:00 and 15:00 in the org's time zone
        (13:00-20:00 UTC, inside the window), of an account that exists by then."""
        touched: set[date] = set()
        for draft in self.drafts["Account"]:
            for at in (draft.created, *(at for at, _ in draft.changes)):
                if time(1) <= at.time() <= time(21):
                    touched.add(at.date())
        rng = self.guarantees_rng
        for day in self.dates:
            if day in touched:
                continue
            low = max(
                datetime.combine(day, time(9), self.org_tz),
                datetime.combine(day, time(1), UTC),
            )
            high = min(
                datetime.combine(day, time(15), self.org_tz),
                datetime.combine(day, time(21), UTC),
                self.end,
            )
            if high <= low:
                continue
            at = _second(low + timedelta(seconds=rng.randrange(int((high - low).total_seconds()))))
            account = self._account_created_before(at, accounts, rng)
            if account is None:
                continue
            industry = account.draft.values.get("Industry")
            for changed, values in sorted(account.draft.changes, key=lambda change: change[0]):
                if changed <= at and "Industry" in values:
                    industry = values["Industry"]
            account.draft.change(at, Industry=rng.choice([i for i in _INDUSTRIES if i != industry]))

    @staticmethod
    def _account_created_before(
        at: datetime, accounts: list[_Account], rng: random.Random
    ) -> _Account | None:
        """A uniformly drawn account created before ``at``, or None. Rejection sampling, as
        `_account_with_contact_before`: almost every account exists before the world starts."""
        if not accounts:
            return None
        for _ in range(64):
            account = accounts[rng.randrange(len(accounts))]
            if account.draft.created < at:
                return account
        candidates = [a for a in accounts if a.draft.created < at]
        return rng.choice(candidates) if candidates else None

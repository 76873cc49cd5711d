"""World parts: a source's own slice of the simulated world, and what it adds to the truth.

The core world (`model.World`) holds the calendar, the FX, the country reference data, the
Meta ads and the HubSpot CRM. Every other source brings a *part*: a module beside this one
that generates its own objects from the core world (its accounts, campaigns, reports or
CRM records), saves and loads them, and states its contribution to the ground truth as
plain facts, so `World.ground_truth` converts and sums every source the same way:

- an ad platform yields `AdFact`s: one per report row (account-local day, country, spend
  in the account currency, the counts);
- a CRM yields `WonDealFact`s: one per won deal (amount, currency, close instant, the
  country of the contact that gives the deal its region);
- for the marketing-contribution, attribution and funnel truth (`marketing_truth`), a CRM
  also states its people (`CrmPersonFact`), its deals with their linked contacts
  (`CrmDealFact`) and its marketing touches with their raw source fields (`TouchFact`),
  exactly as its data puts them (the truth maps them to regions and channels itself, as
  the staging rules and the channel seeds say). An ad platform yields none of these.

A part registers in ``PART_TYPES`` of ``sandbox/world/__init__.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from reach2revenue.sandbox.world.model import World


@dataclass(frozen=True)
class AdFact:
    """One ad-platform report row as the mart must count it.

    ``country_code`` is ISO-2, or None when the platform could not tell (the row belongs
    to Unassigned). ``reach`` is None where the platform does not report it.
    """

    platform: str
    account_id: str
    currency: str
    report_date: date
    country_code: str | None
    spend: Decimal
    impressions: int
    clicks: int
    leads: int
    reach: int | None = None


@dataclass(frozen=True)
class WonDealFact:
    """One won (not deleted) CRM deal as the mart must count it.

    ``country_code`` is the ISO-2 country of the contact that gives the deal its region
    (None: Unassigned); ``amount`` is in ``currency``; ``closed_at`` is an aware instant.
    """

    crm: str
    deal_id: str
    currency: str
    amount: Decimal
    closed_at: datetime
    country_code: str | None


@dataclass(frozen=True)
class CrmPersonFact:
    """One CRM person (a contact, or a lead not converted) as the CRM's data states it.

    ``country_text`` is the country as the staging model reads it (free text, an ISO code
    or None), before any alias mapping: the truth places it the way the pipeline does, so
    a Salesforce lead without ``Country`` is Unassigned. ``created_at`` is the conformed
    creation (a converted lead's contact: the lead's, when earlier); ``is_deleted`` is the
    state as of the facts' ``until``.
    """

    crm: str
    person_id: str
    created_at: datetime
    country_text: str | None
    is_deleted: bool


@dataclass(frozen=True)
class CrmDealFact:
    """One CRM deal (any stage) as the CRM's data states it, as of the facts' ``until``.

    ``closed_at`` is the instant the pipeline reads as the close (Salesforce: 12:00 UTC of
    CloseDate, set even on open opportunities; HubSpot: ``closedate``, None while open).
    ``contact_ids`` are the live linked contacts (HubSpot association, Salesforce contact
    roles); the deal's region is the one of the smallest by (length, id) that is a known
    person. ``account_id`` is the CRM account the deal belongs to (None: HubSpot).
    """

    crm: str
    deal_id: str
    created_at: datetime
    closed_at: datetime | None
    is_won: bool
    is_closed: bool
    is_deleted: bool
    amount: Decimal | None
    currency: str
    contact_ids: tuple[str, ...]
    account_id: str | None = None

    @property
    def crm_deal_key(self) -> str:
        return f"{self.crm}:{self.deal_id}"


@dataclass(frozen=True)
class TouchFact:
    """One CRM touch of a person as the CRM's data states it (before channel mapping).

    ``source_field`` names the mapping of ``source`` (a ``source_field`` of
    ``seeds/channel_mappings.csv``); ``utm_medium`` wins over it when it maps.
    """

    crm: str
    touch_id: str
    contact_id: str
    touched_at: datetime
    source_field: str
    source: str | None
    utm_medium: str | None = None
    campaign_name: str | None = None

    @property
    def crm_touch_key(self) -> str:
        return f"{self.crm}:{self.touch_id}"

    @property
    def crm_contact_key(self) -> str:
        return f"{self.crm}:{self.contact_id}"


class WorldPart(Protocol):
    """What a source's part of the world provides (see the module docstring)."""

    source: str

    @classmethod
    def generate(cls, world: World, seed: int) -> WorldPart:
        """Build the part deterministically from the core world and the seed."""
        ...

    @classmethod
    def load(cls, directory: Path) -> WorldPart:
        """Read a part written by `save`."""
        ...

    def save(self, directory: Path) -> None:
        """Write the part into ``directory`` (created by the caller), deterministically."""
        ...

    def ad_facts(self, until: datetime | None = None) -> Iterable[AdFact]:
        """Report rows up to ``until`` (None: all); empty for a CRM."""
        ...

    def won_deal_facts(self, until: datetime | None = None) -> Iterable[WonDealFact]:
        """Won deals as of ``until`` (None: the world's end); empty for an ad platform."""
        ...

    def crm_person_facts(self, until: datetime | None = None) -> Iterable[CrmPersonFact]:
        """People created before ``until`` (None: all), deleted or not; empty for ads."""
        ...

    def crm_deal_facts(self, until: datetime | None = None) -> Iterable[CrmDealFact]:
        """Deals created before ``until`` (None: all) in their state then; empty for ads."""
        ...

    def touch_facts(self, until: datetime | None = None) -> Iterable[TouchFact]:
        """Live touches as of ``until`` (None: the world's end); empty for ads."""
        ...

    def currencies(self) -> set[str]:
        """Every currency the part uses (accounts, deals)."""
        ...

    def countries(self) -> set[str]:
        """Every ISO-2 country the part uses."""
        ...

"""World parts: a source's own slice of the simulated world, and what it adds to the truth.

The core world (`model.World`) holds the calendar, the FX, the country reference data, the
Meta ads and the HubSpot CRM. Every other source brings a *part*: a module beside this one
that generates its own objects from the core world (its accounts, campaigns, reports or
CRM records), saves and loads them, and states its contribution to the ground truth as
plain facts, so `World.ground_truth` converts and sums every source the same way:

- an ad platform yields `AdFact`s: one per report row (account-local day, country, spend
  in the account currency, the counts);
- a CRM yields `WonDealFact`s: one per won deal (amount, currency, close instant, the
  country of the contact that gives the deal its region).

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

    def currencies(self) -> set[str]:
        """Every currency the part uses (accounts, deals)."""
        ...

    def countries(self) -> set[str]:
        """Every ISO-2 country the part uses."""
        ...

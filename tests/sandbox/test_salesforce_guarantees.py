"""The Salesforce org's edge cases hold by construction, not by the luck of the draws.

Small worlds draw few rare events: without the guarantees, seed 11 over 3 days at scale 0.1
(the drift matrix's world) had no Account saved in its window, and small worlds often had
no won opportunity deleted within the recycle bin's reach of their end.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from reach2revenue.sandbox.world import World
from reach2revenue.sandbox.world.salesforce import SalesforcePart, SalesforceRecord

START = date(2026, 9, 1)


def _was_won(record: SalesforceRecord) -> bool:
    return any(version.fields["IsWon"] for version in record.versions)


@pytest.mark.parametrize(
    ("seed", "days", "scale", "deleted_win_in_bin"),
    [
        (11, 3, 0.1, False),  # no win at all
        (3, 20, 0.1, False),  # one win: it stays, the org's only counted sale
        (5, 30, 0.2, True),
        (8, 45, 0.15, True),
    ],
)
def test_small_worlds_hold_the_orgs_edge_cases(
    seed: int, days: int, scale: float, deleted_win_in_bin: bool
) -> None:
    world = World.generate(seed=seed, start=START, days=days, scale=scale)
    part = world.parts["salesforce"]
    assert SalesforcePart.generate(world, seed) == part  # the guarantees are seeded too

    # An Account created or changed on every day, inside the day in UTC and in Berlin.
    saved = {
        version.valid_from.date()
        for account in part.of("Account")
        for version in account.versions
        if time(1) <= version.valid_from.time() <= time(21)
    }
    assert set(world.dates) <= saved

    # A won deal deleted and still in queryAll an hour after the world's end (purged after
    # the recycle bin's 15 days), and never the only win.
    clock = world.end + timedelta(hours=1)
    in_bin = [
        record.id
        for record, version in part.states_at("Opportunity", clock)
        if version.is_deleted and _was_won(record)
    ]
    assert bool(in_bin) is deleted_win_in_bin
    if any(_was_won(record) for record in part.of("Opportunity")):
        assert list(part.won_deal_facts())

    # Nothing happens at or after the world's end.
    last: datetime = max(
        version.valid_from
        for records in part.records.values()
        for record in records
        for version in record.versions
    )
    assert last < world.end

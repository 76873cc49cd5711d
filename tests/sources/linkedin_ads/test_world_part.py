"""The LinkedIn part of the world: deterministic, saved and loaded, and its truth."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from reach2revenue.sandbox.world import World, is_whole_unit_currency
from reach2revenue.sandbox.world.linkedin_ads import LinkedInAdsPart, load_geo_countries

START = date(2024, 7, 1)


@pytest.fixture(scope="module")
def world() -> World:
    """The default world: scale 1 over 90 days."""
    return World.generate(seed=42, start=START, days=90, scale=1.0)


@pytest.fixture(scope="module")
def part(world: World) -> LinkedInAdsPart:
    return LinkedInAdsPart.generate(world, 42)


def _files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_generation_is_deterministic_and_round_trips(
    world: World, part: LinkedInAdsPart, tmp_path: Path
) -> None:
    for name, generated in (("a", part), ("b", LinkedInAdsPart.generate(world, 42))):
        (tmp_path / name).mkdir()
        generated.save(tmp_path / name)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert set(_files(tmp_path / "a")) == {
        "accounts.jsonl",
        "campaigns.jsonl",
        "ad_analytics.jsonl",
    }
    loaded = LinkedInAdsPart.load(tmp_path / "a")
    assert loaded == part
    assert list(loaded.ad_facts()) == list(part.ad_facts())
    other = LinkedInAdsPart.generate(world, 43)
    assert [r.cost_in_local_currency for r in other.rows[:50]] != [
        r.cost_in_local_currency for r in part.rows[:50]
    ]


def test_sizes_countries_and_currencies(world: World, part: LinkedInAdsPart) -> None:
    # About the size of the Meta part (4.3k insight rows at scale 1 over 90 days).
    assert 3000 <= len(part.rows) <= 6000
    assert len(part.accounts) == 6 and len(part.campaigns) >= 12
    assert any(c.status == "REMOVED" for c in part.campaigns)
    geo = load_geo_countries()
    assert {r.geo_id for r in part.rows} <= set(geo)  # no geo id the pipeline cannot place
    assert part.countries() <= set(world.seeds.countries)
    for currency in part.currencies():
        assert all(world.fx.rate_on(currency, day) is not None for day in world.dates), currency
    assert "JPY" in part.currencies()
    accounts = {a.account_id: a for a in part.accounts}
    for row in part.rows:
        currency = accounts[row.account_id].currency
        pattern = r"^[0-9]+$" if is_whole_unit_currency(currency) else r"^[0-9]+\.[0-9]{2}$"
        assert re.match(pattern, row.cost_in_local_currency), (currency, row)
        assert row.clicks <= row.impressions
    keys = [(r.account_id, r.campaign_id, r.geo_id, r.day) for r in part.rows]
    assert len(keys) == len(set(keys))
    assert {r.day for r in part.rows} == set(world.dates)


def test_facts_are_what_the_mart_must_count(part: LinkedInAdsPart) -> None:
    facts = list(part.ad_facts())
    assert len(facts) == len(part.rows)
    assert all(f.platform == "linkedin_ads" and f.reach is None for f in facts)
    cutoff = datetime(2024, 7, 10, 12, 0, tzinfo=UTC)  # days before July 10 (UTC) have ended
    until = list(part.ad_facts(cutoff))
    assert {f.report_date for f in until} == {date(2024, 7, d) for d in range(1, 10)}
    assert list(part.won_deal_facts()) == []

    unknown = dataclasses.replace(part, rows=[dataclasses.replace(part.rows[0], geo_id="1")])
    (fact,) = unknown.ad_facts()
    assert fact.country_code is None  # lands in Unassigned, as the mart counts it

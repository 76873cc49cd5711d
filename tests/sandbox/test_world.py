"""The synthetic world: determinism, coverage, FX, internal consistency and ground truth."""

from __future__ import annotations

import copy
import csv
import dataclasses
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from importlib.util import find_spec
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.numbers import get_territory_currencies

from reach2revenue import verify
from reach2revenue.reference.countries import REGIONS, UNASSIGNED_REGION, normalize_alias
from reach2revenue.reference.currencies import euro_legacy_rates
from reach2revenue.reference.fx import (
    FxRates,
    bundled_history,
    convert_exact,
    target_closing_days,
)
from reach2revenue.sandbox.world import (
    GROUND_TRUTH_COLUMNS,
    OPEN_STAGES,
    STAGE_LOST,
    STAGE_WON,
    UNKNOWN_COUNTRY,
    AdAccount,
    Campaign,
    Contact,
    Deal,
    MetaInsight,
    Seeds,
    Version,
    World,
    format_instant,
    generate_fx,
    insight_action,
    insight_day,
    insight_leads,
    is_whole_unit_currency,
    local_day_bounds,
    parse_instant,
    read_fx_overrides,
)

START = date(2024, 7, 1)
#: The default world of the brief: 90 days ending 2026-11-28, past the bundled ECB history.
DEFAULT_END = date(2026, 11, 28)
FILES = (
    "world.json",
    "meta_insights.jsonl",
    "contacts.jsonl",
    "deals.jsonl",
    "ecb_fx_rates.csv",
    "fx_overrides.csv",
)
CONTINENTS = {"Africa", "Asia", "Europe", "North America", "Oceania", "South America"}


@pytest.fixture(scope="module")
def world() -> World:
    """A mid-sized world shared by the read-only tests (real ECB rates only)."""
    return World.generate(seed=7, start=START, days=30, scale=0.6)


@pytest.fixture(scope="module")
def tiny() -> World:
    """The smallest world the brief promises daily coverage for."""
    return World.generate(seed=11, start=START, days=7, scale=0.2)


@pytest.fixture(scope="module")
def default() -> World:
    """The default world: seed 42, scale 1, 90 days ending 2026-11-28 (never mutated)."""
    return World.generate(seed=42, start=DEFAULT_END - timedelta(days=89), days=90, scale=1.0)


@pytest.fixture(scope="module")
def seeds() -> Seeds:
    """The country seeds."""
    return Seeds.load()


@dataclass(frozen=True)
class Row:
    """An insights row with typed values, for arithmetic in assertions."""

    account_id: str
    campaign_id: str
    campaign_name: str
    date: date
    country: str
    impressions: int
    reach: int
    clicks: int
    link_clicks: int
    leads: int
    spend: Decimal


def _typed(row: MetaInsight) -> Row:
    return Row(
        account_id=row["account_id"],
        campaign_id=row["campaign_id"],
        campaign_name=row["campaign_name"],
        date=insight_day(row),
        country=row["country"],
        impressions=int(row["impressions"]),
        reach=int(row["reach"]),
        clicks=int(row["clicks"]),
        link_clicks=insight_action(row, "link_click"),
        leads=insight_leads(row),
        spend=Decimal(row["spend"]),
    )


def _rows(w: World) -> list[Row]:
    return [_typed(r) for r in w.meta_insights]


def _normalise_country(text: str, seeds: Seeds) -> str | None:
    # The pipeline's rule: the normalize_country_alias macro, then the alias seed.
    alias = normalize_alias(text)
    return seeds.country_of_alias.get(alias) if alias is not None else None


def _continents() -> dict[str, str]:
    """ISO-3 -> continent from country_converter's table (read without importing pandas)."""
    spec = find_spec("country_converter")
    assert spec is not None and spec.origin is not None
    table = Path(spec.origin).with_name("country_data.tsv")
    with table.open(encoding="utf-8", newline="") as handle:
        return {
            row["ISO3"]: row["Continent_7"]
            for row in csv.DictReader(handle, delimiter="\t")
            if row["ISO3"] and not row["obsolete"]
        }


def _serving_account(w: World, country_code: str) -> AdAccount:
    return next(a for a in w.ad_accounts if country_code in a.countries)


def _won(w: World) -> list[Deal]:
    return [d for d in w.deals if d.versions[-1].properties["dealstage"] == STAGE_WON]


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_files_and_other_seed_differs(tmp_path: Path) -> None:
    # Ends past the bundled history, so the synthetic FX continuation is saved too.
    start = DEFAULT_END - timedelta(days=9)
    first = World.generate(seed=5, start=start, days=10, scale=0.3).save(tmp_path / "a")
    second = World.generate(seed=5, start=start, days=10, scale=0.3).save(tmp_path / "b")
    other = World.generate(seed=6, start=start, days=10, scale=0.3).save(tmp_path / "c")
    for name in FILES:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    for name in ("meta_insights.jsonl", "contacts.jsonl", "ecb_fx_rates.csv"):
        assert (first / name).read_bytes() != (other / name).read_bytes(), name


@pytest.mark.parametrize("name", ["world", "default"])
def test_save_load_round_trip(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    w: World = request.getfixturevalue(name)
    w.save(tmp_path / "one")
    loaded = World.load(tmp_path / "one")
    assert loaded == w
    assert loaded.fx_observations == w.fx_observations
    assert loaded.fx_overrides == w.fx_overrides
    loaded.save(tmp_path / "two")
    for file in FILES:
        assert (tmp_path / "one" / file).read_bytes() == (tmp_path / "two" / file).read_bytes()
    assert loaded.ground_truth() == w.ground_truth()
    assert loaded.ground_truth("USD", "America/New_York") == w.ground_truth(
        "USD", "America/New_York"
    )


def test_flighted_campaigns_keep_the_accounts_budget() -> None:
    from reach2revenue.sandbox.world.sampling import flighted_campaigns

    assert flighted_campaigns(3, 10.0, 1.0, always_on=4) == (30, 1.0)
    # 4 always-on + 600 flighted share what 4 + 30 had: each gets 34/604 of its budget.
    count, divisor = flighted_campaigns(3, 10.0, 20.0, always_on=4)
    assert (count, divisor) == (600, 604 / 34)
    assert flighted_campaigns(1, 0.2, 1.0, always_on=2) == (0, 1.0)


def test_campaign_density_multiplies_ad_rows_not_spend(tmp_path: Path) -> None:
    """`r2r bench` sizes ad rows with many small campaigns: more rows per platform, the
    same spend per platform and account (so the same leads and CRM), saved and loaded."""
    start = DEFAULT_END - timedelta(days=29)
    plain = World.generate(seed=3, start=start, days=30, scale=1.0)
    dense = World.generate(seed=3, start=start, days=30, scale=1.0, campaign_density=6)
    assert plain.campaign_density == 1.0 and dense.campaign_density == 6.0

    def by_platform(world: World) -> tuple[Counter[str], dict[tuple[str, str], Decimal]]:
        rows: Counter[str] = Counter()
        spend: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        # Google's customer ids are drawn after the markets, which the CRM changes: the
        # customer's name is what stays.
        name_of = {c.customer_id: c.descriptive_name for c in world.parts["google_ads"].customers}
        for fact in world.ad_facts():
            rows[fact.platform] += 1
            spend[(fact.platform, name_of.get(fact.account_id, fact.account_id))] += fact.spend
        return rows, spend

    plain_rows, plain_spend = by_platform(plain)
    dense_rows, dense_spend = by_platform(dense)
    assert set(dense_rows) == set(plain_rows) == {"meta_ads", "google_ads", "linkedin_ads"}
    for platform, count in plain_rows.items():
        assert dense_rows[platform] >= 1.5 * count, (platform, count, dense_rows[platform])
    # Each campaign draws its own budget: an account's spend (in its own currency) is the
    # same in expectation, so the typical account's ratio is near 1.
    assert set(dense_spend) == set(plain_spend)
    ratios = sorted(dense_spend[key] / plain_spend[key] for key in plain_spend)
    median = ratios[len(ratios) // 2]
    assert Decimal("0.75") <= median <= Decimal("1.33"), ratios

    saved = dense.save(tmp_path / "dense")
    assert '"campaign_density": 6' in (saved / "world.json").read_text(encoding="utf-8")
    assert World.load(saved).campaign_density == 6.0
    # The default leaves world.json as it was before the knob existed.
    assert "campaign_density" not in (plain.save(tmp_path / "plain") / "world.json").read_text()


def test_load_rejects_an_older_format(world: World, tmp_path: Path) -> None:
    directory = world.save(tmp_path / "w")
    header = (directory / "world.json").read_text(encoding="utf-8")
    (directory / "world.json").write_text(header.replace('"format": 2', '"format": 1'))
    with pytest.raises(ValueError, match="unsupported world format"):
        World.load(directory)


# --------------------------------------------------------------------------- FX


def test_fx_observations_are_the_real_ecb_history_where_it_exists(default: World) -> None:
    history = bundled_history()
    last_real_day = history[-1].rate_date
    first_day = default.start - timedelta(days=14)
    real = [o for o in history if first_day <= o.rate_date <= last_real_day]
    covered = [o for o in default.fx_observations if o.rate_date <= last_real_day]
    assert covered == real  # same currencies, days, values and OBS_VALUE text
    assert min(o.rate_date for o in default.fx_observations) == min(o.rate_date for o in real)
    assert len({o.rate_date for o in real}) >= 50


def test_fx_continuation_publishes_on_target_business_days_only(default: World) -> None:
    history = bundled_history()
    last_real_day = history[-1].rate_date
    last_row = {o.currency_code: o for o in history if o.rate_date == last_real_day}
    closed = target_closing_days(range(2026, 2027))
    later = [o for o in default.fx_observations if o.rate_date > last_real_day]
    assert later, "the default world ends after the bundled history"
    business_days = [
        last_real_day + timedelta(days=n)
        for n in range(1, (default.end_date - last_real_day).days + 1)
        if (last_real_day + timedelta(days=n)).weekday() < 5
        and last_real_day + timedelta(days=n) not in closed
    ]
    by_day: dict[date, set[str]] = defaultdict(set)
    for observation in later:
        by_day[observation.rate_date].add(observation.currency_code)
    assert sorted(by_day) == business_days
    assert all(currencies == set(last_row) for currencies in by_day.values())
    for observation in default.fx_observations:
        assert observation.rate_date.weekday() < 5, observation
        assert observation.rate_date not in closed, observation
        assert not (observation.currency_code == "BGN" and observation.rate_date.year >= 2026)
    for observation in later:
        text = observation.fields["OBS_VALUE"]
        assert Decimal(text) == observation.units_per_eur > 0
        assert not text.endswith("0") or "." not in text  # as the eurofxref file writes
        assert observation.fields["KEY"] == f"EXR.D.{observation.currency_code}.EUR.SP00.A"
        assert observation.fields["TIME_PERIOD"] == observation.rate_date.isoformat()
        assert (observation.fields["FREQ"], observation.fields["OBS_STATUS"]) == ("D", "A")
        # A small daily walk: within 25% of the last real value after a month.
        start = last_row[observation.currency_code].units_per_eur
        assert abs(observation.units_per_eur / start - 1) < Decimal("0.25")


def test_fx_continuation_is_one_walk_per_seed() -> None:
    long_obs, _ = generate_fx(3, date(2026, 9, 1), date(2026, 12, 31))
    short_obs, _ = generate_fx(3, date(2026, 11, 20), date(2026, 12, 10))
    assert (
        short_obs
        == tuple(o for o in long_obs if date(2026, 11, 20) <= o.rate_date)[: len(short_obs)]
    )
    other, _ = generate_fx(4, date(2026, 11, 20), date(2026, 12, 10))
    assert other != short_obs


def test_fx_overrides_peg_aed_to_usd(default: World, tmp_path: Path) -> None:
    usd = {
        o.rate_date: o.units_per_eur for o in default.fx_observations if o.currency_code == "USD"
    }
    assert {currency for currency, _, _ in default.fx_overrides} == {"AED"}
    assert [day for _, day, _ in default.fx_overrides] == sorted(usd)
    for _, day, rate in default.fx_overrides:
        assert rate == (Decimal("3.6725") * usd[day]).quantize(Decimal("0.000001"), ROUND_HALF_UP)
    path = default.write_fx_overrides(tmp_path / "overrides.csv")
    text = path.read_bytes().decode("utf-8")
    lines = text.split("\n")
    assert lines[0] == "currency_code,rate_date,units_per_eur"
    assert "\r" not in text and text.endswith("\n")
    assert re.fullmatch(r"AED,\d{4}-\d{2}-\d{2},\d+\.\d{6}", lines[1])
    assert read_fx_overrides(path) == default.fx_overrides
    conversion = default.fx.convert(Decimal("100.00"), "AED", "EUR", default.end_date)
    assert conversion is not None and conversion.source_rate.origin == "override"


# --------------------------------------------------------------------------- the default world


def test_default_world_spans_the_globe(default: World, seeds: Seeds) -> None:
    countries = default.countries_used()
    currencies = default.currencies_used()
    assert len(currencies) >= 20, sorted(currencies)
    assert len(countries) >= 40, sorted(countries)
    assert {seeds.region_of(c) for c in countries} == set(REGIONS)
    continents = _continents()
    assert {continents[seeds.countries[c].alpha3] for c in countries} >= CONTINENTS
    assert "AED" in {a.currency for a in default.ad_accounts}
    # Every region has an account serving every one of its markets, exactly once.
    served = Counter(c for a in default.ad_accounts for c in a.countries)
    assert set(served.values()) == {1}
    assert {c.country_code for c in default.contacts} <= set(served)
    for account in default.ad_accounts:
        assert all(seeds.region_of(c) in account.regions for c in account.countries)


def test_default_world_accounts_differ_in_currency_and_time_zone(default: World) -> None:
    assert len(default.ad_accounts) >= 8
    assert len({a.currency for a in default.ad_accounts}) == len(default.ad_accounts)
    assert len({a.timezone for a in default.ad_accounts}) == len(default.ad_accounts)
    for account in default.ad_accounts:
        assert default.fx.rate_on(account.currency, default.start) is not None, account


def test_default_world_keeps_bulgarian_deals_in_bgn(default: World) -> None:
    contacts = default.contacts_by_id()
    bgn = [d for d in default.deals if d.versions[0].properties["deal_currency_code"] == "BGN"]
    assert bgn
    for deal in bgn:
        assert contacts[deal.contact_id].country_code == "BG"
        assert deal.created_at.date() >= date(2026, 1, 1)
    bulgarian = [d for d in default.deals if contacts[d.contact_id].country_code == "BG"]
    assert len(bgn) < len(bulgarian), "most Bulgarian deals are in EUR now"
    bgn_ids = {d.id for d in bgn}
    won = next(d for d in _won(default) if d.id in bgn_ids)
    day = parse_instant(str(won.versions[-1].properties["closedate"])).date()
    lookup = default.fx.rate_on("BGN", day)
    assert lookup is not None and (lookup.origin, lookup.units_per_eur) == (
        "legacy",
        Decimal("1.95583"),
    )


def test_default_world_has_a_few_unknown_countries(default: World) -> None:
    unknown = [r for r in default.meta_insights if r["country"] == UNKNOWN_COUNTRY]
    share = len(unknown) / len(default.meta_insights)
    assert 0.003 <= share <= 0.03, share
    truth = default.ground_truth()
    unassigned = [r for r in truth if r["region"] == UNASSIGNED_REGION]
    # The mart's rule: once anything lands in Unassigned it is a region like the others.
    assert len(unassigned) == len({r["date"] for r in truth})
    assert sum(r["impressions"] for r in unassigned) == sum(int(r["impressions"]) for r in unknown)
    assert sum(r["spend"] for r in unassigned) > 0


def test_size_at_full_scale(default: World) -> None:
    assert 3000 <= len(default.meta_insights) <= 5000
    assert 3000 <= len(default.contacts) <= 6000
    assert 600 <= len(default.deals) <= 1500


# --------------------------------------------------------------------------- ads


@pytest.mark.parametrize("name", ["world", "tiny"])
def test_every_account_and_region_has_delivery_every_day(
    name: str, request: pytest.FixtureRequest, seeds: Seeds
) -> None:
    w: World = request.getfixturevalue(name)
    by_account = defaultdict(set)
    by_region = defaultdict(set)
    for row in _rows(w):
        by_account[row.account_id].add(row.date)
        by_region[seeds.region_of(row.country)].add(row.date)
    all_days = set(w.dates)
    assert {a.account_id for a in w.ad_accounts} == set(by_account)
    for account_id, days in by_account.items():
        assert days == all_days, account_id
    assert set(by_region) - {UNASSIGNED_REGION} == set(seeds.regions)
    for region in seeds.regions:
        assert by_region[region] == all_days, region


def test_tiny_world_has_contacts_every_day_in_every_region(tiny: World, seeds: Seeds) -> None:
    seen = defaultdict(set)
    for contact in tiny.contacts:
        region = seeds.region_of(contact.country_code)
        account = _serving_account(tiny, contact.country_code)
        seen[region].add(contact.created_at.astimezone(account.tz).date())
    for region in seeds.regions:
        assert set(tiny.dates) <= seen[region], region


def test_world_uses_several_currencies_time_zones_regions_and_countries(
    world: World, seeds: Seeds
) -> None:
    accounts = {a.account_id: a for a in world.ad_accounts}
    assert len(world.ad_accounts) >= 8
    assert len({a.timezone for a in world.ad_accounts}) >= 8
    countries = {r.country for r in _rows(world)} - {UNKNOWN_COUNTRY}
    assert len(countries) >= 20
    assert {seeds.region_of(c) for c in countries} == set(seeds.regions)
    assert {d.versions[0].properties["deal_currency_code"] for d in world.deals} >= {
        "EUR",
        "GBP",
        "USD",
        "AUD",
    }
    for row in _rows(world):
        if row.country != UNKNOWN_COUNTRY:
            assert seeds.region_of(row.country) in accounts[row.account_id].regions
            assert row.country in accounts[row.account_id].countries


def test_campaigns_are_unique_and_target_their_accounts_countries(
    world: World, seeds: Seeds
) -> None:
    names = [c.campaign_name for c in world.campaigns]
    ids = [c.campaign_id for c in world.campaigns]
    assert len(set(names)) == len(names)
    assert len(set(ids)) == len(ids)
    accounts = {a.account_id: a for a in world.ad_accounts}
    for campaign in world.campaigns:
        assert campaign.campaign_id.isdigit() and len(campaign.campaign_id) == 15
        assert 2 <= len(campaign.countries) <= 4
        account = accounts[campaign.account_id]
        assert all(seeds.region_of(c) in account.regions for c in campaign.countries)
        assert set(campaign.countries) <= set(account.countries)
    per_account = Counter(c.account_id for c in world.campaigns)
    assert set(per_account) == set(accounts)


def test_insight_values_are_consistent(world: World) -> None:
    campaigns = {c.campaign_id: c for c in world.campaigns}
    keys = set()
    for row in _rows(world):
        key = (row.account_id, row.campaign_id, row.date, row.country)
        assert key not in keys
        keys.add(key)
        campaign = campaigns[row.campaign_id]
        assert row.campaign_name == campaign.campaign_name
        assert row.country in campaign.countries or row.country == UNKNOWN_COUNTRY
        assert campaign.start_date <= row.date <= campaign.end_date
        assert 0 < row.reach <= row.impressions
        assert 0 <= row.clicks <= row.impressions
        assert 0 <= row.link_clicks <= row.clicks
        assert row.leads >= 0
        assert row.spend > 0
        assert row.spend == row.spend.quantize(Decimal("0.01"))


def test_insight_rows_have_the_meta_api_shape(world: World, default: World) -> None:
    keys = {
        "account_id",
        "account_currency",
        "campaign_id",
        "campaign_name",
        "date_start",
        "date_stop",
        "country",
        "impressions",
        "reach",
        "clicks",
        "spend",
    }
    for w in (world, default):
        accounts = {a.account_id: a for a in w.ad_accounts}
        for row in w.meta_insights:
            assert set(row) - {"actions"} == keys
            assert all(isinstance(row[k], str) for k in keys)
            assert row["date_start"] == row["date_stop"]
            assert row["account_currency"] == accounts[row["account_id"]].currency
            assert re.fullmatch(r"[A-Z]{2}|unknown", row["country"])
            # Spend in the account currency's minor units: whole yen, cents elsewhere.
            whole = is_whole_unit_currency(row["account_currency"])
            assert re.fullmatch(r"\d+" if whole else r"\d+\.\d{2}", row["spend"]), row
            for action in row.get("actions", []):
                assert action["action_type"] in ("link_click", "lead")
                assert action["value"].isdigit() and action["value"] != "0"
        assert any("actions" in r and insight_leads(r) for r in w.meta_insights)
    assert any(is_whole_unit_currency(a.currency) for a in default.ad_accounts)


# --------------------------------------------------------------------------- contacts


def test_contact_country_spellings_vary_and_normalise_to_the_truth(
    world: World, default: World, seeds: Seeds
) -> None:
    spellings = defaultdict(set)
    for w in (world, default):
        for contact in w.contacts:
            text = contact.versions[0].properties["country"]
            assert text is not None
            spellings[contact.country_code].add(text)
            # Every spelling the world writes is a known alias: the demo has no unknown.
            assert _normalise_country(text, seeds) == contact.country_code, text
    assert len(spellings["DE"]) >= 4
    every = {s for values in spellings.values() for s in values}
    assert any(s != s.strip() for s in every), "some spellings carry whitespace"
    assert any(s.isupper() for s in every) and any(s.islower() for s in every)
    # Names in other languages than English appear (Deutschland, Allemagne, Alemania...).
    english = {normalize_alias(seeds.country_name(code)) for code in spellings}
    assert len({normalize_alias(s) for s in every} - english) >= 50


def test_marketing_contacts_come_from_insight_leads(world: World) -> None:
    campaigns = {c.campaign_id: c for c in world.campaigns}
    accounts = {a.account_id: a for a in world.ad_accounts}
    leads = {(r.campaign_id, r.date, r.country): r.leads for r in _rows(world)}
    made: Counter[tuple[str, date, str]] = Counter()
    for contact in world.contacts:
        props = contact.versions[0].properties
        if contact.source == "sales":
            assert props["hs_analytics_source"] == "OFFLINE"
            assert props["utm_source"] is None and props["utm_campaign"] is None
            continue
        assert contact.campaign_id is not None and contact.account_id is not None
        campaign = campaigns[contact.campaign_id]
        assert props["utm_campaign"] == campaign.campaign_name
        assert props["utm_source"] == "facebook"
        assert props["hs_analytics_source"] == "PAID_SOCIAL"
        local_day = contact.created_at.astimezone(accounts[campaign.account_id].tz).date()
        made[(campaign.campaign_id, local_day, contact.country_code)] += 1
    for key, count in made.items():
        assert count <= leads[key], key
    placed = sum(n for (_, _, country), n in leads.items() if country != UNKNOWN_COUNTRY)
    share = sum(made.values()) / placed
    assert 0.6 <= share <= 0.8


def test_contacts_have_plausible_unique_people_and_ordered_versions(world: World) -> None:
    emails = [c.versions[0].properties["email"] for c in world.contacts]
    assert len(set(emails)) == len(emails)
    ids = [int(c.id) for c in world.contacts]
    assert ids == sorted(ids)
    for contact in world.contacts:
        first = contact.versions[0].properties
        assert first["firstname"] and first["lastname"] and "@" in str(first["email"])
        assert first["createdate"] == format_instant(contact.created_at)
        instants = [v.valid_from for v in contact.versions]
        assert instants == sorted(instants)
        for version in contact.versions:
            assert version.properties["lastmodifieddate"] == format_instant(version.valid_from)
            assert version.properties["createdate"] == first["createdate"]


# --------------------------------------------------------------------------- deals


@pytest.mark.parametrize("name", ["world", "default"])
def test_deals_follow_the_pipeline_and_keep_their_history(
    name: str, request: pytest.FixtureRequest
) -> None:
    w: World = request.getfixturevalue(name)
    contacts = w.contacts_by_id()
    assert len({d.contact_id for d in w.deals}) == len(w.deals)
    order = [*OPEN_STAGES]
    closed_won = closed_lost = still_open = 0
    for deal in w.deals:
        contact = contacts[deal.contact_id]
        assert deal.created_at > contact.created_at
        instants = [v.valid_from for v in deal.versions]
        assert instants == sorted(instants)
        assert instants[-1] <= w.end
        stages = [v.properties["dealstage"] for v in deal.versions]
        open_stages = [s for s in stages if s in order]
        assert open_stages == sorted(open_stages, key=order.index)
        last = deal.versions[-1].properties
        amount = str(last["amount"])
        if is_whole_unit_currency(str(last["deal_currency_code"])):
            assert amount.isdigit(), (last["deal_currency_code"], amount)
        else:
            assert re.fullmatch(r"\d+\.\d{2}", amount), amount
        for version in deal.versions:
            assert version.properties["hs_lastmodifieddate"] == format_instant(version.valid_from)
            assert version.properties["pipeline"] == "default"
        if last["dealstage"] in (STAGE_WON, STAGE_LOST):
            assert last["closedate"] == format_instant(deal.versions[-1].valid_from)
            closed_won += last["dealstage"] == STAGE_WON
            closed_lost += last["dealstage"] == STAGE_LOST
        else:
            assert last["closedate"] is None
            still_open += 1
    assert closed_won and closed_lost and still_open


@pytest.mark.parametrize("name", ["world", "default"])
def test_deal_currency_is_the_legal_tender_of_the_contact_or_usd(
    name: str, request: pytest.FixtureRequest
) -> None:
    w: World = request.getfixturevalue(name)
    contacts = w.contacts_by_id()
    legacy = {rate.country_code: rate for rate in euro_legacy_rates()}
    fell_back = Counter()
    for deal in w.deals:
        code = contacts[deal.contact_id].country_code
        day = deal.created_at.date()
        currency = deal.versions[0].properties["deal_currency_code"]
        old = legacy.get(code)
        if old is not None and currency == old.currency_code and day >= old.adopted_on:
            # An old CRM habit, for two years after the euro came.
            assert day - old.adopted_on < timedelta(days=730), deal.id
            continue
        tenders = [c for c in get_territory_currencies(code, day) if w.fx.rate_on(c, day)]
        assert currency == (tenders[0] if tenders else "USD"), (code, day, currency)
        if not tenders:
            fell_back[code] += 1
        assert {v.properties["deal_currency_code"] for v in deal.versions} == {currency}
    if name == "default":
        assert fell_back, "some markets have a currency the ECB does not publish"


@pytest.mark.parametrize("name", ["world", "tiny"])
def test_some_deal_changes_every_day(name: str, request: pytest.FixtureRequest) -> None:
    w: World = request.getfixturevalue(name)
    changed = {v.valid_from.date() for d in w.deals for v in d.versions}
    berlin = {
        v.valid_from.astimezone(ZoneInfo("Europe/Berlin")).date()
        for d in w.deals
        for v in d.versions
    }
    for day in w.dates:
        assert day in changed, day
        assert day in berlin, day


def test_contact_lifecycle_follows_deals(world: World) -> None:
    contacts = world.contacts_by_id()
    for deal in world.deals:
        stages = [v.properties["lifecyclestage"] for v in contacts[deal.contact_id].versions]
        assert stages[:2] == ["lead", "opportunity"]
        contact = contacts[deal.contact_id]
        # The contact changes in the same millisecond as its deal is created and won, so
        # any modified-window pull that finds the deal finds the contact too.
        assert deal.created_at in [v.valid_from for v in contact.versions]
        if deal.versions[-1].properties["dealstage"] == STAGE_WON:
            assert stages[-1] == "customer"
            assert contact.versions[-1].valid_from == deal.versions[-1].valid_from


# --------------------------------------------------------------------------- ground truth


def _independent_rate(w: World, currency: str, day: date) -> Decimal | None:
    """Units per euro on ``day`` from the world's FX, by hand: EUR, legacy, last within 7 days."""
    if currency == "EUR":
        return Decimal(1)
    legacy = next((r for r in euro_legacy_rates() if r.currency_code == currency), None)
    if legacy is not None and day >= legacy.adopted_on:
        return legacy.units_per_eur
    rates = {o.rate_date: o.units_per_eur for o in w.fx_observations if o.currency_code == currency}
    rates |= {d: r for c, d, r in w.fx_overrides if c == currency}
    known = [d for d in rates if day - timedelta(days=7) <= d <= day]
    return rates[max(known)] if known else None


@pytest.mark.parametrize("name", ["world", "default"])
def test_ground_truth_totals_equal_independent_sums(
    name: str, request: pytest.FixtureRequest, seeds: Seeds
) -> None:
    # The core world (Meta, HubSpot) alone: the parts' facts are tested with their sources.
    w: World = dataclasses.replace(request.getfixturevalue(name), parts={})
    rows = w.ground_truth()
    insights = _rows(w)
    accounts = {a.account_id: a for a in w.ad_accounts}
    rate_cache: dict[tuple[str, date], Decimal | None] = {}

    def to_eur(amount: Decimal, currency: str, day: date) -> Decimal:
        if (currency, day) not in rate_cache:
            rate_cache[(currency, day)] = _independent_rate(w, currency, day)
        rate = rate_cache[(currency, day)]
        assert rate is not None, (currency, day)
        return convert_exact(amount, rate, Decimal(1))

    spend = sum(
        (to_eur(r.spend, accounts[r.account_id].currency, r.date) for r in insights), Decimal(0)
    )
    assert sum((r["spend"] for r in rows), Decimal(0)) == spend
    for measure in ("impressions", "reach", "clicks", "leads"):
        assert sum(r[measure] for r in rows) == sum(getattr(i, measure) for i in insights)
    won = _won(w)
    assert sum(r["deals_won"] for r in rows) == len(won)
    assert sum(r["unconverted_spend_rows"] + r["unconverted_deals"] for r in rows) == 0
    assert len(rows) == len({(r["date"], r["region"]) for r in rows})
    has_unknown = any(r.country == UNKNOWN_COUNTRY for r in insights)
    assert {r["region"] for r in rows} == set(seeds.regions) | (
        {UNASSIGNED_REGION} if has_unknown else set()
    )

    # Per region and day: the account-local date and the region of the row's country.
    per_cell: dict[tuple[date, str], int] = defaultdict(int)
    for i in insights:
        per_cell[(i.date, seeds.region_of(i.country))] += i.impressions
    for row in rows:
        assert row["impressions"] == per_cell.get((row["date"], row["region"]), 0)

    # Revenue per region and Berlin day, from the deals and their contacts' true countries.
    contacts = w.contacts_by_id()
    revenue: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    for deal in won:
        last = deal.versions[-1].properties
        day = parse_instant(str(last["closedate"])).astimezone(ZoneInfo("Europe/Berlin")).date()
        region = seeds.region_of(contacts[deal.contact_id].country_code)
        revenue[(day, region)] += to_eur(
            Decimal(str(last["amount"])), str(last["deal_currency_code"]), day
        )
    assert revenue
    for row in rows:
        assert row["revenue_won"] == revenue.get((row["date"], row["region"]), Decimal(0))


def _hand_world() -> World:
    account = AdAccount("9001", "Hand", "GBP", "Europe/London", ["UK & Ireland"], ["GB", "IE"])
    campaign = Campaign("120210000009001", "UKI_Hand_Q1", "9001", ["GB", "IE"], START, START)
    insight: MetaInsight = {
        "account_id": "9001",
        "account_currency": "GBP",
        "campaign_id": campaign.campaign_id,
        "campaign_name": campaign.campaign_name,
        "date_start": "2024-02-15",
        "date_stop": "2024-02-15",
        "country": "GB",
        "impressions": "1000",
        "reach": "800",
        "clicks": "10",
        "spend": "123.45",
        "actions": [
            {"action_type": "link_click", "value": "9"},
            {"action_type": "lead", "value": "1"},
        ],
    }
    created = datetime(2024, 2, 20, 9, 0, tzinfo=UTC)
    contact = Contact(
        id="1",
        versions=[Version(created, {"country": "Japan", "createdate": format_instant(created)})],
        country_code="JP",
        source="sales",
    )
    # 23:30 UTC on 29 Feb is 00:30 on 1 March in Berlin: the March rate applies.
    closed = datetime(2024, 2, 29, 23, 30, tzinfo=UTC)
    deal = Deal(
        id="2",
        contact_id="1",
        versions=[
            Version(created, {"dealstage": "appointmentscheduled", "amount": "1250000"}),
            Version(
                closed,
                {
                    "dealstage": STAGE_WON,
                    "amount": "1250000",
                    "deal_currency_code": "JPY",
                    "closedate": format_instant(closed),
                },
            ),
        ],
    )
    observations, overrides = generate_fx(0, date(2024, 2, 1), date(2024, 3, 5))
    return World(
        seed=0,
        start=date(2024, 2, 15),
        days=1,
        scale=1.0,
        ad_accounts=[account],
        campaigns=[campaign],
        meta_insights=[insight],
        contacts=[contact],
        deals=[deal],
        fx_observations=observations,
        fx_overrides=overrides,
    )


def test_ground_truth_fx_conversion_by_hand() -> None:
    rows = {(r["date"], r["region"]): r for r in _hand_world().ground_truth("EUR", "Europe/Berlin")}
    # ECB GBP of 2024-02-15: 0.85635 per euro; 123.45 / 0.85635 = 144.1583... -> 144.16.
    assert rows[(date(2024, 2, 15), "UK & Ireland")]["spend"] == Decimal("144.16")
    # ECB JPY of 2024-03-01: 162.82; 1,250,000 / 162.82 = 7677.1895... -> 7677.19, on 1 March.
    march = rows[(date(2024, 3, 1), "APAC")]
    assert (march["deals_won"], march["revenue_won"]) == (1, Decimal("7677.19"))
    assert rows[(date(2024, 2, 29), "APAC")]["deals_won"] == 0
    # In UTC the deal lands on 29 Feb and that day's 162.53 applies instead: 7690.8878...
    utc = {(r["date"], r["region"]): r for r in _hand_world().ground_truth("EUR", "UTC")}
    assert utc[(date(2024, 2, 29), "APAC")]["revenue_won"] == Decimal("7690.89")
    # Nothing landed in Unassigned, so the truth has no such region (as the mart).
    assert UNASSIGNED_REGION not in {region for _, region in rows}


def test_ground_truth_until_and_mutations() -> None:
    hand = _hand_world()
    closed = datetime(2024, 2, 29, 23, 30, tzinfo=UTC)
    before = hand.ground_truth(until=closed)
    assert sum(r["deals_won"] for r in before) == 0
    assert sum(r["impressions"] for r in before) == 1000
    assert (
        sum(r["impressions"] for r in hand.ground_truth(until=datetime(2024, 2, 15, tzinfo=UTC)))
        == 0
    )
    assert sum(r["deals_won"] for r in hand.ground_truth(until=closed + timedelta(seconds=1))) == 1
    hand.meta_insights[0]["spend"] = "-5.00"
    # -5.00 / 0.85635 = -5.8387... -> -5.84 (half away from zero).
    assert sum(r["spend"] for r in hand.ground_truth()) == Decimal("-5.84")
    hand.contacts.clear()
    assert sum(r["deals_won"] for r in hand.ground_truth()) == 0


def test_ground_truth_of_a_deal_closed_on_a_sunday_uses_fridays_rate(default: World) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    contacts = default.contacts_by_id()

    def close_day(deal: Deal) -> date:
        return (
            parse_instant(str(deal.versions[-1].properties["closedate"])).astimezone(berlin).date()
        )

    deal = next(
        d
        for d in _won(default)
        if close_day(d).weekday() == 6
        and d.versions[-1].properties["deal_currency_code"] not in ("EUR", "USD", "BGN", "AED")
        and close_day(d) - timedelta(days=2) in {o.rate_date for o in default.fx_observations}
    )
    sunday = close_day(deal)
    friday = sunday - timedelta(days=2)
    last = deal.versions[-1].properties
    currency, amount = str(last["deal_currency_code"]), Decimal(str(last["amount"]))
    rates = {
        (o.currency_code, o.rate_date): o.units_per_eur
        for o in default.fx_observations
        if o.rate_date == friday
    }
    alone = copy.copy(default)
    alone.meta_insights, alone.deals = [], [deal]
    alone.contacts = [contacts[deal.contact_id]]
    truth = {(r["date"], r["region"]): r for r in alone.ground_truth("EUR", "Europe/Berlin")}
    region = default.seeds.region_of(contacts[deal.contact_id].country_code)
    expected = (amount / rates[(currency, friday)]).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert truth[(sunday, region)]["revenue_won"] == expected
    assert truth[(sunday, region)]["deals_won"] == 1
    conversion = default.fx.convert(amount, currency, "EUR", sunday)
    assert conversion is not None and conversion.is_fx_rate_stale
    assert conversion.fx_rate_date == friday

    usd = {(r["date"], r["region"]): r for r in alone.ground_truth("USD", "Europe/Berlin")}
    expected_usd = (amount * rates[("USD", friday)] / rates[(currency, friday)]).quantize(
        Decimal("0.01"), ROUND_HALF_UP
    )
    assert usd[(sunday, region)]["revenue_won"] == expected_usd
    assert usd[(sunday, region)]["reporting_currency"] == "USD"


def test_ground_truth_counts_what_has_no_rate_and_leaves_it_out(world: World) -> None:
    broken = copy.deepcopy(world)
    # KES is real ISO 4217, but the ECB does not publish it and the world does not override it.
    assert broken.fx.rate_on("KES", broken.end_date) is None
    won = _won(broken)[0]
    for version in won.versions:
        version.properties["deal_currency_code"] = "KES"
    account = broken.ad_accounts[0]
    account.currency = "KES"
    for row in broken.meta_insights:  # what the API reports is what the truth converts
        if row["account_id"] == account.account_id:
            row["account_currency"] = "KES"
    truth = broken.ground_truth()
    original = world.ground_truth()
    assert sum(r["unconverted_deals"] for r in truth) == 1
    assert sum(r["deals_won"] for r in truth) == sum(r["deals_won"] for r in original)
    day = parse_instant(str(won.versions[-1].properties["closedate"]))
    day_key = day.astimezone(ZoneInfo("Europe/Berlin")).date()
    region = broken.seeds.region_of(broken.contacts_by_id()[won.contact_id].country_code)
    cell = next(r for r in truth if (r["date"], r["region"]) == (day_key, region))
    before = next(r for r in original if (r["date"], r["region"]) == (day_key, region))
    assert cell["unconverted_deals"] == 1
    assert cell["revenue_won"] < before["revenue_won"]
    own_rows = [r for r in broken.meta_insights if r["account_id"] == account.account_id]
    assert sum(r["unconverted_spend_rows"] for r in truth) == len(own_rows)
    assert sum(r["impressions"] for r in truth) == sum(r["impressions"] for r in original)
    assert sum(r["spend"] for r in truth) < sum(r["spend"] for r in original)


def test_ground_truth_csv(world: World, tmp_path: Path) -> None:
    path = world.write_ground_truth(tmp_path / "truth.csv")
    with path.open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert tuple(reader.fieldnames or ()) == GROUND_TRUTH_COLUMNS
    truth = world.ground_truth()
    assert len(rows) == len(truth)
    assert rows[0]["date"] == truth[0]["date"].isoformat()
    assert Decimal(rows[0]["spend"]) == truth[0]["spend"]
    assert sum(Decimal(r["revenue_won"]) for r in rows) == sum(r["revenue_won"] for r in truth)
    assert {r["unconverted_deals"] for r in rows} == {"0"}


def test_time_helpers() -> None:
    instant = datetime(2024, 3, 15, 12, 1, 2, 345000, tzinfo=UTC)
    assert format_instant(instant) == "2024-03-15T12:01:02.345Z"
    assert parse_instant("2024-03-15T12:01:02.345Z") == instant
    assert parse_instant("1710504062345") == instant
    start, end = local_day_bounds(date(2024, 3, 31), ZoneInfo("Europe/Berlin"))
    assert (start.hour, end - start) == (23, timedelta(hours=23))


def test_world_fx_is_the_reference_fx_of_its_observations(world: World) -> None:
    fx = FxRates(ecb=world.fx_observations, overrides=world.fx_overrides)
    for currency in ("USD", "JPY", "GBP", "AED", "BGN"):
        assert fx.rate_on(currency, world.end_date) == world.fx.rate_on(currency, world.end_date)


def test_verify_compares_unconverted_counts_when_the_mart_has_them(world: World) -> None:
    truth = world.ground_truth()
    mart = {
        (r["region"], r["date"]): {
            name: Decimal(str(r[name]))
            for name in (*verify.COMPARED_MEASURES, *verify.UNCONVERTED_MEASURES)
        }
        for r in truth
    }
    assert verify.compare(mart, truth).matches
    key = next(iter(mart))
    mart[key]["unconverted_deals"] = Decimal(1)
    mismatches = verify.compare(mart, truth).mismatches
    assert [m["measure"] for m in mismatches] == ["unconverted_deals"]
    # A mart without the columns is compared on the other measures only.
    for measures in mart.values():
        for name in verify.UNCONVERTED_MEASURES:
            del measures[name]
    assert verify.compare(mart, truth).matches

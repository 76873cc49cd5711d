"""End to end: a small world through the real DAG in a real Airflow.

Stand-ins serve the world over HTTP on loopback; `airflow dags test` runs the DAG in a
subprocess on SQLite metadata, exactly as `make demo` does. The mart must equal the
world's ground truth to the cent, re-running the same dates must change nothing, and bad
data must fail the run with a clear message while the published mart stays as it was.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from reach2revenue import airflow_runner, verify
from reach2revenue.sandbox.standins import StandinServers, start_standins
from reach2revenue.sandbox.world import World
from reach2revenue.settings import Settings
from reach2revenue.sources import SOURCE_NAMES, raw_tables

pytestmark = pytest.mark.slow

# 2026-03-29 is the spring DST change in Europe/Berlin: deals closed late that evening in
# UTC belong to the next reporting day.
START = date(2026, 3, 24)
HISTORY_DAYS = 8  # history run: START .. START + 7
NIGHTLY_DAY = START + timedelta(days=HISTORY_DAYS)
WORLD_DAYS = HISTORY_DAYS + 3  # spare days for the bad-data runs


@dataclass
class Stack:
    world: World
    servers: StandinServers
    settings: Settings
    env: dict[str, str]
    home: Path
    truth: list[dict]
    token: str
    # Rows the bad-data tests broke at the source, so a later test can repair them.
    broken: dict[str, tuple[dict, str]] = field(default_factory=dict)

    def run(self, logical_day: date, conf: dict | None = None, name: str = "run"):
        return airflow_runner.run_dag_test(
            self.env,
            logical_day.isoformat(),
            conf=conf,
            log_path=self.home / "logs" / f"{name}.log",
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("e2e")
    settings = Settings.for_home(home)
    world = World.generate(seed=7, start=START, days=WORLD_DAYS, scale=0.3)
    truth = world.ground_truth(reporting_currency="EUR", reporting_timezone="Europe/Berlin")
    world.write_fx_overrides(settings.fx_rate_overrides_path)
    token = secrets.token_urlsafe(16)
    with start_standins(world, token=token) as servers:
        connections = servers.connections(token)
        env = airflow_runner.airflow_environment(home / "airflow", settings, connections)
        airflow_runner.ensure_metadata_db(env)
        yield Stack(world, servers, settings, env, home, truth, token)


def _history_conf() -> dict[str, str]:
    return {"interval_start": START.isoformat(), "interval_end": NIGHTLY_DAY.isoformat()}


def _snapshot(settings: Settings) -> dict[str, list[tuple]]:
    """Raw tables from the build warehouse (the published file holds only the marts)
    and the mart from the published file."""
    snapshot = _rows(settings.warehouse_path, [t.qualified_name for t in raw_tables().values()])
    snapshot |= _rows(settings.published_path, ["main.region_daily_performance"])
    return snapshot


def _rows(path: Path, tables: list[str]) -> dict[str, list[tuple]]:
    with duckdb.connect(str(path), read_only=True) as con:
        snapshot = {}
        for table in tables:
            columns = [
                name
                for (name,) in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema || '.' || table_name = ? and column_name not like '\\_%' "
                    "escape '\\' order by ordinal_position",
                    [table],
                ).fetchall()
            ]
            snapshot[table] = sorted(
                con.execute(f"select {', '.join(columns)} from {table}").fetchall(), key=repr
            )
    return snapshot


def _assert_ran(result) -> None:
    assert result.succeeded, f"DAG run failed:\n{result.log_tail(80)}"
    assert result.task_states == {f"extract_{name}": "success" for name in SOURCE_NAMES} | {
        "load_and_validate": "success",
        "dbt_build": "success",
        "publish": "success",
    }


@pytest.fixture(scope="module")
def first_load(stack: Stack) -> dict[str, list[tuple]]:
    _assert_ran(stack.run(NIGHTLY_DAY, _history_conf(), name="history"))
    # The nightly run's logical date is the day after the interval it loads.
    _assert_ran(stack.run(NIGHTLY_DAY + timedelta(days=1), name="nightly"))
    return _snapshot(stack.settings)


def test_mart_equals_ground_truth_to_the_cent(stack: Stack, first_load) -> None:
    mart = verify.mart_region_days(stack.settings.published_path)
    comparison = verify.compare(mart, stack.truth, first_day=START, last_day=NIGHTLY_DAY)
    assert comparison.region_days >= 4 * (HISTORY_DAYS + 1)
    assert comparison.matches, json.dumps(comparison.mismatches[:20], indent=1)
    revenue = sum(row["revenue_won"] for row in mart.values())
    spend = sum(row["spend"] for row in mart.values())
    assert revenue > 0 and spend > 0, "a world without revenue or spend proves nothing"


def test_nightly_run_loaded_only_its_day(stack: Stack, first_load) -> None:
    with duckdb.connect(str(stack.settings.warehouse_path), read_only=True) as con:
        last_meta_day = con.execute("select max(date_start) from raw.meta_ads_insights").fetchall()
    assert last_meta_day == [(NIGHTLY_DAY.isoformat(),)]


def test_rerunning_the_same_dates_changes_nothing(stack: Stack, first_load) -> None:
    # The nightly again, over the day the history run also covered (its lookbacks re-read
    # the history's last weeks): nothing changes. Running a range twice in one go is the
    # scheduler tests' backfill-twice (tests/test_scheduler.py).
    _assert_ran(stack.run(NIGHTLY_DAY + timedelta(days=1), name="nightly-again"))
    assert _snapshot(stack.settings) == first_load


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_negative_spend_fails_the_run_and_keeps_the_published_mart(
    stack: Stack, first_load
) -> None:
    bad_day = NIGHTLY_DAY + timedelta(days=1)
    row = next(r for r in stack.world.meta_insights if r["date_start"] == bad_day.isoformat())
    row["spend"] = "-5.00"
    published_before = _digest(stack.settings.published_path)

    result = stack.run(bad_day + timedelta(days=1), name="bad-spend")

    assert not result.succeeded
    assert result.task_states["load_and_validate"] == "failed"
    assert "dbt_build" not in result.task_states or result.task_states["dbt_build"] != "success"
    log = result.log_path.read_text()
    assert "meta_ads/insights" in log
    assert bad_day.isoformat() in log
    assert "expect_column_values_to_match_regex" in log
    assert "-5.00" in log
    assert _digest(stack.settings.published_path) == published_before
    reports = list((stack.home / "quarantine").glob("*/validation_report.json"))
    assert reports, "no quarantine report written"


def test_a_missing_field_fails_the_run_as_drift_naming_it(stack: Stack, first_load) -> None:
    bad_spend_day = NIGHTLY_DAY + timedelta(days=1)
    for row in stack.world.meta_insights:
        if row["date_start"] == bad_spend_day.isoformat() and row["spend"] == "-5.00":
            row["spend"] = "5.00"  # the previous test's bad row, fixed at the source
    bad_day = NIGHTLY_DAY + timedelta(days=2)
    row = next(r for r in stack.world.meta_insights if r["date_start"] == bad_day.isoformat())
    stack.broken["campaign_id"] = (row, row.pop("campaign_id"))
    published_before = _digest(stack.settings.published_path)

    result = stack.run(bad_day + timedelta(days=1), name="missing-key")

    assert not result.succeeded
    assert result.task_states["load_and_validate"] == "failed"
    log = result.log_path.read_text()
    # The field is gone from the API's answer: structural drift, caught before flattening.
    assert "SchemaDriftError" in log
    assert "required field 'campaign_id' missing" in log
    assert "meta_ads" in log
    assert _digest(stack.settings.published_path) == published_before


def test_after_the_fix_the_next_run_fills_the_gap(stack: Stack, first_load) -> None:
    row, campaign_id = stack.broken["campaign_id"]
    row["campaign_id"] = campaign_id
    last_day = NIGHTLY_DAY + timedelta(days=2)

    # Failed runs did not advance the cursors, so this nightly run reloads the days the
    # failed runs could not: no gaps.
    _assert_ran(stack.run(last_day + timedelta(days=1), name="recovered"))

    # Ground truth recomputed from the fixed world (one spend was changed to 5.00).
    truth = stack.world.ground_truth(reporting_currency="EUR", reporting_timezone="Europe/Berlin")
    mart = verify.mart_region_days(stack.settings.published_path)
    comparison = verify.compare(mart, truth, first_day=START, last_day=last_day)
    assert comparison.matches, json.dumps(comparison.mismatches[:20], indent=1)


def test_every_deal_is_in_the_region_of_its_contacts_country(stack: Stack, first_load) -> None:
    """HubSpot: the region of the deal's contact's true country; Salesforce (the world's
    part): the region of the opportunity's account, as its won-deal facts state."""
    seeds = stack.world.seeds
    contacts = stack.world.contacts_by_id()
    with duckdb.connect(str(stack.settings.warehouse_path), read_only=True) as con:
        rows = con.execute(
            "select crm, deal_id, region, is_won and not is_deleted "
            "from intermediate.int_deals_converted_to_reporting_currency"
        ).fetchall()
    hubspot = {deal_id: region for crm, deal_id, region, _ in rows if crm == "hubspot"}
    expected = {
        deal.id: seeds.region_of(contacts[deal.contact_id].country_code)
        for deal in stack.world.deals
        if deal.id in hubspot
    }
    assert len(expected) == len(hubspot) > 50
    assert hubspot == expected
    assert len(set(expected.values())) >= 6
    salesforce_won = {
        deal_id: region for crm, deal_id, region, won in rows if crm == "salesforce" and won
    }
    facts = {
        fact.deal_id: seeds.region_of(fact.country_code)
        for fact in stack.world.parts["salesforce"].won_deal_facts(None)
        if fact.deal_id in salesforce_won
    }
    # (a small world may have no won opportunity loaded yet: then both are empty)
    assert salesforce_won == facts


def test_a_currency_without_any_rate_is_published_and_counted(stack: Stack, first_load) -> None:
    """KES is a real ISO 4217 code the ECB does not publish: the run publishes, the spend
    is counted as unconverted and listed, the log names the currency; fixing the source
    brings the mart back to the ground truth."""
    day = NIGHTLY_DAY + timedelta(days=2)  # loaded by the previous test's nightly run
    row = next(
        r
        for r in stack.world.meta_insights
        if r["date_start"] == day.isoformat() and r["country"] != "unknown"
    )
    original = row["account_currency"]
    row["account_currency"] = "KES"
    region = stack.world.seeds.region_of(str(row["country"]))
    try:
        result = stack.run(day + timedelta(days=1), name="no-rate")
        _assert_ran(result)
        with duckdb.connect(str(stack.settings.published_path), read_only=True) as con:
            counted = con.execute(
                "select region, report_date, unconverted_spend_rows "
                "from main.region_daily_performance where unconverted_spend_rows > 0"
            ).fetchall()
            listed = con.execute(
                "select source_name, currency_code, region, row_count "
                "from main.data_quality_unconverted_amounts"
            ).fetchall()
        assert counted == [(region, day, 1)]
        assert listed == [("meta_ads", "KES", region, 1)]
        log = result.log_path.read_text()
        assert "in KES" in log and "were not converted: no KES rate within 7 days" in log
        truth = stack.world.ground_truth(
            reporting_currency="EUR", reporting_timezone="Europe/Berlin"
        )
        mart = verify.mart_region_days(stack.settings.published_path)
        comparison = verify.compare(mart, truth, first_day=START, last_day=day)
        assert comparison.matches, json.dumps(comparison.mismatches[:20], indent=1)
    finally:
        row["account_currency"] = original
    _assert_ran(stack.run(day + timedelta(days=1), name="rate-again"))
    with duckdb.connect(str(stack.settings.published_path), read_only=True) as con:
        assert con.execute(
            "select count(*) from main.data_quality_unconverted_amounts"
        ).fetchall() == [(0,)]


def test_no_token_anywhere_in_the_run_home(stack: Stack, first_load) -> None:
    """After every run above (history, nightly, re-runs, failed runs with quarantine
    reports, Data Docs), the platforms' token is in no file under the home: run logs with
    the Airflow task logs, the Airflow home, landing, quarantine, gx, warehouse, published."""
    needle = stack.token.encode()
    assert list((stack.home / "gx").rglob("index.html")), "no Data Docs were built"
    assert list(stack.home.rglob("validation_report.json")), "no quarantine report"
    leaks = [
        str(path)
        for path in stack.home.rglob("*")
        if path.is_file() and not path.is_symlink() and needle in path.read_bytes()
    ]
    assert leaks == []

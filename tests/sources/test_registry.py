"""The registry contract: every registered source is complete, and round-trips.

Parametrized over the registry, so adding a source adds it here without editing this
test: its package, its stand-in, its staging folder conforming to its kind's contract,
a suite per raw table, its place in the dbt union list, and an extract -> flatten ->
validate -> merge round trip against its stand-in over real HTTP.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from reach2revenue import quality, raw
from reach2revenue.contracts import STAGING_CONTRACTS, ExtractRequest, Interval, SourceKind
from reach2revenue.credentials import environment_from_connection, get_credentials
from reach2revenue.sandbox.standins import STANDIN_TYPES, StandinServers, start_standins
from reach2revenue.sandbox.world import World
from reach2revenue.settings import REPO_ROOT, Settings
from reach2revenue.sources import SOURCE_NAMES, SOURCES, dbt_union_vars, get_source, raw_tables

DBT = REPO_ROOT / "dbt_project"
START = date(2026, 9, 1)
TOKEN = "registry-test-token"


def _normal_type(data_type: str) -> str:
    return data_type.lower().replace(" ", "")


def _yaml_files(folder: Path) -> dict[str, Any]:
    documents: dict[str, Any] = {}
    for path in sorted(folder.glob("*.yml")):
        documents[path.name] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return documents


def test_registry_names_are_unique_and_importable() -> None:
    assert len(SOURCE_NAMES) == len(set(SOURCE_NAMES)) >= 3
    for name in SOURCE_NAMES:
        package = importlib.import_module(f"reach2revenue.sources.{name}")
        assert package.SOURCE is SOURCES[name]
        assert SOURCES[name].name == name


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_source_is_complete(name: str) -> None:
    source = get_source(name)
    # its stand-in
    assert [cls for cls in STANDIN_TYPES if cls.source == name], f"{name} has no stand-in"
    # its raw tables are its own and have keys inside their columns
    for table in source.tables:
        assert table.source == name
        assert set(table.key) <= set(table.columns), table.name
        assert set(table.scope_columns) <= set(table.columns), table.name
    # a suite per raw table, matching it (and no stray suite of this source)
    problems = quality.check_suites_cover_raw_schema(raw_tables().values())
    assert [p for p in problems if f"{name}__" in p or f"raw.{name}_" in p] == []
    # a staging folder declaring every raw table as a dbt source
    folder = DBT / "models" / "staging" / name
    documents = _yaml_files(folder)
    declared = {
        table.get("identifier", table["name"])
        for document in documents.values()
        for dbt_source in document.get("sources", [])
        if dbt_source["name"] == name
        for table in dbt_source.get("tables", [])
    }
    assert declared == {table.name for table in source.tables}
    # the conformed models of its kind, with the contract enforced column for column
    models = {
        model["name"]: model
        for document in documents.values()
        for model in document.get("models", [])
    }
    for suffix, contract in STAGING_CONTRACTS[source.kind].items():
        model_name = f"stg_{name}__{suffix}"
        assert (folder / f"{model_name}.sql").is_file(), f"{model_name}.sql is missing"
        model = models.get(model_name)
        assert model is not None, f"{model_name} is not documented"
        assert model.get("config", {}).get("contract", {}).get("enforced") is True, model_name
        columns = {c["name"]: _normal_type(c.get("data_type", "")) for c in model["columns"]}
        assert columns == {k: _normal_type(v) for k, v in contract.items()}, model_name
        assert list(columns) == list(contract), f"{model_name}: columns out of contract order"


def test_dbt_union_lists_equal_the_registry() -> None:
    project = yaml.safe_load((DBT / "dbt_project.yml").read_text(encoding="utf-8"))
    variables = project["vars"]
    by_kind = {
        "ad_platforms": [n for n, s in SOURCES.items() if s.kind is SourceKind.AD_PLATFORM],
        "crms": [n for n, s in SOURCES.items() if s.kind is SourceKind.CRM],
    }
    assert dbt_union_vars() == by_kind
    for variable, names in by_kind.items():
        assert sorted(variables[variable]) == sorted(names), variable


@pytest.fixture(scope="module")
def world() -> World:
    return World.generate(seed=5, start=START, days=4, scale=0.2)


@pytest.fixture(scope="module")
def servers(world: World) -> Iterator[StandinServers]:
    with start_standins(
        world, token=TOKEN, clock=world.end + timedelta(hours=2), rate_limits=False
    ) as running:
        yield running


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_extract_flatten_validate_merge_round_trip(
    name: str, world: World, servers: StandinServers, tmp_path: Path
) -> None:
    source = get_source(name)
    settings = dataclasses.replace(
        Settings.for_home(tmp_path), fx_rate_overrides_path=tmp_path / "overrides.csv"
    )
    world.write_fx_overrides(settings.fx_rate_overrides_path)
    connection = servers.connections(TOKEN)[f"{name}_default"]
    credentials = get_credentials(source, environment_from_connection(name, connection))
    interval = Interval.from_dates(START, START + timedelta(days=world.days))
    paths = source.extract(ExtractRequest(interval, credentials, settings))
    assert paths, f"{name} landed nothing"
    tables = {(t.source, t.entity): t for t in source.tables}
    batches = raw.batches_from_manifests(paths, tables)
    for batch in batches:
        report = quality.validate_batch(
            batch.source, batch.entity, batch.frame, label=batch.label, settings=settings
        )
        assert report.success, report.describe()
    con = duckdb.connect()
    raw.ensure_raw_schema(con, source.tables)
    first = [raw.merge_batch(con, batch) for batch in batches]
    counts = {
        t.name: con.execute(f"select count(*) from {t.qualified_name}").fetchall()[0][0]
        for t in source.tables
    }
    assert counts[source.tables[0].name] > 0, counts
    # merging the same batches again changes nothing
    for batch in raw.batches_from_manifests(paths, tables):
        raw.merge_batch(con, batch)
    again = {
        t.name: con.execute(f"select count(*) from {t.qualified_name}").fetchall()[0][0]
        for t in source.tables
    }
    assert again == counts
    assert sum(stats.inserted for stats in first) >= counts[source.tables[0].name]

"""The drift matrix: every raw table x every kind of schema drift, through the stand-ins.

One baseline is published first (extract every source, load, build, publish: the real
pipeline steps on a tiny world). Then, per case, the source's stand-in changes every
record it answers (real HTTP: `StandinServer.set_drift`), only that source is extracted
again and its manifests loaded: a renamed, removed or retyped field, or a missing records
key, fails with `SchemaDriftError` naming the field; an added field loads with a recorded
warning. The published file stays byte for byte the same and the landed pages of the
failed extraction are kept. Parametrized over the registry, so a new source is covered
without editing this file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from reach2revenue import pipeline, raw
from reach2revenue.contracts import Interval, RawTable, ResponseField
from reach2revenue.credentials import environment_from_connection
from reach2revenue.drift import SchemaDriftError
from reach2revenue.failures import NonRetryableError
from reach2revenue.landing import read_manifest
from reach2revenue.sandbox.standins import StandinServers, start_standins
from reach2revenue.sandbox.standins._drift import ResponseDrift
from reach2revenue.sandbox.world import World
from reach2revenue.settings import Settings
from reach2revenue.sources import SOURCE_NAMES, raw_tables

pytestmark = pytest.mark.slow  # the baseline runs dbt once (about 30 s)

START = date(2026, 9, 1)
DAYS = 3
TOKEN = "drift-matrix-token"
NEW_FIELD = "r2r_new_field"
MUTATIONS = ("renamed", "removed", "retyped", "records_key_missing", "field_added")
TABLES = [t for t in raw_tables().values() if t.response is not None]


@dataclass
class Baseline:
    world: World
    servers: StandinServers
    settings: Settings
    interval: Interval
    published_sha256: str
    from_api: frozenset[tuple[str, str]]  # the tables whose baseline took API requests


def _record(table: RawTable, mutation: str, outcome: str) -> None:
    """Append a case's outcome to ``$R2R_DRIFT_MATRIX_OUT`` (the matrix for a report)."""
    target = os.environ.get("R2R_DRIFT_MATRIX_OUT")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(json.dumps({"table": table.name, "mutation": mutation, "outcome": outcome}))
            out.write("\n")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Baseline]:
    home = tmp_path_factory.mktemp("drift-matrix")
    settings = dataclasses.replace(
        Settings.for_home(home), fx_rate_overrides_path=home / "fx_rate_overrides.csv"
    )
    world = World.generate(seed=11, start=START, days=DAYS, scale=0.1)
    world.write_fx_overrides(settings.fx_rate_overrides_path)
    interval = Interval.from_dates(START, START + timedelta(days=DAYS))
    with (
        start_standins(
            world, token=TOKEN, clock=world.end + timedelta(hours=2), rate_limits=False
        ) as servers,
        pytest.MonkeyPatch.context() as env,
    ):
        for name, connection in servers.connections(TOKEN).items():
            for key, value in environment_from_connection(
                name.removesuffix("_default"), connection
            ).items():
                env.setenv(key, value)
        paths = [p for name in SOURCE_NAMES for p in pipeline.extract(name, interval, settings)]
        manifests = [read_manifest(p) for p in paths]
        from_api = frozenset((m.source, m.entity) for m in manifests if m.request_count)
        pipeline.load_and_validate(paths, settings)
        pipeline.build(settings)
        pipeline.publish(settings)
        published = _sha256(settings.published_path)
        yield Baseline(world, servers, settings, interval, published, from_api)


def _target(table: RawTable, mutation: str) -> ResponseField:
    """The field a case changes: a measure where there is one (the numbers that would
    silently become NULL or 0), else a nullable string (one that would silently become
    NULL); a type change prefers a number field, else a string one."""
    assert table.response is not None
    required = [f for f in table.response.fields if f.required and "[]" not in f.path]
    numeric = [f for f in required if {"number", "integer"} & set(f.types)]
    strings = [f for f in required if f.types == ("string",)]
    candidates = [
        *(f for f in required if f.measure),
        *(numeric if mutation == "retyped" else ()),
        *(f for f in strings if f.nullable),
        *strings,
    ]
    return candidates[0]


def _drift(table: RawTable, mutation: str) -> ResponseDrift:
    """The change for one case, on every answer of the source's stand-in whose records
    look like the table's (they have its first required field)."""
    assert table.response is not None
    marker = next(f.path for f in table.response.fields if f.required and "[]" not in f.path)
    where = {"records_key": table.response.records, "only_records_with": marker}
    if mutation == "records_key_missing":
        return ResponseDrift("/", "drop_records", **where)
    if mutation == "field_added":
        return ResponseDrift("/", "add", NEW_FIELD, value="surprise", **where)
    path = _target(table, mutation).path
    if mutation == "renamed":
        return ResponseDrift("/", "rename", path, to=f"{path.rpartition('.')[2]}_v2", **where)
    if mutation == "removed":
        return ResponseDrift("/", "remove", path, **where)
    return ResponseDrift("/", "retype", path, **where)


@pytest.mark.parametrize("mutation", MUTATIONS)
@pytest.mark.parametrize("table", TABLES, ids=[t.name for t in TABLES])
def test_drift_fails_loudly_and_publishes_nothing(
    baseline: Baseline, table: RawTable, mutation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert table.response is not None
    if table.response.csv and mutation == "retyped":
        pytest.skip("CSV has no JSON types: every cell is text")
    if (table.source, table.entity) not in baseline.from_api:
        pytest.skip(f"{table.name} is not read from an API (a local file): nothing can drift")
    server = baseline.servers[table.source]
    drift = _drift(table, mutation)
    for name, connection in baseline.servers.connections(TOKEN).items():
        for key, value in environment_from_connection(
            name.removesuffix("_default"), connection
        ).items():
            monkeypatch.setenv(key, value)
    server.set_drift(drift)
    try:
        paths = pipeline.extract(table.source, baseline.interval, baseline.settings)
    except NonRetryableError as error:
        # The extractor itself refused the answer (the ECB's parses its CSV to land it by
        # chunk): as good, provided it fails at once and says which column.
        named = (
            drift.field
            if drift.field and mutation != "field_added"
            else table.response.fields[0].path
        )
        assert mutation != "field_added", f"an added field failed the extraction: {error}"
        assert named in str(error), str(error)
        _record(table, mutation, f"fails at extraction: {type(error).__name__}")
        assert _sha256(baseline.settings.published_path) == baseline.published_sha256
        return
    finally:
        server.clear_drift()
    manifests = [read_manifest(p) for p in paths]
    own = [m for m in manifests if m.entity == table.entity]

    if mutation == "records_key_missing" and table.response.empty_batch_omits_records:
        # proto3 JSON leaves an empty list out, so a lone stream batch without its records
        # IS the API's empty answer: no structural check can tell the two apart. Shown,
        # not merged; the volume check (a collapse against the trailing loads) covers it.
        batches = raw.batches_from_manifests(paths, raw_tables())
        rows = sum(len(b.frame) for b in batches if b.entity == table.entity)
        _record(table, mutation, f"not detectable structurally: reads as empty ({rows} rows)")
        assert _sha256(baseline.settings.published_path) == baseline.published_sha256
        pytest.xfail("a searchStream without results is the API's own empty answer")
    if mutation == "field_added":
        summary = pipeline.load_and_validate(paths, baseline.settings)
        warnings = [w for w in summary["schema_warnings"] if f"{table.source}/{table.entity}" in w]
        assert warnings and NEW_FIELD in warnings[0], summary["schema_warnings"]
        _record(table, mutation, "loads, warning: " + warnings[0].split(": ", 1)[-1][:90])
    else:
        with pytest.raises(SchemaDriftError) as failure:
            pipeline.load_and_validate(paths, baseline.settings)
        mine = [
            p
            for p in failure.value.problems
            if (p.source, p.entity) == (table.source, table.entity)
        ]
        assert mine, str(failure.value)
        message = str(failure.value)
        assert f"{table.source}/{table.entity}" in message
        if mutation == "records_key_missing":
            assert {p.kind for p in mine} & {"records_key", "missing"}, message
        else:
            field = drift.field
            assert any(p.field == field for p in mine), message
            expected_kind = "type" if mutation == "retyped" else "missing"
            assert any(p.kind == expected_kind for p in mine if p.field == field), message
        first = next((p for p in mine if p.field == drift.field), mine[0])
        _record(table, mutation, f"SchemaDriftError: {first.kind} {first.field!r} ({first.found})")
        # every problem names a landed file that is still there
        for problem in mine:
            assert Path(problem.landed_file).is_file(), problem.landed_file

    # the failed (or warned) extraction's pages are kept, the published file untouched
    for manifest in own:
        assert all(page.is_file() for page in manifest.page_paths())
    assert _sha256(baseline.settings.published_path) == baseline.published_sha256
    assert os.access(baseline.settings.published_path, os.R_OK)

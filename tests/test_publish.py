"""Publishing: only the marts, no personal data, no machine paths, read-only, atomic.

The fast tests use small hand-made files and manifests. The slow ones build a real
warehouse once per module through the pipeline steps (stand-ins over HTTP, GX, dbt) on
a small world, then publish it: the file BI reads is checked byte by byte, a reader
process polls it during ten publishes, and a tampered build publishes nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from reach2revenue import pipeline
from reach2revenue.audit import AuditError
from reach2revenue.contracts import Interval
from reach2revenue.credentials import environment_from_connection
from reach2revenue.email_hash import (
    EmailHashKeyError,
    email_hash,
    key_file_path,
    resolve_email_hash_key,
)
from reach2revenue.publish import (
    PUBLISHED_FILE_MODE,
    PublishedModel,
    PublishError,
    check_published_file,
    is_read_only,
    manifest_path,
    publish_warehouse,
    published_models,
)
from reach2revenue.sandbox.standins import start_standins
from reach2revenue.sandbox.world import World
from reach2revenue.settings import Settings
from reach2revenue.sources import SOURCE_NAMES

START = date(2026, 3, 24)
WORLD_DAYS = 10  # seed 7, scale 0.3: won deals in HubSpot and Salesforce
# Every model under models/marts/, and nothing else (staging, intermediate, raw, seeds).
MARTS = {
    f"main.{name}"
    for name in (
        "ad_performance_daily",
        "attribution_by_channel_month",
        "attribution_credits",
        "data_quality_unconverted_amounts",
        "data_quality_unmapped_channels",
        "data_quality_unmapped_countries",
        "dim_ad_accounts",
        "dim_campaigns",
        "dim_channels",
        "dim_countries",
        "dim_dates",
        "dim_regions",
        "funnel_by_region_month",
        "marketing_contribution_by_channel_month",
        "marketing_contribution_by_region_month",
        "marketing_mix_geo_weekly",
        "marketing_mix_geo_weekly_channels",
        "marketing_touchpoints",
        "mart_freshness",
        "region_daily_performance",
        "regions",
    )
}
PERSONAL_COLUMN_WORDS = ("email", "firstname", "lastname", "first_name", "last_name", "phone")


# --------------------------------------------------------------------------- fast


def _manifest(tmp_path: Path, nodes: dict[str, dict[str, Any]]) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"nodes": nodes}))
    return path


def _model(name: str, fqn: list[str], **config: Any) -> dict[str, Any]:
    return {
        "resource_type": "model",
        "name": name,
        "alias": name,
        "schema": "main" if "marts" in fqn else "staging",
        "fqn": ["reach2revenue", *fqn, name],
        "config": {"materialized": "table", "enabled": True, **config},
        "description": f"{name} described",
        "columns": {"id": {"description": "the key"}, "other": {"description": ""}},
    }


def test_published_models_are_the_marts_folder_with_their_keys(tmp_path: Path) -> None:
    nodes = {
        "model.p.orders": _model("orders", ["marts"]),
        "model.p.dq": _model("dq", ["marts", "data_quality"]),
        "model.p.held_back": _model("held_back", ["marts"], meta={"publish": False}),
        "model.p.stg_x": _model("stg_x", ["staging", "x"]),
        "model.p.dim_extra": _model("dim_extra", ["intermediate"], meta={"publish": True}),
        "model.p.eph": _model("eph", ["marts"], materialized="ephemeral"),
        "model.p.marts_named": _model("marts_named", ["staging"]),
        "test.p.unique_orders_id": {
            "resource_type": "test",
            "attached_node": "model.p.orders",
            "config": {},
            "test_metadata": {"name": "unique", "kwargs": {"column_name": "id"}},
        },
        "test.p.combo": {
            "resource_type": "test",
            "attached_node": "model.p.orders",
            "config": {},
            "test_metadata": {
                "name": "unique_combination_of_columns",
                "kwargs": {"combination_of_columns": ["a", "b"]},
            },
        },
        "test.p.filtered": {
            "resource_type": "test",
            "attached_node": "model.p.dq",
            "config": {"where": "is_current"},
            "test_metadata": {"name": "unique", "kwargs": {"column_name": "id"}},
        },
    }
    models = {m.name: m for m in published_models(_manifest(tmp_path, nodes))}
    assert set(models) == {"orders", "dq", "dim_extra"}
    assert models["orders"].unique_keys == (("id",), ("a", "b"))
    assert models["dq"].unique_keys == ()  # unique only within a filter: not a key
    assert models["orders"].relation == '"main"."orders"'
    assert models["orders"].column_descriptions == {"id": "the key"}
    with pytest.raises(PublishError, match="no dbt manifest"):
        published_models(tmp_path / "missing.json")
    with pytest.raises(PublishError, match="lists no model"):
        published_models(_manifest(tmp_path, {"model.p.stg_x": _model("stg_x", ["staging"])}))


def _file_with(path: Path, sql: str) -> tuple[Path, list[PublishedModel], dict[str, int]]:
    with duckdb.connect(str(path)) as con:
        con.execute(sql)
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where not internal"
        ).fetchall()
        counts = {
            f"{schema}.{table}": con.execute(
                f'select count(*) from "{schema}"."{table}"'
            ).fetchall()[0][0]
            for schema, table in tables
        }
    models = [PublishedModel(t, f'"{s}"."{t}"', s, t, ()) for s, t in tables]
    return path, models, counts


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "create table t (region varchar, note varchar); "
            "insert into t values ('DACH', 'Anna.Mueller@Example.com')",
            "main.t.note: 1 value(s) look like an email address",
        ),
        (
            "create table t (source varchar); insert into t values ('/home/ci/r2r/landing/x.json')",
            "main.t.source: 1 value(s) look like a file path",
        ),
        (
            "create table t (source varchar); insert into t values ('see C:\\Users\\me\\x.csv')",
            "main.t.source: 1 value(s) look like a file path",
        ),
        ("create table t (contact_email_hash varchar)", "column name says personal data"),
        ("create table t (first_name varchar)", "column name says personal data"),
    ],
)
def test_the_copy_check_refuses_personal_data_and_paths(
    tmp_path: Path, sql: str, expected: str
) -> None:
    path, models, counts = _file_with(tmp_path / "draft.duckdb", sql)
    with pytest.raises(PublishError) as raised:
        check_published_file(path, models, counts)
    assert expected in str(raised.value)
    assert "Anna" not in str(raised.value) and "/home/ci" not in str(raised.value)


def test_the_copy_check_accepts_ordinary_text_and_refuses_extra_tables(tmp_path: Path) -> None:
    path, models, counts = _file_with(
        tmp_path / "draft.duckdb",
        "create table t (data_sources varchar, country varchar, codes varchar); "
        "insert into t values ('google_ads, hubspot', 'N/A', 'AT, CH, DE'), "
        "('meta_ads', 'Bosnia/Herzegovina', null)",
    )
    assert check_published_file(path, models, counts) == {"main.t": 2}
    with pytest.raises(PublishError, match=r"extra \['main.t'\]"):
        check_published_file(path, [], {})
    with pytest.raises(PublishError, match=r"main\.t: 2 rows, the build has 3"):
        check_published_file(path, models, {"main.t": 3})


def test_email_hash_is_keyed_hmac_sha256_of_the_normalised_email() -> None:
    key = "k" * 32
    expected = hmac.new(key.encode(), b"anna.mueller@example.com", hashlib.sha256).hexdigest()
    assert email_hash(key, "  Anna.Mueller@Example.com ") == expected
    assert expected != hashlib.sha256(b"anna.mueller@example.com").hexdigest()
    assert email_hash(key, "   ") is None
    assert email_hash(key, None) is None


def test_the_key_comes_from_the_environment_or_one_generated_private_file(
    tmp_path: Path,
) -> None:
    settings = Settings.for_home(tmp_path)
    configured = resolve_email_hash_key(settings, {"R2R_EMAIL_HASH_KEY": "x" * 20})
    assert (configured.secret, configured.origin) == ("x" * 20, "env:R2R_EMAIL_HASH_KEY")
    assert "x" * 20 not in repr(configured)
    assert not key_file_path(settings).exists()
    with pytest.raises(EmailHashKeyError, match="no email hash key"):
        resolve_email_hash_key(settings, {}, create=False)
    with pytest.raises(EmailHashKeyError, match="has 5 characters"):
        resolve_email_hash_key(settings, {"R2R_EMAIL_HASH_KEY": "short"})

    generated = resolve_email_hash_key(settings, {})
    path = key_file_path(settings)
    assert generated.origin == f"file:{path}"
    assert len(generated.secret) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert resolve_email_hash_key(settings, {}).secret == generated.secret  # kept
    assert [p.name for p in path.parent.iterdir()] == ["email_hash.key"]


def test_the_sql_function_hashes_with_the_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the dbt-duckdb plugin registers on each of dbt's connections."""
    from reach2revenue.duckdb_functions import Plugin

    monkeypatch.delenv("R2R_EMAIL_HASH_KEY", raising=False)
    with duckdb.connect() as con:
        Plugin("duckdb_functions", {}).configure_connection(con)
        assert con.execute("select r2r_email_hash(null)").fetchall() == [(None,)]
        with pytest.raises(duckdb.Error, match="R2R_EMAIL_HASH_KEY is not set"):
            con.execute("select r2r_email_hash('a@b.example')").fetchall()
    key = "k" * 32
    monkeypatch.setenv("R2R_EMAIL_HASH_KEY", key)
    with duckdb.connect() as con:
        Plugin("duckdb_functions", {}).configure_connection(con)
        assert con.execute(
            "select r2r_email_hash(' A@B.example '), r2r_email_hash(''), r2r_email_hash(null)"
        ).fetchall() == [(email_hash(key, "a@b.example"), None, None)]


# --------------------------------------------------------------------------- slow


@dataclasses.dataclass
class Built:
    settings: Settings
    world: World


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """A real warehouse: stand-ins -> extract -> validate and load -> dbt build."""
    home = tmp_path_factory.mktemp("publish")
    settings = Settings.for_home(home)
    world = World.generate(seed=7, start=START, days=WORLD_DAYS, scale=0.3)
    world.write_fx_overrides(settings.fx_rate_overrides_path)
    token = secrets.token_urlsafe(16)
    interval = Interval.from_dates(START, START + timedelta(days=WORLD_DAYS))
    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        start_standins(
            world, token=token, clock=world.end + timedelta(hours=2), rate_limits=False
        ) as servers,
    ):
        monkeypatch.delenv("R2R_EMAIL_HASH_KEY", raising=False)  # the home's generated key
        for conn_id, connection in servers.connections(token).items():
            source = conn_id.removesuffix("_default")
            for name, value in environment_from_connection(source, connection).items():
                monkeypatch.setenv(name, value)
        manifests = [
            path for name in SOURCE_NAMES for path in pipeline.extract(name, interval, settings)
        ]
        pipeline.load_and_validate(manifests, settings)
        pipeline.build(settings)
    yield Built(settings, world)


def _elsewhere(settings: Settings, folder: Path) -> Settings:
    """The same build (manifest, key) published to another path."""
    return dataclasses.replace(settings, published_path=folder / "published.duckdb")


@pytest.mark.slow
def test_the_published_file_holds_the_marts_only_read_only(built: Built, tmp_path: Path) -> None:
    settings = _elsewhere(built.settings, tmp_path)
    summary = publish_warehouse(settings)
    path = settings.published_path
    assert summary.published_path == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == PUBLISHED_FILE_MODE == 0o444
    assert is_read_only(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["published.duckdb"]  # no draft left
    with duckdb.connect(str(path), read_only=True) as con:
        schemas = {
            name
            for (name,) in con.execute(
                "select schema_name from duckdb_schemas() "
                "where schema_name not in ('information_schema', 'pg_catalog')"
            ).fetchall()
        }
        tables = con.execute(
            "select schema_name || '.' || table_name, comment from duckdb_tables()"
        ).fetchall()
        views = con.execute("select count(*) from duckdb_views() where not internal").fetchall()
        described = con.execute(
            "select count(*) from duckdb_columns() where comment is not null and comment <> ''"
        ).fetchall()[0][0]
    assert schemas == {"main"}
    assert {name for name, _ in tables} == MARTS
    assert views == [(0,)]
    assert all(f"(publication {summary.publication_id})" in comment for _, comment in tables)
    assert described > 10  # the models' column descriptions travel with the tables
    with duckdb.connect(str(built.settings.warehouse_path), read_only=True) as build:
        for name in MARTS:
            (count,) = build.execute(f"select count(*) from {name}").fetchall()[0]
            assert summary.table_row_counts[name] == count
    assert summary.table_row_counts["main.region_daily_performance"] >= 10 * WORLD_DAYS
    assert {check["name"]: check["passed"] for check in summary.audit["checks"]} == {
        "ad_spend_per_platform_account_day": True,
        "ad_spend_per_day": True,
        "won_revenue_per_currency": True,
        "won_revenue_per_day": True,
        "region_days_complete": True,
        "unique_keys": True,
    }
    revenue = next(c for c in summary.audit["checks"] if c["name"] == "won_revenue_per_day")
    assert revenue["keys_compared"] >= 3, "a world without won deals audits nothing"
    if os.geteuid() != 0:  # root writes whatever the mode
        with pytest.raises(PermissionError):
            path.open("r+b")


@pytest.mark.slow
def test_no_personal_data_no_machine_path_no_key_in_the_published_file(
    built: Built, tmp_path: Path
) -> None:
    settings = _elsewhere(built.settings, tmp_path)
    publish_warehouse(settings)
    with duckdb.connect(str(built.settings.warehouse_path), read_only=True) as build:
        people = build.execute(
            "select email, firstname, lastname from raw.hubspot_contacts union all "
            "select email, first_name, last_name from raw.salesforce_contacts union all "
            "select email, first_name, last_name from raw.salesforce_leads"
        ).fetchall()
        stored_hashes = {
            value
            for (value,) in build.execute(
                "select email_hash from staging.stg_hubspot__contacts union all "
                "select email_hash from staging.stg_salesforce__contacts union all "
                "select email_hash from staging.stg_salesforce__leads"
            ).fetchall()
            if value
        }
        hubspot = dict(
            build.execute(
                "select contacts.id, hashed.email_hash from raw.hubspot_contacts as contacts "
                "join staging.stg_hubspot__contacts as hashed on contacts.id = hashed.contact_id"
            ).fetchall()
        )
        raw_emails = dict(build.execute("select id, email from raw.hubspot_contacts").fetchall())
    emails = {email for email, _, _ in people if email}
    assert len(emails) > 50

    # The keyed hash is HMAC-SHA256 with the home's key; the world's emails hashed with
    # plain sha256 (a dictionary attack) match none of the stored hashes.
    key = resolve_email_hash_key(built.settings, {}, create=False)
    assert key.origin == f"file:{key_file_path(built.settings)}"
    for contact_id, stored in hubspot.items():
        expected = hmac.new(
            key.secret.encode(), raw_emails[contact_id].strip().lower().encode(), hashlib.sha256
        ).hexdigest()
        assert stored == expected
    dictionary = {hashlib.sha256(e.strip().lower().encode()).hexdigest() for e in emails}
    dictionary |= {hashlib.sha256(e.encode()).hexdigest() for e in emails}
    assert len(stored_hashes) > 50
    assert not stored_hashes & dictionary

    published = settings.published_path.read_bytes()
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        columns = con.execute(
            "select table_name, column_name, data_type from duckdb_columns() where not internal"
        ).fetchall()
        text_values = [
            value
            for table, column, data_type in columns
            if data_type == "VARCHAR"
            for (value,) in con.execute(f'select "{column}" from main."{table}"').fetchall()
            if value is not None
        ]
    assert not [c for _, c, _ in columns if any(w in c.lower() for w in PERSONAL_COLUMN_WORDS)]
    assert text_values and not [v for v in text_values if "@" in v]
    names = {f"{first} {last}" for _, first, last in people if first and last}
    for secret_text in (
        *emails,
        *names,
        *stored_hashes,
        key.secret,
        str(built.settings.home),
        str(Path.home()),
        "/tmp",
        str(Path(__file__).parents[1]),
    ):
        assert secret_text.encode() not in published, secret_text
    # the key never reaches what dbt writes (compiled SQL, manifest, logs) or the build
    dbt_files = [p for p in (built.settings.home / "dbt").rglob("*") if p.is_file()]
    assert dbt_files
    for written in [*dbt_files, built.settings.warehouse_path]:
        assert key.secret.encode() not in written.read_bytes(), written


READER = textwrap.dedent(
    """
    import json, os, re, sys, time
    import duckdb

    path, stop, expected = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    reads, errors, mixes, publications = 0, [], [], set()
    while not os.path.exists(stop):
        try:
            with duckdb.connect(path, read_only=True) as con:
                tables = con.execute(
                    "select schema_name || '.' || table_name, comment from duckdb_tables()"
                ).fetchall()
                marks = {re.search(r"publication (\\w+)", c or "").group(1) for _, c in tables}
                counts = {
                    name: con.execute(f"select count(*) from {name}").fetchall()[0][0]
                    for name, _ in tables
                }
            if len(marks) != 1 or counts != expected:
                mixes.append([sorted(marks), counts])
            publications |= marks
            reads += 1
        except Exception as error:
            errors.append(repr(error))
    print(json.dumps({"reads": reads, "errors": errors[:5], "error_count": len(errors),
                      "mixes": mixes[:5], "publications": sorted(publications)}))
    """
)


@pytest.mark.slow
def test_a_reader_process_never_sees_an_error_or_a_mix_during_ten_publishes(
    built: Built, tmp_path: Path
) -> None:
    settings = _elsewhere(built.settings, tmp_path / "published")
    first = publish_warehouse(settings)
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            READER,
            str(settings.published_path),
            str(stop),
            json.dumps(first.table_row_counts),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)  # the reader is reading the first publication
        publications = {first.publication_id}
        seconds = []
        for _ in range(10):
            summary = publish_warehouse(settings)
            publications.add(summary.publication_id)
            seconds.append(summary.seconds)
            time.sleep(0.2)
        stop.touch()
        out, err = reader.communicate(timeout=60)
    finally:
        if reader.poll() is None:
            reader.kill()
    assert reader.returncode == 0, err
    result = json.loads(out)
    assert result["error_count"] == 0, result["errors"]
    assert result["mixes"] == []
    assert result["reads"] >= 20
    assert len(set(result["publications"])) >= 3  # it saw the swaps happen
    assert set(result["publications"]) <= publications
    assert len(publications) == 11
    assert sorted(p.name for p in settings.published_path.parent.iterdir()) == ["published.duckdb"]
    print(f"publish seconds: {seconds}; reader opens: {result['reads']}")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tamper", "check", "detail"),
    [
        (
            "update main.region_daily_performance set spend = spend + 12.34 "
            "where region_day_id = (select region_day_id "
            "from main.region_daily_performance where spend > 0 order by 1 limit 1)",
            "ad_spend_per_day",
            "(difference 12.34)",
        ),
        (
            "update main.region_daily_performance set revenue_won = revenue_won - 100 "
            "where region_day_id = (select region_day_id "
            "from main.region_daily_performance where deals_won > 0 order by 1 limit 1)",
            "won_revenue_per_day",
            "(difference -100.00)",
        ),
        (
            "delete from main.region_daily_performance where region_day_id = "
            "(select region_day_id from main.region_daily_performance "
            "where spend = 0 and deals_won = 0 order by 1 limit 1)",
            "region_days_complete",
            "raw 1 row, model 0 rows",
        ),
        (
            "insert into main.regions select * from main.regions limit 1",
            "unique_keys",
            '"main"."regions" (region)',
        ),
    ],
    ids=["spend", "revenue", "region-day", "duplicate"],
)
def test_a_failed_audit_publishes_nothing_and_names_the_check(
    built: Built, tmp_path: Path, tamper: str, check: str, detail: str
) -> None:
    settings = _elsewhere(built.settings, tmp_path / "published")
    publish_warehouse(settings)
    before = hashlib.sha256(settings.published_path.read_bytes()).hexdigest()
    tampered = dataclasses.replace(settings, warehouse_path=tmp_path / "build.duckdb")
    shutil.copyfile(built.settings.warehouse_path, tampered.warehouse_path)
    with duckdb.connect(str(tampered.warehouse_path)) as con:
        con.execute(tamper)

    with pytest.raises(AuditError) as raised:
        publish_warehouse(tampered)

    message = str(raised.value)
    assert message.startswith(f"audit failed (nothing published): {check}")
    assert detail in message
    assert not raised.value.report.passed
    assert hashlib.sha256(settings.published_path.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in settings.published_path.parent.iterdir()) == ["published.duckdb"]


@pytest.mark.slow
def test_publishing_needs_a_build_and_its_manifest(built: Built, tmp_path: Path) -> None:
    nothing_built = Settings.for_home(tmp_path)
    with pytest.raises(PublishError, match="no built warehouse"):
        publish_warehouse(nothing_built)
    assert manifest_path(built.settings).exists()
    no_manifest = dataclasses.replace(nothing_built, warehouse_path=built.settings.warehouse_path)
    with pytest.raises(PublishError, match="no dbt manifest"):
        publish_warehouse(no_manifest)
    assert not nothing_built.published_path.exists()
    assert os.listdir(tmp_path) == []

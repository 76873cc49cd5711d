"""Structural contracts on landed pages (reach2revenue.drift) and the stand-ins' drift hook."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reach2revenue import drift, raw
from reach2revenue.contracts import JSON_TYPES, ResponseSchema
from reach2revenue.drift import SchemaDriftError, check_manifests, json_type
from reach2revenue.failures import NonRetryableError, is_retryable
from reach2revenue.landing import Manifest, partition_dir, write_manifest, write_page
from reach2revenue.sandbox.standins._drift import ResponseDrift, drift_from_dict
from reach2revenue.sources import get_source, raw_tables
from reach2revenue.sources.salesforce.settings import SOBJECT_OF_ENTITY

TABLES = raw_tables()
META = get_source("meta_ads").table("insights")
DEALS = get_source("hubspot").table("deals")
LINKS = get_source("hubspot").table("deal_contacts")
GOOGLE = get_source("google_ads").table("geographic_view")
ACCOUNTS = get_source("linkedin_ads").table("ad_accounts")
RATES = get_source("ecb_fx").table("rates")


def land(tmp_path: Path, table_source: str, entity: str, bodies: list[str], suffix: str = ".json"):
    directory = partition_dir(tmp_path, table_source, entity, "2026-09-01", "x1")
    names = [write_page(directory, n, body, suffix=suffix) for n, body in enumerate(bodies, 1)]
    manifest = Manifest(
        source=table_source,
        entity=entity,
        partition_date="2026-09-01",
        window_start="2026-09-01",
        window_end="2026-09-02",
        extraction_id="x1",
        extracted_at="2026-09-02T02:00:00Z",
        pages=names,
        record_count=0,
        request_count=len(bodies),
        params={"account_id": "1001"},
    )
    write_manifest(directory, manifest)
    return manifest


def insight(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "account_id": "1001",
        "account_currency": "USD",
        "campaign_id": "c1",
        "campaign_name": "Brand",
        "date_start": "2026-09-01",
        "date_stop": "2026-09-01",
        "country": "US",
        "impressions": "4000",
        "reach": "3100",
        "clicks": "80",
        "spend": "12.34",
        "actions": [{"action_type": "lead", "value": "3"}],
    }
    row.update(changes)
    return {k: v for k, v in row.items() if v is not ...}


def deal(**properties: Any) -> dict[str, Any]:
    props = {
        "dealname": "Acme",
        "amount": "1500.00",
        "deal_currency_code": "EUR",
        "dealstage": "closedwon",
        "pipeline": "default",
        "closedate": None,
        "createdate": "2026-09-01T08:00:00Z",
        "hs_lastmodifieddate": "2026-09-01T09:00:00Z",
        "hs_object_id": "500",
    }
    props.update(properties)
    return {
        "id": "500",
        "properties": {k: v for k, v in props.items() if v is not ...},
        "createdAt": "2026-09-01T08:00:00Z",
        "updatedAt": "2026-09-01T09:00:00Z",
        "archived": False,
    }


def test_json_types() -> None:
    assert [json_type(v) for v in (None, True, 3, 3.0, "3", [], {})] == [
        "null",
        "boolean",
        "integer",
        "number",
        "string",
        "array",
        "object",
    ]


def test_every_registered_table_declares_its_response() -> None:
    for table in TABLES.values():
        schema = table.response
        assert isinstance(schema, ResponseSchema), f"{table.name} declares no response schema"
        assert schema.fields, table.name
        for declared in schema.fields:
            assert set(declared.types) <= JSON_TYPES, (table.name, declared)
        paths = [f.path for f in schema.fields]
        assert len(paths) == len(set(paths)), f"{table.name}: a field declared twice"


def test_declarations_follow_the_requested_fields() -> None:
    # Salesforce: every selected field, nothing else; HubSpot: every requested property.
    for entity, sobject in SOBJECT_OF_ENTITY.items():
        schema = get_source("salesforce").table(entity).response
        assert schema is not None
        assert [f.path for f in schema.fields] == list(sobject.fields)
    for entity in ("contacts", "deals"):
        table = get_source("hubspot").table(entity)
        assert table.response is not None
        declared = {f.path.removeprefix("properties.") for f in table.response.fields}
        assert set(table.columns) - {"id", "created_at", "updated_at", "archived"} <= declared
    # the ECB's rates: the SDMX-CSV columns the parser reads
    from reach2revenue.reference.fx import SDMX_COLUMNS

    assert RATES.response is not None
    assert [f.path for f in RATES.response.fields] == list(SDMX_COLUMNS)


def test_a_valid_page_passes_and_new_fields_are_warnings(tmp_path: Path) -> None:
    page = {"data": [insight(), insight(cost_per_lead="1.2")], "paging": {}, "summary": {}}
    report = check_manifests(META, [land(tmp_path, "meta_ads", "insights", [json.dumps(page)])])
    assert report.ok and report.records == 2
    assert report.new_fields == {"cost_per_lead": 1, "(page) summary": 1}
    assert "cost_per_lead (1)" in report.warnings[0]
    assert "meta_ads/insights" in report.warnings[0]


def test_missing_and_retyped_fields_name_field_type_file_and_example(tmp_path: Path) -> None:
    rows = [insight(impressions=...), insight(spend={"amount": "1"}), insight(impressions=...)]
    manifest = land(tmp_path, "meta_ads", "insights", [json.dumps({"data": rows})])
    report = check_manifests(META, [manifest])
    problems = {(p.kind, p.field): p for p in report.problems}
    assert set(problems) == {("missing", "impressions"), ("type", "spend")}
    assert problems[("missing", "impressions")].count == 2
    retyped = problems[("type", "spend")]
    assert (retyped.expected, retyped.found) == ("string", "object")
    assert retyped.landed_file.endswith("page-00001.json")
    assert '"spend":{"amount":"1"}' in retyped.example
    with pytest.raises(SchemaDriftError) as failure:
        drift.raise_on_drift([report])
    message = str(failure.value)
    for part in ("meta_ads/insights", "'impressions'", "'spend'", "object", "page-00001.json"):
        assert part in message
    assert isinstance(failure.value, NonRetryableError) and not is_retryable(failure.value)


def test_a_page_without_its_records_key_is_fatal_even_if_valid_json(tmp_path: Path) -> None:
    manifest = land(tmp_path, "meta_ads", "insights", [json.dumps({"paging": {}})])
    (problem,) = check_manifests(META, [manifest]).problems
    assert (problem.kind, problem.field, problem.found) == ("records_key", "data", "missing")
    renamed = land(tmp_path / "b", "meta_ads", "insights", [json.dumps({"rows": [insight()]})])
    (problem,) = check_manifests(META, [renamed]).problems
    assert "'rows'" in problem.found
    not_json = land(tmp_path / "c", "meta_ads", "insights", ["<html>"])
    assert check_manifests(META, [not_json]).problems[0].kind == "page"


def test_nested_and_list_fields(tmp_path: Path) -> None:
    page = {"results": [deal(amount=...), deal(amount=None), deal(amount=1500)]}
    report = check_manifests(DEALS, [land(tmp_path, "hubspot", "deals", [json.dumps(page)])])
    found = sorted((p.kind, p.field, p.found, p.count) for p in report.problems)
    # a null amount is a valid answer; an absent one or a number is drift
    assert found == [
        ("missing", "properties.amount", "absent", 1),
        ("type", "properties.amount", "integer", 1),
    ]
    links = {"status": "COMPLETE", "results": [{"from": {"id": "1"}, "to": [{"toObjectId": {}}]}]}
    report = check_manifests(
        LINKS, [land(tmp_path / "l", "hubspot", "deal_contacts", [json.dumps(links)])]
    )
    assert sorted((p.kind, p.field) for p in report.problems) == [
        ("missing", "to[].associationTypes"),
        ("type", "to[].toObjectId"),
    ]


def test_records_of_one_shape_are_checked_once_and_counted_each(tmp_path: Path) -> None:
    """Each record shape is checked once (the landing's speed at a real size); counts
    and new fields stay per record, a list item by item."""
    bad_link = {"toObjectId": {}}
    page = {
        "results": [
            {"from": {"id": "1"}, "to": [bad_link, bad_link, bad_link]},
            {"from": {"id": "2"}, "to": [bad_link]},
            {"from": {"id": "3"}, "to": [bad_link, bad_link, bad_link], "extra": 1},
            {"from": {"id": "4"}, "to": [bad_link]},
        ]
    }
    report = check_manifests(
        LINKS, [land(tmp_path, "hubspot", "deal_contacts", [json.dumps(page)])]
    )
    counts = {(p.kind, p.field): p.count for p in report.problems}
    assert counts == {("missing", "to[].associationTypes"): 8, ("type", "to[].toObjectId"): 8}
    assert report.new_fields == {"extra": 1}
    assert report.records == 4


def google_result(**metrics: Any) -> dict[str, Any]:
    values = {"costMicros": "1000000", "impressions": "10", "clicks": "1", "conversions": 0.0}
    values.update(metrics)
    return {
        "customer": {
            "resourceName": "customers/1",
            "id": "1",
            "currencyCode": "EUR",
            "timeZone": "Europe/Berlin",
        },
        "campaign": {"resourceName": "customers/1/campaigns/2", "id": "2", "name": "Brand"},
        "segments": {"date": "2026-09-01"},
        "geographicView": {
            "resourceName": "customers/1/geographicViews/2276~LOCATION_OF_PRESENCE",
            "countryCriterionId": "2276",
            "locationType": "LOCATION_OF_PRESENCE",
        },
        "metrics": {k: v for k, v in values.items() if v is not ...},
    }


def test_google_stream_batches(tmp_path: Path) -> None:
    def check(body: Any, name: str) -> list[tuple[str, str]]:
        manifest = land(tmp_path / name, "google_ads", "geographic_view", [json.dumps(body)])
        return sorted((p.kind, p.field) for p in check_manifests(GOOGLE, [manifest]).problems)

    mask = {"fieldMask": "metrics.clicks", "requestId": "r"}
    assert check([{"results": [google_result()], **mask}], "ok") == []
    assert check([mask], "empty") == []  # proto3: an empty stream omits results
    assert check([{"results": [google_result()], **mask}, mask], "two") == [
        ("records_key", "results")
    ]
    assert check([{"rows": [google_result()], **mask}], "renamed") == [("records_key", "results")]
    assert check({"results": []}, "object") == [("page", "")]
    assert check([{"results": [google_result(impressions={"v": 1})]}], "typed") == [
        ("type", "metrics.impressions")
    ]
    assert check([{"results": [google_result(clicks=...)]}], "gone") == [
        ("missing", "metrics.clicks")
    ]


def test_a_page_that_is_the_record(tmp_path: Path) -> None:
    account = {"id": 5, "name": "A", "currency": "EUR", "status": "ACTIVE", "type": "BUSINESS"}
    ok = land(tmp_path, "linkedin_ads", "ad_accounts", [json.dumps(account | {"version": {}})])
    assert check_manifests(ACCOUNTS, [ok]).ok
    assert check_manifests(ACCOUNTS, [ok]).new_fields == {}  # known, deliberately not loaded
    empty = land(tmp_path / "e", "linkedin_ads", "ad_accounts", ["{}"])
    assert {p.field for p in check_manifests(ACCOUNTS, [empty]).problems} == {
        "id",
        "name",
        "currency",
        "status",
        "type",
    }


def test_csv_headers(tmp_path: Path) -> None:
    header = "KEY,FREQ,CURRENCY,CURRENCY_DENOM,EXR_TYPE,EXR_SUFFIX,TIME_PERIOD,OBS_VALUE,OBS_STATUS"
    row = "EXR.D.USD.EUR.SP00.A,D,USD,EUR,SP00,A,2026-09-01,1.1,A"

    def check(text: str, name: str) -> drift.DriftReport:
        manifest = land(tmp_path / name, "ecb_fx", "rates", [text], suffix=".csv")
        return check_manifests(RATES, [manifest])

    assert check(f"{header},TITLE\r\n{row},x\r\n", "ok").ok
    assert check("Date,USD,JPY,\n2026-09-01,1.1,160\n", "hist").ok
    missing = check(f"{header.replace(',OBS_VALUE', '')}\n", "missing")
    assert [(p.kind, p.field) for p in missing.problems] == [("missing", "OBS_VALUE")]
    headless = check(f"{row}\n", "headless")
    assert [(p.kind, p.field) for p in headless.problems] == [("records_key", "(header)")]
    assert "EXR.D.USD" in headless.problems[0].example
    extra = check(f"{header},NEW_COLUMN\n{row},1\n", "extra")
    assert extra.ok and extra.new_fields == {"NEW_COLUMN": 1}


def test_examples_are_redacted_and_short() -> None:
    record = {
        "id": "1",
        "properties": {"email": "ada@example.com", "firstname": "Ada", "note": "x" * 500},
        "next": "https://x/?access_token=SECRET123",
    }
    text = drift.example_text(record)
    assert "ada@example.com" not in text and "Ada" not in text and "SECRET123" not in text
    assert len(text) <= drift.EXAMPLE_CHARS


def test_batches_from_manifests_checks_every_table_before_flattening(tmp_path: Path) -> None:
    good = land(tmp_path / "g", "meta_ads", "insights", [json.dumps({"data": [insight()]})])
    bad = land(tmp_path / "b", "hubspot", "deals", [json.dumps({"results": [deal(amount=...)]})])
    with pytest.raises(SchemaDriftError) as failure:
        raw.batches_from_manifests([good, bad], TABLES)
    assert [(p.source, p.entity, p.field) for p in failure.value.problems] == [
        ("hubspot", "deals", "properties.amount")
    ]
    extra = land(tmp_path / "x", "meta_ads", "insights", [json.dumps({"data": [insight(new="1")]})])
    (batch,) = raw.batches_from_manifests([extra], TABLES)
    assert "new (1)" in batch.schema_warnings[0]
    assert "new" not in batch.frame.columns  # the raw table keeps its declared columns


# --------------------------------------------------------------------------- the stand-in hook


def test_drift_mutates_nested_records_streams_and_csv() -> None:
    page = {"results": [deal()], "paging": {}}
    renamed = ResponseDrift("/", "rename", "properties.amount", to="amount_v2").apply_json(page)
    assert "amount" not in renamed["results"][0]["properties"]
    assert renamed["results"][0]["properties"]["amount_v2"] == "1500.00"
    assert page["results"][0]["properties"]["amount"] == "1500.00"  # the original is kept
    stream = [{"results": [google_result()]}, {"results": [google_result()]}]
    retyped = ResponseDrift("/", "retype", "metrics.impressions").apply_json(stream)
    assert [b["results"][0]["metrics"]["impressions"] for b in retyped] == [{"value": "10"}] * 2
    dropped = ResponseDrift("/", "drop_records", records_key="results").apply_json(stream)
    assert dropped == [{}, {}]
    assert ResponseDrift("/", "drop_records", records_key="").apply_json({"id": 1}) == {}
    assert ResponseDrift("/", "drop_records", records_key="records").apply_json(
        {"access_token": "t"}
    ) == {"access_token": "t"}  # not a records page (an OAuth token): untouched
    added = ResponseDrift("/", "add", "properties.x", value=1).apply_json(page)
    assert added["results"][0]["properties"]["x"] == 1
    csv_text = "A,B\r\n1,2\r\n"
    assert ResponseDrift("/", "rename", "B", to="C").apply_csv(csv_text) == "A,C\r\n1,2\r\n"
    assert ResponseDrift("/", "remove", "A").apply_csv(csv_text) == "B\r\n2\r\n"
    assert ResponseDrift("/", "drop_records").apply_csv(csv_text) == "1,2\r\n"
    assert ResponseDrift("/", "add", "D", value="x").apply_csv(csv_text) == "A,B,D\r\n1,2,x\r\n"
    with pytest.raises(ValueError):
        ResponseDrift("/", "rename", "A")
    # only the pages whose records have the marker field drift (associations, not deals)
    links = {"results": [{"from": {"id": "1"}, "to": []}]}
    only_links = ResponseDrift("/", "drop_records", records_key="results", only_records_with="from")
    assert only_links.apply_json(page) == page
    assert only_links.apply_json(links) == {}
    # a whole-page record never turns a list page into a record
    root = ResponseDrift("/", "remove", "name", records_key="")
    assert root.apply_json({"elements": [{"name": "x"}]}) == {"elements": [{"name": "x"}]}
    assert root.apply_json({"id": 1, "name": "x"}) == {"id": 1}
    assert drift_from_dict({"path_prefix": "/v", "action": "remove", "field": "a"}).field == "a"


def test_drift_over_real_http_and_the_control_plane() -> None:
    import requests

    from reach2revenue.sandbox.standins import start_standins
    from reach2revenue.sandbox.world import World

    world = World.generate(seed=11, days=1, scale=0.1)
    with start_standins(world, token="t", rate_limits=False) as servers:
        hubspot = servers.hubspot
        url = f"{hubspot.url}/crm/v3/objects/deals"
        headers = {"Authorization": "Bearer t"}
        params = {"properties": "amount,dealname"}
        before = requests.get(url, params=params, headers=headers, timeout=5).json()
        assert all("amount" in r["properties"] for r in before["results"])
        control = f"{hubspot.url}/__standin/drift"
        body = {
            "path_prefix": "/crm/v3/objects/deals",
            "action": "remove",
            "field": "properties.amount",
        }
        assert requests.post(control, json=body, headers=headers, timeout=5).status_code == 200
        after = requests.get(url, params=params, headers=headers, timeout=5).json()
        assert after["results"] and all("amount" not in r["properties"] for r in after["results"])
        assert requests.get(control, headers=headers, timeout=5).json()["drifts"][0]["field"] == (
            "properties.amount"
        )
        requests.delete(control, headers=headers, timeout=5)
        again = requests.get(url, params=params, headers=headers, timeout=5).json()
        assert again == before

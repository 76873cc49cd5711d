"""Tests for reach2revenue.quality: GX suites on raw batches before merge.

Great Expectations is imported once for this module (by the ``gx_warm`` fixture, which
also measures the import and the first validation); every other test reuses the cached
context.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from reach2revenue import quality
from reach2revenue.contracts import LINEAGE_COLUMNS
from reach2revenue.quality import DataQualityError, ValidationReport, validate_batch
from reach2revenue.settings import REPO_ROOT, Settings
from reach2revenue.sources import raw_tables

TABLES = raw_tables()
EXPECTATIONS_DIR = REPO_ROOT / "expectations"
LANDED = "landing/{source}/{entity}/date={day}/ext-1/page-00001.json"

TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def settings() -> Settings:
    """Settings pointing at the repository's suites, whatever the environment says."""
    return dataclasses.replace(Settings.from_env(), expectations_dir=EXPECTATIONS_DIR)


# --------------------------------------------------------------------------- batches


def insights_row(**overrides: Any) -> dict[str, Any]:
    """One valid Meta insights raw row (strings, as the API sends them)."""
    row = {
        "account_id": "1000001",
        "account_currency": "USD",
        "campaign_id": "120200000001",
        "campaign_name": "Brand_US",
        "date_start": "2024-03-01",
        "date_stop": "2024-03-01",
        "country": "US",
        "impressions": "4000",
        "reach": "3100",
        "clicks": "80",
        "spend": "12.34",
        "actions": '[{"action_type": "link_click", "value": "75"}]',
        "_landed_file": LANDED.format(source="meta_ads", entity="insights", day="2024-03-01"),
        "_extraction_id": "1000001-20240302T010000Z",
    }
    row.update(overrides)
    if "date_start" in overrides and "date_stop" not in overrides:
        row["date_stop"] = overrides["date_start"]
    return row


def contacts_row(**overrides: Any) -> dict[str, Any]:
    """One valid HubSpot contact raw row; personal values are easy to search for."""
    row = {
        "id": "100451",
        "email": "ada.lovelace@example.org",
        "firstname": "Adelheid",
        "lastname": "Lovelacewitz",
        "country": "Germany",
        "hs_analytics_source": "PAID_SOCIAL",
        "utm_source": "facebook",
        "utm_medium": "paid_social",
        "utm_campaign": "brand_de",
        "createdate": "2024-02-01T09:30:00.123Z",
        "lastmodifieddate": "2024-03-15T12:01:02.345Z",
        "created_at": "2024-02-01T09:30:00.123Z",
        "updated_at": "2024-03-15T12:01:02.345Z",
        "archived": "false",
        "_landed_file": LANDED.format(source="hubspot", entity="contacts", day="2024-03-15"),
        "_extraction_id": "contacts-20240316T010000Z",
    }
    row.update(overrides)
    return row


def deals_row(**overrides: Any) -> dict[str, Any]:
    """One valid HubSpot deal raw row."""
    row = {
        "id": "500123",
        "dealname": "Acme renewal",
        "amount": "1500.00",
        "deal_currency_code": "EUR",
        "dealstage": "closedwon",
        "pipeline": "default",
        "closedate": "2024-03-15T12:00:00Z",
        "createdate": "2024-02-01T09:30:00.123Z",
        "hs_lastmodifieddate": "2024-03-15T12:01:02.345Z",
        "created_at": "2024-02-01T09:30:00.123Z",
        "updated_at": "2024-03-15T12:01:02.345Z",
        "archived": "false",
        "_landed_file": LANDED.format(source="hubspot", entity="deals", day="2024-03-15"),
        "_extraction_id": "deals-20240316T010000Z",
    }
    row.update(overrides)
    return row


def deal_contacts_row(**overrides: Any) -> dict[str, Any]:
    """One valid HubSpot deal-contact association raw row."""
    row = {
        "deal_id": "500123",
        "contact_id": "100451",
        "association_type_id": "3",
        "_landed_file": LANDED.format(source="hubspot", entity="deal_contacts", day="2024-03-15"),
        "_extraction_id": "deal_contacts-20240316T010000Z",
    }
    row.update(overrides)
    return row


def ecb_rates_row(**overrides: Any) -> dict[str, Any]:
    """One ECB observation as the SDMX-CSV columns hold it."""
    currency = overrides.get("currency", "USD")
    row = {
        "key": f"EXR.D.{currency}.EUR.SP00.A",
        "freq": "D",
        "currency": currency,
        "currency_denom": "EUR",
        "exr_type": "SP00",
        "exr_suffix": "A",
        "time_period": "2024-03-01",
        "obs_value": "1.0856",
        "obs_status": "A",
        "_landed_file": LANDED.format(source="ecb_fx", entity="rates", day="2024-03-01"),
        "_extraction_id": "ecb-20240302T010000Z",
    }
    row.update(overrides)
    return row


def rate_overrides_row(**overrides: Any) -> dict[str, Any]:
    """One line of the user's FX override file."""
    row = {
        "currency_code": "AED",
        "rate_date": "2024-03-01",
        "units_per_eur": "3.9870",
        "_landed_file": LANDED.format(source="ecb_fx", entity="rate_overrides", day="2024-03-01"),
        "_extraction_id": "overrides-20240302T010000Z",
    }
    row.update(overrides)
    return row


ROW_BUILDERS = {
    ("meta_ads", "insights"): insights_row,
    ("hubspot", "contacts"): contacts_row,
    ("hubspot", "deals"): deals_row,
    ("hubspot", "deal_contacts"): deal_contacts_row,
    ("ecb_fx", "rates"): ecb_rates_row,
    ("ecb_fx", "rate_overrides"): rate_overrides_row,
}


def good_batch(source: str, entity: str, rows: int = 3) -> pd.DataFrame:
    """A valid batch of ``rows`` distinct rows for any entity."""
    build = ROW_BUILDERS[(source, entity)]
    records = []
    for i in range(rows):
        if entity == "insights":
            records.append(build(campaign_id=str(120200000001 + i)))
        elif entity == "deal_contacts":
            records.append(build(contact_id=str(100451 + i)))
        elif entity == "contacts":
            records.append(build(id=str(100451 + i), email=f"person{i}@example.org"))
        elif entity == "rates":
            records.append(build(currency=["USD", "PLN", "INR"][i % 3]))
        elif entity == "rate_overrides":
            records.append(build(rate_date=f"2024-03-{i + 1:02d}"))
        else:
            records.append(build(id=str(500123 + i)))
    return pd.DataFrame(records)


def empty_batch(source: str, entity: str) -> pd.DataFrame:
    """A batch with the right columns and no rows."""
    return pd.DataFrame(columns=list(ROW_BUILDERS[(source, entity)]().keys()), dtype=object)


def insights_batch(rows: int, day: str = "2024-03-01") -> pd.DataFrame:
    """``rows`` valid insights rows of one day (distinct campaigns and countries)."""
    countries = ["US", "DE", "FR", "GB", "CH", "AT", "NL", "BE", "IT", "ES"]
    return pd.DataFrame(
        [
            insights_row(
                campaign_id=str(120200000000 + i // len(countries)),
                country=countries[i % len(countries)],
                spend=f"{(i % 997) * 1.37:.2f}",
                date_start=day,
            )
            for i in range(rows)
        ]
    )


def failure_for(error: DataQualityError, expectation_type: str, column: str | None) -> Any:
    """Return the report's failure of that expectation on that column."""
    for failure in error.report.failures:
        if failure.expectation_type == expectation_type and failure.column == column:
            return failure
    raise AssertionError(
        f"no failure {expectation_type} on {column}: "
        f"{[(f.expectation_type, f.column) for f in error.report.failures]}"
    )


def suite_document(source: str, entity: str) -> dict[str, Any]:
    """The suite file's JSON."""
    return json.loads((EXPECTATIONS_DIR / f"{source}__{entity}.json").read_text())


# --------------------------------------------------------------------------- GX once


@dataclasses.dataclass
class Warm:
    """What the first validation of this module showed."""

    imported_here: bool
    gx_records: list[logging.LogRecord]
    stderr: str


@pytest.fixture(scope="module")
def gx_warm(settings: Settings) -> Iterator[Warm]:
    """Import GX once (through the first validation), timing it and capturing its noise."""
    imported_here = "great_expectations" not in sys.modules
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.name.startswith("great_expectations"):
                records.append(record)

    root = logging.getLogger()
    handler, old_level = Collect(level=logging.DEBUG), root.level
    root.addHandler(handler)
    # Anything GX logs below WARNING would now reach the handler unless quietened.
    root.setLevel(logging.DEBUG)
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            started = time.perf_counter()
            quality._import_gx()
            TIMINGS["import"] = time.perf_counter() - started
            started = time.perf_counter()
            validate_batch(
                "meta_ads",
                "insights",
                good_batch("meta_ads", "insights"),
                label="warm-up",
                settings=settings,
            )
            TIMINGS["first_validation"] = time.perf_counter() - started
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    yield Warm(imported_here=imported_here, gx_records=records, stderr=stderr.getvalue())


# --------------------------------------------------------------------------- suites (no GX)


def test_module_import_does_not_import_great_expectations() -> None:
    code = "import sys, reach2revenue.quality; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_raw_table_has_a_matching_suite(settings: Settings) -> None:
    assert quality.check_suites_cover_raw_schema(TABLES.values(), settings) == []
    assert sorted(quality.list_suites(settings)) == sorted(TABLES)
    assert set(ROW_BUILDERS) <= set(TABLES)


def test_raw_schema_check_reports_a_missing_suite(settings: Settings, tmp_path: Path) -> None:
    for source, entity in quality.list_suites(settings):
        if entity != "deals":
            path = quality.suite_path(source, entity, settings)
            (tmp_path / path.name).write_text(path.read_text())
    problems = quality.check_suites_cover_raw_schema(
        TABLES.values(), dataclasses.replace(settings, expectations_dir=tmp_path)
    )
    assert len(problems) == 1 and "raw.hubspot_deals has no suite" in problems[0]


def test_the_registry_prints_every_raw_table() -> None:
    from reach2revenue.sources.__main__ import markdown

    printed = markdown()
    for table in TABLES.values():
        assert f"`{table.qualified_name}`" in printed


def test_suite_path_and_missing_suite(settings: Settings) -> None:
    assert quality.suite_path("hubspot", "deals", settings) == EXPECTATIONS_DIR / (
        "hubspot__deals.json"
    )
    with pytest.raises(FileNotFoundError, match="google_ads/campaigns"):
        quality.load_suite_document("google_ads", "campaigns", settings)


def test_accepted_codes_come_from_reference_data_not_the_suites() -> None:
    """No closed list in a suite: currency and country sets are named, and filled from
    maintained data (ISO 4217 with former codes; ISO 3166-1 plus Meta's 'unknown')."""
    from reach2revenue.reference.value_sets import value_set

    references = {}
    for source, entity in ROW_BUILDERS:
        for expectation in suite_document(source, entity)["expectations"]:
            name = quality.value_set_reference(expectation)
            if name is not None:
                assert expectation["kwargs"]["value_set"] == [], (source, entity)
                references[(source, entity, expectation["kwargs"]["column"])] = name
    assert references == {
        ("meta_ads", "insights", "account_currency"): "iso_4217",
        ("meta_ads", "insights", "country"): "meta_country_breakdown",
        ("hubspot", "deals", "deal_currency_code"): "iso_4217",
        ("ecb_fx", "rates", "currency"): "iso_4217",
        ("ecb_fx", "rate_overrides", "currency_code"): "iso_4217",
    }
    currencies = value_set("iso_4217")
    assert {"PLN", "SEK", "NOK", "CZK", "HUF", "RON", "DKK", "INR", "BRL", "ZAR"} <= currencies
    assert {"BGN", "HRK", "DEM", "KES", "AED"} <= currencies  # former and non-ECB codes too
    assert len(currencies) > 250 and not {"EURO", "usd", "XYZ"} & currencies
    countries = value_set("meta_country_breakdown")
    assert len(countries) == 250 and {"PL", "BR", "IN", "unknown"} <= countries
    resolved = quality.resolve_value_sets(suite_document("hubspot", "deals"))
    [deal_currencies] = [
        e["kwargs"]["value_set"]
        for e in resolved["expectations"]
        if quality.value_set_reference(e) is not None
    ]
    assert set(deal_currencies) == currencies


def test_suites_naming_an_unknown_value_set_are_reported(
    settings: Settings, tmp_path: Path
) -> None:
    for path in EXPECTATIONS_DIR.glob("*.json"):
        (tmp_path / path.name).write_text(path.read_text())
    document = suite_document("hubspot", "deals")
    for expectation in document["expectations"]:
        if quality.value_set_reference(expectation):
            expectation["meta"]["reach2revenue"]["value_set_from"] = "iso_4217_typo"
    (tmp_path / "hubspot__deals.json").write_text(json.dumps(document))
    problems = quality.check_suites_cover_raw_schema(
        TABLES.values(), dataclasses.replace(settings, expectations_dir=tmp_path)
    )
    assert problems == [
        "hubspot__deals.json: deal_currency_code takes its value_set from unknown set "
        "'iso_4217_typo'"
    ]


# --------------------------------------------------------------------------- GX runs


def test_suites_load_as_gx_expectation_suites(gx_warm: Warm) -> None:
    import great_expectations as gx

    for source, entity in ROW_BUILDERS:
        document = suite_document(source, entity)
        suite = gx.ExpectationSuite(**document)
        assert suite.name == f"{source}__{entity}"
        assert len(suite.expectations) == len(document["expectations"]) >= 10


@pytest.mark.parametrize(("source", "entity"), list(ROW_BUILDERS))
def test_good_batch_passes(gx_warm: Warm, settings: Settings, source: str, entity: str) -> None:
    report = validate_batch(
        source, entity, good_batch(source, entity), label="ok", settings=settings
    )
    assert isinstance(report, ValidationReport)
    assert report.success and report.failures == []
    assert report.row_count == 3
    assert report.evaluated_expectations == len(suite_document(source, entity)["expectations"])
    assert report.successful_expectations == report.evaluated_expectations
    json.dumps(report.to_dict())


def test_good_batch_with_optional_nulls_passes(gx_warm: Warm, settings: Settings) -> None:
    insights = pd.DataFrame(
        [insights_row(actions=None, reach=None, campaign_name=None), insights_row(country="DE")]
    )
    report = validate_batch("meta_ads", "insights", insights, label="nulls", settings=settings)
    assert (report.success, report.row_count, report.failures) == (True, 2, [])
    assert report.successful_expectations == report.evaluated_expectations > 0
    open_deal = pd.DataFrame(
        [deals_row(amount=None, closedate=None, dealstage="appointmentscheduled")]
    )
    report = validate_batch("hubspot", "deals", open_deal, label="open deal", settings=settings)
    assert (report.success, report.row_count, report.failures) == (True, 1, [])
    assert report.successful_expectations == report.evaluated_expectations > 0


@pytest.mark.parametrize("spend", ["-5.00", "abc", "", "1,50", "12.34 "])
def test_bad_spend_fails_naming_expectation_column_date_and_landed_file(
    gx_warm: Warm, settings: Settings, spend: str
) -> None:
    bad_file = LANDED.format(source="meta_ads", entity="insights", day="2024-03-02")
    frame = pd.DataFrame(
        [
            insights_row(),
            insights_row(date_start="2024-03-02", country="DE", spend=spend, _landed_file=bad_file),
        ]
    )
    label = "meta_ads/insights 2024-03-01..2024-03-03 account 1000001"
    with pytest.raises(DataQualityError) as caught:
        validate_batch("meta_ads", "insights", frame, label=label, settings=settings)

    failure = failure_for(caught.value, "expect_column_values_to_match_regex", "spend")
    assert failure.unexpected_count == 1
    assert failure.dates == ["2024-03-02"]
    assert failure.examples == [
        {
            "account_id": "1000001",
            "campaign_id": "120200000001",
            "date_start": "2024-03-02",
            "country": "DE",
            "spend": spend,
            "_landed_file": bad_file,
        }
    ]
    message = str(caught.value)
    for needle in (
        "meta_ads/insights",
        label,
        "expect_column_values_to_match_regex",
        "'spend'",
        "^[0-9]+(?:\\.[0-9]+)?$",
        "1 of 2 rows unexpected",
        "2024-03-02",
        bad_file,
    ):
        assert needle in message, f"{needle!r} missing from:\n{message}"
    assert len(caught.value.report.failures) == 1
    assert not caught.value.report.success


def test_null_spend_fails(gx_warm: Warm, settings: Settings) -> None:
    frame = pd.DataFrame([insights_row(spend=None)])
    with pytest.raises(DataQualityError) as caught:
        validate_batch("meta_ads", "insights", frame, label="null spend", settings=settings)
    assert failure_for(caught.value, "expect_column_values_to_not_be_null", "spend")


def test_missing_key_fails(gx_warm: Warm, settings: Settings) -> None:
    frame = pd.DataFrame([contacts_row(), contacts_row(id=None, email="x@example.org")])
    with pytest.raises(DataQualityError) as caught:
        validate_batch("hubspot", "contacts", frame, label="contacts window", settings=settings)
    failure = failure_for(caught.value, "expect_column_values_to_not_be_null", "id")
    assert failure.unexpected_count == 1
    assert failure.examples[0]["id"] is None
    assert failure.dates == ["2024-03-15"]
    assert "lastmodifieddate day(s): 2024-03-15" in str(caught.value)


def test_duplicate_compound_key_fails(gx_warm: Warm, settings: Settings) -> None:
    frame = pd.DataFrame([insights_row(), insights_row(spend="1.00"), insights_row(country="DE")])
    with pytest.raises(DataQualityError) as caught:
        validate_batch("meta_ads", "insights", frame, label="dupes", settings=settings)
    failure = failure_for(
        caught.value,
        "expect_compound_columns_to_be_unique",
        "account_id, campaign_id, date_start, country",
    )
    assert failure.unexpected_count == 2
    assert len(failure.examples) == 2
    assert failure.examples[0] == failure.examples[1]
    assert set(failure.examples[0]) == {
        "account_id",
        "campaign_id",
        "date_start",
        "country",
        "_landed_file",
    }
    assert len(caught.value.report.failures) == 1


def test_duplicate_deal_contact_pair_fails(gx_warm: Warm, settings: Settings) -> None:
    frame = pd.DataFrame([deal_contacts_row(), deal_contacts_row()])
    with pytest.raises(DataQualityError) as caught:
        validate_batch("hubspot", "deal_contacts", frame, label="assoc", settings=settings)
    failure = failure_for(
        caught.value, "expect_compound_columns_to_be_unique", "deal_id, contact_id"
    )
    assert failure.dates == []  # deal_contacts has no date column
    assert "no parseable" not in str(caught.value)


@pytest.mark.parametrize(
    ("source", "entity", "column"),
    [("hubspot", "deals", "deal_currency_code"), ("meta_ads", "insights", "account_currency")],
)
def test_invalid_currency_fails_naming_it(
    gx_warm: Warm, settings: Settings, source: str, entity: str, column: str
) -> None:
    frame = pd.DataFrame([ROW_BUILDERS[(source, entity)](**{column: "XYZ"})])
    with pytest.raises(DataQualityError) as caught:
        validate_batch(source, entity, frame, label="currency", settings=settings)
    failure = failure_for(caught.value, "expect_column_values_to_be_in_set", column)
    assert failure.examples[0][column] == "XYZ"
    message = str(caught.value)
    assert f"{column}='XYZ'" in message
    # the reference set is summarised, not printed code by code
    assert "value_set='<" in message and "accepted values>'" in message and "'PLN'" not in message


@pytest.mark.parametrize("currency", ["SEK", "PLN", "INR", "BRL", "ZAR", "KES", "BGN", "HRK"])
def test_any_real_currency_passes(gx_warm: Warm, settings: Settings, currency: str) -> None:
    """Real ISO 4217 codes pass whether or not a rate exists: conversion is not validation."""
    frame = pd.DataFrame([deals_row(deal_currency_code=currency)])
    assert validate_batch("hubspot", "deals", frame, label="ok", settings=settings).success
    frame = pd.DataFrame([insights_row(account_currency=currency)])
    assert validate_batch("meta_ads", "insights", frame, label="ok", settings=settings).success


def test_meta_unknown_country_passes(gx_warm: Warm, settings: Settings) -> None:
    frame = pd.DataFrame([insights_row(country="unknown"), insights_row(country="PL")])
    report = validate_batch("meta_ads", "insights", frame, label="unknown", settings=settings)
    assert report.success


@pytest.mark.parametrize(
    ("overrides", "expectation_type", "column"),
    [
        ({"currency": "XYZ"}, "expect_column_values_to_be_in_set", "currency"),
        ({"currency_denom": "USD"}, "expect_column_values_to_be_in_set", "currency_denom"),
        ({"obs_value": "NaN"}, "expect_column_values_to_match_regex", "obs_value"),
        ({"obs_value": "0"}, "expect_column_values_to_not_match_regex", "obs_value"),
        ({"time_period": "2024-03"}, "expect_column_values_to_match_regex", "time_period"),
    ],
)
def test_ecb_rate_defects_fail(
    gx_warm: Warm, settings: Settings, overrides: dict[str, Any], expectation_type: str, column: str
) -> None:
    frame = pd.DataFrame(
        [ecb_rates_row(currency="JPY", obs_value="155.72"), ecb_rates_row(**overrides)]
    )
    with pytest.raises(DataQualityError) as caught:
        validate_batch("ecb_fx", "rates", frame, label="rates", settings=settings)
    assert failure_for(caught.value, expectation_type, column).unexpected_count == 1


def test_empty_fx_batches_pass(gx_warm: Warm, settings: Settings) -> None:
    """A weekend has no rates, and a missing override file means no overrides."""
    for entity in ("rates", "rate_overrides"):
        report = validate_batch(
            "ecb_fx", entity, empty_batch("ecb_fx", entity), label="none", settings=settings
        )
        assert report.success and report.row_count == 0


@pytest.mark.parametrize(
    ("source", "entity"),
    [("meta_ads", "insights"), ("hubspot", "contacts"), ("hubspot", "deals")],
)
def test_quiet_batches_pass(gx_warm: Warm, settings: Settings, source: str, entity: str) -> None:
    """No delivery, no CRM change: zero rows is valid (the volume check judges sizes)."""
    report = validate_batch(
        source, entity, empty_batch(source, entity), label="quiet", settings=settings
    )
    assert report.success and report.row_count == 0


def test_empty_linkedin_accounts_batch_fails_on_row_count(
    gx_warm: Warm, settings: Settings
) -> None:
    """The configured accounts are always answered: none at all means nothing was asked."""
    with pytest.raises(DataQualityError) as caught:
        validate_batch(
            "linkedin_ads",
            "ad_accounts",
            pd.DataFrame(
                columns=[*TABLES[("linkedin_ads", "ad_accounts")].columns, *LINEAGE_COLUMNS],
                dtype=object,
            ),
            label="empty",
            settings=settings,
        )
    [failure] = caught.value.report.failures
    assert failure.expectation_type == "expect_table_row_count_to_be_between"
    assert failure.observed_value == 0
    assert "expect_table_row_count_to_be_between (min_value=1): observed 0" in str(caught.value)


def test_empty_deal_contacts_batch_passes(gx_warm: Warm, settings: Settings) -> None:
    report = validate_batch(
        "hubspot",
        "deal_contacts",
        empty_batch("hubspot", "deal_contacts"),
        label="none",
        settings=settings,
    )
    assert report.success and report.row_count == 0


def test_missing_and_extra_columns_fail(gx_warm: Warm, settings: Settings) -> None:
    frame = good_batch("hubspot", "deals").drop(columns=["amount"]).assign(hs_object_id="1")
    with pytest.raises(DataQualityError) as caught:
        validate_batch("hubspot", "deals", frame, label="schema drift", settings=settings)
    failure = failure_for(caught.value, "expect_table_columns_to_match_set", None)
    assert failure.details == {
        "mismatched": {"unexpected": ["hs_object_id"], "missing": ["amount"]}
    }
    # The regex on the missing column cannot run: reported, not crashed.
    amount = failure_for(caught.value, "expect_column_values_to_match_regex", "amount")
    assert amount.error is not None
    message = str(caught.value)
    assert "missing columns ['amount']" in message
    assert "unexpected columns ['hs_object_id']" in message
    assert "could not be evaluated" in message


@pytest.mark.parametrize(
    ("overrides", "expectation_type", "column"),
    [
        (
            {"date_start": "2024-02-30"},
            "expect_column_values_to_match_strftime_format",
            "date_start",
        ),
        (
            {"date_stop": "2024-03-02"},
            "expect_column_pair_values_to_be_equal",
            "date_start, date_stop",
        ),
        ({"country": "Germany"}, "expect_column_values_to_be_in_set", "country"),
        ({"clicks": "-1"}, "expect_column_values_to_match_regex", "clicks"),
        ({"impressions": "4000.0"}, "expect_column_values_to_match_regex", "impressions"),
        # Metrics Meta always sends: a null is a field gone from the response.
        ({"impressions": None}, "expect_column_values_to_not_be_null", "impressions"),
        ({"clicks": None}, "expect_column_values_to_not_be_null", "clicks"),
        (
            {"actions": "[{'action_type': 'lead'}]"},
            "expect_column_values_to_be_json_parseable",
            "actions",
        ),
        ({"_landed_file": None}, "expect_column_values_to_not_be_null", "_landed_file"),
    ],
)
def test_other_insights_defects_fail(
    gx_warm: Warm, settings: Settings, overrides: dict[str, Any], expectation_type: str, column: str
) -> None:
    frame = pd.DataFrame([insights_row(country="FR"), insights_row(**overrides)])
    with pytest.raises(DataQualityError) as caught:
        validate_batch("meta_ads", "insights", frame, label="defect", settings=settings)
    assert failure_for(caught.value, expectation_type, column).unexpected_count == 1


@pytest.mark.parametrize(
    ("overrides", "column"),
    [
        ({"hs_lastmodifieddate": "2024-03-15 12:01:02"}, "hs_lastmodifieddate"),
        ({"closedate": "15/03/2024"}, "closedate"),
        ({"amount": "-100.00"}, "amount"),
        ({"id": "500123.0"}, "id"),
        ({"archived": "no"}, "archived"),
        ({"archived": "False"}, "archived"),  # str(bool), not the API's JSON text
    ],
)
def test_deal_defects_fail(
    gx_warm: Warm, settings: Settings, overrides: dict[str, Any], column: str
) -> None:
    frame = pd.DataFrame([deals_row(id="1"), deals_row(**overrides)])
    with pytest.raises(DataQualityError) as caught:
        validate_batch("hubspot", "deals", frame, label="deals", settings=settings)
    failure = failure_for(caught.value, "expect_column_values_to_match_regex", column)
    assert failure.unexpected_count == 1
    assert failure.examples[0]["_landed_file"].endswith("page-00001.json")


def test_personal_values_never_appear_in_messages_or_reports(
    gx_warm: Warm, settings: Settings
) -> None:
    frame = pd.DataFrame(
        [
            contacts_row(),
            contacts_row(
                email="grace.hopper@example.org", firstname="Gracia", lastname="Hopperstein"
            ),
            contacts_row(
                id=None, email="alan.turing@example.org", firstname="Alanus", lastname="Turingham"
            ),
            contacts_row(id="7", lastmodifieddate="yesterday", email="x.y@example.org"),
        ]
    )
    with pytest.raises(DataQualityError) as caught:
        validate_batch("hubspot", "contacts", frame, label="contacts", settings=settings)
    exposed = str(caught.value) + json.dumps(caught.value.report.to_dict())
    for row in frame.to_dict("records"):
        for column in ("email", "firstname", "lastname"):
            assert row[column] not in exposed
    assert "@" not in exposed


def test_personal_column_as_offending_column_is_masked(
    gx_warm: Warm, settings: Settings, tmp_path: Path
) -> None:
    # A suite that does check e-mail addresses: the offending value itself must be masked.
    document = suite_document("hubspot", "contacts")
    document["expectations"].append(
        {
            "type": "expect_column_values_to_match_regex",
            "kwargs": {"column": "email", "regex": "^[^@]+@[^@]+$"},
        }
    )
    (tmp_path / "hubspot__contacts.json").write_text(json.dumps(document))
    frame = pd.DataFrame([contacts_row(email="not-an-address.example.org")])
    with pytest.raises(DataQualityError) as caught:
        validate_batch(
            "hubspot",
            "contacts",
            frame,
            label="masked",
            settings=dataclasses.replace(settings, expectations_dir=tmp_path),
        )
    failure = failure_for(caught.value, "expect_column_values_to_match_regex", "email")
    assert failure.examples[0]["email"] == quality.MASK
    assert "not-an-address" not in str(caught.value) + json.dumps(caught.value.report.to_dict())


def test_edited_suite_is_reloaded(gx_warm: Warm, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "hubspot__deal_contacts.json"
    document = suite_document("hubspot", "deal_contacts")
    path.write_text(json.dumps(document))
    tmp_settings = dataclasses.replace(settings, expectations_dir=tmp_path)
    frame = empty_batch("hubspot", "deal_contacts")
    validate_batch("hubspot", "deal_contacts", frame, label="before", settings=tmp_settings)
    for expectation in document["expectations"]:
        if expectation["type"] == "expect_table_row_count_to_be_between":
            expectation["kwargs"]["min_value"] = 1
    path.write_text(json.dumps(document, indent=1))  # another size: a new cache stamp
    with pytest.raises(DataQualityError):
        validate_batch("hubspot", "deal_contacts", frame, label="after", settings=tmp_settings)


def test_report_to_dict_is_json(gx_warm: Warm, settings: Settings) -> None:
    frame = pd.DataFrame(
        [insights_row(spend="-1"), insights_row(country="DE", account_currency="XYZ")]
    )
    with pytest.raises(DataQualityError) as caught:
        validate_batch("meta_ads", "insights", frame, label="json", settings=settings)
    data = json.loads(json.dumps(caught.value.report.to_dict()))
    assert data["success"] is False and data["row_count"] == 2
    assert {f["column"] for f in data["failures"]} == {"spend", "account_currency"}
    assert data["batch_dates"] == ["2024-03-01"]
    assert data["elapsed_seconds"] > 0


def test_first_validation_is_quiet(gx_warm: Warm) -> None:
    noisy = [r.getMessage() for r in gx_warm.gx_records if r.levelno < logging.WARNING]
    assert noisy == [], noisy[:5]
    assert "Calculating Metrics" not in gx_warm.stderr
    assert "Skipping registering" not in gx_warm.stderr


def test_timings(gx_warm: Warm, settings: Settings, record_property: Any) -> None:
    """Measure the cached path: 5,000 insights rows, several times."""
    frame = insights_batch(5000)
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        report = validate_batch("meta_ads", "insights", frame, label="5k", settings=settings)
        runs.append(time.perf_counter() - started)
    assert report.row_count == 5000
    small = []
    for source, entity in ROW_BUILDERS:
        started = time.perf_counter()
        validate_batch(source, entity, good_batch(source, entity), label="small", settings=settings)
        small.append(time.perf_counter() - started)
    bad = frame.assign(spend="-1.00")
    started = time.perf_counter()
    with pytest.raises(DataQualityError):
        validate_batch("meta_ads", "insights", bad, label="5k all bad", settings=settings)
    failing = time.perf_counter() - started

    TIMINGS["next_5000_rows"] = min(runs)
    TIMINGS["next_small_batch"] = max(small)
    TIMINGS["failing_5000_rows"] = failing
    line = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in TIMINGS.items())
    print(f"\nGX timings (GX imported by this module: {gx_warm.imported_here}): {line}")
    for name, seconds in TIMINGS.items():
        record_property(f"seconds_{name}", round(seconds, 3))
    # Recorded, not asserted: speed is measured by the bench command, not by tests.
    assert report.success
    assert max(small) < 2.0

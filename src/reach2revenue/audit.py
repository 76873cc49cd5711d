"""Audit the built warehouse against raw before anything is published.

dbt's tests check each model against rules; this audit checks the numbers analysts see
against what the platforms sent, recomputed from the raw tables without the models' SQL
(only the FX intervals of ``int_fx_rates_spanned_to_intervals`` are shared). Checks:

``ad_spend_per_platform_account_day``
    Spend per ad platform, account and report day in the reporting currency
    (``int_ad_reports_converted_to_reporting_currency``) equals each raw row's spend
    converted at that day's rates, and the rows without a usable rate are the same ones.
``ad_spend_per_day``
    The mart's spend summed over regions, per day, equals the same raw recomputation
    (``region_daily_performance`` has no platform: the per-platform grain is audited on
    the intermediate above).
``won_revenue_per_currency``
    Won, not deleted deals per currency: count and amount in the deal currency of the
    raw CRM tables equal the models' (``int_deals_converted_to_reporting_currency``).
``won_revenue_per_day``
    The mart's revenue and won deals summed over regions, per day, equal the raw won
    deals converted at the rates of their close day in the reporting time zone.
``region_days_complete``
    ``region_daily_performance`` has every region (all of ``regions`` but Unassigned,
    which appears only when used) on every day from the first to the last day of raw
    activity.
``unique_keys``
    No published table has two rows with the same key (the columns of its dbt
    ``unique`` / ``unique_combination_of_columns`` tests, else the whole row).

Money is recomputed per raw row with the documented rule (``convert_currency``: amount x
reporting units per euro / source units per euro, rounded once, half away from zero, to
the cent); sums are compared per key with a tolerance of :data:`MONEY_TOLERANCE` (one
cent), so only a rounding tie resolved the other way can pass unnoticed.
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import duckdb

from reach2revenue.failures import NonRetryableError

if TYPE_CHECKING:
    from reach2revenue.publish import PublishedModel

MONEY_TOLERANCE = Decimal("0.01")
"""Largest difference per key (platform/account/day, day, currency) that passes."""

CENT = Decimal("0.01")
# Findings listed per check in the error message; the report keeps them all.
MESSAGE_FINDINGS_PER_CHECK = 5

AD_REPORTS_MODEL = "intermediate.int_ad_reports_converted_to_reporting_currency"
DEALS_MODEL = "intermediate.int_deals_converted_to_reporting_currency"
FX_INTERVALS_MODEL = "intermediate.int_fx_rates_spanned_to_intervals"
REGION_DAYS_MART = "main.region_daily_performance"
REGIONS_MART = "main.regions"


@dataclass(frozen=True)
class RawAdSpend:
    """Where a platform's raw spend is: account, day (text), currency, amount (text)."""

    query: str
    # Raw amounts are in these units of the currency (Google: micros).
    units_per_currency_unit: int = 1


@dataclass(frozen=True)
class RawWonDeals:
    """Where a CRM's won, not deleted deals are: id, currency, amount, close (text).

    ``close_is_date``: the close is a calendar date that the models place at 12:00 UTC
    (Salesforce CloseDate); otherwise an instant seen in the reporting time zone.
    """

    query: str
    close_is_date: bool = False


# The raw layout of each platform as the API sends it (landed as text), independent of
# the staging models. A platform missing here is audited from its conformed staging
# model instead (weaker: it shares the staging casts), and the report says so.
RAW_AD_SPEND: dict[str, RawAdSpend] = {
    "meta_ads": RawAdSpend(
        "select account_id, date_start, account_currency, spend from raw.meta_ads_insights"
    ),
    "google_ads": RawAdSpend(
        "select customer_id, segments_date, customer_currency_code, metrics_cost_micros "
        "from raw.google_ads_geographic_view",
        units_per_currency_unit=1_000_000,
    ),
    "linkedin_ads": RawAdSpend(
        "select analytics.account_id, analytics.date_range_start, accounts.currency, "
        "coalesce(analytics.cost_in_local_currency, '0') "
        "from raw.linkedin_ads_ad_analytics as analytics "
        "left join raw.linkedin_ads_ad_accounts as accounts "
        "on analytics.account_id = accounts.id"
    ),
}
RAW_WON_DEALS: dict[str, RawWonDeals] = {
    "hubspot": RawWonDeals(
        "select id, deal_currency_code, amount, closedate from raw.hubspot_deals "
        "where dealstage = 'closedwon' and not coalesce(try_cast(archived as boolean), false)"
    ),
    "salesforce": RawWonDeals(
        "select id, currency_iso_code, amount, close_date from raw.salesforce_opportunities "
        "where coalesce(try_cast(is_won as boolean), false) "
        "and not coalesce(try_cast(is_deleted as boolean), false)",
        close_is_date=True,
    ),
}


class AuditError(NonRetryableError):
    """The built warehouse disagrees with raw: nothing was published.

    The message names each failed check, its keys, the expected (raw) and the actual
    (model) values and the difference.
    """

    def __init__(self, report: AuditReport) -> None:
        super().__init__(report.describe_failures())
        self.report = report


@dataclass(frozen=True)
class AuditFinding:
    """One key whose model value differs from raw."""

    key: str
    expected: str
    actual: str
    difference: str

    def describe(self) -> str:
        return (
            f"{self.key}: raw {self.expected}, model {self.actual} (difference {self.difference})"
        )


@dataclass(frozen=True)
class AuditCheck:
    """The outcome of one check: what was compared, the totals, and every mismatch."""

    name: str
    keys_compared: int
    expected_total: str
    actual_total: str
    findings: tuple[AuditFinding, ...] = ()
    note: str = ""

    @property
    def passed(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        data["findings"] = [asdict(f) for f in self.findings[:20]]
        data["finding_count"] = len(self.findings)
        return data


@dataclass(frozen=True)
class AuditReport:
    """Every check's outcome for one warehouse."""

    reporting_currency: str
    checks: tuple[AuditCheck, ...]
    seconds: float
    tolerance: str = field(default=str(MONEY_TOLERANCE))

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def describe_failures(self) -> str:
        lines = [
            "audit failed (nothing published): "
            + ", ".join(check.name for check in self.checks if not check.passed)
        ]
        for check in self.checks:
            if check.passed:
                continue
            lines.append(
                f"- {check.name}: {len(check.findings)} of {check.keys_compared} key(s) differ"
                f" (money tolerance {self.tolerance} {self.reporting_currency})"
            )
            lines += [f"    {f.describe()}" for f in check.findings[:MESSAGE_FINDINGS_PER_CHECK]]
            if len(check.findings) > MESSAGE_FINDINGS_PER_CHECK:
                lines.append(f"    ... {len(check.findings) - MESSAGE_FINDINGS_PER_CHECK} more")
        return "\n".join(lines)

    def raise_for_failures(self) -> None:
        """Raise :class:`AuditError` when any check failed."""
        if not self.passed:
            raise AuditError(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reporting_currency": self.reporting_currency,
            "money_tolerance": self.tolerance,
            "seconds": self.seconds,
            "checks": [check.to_dict() for check in self.checks],
        }


def audit_warehouse(
    connection: duckdb.DuckDBPyConnection,
    *,
    reporting_currency: str,
    reporting_timezone: str,
    published_models: Sequence[PublishedModel],
    ad_platforms: Sequence[str],
    crms: Sequence[str],
) -> AuditReport:
    """Run every check on an open connection to the built warehouse.

    Args:
        connection: The build warehouse (read access is enough).
        reporting_currency: The currency the marts are in (ISO 4217).
        reporting_timezone: The IANA zone in which CRM instants become days.
        published_models: The tables that will be published (for the key check).
        ad_platforms: The registered ad platforms (dbt var ``ad_platforms``).
        crms: The registered CRMs (dbt var ``crms``).

    Returns:
        The report; call :meth:`AuditReport.raise_for_failures` to stop on a mismatch.
    """
    started = time.perf_counter()
    ad_spend, ad_note = _raw_ad_spend(connection, ad_platforms)
    won_deals, deal_note = _raw_won_deals(connection, crms, ZoneInfo(reporting_timezone))
    rates = FxRates.load(
        connection,
        {reporting_currency} | {row.currency for row in (*ad_spend, *won_deals) if row.currency},
        [row.day for row in (*ad_spend, *won_deals) if row.day is not None],
    )
    ad_spend = [row.converted_with(rates, reporting_currency) for row in ad_spend]
    won_deals = [row.converted_with(rates, reporting_currency) for row in won_deals]
    checks = (
        _check_ad_spend_per_platform_account_day(connection, ad_spend, ad_note),
        _check_ad_spend_per_day(connection, ad_spend),
        _check_won_revenue_per_currency(connection, won_deals, deal_note),
        _check_won_revenue_per_day(connection, won_deals),
        _check_region_days_complete(connection, ad_spend, won_deals),
        _check_unique_keys(connection, published_models),
    )
    return AuditReport(
        reporting_currency=reporting_currency,
        checks=checks,
        seconds=round(time.perf_counter() - started, 3),
    )


# --------------------------------------------------------------------------- FX


@dataclass(frozen=True)
class FxRates:
    """Units per euro of each currency as validity intervals [valid_from, valid_to)."""

    intervals: Mapping[str, tuple[tuple[date, ...], tuple[tuple[date, Decimal], ...]]]

    @classmethod
    def load(
        cls, connection: duckdb.DuckDBPyConnection, currencies: set[str], days: Sequence[date]
    ) -> FxRates:
        """The intervals of ``currencies`` that overlap the span of ``days``."""
        if not days:
            return cls({})
        # The filter reaches the model's window functions: only these currencies are
        # spanned, not the ECB's whole history of every currency (0.1 s instead of 1-2 s).
        rows = connection.execute(
            "select currency_code, valid_from, valid_to, units_per_eur "
            f"from {FX_INTERVALS_MODEL} "
            "where currency_code in (select unnest(?)) and valid_to > ? and valid_from <= ? "
            "order by currency_code, valid_from",
            [sorted(currencies), min(days), max(days)],
        ).fetchall()
        grouped: dict[str, list[tuple[date, date, Decimal]]] = defaultdict(list)
        for currency, valid_from, valid_to, units in rows:
            grouped[currency].append((valid_from, valid_to, Decimal(str(units))))
        return cls(
            {
                currency: (
                    tuple(start for start, _, _ in spans),
                    tuple((end, units) for _, end, units in spans),
                )
                for currency, spans in grouped.items()
            }
        )

    def units_per_eur(self, currency: str | None, day: date | None) -> Decimal | None:
        """The rate valid on ``day``; None when no interval covers it."""
        if currency is None or day is None or currency not in self.intervals:
            return None
        starts, ends = self.intervals[currency]
        index = bisect.bisect_right(starts, day) - 1
        if index < 0:
            return None
        valid_to, units = ends[index]
        return units if day < valid_to else None

    def convert(
        self, amount: Decimal, currency: str | None, reporting_currency: str, day: date | None
    ) -> Decimal | None:
        """``amount`` in the reporting currency, rounded half away from zero to the cent."""
        source = self.units_per_eur(currency, day)
        reporting = self.units_per_eur(reporting_currency, day)
        if source is None or reporting is None or source == 0:
            return None
        with localcontext() as context:
            context.prec = 60
            return (amount * reporting / source).quantize(CENT, rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------------- raw


@dataclass(frozen=True)
class _Money:
    """One raw row: its keys, its amount in its own currency and in the reporting one."""

    source: str
    key: str  # account (ad spend) or currency (deals)
    day: date | None
    currency: str | None
    amount: Decimal | None
    converted: Decimal | None = None

    def converted_with(self, rates: FxRates, reporting_currency: str) -> _Money:
        """This row with its amount in the reporting currency (None without a rate)."""
        if self.amount is None:
            return self
        converted = rates.convert(self.amount, self.currency, reporting_currency, self.day)
        return replace(self, converted=converted)


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _day(value: Any) -> date | None:
    if value is None or str(value).strip() == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip()[:10])


def _raw_ad_spend(
    connection: duckdb.DuckDBPyConnection, platforms: Sequence[str]
) -> tuple[list[_Money], str]:
    rows: list[_Money] = []
    from_staging = []
    for platform in platforms:
        spec = RAW_AD_SPEND.get(platform)
        if spec is None:
            from_staging.append(platform)
            spec = RawAdSpend(
                "select account_id, report_date, currency_code, spend "
                f"from staging.stg_{platform}__ad_reports"
            )
        for account, day_value, currency_value, amount_value in connection.execute(
            spec.query
        ).fetchall():
            day = _day(day_value)
            currency = str(currency_value).strip().upper() if currency_value else None
            amount = _decimal(amount_value)
            if amount is not None and spec.units_per_currency_unit != 1:
                amount = amount / spec.units_per_currency_unit
            if amount is not None:
                # the staging models keep 6 decimals of an amount
                amount = amount.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
            rows.append(_Money(platform, str(account), day, currency, amount))
    note = f"from staging (no raw layout known): {', '.join(from_staging)}" if from_staging else ""
    return rows, note


def _raw_won_deals(
    connection: duckdb.DuckDBPyConnection, crms: Sequence[str], zone: ZoneInfo
) -> tuple[list[_Money], str]:
    rows: list[_Money] = []
    from_staging = []
    for crm in crms:
        spec = RAW_WON_DEALS.get(crm)
        if spec is None:
            from_staging.append(crm)
            spec = RawWonDeals(
                "select deal_id, currency_code, amount, closed_at "
                f"from staging.stg_{crm}__crm_deals where is_won and not is_deleted"
            )
        for _, currency_value, amount_value, close_value in connection.execute(
            spec.query
        ).fetchall():
            currency = str(currency_value).strip().upper() if currency_value else None
            amount = _decimal(amount_value)
            if amount is not None:
                # deal amounts are kept to the cent (staging: decimal(18, 2))
                amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)
            day = _close_day(close_value, spec.close_is_date, zone)
            rows.append(_Money(crm, currency or "(none)", day, currency, amount))
    note = f"from staging (no raw layout known): {', '.join(from_staging)}" if from_staging else ""
    return rows, note


def _close_day(value: Any, is_date: bool, zone: ZoneInfo) -> date | None:
    """The reporting day of a deal's close: an instant seen in ``zone``; a plain date
    placed at 12:00 UTC first (as the CRM staging does for Salesforce's CloseDate)."""
    if value is None or str(value).strip() == "":
        return None
    if is_date:
        day = _day(value)
        assert day is not None
        instant = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    elif isinstance(value, datetime):
        instant = value if value.tzinfo else value.replace(tzinfo=UTC)
    else:
        text = str(value).strip()
        instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(zone).date()


# --------------------------------------------------------------------------- checks


def _money(value: Decimal | None) -> str:
    return "null" if value is None else f"{value:.2f}"


def _compare_money(
    name: str,
    expected: Mapping[str, Decimal],
    actual: Mapping[str, Decimal],
    note: str = "",
    counts: tuple[Mapping[str, int], Mapping[str, int], str] | None = None,
) -> AuditCheck:
    """Per key: money within the tolerance; optional counts must be equal."""
    findings = []
    keys = sorted(set(expected) | set(actual))
    for key in keys:
        want, got = expected.get(key, Decimal(0)), actual.get(key, Decimal(0))
        if abs(want - got) > MONEY_TOLERANCE:
            findings.append(AuditFinding(key, _money(want), _money(got), _money(got - want)))
    if counts is not None:
        expected_counts, actual_counts, label = counts
        for key in sorted(set(expected_counts) | set(actual_counts)):
            want_count, got_count = expected_counts.get(key, 0), actual_counts.get(key, 0)
            if want_count != got_count:
                findings.append(
                    AuditFinding(
                        f"{key} ({label})",
                        str(want_count),
                        str(got_count),
                        f"{got_count - want_count:+d}",
                    )
                )
    return AuditCheck(
        name=name,
        keys_compared=len(keys),
        expected_total=_money(sum(expected.values(), Decimal(0))),
        actual_total=_money(sum(actual.values(), Decimal(0))),
        findings=tuple(findings),
        note=note,
    )


def _sum_by(
    rows: Iterable[_Money], key: Callable[[_Money], str], value: Callable[[_Money], Any]
) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        amount = value(row)
        if amount is not None:
            totals[key(row)] += amount
    return dict(totals)


def _count_by(rows: Iterable[_Money], key: Callable[[_Money], str]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[key(row)] += 1
    return dict(counts)


def _check_ad_spend_per_platform_account_day(
    connection: duckdb.DuckDBPyConnection, raw_rows: list[_Money], note: str
) -> AuditCheck:
    def key(source: str, account: str, day: date | None) -> str:
        return f"{source}/{account}/{day}"

    expected = _sum_by(raw_rows, lambda r: key(r.source, r.key, r.day), lambda r: r.converted)
    expected_unconverted = _count_by(
        (r for r in raw_rows if r.amount is not None and r.converted is None),
        lambda r: key(r.source, r.key, r.day),
    )
    actual: dict[str, Decimal] = {}
    actual_unconverted: dict[str, int] = {}
    for platform, account, day, spend, unconverted in connection.execute(
        f"select ad_platform, account_id, report_date, sum(spend_in_reporting_currency), "
        "count(*) filter (where not is_fx_converted and spend_in_account_currency is not null) "
        f"from {AD_REPORTS_MODEL} group by 1, 2, 3"
    ).fetchall():
        actual[key(platform, str(account), day)] = Decimal(str(spend or 0))
        if unconverted:
            actual_unconverted[key(platform, str(account), day)] = int(unconverted)
    return _compare_money(
        "ad_spend_per_platform_account_day",
        expected,
        actual,
        note,
        (expected_unconverted, actual_unconverted, "rows without a rate"),
    )


def _check_ad_spend_per_day(
    connection: duckdb.DuckDBPyConnection, raw_rows: list[_Money]
) -> AuditCheck:
    expected = _sum_by(raw_rows, lambda r: str(r.day), lambda r: r.converted)
    expected_unconverted = _count_by(
        (r for r in raw_rows if r.amount is not None and r.converted is None),
        lambda r: str(r.day),
    )
    actual: dict[str, Decimal] = {}
    actual_unconverted: dict[str, int] = {}
    for day, spend, unconverted in connection.execute(
        f"select report_date, sum(spend), sum(unconverted_spend_rows) from {REGION_DAYS_MART} "
        "group by 1"
    ).fetchall():
        if spend:
            actual[str(day)] = Decimal(str(spend))
        if unconverted:
            actual_unconverted[str(day)] = int(unconverted)
    return _compare_money(
        "ad_spend_per_day",
        expected,
        actual,
        counts=(expected_unconverted, actual_unconverted, "rows without a rate"),
    )


def _check_won_revenue_per_currency(
    connection: duckdb.DuckDBPyConnection, raw_rows: list[_Money], note: str
) -> AuditCheck:
    expected = _sum_by(raw_rows, lambda r: r.key, lambda r: r.amount)
    expected_counts = _count_by(raw_rows, lambda r: r.key)
    actual: dict[str, Decimal] = {}
    actual_counts: dict[str, int] = {}
    for currency, amount, count in connection.execute(
        f"select coalesce(currency_code, '(none)'), sum(amount_in_deal_currency), count(*) "
        f"from {DEALS_MODEL} where is_won and not is_deleted group by 1"
    ).fetchall():
        actual[currency] = Decimal(str(amount or 0))
        actual_counts[currency] = int(count)
    check = _compare_money(
        "won_revenue_per_currency",
        expected,
        actual,
        note + ("; " if note else "") + "amounts in the deal currency",
        (expected_counts, actual_counts, "won deals"),
    )

    # Amounts in different currencies do not add up: the totals list them per currency.
    def listed(amounts: Mapping[str, Decimal], counts: Mapping[str, int]) -> str:
        return ", ".join(
            f"{currency} {_money(amounts.get(currency))} ({counts.get(currency, 0)} won)"
            for currency in sorted(set(amounts) | set(counts))
        )

    return replace(
        check,
        expected_total=listed(expected, expected_counts),
        actual_total=listed(actual, actual_counts),
    )


def _check_won_revenue_per_day(
    connection: duckdb.DuckDBPyConnection, raw_rows: list[_Money]
) -> AuditCheck:
    expected = _sum_by(raw_rows, lambda r: str(r.day), lambda r: r.converted)
    expected_counts = _count_by(raw_rows, lambda r: str(r.day))
    actual: dict[str, Decimal] = {}
    actual_counts: dict[str, int] = {}
    for day, revenue, deals in connection.execute(
        f"select report_date, sum(revenue_won), sum(deals_won) from {REGION_DAYS_MART} group by 1"
    ).fetchall():
        if revenue:
            actual[str(day)] = Decimal(str(revenue))
        if deals:
            actual_counts[str(day)] = int(deals)
    return _compare_money(
        "won_revenue_per_day", expected, actual, counts=(expected_counts, actual_counts, "won")
    )


def _check_region_days_complete(
    connection: duckdb.DuckDBPyConnection, ad_rows: list[_Money], deal_rows: list[_Money]
) -> AuditCheck:
    days = {row.day for row in (*ad_rows, *deal_rows) if row.day is not None}
    regions = {
        region
        for (region,) in connection.execute(
            f"select region from {REGIONS_MART} where not is_unassigned"
        ).fetchall()
    }
    present = connection.execute(
        f"select region, report_date, count(*) from {REGION_DAYS_MART} group by 1, 2"
    ).fetchall()
    regions |= {region for region, _, _ in present}
    expected_days = (
        [min(days) + timedelta(days=offset) for offset in range((max(days) - min(days)).days + 1)]
        if days
        else []
    )
    seen = {(region, day): count for region, day, count in present}
    findings = [
        AuditFinding(f"{region}/{day}", "1 row", "0 rows", "-1 row")
        for region in sorted(regions)
        for day in expected_days
        if (region, day) not in seen
    ]
    outside = sorted((region, day) for region, day, _ in present if day not in set(expected_days))
    findings += [
        AuditFinding(f"{region}/{day}", "0 rows (outside raw activity)", "1 row", "+1 row")
        for region, day in outside
    ]
    return AuditCheck(
        name="region_days_complete",
        keys_compared=len(regions) * len(expected_days),
        expected_total=f"{len(regions)} regions x {len(expected_days)} days"
        + (f" ({expected_days[0]}..{expected_days[-1]})" if expected_days else ""),
        actual_total=f"{len(present)} region-days",
        findings=tuple(findings),
    )


def _check_unique_keys(
    connection: duckdb.DuckDBPyConnection, models: Sequence[PublishedModel]
) -> AuditCheck:
    findings = []
    for model in models:
        for columns in model.unique_keys or ((),):
            key_sql = ", ".join(f'"{c}"' for c in columns) if columns else "*"
            label = "+".join(columns) if columns else "the whole row"
            duplicates = connection.execute(
                f"select {key_sql}, count(*) from {model.relation} group by all "
                "having count(*) > 1 order by count(*) desc limit 5"
            ).fetchall()
            count = connection.execute(
                f"select count(*) from (select {key_sql} from {model.relation} group by all "
                "having count(*) > 1)"
            ).fetchall()[0][0]
            if count:
                sample = ", ".join(repr(row[:-1]) for row in duplicates)
                findings.append(
                    AuditFinding(
                        f"{model.relation} ({label})",
                        "unique",
                        f"{count} duplicated key(s), e.g. {sample}",
                        f"{count}",
                    )
                )
    return AuditCheck(
        name="unique_keys",
        keys_compared=len(models),
        expected_total=f"{len(models)} tables without duplicate keys",
        actual_total=f"{len(models) - len(findings)} without",
        findings=tuple(findings),
    )

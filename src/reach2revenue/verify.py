"""Check a published mart against the synthetic world's ground truth, to the cent.

The ground truth is computed by the world generator from the world itself; the mart is
computed by the pipeline from what the APIs served. Agreement on every region and day is
the proof that extraction, landing, currency, time-zone and country logic are right.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

COMPARED_MEASURES = ("spend", "leads", "deals_won", "revenue_won")
#: Counts of source rows without an FX rate (left out of spend / revenue). The ground truth
#: always has them; they are compared whenever the mart has them too.
UNCONVERTED_MEASURES = ("unconverted_spend_rows", "unconverted_deals")


@dataclass
class Comparison:
    """Region-days checked and the ones that differ."""

    region_days: int
    mismatches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return not self.mismatches


def mart_region_days(path: Path) -> dict[tuple[str, date], dict[str, Decimal]]:
    """The mart's measures keyed by (region, day), read-only (unconverted counts if present)."""
    with duckdb.connect(str(path), read_only=True) as con:
        columns = {
            name
            for (name,) in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'main' and table_name = 'region_daily_performance'"
            ).fetchall()
        }
        names = [*COMPARED_MEASURES, *(m for m in UNCONVERTED_MEASURES if m in columns)]
        rows = con.execute(
            f"select region, report_date, {', '.join(names)} from main.region_daily_performance"
        ).fetchall()
    return {
        (region, day): {
            name: Decimal(str(value if value is not None else 0))
            for name, value in zip(names, values, strict=True)
        }
        for region, day, *values in rows
    }


def compare(
    mart: Mapping[tuple[str, date], Mapping[str, Decimal]],
    truth: Iterable[Mapping[str, Any]],
    *,
    first_day: date | None = None,
    last_day: date | None = None,
) -> Comparison:
    """Compare measures per (region, day); a region-day absent on one side counts as zero.

    The measures are `COMPARED_MEASURES`, plus each of `UNCONVERTED_MEASURES` that both
    sides have. `first_day`/`last_day` restrict the check to the days the pipeline has loaded.
    """
    truth = list(truth)
    optional = [
        m
        for m in UNCONVERTED_MEASURES
        if truth
        and mart
        and all(m in row for row in truth)
        and all(m in row for row in mart.values())
    ]
    measures = (*COMPARED_MEASURES, *optional)
    expected: dict[tuple[str, date], dict[str, Decimal]] = {}
    for row in truth:
        day = row["date"] if isinstance(row["date"], date) else date.fromisoformat(row["date"])
        expected[(row["region"], day)] = {name: Decimal(str(row[name])) for name in measures}

    def in_range(key: tuple[str, date]) -> bool:
        day = key[1]
        return (first_day is None or day >= first_day) and (last_day is None or day <= last_day)

    keys = sorted(k for k in set(expected) | set(mart) if in_range(k))
    zero = dict.fromkeys(measures, Decimal(0))
    comparison = Comparison(region_days=len(keys))
    for key in keys:
        want, got = expected.get(key, zero), mart.get(key, zero)
        for name in measures:
            if want[name] != got[name]:
                comparison.mismatches.append(
                    {
                        "region": key[0],
                        "date": key[1].isoformat(),
                        "measure": name,
                        "expected": str(want[name]),
                        "actual": str(got[name]),
                    }
                )
    return comparison


def region_summary(path: Path) -> list[dict[str, Any]]:
    """Totals per region from the published mart: what the demo prints."""
    with duckdb.connect(str(path), read_only=True) as con:
        cursor = con.execute(
            """
            select
                region,
                any_value(reporting_currency_code) as currency,
                min(report_date) as first_day,
                max(report_date) as last_day,
                sum(spend) as spend,
                sum(impressions) as impressions,
                sum(clicks) as clicks,
                sum(leads) as leads,
                sum(deals_won) as deals_won,
                sum(revenue_won) as revenue_won,
                case when sum(spend) > 0
                    then round(sum(revenue_won) / sum(spend), 2) end as roas
            from main.region_daily_performance
            group by region
            order by revenue_won desc
            """
        )
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def contribution_summary(path: Path) -> list[dict[str, Any]]:
    """Per region and in all, the won revenue marketing sourced, sales sourced and
    marketing influenced, from the published contribution mart: the question the marts
    answer, as the demo prints it. The "All" row comes last."""
    with duckdb.connect(str(path), read_only=True) as con:
        cursor = con.execute(
            """
            with totals as (
                select
                    coalesce(region, 'All') as region,
                    grouping(region) as is_total,
                    any_value(reporting_currency_code) as currency,
                    sum(won_deals) as won_deals,
                    sum(won_revenue) as won_revenue,
                    sum(marketing_sourced_revenue) as marketing_sourced_revenue,
                    sum(sales_sourced_revenue) as sales_sourced_revenue,
                    sum(marketing_influenced_revenue) as marketing_influenced_revenue
                from main.marketing_contribution_by_region_month
                group by rollup (region)
            )
            select
                region, currency, won_deals, won_revenue,
                case when won_revenue > 0 then round(
                    100 * marketing_sourced_revenue / won_revenue, 1) end
                    as marketing_sourced_percent,
                case when won_revenue > 0 then round(
                    100 * sales_sourced_revenue / won_revenue, 1) end as sales_sourced_percent,
                case when won_revenue > 0 then round(
                    100 * marketing_influenced_revenue / won_revenue, 1) end
                    as marketing_influenced_percent
            from totals
            where won_deals > 0 or is_total = 1
            order by is_total, won_revenue desc, region
            """
        )
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def table_row_counts(path: Path) -> dict[str, int]:
    """Rows per raw table and mart in a warehouse file, read-only."""
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_schema in ('raw', 'main') "
            "order by table_schema desc, table_name"
        ).fetchall()
        return {
            name: con.execute(f"select count(*) from {name}").fetchall()[0][0] for (name,) in tables
        }


# --------------------------------------------------------------------------- keyed marts


@dataclass
class KeyedComparison:
    """Rows of one mart checked against the truth by key, and the values that differ."""

    mart: str
    rows: int
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    measures: tuple[str, ...] = ()

    @property
    def matches(self) -> bool:
        return not self.mismatches


def read_mart(path: Path, table: str, where: str | None = None) -> list[dict[str, Any]]:
    """Every row of ``main.<table>`` (optionally filtered) as dicts, read-only."""
    with duckdb.connect(str(path), read_only=True) as con:
        cursor = con.execute(f"select * from main.{table}" + (f" where {where}" if where else ""))
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _close(expected: Any, actual: Any, tolerance: float | None, *, nullable: bool) -> bool:
    if not nullable:
        # A count or a sum: an absent row, or a null, is zero.
        expected = 0 if expected is None else expected
        actual = 0 if actual is None else actual
    if expected is None or actual is None:
        return expected is None and actual is None
    if tolerance is not None:
        return abs(float(expected) - float(actual)) <= tolerance
    return Decimal(str(expected)) == Decimal(str(actual))


def compare_keyed(
    mart: str,
    mart_rows: Iterable[Mapping[str, Any]],
    truth_rows: Iterable[Mapping[str, Any]],
    keys: tuple[str, ...],
    measures: Iterable[str],
    tolerances: Mapping[str, float] | None = None,
    nullable: Iterable[str] = (),
) -> KeyedComparison:
    """Compare ``measures`` per key; a key absent on one side has zeros there.

    Measures the mart lacks are skipped (reported in ``measures``: those compared).
    Values compare exactly as decimals (money to the cent, counts), or within the
    measure's tolerance in ``tolerances`` (doubles, rounded shares). Null is zero, except
    for the ``nullable`` measures (ratios: null without a denominator), where it must be
    null on both sides.
    """
    tolerances = dict(tolerances or {})
    nullable = set(nullable)
    mart_rows, truth_rows = list(mart_rows), list(truth_rows)
    columns = set(mart_rows[0]) if mart_rows else set()
    compared = tuple(m for m in measures if not mart_rows or m in columns)
    actual = {tuple(row[k] for k in keys): row for row in mart_rows}
    expected = {tuple(row[k] for k in keys): row for row in truth_rows}
    comparison = KeyedComparison(mart, len(set(actual) | set(expected)), measures=compared)
    for key in sorted(set(actual) | set(expected), key=lambda k: tuple(map(str, k))):
        want, got = expected.get(key), actual.get(key)
        for name in compared:
            left = want.get(name) if want is not None else None
            right = got.get(name) if got is not None else None
            if not _close(left, right, tolerances.get(name), nullable=name in nullable):
                comparison.mismatches.append(
                    {
                        **{k: str(v) for k, v in zip(keys, key, strict=True)},
                        "measure": name,
                        "expected": str(left),
                        "actual": str(right),
                    }
                )
    return comparison

"""`r2r bench`: every stage of the pipeline timed apart, against lower bounds of the same run.

The bench generates a world, serves it with the stand-ins in a child process (their CPU
is measured there, apart from ours), then runs a full history load and one nightly on top
of it with exactly the calls the DAG's tasks make (``pipeline.extract`` per source,
``load_and_validate``, ``build``, ``publish``), each step timed with its CPU and peak
RSS (`reach2revenue.timing`).

Lower bounds, measured in the same run on the same machine:

- **region mart**: ``bench_region_mart.sql``, one hand-written DuckDB query over the raw
  tables and reference seeds, computing what ``region_daily_performance`` holds. The bench
  checks the two agree to the cent (else it fails) and prints the dbt build as a ratio of
  that query's time.
- **contribution mart**: ``bench_contribution_mart.sql``, the same for
  ``marketing_contribution_by_region_month`` (won, marketing-sourced, sales-sourced and
  influenced deals and revenue, their shares, unconverted deals per region and close
  month): the whole attribution lineage (CRM touches, channels, people's and deals'
  regions, FX) in one query, checked equal column by column, and the dbt build printed as
  a ratio of its time too.
- **extraction**: every successful request of an extraction is recorded in memory
  (`http_client.record_exchanges`) and replayed against the same stand-in by a client
  that only reads the bytes: the stand-in's own serving rate, which no extractor of ours
  can beat. Extraction is printed as rows/s next to that bound.

Scale is a customer's size: ``--scale 1`` is a mid-size advertiser, about 1 million ad
rows a year over three platforms (0.93M over 365 days for seed 42), 51k HubSpot contacts
and 17k deals, and a Salesforce org of the same size. The world generator gets there with
its scale (`GENERATOR_SCALE_PER_BENCH_SCALE`: the CRM's size and the ad spend) and many
small campaigns per account (`GENERATOR_CAMPAIGN_DENSITY`: the ad rows). The JSON reports
the rows actually generated, so every figure is per row, not per promise.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import secrets
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from reach2revenue.settings import Settings
from reach2revenue.timing import StageMeasure, StageTimer, process_cpu_seconds

#: World generator scale per bench scale unit: the CRM's size and the ad spend. At 10,
#: a year of the seed-42 world has about 50k HubSpot contacts and 17k deals.
GENERATOR_SCALE_PER_BENCH_SCALE = 10.0
#: Flighted campaigns per account over the generator's default (`World.campaign_density`),
#: each with its share of the same spend: at 20 a year has about 1M ad rows per bench scale
#: unit (Meta 0.32M, Google 0.51M, LinkedIn 0.10M for seed 42), where the default makes 92k.
GENERATOR_CAMPAIGN_DENSITY = 20.0


@dataclass(frozen=True)
class MartQuery:
    """A mart and the hand-written query over the raw tables and seeds that must equal it.

    The query returns ``keys`` then ``measures`` in that order; ``measures`` maps each
    column to how it is compared: ``count`` (an integer), ``money`` (to the cent) or
    ``share`` (to 4 places, null when the mart leaves it null). Every numeric column of
    the mart is compared unless listed in ``not_compared`` (the bench fails on a new
    numeric column nobody chose for either).
    """

    name: str
    sql: Path
    mart: str
    keys: tuple[str, str]
    measures: Mapping[str, str]
    grain: str
    absent_rows_are_zero: bool
    """A key on one side only is compared with a row of zeros (the region mart keeps
    region-days whose measures are all zero, the query does not), else it differs."""
    not_compared: tuple[str, ...] = ()


REGION_MART = MartQuery(
    name="region_mart",
    sql=Path(__file__).with_name("bench_region_mart.sql"),
    mart="region_daily_performance",
    keys=("region", "report_date"),
    measures={
        "spend": "money",
        "impressions": "count",
        "reach": "count",
        "clicks": "count",
        "leads": "count",
        "deals_won": "count",
        "revenue_won": "money",
    },
    grain="region-days",
    absent_rows_are_zero=True,
    # Not computed by bench_region_mart.sql (yet).
    not_compared=("roas", "unconverted_spend_rows", "unconverted_deals"),
)
CONTRIBUTION_MART = MartQuery(
    name="contribution_mart",
    sql=Path(__file__).with_name("bench_contribution_mart.sql"),
    mart="marketing_contribution_by_region_month",
    keys=("region", "month_start"),
    measures={
        "won_deals": "count",
        "won_revenue": "money",
        "marketing_sourced_deals": "count",
        "marketing_sourced_revenue": "money",
        "sales_sourced_deals": "count",
        "sales_sourced_revenue": "money",
        "marketing_influenced_deals": "count",
        "marketing_influenced_revenue": "money",
        "marketing_sourced_share": "share",
        "sales_sourced_share": "share",
        "marketing_influenced_share": "share",
        "unconverted_deals": "count",
    },
    grain="region-months",
    # Both zero-fill every region x month: a row on one side only is a difference.
    absent_rows_are_zero=False,
)
CENT = Decimal("0.01")
SHARE_STEP = Decimal("0.0001")


@dataclass(frozen=True)
class BenchConfig:
    """One bench run: customer size, history length, world seed, working folder."""

    scale: float
    days: int = 365
    seed: int = 42
    home: Path = Path("var/bench")
    airflow: bool = False
    """Also re-run the nightly through ``airflow dags test`` to measure Airflow's share."""

    @property
    def generator_scale(self) -> float:
        return self.scale * GENERATOR_SCALE_PER_BENCH_SCALE


@dataclass
class BenchResult:
    """Every figure of a run (JSON-ready through `to_dict`)."""

    config: BenchConfig
    stages: list[StageMeasure] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    lower_bounds: dict[str, Any] = field(default_factory=dict)
    standins: dict[str, Any] = field(default_factory=dict)
    crm_full_load_at_real_limit: dict[str, Any] = field(default_factory=dict)
    airflow: dict[str, Any] = field(default_factory=dict)

    def stage(self, name: str) -> StageMeasure | None:
        return next((m for m in self.stages if m.name == name), None)

    def seconds(self, name: str) -> float:
        measure = self.stage(name)
        return measure.seconds if measure else 0.0

    def ratios(self) -> dict[str, float | None]:
        """The issue's targets as ratios of this run's own figures."""

        def ratio(numerator: float, denominator: float) -> float | None:
            return round(numerator / denominator, 4) if denominator > 0 else None

        ratios: dict[str, float | None] = {}
        for bound in ("region_mart", "contribution_mart"):
            seconds = self.lower_bounds.get(bound, {}).get("seconds", 0.0)
            for phase in ("history", "nightly"):
                ratios[f"{phase}_dbt_build_over_{bound}_query"] = ratio(
                    self.seconds(f"{phase}/dbt_build"), seconds
                )
        ratios |= {
            "nightly_dbt_build_over_full_build": ratio(
                self.seconds("nightly/dbt_build"), self.seconds("history/dbt_build")
            ),
            "history_validate_over_dbt_build": ratio(
                self.seconds("history/load_and_validate/validate"),
                self.seconds("history/dbt_build"),
            ),
            "nightly_validate_over_dbt_build": ratio(
                self.seconds("nightly/load_and_validate/validate"),
                self.seconds("nightly/dbt_build"),
            ),
        }
        if self.airflow:
            ratios["airflow_overhead_over_nightly_wall"] = ratio(
                self.airflow["overhead_seconds"], self.airflow["wall_seconds"]
            )
        for source, bound in self.lower_bounds.get("extraction", {}).items():
            measure = self.stage(f"history/extract/{source}")
            if measure is not None and bound.get("rows_per_second"):
                ratios[f"{source}_extraction_over_serving_rate"] = ratio(
                    measure.rows_per_second or 0.0, bound["rows_per_second"]
                )
        return ratios

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": {
                "scale": self.config.scale,
                "generator_scale": self.config.generator_scale,
                "generator_campaign_density": GENERATOR_CAMPAIGN_DENSITY,
                "days": self.config.days,
                "seed": self.config.seed,
            },
            "machine": {"cpu_count": os.cpu_count(), "measured_at": datetime.now(UTC).isoformat()},
            "rows": self.rows,
            "stages": [m.to_dict() for m in self.stages],
            "lower_bounds": self.lower_bounds,
            "standins": self.standins,
            "crm_full_load_at_real_limit": self.crm_full_load_at_real_limit,
            "airflow": self.airflow,
            "ratios": self.ratios(),
        }


# ---------------------------------------------------------------- stand-ins, apart


def _serve(world_dir: str, token: str, channel: Connection) -> None:
    """Child process: serve the saved world until told to stop."""
    from reach2revenue.sandbox.standins import start_standins
    from reach2revenue.sandbox.world import World

    # The bench measures our code against the stand-ins' serving rate: the platforms' rate
    # limits would only measure the limits (they are reported apart, as hours at the limit).
    with start_standins(World.load(Path(world_dir)), token=token, rate_limits=False) as servers:
        channel.send(servers.connections(token))
        channel.recv()


def _generate(
    config: BenchConfig, start: Any, world_dir: str, overrides: str, channel: Connection
) -> None:
    """Child process: generate and save the world; send its row counts, CPU and peak RSS."""
    import resource

    from reach2revenue.sandbox.world import World

    world = World.generate(
        seed=config.seed,
        start=start,
        days=config.days + 1,
        scale=config.generator_scale,
        campaign_density=GENERATOR_CAMPAIGN_DENSITY,
    )
    world.save(Path(world_dir))
    world.write_fx_overrides(Path(overrides))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    channel.send(
        {
            "rows": world_row_counts(world),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 4),
            "peak_rss_bytes": usage.ru_maxrss * 1024,  # kilobytes on Linux
        }
    )


def generate_in_child(
    config: BenchConfig, start: Any, world_dir: Path, settings: Settings
) -> dict[str, Any]:
    """Generate the world in a child process. A Python process keeps the heap it grew
    (freed objects are not given back to the system), so a world made here would be
    counted in the peak RSS of every stage after it: at scale 10, 6 GiB of it."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(
        target=_generate,
        args=(config, start, str(world_dir), str(settings.fx_rate_overrides_path), theirs),
        daemon=True,
    )
    child.start()
    try:
        while not ours.poll(1):
            if not child.is_alive():
                raise RuntimeError(f"generating the world failed (exit code {child.exitcode})")
        figures: dict[str, Any] = ours.recv()
    finally:
        child.join(timeout=60)
        if child.is_alive():
            child.kill()
    return figures


@contextmanager
def standins_process(world_dir: Path) -> Iterator[tuple[dict[str, dict[str, Any]], int]]:
    """Stand-ins in a child process: (Airflow-style connections, child pid)."""
    token = secrets.token_urlsafe(24)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=_serve, args=(str(world_dir), token, theirs), daemon=True)
    child.start()
    try:
        if not ours.poll(600):
            raise RuntimeError("the stand-ins did not start within 10 minutes")
        connections = ours.recv()
        assert child.pid is not None
        yield connections, child.pid
    finally:
        with suppress(OSError, EOFError):  # the child may be gone already
            ours.send("stop")
        child.join(timeout=30)
        if child.is_alive():
            child.kill()


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# ---------------------------------------------------------------- lower bounds


def region_mart_lower_bound(
    warehouse: Path, settings: Settings, timer: StageTimer
) -> dict[str, Any]:
    """`mart_lower_bound` of ``region_daily_performance`` (``bench_region_mart.sql``)."""
    return mart_lower_bound(REGION_MART, warehouse, settings, timer)


def contribution_mart_lower_bound(
    warehouse: Path, settings: Settings, timer: StageTimer
) -> dict[str, Any]:
    """`mart_lower_bound` of ``marketing_contribution_by_region_month``
    (``bench_contribution_mart.sql``)."""
    return mart_lower_bound(CONTRIBUTION_MART, warehouse, settings, timer)


def mart_lower_bound(
    spec: MartQuery, warehouse: Path, settings: Settings, timer: StageTimer
) -> dict[str, Any]:
    """Run a hand-written mart query on the built warehouse, timed as the stage
    ``lower_bound/<name>_query``; compare every row with the mart.

    Raises:
        AssertionError: the query and the mart differ on some row (the figures of a
            bench whose mart is wrong would be meaningless), or the mart has a numeric
            column the comparison does not cover.
    """
    import duckdb

    ZoneInfo(settings.reporting_timezone)  # a bad zone fails here, not inside the query
    sql = spec.sql.read_text(encoding="utf-8")
    parameters = {
        "reporting_currency": settings.reporting_currency,
        "reporting_timezone": settings.reporting_timezone,
        "fx_max_stale_days": settings.fx_max_stale_days,
    }
    columns = (*spec.keys, *spec.measures)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        # dbt's profile builds in UTC: a raw instant without an offset is read as UTC.
        con.execute("set TimeZone = 'UTC'")
        with timer.stage(f"lower_bound/{spec.name}_query") as measure:
            query_rows = con.execute(sql, parameters).fetchall()
            measure.rows = len(query_rows)
        returned = tuple(column for column, *_ in con.description or ())
        numeric = con.execute(
            "select column_name from information_schema.columns"
            " where table_schema = 'main' and table_name = ?"
            " and numeric_precision is not null",
            [spec.mart],
        ).fetchall()
        mart_rows = con.execute(f"select {', '.join(columns)} from main.{spec.mart}").fetchall()
    if returned != columns:
        raise AssertionError(f"{spec.sql.name} returns {returned}, expected {columns}")
    uncovered = sorted({c for (c,) in numeric} - set(columns) - set(spec.not_compared))
    if uncovered:
        raise AssertionError(f"{spec.mart} has numeric columns nobody compares: {uncovered}")
    mismatches = compare_rows(spec, query_rows, mart_rows)
    if mismatches:
        label = spec.name.replace("_", " ")
        raise AssertionError(
            f"{label} and its lower-bound query differ on {len(mismatches)} {spec.grain}: "
            + "; ".join(mismatches[:5])
        )
    return {
        "seconds": measure.seconds,
        "rows": len(query_rows),
        "mart_rows": len(mart_rows),
        "equal_to_the_cent": True,
    }


def compare_rows(
    spec: MartQuery, query_rows: Sequence[Sequence[Any]], mart_rows: Sequence[Sequence[Any]]
) -> list[str]:
    """Every key whose measures differ, first key first: ``<key>: <column> mart <value> vs
    query <value>, ...`` for the differing columns only."""
    width = len(spec.keys)
    query = {tuple(r[:width]): _normalised(spec, r[width:]) for r in query_rows}
    mart = {tuple(r[:width]): _normalised(spec, r[width:]) for r in mart_rows}
    zero = _normalised(spec, (0,) * len(spec.measures)) if spec.absent_rows_are_zero else None
    mismatches = []
    for key in sorted(set(query) | set(mart), key=lambda k: tuple(map(str, k))):
        in_mart, in_query = mart.get(key, zero), query.get(key, zero)
        if in_mart == in_query:
            continue
        where = " ".join(map(str, key))
        if in_mart is None or in_query is None:
            mismatches.append(f"{where}: only in the {'query' if in_mart is None else 'mart'}")
            continue
        differing = ", ".join(
            f"{column} mart {m} vs query {q}"
            for column, m, q in zip(spec.measures, in_mart, in_query, strict=True)
            if m != q
        )
        mismatches.append(f"{where}: {differing}")
    return mismatches


def _normalised(spec: MartQuery, values: Sequence[Any]) -> tuple[Any, ...]:
    def value(kind: str, v: Any) -> Any:
        if kind == "share":
            return None if v is None else Decimal(str(v)).quantize(SHARE_STEP)
        if kind == "money":
            return Decimal(str(v or 0)).quantize(CENT)
        return int(v or 0)

    return tuple(value(kind, v) for kind, v in zip(spec.measures.values(), values, strict=True))


def serving_rate(exchanges: Sequence[Any], rows: int) -> dict[str, Any]:
    """Replay recorded requests with a client that only reads the bytes (the bound)."""
    import requests

    session = requests.Session()
    started = time.perf_counter()
    body_bytes = 0
    for exchange in exchanges:
        with session.request(
            exchange.method,
            exchange.url,
            params=exchange.params,
            json=exchange.json_body,
            headers=dict(exchange.headers),
            stream=True,
            timeout=(10, 600),
        ) as response:
            for chunk in response.iter_content(256 * 1024):
                body_bytes += len(chunk)
    seconds = time.perf_counter() - started
    return {
        "requests": len(exchanges),
        "bytes": body_bytes,
        "seconds": round(seconds, 4),
        "rows": rows,
        "rows_per_second": round(rows / seconds, 1) if seconds > 0 else None,
    }


@dataclass(frozen=True)
class RequestBudget:
    """A CRM's published request budget for one kind of endpoint (api-shapes.md)."""

    requests_per_second: float
    description: str


#: Requests per second each CRM allows (HubSpot Pro/Enterprise: 150 per 10 s for CRM
#: objects, 5 per second for search; Salesforce: no per-second limit, an org's daily
#: budget: Enterprise edition 100,000 per 24 h before per-licence additions).
CRM_REQUEST_BUDGETS: dict[str, dict[str, RequestBudget]] = {
    "hubspot": {
        "search": RequestBudget(5.0, "search: 5 requests/s per account"),
        "other": RequestBudget(15.0, "CRM objects: 150 requests/10 s (Pro, Enterprise)"),
    },
    "salesforce": {
        "other": RequestBudget(100_000 / 86_400, "org budget: 100,000 requests/24 h"),
    },
}
MILLION = 1_000_000


def hours_at_real_limit(source: str, exchanges: Sequence[Any], rows: int) -> dict[str, Any] | None:
    """Hours a full load of a million CRM objects takes at the platform's request budget,
    from this run's requests per object on each kind of endpoint (None: not a CRM)."""
    budgets = CRM_REQUEST_BUDGETS.get(source)
    if budgets is None or rows <= 0 or not exchanges:
        return None
    by_kind: dict[str, int] = {}
    for exchange in exchanges:
        kind = "search" if "search" in budgets and exchange.url.endswith("/search") else "other"
        by_kind[kind] = by_kind.get(kind, 0) + 1
    seconds = 0.0
    requests_per_million: dict[str, float] = {}
    for kind, count in by_kind.items():
        per_million = count * MILLION / rows
        requests_per_million[kind] = round(per_million, 1)
        seconds += per_million / budgets[kind].requests_per_second
    return {
        "objects": MILLION,
        "requests_per_million_objects": requests_per_million,
        "budgets": {kind: budgets[kind].description for kind in by_kind},
        "hours": round(seconds / 3600, 3),
    }


# ---------------------------------------------------------------- the run


def run_bench(config: BenchConfig) -> BenchResult:
    """Generate, serve, load the history, load one nightly, measure every stage."""
    from reach2revenue import pipeline
    from reach2revenue.contracts import Interval
    from reach2revenue.credentials import environment_from_connection
    from reach2revenue.sources import SOURCE_NAMES

    home = config.home.resolve()
    for folder in ("world", "landing", "warehouse", "quarantine", "dbt", "gx", "published"):
        _remove_tree(home / folder)
    settings = Settings.for_home(home)
    result = BenchResult(config)
    timer = StageTimer()
    nightly_day = datetime.now(UTC).date() - timedelta(days=1)
    start = nightly_day - timedelta(days=config.days)
    try:
        with timer.stage("generate") as generated:
            generation = generate_in_child(config, start, home / "world", settings)
        result.rows = generation["rows"]
        generated.rows = sum(result.rows.values())
        # The world was made in a child process: its CPU and memory are the child's.
        generated.cpu_seconds = generation["cpu_seconds"]
        generated.peak_rss_bytes = generation["peak_rss_bytes"]

        with standins_process(home / "world") as (connections, standin_pid):
            environment = {
                key: value
                for name, connection in connections.items()
                for key, value in environment_from_connection(
                    name.removesuffix("_default"), connection
                ).items()
            }
            with _environment(environment):
                for phase, first, last in (
                    ("history", start, nightly_day),
                    ("nightly", nightly_day, nightly_day + timedelta(days=1)),
                ):
                    cpu_before = process_cpu_seconds(standin_pid)
                    _run_phase(
                        phase,
                        Interval.from_dates(first, last),
                        settings,
                        timer,
                        result,
                        list(SOURCE_NAMES),
                        pipeline,
                    )
                    result.standins[f"{phase}_cpu_seconds"] = round(
                        process_cpu_seconds(standin_pid) - cpu_before, 3
                    )
                    if phase == "history":
                        warehouse = settings.warehouse_path
                        result.lower_bounds["region_mart"] = region_mart_lower_bound(
                            warehouse, settings, timer
                        )
                        result.lower_bounds["contribution_mart"] = contribution_mart_lower_bound(
                            warehouse, settings, timer
                        )
            if config.airflow:
                # The same nightly again (a re-run: same warehouse) as Airflow runs it.
                result.airflow = airflow_nightly(home, settings, connections, nightly_day)
    finally:
        timer.close()
    result.stages = timer.measures
    return result


def _run_phase(
    phase: str,
    interval: Any,
    settings: Settings,
    timer: StageTimer,
    result: BenchResult,
    sources: Sequence[str],
    pipeline: Any,
) -> None:
    from reach2revenue.http_client import record_exchanges
    from reach2revenue.landing import read_manifest

    manifests: list[str] = []
    with timer.stage(phase):
        for source in sources:
            with (
                record_exchanges() as exchanges,
                timer.stage(f"extract/{source}") as extracted,
            ):
                paths = pipeline.extract(source, interval, settings)
                extracted.rows = sum(read_manifest(Path(p)).record_count for p in paths)
                extracted.extra["requests"] = len(exchanges)
                extracted.extra["bytes"] = sum(e.body_bytes for e in exchanges)
            manifests += paths
            if phase == "history":
                result.lower_bounds.setdefault("extraction", {})[source] = serving_rate(
                    exchanges, extracted.rows or 0
                )
                at_limit = hours_at_real_limit(source, exchanges, extracted.rows or 0)
                if at_limit is not None:
                    result.crm_full_load_at_real_limit[source] = at_limit
        with timer.stage("load_and_validate"):
            pipeline.load_and_validate(manifests, settings, timer)
        with timer.stage("dbt_build") as built:
            summary = pipeline.build(settings)
            built.extra = {
                key: summary.get(key)
                for key in ("models_passed", "data_tests_passed", "unit_tests_passed", "mart_rows")
            }
        with timer.stage("publish") as published:
            summary = pipeline.publish(settings)
            published.extra = {"steps": summary.get("step_seconds"), "bytes": summary["size_bytes"]}


def airflow_nightly(
    home: Path, settings: Settings, connections: Mapping[str, Any], nightly_day: Any
) -> dict[str, Any]:
    """One nightly through ``airflow dags test``: its wall time, the tasks' own time (they
    run one after another there), and the difference: Airflow's overhead (process start,
    DAG parsing, scheduling each task). The metadata DB's migration is done first and not
    counted."""
    from reach2revenue import airflow_runner

    env = airflow_runner.airflow_environment(home / "airflow", settings, dict(connections))
    airflow_runner.ensure_metadata_db(env)
    started: dict[str, float] = {}
    task_seconds: dict[str, float] = {}

    def on_event(task: str, state: str) -> None:
        if state == "running":
            started[task] = time.perf_counter()
        else:
            task_seconds[task] = time.perf_counter() - started.get(task, time.perf_counter())

    run = airflow_runner.run_dag_test(
        env,
        (nightly_day + timedelta(days=1)).isoformat(),
        log_path=home / "logs" / "bench-airflow-nightly.log",
        on_event=on_event,
    )
    if not run.succeeded:
        raise RuntimeError(f"the Airflow nightly failed: {run.log_tail(30)}")
    tasks = sum(task_seconds.values())
    return {
        "wall_seconds": round(run.seconds, 3),
        "task_seconds": {task: round(s, 3) for task, s in sorted(task_seconds.items())},
        "tasks_sum_seconds": round(tasks, 3),
        "overhead_seconds": round(run.seconds - tasks, 3),
    }


def world_row_counts(world: Any) -> dict[str, int]:
    """Rows the world holds per kind (ad report rows, CRM people, deals)."""
    ad_rows = len(world.meta_insights) + sum(
        sum(1 for _ in part.ad_facts()) for part in world.parts.values()
    )
    won = sum(sum(1 for _ in part.won_deal_facts()) for part in world.parts.values())
    return {
        "ad_report_rows": ad_rows,
        "hubspot_contacts": len(world.contacts),
        "hubspot_deals": len(world.deals),
        "other_crm_won_deals": won,
    }


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def write_result(result: BenchResult, path: Path) -> Path:
    """Write the run's figures as JSON (sorted keys, stable for diffs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_dict(), indent=2, sort_keys=True, default=str) + "\n")
    return path

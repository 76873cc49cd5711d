"""Great Expectations checks on every raw batch before it is merged (write-audit-publish).

The pipeline flattens one extraction into a pandas frame (the raw table's columns, all
text as the API sent it, plus ``_landed_file`` and ``_extraction_id``) and calls
:func:`validate_batch`. The batch is checked against ``expectations/<source>__<entity>.json``
(a GX 1.x ExpectationSuite as GX serialises it); on any failed expectation
:class:`DataQualityError` is raised and the caller must not merge the batch.

Great Expectations takes 6-7 s to import, so it is imported lazily on the first
validation and never at module import: DAG files may import this module freely. The
context, data source and suites are cached per process, so later batches cost only the
validation itself.

Personal data (``email``, ``firstname``, ``lastname`` and any column a suite lists under
``meta.reach2revenue.personal_columns``) never appears in messages or reports: values of
those columns are masked, and GX is asked to leave unexpected values out of its results.

Data Docs: the pipeline opens a :class:`ValidationRun` per load and passes it to
:func:`validate_batch`, which keeps every batch's GX result (passed or failed) in a
file-based GX validation results store under ``$R2R_HOME/gx/``. :func:`build_data_docs`
then prunes the store to the last N runs (``R2R_GX_KEEP_RUNS``) and rebuilds the static
Data Docs site, ``$R2R_HOME/gx/uncommitted/data_docs/local_site/index.html``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reach2revenue.contracts import LINEAGE_COLUMNS, RawTable
from reach2revenue.failures import NonRetryableError
from reach2revenue.settings import REPO_ROOT, Settings

if TYPE_CHECKING:
    from types import ModuleType

    import pandas as pd

logger = logging.getLogger(__name__)


#: Always masked, whatever a suite says: these hold personal data in HubSpot contacts.
PERSONAL_COLUMNS: frozenset[str] = frozenset({"email", "firstname", "lastname"})

MASK = "***"
MAX_EXAMPLES = 5
MAX_DATES_IN_MESSAGE = 10
MAX_VALUE_CHARS = 120
_MAX_SHOWN_VALUES = 12

# COMPLETE gives every unexpected row index, so the failing dates are all reported, not
# just those of the first 20 rows. Unexpected *values* are left out on purpose: examples
# are built from the frame (where personal columns are masked), and GX's own result
# object then never carries an e-mail address around.
_RESULT_FORMAT: dict[str, Any] = {
    "result_format": "COMPLETE",
    "exclude_unexpected_values": True,
    "return_unexpected_index_query": False,
}

_DAY_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}")


# --------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class ExpectationFailure:
    """One failed expectation of a batch.

    ``examples`` holds up to :data:`MAX_EXAMPLES` offending rows, reduced to the key
    columns, the offending column(s), the date column and ``_landed_file``; personal
    values are masked. ``dates`` are the distinct days (of the suite's date column) of
    all offending rows. ``observed_value``/``details`` are set for table-level
    expectations (row count, column set); ``error`` when GX raised while evaluating.
    """

    expectation_type: str
    column: str | None
    kwargs: dict[str, Any]
    unexpected_count: int | None
    examples: list[dict[str, Any]] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    observed_value: Any = None
    details: dict[str, Any] | None = None
    error: str | None = None
    notes: str | None = None


@dataclass(frozen=True)
class ValidationReport:
    """Outcome of validating one raw batch; ``to_dict()`` is what a JSON report holds."""

    source: str
    entity: str
    label: str
    suite_path: str
    success: bool
    row_count: int
    evaluated_expectations: int
    successful_expectations: int
    failures: list[ExpectationFailure]
    elapsed_seconds: float
    date_column: str | None = None
    batch_dates: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (no personal values: they are masked at source)."""
        return _json_safe(asdict(self))

    def summary(self) -> str:
        """Return a one-line outcome for logs."""
        verdict = "passed all" if self.success else f"failed {len(self.failures)} of"
        return (
            f"{self.source}/{self.entity} [{self.label}]: {verdict} "
            f"{self.evaluated_expectations} expectations on {self.row_count} rows "
            f"in {self.elapsed_seconds:.2f}s"
        )

    def describe(self) -> str:
        """Return the multi-line explanation used as the :class:`DataQualityError` message."""
        days = ""
        if self.date_column and self.batch_dates:
            days = f", {self.date_column} days {_span(self.batch_dates)}"
        lines = [
            f"Data quality check failed for {self.source}/{self.entity}, "
            f"batch {self.label!r}: nothing of this batch may be merged.",
            f"  {len(self.failures)} of {self.evaluated_expectations} expectations failed "
            f"on {self.row_count} rows{days} (suite {self.suite_path})",
        ]
        for number, failure in enumerate(self.failures, start=1):
            lines.extend(_describe_failure(number, failure, self))
        return "\n".join(lines)


class DataQualityError(NonRetryableError):
    """A raw batch failed its expectation suite; ``report`` holds the details."""

    def __init__(self, *reports: ValidationReport, report_path: Path | None = None) -> None:
        if not reports:
            raise TypeError("DataQualityError needs at least one ValidationReport")
        self.reports = list(reports)
        self.report = reports[0]
        self.report_path = report_path
        message = "\n\n".join(report.describe() for report in reports)
        if report_path is not None:
            message += (
                f"\n\nNothing was merged or published. Report: {report_path}; "
                "the landed files are kept."
            )
        super().__init__(message)


def _describe_failure(
    number: int, failure: ExpectationFailure, report: ValidationReport
) -> list[str]:
    where = f" on column {failure.column!r}" if failure.column else ""
    # column_set is the whole column list: the mismatch details say what differs.
    shown = {k: v for k, v in failure.kwargs.items() if k not in (*_COLUMN_KWARGS, "column_set")}
    if isinstance(shown.get("value_set"), list) and len(shown["value_set"]) > _MAX_SHOWN_VALUES:
        # A reference set has hundreds of codes: the example rows show the culprit.
        shown["value_set"] = f"<{len(shown['value_set'])} accepted values>"
    args = f" ({', '.join(f'{k}={_plain(v)}' for k, v in shown.items())})" if shown else ""
    head = f"  [{number}] {failure.expectation_type}{where}{args}"
    if failure.error is not None:
        lines = [f"{head}: could not be evaluated: {failure.error}"]
    elif failure.unexpected_count is None:
        mismatched = (failure.details or {}).get("mismatched")
        if isinstance(mismatched, dict):
            observed = "; ".join(f"{k} columns {v}" for k, v in mismatched.items())
        else:
            observed = f"observed {failure.observed_value!r}"
        lines = [f"{head}: {observed}"]
    else:
        text = f"{head}: {failure.unexpected_count} of {report.row_count} rows unexpected"
        if report.date_column and failure.dates:
            shown_dates = failure.dates[:MAX_DATES_IN_MESSAGE]
            more = len(failure.dates) - len(shown_dates)
            text += f"; {report.date_column} day(s): {', '.join(shown_dates)}"
            text += f" (+{more} more)" if more else ""
        elif report.date_column:
            text += f"; no parseable {report.date_column} on those rows"
        lines = [text]
    if failure.notes:
        lines.append(f"      why: {failure.notes}")
    for example in failure.examples:
        lines.append("      e.g. " + " ".join(f"{k}={_plain(v)}" for k, v in example.items()))
    return lines


def _plain(value: Any) -> str:
    """Quote strings without repr's escaping, so a regex reads as it is written."""
    return f"'{value}'" if isinstance(value, str) else repr(value)


# --------------------------------------------------------------------------- suites


def suite_path(source: str, entity: str, settings: Settings | None = None) -> Path:
    """Return the path of the suite for ``source``/``entity`` (which need not exist)."""
    settings = settings or Settings.from_env()
    return settings.expectations_dir / f"{source}__{entity}.json"


def list_suites(settings: Settings | None = None) -> list[tuple[str, str]]:
    """Return ``(source, entity)`` for every suite file in the expectations directory."""
    settings = settings or Settings.from_env()
    found = []
    for path in sorted(settings.expectations_dir.glob("*__*.json")):
        source, _, entity = path.stem.partition("__")
        found.append((source, entity))
    return found


def load_suite_document(
    source: str, entity: str, settings: Settings | None = None
) -> dict[str, Any]:
    """Return the suite file's JSON (as GX serialises an ExpectationSuite), without GX."""
    path = suite_path(source, entity, settings)
    if not path.is_file():
        raise FileNotFoundError(f"no expectation suite for {source}/{entity}: {path} is missing")
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def value_set_reference(expectation: dict[str, Any]) -> str | None:
    """The named reference set an expectation takes its ``value_set`` from, if any."""
    meta = expectation.get("meta") or {}
    name = (meta.get("reach2revenue") or {}).get("value_set_from")
    return str(name) if name else None


def resolve_value_sets(document: dict[str, Any]) -> dict[str, Any]:
    """The suite with every ``value_set_from`` reference filled from reference data.

    Suites name a set (``iso_4217``, ...) instead of listing codes, so accepted values
    come from maintained data; see :mod:`reach2revenue.reference.value_sets`.
    """
    from reach2revenue.reference.value_sets import value_set

    expectations = []
    for expectation in document.get("expectations", []):
        name = value_set_reference(expectation)
        if name is not None:
            kwargs = dict(expectation.get("kwargs", {}))
            kwargs["value_set"] = sorted(value_set(name))
            expectation = {**expectation, "kwargs": kwargs}
        expectations.append(expectation)
    return {**document, "expectations": expectations}


def check_suites_cover_raw_schema(
    tables: Iterable[RawTable], settings: Settings | None = None
) -> list[str]:
    """Return the problems between the raw tables and the suites.

    Empty means: every raw table has a suite, every suite belongs to a raw table, each
    suite expects exactly the table's columns plus lineage, names the table's key in its
    meta, and checks that key for nulls and duplicates. Reads JSON only (no GX).
    """
    settings = settings or Settings.from_env()
    by_name = {table.name: table for table in tables}
    suites = {f"{source}_{entity}": (source, entity) for source, entity in list_suites(settings)}
    problems = [
        f"raw.{name} has no suite ({settings.expectations_dir}/<source>__<entity>.json)"
        for name in sorted(by_name.keys() - suites.keys())
    ]
    problems += [
        f"suite {source}__{entity}.json matches no raw table"
        for name, (source, entity) in sorted(suites.items())
        if name not in by_name
    ]
    for name in sorted(by_name.keys() & suites.keys()):
        source, entity = suites[name]
        document = load_suite_document(source, entity, settings)
        problems += _contract_problems(f"{source}__{entity}.json", by_name[name], document)
    return problems


def _contract_problems(name: str, contract: RawTable, document: dict[str, Any]) -> list[str]:
    problems = []
    meta = document.get("meta", {}).get("reach2revenue", {})
    if meta.get("raw_table") != contract.qualified_name:
        problems.append(f"{name}: meta.reach2revenue.raw_table is not {contract.qualified_name}")
    if tuple(meta.get("key_columns", ())) != contract.key:
        problems.append(
            f"{name}: key_columns {meta.get('key_columns')} != raw schema key {list(contract.key)}"
        )
    expectations = document.get("expectations", [])
    from reach2revenue.reference.value_sets import VALUE_SETS

    for expectation in expectations:
        reference = value_set_reference(expectation)
        if reference is not None and reference not in VALUE_SETS:
            problems.append(
                f"{name}: {expectation['kwargs'].get('column')} takes its value_set from "
                f"unknown set {reference!r}"
            )
    column_sets = [
        set(e["kwargs"].get("column_set", ()))
        for e in expectations
        if e["type"] == "expect_table_columns_to_match_set"
    ]
    expected_columns = set(contract.columns) | set(LINEAGE_COLUMNS)
    if column_sets != [expected_columns]:
        problems.append(
            f"{name}: needs one expect_table_columns_to_match_set with exactly "
            f"{sorted(expected_columns)}"
        )
    not_null = {
        e["kwargs"].get("column")
        for e in expectations
        if e["type"] == "expect_column_values_to_not_be_null"
    }
    for column in contract.key:
        if column not in not_null:
            problems.append(
                f"{name}: key column {column} has no expect_column_values_to_not_be_null"
            )
    unique_keys = {
        tuple(e["kwargs"].get("column_list", ()))
        for e in expectations
        if e["type"] == "expect_compound_columns_to_be_unique"
    } | {
        (e["kwargs"].get("column"),)
        for e in expectations
        if e["type"] == "expect_column_values_to_be_unique"
    }
    if contract.key not in unique_keys:
        problems.append(f"{name}: no uniqueness expectation on the key {list(contract.key)}")
    return problems


# --------------------------------------------------------------------------- GX runtime


@dataclass(frozen=True)
class _SuiteSpec:
    """A loaded suite plus the reach2revenue metadata the reports need."""

    name: str
    path: Path
    suite: Any  # great_expectations.ExpectationSuite (GX is imported lazily)
    key_columns: tuple[str, ...]
    date_column: str | None
    personal_columns: frozenset[str]
    # (type, columns) -> position in the file, so failures are reported in suite order.
    order: dict[tuple[str, tuple[str, ...]], int]


@dataclass
class _GxRuntime:
    """The per-process ephemeral context and its in-memory pandas data source."""

    gx: ModuleType
    context: Any
    datasource: Any
    batch_definitions: dict[str, Any] = field(default_factory=dict)


_LOCK = threading.RLock()
_RUNTIME: _GxRuntime | None = None
# Keyed by path; the stamp (mtime, size) reloads a suite edited while a worker runs.
_SUITES: dict[Path, tuple[tuple[int, int], _SuiteSpec]] = {}


def quiet_great_expectations() -> None:
    """Make GX quiet and offline; call before GX is first imported for full effect.

    Without this, each import logs about 214 "Skipping registering function" lines under
    Airflow. Idempotent and cheap (does not import GX).
    """
    # Usage statistics would try the network: this project runs offline.
    os.environ["GX_ANALYTICS_ENABLED"] = "False"
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    logging.getLogger("great_expectations._docs_decorators").setLevel(logging.WARNING)


def _import_gx() -> ModuleType:
    quiet_great_expectations()
    import great_expectations as gx
    from great_expectations.execution_engine import pandas_execution_engine

    # This module sets its own logger to INFO at import time, overriding the parent.
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    # GX fingerprints each batch (md5 over pandas' hash of every row) when its shallow
    # size is under HASH_THRESHOLD, which is nearly always: a batch marker nothing here
    # reads, and 15% of validating a load at bench scale 1 (cProfile, issue 10). There is
    # no setting for it; a threshold of 0 skips it.
    pandas_execution_engine.HASH_THRESHOLD = 0
    return gx


def _runtime() -> _GxRuntime:
    global _RUNTIME
    with _LOCK:
        if _RUNTIME is None:
            gx = _import_gx()
            from great_expectations.data_context.types.base import (
                DataContextConfig,
                InMemoryStoreBackendDefaults,
                ProgressBarsConfig,
            )

            config = DataContextConfig(
                # No Data Docs here: without this GX creates a temp docs dir per context.
                store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
                analytics_enabled=False,
                # "Calculating Metrics" bars would litter task logs.
                progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
            )
            context = gx.get_context(mode="ephemeral", project_config=config)
            datasource = context.data_sources.add_pandas("reach2revenue_raw_batches")
            _RUNTIME = _GxRuntime(gx=gx, context=context, datasource=datasource)
        return _RUNTIME


def _batch_definition(runtime: _GxRuntime, name: str) -> Any:
    with _LOCK:
        if name not in runtime.batch_definitions:
            asset = runtime.datasource.add_dataframe_asset(name)
            runtime.batch_definitions[name] = asset.add_batch_definition_whole_dataframe(
                "whole_batch"
            )
        return runtime.batch_definitions[name]


def _load_suite(runtime: _GxRuntime, source: str, entity: str, settings: Settings) -> _SuiteSpec:
    path = suite_path(source, entity, settings)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no expectation suite for {source}/{entity}: {path} is missing"
        ) from None
    stamp = (stat.st_mtime_ns, stat.st_size)
    with _LOCK:
        cached = _SUITES.get(path)
        if cached and cached[0] == stamp:
            return cached[1]
        document = resolve_value_sets(json.loads(path.read_text(encoding="utf-8")))
        meta = document.get("meta", {}).get("reach2revenue", {})
        spec = _SuiteSpec(
            name=document.get("name") or path.stem,
            path=path,
            suite=runtime.gx.ExpectationSuite(**document),
            key_columns=tuple(meta.get("key_columns", ())),
            date_column=meta.get("date_column"),
            personal_columns=PERSONAL_COLUMNS | frozenset(meta.get("personal_columns", ())),
            order={
                (e["type"], tuple(_columns_of(e.get("kwargs", {})))): position
                for position, e in reversed(list(enumerate(document.get("expectations", []))))
            },
        )
        _SUITES[path] = (stamp, spec)
        return spec


# --------------------------------------------------------------------------- validation


def validate_batch(
    source: str,
    entity: str,
    frame: pd.DataFrame,
    *,
    label: str,
    settings: Settings | None = None,
    run: ValidationRun | None = None,
) -> ValidationReport:
    """Validate one raw batch against ``expectations/<source>__<entity>.json``.

    Args:
        source: e.g. ``meta_ads`` or ``hubspot``.
        entity: e.g. ``insights``, ``contacts``, ``deals``, ``deal_contacts``.
        frame: the batch's rows; columns exactly the raw table's plus ``_landed_file``
            and ``_extraction_id``, values str or None.
        label: names the batch in messages (should carry its date range).
        settings: where the suites live; ``Settings.from_env()`` by default.
        run: the load run whose GX store keeps this result for Data Docs (passed or
            failed); None keeps nothing.

    Returns:
        The report of a batch that passed every expectation.

    Raises:
        DataQualityError: at least one expectation failed; the batch must not be merged.
        FileNotFoundError: there is no suite for ``source``/``entity``.
    """
    started = time.perf_counter()
    settings = settings or Settings.from_env()
    runtime = _runtime()
    spec = _load_suite(runtime, source, entity, settings)
    # Positional index so GX's unexpected_index_list maps straight back to frame rows.
    data = frame.reset_index(drop=True)
    batch = _batch_definition(runtime, spec.name).get_batch(batch_parameters={"dataframe": data})
    result = batch.validate(spec.suite, result_format=_RESULT_FORMAT)

    failures = sorted(
        (_failure(item, data, spec) for item in result.results if not item.success),
        # GX returns results in its own order; the suite's order reads better.
        key=lambda f: spec.order.get((f.expectation_type, tuple(_columns_of(f.kwargs))), 1 << 30),
    )
    if run is not None:
        run.keep(result, batch_id=batch.id, suite=spec.suite, label=label)
    statistics = result.statistics
    date_column = spec.date_column if spec.date_column in data.columns else None
    report = ValidationReport(
        source=source,
        entity=entity,
        label=label,
        suite_path=_display_path(spec.path),
        success=bool(result.success),
        row_count=len(data),
        evaluated_expectations=int(statistics["evaluated_expectations"]),
        successful_expectations=int(statistics["successful_expectations"]),
        failures=failures,
        elapsed_seconds=round(time.perf_counter() - started, 4),
        date_column=spec.date_column,
        batch_dates=_days(data[date_column].tolist()) if date_column else [],
    )
    if not report.success:
        # Not logged here: the caller's handler (or Airflow) prints the exception once.
        raise DataQualityError(report)
    logger.info("%s", report.summary())
    return report


# --------------------------------------------------------------------------- Data Docs

#: Unexpected row positions kept per failed expectation in a stored result: the report
#: already lists the failing days and examples; a full list would bloat every page.
MAX_STORED_INDEXES = 100
_DOCS_RUN_NAME = "reach2revenue_load"
_DOCS_CONTEXTS: dict[Path, Any] = {}


@dataclass
class ValidationRun:
    """One load's validation results, kept in the GX store under ``gx_dir`` for Data Docs.

    Results are written as they come (:meth:`keep`), so a load that dies half-way still
    leaves what it validated; :func:`build_data_docs` renders them.
    """

    gx_dir: Path
    run_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Suite and validation result identifiers stored by this run, in order.
    keys: list[Any] = field(default_factory=list)

    @classmethod
    def start(cls, settings: Settings) -> ValidationRun:
        """A new run storing under ``settings.gx_dir``."""
        return cls(gx_dir=settings.gx_dir)

    def result_keys(self) -> list[Any]:
        """The validation result identifiers of this run."""
        return [key for key in self.keys if hasattr(key, "run_id")]

    def run_id(self) -> Any:
        """GX's ``RunIdentifier`` of this run (all its batches share it)."""
        from great_expectations.core.run_identifier import RunIdentifier

        return RunIdentifier(run_name=_DOCS_RUN_NAME, run_time=self.run_time)

    def keep(self, result: Any, *, batch_id: str, suite: Any, label: str) -> None:
        """Store one batch's ``ExpectationSuiteValidationResult`` (passed or failed).

        The suite is stored beside it (once per run), so the docs show the suite the
        batch was checked against.
        """
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        context = _docs_context(self.gx_dir)
        suite_key = ExpectationSuiteIdentifier(name=suite.name)
        if suite_key not in self.keys:
            context.expectations_store.set(suite_key, suite)
            self.keys.append(suite_key)
        run_id = self.run_id()
        result.meta["run_id"] = run_id
        result.meta["validation_time"] = self.run_time
        result.meta["reach2revenue_batch"] = label
        for item in result.results:
            indexes = (item.result or {}).get("unexpected_index_list")
            if isinstance(indexes, list) and len(indexes) > MAX_STORED_INDEXES:
                item.result["unexpected_index_list"] = indexes[:MAX_STORED_INDEXES]
        key = ValidationResultIdentifier(
            expectation_suite_identifier=suite_key, run_id=run_id, batch_identifier=batch_id
        )
        context.validation_results_store.set(key, result)
        self.keys.append(key)


def _docs_context(gx_dir: Path) -> Any:
    """The file-backed GX context of one store folder (one per folder and process).

    Ephemeral as a project (no datasources are saved: batches are validated in memory),
    with every store and the Data Docs site on the file system under ``gx_dir``.
    """
    gx_dir = Path(gx_dir).resolve()
    with _LOCK:
        context = _DOCS_CONTEXTS.get(gx_dir)
        if context is None:
            gx = _import_gx()
            from great_expectations.data_context.types.base import (
                DataContextConfig,
                FilesystemStoreBackendDefaults,
                ProgressBarsConfig,
            )

            config = DataContextConfig(
                store_backend_defaults=FilesystemStoreBackendDefaults(root_directory=str(gx_dir)),
                analytics_enabled=False,
                progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
            )
            context = gx.get_context(mode="ephemeral", project_config=config)
            _DOCS_CONTEXTS[gx_dir] = context
        return context


def data_docs_index(gx_dir: Path) -> Path:
    """Where the Data Docs site's ``index.html`` is (or will be) under ``gx_dir``."""
    return Path(gx_dir) / "uncommitted" / "data_docs" / "local_site" / "index.html"


def stored_runs(gx_dir: Path) -> dict[datetime, list[Any]]:
    """The validation results in the store, grouped by run (newest first)."""
    store = _docs_context(gx_dir).validation_results_store
    runs: dict[datetime, list[Any]] = {}
    for key in store.list_keys():
        runs.setdefault(_run_time(key), []).append(key)
    return dict(sorted(runs.items(), key=lambda item: item[0], reverse=True))


def _run_time(key: Any) -> datetime:
    moment = key.run_id.run_time
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def prune_validation_results(gx_dir: Path, keep_runs: int) -> int:
    """Delete the results of all but the newest ``keep_runs`` runs; return how many went.

    Their Data Docs pages go at the next build (GX drops pages without a result).
    """
    store = _docs_context(gx_dir).validation_results_store
    removed = 0
    for keys in list(stored_runs(gx_dir).values())[max(keep_runs, 1) :]:
        for key in keys:
            store.remove_key(key)
            removed += 1
    validations = Path(gx_dir) / "uncommitted" / "validations"
    # GX leaves a folder per suite/run/time behind: remove those now empty.
    for folder in sorted(validations.glob("**/*"), key=lambda p: len(p.parts), reverse=True):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return removed


def build_data_docs(run: ValidationRun, keep_runs: int) -> Path:
    """Prune the store to the last ``keep_runs`` runs and rebuild the Data Docs site.

    Only this run's pages are rendered (older pages stay as they were built); the index
    lists every kept result, passed and failed. Returns the path of ``index.html``.
    """
    started = time.perf_counter()
    removed = prune_validation_results(run.gx_dir, keep_runs)
    context = _docs_context(run.gx_dir)
    context.build_data_docs(resource_identifiers=list(run.keys) or None)
    index = data_docs_index(run.gx_dir)
    logger.info(
        "Data Docs: %s (%d results of this run, %d old results pruned, %.2fs)",
        index,
        len(run.result_keys()),
        removed,
        time.perf_counter() - started,
    )
    return index


_COLUMN_KWARGS = ("column", "column_list", "column_A", "column_B")


def _failure(item: Any, data: pd.DataFrame, spec: _SuiteSpec) -> ExpectationFailure:
    config = item.expectation_config
    kwargs = {k: v for k, v in dict(config.kwargs).items() if k != "batch_id"}
    columns = _columns_of(kwargs)
    result = dict(item.result or {})
    notes = config.notes if isinstance(config.notes, str) else None
    error = _exception_message(item.exception_info)
    if error is not None:
        return ExpectationFailure(
            expectation_type=config.type,
            column=", ".join(columns) or None,
            kwargs=kwargs,
            unexpected_count=None,
            error=error,
            notes=notes,
        )
    indexes = result.get("unexpected_index_list")
    unexpected_count = result.get("unexpected_count")
    examples: list[dict[str, Any]] = []
    dates: list[str] = []
    if indexes is not None:
        # Single positions for column-map expectations; be lenient about dict forms.
        rows = [i if isinstance(i, int) else None for i in indexes]
        rows = [i for i in rows if i is not None and 0 <= i < len(data)]
        examples = _examples(data, rows[:MAX_EXAMPLES], columns, spec)
        if spec.date_column in data.columns:
            dates = _days(data[spec.date_column].take(rows).tolist())
    observed = result.get("observed_value")
    details = result.get("details")
    return ExpectationFailure(
        expectation_type=config.type,
        column=", ".join(columns) or None,
        kwargs=kwargs,
        unexpected_count=int(unexpected_count) if unexpected_count is not None else None,
        examples=examples,
        dates=dates,
        observed_value=observed,
        details=dict(details) if isinstance(details, dict) else None,
        notes=notes,
    )


def _columns_of(kwargs: dict[str, Any]) -> list[str]:
    columns: list[str] = []
    for key in _COLUMN_KWARGS:
        value = kwargs.get(key)
        if isinstance(value, str):
            columns.append(value)
        elif isinstance(value, Sequence):
            columns.extend(str(v) for v in value)
    return columns


def _examples(
    data: pd.DataFrame, rows: list[int], columns: list[str], spec: _SuiteSpec
) -> list[dict[str, Any]]:
    wanted = [*spec.key_columns, *columns]
    if spec.date_column:
        wanted.append(spec.date_column)
    wanted.append("_landed_file")
    shown = [c for c in dict.fromkeys(wanted) if c in data.columns]
    examples = []
    for row in rows:
        record = data.iloc[row]
        examples.append({column: _shown_value(column, record[column], spec) for column in shown})
    return examples


def _shown_value(column: str, value: Any, spec: _SuiteSpec) -> Any:
    if _is_missing(value):
        return None
    if column in spec.personal_columns:
        return MASK
    text = str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "..."


def _is_missing(value: Any) -> bool:
    import pandas as pd  # already loaded: the caller passed a DataFrame

    # None, NaN (pandas 3 str dtype) and pd.NA (nullable string dtypes) all mean null.
    return value is None or bool(pd.api.types.is_scalar(value) and pd.isna(value))


def _days(values: list[Any]) -> list[str]:
    """Return the sorted distinct YYYY-MM-DD prefixes (UTC day of an ISO instant)."""
    days = set()
    for value in values:
        if isinstance(value, str):
            match = _DAY_PREFIX.match(value)
            if match:
                days.add(match.group(0))
    return sorted(days)


def _span(days: list[str]) -> str:
    return days[0] if len(days) == 1 else f"{days[0]}..{days[-1]}"


def _exception_message(info: Any) -> str | None:
    """Return GX's exception message when evaluating raised, else None.

    GX reports either one ``{raised_exception, exception_message}`` dict or a dict of
    those keyed by metric id.
    """
    if not isinstance(info, dict):
        return None
    entries = [info] if "raised_exception" in info else list(info.values())
    for entry in entries:
        if isinstance(entry, dict) and entry.get("raised_exception"):
            message = str(entry.get("exception_message") or "unknown error")
            return message if len(message) <= 300 else message[:300] + "..."
    return None


def _display_path(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return _json_safe(item())
    return str(value)

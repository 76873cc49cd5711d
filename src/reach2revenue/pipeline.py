"""The steps of the nightly pipeline, one function per Airflow task.

The DAG file only wires these together; everything here is plain Python that tests and
the CLI call directly. Heavy libraries (GX, dbt) are imported inside the steps that need
them so that parsing the DAG stays cheap.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reach2revenue.contracts import ExtractRequest, Interval
from reach2revenue.settings import Settings

if TYPE_CHECKING:  # heavy modules: imported by the steps that use them
    from reach2revenue.quality import ValidationReport, ValidationRun
    from reach2revenue.raw import Batch
    from reach2revenue.timing import StageTimer
    from reach2revenue.volume import VolumeFinding

log = logging.getLogger(__name__)

__all__ = ["Interval", "build", "extract", "interval_from_context", "load_and_validate", "publish"]


def interval_from_context(context: Mapping[str, Any]) -> Interval:
    """The interval a task processes: the run's params, else its data interval.

    Params ``interval_start`` / ``interval_end`` (``YYYY-MM-DD``, typed in the DAG's
    trigger form; the same keys in the run conf are read too) let one manual run load a
    whole history; without them the run's data interval is used, so a manual run triggered
    with ``data_interval_start/_end`` loads its whole data interval and a backfill run
    loads its own day (``reach2revenue.run_params``).

    Raises:
        IntervalError: one bound only, a bound that is not a date, an empty interval, an
            interval in the future, params on a backfill run, or no interval at all
            (retrying cannot fix a mistyped trigger).
    """
    from reach2revenue import run_params

    dag_run = context.get("dag_run")
    start = context.get("data_interval_start")
    end = context.get("data_interval_end")
    run_type = getattr(dag_run, "run_type", None)
    interval = run_params.resolve_interval(
        params=context.get("params"),
        conf=getattr(dag_run, "conf", None),
        data_interval_start=start,
        data_interval_end=end,
        run_type=str(getattr(run_type, "value", run_type)) if run_type else None,
        tolerance=Settings.from_env().interval_tolerance,
    )
    mismatch = run_params.describe_mismatch(interval, start, end)
    if mismatch:
        log.warning(mismatch)
    return interval


def extract(source: str, interval: Interval, settings: Settings | None = None) -> list[str]:
    """Extract one registered source for the interval into the landing zone.

    Returns the manifest paths (as text, for XCom). The source's credentials and options
    come from its Airflow connection or the environment (``reach2revenue.credentials``).
    """
    from reach2revenue import cursors
    from reach2revenue.credentials import get_credentials
    from reach2revenue.sources import get_source

    settings = settings or Settings.from_env()
    # Before any request or landed file: a future interval would move cursors past what
    # exists, and a later failed night would then leave a gap.
    cursors.check_interval(interval, now=datetime.now(UTC), tolerance=settings.interval_tolerance)
    registered = get_source(source)
    request = ExtractRequest(interval, get_credentials(registered), settings)
    manifests = registered.extract(request)
    log.info("extracted %s for %s: %d manifests", source, interval, len(manifests))
    return [str(path) for path in manifests]


def load_and_validate(
    manifest_paths: Sequence[str | Path],
    settings: Settings | None = None,
    timer: StageTimer | None = None,
) -> dict[str, Any]:
    """Validate every landed batch, then merge them all into the raw schema.

    Write-audit-publish at the raw layer: if any batch fails its expectation suite,
    nothing is merged, a report is written to the quarantine folder beside the kept
    landed files, and `DataQualityError` names the source, dates, expectation and rows.
    A batch whose size is far off its table's earlier loads fails the same way with
    `reach2revenue.volume.VolumeError`. Every result, passed or failed, is kept in the GX
    store under ``$R2R_HOME/gx/`` and the Data Docs site is rebuilt: the summary's
    ``data_docs`` is its ``index.html``.
    Before that, every landed page is held to its table's declared response schema: a
    drifted one raises `reach2revenue.drift.SchemaDriftError` (nothing merged, landed files
    kept); fields the schema does not know are logged and listed under ``schema_warnings``.
    ``timer`` (the bench's) records the steps: land (read and check the landed pages),
    validate (GX and Data Docs), volume, load (merge into raw).
    """
    import duckdb

    from reach2revenue import cursors, quality, raw, volume
    from reach2revenue.sources import raw_tables
    from reach2revenue.timing import NO_TIMER

    settings = settings or Settings.from_env()
    timer = timer or NO_TIMER
    tables = raw_tables()
    # Structure first: a drifted page raises SchemaDriftError here, before any merge.
    with timer.stage("land") as landed:
        batches = raw.batches_from_manifests([Path(p) for p in manifest_paths], tables)
        landed.rows = sum(len(batch.frame) for batch in batches)
    schema_warnings = [warning for batch in batches for warning in batch.schema_warnings]
    for warning in schema_warnings:
        log.warning("schema: %s", warning)

    # Validate every batch before raising, so one run reports all the bad ones. Every
    # result, passed or failed, goes to the GX store; Data Docs are rebuilt either way.
    with timer.stage("validate", rows=landed.rows):
        validation_run = quality.ValidationRun.start(settings)
        reports = [_validate(batch, settings, validation_run) for batch in batches]
        data_docs = quality.build_data_docs(validation_run, settings.gx_keep_runs)
    log.info("Data Docs: %s", data_docs)
    failed = [report for report in reports if not report.success]
    # Sizes against each table's earlier loads (volume.py): a collapse or an explosion.
    with timer.stage("volume", rows=landed.rows):
        findings = volume.check_batches(batches, settings)
    if failed or findings:
        report_path = _quarantine(failed, batches, settings, findings, data_docs)
        if failed:
            raise quality.DataQualityError(*failed, report_path=report_path)
        raise volume.VolumeError(findings, report_path=report_path)

    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    merged: dict[str, Any] = {}
    with (
        timer.stage("load", rows=landed.rows),
        duckdb.connect(str(settings.warehouse_path)) as con,
    ):
        raw.ensure_raw_schema(con, tables.values())
        for batch in batches:
            stats = raw.merge_batch(con, batch)
            merged[f"{batch.source}/{batch.entity}"] = stats.to_dict()
        row_counts = {
            t.qualified_name: con.execute(f"select count(*) from {t.qualified_name}").fetchall()[0][
                0
            ]
            for t in tables.values()
        }
    for batch in batches:
        cursors.advance_cursor(
            settings.landing_dir, batch.source, batch.entity, batch.loaded_through
        )
    volume.record_loads(batches, settings)
    summary = {
        "batches": [
            {"batch": r.label, "rows": r.row_count, "expectations": r.evaluated_expectations}
            for r in reports
        ],
        "merged": merged,
        "raw_row_counts": row_counts,
        "data_docs": str(data_docs),
        "schema_warnings": schema_warnings,
    }
    log.info("loaded and validated: %s", json.dumps(summary, default=str))
    return summary


def _validate(batch: Batch, settings: Settings, run: ValidationRun) -> ValidationReport:
    """The batch's validation report, passed or failed (failures are not raised here)."""
    from reach2revenue.quality import DataQualityError, validate_batch

    try:
        return validate_batch(
            batch.source, batch.entity, batch.frame, label=batch.label, settings=settings, run=run
        )
    except DataQualityError as error:
        return error.report


def _quarantine(
    failed: Sequence[ValidationReport],
    batches: Sequence[Batch],
    settings: Settings,
    volume_findings: Sequence[VolumeFinding] = (),
    data_docs: Path | None = None,
) -> Path:
    """Keep the evidence: which batches failed, why, and where their landed files are."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = settings.home / "quarantine" / stamp
    folder.mkdir(parents=True, exist_ok=True)
    failed_keys = {(r.source, r.entity) for r in failed}
    failed_keys |= {(f.source, f.entity) for f in volume_findings}
    document = {
        "failed": [r.to_dict() for r in failed],
        "volume": [f.to_dict() for f in volume_findings],
        "data_docs": str(data_docs) if data_docs else None,
        "landed_files": {
            f"{b.source}/{b.entity}": sorted({str(m.path) for m in b.manifests})
            for b in batches
            if (b.source, b.entity) in failed_keys
        },
    }
    path = folder / "validation_report.json"
    path.write_text(json.dumps(document, indent=2, default=str))
    return path


def build(settings: Settings | None = None) -> dict[str, Any]:
    """Build and test the dbt project on the build copy of the warehouse.

    What was published but could not be placed (money without a usable FX rate, country
    spellings without a region) is logged as warnings and returned under
    ``data_quality``: it does not stop the run, and it does not go unnoticed.
    """
    from reach2revenue.sources import dbt_union_vars
    from reach2revenue.transform import dbt_build, read_data_quality_findings

    settings = settings or Settings.from_env()
    # The unions read exactly the registered sources (dbt_project.yml keeps the same
    # lists for standalone dbt runs; a test keeps the two equal).
    # Unit tests check the SQL against fixed fixtures, not the night's data: they run
    # where the code changes (make test), not on every load (issue 10: fixed costs).
    summary = dbt_build(settings, extra_vars=dbt_union_vars(), unit_tests=False).to_dict()
    findings = read_data_quality_findings(settings.warehouse_path)
    for message in findings.messages(settings.fx_max_stale_days):
        log.warning("data quality: %s", message)
    summary["data_quality"] = findings.to_dict()
    return summary


def publish(settings: Settings | None = None) -> dict[str, Any]:
    """Publish the built warehouse for readers."""
    from reach2revenue.publish import publish_warehouse

    return publish_warehouse(settings or Settings.from_env()).to_dict()

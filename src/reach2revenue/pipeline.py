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
from reach2revenue.failures import IntervalError
from reach2revenue.settings import Settings

if TYPE_CHECKING:  # heavy modules: imported by the steps that use them
    from reach2revenue.quality import ValidationReport, ValidationRun
    from reach2revenue.raw import Batch
    from reach2revenue.volume import VolumeFinding

log = logging.getLogger(__name__)

__all__ = ["Interval", "build", "extract", "interval_from_context", "load_and_validate", "publish"]


def interval_from_context(context: Mapping[str, Any]) -> Interval:
    """The interval a task processes: run conf overrides the run's data interval.

    Conf `{"interval_start": "YYYY-MM-DD", "interval_end": "YYYY-MM-DD"}` lets one manual
    run load a whole history; without it the timetable's data interval is used.

    Raises:
        IntervalError: conf gives one bound only, a bound that is not a date, or an
            empty interval (retrying cannot fix a mistyped conf).
    """
    dag_run = context.get("dag_run")
    conf = dict(getattr(dag_run, "conf", None) or {})
    if conf.get("interval_start") or conf.get("interval_end"):
        if not (conf.get("interval_start") and conf.get("interval_end")):
            raise IntervalError("conf needs both interval_start and interval_end (YYYY-MM-DD)")
        try:
            return Interval.from_dates(str(conf["interval_start"]), str(conf["interval_end"]))
        except IntervalError:
            raise
        except ValueError as error:
            raise IntervalError(
                f"conf interval_start={conf['interval_start']!r}, "
                f"interval_end={conf['interval_end']!r}: not dates (YYYY-MM-DD): {error}"
            ) from None
    start, end = context["data_interval_start"], context["data_interval_end"]
    return Interval(_as_utc(start), _as_utc(end))


def _as_utc(value: datetime) -> datetime:
    # Airflow hands out pendulum datetimes; plain datetimes keep serialisation simple.
    return datetime.fromtimestamp(value.timestamp(), tz=UTC)


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
    manifest_paths: Sequence[str | Path], settings: Settings | None = None
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
    """
    import duckdb

    from reach2revenue import cursors, quality, raw, volume
    from reach2revenue.sources import raw_tables

    settings = settings or Settings.from_env()
    tables = raw_tables()
    # Structure first: a drifted page raises SchemaDriftError here, before any merge.
    batches = raw.batches_from_manifests([Path(p) for p in manifest_paths], tables)
    schema_warnings = [warning for batch in batches for warning in batch.schema_warnings]
    for warning in schema_warnings:
        log.warning("schema: %s", warning)

    # Validate every batch before raising, so one run reports all the bad ones. Every
    # result, passed or failed, goes to the GX store; Data Docs are rebuilt either way.
    validation_run = quality.ValidationRun.start(settings)
    reports = [_validate(batch, settings, validation_run) for batch in batches]
    data_docs = quality.build_data_docs(validation_run, settings.gx_keep_runs)
    log.info("Data Docs: %s", data_docs)
    failed = [report for report in reports if not report.success]
    # Sizes against each table's earlier loads (volume.py): a collapse or an explosion.
    findings = volume.check_batches(batches, settings)
    if failed or findings:
        report_path = _quarantine(failed, batches, settings, findings, data_docs)
        if failed:
            raise quality.DataQualityError(*failed, report_path=report_path)
        raise volume.VolumeError(findings, report_path=report_path)

    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    merged: dict[str, Any] = {}
    with duckdb.connect(str(settings.warehouse_path)) as con:
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
    summary = dbt_build(settings, extra_vars=dbt_union_vars()).to_dict()
    findings = read_data_quality_findings(settings.warehouse_path)
    for message in findings.messages(settings.fx_max_stale_days):
        log.warning("data quality: %s", message)
    summary["data_quality"] = findings.to_dict()
    return summary


def publish(settings: Settings | None = None) -> dict[str, Any]:
    """Publish the built warehouse for readers."""
    from reach2revenue.publish import publish_warehouse

    return publish_warehouse(settings or Settings.from_env()).to_dict()

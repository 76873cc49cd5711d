"""Volume checks: a batch far smaller or larger than the usual loads of its table fails.

A suite checks what each row holds; it cannot see that a night brought 5% or 20 times the
rows it usually brings (a truncated read, a runaway page). So every load of a raw table
is measured as rows per covered day and compared with the median of the earlier loads of
the same table:

- the batch fails when its rate is below ``low x median`` (a collapse) or above
  ``high x median`` (an explosion): ``R2R_VOLUME_LOW_RATIO`` (default 0.2) and
  ``R2R_VOLUME_HIGH_RATIO`` (default 10), or a suite's own ratios;
- only once there are ``R2R_VOLUME_MIN_HISTORY`` (default 3) earlier loads with rows: a
  first load passes, and loads without rows (a quiet night) are not "usual" sizes;
- zero rows pass where the table may be empty (suite meta ``volume.may_be_empty``: CRM
  increments, an ad account without delivery, a weekend without FX rates);
- an explosion needs at least :data:`MIN_ROWS_TO_FLAG` rows: a few rows more than a tiny
  median is noise, not a runaway read;
- a load spanning more than :data:`WHOLE_HISTORY_DAYS` (a CRM's first load from 1970) is
  neither checked nor recorded: its rate says nothing about a night.

Each table's policy sits in its suite, ``meta.reach2revenue.volume`` (``may_be_empty``,
``low_ratio``, ``high_ratio``, ``per``: ``day`` or ``load`` for lists that arrive whole,
``check``: false for a user's file, ``notes``: why). The history is
``<landing>/_state/volume/<source>__<entity>.json``, the last ``R2R_VOLUME_HISTORY_SIZE``
loads, written only after a successful merge. A size an operator has checked is accepted
with ``R2R_VOLUME_ACCEPT=<source>/<entity>`` (or ``all``) for the run that needs it.
"""

from __future__ import annotations

import json
import logging
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reach2revenue.cursors import STATE_DIR_NAME, covered_through, manifest_instant
from reach2revenue.failures import NonRetryableError
from reach2revenue.landing import atomic_write_text, iso_utc, utc_now
from reach2revenue.quality import load_suite_document
from reach2revenue.settings import Settings

if TYPE_CHECKING:
    from reach2revenue.raw import Batch

log = logging.getLogger(__name__)

VOLUME_DIR_NAME = "volume"
#: A load covering more days than this is a whole-history read, not a night.
WHOLE_HISTORY_DAYS = 400
#: Fewer rows than this never count as an explosion.
MIN_ROWS_TO_FLAG = 100
ACCEPT_ALL = "all"


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class VolumePolicy:
    """How one table's volume is judged (from its suite's ``meta.reach2revenue.volume``)."""

    check: bool = True
    may_be_empty: bool = False
    # None: the settings' ratios.
    low_ratio: float | None = None
    high_ratio: float | None = None
    # "day": rows per covered day (report and incremental reads); "load": rows per load
    # (lists that arrive whole every time, e.g. campaigns).
    per: str = "day"

    @classmethod
    def of_table(cls, source: str, entity: str, settings: Settings) -> VolumePolicy:
        """The policy the suite of ``source``/``entity`` declares (defaults without one)."""
        document = load_suite_document(source, entity, settings)
        meta = (document.get("meta") or {}).get("reach2revenue") or {}
        declared = dict(meta.get("volume") or {})
        declared.pop("notes", None)  # why the policy is what it is: for readers
        unknown = set(declared) - {"check", "may_be_empty", "low_ratio", "high_ratio", "per"}
        if unknown or declared.get("per", "day") not in ("day", "load"):
            raise ValueError(
                f"suite {source}__{entity}: meta.reach2revenue.volume has unknown keys "
                f"{sorted(unknown)} or a per other than day/load: {declared}"
            )
        return cls(**declared)


# --------------------------------------------------------------------------- sizes


@dataclass(frozen=True)
class LoadSize:
    """One load of a table: how many rows over how many days."""

    rows: int
    days: float
    label: str
    loaded_at: str
    accepted: bool = False

    def rate(self, per: str) -> float:
        """Rows per covered day, or per load."""
        return float(self.rows) if per == "load" else self.rows / max(self.days, 1.0)


def covered_days(batch: Batch) -> float:
    """Days the batch's extractions cover: the union of their windows, cut at their as-of.

    A window written as one day (``start == end``) counts as that day.
    """
    spans = []
    for manifest in [*batch.manifests, *batch.superseded]:
        start = manifest_instant(manifest.window_start)
        end = covered_through(manifest)
        if manifest_instant(manifest.window_end) <= start:
            end = start + timedelta(days=1)
        if end > start:
            spans.append((start, end))
    total = timedelta(0)
    reach: datetime | None = None
    for start, end in sorted(spans):
        if reach is not None and start < reach:
            start = reach
        if end > start:
            total += end - start
        reach = end if reach is None else max(reach, end)
    return round(total.total_seconds() / 86400, 4)


def batch_size(batch: Batch) -> LoadSize:
    """The size of a batch as the history records it."""
    return LoadSize(
        rows=len(batch.frame),
        days=covered_days(batch),
        label=batch.label,
        loaded_at=iso_utc(utc_now()),
    )


# --------------------------------------------------------------------------- history


def history_path(landing_dir: Path, source: str, entity: str) -> Path:
    """Where the load sizes of ``source``/``entity`` are kept."""
    return Path(landing_dir) / STATE_DIR_NAME / VOLUME_DIR_NAME / f"{source}__{entity}.json"


def read_history(landing_dir: Path, source: str, entity: str) -> list[LoadSize]:
    """The recorded loads of ``source``/``entity``, oldest first (empty before the first)."""
    path = history_path(landing_dir, source, entity)
    if not path.exists():
        return []
    document = json.loads(path.read_text(encoding="utf-8"))
    return [LoadSize(**item) for item in document.get("loads", [])]


def record_loads(batches: Iterable[Batch], settings: Settings) -> None:
    """Append each merged batch's size to its table's history (bounded).

    Call only after the merge succeeded: a batch that was not loaded is no usual size.
    """
    accepted = set(settings.volume_accept)
    for batch in batches:
        policy = VolumePolicy.of_table(batch.source, batch.entity, settings)
        size = batch_size(batch)
        if not policy.check or size.days > WHOLE_HISTORY_DAYS:
            continue
        name = f"{batch.source}/{batch.entity}"
        if accepted & {name, ACCEPT_ALL}:
            size = LoadSize(**{**asdict(size), "accepted": True})
        loads = [*read_history(settings.landing_dir, batch.source, batch.entity), size]
        loads = loads[-max(settings.volume_history_size, 1) :]
        document = {
            "source": batch.source,
            "entity": batch.entity,
            "loads": [asdict(load) for load in loads],
        }
        atomic_write_text(
            history_path(settings.landing_dir, batch.source, batch.entity),
            json.dumps(document, indent=2) + "\n",
        )


# --------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class VolumeFinding:
    """A batch outside its table's band: the numbers an operator needs to judge it."""

    source: str
    entity: str
    label: str
    rows: int
    days: float
    per: str
    rate: float
    median: float
    low: float
    high: float
    low_ratio: float
    high_ratio: float
    earlier_loads: int
    accepted: bool = False

    @property
    def kind(self) -> str:
        """``collapse`` (below the band) or ``explosion`` (above it)."""
        return "collapse" if self.rate < self.low else "explosion"

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (for the quarantine report)."""
        return {**asdict(self), "kind": self.kind, "ratio": self.ratio}

    @property
    def ratio(self) -> float:
        """The batch's rate as a multiple of the median."""
        return round(self.rate / self.median, 4) if self.median else float("inf")

    def describe(self) -> str:
        """One paragraph with every number."""
        unit = "rows per load" if self.per == "load" else "rows/day"
        over = "" if self.per == "load" else f" over {self.days:g} day(s)"
        return (
            f"Volume check failed for {self.label}: {self.rows} rows{over} = "
            f"{self.rate:.2f} {unit}, {self.ratio:.2f}x the median {self.median:.2f} {unit} "
            f"of the {self.earlier_loads} earlier loads with rows; the band is "
            f"{self.low:.2f}..{self.high:.2f} {unit} ({self.low_ratio:g}x..{self.high_ratio:g}x): "
            f"a {self.kind}. "
            f"If this volume is real, accept it for one run with "
            f"R2R_VOLUME_ACCEPT={self.source}/{self.entity}."
        )


class VolumeError(NonRetryableError):
    """Batches whose size is outside their table's usual band; nothing was merged."""

    def __init__(self, findings: Sequence[VolumeFinding], report_path: Path | None = None):
        if not findings:
            raise TypeError("VolumeError needs at least one VolumeFinding")
        self.findings = list(findings)
        self.report_path = report_path
        message = "\n".join(finding.describe() for finding in findings)
        if report_path is not None:
            message += (
                f"\n\nNothing was merged or published. Report: {report_path}; "
                "the landed files are kept."
            )
        super().__init__(message)


def check_batch(batch: Batch, settings: Settings) -> VolumeFinding | None:
    """The finding for a batch outside its band, else None (also when not checkable)."""
    policy = VolumePolicy.of_table(batch.source, batch.entity, settings)
    size = batch_size(batch)
    if not policy.check or size.days > WHOLE_HISTORY_DAYS:
        return None
    if size.rows == 0 and policy.may_be_empty:
        return None
    usual = [
        load.rate(policy.per)
        for load in read_history(settings.landing_dir, batch.source, batch.entity)
        if load.rows > 0
    ]
    if len(usual) < max(settings.volume_min_history, 1):
        return None
    median = statistics.median(usual)
    low_ratio = settings.volume_low_ratio if policy.low_ratio is None else policy.low_ratio
    high_ratio = settings.volume_high_ratio if policy.high_ratio is None else policy.high_ratio
    rate = size.rate(policy.per)
    low, high = low_ratio * median, high_ratio * median
    collapse = rate < low
    explosion = rate > high and size.rows >= MIN_ROWS_TO_FLAG
    if not (collapse or explosion):
        return None
    return VolumeFinding(
        source=batch.source,
        entity=batch.entity,
        label=batch.label,
        rows=size.rows,
        days=size.days,
        per=policy.per,
        rate=round(rate, 4),
        median=round(median, 4),
        low=round(low, 4),
        high=round(high, 4),
        low_ratio=low_ratio,
        high_ratio=high_ratio,
        earlier_loads=len(usual),
        accepted=bool(set(settings.volume_accept) & {f"{batch.source}/{batch.entity}", ACCEPT_ALL}),
    )


def check_batches(batches: Iterable[Batch], settings: Settings) -> list[VolumeFinding]:
    """The findings of every batch outside its band (accepted ones are logged, not returned)."""
    findings = []
    for batch in batches:
        finding = check_batch(batch, settings)
        if finding is None:
            continue
        if finding.accepted:
            log.warning("accepted by R2R_VOLUME_ACCEPT: %s", finding.describe())
            continue
        findings.append(finding)
    return findings

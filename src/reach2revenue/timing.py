"""Stage timing for the bench: wall time, CPU time and peak memory of each named stage.

`StageTimer.stage` wraps one step of the pipeline (an extraction, validation, the dbt
build ...). A sampler thread reads this process's resident set size every few
milliseconds while a stage runs, so each stage gets its own peak; `ru_maxrss` alone would
only give the peak of the whole process so far. The pipeline functions take an optional
timer and record their inner steps in it; without one they record nothing.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def current_rss_bytes(pid: int | None = None) -> int:
    """Resident set size of a process (this one by default), from ``/proc`` (Linux)."""
    statm = Path(f"/proc/{pid or 'self'}/statm")
    try:
        return int(statm.read_text().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (``/proc/<pid>/stat``)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # The command name (field 2) may contain spaces: count fields after its ')'.
    fields = text.rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class StageMeasure:
    """What one stage cost: wall and CPU seconds, peak RSS while it ran, rows it handled."""

    name: str
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_rss_bytes: int = 0
    rows: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float | None:
        """Rows handled per wall second (None without a row count or time)."""
        if self.rows is None or self.seconds <= 0:
            return None
        return self.rows / self.seconds

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures, with the derived rate."""
        document = asdict(self)
        document["rows_per_second"] = self.rows_per_second
        return document


class StageTimer:
    """Measures named stages; nested stages are measured too (names are joined by '/')."""

    def __init__(self, sample_seconds: float = 0.02) -> None:
        self.measures: list[StageMeasure] = []
        self._sample_seconds = sample_seconds
        self._open: list[StageMeasure] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None

    @contextmanager
    def stage(self, name: str, rows: int | None = None) -> Iterator[StageMeasure]:
        """Measure the body; the yielded measure's ``rows``/``extra`` may be set inside."""
        # Open measures already carry their full names: the innermost is the prefix.
        prefix = self._open[-1].name if self._open else ""
        measure = StageMeasure(name=f"{prefix}/{name}" if prefix else name, rows=rows)
        measure.peak_rss_bytes = current_rss_bytes()
        self._ensure_sampler()
        with self._lock:
            self._open.append(measure)
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            yield measure
        finally:
            measure.seconds = round(time.perf_counter() - started, 4)
            measure.cpu_seconds = round(time.process_time() - cpu_started, 4)
            measure.peak_rss_bytes = max(measure.peak_rss_bytes, current_rss_bytes())
            with self._lock:
                self._open.remove(measure)
            self.measures.append(measure)

    def get(self, name: str) -> StageMeasure | None:
        """The last measure of a stage by its full name."""
        return next((m for m in reversed(self.measures) if m.name == name), None)

    def close(self) -> None:
        """Stop the sampler thread."""
        self._stop.set()
        if self._sampler is not None:
            self._sampler.join(timeout=1)

    def _ensure_sampler(self) -> None:
        if self._sampler is not None:
            return
        self._sampler = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.wait(self._sample_seconds):
            rss = current_rss_bytes()
            with self._lock:
                for measure in self._open:
                    if rss > measure.peak_rss_bytes:
                        measure.peak_rss_bytes = rss


class _NoTimer(StageTimer):
    """The timer the pipeline uses when nobody measures: stages cost nothing."""

    @contextmanager
    def stage(self, name: str, rows: int | None = None) -> Iterator[StageMeasure]:
        yield StageMeasure(name=name, rows=rows)


NO_TIMER: StageTimer = _NoTimer()

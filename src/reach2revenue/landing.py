"""The landing zone: response pages and manifests as files, written atomically.

Layout (docs/architecture.md, "Landing zone")::

    <landing>/<source>/<entity>/date=<YYYY-MM-DD>/<extraction_id>/page-00001.json
    <landing>/<source>/<entity>/date=<YYYY-MM-DD>/<extraction_id>/_manifest.json

Pages hold the exact response text; only secrets are rewritten (``access_token`` query
parameters become ``REDACTED``). They are ``.json`` for JSON APIs and carry their own format
otherwise (the ECB's SDMX-CSV lands as ``page-00001.csv``). The manifest is written last, so
a directory without one is an interrupted extraction and is never loaded.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reach2revenue.failures import ConfigurationError

MANIFEST_NAME = "_manifest.json"
REDACTED = "REDACTED"

# Stops at the characters that end a query value in a URL, in JSON text (quote, escaped
# slash) or in prose, so that a token inside a JSON-escaped `paging.next` is caught too.
_ACCESS_TOKEN_RE = re.compile(r"(access_token=)[^&\s\"'\\<>]+", re.IGNORECASE)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Return ``text`` with ``access_token`` values and any given secret replaced.

    Args:
        text: A URL, a log message or a whole response body.
        secrets: Literal secret values (tokens) to blank wherever they appear; empty and
            very short values are ignored so that redaction cannot shred ordinary text.
    """
    text = _ACCESS_TOKEN_RE.sub(rf"\g<1>{REDACTED}", text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


def utc_now() -> datetime:
    """Current time as an aware UTC datetime (one place, so callers can be given a clock)."""
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    """Format an instant as ISO-8601 UTC with a ``Z`` suffix (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    text = moment.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def extraction_stamp(moment: datetime) -> str:
    """Compact UTC timestamp used in extraction ids (microseconds keep quick re-runs apart)."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


#: What a value may be made of before it becomes one path component of the landing zone:
#: ids of every platform (digits, ``act_``, URN parts, stamps), never a separator.
_SAFE_COMPONENT = re.compile(r"[A-Za-z0-9_.:-]+")
MAX_COMPONENT_LENGTH = 128


def safe_path_component(value: object, what: str) -> str:
    """``value`` as a single, harmless path component, or a `ConfigurationError`.

    Account ids, object ids and entity names come from connections, options and API
    answers; one of them becomes a directory of the landing zone. Allowed: letters,
    digits, ``_ . : -``, at most `MAX_COMPONENT_LENGTH` characters, and not ``.`` or
    ``..``: so ``1001/../..`` cannot write outside the landing zone.

    Args:
        value: The id or name (converted with ``str``).
        what: What it is, for the message (``"meta_ads account id"``).
    """
    text = str(value)
    if (
        not text
        or len(text) > MAX_COMPONENT_LENGTH
        or text in (".", "..")
        or _SAFE_COMPONENT.fullmatch(text) is None
    ):
        shown = text if len(text) <= MAX_COMPONENT_LENGTH else text[:MAX_COMPONENT_LENGTH] + "..."
        raise ConfigurationError(
            f"{what} {shown!r} cannot name a landing directory: use letters, digits and "
            f"'_.:-' only (at most {MAX_COMPONENT_LENGTH} characters, not '.' or '..')"
        )
    return text


def partition_dir(
    landing_dir: Path, source: str, entity: str, partition_date: str, extraction_id: str
) -> Path:
    """Directory of one extraction in the landing zone.

    Every part is checked with `safe_path_component` (extraction ids carry account ids),
    so no source can land outside ``landing_dir``.

    Raises:
        ConfigurationError: when a part is not a safe path component.
    """
    parts = (
        safe_path_component(source, "source name"),
        safe_path_component(entity, f"{source} entity name"),
        f"date={safe_path_component(partition_date, f'{source}/{entity} partition date')}",
        safe_path_component(extraction_id, f"{source}/{entity} extraction id"),
    )
    return Path(landing_dir).joinpath(*parts)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory and a rename.

    Readers (the loader, a concurrent listing) therefore see either no file or the whole
    file, never a torn one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Atomically write UTF-8 text to ``path``."""
    _atomic_write(path, text.encode("utf-8"))


def page_name(index: int, suffix: str = ".json") -> str:
    """File name of the ``index``-th page (1-based); ``suffix`` names the body's format."""
    return f"page-{index:05d}{suffix}"


def write_page(
    directory: Path,
    index: int,
    body: str,
    secrets: Iterable[str | None] = (),
    *,
    suffix: str = ".json",
) -> str:
    """Land one response body (redacted) as ``page-<index><suffix>``; return the file name.

    The manifest lists pages by file name, so readers find them whatever the suffix.
    """
    name = page_name(index, suffix)
    atomic_write_text(Path(directory) / name, redact(body, secrets))
    return name


@dataclass
class Manifest:
    """One extraction's ``_manifest.json`` (field names are the JSON keys).

    ``window_start``/``window_end`` are ISO-8601 UTC instants for HubSpot and
    ``YYYY-MM-DD`` days for Meta; both are half-open (``window_end`` is excluded).
    ``path`` is where the manifest was read from (not part of the JSON).
    """

    source: str
    entity: str
    partition_date: str
    window_start: str
    window_end: str
    extraction_id: str
    extracted_at: str
    pages: list[str]
    record_count: int
    request_count: int
    params: dict[str, Any] = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False, repr=False)

    @property
    def directory(self) -> Path:
        """The extraction directory holding the pages (requires ``path``)."""
        if self.path is None:
            raise ValueError(f"manifest {self.extraction_id} has no path; read it from disk")
        return self.path.parent

    def page_paths(self) -> list[Path]:
        """Absolute paths of the landed pages, in order."""
        return [self.directory / name for name in self.pages]

    def to_json(self) -> dict[str, Any]:
        """The JSON object written to disk (without ``path``)."""
        return {
            "source": self.source,
            "entity": self.entity,
            "partition_date": self.partition_date,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "extraction_id": self.extraction_id,
            "extracted_at": self.extracted_at,
            "pages": list(self.pages),
            "record_count": self.record_count,
            "request_count": self.request_count,
            "params": self.params,
        }


def write_manifest(directory: Path, manifest: Manifest) -> Path:
    """Atomically write ``manifest`` into ``directory``; set and return its path."""
    path = Path(directory) / MANIFEST_NAME
    atomic_write_text(path, json.dumps(manifest.to_json(), indent=2, sort_keys=True) + "\n")
    manifest.path = path
    return path


def read_manifest(path: Path | str) -> Manifest:
    """Read a ``_manifest.json`` (or the extraction directory holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    data = json.loads(path.read_text(encoding="utf-8"))
    return Manifest(
        source=data["source"],
        entity=data["entity"],
        partition_date=data["partition_date"],
        window_start=data["window_start"],
        window_end=data["window_end"],
        extraction_id=data["extraction_id"],
        extracted_at=data["extracted_at"],
        pages=list(data["pages"]),
        record_count=int(data["record_count"]),
        request_count=int(data["request_count"]),
        params=dict(data.get("params") or {}),
        path=path,
    )


def list_manifests(
    directory: Path | str, source: str | None = None, entity: str | None = None
) -> list[Path]:
    """All manifest paths under ``directory`` (optionally one source/entity), sorted.

    ``directory`` may be the landing root or any folder below it.
    """
    root = Path(directory)
    if not root.exists():
        return []
    found = []
    for path in root.rglob(MANIFEST_NAME):
        # Layout: .../<source>/<entity>/date=<day>/<extraction_id>/_manifest.json
        parts = path.parts
        if len(parts) < 5:
            continue
        if source is not None and parts[-5] != source:
            continue
        if entity is not None and parts[-4] != entity:
            continue
        found.append(path)
    return sorted(found)


class ExtractionWriter:
    """The pages of one extraction, landed as they arrive, and its manifest written last.

    Every extractor lands the same way: pages ``page-00001<suffix>`` in
    ``<landing>/<source>/<entity>/date=<partition_date>/<extraction_id>/``, secrets
    redacted, then ``_manifest.json`` (a directory without one is an interrupted
    extraction and is never loaded).

    Args:
        request_count: reads the client's request counter (so the manifest says how many
            requests the extraction took); None when nothing was requested.
        requests_before: the counter before the extraction's first request, when that was
            earlier than the writer (e.g. a token request made for it); default: now.
    """

    def __init__(
        self,
        landing_dir: Path,
        source: str,
        entity: str,
        *,
        partition_date: str,
        window_start: str,
        window_end: str,
        extraction_id: str,
        extracted_at: datetime,
        secrets: Iterable[str | None] = (),
        request_count: Callable[[], int] | None = None,
        requests_before: int | None = None,
        suffix: str = ".json",
    ) -> None:
        self.source, self.entity = source, entity
        self.partition_date = partition_date
        self.window_start, self.window_end = window_start, window_end
        self.extraction_id = extraction_id
        self.extracted_at = extracted_at
        self.directory = partition_dir(landing_dir, source, entity, partition_date, extraction_id)
        self._secrets = tuple(secrets)
        self._request_count = request_count
        if requests_before is None:
            requests_before = request_count() if request_count else 0
        self._requests_before = requests_before
        self._suffix = suffix
        self.pages: list[str] = []
        self.records = 0

    def add(self, text: str, records: int) -> None:
        """Land one response body (redacted) as the next page."""
        index = len(self.pages) + 1
        self.pages.append(
            write_page(self.directory, index, text, self._secrets, suffix=self._suffix)
        )
        self.records += records

    def finish(self, params: dict[str, Any]) -> Path:
        """Write the manifest (``params``: the non-secret request parameters); return it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        requests = (self._request_count() - self._requests_before) if self._request_count else 0
        manifest = Manifest(
            source=self.source,
            entity=self.entity,
            partition_date=self.partition_date,
            window_start=self.window_start,
            window_end=self.window_end,
            extraction_id=self.extraction_id,
            extracted_at=iso_utc(self.extracted_at),
            pages=self.pages,
            record_count=self.records,
            request_count=requests,
            params=params,
        )
        return write_manifest(self.directory, manifest)

"""Structural contracts on what an API sent: every landed page is checked before flattening.

Flattening projects records onto fixed raw columns, so without this check a renamed or
removed field would become NULL and a page without its ``data`` key would read as "no
rows": wrong numbers published with every task green. Each raw table declares what its
API sends (``contracts.ResponseSchema``: where the records are, the required fields and
their JSON types, the optional ones); this module holds the landed pages against it:

- the records key (``data``, ``results``, ``records``, ``elements``) missing or not a
  list, a required field missing, or a field of the wrong JSON type: drift, fatal
  (:class:`SchemaDriftError`, non-retryable: the same pages fail the same way);
- fields the declaration does not know: recorded as warnings and left in the landed
  file, not loaded (the raw table keeps exactly its declared columns).

All problems of all batches are collected (examples capped) before the error is raised,
so one failed run names every drifted field. The landed files are never touched.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reach2revenue.contracts import RawTable, ResponseField, ResponseSchema
from reach2revenue.failures import NonRetryableError
from reach2revenue.landing import redact

if TYPE_CHECKING:
    from reach2revenue.landing import Manifest

#: How much of an example record an error message shows.
EXAMPLE_CHARS = 300
#: How many distinct problems an error message spells out (the rest are counted).
MAX_PROBLEMS_SHOWN = 12
#: Keys whose string values are personal data: shown as ``<redacted>`` in examples.
_PERSONAL_KEY_PARTS = ("email", "firstname", "lastname", "first_name", "last_name", "phone")
REDACTED_VALUE = "<redacted>"


def json_type(value: Any) -> str:
    """The JSON type of a parsed value (``null``, ``boolean``, ``integer``, ``number``, ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        # json.loads gives 3.0 for "3.0": a float is a number, never an integer.
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _accepts(declared: ResponseField, value: Any) -> bool:
    found = json_type(value)
    if found == "null":
        return declared.nullable
    return found in declared.types or (found == "integer" and "number" in declared.types)


def _expected(declared: ResponseField) -> str:
    types = " or ".join(declared.types)
    return f"{types} or null" if declared.nullable else types


@dataclass(frozen=True)
class DriftProblem:
    """One kind of structural problem in one raw table's pages, with its first example.

    ``kind`` is ``records_key`` (the records key missing or not a list), ``missing`` (a
    required field absent), ``type`` (a field of another JSON type) or ``page`` (a page
    that is not the declared container, e.g. not JSON).
    """

    source: str
    entity: str
    kind: str
    field: str
    expected: str
    found: str
    count: int
    landed_file: str
    example: str

    def describe(self) -> str:
        """One line naming the table, the field, expected and found, file and example."""
        where = f"{self.source}/{self.entity}"
        if self.kind == "records_key":
            what = f"records key {self.field!r} {self.found} (expected {self.expected})"
        elif self.kind == "missing":
            what = f"required field {self.field!r} missing (expected {self.expected})"
        elif self.kind == "type":
            what = f"field {self.field!r} is {self.found}, expected {self.expected}"
        else:
            what = f"page {self.found} (expected {self.expected})"
        times = f"{self.count} record{'s' if self.count != 1 else ''}"
        if self.kind in ("records_key", "page"):
            times = f"{self.count} page{'s' if self.count != 1 else ''}"
        return f"{where}: {what}, in {times}; e.g. {self.landed_file}: {self.example}"


@dataclass
class DriftReport:
    """The check of one raw table's pages: problems (fatal) and new fields (warnings)."""

    source: str
    entity: str
    problems: list[DriftProblem] = field(default_factory=list)
    #: new field path -> number of records (or pages, for page keys) carrying it
    new_fields: dict[str, int] = field(default_factory=dict)
    pages: int = 0
    records: int = 0

    @property
    def ok(self) -> bool:
        """No fatal problem (new fields are not problems)."""
        return not self.problems

    @property
    def warnings(self) -> list[str]:
        """Human warnings about fields the declaration does not know (empty when none)."""
        if not self.new_fields:
            return []
        listed = ", ".join(f"{path} ({n})" for path, n in sorted(self.new_fields.items()))
        return [
            f"{self.source}/{self.entity}: fields not in the declared response schema, kept "
            f"in the landed files and not loaded: {listed}"
        ]


class SchemaDriftError(NonRetryableError):
    """Landed pages do not have the structure their raw table declares; nothing was loaded.

    ``problems`` lists every distinct problem (table, field, expected and found type,
    landed file, an example record, redacted and truncated).
    """

    def __init__(self, problems: Sequence[DriftProblem]) -> None:
        self.problems = list(problems)
        tables = sorted({f"{p.source}/{p.entity}" for p in self.problems})
        lines = [
            f"schema drift in {', '.join(tables)}: the API's answer no longer has the "
            "declared structure; nothing was loaded and the landed files are kept"
        ]
        lines += [f"- {p.describe()}" for p in self.problems[:MAX_PROBLEMS_SHOWN]]
        hidden = len(self.problems) - MAX_PROBLEMS_SHOWN
        if hidden > 0:
            lines.append(f"- ... and {hidden} more")
        super().__init__("\n".join(lines))


# --------------------------------------------------------------------------- examples


def _redacted(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _redacted(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, key) for v in value]
    if isinstance(value, str):
        lowered = key.lower()
        if "@" in value or any(part in lowered for part in _PERSONAL_KEY_PARTS):
            return REDACTED_VALUE
    return value


def example_text(record: Any) -> str:
    """A record for an error message: personal values redacted, secrets removed, short."""
    text = json.dumps(_redacted(record), ensure_ascii=False, separators=(",", ":"))
    text = redact(text)
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 3] + "..."


# --------------------------------------------------------------------------- JSON records


@functools.cache  # a handful of declared paths, asked for every field of every record
def _segments(path: str) -> tuple[tuple[str, bool], ...]:
    """``to[].toObjectId`` -> ``(("to", True), ("toObjectId", False))`` (True: a list)."""
    return tuple((part.removesuffix("[]"), part.endswith("[]")) for part in path.split("."))


def _values(node: Any, segments: Sequence[tuple[str, bool]]) -> Iterator[tuple[bool, Any]]:
    """``(present, value)`` at every place a path reaches in a record.

    A path below an absent, null or non-object parent yields nothing: the parent's own
    declaration reports it once, instead of once per child.
    """
    (key, is_list), rest = segments[0], segments[1:]
    if not isinstance(node, dict):
        return
    if key not in node:
        if not rest:
            yield False, None
        return
    value = node[key]
    if not rest:
        yield True, value
        return
    items = value if is_list and isinstance(value, list) else [value] if not is_list else []
    for item in items:
        yield from _values(item, rest)


_NESTED = frozenset({dict, list})


def _shape(node: Any) -> Hashable:
    """What a record's check depends on: its keys, in order, and each value's type, down
    every object and list (a list item by item, so counts stay exact). Records of one
    table share a handful of shapes: each shape is checked once (`_Known.results`)."""
    kind = type(node)
    if kind is dict:
        return tuple(
            [
                (key, _shape(value) if type(value) in _NESTED else type(value))
                for key, value in node.items()
            ]
        )
    if kind is list:
        return (list, *[_shape(item) if type(item) in _NESTED else type(item) for item in node])
    return kind


class _Known:
    """The declared and ignored paths of a schema, for finding fields it does not know."""

    def __init__(self, schema: ResponseSchema) -> None:
        # check_record's answer per record shape: checking every record field by field
        # was most of the landing's time at a real size (issue 10; cProfile: 30 of 57 s
        # for 800k records); a shape costs one walk over the record.
        self.results: dict[Hashable, tuple[list[tuple[str, str, str, str]], list[str]]] = {}
        self.any_field = "*" in schema.ignored
        self.ignored = {p.replace("[]", "") for p in schema.ignored if p != "*"}
        self.declared = {f.path.replace("[]", "") for f in schema.fields}
        # Containers whose keys are checked one by one: every proper prefix of a path.
        self.containers: set[str] = set()
        for path in self.declared:
            parts = path.split(".")
            self.containers.update(".".join(parts[:n]) for n in range(1, len(parts)))

    def new_fields(self, node: Any, prefix: str = "") -> Iterator[str]:
        if self.any_field or not isinstance(node, dict):
            return
        for key, value in node.items():
            path = f"{prefix}{key}"
            if path in self.ignored:
                continue
            if path in self.containers:
                for item in value if isinstance(value, list) else [value]:
                    yield from self.new_fields(item, f"{path}.")
            elif path not in self.declared:
                yield path


class _Collector:
    """Distinct problems of one table (first example each, counted) and new fields."""

    def __init__(self, table: RawTable) -> None:
        self.report = DriftReport(table.source, table.entity)
        self._problems: dict[tuple[str, str, str], list[Any]] = {}

    def problem(
        self, kind: str, path: str, expected: str, found: str, landed: str, example: Any
    ) -> None:
        key = (kind, path, found)
        if key in self._problems:
            self._problems[key][0] += 1
        else:
            self._problems[key] = [1, expected, landed, example]

    def new_field(self, path: str) -> None:
        self.report.new_fields[path] = self.report.new_fields.get(path, 0) + 1

    def finish(self) -> DriftReport:
        report = self.report
        for (kind, path, found), (count, expected, landed, example) in self._problems.items():
            report.problems.append(
                DriftProblem(
                    report.source,
                    report.entity,
                    kind,
                    path,
                    expected,
                    found,
                    count,
                    landed,
                    example_text(example) if not isinstance(example, str) else example,
                )
            )
        return report


def check_record(
    record: Any, schema: ResponseSchema, known: _Known | None = None
) -> tuple[list[tuple[str, str, str, str]], list[str]]:
    """Problems ``(kind, field, expected, found)`` and new field paths of one record."""
    known = known or _Known(schema)
    if not isinstance(record, dict):
        return [("type", "(record)", "object", json_type(record))], []
    problems = []
    for declared in schema.fields:
        for present, value in _values(record, _segments(declared.path)):
            if not present:
                if declared.required:
                    problems.append(("missing", declared.path, _expected(declared), "absent"))
            elif not _accepts(declared, value):
                problems.append(("type", declared.path, _expected(declared), json_type(value)))
    return problems, list(known.new_fields(record))


def _check_json_page(
    landed: str, page: Any, schema: ResponseSchema, known: _Known, out: _Collector
) -> None:
    if schema.stream:
        if not isinstance(page, list):
            out.problem("page", "", "a list of stream batches", json_type(page), landed, page)
            return
        batches = page
    else:
        batches = [page]
    for batch in batches:
        if not isinstance(batch, dict):
            out.problem("page", "", "an object", json_type(batch), landed, batch)
            continue
        if not schema.records:
            records: list[Any] = [batch]
        else:
            records = _batch_records(landed, batch, len(batches), schema, out)
            for key in batch:
                if key != schema.records and key not in schema.page_keys:
                    out.new_field(f"(page) {key}")
        for record in records:
            out.report.records += 1
            shape = _shape(record)
            result = known.results.get(shape)
            if result is None:
                result = known.results[shape] = check_record(record, schema, known)
            problems, new = result
            for kind, path, expected, found in problems:
                out.problem(kind, path, expected, found, landed, record)
            for path in new:
                out.new_field(path)


def _batch_records(
    landed: str, batch: dict[str, Any], batches: int, schema: ResponseSchema, out: _Collector
) -> list[Any]:
    key = schema.records
    if key in batch:
        value = batch[key]
        if isinstance(value, list):
            return value
        out.problem("records_key", key, "a list", f"is {json_type(value)}", landed, batch)
        return []
    # An unknown key holding a list where the records should be: the key was renamed.
    renamed = [k for k, v in batch.items() if k not in schema.page_keys and isinstance(v, list)]
    if schema.empty_batch_omits_records and batches == 1 and not renamed:
        return []  # proto3 JSON leaves an empty list out: an empty answer
    found = "missing" + (f" (new key {renamed[0]!r} holds a list)" if renamed else "")
    out.problem("records_key", key, "a list of records", found, landed, batch)
    return []


# --------------------------------------------------------------------------- CSV


def _csv_layouts(schema: ResponseSchema) -> list[tuple[ResponseField, ...]]:
    return [schema.fields, *schema.csv_alternatives]


def _check_csv_page(landed: str, text: str, schema: ResponseSchema, out: _Collector) -> None:
    text = text.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text))
    header = [cell.strip() for cell in next(reader, [])]
    layouts = _csv_layouts(schema)
    # A layout is told apart by its first column; anything else is held to the main one.
    layout = next((lay for lay in layouts if header and header[0] == lay[0].path), layouts[0])
    required = [f.path for f in layout if f.required]
    absent = [column for column in required if column not in header]
    example = ",".join(header)[:EXAMPLE_CHARS]
    if header and len(absent) == len(required):
        out.problem(
            "records_key",
            "(header)",
            f"a header row with {', '.join(required)}",
            "missing or unrecognised",
            landed,
            f"first line: {example}",
        )
        return
    if not header and not text.strip():
        return  # an empty file: no rows, nothing to hold to a header
    for column in absent:
        out.problem("missing", column, "a column", "absent", landed, f"header: {example}")
    if "*" not in schema.ignored and layout is schema.fields:
        declared = {f.path for f in layout} | set(schema.ignored)
        for column in header:
            if column and column not in declared:
                out.new_field(column)


# --------------------------------------------------------------------------- entry points


def _pages(manifest: Manifest) -> Iterator[tuple[str, bytes]]:
    for page in manifest.page_paths():
        yield str(page), page.read_bytes()


def check_manifests(table: RawTable, manifests: Iterable[Manifest]) -> DriftReport:
    """Check every landed page of ``manifests`` against ``table.response``.

    Returns the report (problems and new fields); raises nothing, so a caller can collect
    the reports of every table first (see :func:`raise_on_drift`). A table without a
    declared response schema passes unchecked.
    """
    out = _Collector(table)
    schema = table.response
    if schema is None:
        return out.finish()
    known = _Known(schema)
    for manifest in manifests:
        for landed, data in _pages(manifest):
            out.report.pages += 1
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as error:
                out.problem("page", "", "UTF-8 text", f"undecodable ({error.reason})", landed, "")
                continue
            if schema.csv:
                _check_csv_page(landed, text, schema, out)
                continue
            try:
                page = json.loads(text)
            except ValueError:
                out.problem("page", "", "JSON", "not JSON", landed, text[:EXAMPLE_CHARS])
                continue
            _check_json_page(landed, page, schema, known, out)
    return out.finish()


def raise_on_drift(reports: Iterable[DriftReport]) -> None:
    """Raise one :class:`SchemaDriftError` naming the problems of every drifted table."""
    problems = [problem for report in reports for problem in report.problems]
    if problems:
        raise SchemaDriftError(problems)


def check_tables(groups: Iterable[tuple[RawTable, Sequence[Manifest]]]) -> list[DriftReport]:
    """Check several tables' manifests, then raise on any drift; returns the reports."""
    reports = [check_manifests(table, manifests) for table, manifests in groups]
    raise_on_drift(reports)
    return reports

"""Schema drift on demand: change every record a stand-in answers under a path prefix.

Platforms rename, remove and retype fields without notice; the pipeline must notice
(``reach2revenue.drift``). A :class:`ResponseDrift` set on a stand-in
(`StandinServer.set_drift`, or ``POST /__standin/drift``) rewrites each successful answer
below its path prefix before it is sent:

- ``rename``: ``field`` becomes ``to`` (same parent object; a CSV column's header);
- ``remove``: ``field`` is left out (a CSV column is dropped);
- ``retype``: ``field`` gets ``value``, by default an object wrapping the old value
  (``"4000"`` -> ``{"value": "4000"}``); CSV has no types and is left as is;
- ``add``: ``field`` is added with ``value`` (a CSV column with ``value`` in every row);
- ``drop_records``: the records key (``data``, ``results``, ``records``, ``elements``) is
  left out of the page and of every stream batch; a page that is itself the record
  becomes ``{}``; a CSV answer loses its header row.

``field`` is a dotted path inside a record, so nested fields change too
(``properties.amount`` on HubSpot, ``metrics.impressions`` on Google Ads).
"""

from __future__ import annotations

import copy
import csv
import io
from dataclasses import asdict, dataclass
from typing import Any

#: Where the platforms put the records of a page, in the order they are looked for.
RECORD_KEYS = ("data", "results", "records", "elements")
ACTIONS = frozenset({"rename", "remove", "retype", "add", "drop_records"})
_UNSET: Any = object()


@dataclass(frozen=True)
class ResponseDrift:
    """One change applied to every record of the answers under ``path_prefix``.

    ``records_key`` names where the records are when it is none of `RECORD_KEYS`
    (``""``: a page without any of them is the record). ``only_records_with`` (a dotted
    path) limits the change to pages whose records have that field, so one entity of a
    platform drifts while the pages its extraction depends on (e.g. the deals whose
    associations are read next) stay as they were.
    """

    path_prefix: str
    action: str
    field: str = ""
    to: str = ""
    value: Any = _UNSET
    records_key: str | None = None
    only_records_with: str = ""

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown drift action {self.action!r}; one of {sorted(ACTIONS)}")
        if self.action != "drop_records" and not self.field:
            raise ValueError(f"drift action {self.action!r} needs a field")
        if self.action == "rename" and not self.to:
            raise ValueError("drift action 'rename' needs the new name in 'to'")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the control plane (``value`` left out when unset)."""
        data = asdict(self)
        if self.value is _UNSET:
            data.pop("value")
        return data

    # ----------------------------------------------------------------- JSON

    def apply_json(self, body: Any) -> Any:
        """A changed deep copy of a JSON answer (a page, or a list of stream batches)."""
        body = copy.deepcopy(body)
        if isinstance(body, list):
            return [self._page(batch) for batch in body]
        return self._page(body)

    def _records_key(self, page: dict[str, Any]) -> str:
        if self.records_key is not None:
            return self.records_key
        return next((key for key in RECORD_KEYS if key in page), "")

    def _page(self, page: Any) -> Any:
        if not isinstance(page, dict):
            return page
        key = self._records_key(page)
        if not key and any(k in page for k in RECORD_KEYS):
            return page  # a list page, while the records asked for are whole pages
        found = [page] if not key else page.get(key)
        records = found if isinstance(found, list) else []
        if self.only_records_with and not any(
            _has(record, self.only_records_with) for record in records
        ):
            return page
        if self.action == "drop_records":
            if not key:
                return {}
            page.pop(key, None)
            return page
        for record in records:
            self._record(record)
        return page

    def _record(self, record: Any) -> None:
        *parents, last = self.field.split(".")
        node = record
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            return
        if self.action == "add":
            node[last] = None if self.value is _UNSET else self.value
        elif last not in node:
            return
        elif self.action == "rename":
            node[self.to] = node.pop(last)
        elif self.action == "remove":
            del node[last]
        elif self.action == "retype":
            node[last] = {"value": node[last]} if self.value is _UNSET else self.value

    # ----------------------------------------------------------------- CSV

    def apply_csv(self, text: str) -> str:
        """A changed CSV answer (header and rows; line ends as the stand-in writes them)."""
        rows = list(csv.reader(io.StringIO(text)))
        if not rows or self.action == "retype":
            return text
        header = rows[0]
        if self.action == "drop_records":
            rows = rows[1:]
        elif self.action == "add":
            value = "" if self.value is _UNSET or self.value is None else str(self.value)
            rows = [[*header, self.field], *([*row, value] for row in rows[1:])]
        elif self.field in header:
            index = header.index(self.field)
            if self.action == "rename":
                header[index] = self.to
            else:  # remove
                rows = [row[:index] + row[index + 1 :] for row in rows]
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(rows)
        return buffer.getvalue()


def _has(record: Any, path: str) -> bool:
    node = record
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def drift_from_dict(data: dict[str, Any]) -> ResponseDrift:
    """A drift from its control-plane JSON (``path_prefix``, ``action``, ``field``, ...)."""
    return ResponseDrift(
        path_prefix=str(data["path_prefix"]),
        action=str(data["action"]),
        field=str(data.get("field") or ""),
        to=str(data.get("to") or ""),
        value=data.get("value", _UNSET),
        records_key=data.get("records_key"),
        only_records_with=str(data.get("only_records_with") or ""),
    )

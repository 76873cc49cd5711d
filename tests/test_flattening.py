"""raw_text: an API value as the raw VARCHAR dbt reads (strings as sent, the rest as JSON)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reach2revenue.flattening import raw_text


@pytest.mark.parametrize(
    "value",
    [True, False, 0, -7, 2**63, 10**30, 1.5, -0.0, 1e16, [1, "a"], {"b": None}, {"a": [True]}],
)
def test_non_strings_are_exactly_their_compact_json(value: Any) -> None:
    # The fast paths (bool, int) must spell values exactly as json.dumps does.
    assert raw_text(value) == json.dumps(value, separators=(",", ":"))


@pytest.mark.parametrize("value", [None, "", " 12 ", "true", "ß"])
def test_strings_and_null_pass_unchanged(value: str | None) -> None:
    assert raw_text(value) is value

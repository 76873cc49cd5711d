"""How Salesforce says what went wrong: a JSON array of ``{message, errorCode}`` items.

Facts relied on (REST API "Status Codes and Error Responses", api-shapes.md §5):

- Data API errors are a JSON *array*: ``[{"message": "Session expired or invalid",
  "errorCode": "INVALID_SESSION_ID"}]`` (items may add ``fields``).
- 401 ``INVALID_SESSION_ID``: the access token expired or was revoked. Not transient for
  the shared client; the extractor re-authenticates once and repeats the request.
- 403 ``REQUEST_LIMIT_EXCEEDED``: the org's rolling 24-hour API request budget (or its
  concurrent long-request limit) is used up. Transient: backed off within the retry policy,
  then the request fails with Salesforce's message.
- 400 ``MALFORMED_QUERY``, ``INVALID_FIELD``, ``INVALID_TYPE``: the SOQL is wrong; retrying
  cannot fix it, so the shared client fails at once. 400 ``INVALID_QUERY_LOCATOR``: a
  ``nextRecordsUrl`` cursor expired; the extractor restarts that query.
- The OAuth token endpoint answers in OAuth's own shape:
  ``{"error": "invalid_client", "error_description": "invalid client credentials"}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reach2revenue.contracts import ErrorPolicy, UsageHint

#: errorCodes that mean "the org's API budget is used up, try later" (sent with HTTP 403).
THROTTLE_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED"})


def error_codes(body: Any) -> list[str]:
    """The ``errorCode`` of every item of a Salesforce error array (empty otherwise)."""
    if not isinstance(body, list):
        return []
    return [
        str(item["errorCode"]) for item in body if isinstance(item, dict) and item.get("errorCode")
    ]


def is_throttle(status: int, body: Any) -> bool:
    """True for the org's API request limit (403 ``REQUEST_LIMIT_EXCEEDED``)."""
    return any(code in THROTTLE_CODES for code in error_codes(body))


def message(body: Any, text: str) -> str:
    """Salesforce's own words: ``CODE: message`` per error item, or the OAuth error."""
    if isinstance(body, list):
        parts = [
            f"{item.get('errorCode') or 'ERROR'}: {str(item.get('message') or '').strip()}"
            for item in body
            if isinstance(item, dict)
        ]
        if parts:
            return "; ".join(parts)
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        description = body.get("error_description")
        return f"{body['error']}: {description}" if description else body["error"]
    return text[:500] if text else "(empty body)"


_API_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")


def usage(status: int, headers: Mapping[str, str], body: Any) -> UsageHint | None:
    """The org's 24-hour API budget from ``Sforce-Limit-Info: api-usage=18/5000``.

    The window is a rolling day, so there is nothing to pace over within a run: the hint
    only reports the share used (logged when throttled).
    """
    match = _API_USAGE.search(str(headers.get("Sforce-Limit-Info") or ""))
    if match is None:
        return None
    used, limit = int(match.group(1)), int(match.group(2))
    if limit <= 0:
        return None
    return UsageHint(used=used / limit, note=f"api-usage {used}/{limit} in 24 h")


ERRORS = ErrorPolicy(is_throttle=is_throttle, message=message, usage=usage)

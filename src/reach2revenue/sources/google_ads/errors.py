"""How the Google Ads API says "throttled", "wait this long" and what went wrong.

Every error is a google.rpc.Status in JSON: ``{"error": {"code": <HTTP status>, "message",
"status": "RESOURCE_EXHAUSTED" | "UNAUTHENTICATED" | "PERMISSION_DENIED" | ..., "details":
[{"@type": "type.googleapis.com/google.ads.googleads.vNN.errors.GoogleAdsFailure",
"errors": [{"errorCode": {"quotaError": "RESOURCE_EXHAUSTED"}, "message", "details":
{"quotaErrorDetails": {"rateScope", "rateName", "retryDelay": "40591s"}}}],
"requestId"}]}}``. The wait is in the body (a protobuf Duration, ``"40591s"`` or
``"0.250s"``), not in a ``Retry-After`` header. The daily operation quota of a developer
token (Basic access: 15,000 a day) answers with hours of ``retryDelay``: the extractor
fails at once on a wait longer than its retry policy allows instead of hot-retrying.
"""

from __future__ import annotations

import re
from typing import Any

from reach2revenue.contracts import ErrorPolicy

FAILURE_TYPE_SUFFIX = ".errors.GoogleAdsFailure"

#: QuotaError values (QuotaErrorEnum) that mean "try again later": the operation quota,
#: the short-term rate and the query-cost limits. All come with HTTP 429.
THROTTLE_QUOTA_ERRORS = frozenset(
    {
        "RESOURCE_EXHAUSTED",
        "RESOURCE_TEMPORARILY_EXHAUSTED",
        "EXCESSIVE_SHORT_TERM_QUERY_RESOURCE_CONSUMPTION",
        "EXCESSIVE_LONG_TERM_QUERY_RESOURCE_CONSUMPTION",
    }
)
#: google.rpc status names that are transient whatever the HTTP status says.
TRANSIENT_STATUSES = frozenset({"RESOURCE_EXHAUSTED", "UNAVAILABLE", "DEADLINE_EXCEEDED"})

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def _error(body: Any) -> dict[str, Any]:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"]
    return {}


def failures(body: Any) -> list[dict[str, Any]]:
    """The ``GoogleAdsFailure`` details of an error body (any API version)."""
    details = _error(body).get("details") or []
    return [
        d
        for d in details
        if isinstance(d, dict) and str(d.get("@type", "")).endswith(FAILURE_TYPE_SUFFIX)
    ]


def failure_errors(body: Any) -> list[dict[str, Any]]:
    """Every ``GoogleAdsError`` of an error body."""
    return [e for f in failures(body) for e in (f.get("errors") or []) if isinstance(e, dict)]


def error_codes(body: Any) -> list[str]:
    """``<kind>.<VALUE>`` of each error, e.g. ``quotaError.RESOURCE_EXHAUSTED``."""
    codes = []
    for item in failure_errors(body):
        for kind, value in (item.get("errorCode") or {}).items():
            codes.append(f"{kind}.{value}")
    return codes


def parse_duration(text: Any) -> float | None:
    """Seconds of a protobuf Duration in JSON (``"40591s"``, ``"0.250s"``); None if not one."""
    match = _DURATION.match(str(text)) if text is not None else None
    return float(match.group(1)) if match else None


def _quota_details(item: dict[str, Any]) -> dict[str, Any]:
    return (item.get("details") or {}).get("quotaErrorDetails") or {}


def retry_delay_seconds(body: Any) -> float | None:
    """The longest ``quotaErrorDetails.retryDelay`` of an error body, in seconds."""
    delays = [parse_duration(_quota_details(e).get("retryDelay")) for e in failure_errors(body)]
    known = [d for d in delays if d is not None]
    return max(known) if known else None


def is_throttle(status: int, body: Any) -> bool:
    """True for the API's "try later" answers (quota errors, UNAVAILABLE), any HTTP status."""
    if _error(body).get("status") in TRANSIENT_STATUSES:
        return True
    return any(
        (item.get("errorCode") or {}).get("quotaError") in THROTTLE_QUOTA_ERRORS
        or (item.get("errorCode") or {}).get("internalError") == "TRANSIENT_ERROR"
        for item in failure_errors(body)
    )


def quota_description(body: Any) -> str | None:
    """Which quota ran out and for how long, e.g. ``quotaError RESOURCE_EXHAUSTED:
    DEVELOPER 'Number of operations for basic access', retry in 40591s``; None when the
    body names no quota."""
    parts = []
    for item in failure_errors(body):
        quota = (item.get("errorCode") or {}).get("quotaError")
        if quota is None:
            continue
        details = _quota_details(item)
        scope = " ".join(
            str(v)
            for v in (details.get("rateScope"), repr(details.get("rateName")))
            if v not in (None, "None")
        )
        delay = details.get("retryDelay")
        text = f"quotaError {quota}" + (f": {scope}" if scope else "")
        parts.append(text + (f", retry in {delay}" if delay else ""))
    return "; ".join(parts) or None


def message(body: Any, text: str) -> str:
    """The top-level message and status plus each GoogleAdsError's code and message, and
    the request id Google support asks for."""
    error = _error(body)
    if not error:
        return text[:500] if text else "(empty body)"
    head = str(error.get("message") or "").strip() or "(no message)"
    status = " ".join(str(v) for v in (error.get("code"), error.get("status")) if v is not None)
    lines = [f"{head} ({status})" if status else head]
    for item in failure_errors(body):
        codes = ", ".join(f"{k}={v}" for k, v in (item.get("errorCode") or {}).items())
        lines.append(f"{codes}: {item.get('message', '')}".strip())
    quota = quota_description(body)
    if quota:
        lines.append(quota)
    request_ids = [str(f["requestId"]) for f in failures(body) if f.get("requestId")]
    if request_ids:
        lines.append(f"requestId {request_ids[0]}")
    return "; ".join(lines)


ERRORS = ErrorPolicy(is_throttle=is_throttle, retry_after=retry_delay_seconds, message=message)
